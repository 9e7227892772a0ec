//! P10's scene: a Flink cluster running the sample job the product manages (a job link and a
//! deployment, savepoints in a bucket of the S3 server through s3fs), the records in another
//! bucket, a signed-webhook receiver for the notifications, and the packaged Lambda bootstraps
//! run against local Runtime APIs, each reaching S3 through its own counting proxy
//! ([`FaultProxy::requests_by_kind`]) and configured as `infra/template.yaml` configures them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use harness::fault_proxy::FaultProxy;
use harness::lambda_runtime_api::RuntimeApi;
use harness::paths::{repo_root, scratch_dir};
use harness::process::ChildGuard;
use harness::s3::{ACCESS_KEY, REGION, SECRET_KEY};
use harness::webhook_receiver::WebhookReceiver;
use harness::{FlinkCluster, FlinkOptions, S3Server, rig};
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::store::S3Store;
use serde::Serialize;
use serde_json::Value;

use crate::report::ms;

/// The webhook channel's signing key.
const HOOK_SECRET: &str = "bench-p10-secret";
/// How long the bench waits for one answer at most.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(900);

/// S3 requests by kind (as the proxy tells them apart: `fault_proxy::request_kind`); counts, or
/// means per invocation.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct S3Requests {
    pub get: f64,
    pub head: f64,
    pub list: f64,
    pub put: f64,
    pub copy: f64,
    pub post: f64,
    pub delete: f64,
    pub other: f64,
}

impl S3Requests {
    /// What was counted between two snapshots of a proxy's counts.
    fn between(before: &BTreeMap<&'static str, u64>, after: &BTreeMap<&'static str, u64>) -> Self {
        let of = |kind: &str| (after.get(kind).unwrap_or(&0) - before.get(kind).unwrap_or(&0)) as f64;
        Self {
            get: of("GET"),
            head: of("HEAD"),
            list: of("LIST"),
            put: of("PUT"),
            copy: of("COPY"),
            post: of("POST"),
            delete: of("DELETE"),
            other: of("OTHER"),
        }
    }

    /// The sum of some counts, times `factor` (1 / n for a mean).
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Self>, factor: f64) -> Self {
        let mut sum = Self::default();
        for one in all {
            sum.get += one.get * factor;
            sum.head += one.head * factor;
            sum.list += one.list * factor;
            sum.put += one.put * factor;
            sum.copy += one.copy * factor;
            sum.post += one.post * factor;
            sum.delete += one.delete * factor;
            sum.other += one.other * factor;
        }
        sum
    }

    /// Billed at S3's higher rate: PUT, COPY, POST, LIST.
    pub fn writes_and_lists(&self) -> f64 {
        self.put + self.copy + self.post + self.list
    }

    /// Billed at S3's lower rate: GET, HEAD and every other request but DELETE (free).
    pub fn reads(&self) -> f64 {
        self.get + self.head + self.other
    }

    /// `GET 3, PUT 1, …` (kinds that occurred), for the table.
    pub fn show(&self) -> String {
        let kinds = [
            ("GET", self.get),
            ("HEAD", self.head),
            ("LIST", self.list),
            ("PUT", self.put),
            ("COPY", self.copy),
            ("POST", self.post),
            ("DELETE", self.delete),
            ("other", self.other),
        ];
        let shown: Vec<String> = kinds
            .iter()
            .filter(|(_, count)| *count > 0.0)
            .map(|(kind, count)| format!("{kind} {}", (count * 10.0).round() / 10.0))
            .collect();
        if shown.is_empty() { "none".to_owned() } else { shown.join(", ") }
    }
}

/// One measured invocation of a bootstrap.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    pub event: String,
    /// From the event handed out to the answer received.
    pub duration_ms: f64,
    /// As Lambda bills it: rounded up to the next millisecond.
    pub billed_ms: u64,
    pub s3: S3Requests,
    /// Requests the process made after its previous answer (background work; on Lambda it
    /// would run after the thaw, in this invocation).
    pub s3_before: S3Requests,
    /// What the function wrote to its log (CloudWatch Logs on AWS) during the invocation.
    pub log_bytes: u64,
    pub answer: Value,
}

/// A function's memory and timeout as the deployment template sets them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FunctionSettings {
    pub memory_mb: u64,
    pub timeout_s: u64,
}

