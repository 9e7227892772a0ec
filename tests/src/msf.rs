//! A local Amazon Managed Service for Apache Flink endpoint in front of a real Flink cluster:
//! `tests/msf-standin` (Python; every request and answer checked against botocore's
//! `kinesisanalyticsv2` service model), started on a free loopback port with its applications,
//! killed on drop. Tests talk to it with the real `aws-sdk-kinesisanalyticsv2`
//! ([`MsfStandIn::client`]) and inject faults through its side door (`/_standin/...`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_kinesisanalyticsv2::config::{BehaviorVersion, Credentials, Region};
use serde_json::{Value, json};

use crate::FlinkCluster;
use crate::paths::{cache_dir, repo_root, scratch_dir};
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};
use crate::sample_job;

/// The test credentials the stand-in knows (it checks SigV4 signatures with the secret).
pub const ACCESS_KEY_ID: &str = "AKIAMSFSTANDIN000001";
pub const SECRET_ACCESS_KEY: &str = "msf-standin-test-secret-key";
pub const REGION: &str = "eu-west-1";

/// One application the stand-in serves: a Flink job from a jar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MsfApplication {
    pub name: String,
    pub jar: PathBuf,
    pub entry_class: String,
    pub args: Vec<String>,
    pub parallelism: u32,
    pub parallelism_per_kpu: u32,
    pub autoscaling: bool,
    pub runtime: String,
    pub snapshots_enabled: bool,
    pub rollback_enabled: bool,
    /// `ListTagsForResource` answers these.
    pub tags: std::collections::BTreeMap<String, String>,
}

impl MsfApplication {
    /// The sample stateful job as an application at `parallelism` (runtime FLINK-1_20,
    /// snapshots and system rollback on, autoscaling off).
    pub fn sample_job(flink: &FlinkCluster, name: &str, parallelism: u32) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            jar: flink.sample_job_jar()?,
            entry_class: sample_job::ENTRY_CLASS.to_owned(),
            args: Vec::new(),
            parallelism,
            parallelism_per_kpu: 1,
            autoscaling: false,
            runtime: "FLINK-1_20".to_owned(),
            snapshots_enabled: true,
            rollback_enabled: true,
            tags: std::collections::BTreeMap::new(),
        })
    }
}

/// How to start the stand-in.
#[derive(Debug, Clone)]
pub struct MsfOptions {
    /// KPUs an application may use (MSF's default quota is 64).
    pub kpu_limit: u32,
    /// How long a resubmitted job must run without a failure before an update succeeds.
    pub stable_ms: u64,
    pub applications: Vec<MsfApplication>,
}

/// A running stand-in; dropping it kills the process (the Flink jobs stay on the cluster).
pub struct MsfStandIn {
    endpoint: String,
    log_file: PathBuf,
    http: reqwest::Client,
    _process: ChildGuard,
}

/// The Python of the stand-in's venv (botocore pinned there by `scripts/setup.sh --msf`).
pub fn python() -> anyhow::Result<PathBuf> {
    let venv = cache_dir().join("msf-standin-venv");
    anyhow::ensure!(
        venv.join(".ready").exists(),
        "the MSF stand-in's venv is not set up at {}: run `scripts/setup.sh --msf`",
        venv.display()
    );
    Ok(venv.join("bin/python"))
}

fn standin_command(module: &str) -> anyhow::Result<Command> {
    let mut command = Command::new(python()?);
    command.arg("-m").arg(module).current_dir(repo_root().join("tests/msf-standin"));
    Ok(command)
}

/// Runs the stand-in's self-check (every answer it can give validates against the model);
/// answers its output, or fails with it.
pub fn run_selfcheck() -> anyhow::Result<String> {
    let output = standin_command("msf_standin.selfcheck")?.output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    anyhow::ensure!(output.status.success(), "the MSF stand-in's self-check failed:\n{text}");
    Ok(text)
}

