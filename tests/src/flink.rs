//! A real Flink standalone cluster on loopback: one JobManager and N TaskManagers, started in
//! the foreground from an assembled FLINK_HOME with a configuration of our own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use crate::paths::{default_flink_version, flink_home, scratch_dir};
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};
use rescaler_backend::savepoint_storage::SavepointStorage;

use crate::s3::S3Server;
use crate::s3fs::S3Mount;
use crate::sample_job;

/// Which scheduler the cluster runs jobs with (it is cluster-wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// `jobmanager.scheduler: adaptive`: jobs can be rescaled in place.
    Adaptive,
    /// Flink's default scheduler: rescaling needs a savepoint and a restart.
    Default,
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct FlinkOptions {
    pub version: String,
    pub scheduler: Scheduler,
    pub taskmanagers: u32,
    pub slots_per_taskmanager: u32,
    /// Extra configuration keys, written last; they replace the harness's own.
    pub extra_config: BTreeMap<String, String>,
}

impl Default for FlinkOptions {
    fn default() -> Self {
        Self {
            version: default_flink_version(),
            scheduler: Scheduler::Adaptive,
            taskmanagers: 1,
            slots_per_taskmanager: 4,
            extra_config: BTreeMap::new(),
        }
    }
}

impl FlinkOptions {
    pub fn with_scheduler(mut self, scheduler: Scheduler) -> Self {
        self.scheduler = scheduler;
        self
    }