/// Reads `MemorySize` and `Timeout` of the function whose `CodeUri` is `binary`'s package from
/// `infra/template.yaml`, each from the function's own properties or else `Globals`.
pub fn template_settings(binary: &str) -> anyhow::Result<FunctionSettings> {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml"))?;
    // Blocks of lines under a key indented at most two spaces (`Globals:` → `  Function:`, a
    // resource under `Resources:`), each with the top-level key it is under.
    let mut blocks: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut top = "";
    for line in text.lines().filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#')) {
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            top = line.trim();
        }
        if indent <= 2 {
            blocks.push((top, Vec::new()));
        }
        if let Some((_, lines)) = blocks.last_mut() {
            lines.push(line.trim());
        }
    }
    let code_uri = format!("CodeUri: ../target/lambda/{binary}/");
    let globals = blocks.iter().find(|(top, lines)| *top == "Globals:" && lines.first() == Some(&"Function:"));
    let own = blocks.iter().find(|(top, lines)| *top == "Resources:" && lines.contains(&code_uri.as_str()));
    let own = own.with_context(|| format!("infra/template.yaml has no function with {code_uri}"))?;
    let number = |block: Option<&(&str, Vec<&str>)>, key: &str| -> Option<u64> {
        block?.1.iter().find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
    };
    let setting = |key: &str| number(Some(own), key).or_else(|| number(globals, key));
    Ok(FunctionSettings {
        memory_mb: setting("MemorySize:").context("infra/template.yaml sets no MemorySize")?,
        timeout_s: setting("Timeout:").with_context(|| format!("infra/template.yaml sets no Timeout for {binary}"))?,
    })
}

/// A packaged bootstrap running against its own Runtime API and counting proxy.
pub struct Function {
    pub binary: &'static str,
    pub settings: FunctionSettings,
    /// From the process start to its first `next` (its initialisation).
    pub init_ms: f64,
    api: RuntimeApi,
    proxy: FaultProxy,
    log: PathBuf,
    counted: BTreeMap<&'static str, u64>,
    last_start: Option<Instant>,
    _process: ChildGuard,
}

impl Function {
    /// Invokes the function with `event`, at least `spacing` after the previous invocation
    /// began (the schedule's period, or zero for an invocation that follows at once).
    pub async fn invoke(&mut self, name: &str, event: &[u8], spacing: Duration) -> anyhow::Result<Invocation> {
        if let Some(last) = self.last_start {
            tokio::time::sleep_until((last + spacing).into()).await;
        }
        self.last_start = Some(Instant::now());
        let before = self.proxy.requests_by_kind();
        let log_before = std::fs::metadata(&self.log).map(|meta| meta.len()).unwrap_or(0);
        let (answer, duration) = self.api.invoke_timed(event, ANSWER_TIMEOUT).await?;
        let answer =
            answer.map_err(|error| anyhow::anyhow!("{} answered {name} with an error: {error}", self.binary))?;
        let after = self.proxy.requests_by_kind();
        let log_after = std::fs::metadata(&self.log).map(|meta| meta.len()).unwrap_or(0);
        let invocation = Invocation {
            event: name.to_owned(),
            duration_ms: ms(duration),
            billed_ms: u64::try_from(duration.as_nanos().div_ceil(1_000_000))?,
            s3: S3Requests::between(&before, &after),
            s3_before: S3Requests::between(&self.counted, &before),
            log_bytes: log_after.saturating_sub(log_before),
            answer,
        };
        self.counted = after;
        eprintln!("[bench] P10 {} {name}: {:.0} ms, S3 {}", self.binary, invocation.duration_ms, invocation.s3.show());
        Ok(invocation)
    }
}

/// Flink with the managed sample job, the buckets and the webhook receiver.
pub struct Scene {
    pub flink: FlinkCluster,
    pub records: Records,
    pub records_bucket: String,
    pub job_id: String,
    pub hook: WebhookReceiver,
    work: PathBuf,
}