impl MsfStandIn {
    /// Starts the stand-in on `flink` with `options` and waits until it answers.
    pub async fn start(flink: &FlinkCluster, options: &MsfOptions) -> anyhow::Result<Self> {
        let dir = scratch_dir("msf-standin")?;
        let port = free_port()?;
        let config = json!({
            "flink_rest_url": flink.rest_url(),
            "savepoint_dir": flink.savepoint_dir(),
            "region": REGION,
            "credentials": { ACCESS_KEY_ID: SECRET_ACCESS_KEY },
            "kpu_limit": options.kpu_limit,
            "stable_ms": options.stable_ms,
            "applications": options.applications,
        });
        let config_file = dir.join("standin.json");
        std::fs::write(&config_file, serde_json::to_vec_pretty(&config)?)?;
        let log_file = dir.join("standin.log");
        let mut command = standin_command("msf_standin")?;
        command.arg("--port").arg(port.to_string()).arg("--config").arg(&config_file);
        let process = ChildGuard::spawn("msf-standin", command, &log_file)?;
        let standin = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            log_file,
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
            _process: process,
        };
        standin.wait_ready(Duration::from_secs(30)).await?;
        Ok(standin)
    }

    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.side_door_get("/_standin/health").await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "MSF stand-in not answering:\n{}", self.log_tail(40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// The endpoint URL the SDK is pointed at.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    /// The last lines of the stand-in's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_file, lines)
    }

    /// The whole log (the tests look for loud "STAND-IN BUG" lines in it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// An SDK configuration for the stand-in: its endpoint, the test credentials, the region.
    pub fn sdk_config(&self) -> aws_sdk_kinesisanalyticsv2::config::Builder {
        aws_sdk_kinesisanalyticsv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "msf-standin"))
    }

    /// A real AWS SDK client talking to the stand-in.
    pub fn client(&self) -> aws_sdk_kinesisanalyticsv2::Client {
        aws_sdk_kinesisanalyticsv2::Client::from_conf(self.sdk_config().build())
    }

    async fn side_door_get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.endpoint)).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path} answered {status}: {body}");
        Ok(body)
    }

    async fn side_door_post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self.http.post(format!("{}{path}", self.endpoint)).json(&body).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path} answered {status}: {body}");
        Ok(body)
    }

    /// The stand-in's internal view of an application: `job_id`, `snapshots[].path`, KPUs.
    pub async fn internal(&self, app: &str) -> anyhow::Result<Value> {
        self.side_door_get(&format!("/_standin/applications/{app}")).await
    }

    /// The Flink job the application runs now.
    pub async fn job_id(&self, app: &str) -> anyhow::Result<String> {
        let internal = self.internal(app).await?;
        internal["job_id"].as_str().map(str::to_owned).with_context(|| format!("{app} runs no job: {internal}"))
    }

    /// The Flink savepoint path behind a snapshot (never shown by the AWS API).
    pub async fn snapshot_path(&self, app: &str, snapshot: &str) -> anyhow::Result<String> {
        let internal = self.internal(app).await?;
        internal["snapshots"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == snapshot)
            .and_then(|s| s["path"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no path for snapshot {snapshot}: {internal}"))
    }

    /// Puts the application into AUTOSCALING for `seconds` (CurrentParallelism doubled).
    pub async fn inject_autoscaling(&self, app: &str, seconds: u64) -> anyhow::Result<Value> {
        self.side_door_post(&format!("/_standin/applications/{app}/autoscale"), json!({ "seconds": seconds })).await
    }

    /// Makes the next resubmitted job of the application fail at once.
    pub async fn fail_next_restore(&self, app: &str) -> anyhow::Result<()> {
        self.side_door_post(&format!("/_standin/applications/{app}/fail-next-restore"), json!({})).await.map(drop)
    }

    /// Changes the application behind the client's back: a new version id and token.
    pub async fn bump_token(&self, app: &str) -> anyhow::Result<()> {
        self.side_door_post(&format!("/_standin/applications/{app}/bump-token"), json!({})).await.map(drop)
    }

    /// The same change, landing just before the next `UpdateApplication` is checked: the
    /// caller read the application, someone else changed it, the caller's update arrives.
    pub async fn bump_token_before_next_update(&self, app: &str) -> anyhow::Result<()> {
        self.side_door_post(&format!("/_standin/applications/{app}/bump-token-before-next-update"), json!({}))
            .await
            .map(drop)
    }

    /// How many `UpdateApplication` operations MSF lists for the application.
    pub async fn update_operations(&self, app: &str) -> anyhow::Result<usize> {
        let operations = self.client().list_application_operations().application_name(app).send().await?;
        Ok(operations
            .application_operation_info_list()
            .iter()
            .filter(|o| o.operation() == Some("UpdateApplication"))
            .count())
    }

    /// The backend's `[clusters.msf]` settings for these applications on this stand-in.
    pub fn settings(&self, applications: &[&str], kpu_limit: u32) -> rescaler_backend::config::MsfSettings {
        rescaler_backend::config::MsfSettings {
            region: REGION.to_owned(),
            role_arn: None,
            applications: applications.iter().map(|name| (*name).to_owned()).collect(),
            application_tag: None,
            kpu_limit,
            endpoint_url: Some(self.endpoint.clone()),
            access_key_id: Some(ACCESS_KEY_ID.to_owned()),
            secret_access_key: Some(SECRET_ACCESS_KEY.to_owned()),
        }
    }
}

/// The sample job's counters once its largest count passed `above`: (freshKeys, maxCount).
/// `freshKeys` counts keys met with no stored count since the job started: 0 after a restore
/// that kept the state.
pub async fn counter_after(flink: &FlinkCluster, job_id: &str, above: f64) -> anyhow::Result<(f64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let (Some(_), Some(max)) =
            (flink.counter_metric(job_id, "freshKeys").await?, flink.counter_metric(job_id, "maxCount").await?)
            && max > above
        {
            // One more metric fetch cycle, so no value is from before a restart.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            if let (Some(fresh), Some(max)) =
                (flink.counter_metric(job_id, "freshKeys").await?, flink.counter_metric(job_id, "maxCount").await?)
            {
                return Ok((fresh, max));
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "counter of {job_id} never passed {above}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