    pub fn with_version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    /// One more configuration key (see [`FlinkOptions::extra_config`]): a cluster of its own for
    /// one bench or test, the defaults unchanged for the others.
    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.extra_config.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// A running cluster; dropping it kills every process it started.
pub struct FlinkCluster {
    pub options: FlinkOptions,
    home: PathBuf,
    work_dir: PathBuf,
    rest_url: String,
    http: reqwest::Client,
    // Field order matters: TaskManagers are dropped (killed) before the JobManager.
    taskmanagers: Vec<ChildGuard>,
    jobmanager: ChildGuard,
    /// The S3 bucket mounted on the savepoint directory, if any; unmounted after Flink stops.
    savepoint_mount: Option<S3Mount>,
    /// Flink's temporary files, removed once every process is gone (logs and savepoints stay).
    _tmp: RemoveOnDrop,
}

/// A folder removed when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Java 17 module flags Flink needs, used when the shipped configuration has none (1.18).
const FALLBACK_JAVA_OPTS: &str = "--add-exports=java.base/sun.net.util=ALL-UNNAMED \
--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED \
--add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED";

/// What a JobManager logs when its entrypoint fails (a port it cannot bind, say).
const JOBMANAGER_DID_NOT_START: &str = "Could not start cluster entrypoint";

/// The failure is a port another process holds.
fn is_port_taken(error: &str) -> bool {
    error.contains(JOBMANAGER_DID_NOT_START)
        && ["BindException", "Address already in use", "Unable to open BLOB Server", "Could not start rest endpoint"]
            .iter()
            .any(|sign| error.contains(sign))
}

impl FlinkCluster {
    /// Starts a cluster and waits until every TaskManager has registered its slots. A
    /// JobManager that cannot bind a port it was given (another process took the free port
    /// between our pick and its bind) is started again on fresh ports, up to three times.
    pub async fn start(options: FlinkOptions) -> anyhow::Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_once(options.clone()).await {
                Err(error) if attempt < 3 && is_port_taken(&error.to_string()) => {
                    tracing::warn!(attempt, %error, "the jobmanager could not bind its ports; starting again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(options: FlinkOptions) -> anyhow::Result<Self> {
        let home = flink_home(&options.version)?;
        let work_dir = scratch_dir(&format!("flink-{}", options.version))?;
        let conf_dir = work_dir.join("conf");
        let log_dir = work_dir.join("log");
        let pid_dir = work_dir.join("pid");
        let folders = ["savepoints", "checkpoints", "tmp"].map(|name| work_dir.join(name));
        for dir in [&conf_dir, &log_dir, &pid_dir].into_iter().chain(&folders) {
            std::fs::create_dir_all(dir)?;
        }
        // Logging configuration comes from the distribution; the rest is ours.
        for entry in std::fs::read_dir(home.join("conf"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("log4j") || name.starts_with("logback") {
                std::fs::copy(entry.path(), conf_dir.join(&name))?;
            }
        }
        let rest_port = free_port()?;
        let rpc_port = free_port()?;
        let blob_port = free_port()?;
        // 1.19+ read a standard YAML `config.yaml`; 1.18 reads the flat `flink-conf.yaml`,
        // whose parser does not unquote values.
        let legacy = !home.join("conf/config.yaml").exists();
        let config = render_config(&home, &work_dir, &options, [rest_port, rpc_port, blob_port], legacy)?;
        let config_name = if legacy { "flink-conf.yaml" } else { "config.yaml" };
        std::fs::write(conf_dir.join(config_name), config)?;
        std::fs::write(conf_dir.join("masters"), format!("127.0.0.1:{rest_port}\n"))?;
        std::fs::write(conf_dir.join("workers"), "127.0.0.1\n")?;

        let script = |name: &str| flink_script(&home, &work_dir, name);
        let jobmanager =
            ChildGuard::spawn("flink-jobmanager", script("jobmanager.sh"), &log_dir.join("jobmanager.console"))?;
        let mut taskmanagers = Vec::new();
        for index in 0..options.taskmanagers {
            taskmanagers.push(ChildGuard::spawn(
                "flink-taskmanager",
                script("taskmanager.sh"),
                &log_dir.join(format!("taskmanager-{index}.console")),
            )?);
        }
        let cluster = Self {
            options,
            home,
            _tmp: RemoveOnDrop(work_dir.join("tmp")),
            work_dir,
            rest_url: format!("http://127.0.0.1:{rest_port}"),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
            taskmanagers,
            jobmanager,
            savepoint_mount: None,
        };
        cluster.wait_ready(Duration::from_secs(120)).await?;
        Ok(cluster)
    }

    /// Starts a cluster with the default options (adaptive scheduler, default version).
    pub async fn start_default() -> anyhow::Result<Self> {
        Self::start(FlinkOptions::default()).await
    }

    pub fn rest_url(&self) -> &str {
        &self.rest_url
    }

    pub fn flink_home(&self) -> &Path {
        &self.home
    }

    /// Where savepoints go: an opaque target string, as a real cluster would have `s3://…`.
    pub fn savepoint_dir(&self) -> String {
        format!("file://{}", self.work_dir.join("savepoints").display())
    }

    /// Makes the cluster keep its savepoints in `bucket` of the S3 server, under
    /// `flink-savepoints/`: the bucket is mounted (s3fs) on the savepoint directory, so Flink
    /// writes `file://…/savepoints/…` and the objects land in S3. Call before any savepoint.
    pub async fn keep_savepoints_in(&mut self, server: &S3Server, bucket: &str) -> anyhow::Result<()> {
        let dir = self.work_dir.join("savepoints");
        self.savepoint_mount = Some(S3Mount::mount(server, bucket, "flink-savepoints", &dir).await?);
        Ok(())
    }

    /// The savepoint directory as the backend reads it through S3, when it is a mounted bucket.
    pub fn savepoint_dir_s3(&self) -> Option<String> {
        self.savepoint_mount.as_ref().map(|mount| mount.s3_url().to_owned())
    }

    /// Where the backend reads this cluster's savepoints: through S3 when they are in the
    /// mounted bucket, else from the local file system.
    pub fn savepoint_storage(&self) -> SavepointStorage {
        SavepointStorage::new(self.savepoint_mount.as_ref().map(|mount| mount.client().clone()))
    }

    pub fn slots_total(&self) -> u32 {
        self.options.taskmanagers * self.options.slots_per_taskmanager
    }

    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let wanted = self.slots_total();
        loop {
            if let Ok(overview) = self.get_json("/overview").await
                && overview["slots-total"].as_u64() == Some(u64::from(wanted))
            {
                return Ok(());
            }
            let log = self.jobmanager_log_tail(40);
            if log.contains(JOBMANAGER_DID_NOT_START) {
                anyhow::bail!("the jobmanager did not start; its log:\n{log}");
            }
            if Instant::now() > deadline {
                anyhow::bail!("Flink did not register {wanted} slots within {timeout:?}; jobmanager log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The last lines of the JobManager's log, for failure messages.
    pub fn jobmanager_log_tail(&self, lines: usize) -> String {
        let log_dir = self.work_dir.join("log");
        let mut text = log_tail(&log_dir.join("jobmanager.console"), lines);
        if let Ok(entries) = std::fs::read_dir(&log_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.contains("standalonesession") && name.ends_with(".log") {
                    text.push_str(&log_tail(&entry.path(), lines));
                }
            }
        }
        text
    }

    /// GET a REST path and decode it as JSON; errors on non-2xx.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.rest_url)).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path} answered {status}: {body}");
        Ok(body)
    }

    /// The sample job's jar for this cluster's version (compiled once, cached).
    pub fn sample_job_jar(&self) -> anyhow::Result<PathBuf> {
        sample_job::jar_for(&self.home, &self.options.version)
    }

    /// Uploads the sample job's jar and returns Flink's jar id.
    pub async fn upload_sample_job(&self) -> anyhow::Result<String> {
        let jar = self.sample_job_jar()?;
        let bytes = tokio::fs::read(&jar).await?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("keyed-counter.jar")
            .mime_str("application/x-java-archive")?;
        let response = self
            .http
            .post(format!("{}/jars/upload", self.rest_url))
            .multipart(reqwest::multipart::Form::new().part("jarfile", part))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "jar upload answered {status}: {body}");
        let filename = body["filename"].as_str().context("upload answer has no filename")?;
        Ok(filename.rsplit('/').next().unwrap_or(filename).to_owned())
    }

    /// Submits the sample job at `parallelism` over REST and returns its job id.
    pub async fn submit_sample_job(&self, parallelism: u32, program_args: &[&str]) -> anyhow::Result<String> {
        self.run_sample_jar(None, parallelism, program_args).await
    }

    /// Submits the load-test job (`LoadTestJob`, in the sample job's jar) over REST with
    /// `parallelism` as the job's default (the parallelism of its "Work" vertex; its "Source"
    /// stays at 1) and returns its job id. Arguments: `--rate`, `--rate-file`, `--cost-us`,
    /// `--keys`.
    pub async fn submit_load_test_job(&self, parallelism: u32, program_args: &[&str]) -> anyhow::Result<String> {
        self.run_sample_jar(Some(sample_job::LOAD_TEST_ENTRY_CLASS), parallelism, program_args).await
    }

    /// Uploads the sample jar and runs `entry_class` from it (the manifest's main class when
    /// `None`); answers the job id.
    async fn run_sample_jar(
        &self,
        entry_class: Option<&str>,
        parallelism: u32,
        program_args: &[&str],
    ) -> anyhow::Result<String> {
        let jar_id = self.upload_sample_job().await?;
        let mut body = serde_json::json!({
            "parallelism": parallelism,
            "programArgsList": program_args,
        });
        if let Some(entry_class) = entry_class {
            body["entryClass"] = Value::from(entry_class);
        }
        let response = self.http.post(format!("{}/jars/{jar_id}/run", self.rest_url)).json(&body).send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "jar run answered {status}: {answer}");
        Ok(answer["jobid"].as_str().context("run answer has no jobid")?.to_owned())
    }

    /// Waits until the job is RUNNING with every vertex RUNNING; returns the job detail.
    pub async fn wait_job_running(&self, job_id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let detail = self.get_json(&format!("/jobs/{job_id}")).await;
            if let Ok(detail) = &detail {
                let vertices = detail["vertices"].as_array().cloned().unwrap_or_default();
                if detail["state"] == "RUNNING"
                    && !vertices.is_empty()
                    && vertices.iter().all(|vertex| vertex["status"] == "RUNNING")
                {
                    return Ok(detail.clone());
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("job {job_id} not RUNNING within {timeout:?}: last answer {detail:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sum over subtasks of a metric of the sample job's "Counter" operator (e.g. `freshKeys`).
    pub async fn counter_metric(&self, job_id: &str, metric: &str) -> anyhow::Result<Option<f64>> {
        let detail = self.get_json(&format!("/jobs/{job_id}")).await?;
        let vertex = detail["vertices"]
            .as_array()
            .and_then(|vertices| vertices.iter().find(|v| v["name"].as_str().is_some_and(|n| n.contains("Counter"))))
            .context("the sample job has no Counter vertex")?;
        let vertex_id = vertex["id"].as_str().context("vertex without id")?;
        // Right after a restart the JobManager's metric store may still hold the previous
        // attempt's values: only answer once every current subtask reports the metric.
        let parallelism = vertex["parallelism"].as_u64().unwrap_or(1);
        for subtask in 0..parallelism {
            let values = self
                .get_json(&format!(
                    "/jobs/{job_id}/vertices/{vertex_id}/subtasks/{subtask}/metrics?get=Counter.{metric}"
                ))
                .await?;
            if values.as_array().is_none_or(Vec::is_empty) {
                return Ok(None);
            }
        }
        let listing = self.get_json(&format!("/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics")).await?;
        let Some(metric_id) = listing
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["id"].as_str())
            .find(|id| id.ends_with(&format!("Counter.{metric}")))
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        let values = self
            .get_json(&format!("/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics?get={metric_id}&agg=sum,max"))
            .await?;
        let aggregate = if metric == "maxCount" { "max" } else { "sum" };
        Ok(values.as_array().and_then(|a| a.first()).and_then(|m| m[aggregate].as_f64()))
    }

    /// Kills one TaskManager (for failure tests).
    pub fn kill_taskmanager(&mut self, index: usize) {
        if let Some(taskmanager) = self.taskmanagers.get_mut(index) {
            taskmanager.kill();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) one TaskManager: a frozen one neither works nor
    /// answers heartbeats, as a TaskManager in a long GC pause or on a hung host.
    pub fn signal_taskmanager(&self, index: usize, signal: i32) {
        if let Some(taskmanager) = self.taskmanagers.get(index) {
            let group = i32::try_from(taskmanager.pid()).unwrap_or(i32::MAX);
            // SAFETY: plain syscall on the process group of a child this harness started.
            unsafe { libc::kill(-group, signal) };
        }
    }

    /// Starts one more TaskManager with the cluster's configuration (it registers its slots
    /// with the JobManager on its own).
    pub fn add_taskmanager(&mut self) -> anyhow::Result<()> {
        let index = self.taskmanagers.len();
        let log = self.work_dir.join("log").join(format!("taskmanager-{index}.console"));
        let command = flink_script(&self.home, &self.work_dir, "taskmanager.sh");
        self.taskmanagers.push(ChildGuard::spawn("flink-taskmanager", command, &log)?);
        Ok(())
    }

    /// Kills the JobManager and starts a new one on the same ports and configuration, as a
    /// crash and a supervisor's restart would: without high availability it forgets every job,
    /// every uploaded jar and every asynchronous operation. Waits until the TaskManagers have
    /// registered with it again.
    pub async fn restart_jobmanager(&mut self) -> anyhow::Result<()> {
        self.jobmanager.kill();
        // While the JobManager is down another socket on the machine (any process's ephemeral
        // port) may hold one of its ports for a moment: it then exits at once with a
        // BindException. Start it again, a few times, rather than fail the test on that.
        for attempt in 1..=3 {
            let log = self.work_dir.join("log").join(format!("jobmanager-restarted-{attempt}.console"));
            self.jobmanager =
                ChildGuard::spawn("flink-jobmanager", flink_script(&self.home, &self.work_dir, "jobmanager.sh"), &log)?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && !self.jobmanager.has_exited() {
                if self.get_json("/overview").await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if !self.jobmanager.has_exited() {
                return self.wait_ready(Duration::from_secs(120)).await;
            }
            tracing::warn!(attempt, "the restarted jobmanager exited at once; starting it again");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        anyhow::bail!("the jobmanager did not start again; log:\n{}", self.jobmanager_log_tail(40))
    }

    /// The JobManager process is still alive.
    pub fn jobmanager_alive(&mut self) -> bool {
        !self.jobmanager.has_exited()
    }
}

/// A Flink start script in the foreground with the cluster's own configuration and folders.
fn flink_script(home: &Path, work_dir: &Path, name: &str) -> Command {
    let mut command = Command::new(home.join("bin").join(name));
    command
        .arg("start-foreground")
        .env("FLINK_HOME", home)
        .env("FLINK_CONF_DIR", work_dir.join("conf"))
        .env("FLINK_LOG_DIR", work_dir.join("log"))
        .env("FLINK_PID_DIR", work_dir.join("pid"))
        .env_remove("HADOOP_CLASSPATH");
    command
}

fn shipped_java_opts(home: &Path) -> String {
    for name in ["conf/config.yaml", "conf/flink-conf.yaml"] {
        let Ok(text) = std::fs::read_to_string(home.join(name)) else { continue };
        for line in text.lines() {
            if line.contains("--add-opens")
                && !line.trim_start().starts_with('#')
                && let Some((_, value)) = line.split_once(':')
            {
                return value.trim().to_owned();
            }
        }
    }
    FALLBACK_JAVA_OPTS.to_owned()
}

fn render_config(
    home: &Path,
    work_dir: &Path,
    options: &FlinkOptions,
    [rest_port, rpc_port, blob_port]: [u16; 3],
    legacy: bool,
) -> anyhow::Result<String> {
    let savepoints = format!("file://{}", work_dir.join("savepoints").display());
    let checkpoints = format!("file://{}", work_dir.join("checkpoints").display());
    // Flink's own temporary files (the RPC system's jar, 24 MB per JobManager start, the web
    // uploads, the I/O spill) in the cluster's folder, not in /tmp, where a killed process
    // leaves them behind.
    let tmp = work_dir.join("tmp").display().to_string();
    let mut keys: Vec<(String, String)> = vec![
        ("env.java.opts.all".into(), shipped_java_opts(home)),
        ("io.tmp.dirs".into(), tmp.clone()),
        ("web.tmpdir".into(), tmp),
        ("jobmanager.rpc.address".into(), "127.0.0.1".into()),
        ("jobmanager.bind-host".into(), "127.0.0.1".into()),
        ("jobmanager.rpc.port".into(), rpc_port.to_string()),
        ("taskmanager.bind-host".into(), "127.0.0.1".into()),
        ("taskmanager.host".into(), "127.0.0.1".into()),
        ("rest.address".into(), "127.0.0.1".into()),
        ("rest.bind-address".into(), "127.0.0.1".into()),
        ("rest.port".into(), rest_port.to_string()),
        ("blob.server.port".into(), blob_port.to_string()),
        // Fat jars run to 300 MB; Flink refuses uploads above 100 MiB by default.
        ("rest.server.max-content-length".into(), "536870912".into()),
        ("jobmanager.memory.process.size".into(), "1024m".into()),
        ("taskmanager.memory.process.size".into(), "1024m".into()),
        ("taskmanager.memory.managed.fraction".into(), "0.1".into()),
        ("taskmanager.numberOfTaskSlots".into(), options.slots_per_taskmanager.to_string()),
        ("parallelism.default".into(), "1".into()),
        ("web.refresh-interval".into(), "500".into()),
        ("metrics.fetcher.update-interval".into(), "1000".into()),
        // The REST metric fetcher starts no new round until the last one ended, and a round
        // that asked a TaskManager killed under it waits for this timeout (600 s by default):
        // the rollback tests' metrics never came back under load. 30 s still lets the REST
        // handlers' own asks (a large jar's run) finish.
        ("web.timeout".into(), "30000".into()),
        ("heartbeat.interval".into(), "2000".into()),
        ("heartbeat.timeout".into(), "10000".into()),
        ("restart-strategy.type".into(), "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts".into(), "3".into()),
        ("restart-strategy.fixed-delay.delay".into(), "1 s".into()),
        // 2.x names, then 1.x names: Flink ignores keys it does not know.
        ("execution.checkpointing.savepoint-dir".into(), savepoints.clone()),
        ("execution.checkpointing.dir".into(), checkpoints.clone()),
        ("state.savepoints.dir".into(), savepoints),
        ("state.checkpoints.dir".into(), checkpoints),
    ];
    if options.scheduler == Scheduler::Adaptive {
        keys.extend([
            ("jobmanager.scheduler".into(), "adaptive".into()),
            ("jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling".into(), "1s".into()),
            ("jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout".into(), "1s".into()),
            ("jobmanager.adaptive-scheduler.scaling-interval.min".into(), "1s".into()),
            ("jobmanager.adaptive-scheduler.resource-stabilization-timeout".into(), "1s".into()),
        ]);
    } else {
        keys.push(("jobmanager.scheduler".into(), "default".into()));
    }
    // Extra keys replace the harness's own (a YAML file may not name a key twice).
    keys.retain(|(key, _)| !options.extra_config.contains_key(key));
    keys.extend(options.extra_config.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut text = String::new();
    for (key, value) in keys {
        let value = if legacy { value } else { yaml_scalar(&value) };
        writeln!(text, "{key}: {value}")?;
    }
    Ok(text)
}

/// Quotes a value for YAML when it could be misread.
fn yaml_scalar(value: &str) -> String {
    if value.contains(": ") || value.contains('#') || value.starts_with(['-', '*', '&', '!', '{', '[']) {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        value.to_owned()
    }
}