impl Scene {
    pub async fn start(s3: &S3Server) -> anyhow::Result<Self> {
        let records_bucket = s3.fresh_bucket().await?;
        let savepoint_bucket = s3.fresh_bucket().await?;
        let mut flink = FlinkCluster::start(FlinkOptions::default()).await?;
        flink.keep_savepoints_in(s3, &savepoint_bucket).await?;
        // Seeded straight into S3, not through a counting proxy.
        let records = Records::new(Arc::new(S3Store::new(s3.client(), records_bucket.clone(), "rescaler")));
        let client = rig::flink_client(&flink)?;
        let (job_id, _) = rig::adopt_sample_job(&records, client.as_ref(), &flink, 1, &[]).await?;
        let job = client.job(&job_id).await?.context("the sample job vanished")?;
        records.adopt_job(rig::CLUSTER_ID, &job_id, &job.name, now_ms()).await?;
        rig::wait_for_checkpoint(client.as_ref(), &job_id).await?;
        let hook = WebhookReceiver::start(HOOK_SECRET).await?;
        Ok(Self { flink, records, records_bucket, job_id, hook, work: scratch_dir("bench-cost")? })
    }

    /// The configuration both functions get: the records bucket through `endpoint`, the demo
    /// requester and approver, every event to the webhook.
    fn config_toml(&self, endpoint: &str) -> String {
        format!(
            "[store]\nkind = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"rescaler/\"\nendpoint = \"{endpoint}\"\n\
             region = \"{REGION}\"\naccess_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\n\n\
             [auth]\nmode = \"tokens\"\n\
             [[auth.users]]\nname = \"alice\"\ntoken = \"alice-token\"\nroles = {{ \"*\" = \"requester\" }}\n\
             [[auth.users]]\nname = \"bob\"\ntoken = \"bob-token\"\nroles = {{ \"*\" = \"approver\" }}\n\n\
             [[notifications.channels]]\nid = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\nsecret = \"{HOOK_SECRET}\"\n\n\
             [[notifications.routes]]\nclusters = [\"*\"]\nevents = [\"*\"]\nchannels = [\"ops-hook\"]\n",
            bucket = self.records_bucket,
            hook = self.hook.url(),
        )
    }

    /// Starts `binary`'s bootstrap with the template's memory, timeout and approval settings
    /// (its parameters' defaults) and waits until it asks for its first event.
    pub async fn function(&self, s3: &S3Server, binary: &'static str) -> anyhow::Result<Function> {
        let settings = template_settings(binary)?;
        let proxy = FaultProxy::start(s3.endpoint()).await?;
        let api = RuntimeApi::start().await?;
        api.set_function_timeout(Duration::from_secs(settings.timeout_s));
        let mut command = api.bootstrap(binary, "bench-p10", self.config_toml(&proxy.url()))?;
        command
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", settings.memory_mb.to_string())
            .env("RESCALER_CLUSTERS_JSON", serde_json::to_string(&[rig::cluster_config(&self.flink)])?)
            .env("RESCALER_DEFAULT_REQUIRED_APPROVALS", "1")
            .env("RESCALER_EXPIRE_AFTER_SECS", "86400")
            .env("RESCALER_VERIFY_TIMEOUT_SECS", "600")
            .env("RESCALER_STABLE_FOR_SECS", "10");
        let log = self.work.join(format!("{binary}.log"));
        let started = Instant::now();
        let process = ChildGuard::spawn(binary, command, &log)?;
        let init_ms = loop {
            if let Some(first) = api.first_next_at() {
                break ms(first.saturating_duration_since(started));
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "{binary} never asked for an event");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let counted = proxy.requests_by_kind();
        Ok(Function { binary, settings, init_ms, api, proxy, log, counted, last_start: None, _process: process })
    }
}

/// An API Gateway HTTP API (payload 2.0) event: `method path` as `user`, with a JSON body.
pub fn api_event(method: &str, path: &str, user: &str, body: Option<&Value>) -> anyhow::Result<Vec<u8>> {
    let host = "abc123.execute-api.us-east-1.amazonaws.com";
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "authorization": format!("Bearer {user}-token"),
            "content-type": "application/json",
            "host": host,
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "bench" },
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now_ms()
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    });
    Ok(serde_json::to_vec(&event)?)
}

/// The status and JSON body of an API Gateway response.
pub fn api_answer(answer: &Value) -> anyhow::Result<(u64, Value)> {
    use base64::Engine as _;
    let status = answer["statusCode"].as_u64().context("the answer has no statusCode")?;
    let text = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"] == Value::Bool(true) {
        base64::engine::general_purpose::STANDARD.decode(text)?
    } else {
        text.as_bytes().to_vec()
    };
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}
