//! P1 and P2: how long a job is down while it is rescaled, through the product and by hand.
//!
//! The product runs its engine with its records on the S3 server, driven two ways: by
//! `Engine::run`, the loop of the local binary, idle and woken by the approval's kick; and by
//! the loop of the reconcile Lambda (`bin/lambda-reconcile.rs`: passes at most 250 ms apart until
//! no operation is active), started when the approval would invoke it. The direct path is the
//! shortest REST sequence a person could script: stop with a savepoint, poll the trigger every
//! 20 ms, resubmit the jar from the savepoint at the new parallelism, poll until it runs.
//!
//! Both are measured the same way. Their Flink clients are wrapped in [`RecordingClient`], so
//! the start of the call that takes the job down (stop-with-savepoint, or the in-place
//! `PUT resource-requirements`) is known to the microsecond; an [`Observer`] outside both polls
//! `GET /jobs/overview` every 25 ms and notes when a job runs the target number of tasks, all
//! RUNNING (or FINISHED: see [`OverviewJob::serving`]). `/jobs/overview` is answered live by the dispatcher, whereas `/jobs/:id` comes from
//! an execution-graph cache that may be `web.refresh-interval` old (500 ms in the harness).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use harness::recording::{FlinkCallLog, RecordingClient, first_call};
use harness::rig;
use harness::{FlinkCluster, FlinkOptions, S3Server, Scheduler, sample_job};
use rescaler_backend::cluster::{Cluster, StandaloneCluster};
use rescaler_backend::downtime;
use rescaler_backend::flink::{FlinkClient, RestoreMode, RunJar};
use rescaler_backend::reconcile::Engine;
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::store::{S3Store, Store};
use rescaler_shared::downtime::relative_error;
use rescaler_shared::flink::SavepointStatus;
use rescaler_shared::operation::{ArtifactRef, ResolvedStrategy, Strategy, Target, event_kind};
use rescaler_shared::phase::Phase;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use crate::report::{Spread, median, ms, round1};

/// How often the observer polls `/jobs/overview`.
pub const OBSERVER_INTERVAL: Duration = Duration::from_millis(25);
/// How often the direct sequence polls the savepoint trigger and the new job.
pub const DIRECT_POLL: Duration = Duration::from_millis(20);
/// How long one rescale may take before the bench gives up.
const RESCALE_TIMEOUT: Duration = Duration::from_secs(180);

/// One job of `GET /jobs/overview`.
struct OverviewJob {
    id: String,
    state: String,
    tasks_total: u64,
    tasks_running: u64,
    tasks_finished: u64,
}

impl OverviewJob {
    /// RUNNING with `tasks` tasks, every one RUNNING or FINISHED. A source subtask without a
    /// split finishes at once: the sample job's sequence is one split, so after a restore at 2
    /// one of its two source subtasks is FINISHED while the job runs (Flink still shows the
    /// vertex RUNNING).
    fn serving(&self, tasks: u64) -> bool {
        self.state == "RUNNING"
            && self.tasks_total == tasks
            && self.tasks_running > 0
            && self.tasks_running + self.tasks_finished == tasks
    }
}

/// What the observer saw of one rescale.
#[derive(Debug)]
pub struct Sighting {
    /// The first poll that found the old job not running all its tasks.
    pub down_at: Option<Instant>,
    /// The first poll that found a job running the target number of tasks, all RUNNING.
    pub up_at: Instant,
    /// That job.
    pub job_id: String,
    pub polls: u32,
}

/// Polls Flink from outside the product, the same way for both paths.
#[derive(Clone)]
pub struct Observer {
    http: reqwest::Client,
    overview_url: String,
}

impl Observer {
    pub fn new(flink: &FlinkCluster) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self { http, overview_url: format!("{}/jobs/overview", flink.rest_url()) })
    }

    async fn overview(&self) -> anyhow::Result<Vec<OverviewJob>> {
        let body: Value = self.http.get(&self.overview_url).send().await?.error_for_status()?.json().await?;
        let jobs = body["jobs"].as_array().context("/jobs/overview has no jobs array")?;
        Ok(jobs
            .iter()
            .map(|job| OverviewJob {
                id: job["jid"].as_str().unwrap_or_default().to_owned(),
                state: job["state"].as_str().unwrap_or_default().to_owned(),
                tasks_total: job["tasks"]["total"].as_u64().unwrap_or(0),
                tasks_running: job["tasks"]["running"].as_u64().unwrap_or(0),
                tasks_finished: job["tasks"]["finished"].as_u64().unwrap_or(0),
            })
            .collect())
    }

    /// Starts watching `old_job` (running `old_tasks` tasks) until some job runs `target_tasks`
    /// tasks, all RUNNING; answers once the old job has been seen serving, so that the caller
    /// may take it down.
    pub async fn watch(
        &self,
        old_job: &str,
        old_tasks: u64,
        target_tasks: u64,
    ) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<Sighting>>> {
        let observer = self.clone();
        let watched_job = old_job.to_owned();
        let (ready, seen_serving) = oneshot::channel::<()>();
        let last_seen = Arc::new(std::sync::Mutex::new(String::new()));
        let last_seen_by_task = last_seen.clone();
        let watch = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut ticks = tokio::time::interval(OBSERVER_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let deadline = Instant::now() + RESCALE_TIMEOUT;
            let mut down_at = None;
            let mut polls = 0;
            loop {
                ticks.tick().await;
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "no job ran {target_tasks} tasks within {RESCALE_TIMEOUT:?}"
                );
                let Ok(jobs) = observer.overview().await else { continue };
                let seen_at = Instant::now();
                polls += 1;
                let old_serving = jobs.iter().any(|job| job.id == watched_job && job.serving(old_tasks));
                if ready.is_some() {
                    if let Some(job) = jobs.iter().find(|job| job.id == watched_job)
                        && let Ok(mut last_seen) = last_seen_by_task.lock()
                    {
                        *last_seen = format!(
                            "{} with {} of {} tasks running (waiting for {old_tasks})",
                            job.state, job.tasks_running, job.tasks_total
                        );
                    }
                    if old_serving && let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                    continue;
                }
                if !old_serving && down_at.is_none() {
                    down_at = Some(seen_at);
                }
                if let Some(job) = jobs.iter().find(|job| job.serving(target_tasks)) {
                    return Ok(Sighting { down_at, up_at: seen_at, job_id: job.id.clone(), polls });
                }
            }
        });
        let seen = tokio::time::timeout(Duration::from_secs(60), seen_serving).await;
        let last_seen = last_seen.lock().map(|text| text.clone()).unwrap_or_default();
        seen.with_context(|| {
            format!("the observer never saw job {old_job} running all its tasks; last seen {last_seen}")
        })?
        .context("the observer stopped")?;
        Ok(watch)
    }
}

/// Which way a rescale was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The product's engine in `Engine::run`, as the local binary runs it.
    ProductLocalLoop,
    /// The product's engine in the reconcile Lambda's loop (passes at most 250 ms apart).
    ProductLambdaLoop,
    /// A minimal REST sequence, by hand.
    Direct,
}

impl Route {
    pub fn label(self) -> &'static str {
        match self {
            Self::ProductLocalLoop => "product, local binary loop",
            Self::ProductLambdaLoop => "product, reconcile Lambda loop",
            Self::Direct => "direct REST",
        }
    }
}

/// One measured rescale.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub route: Route,
    pub strategy: &'static str,
    pub from: u32,
    pub to: u32,
    pub old_job: String,
    pub new_job: String,
    /// From the start of the call that takes the job down (stop-with-savepoint, or the in-place
    /// PUT) until the observer saw every task RUNNING at the target parallelism.
    pub downtime_ms: f64,
    /// From the observer's first sight of the old job not running all its tasks until every
    /// task RUNNING at the target (shorter: the job keeps running while the savepoint is taken).
    pub observed_outage_ms: Option<f64>,
    /// From the stop call until the resubmission call (savepoint, noticing it, bookkeeping).
    pub stop_to_submit_ms: Option<f64>,
    /// From the resubmission call until every task RUNNING (Flink's share).
    pub submit_to_running_ms: Option<f64>,
    /// Product: from the approval's kick until the call that takes the job down.
    pub approval_to_trigger_ms: Option<f64>,
    /// Product: from every task RUNNING until the operation was seen `completed` in the store
    /// (the stable window, `stable_for_ms`, is part of it).
    pub running_to_completed_ms: Option<f64>,
    /// Product: from every task RUNNING until the stored operation said so (its event that the
    /// job runs at the target: what the console shows), 0 when it did before the observer.
    pub running_to_shown_ms: Option<f64>,
    /// Product: the operation's phase spans, in milliseconds.
    pub phase_ms: BTreeMap<String, u64>,
    /// Product: the engine's Flink calls from the approval on, as (call, ms after the call
    /// that took the job down; negative before it).
    pub engine_calls: Vec<(String, f64)>,
    pub observer_polls: u32,
    /// Product: the outage the product predicted before the trial (its pre-flight's figure for
    /// the strategy), with its range and how many earlier rescales it learned from.
    pub predicted_outage_ms: Option<u64>,
    pub predicted_range_ms: Option<(u64, u64)>,
    pub predicted_from_rescales: Option<u32>,
    /// Product: the outage the operation recorded (from the step that could stop the job to the
    /// engine's first sight of it at the target), and the prediction's error against it.
    pub recorded_outage_ms: Option<u64>,
    pub prediction_error: Option<f64>,
}

/// A Flink cluster running the sample job, the product's engine on the S3 store, and a direct
/// REST client, shared by a series of trials.
pub struct Scene {
    pub flink: FlinkCluster,
    pub records: Records,
    pub bucket: String,
    engine: Arc<Engine>,
    engine_log: Arc<FlinkCallLog>,
    direct: Arc<dyn FlinkClient>,
    direct_log: Arc<FlinkCallLog>,
    observer: Observer,
    pub job_id: String,
    pub parallelism: u32,
    pub artifact: ArtifactRef,
    vertices: u32,
    jar_id: String,
    /// Completed product operations, newest last.
    pub operation_ids: Vec<String>,
    /// The job's deployment, which the product's requests name (their earlier outages are
    /// what a prediction learns from), and the cluster the prediction reads checkpoints from.
    deployment_id: String,
    cluster: Arc<dyn Cluster>,
}

impl Scene {
    /// Starts Flink with `scheduler` on the default version, an engine on a fresh bucket, and
    /// the sample job at 1.
    pub async fn start(s3: &S3Server, scheduler: Scheduler) -> anyhow::Result<Self> {
        Self::start_with(s3, FlinkOptions::default().with_scheduler(scheduler)).await
    }

    /// The same with any cluster options (a version, say).
    pub async fn start_with(s3: &S3Server, options: FlinkOptions) -> anyhow::Result<Self> {
        Self::start_with_args(s3, options, &[]).await
    }

    /// The same with the sample job's program arguments (`--state-mb`, say); both routes
    /// resubmit the job with them.
    pub async fn start_with_args(s3: &S3Server, options: FlinkOptions, args: &[&str]) -> anyhow::Result<Self> {
        let flink = FlinkCluster::start(options).await?;
        let bucket = s3.fresh_bucket().await?;
        let store: Arc<dyn Store> = Arc::new(S3Store::new(s3.client(), bucket.clone(), "rescaler"));
        let records = Records::new(store);
        let engine_log = Arc::new(FlinkCallLog::default());
        let engine_client: Arc<dyn FlinkClient> =
            Arc::new(RecordingClient::new(rig::flink_client(&flink)?, engine_log.clone()));
        let engine: Arc<Engine> =
            Arc::new(rig::engine_with_client(&records, rig::cluster_config(&flink), engine_client, "bench-reconciler"));
        let direct_log = Arc::new(FlinkCallLog::default());
        let direct: Arc<dyn FlinkClient> =
            Arc::new(RecordingClient::new(rig::flink_client(&flink)?, direct_log.clone()));
        let (job_id, artifact) = rig::adopt_sample_job(&records, direct.as_ref(), &flink, 1, args).await?;
        let job = direct.job(&job_id).await?.context("the sample job vanished")?;
        let jar_name = format!("rescaler-{}.jar", artifact.sha256);
        let jar_id = direct
            .list_jars()
            .await?
            .into_iter()
            .find(|jar| jar.name == jar_name)
            .context("the sample job's jar is not on the cluster")?
            .id;
        let observer = Observer::new(&flink)?;
        let deployment = records.adopt_job(rig::CLUSTER_ID, &job_id, &job.name, now_ms()).await?;
        let cluster: Arc<dyn Cluster> =
            Arc::new(StandaloneCluster::new(rig::cluster_config(&flink), direct.clone(), records.clone()));
        Ok(Self {
            flink,
            records,
            bucket,
            engine,
            engine_log,
            direct,
            direct_log,
            observer,
            job_id,
            parallelism: 1,
            artifact,
            vertices: u32::try_from(job.vertices.len())?,
            jar_id,
            operation_ids: Vec::new(),
            deployment_id: deployment.id,
            cluster,
        })
    }

    /// The Flink calls of the product's engine, as they started and ended.
    pub(crate) fn engine_log(&self) -> &FlinkCallLog {
        &self.engine_log
    }

    /// The Flink calls of the direct route (and of the job's first submission).
    pub(crate) fn direct_log(&self) -> &FlinkCallLog {
        &self.direct_log
    }

    /// The other parallelism of the 1 ↔ 2 alternation.
    pub fn next_parallelism(&self) -> u32 {
        if self.parallelism == 1 { 2 } else { 1 }
    }

    fn tasks(&self, parallelism: u32) -> u64 {
        u64::from(self.vertices) * u64::from(parallelism)
    }

    /// Waits until the current job has completed a checkpoint of its own (so every trial starts
    /// from a job that has settled, and an in-place restart has state to restore), then 1 s.
    pub async fn settle(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let history = self.direct.checkpoint_history(&self.job_id).await?;
            if history.is_some_and(|history| history.latest_checkpoint.is_some()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "job {} completed no checkpoint", self.job_id);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    /// `error` (the observer gave up), with what the product's operation and Flink said of the
    /// job meanwhile.
    async fn explain(&self, operation_id: &str, job_id: &str, error: anyhow::Error) -> anyhow::Error {
        let operation = match self.records.operation(operation_id).await {
            Ok(Some((operation, _))) => {
                let events: Vec<String> = operation
                    .events
                    .iter()
                    .rev()
                    .take(4)
                    .map(|event| format!("{}: {}", event.kind, event.message))
                    .collect();
                format!("{:?}, last events {events:?}", operation.phase)
            }
            other => format!("unreadable: {other:?}"),
        };
        let job = match self.flink.get_json(&format!("/jobs/{job_id}")).await {
            Ok(job) => {
                let vertices: Vec<String> = job["vertices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|vertex| format!("{} ×{} {}", vertex["name"], vertex["parallelism"], vertex["status"]))
                    .collect();
                format!("{} {vertices:?}", job["state"])
            }
            Err(error) => format!("unreadable: {error:#}"),
        };
        let exceptions = self.flink.get_json(&format!("/jobs/{job_id}/exceptions?maxExceptions=1")).await;
        let root = exceptions
            .ok()
            .and_then(|body| body["exceptionHistory"]["entries"][0]["exceptionName"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "none".to_owned());
        error.context(format!("operation {operation}; Flink job {job_id}: {job}; latest exception {root}"))
    }

    /// Rescales the current job to `to` through the product's engine, driven by `route`'s loop.
    pub async fn product(&mut self, route: Route, to: u32, strategy: Strategy) -> anyhow::Result<Trial> {
        let from = self.parallelism;
        let old_job = self.job_id.clone();
        let mark = self.engine_log.len();
        // The product's own prediction, as pre-flight makes it when the request is filed.
        let resolved =
            if strategy == Strategy::InPlace { ResolvedStrategy::InPlace } else { ResolvedStrategy::Savepoint };
        let predicted = downtime::predictions(
            &self.records,
            self.cluster.as_ref(),
            Some(&self.deployment_id),
            &old_job,
            &[resolved],
            Some(to > from),
            now_ms(),
        )
        .await?
        .pop();
        let watch = self.observer.watch(&old_job, self.tasks(from), self.tasks(to)).await?;
        // Built when it is stored, so that its first phase span is the product's own.
        let request = || {
            let mut operation = rig::approved_operation(
                &old_job,
                &self.artifact,
                Target::Uniform { parallelism: to },
                strategy,
                Duration::from_secs(120),
            )?;
            operation.deployment_id = self.deployment_id.clone();
            operation.predicted_outage = predicted.clone();
            anyhow::Ok(operation)
        };
        let (stop_loop, loop_stopped) = oneshot::channel::<()>();
        let (loop_task, kicked_at, operation) = if route == Route::ProductLocalLoop {
            // The local binary's loop: idle (its first pass finds nothing active) until the
            // approve handler, after its write, wakes it.
            let kick = Arc::new(Notify::new());
            let task = tokio::spawn(self.engine.clone().run(kick.clone(), async {
                let _ = loop_stopped.await;
            }));
            tokio::time::sleep(Duration::from_millis(200)).await;
            let operation = request()?;
            self.records.create_operation(&operation).await?;
            let kicked_at = Instant::now();
            kick.notify_one();
            (task, kicked_at, operation)
        } else {
            // The reconcile Lambda, invoked by the approve handler after its write.
            let operation = request()?;
            self.records.create_operation(&operation).await?;
            let kicked_at = Instant::now();
            (tokio::spawn(lambda_reconcile_loop(self.engine.clone(), loop_stopped)), kicked_at, operation)
        };
        let sighting = watch.await;
        let deadline = Instant::now() + RESCALE_TIMEOUT;
        let finished = async {
            let sighting = match sighting? {
                Ok(sighting) => sighting,
                Err(error) => return Err(self.explain(&operation.id, &old_job, error).await),
            };
            let mut shown_at = None;
            loop {
                let (operation, _) = self.records.operation(&operation.id).await?.context("the operation vanished")?;
                if shown_at.is_none() && operation.events.iter().any(|event| event.kind == event_kind::RUNS_AT_TARGET) {
                    shown_at = Some(Instant::now());
                }
                if operation.is_terminal() {
                    return anyhow::Ok((sighting, operation, shown_at, Instant::now()));
                }
                anyhow::ensure!(Instant::now() < deadline, "operation {} stuck in {:?}", operation.id, operation.phase);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        .await;
        let _ = stop_loop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), loop_task).await;
        let (sighting, operation, shown_at, completed_seen_at) = finished?;
        anyhow::ensure!(
            operation.phase == Phase::Completed,
            "the product's rescale ended {:?}: {:#?}",
            operation.phase,
            operation.events
        );
        let new_job = operation.new_job_id.clone().unwrap_or_else(|| old_job.clone());
        anyhow::ensure!(
            sighting.job_id == new_job,
            "observer saw {} run, the product started {new_job}",
            sighting.job_id
        );
        let calls = self.engine_log.since(mark);
        let (strategy_name, trigger_method) = match operation.strategy {
            Some(rescaler_shared::operation::ResolvedStrategy::InPlace) => ("in_place", "set_resource_requirements"),
            _ => ("savepoint", "stop_with_savepoint"),
        };
        let trigger = first_call(&calls, trigger_method).context("the engine never took the job down")?.started;
        let submit = first_call(&calls, "run_jar").map(|call| call.started);
        self.operation_ids.push(operation.id.clone());
        self.job_id = new_job.clone();
        self.parallelism = to;
        Ok(Trial {
            route,
            strategy: strategy_name,
            from,
            to,
            old_job,
            new_job,
            downtime_ms: ms(sighting.up_at.saturating_duration_since(trigger)),
            observed_outage_ms: sighting.down_at.map(|down| ms(sighting.up_at.saturating_duration_since(down))),
            stop_to_submit_ms: submit.map(|submit| ms(submit.saturating_duration_since(trigger))),
            submit_to_running_ms: submit.map(|submit| ms(sighting.up_at.saturating_duration_since(submit))),
            approval_to_trigger_ms: Some(ms(trigger.saturating_duration_since(kicked_at))),
            running_to_completed_ms: Some(ms(completed_seen_at.saturating_duration_since(sighting.up_at))),
            running_to_shown_ms: shown_at.map(|at| ms(at.saturating_duration_since(sighting.up_at))),
            phase_ms: operation
                .phase_durations()
                .into_iter()
                .filter_map(|(name, duration)| Some((name.as_str().to_owned(), duration?)))
                .collect(),
            engine_calls: calls
                .iter()
                .filter(|call| call.started <= sighting.up_at)
                .map(|call| {
                    let offset =
                        if call.started >= trigger { ms(call.started - trigger) } else { -ms(trigger - call.started) };
                    (call.method.to_owned(), offset)
                })
                .collect(),
            observer_polls: sighting.polls,
            predicted_outage_ms: predicted.as_ref().map(|prediction| prediction.expected_ms),
            predicted_range_ms: predicted.as_ref().map(|prediction| (prediction.low_ms, prediction.high_ms)),
            predicted_from_rescales: predicted.as_ref().map(|prediction| prediction.from_rescales),
            recorded_outage_ms: operation.outage.map(|outage| outage.duration_ms()),
            prediction_error: predicted
                .as_ref()
                .zip(operation.outage.as_ref())
                .map(|(prediction, outage)| (relative_error(prediction, outage) * 1000.0).round() / 1000.0),
        })
    }

    /// Rescales the current job to `to` with the minimal REST sequence: stop with savepoint,
    /// tight polling, resubmit from the savepoint, poll until every vertex runs at `to`.
    pub async fn direct(&mut self, to: u32) -> anyhow::Result<Trial> {
        let from = self.parallelism;
        let old_job = self.job_id.clone();
        let watch = self.observer.watch(&old_job, self.tasks(from), self.tasks(to)).await?;
        let client = self.direct.as_ref();
        let trigger_id = uuid::Uuid::new_v4().simple().to_string();
        let savepoint_dir = self.flink.savepoint_dir();
        let deadline = Instant::now() + RESCALE_TIMEOUT;

        let stopped_at = Instant::now();
        client.stop_with_savepoint(&old_job, &trigger_id, Some(&savepoint_dir)).await?;
        let location = loop {
            match client.savepoint_status(&old_job, &trigger_id).await? {
                SavepointStatus::Completed { location } => break location,
                SavepointStatus::Failed { cause } => anyhow::bail!("the direct savepoint failed: {cause}"),
                SavepointStatus::InProgress | SavepointStatus::Unknown => {}
            }
            anyhow::ensure!(Instant::now() < deadline, "the direct savepoint never completed");
            tokio::time::sleep(DIRECT_POLL).await;
        };
        let submitted_at = Instant::now();
        let run = RunJar {
            entry_class: Some(sample_job::ENTRY_CLASS.to_owned()),
            program_args: self.artifact.args.clone(),
            parallelism: Some(to),
            savepoint_path: Some(location),
            restore_mode: RestoreMode::NoClaim,
            ..RunJar::default()
        };
        let new_job = client.run_jar(&self.jar_id, &run).await?;
        loop {
            // Every vertex RUNNING at `to`, as the product's verification reads it.
            if let Some(job) = client.job(&new_job).await?
                && job.runs_at(&job.vertices.iter().map(|vertex| (vertex.id.clone(), to)).collect())
            {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the directly resubmitted job never ran at {to}");
            tokio::time::sleep(DIRECT_POLL).await;
        }
        let sighting = watch.await??;
        anyhow::ensure!(
            sighting.job_id == new_job,
            "observer saw {} run, the direct path started {new_job}",
            sighting.job_id
        );
        self.job_id = new_job.clone();
        self.parallelism = to;
        Ok(Trial {
            route: Route::Direct,
            strategy: "savepoint",
            from,
            to,
            old_job,
            new_job,
            downtime_ms: ms(sighting.up_at.saturating_duration_since(stopped_at)),
            observed_outage_ms: sighting.down_at.map(|down| ms(sighting.up_at.saturating_duration_since(down))),
            stop_to_submit_ms: Some(ms(submitted_at.saturating_duration_since(stopped_at))),
            submit_to_running_ms: Some(ms(sighting.up_at.saturating_duration_since(submitted_at))),
            approval_to_trigger_ms: None,
            running_to_completed_ms: None,
            running_to_shown_ms: None,
            phase_ms: BTreeMap::new(),
            engine_calls: Vec::new(),
            observer_polls: sighting.polls,
            predicted_outage_ms: None,
            predicted_range_ms: None,
            predicted_from_rescales: None,
            recorded_outage_ms: None,
            prediction_error: None,
        })
    }
}

/// What one invocation of the reconcile Lambda does (`bin/lambda-reconcile.rs`): passes at most
/// 250 ms apart until no operation is active (its deadline is far here), or until `stop`.
async fn lambda_reconcile_loop(engine: Arc<Engine>, stop: oneshot::Receiver<()>) {
    let passes = async {
        loop {
            let next = match engine.pass().await {
                Ok(report) => report.next_in,
                Err(error) => {
                    tracing::warn!(%error, "reconcile pass failed");
                    Some(Duration::from_secs(1))
                }
            };
            let Some(next) = next else { break };
            tokio::time::sleep(next.min(Duration::from_millis(250))).await;
        }
    };
    tokio::select! {
        _ = passes => {}
        _ = stop => {}
    }
}

fn medians_of(trials: &[&Trial], pick: impl Fn(&Trial) -> Option<f64>) -> Option<f64> {
    median(&trials.iter().filter_map(|trial| pick(trial)).collect::<Vec<_>>()).map(round1)
}

/// Issue 17's bound on what the product adds to a savepoint rescale's downtime (median).
pub const OVERHEAD_TARGET_MS: f64 = 100.0;

/// Medians of one route's trials, part by part.
#[derive(Debug, Clone, Serialize)]
pub struct RouteSummary {
    pub downtime_ms: Option<Spread>,
    pub observed_outage_ms: Option<f64>,
    pub stop_to_submit_ms: Option<f64>,
    pub submit_to_running_ms: Option<f64>,
    pub approval_to_trigger_ms: Option<f64>,
    pub running_to_completed_ms: Option<f64>,
    pub running_to_shown_ms: Option<f64>,
}

fn summarize(trials: &[&Trial]) -> RouteSummary {
    RouteSummary {
        downtime_ms: Spread::of(&trials.iter().map(|trial| trial.downtime_ms).collect::<Vec<_>>()),
        observed_outage_ms: medians_of(trials, |trial| trial.observed_outage_ms),
        stop_to_submit_ms: medians_of(trials, |trial| trial.stop_to_submit_ms),
        submit_to_running_ms: medians_of(trials, |trial| trial.submit_to_running_ms),
        approval_to_trigger_ms: medians_of(trials, |trial| trial.approval_to_trigger_ms),
        running_to_completed_ms: medians_of(trials, |trial| trial.running_to_completed_ms),
        running_to_shown_ms: medians_of(trials, |trial| trial.running_to_shown_ms),
    }
}

/// How well the product predicted its own outages, over the trials of one strategy whose
/// prediction learned from at least one earlier rescale (the first has only the defaults).
#[derive(Debug, Clone, Serialize)]
pub struct PredictionSummary {
    pub strategy: &'static str,
    pub trials: usize,
    /// |recorded − predicted| / recorded.
    pub median_error: Option<f64>,
    pub max_error: Option<f64>,
    /// Trials whose recorded outage fell inside the predicted range.
    pub within_range: usize,
    /// The first trial's error, predicted from the defaults alone.
    pub first_error: Option<f64>,
}

fn prediction_summary(trials: &[Trial], strategy: &'static str) -> PredictionSummary {
    let of_strategy: Vec<&Trial> =
        trials.iter().filter(|trial| trial.strategy == strategy && trial.prediction_error.is_some()).collect();
    let learned: Vec<&Trial> =
        of_strategy.iter().copied().filter(|trial| trial.predicted_from_rescales.is_some_and(|n| n > 0)).collect();
    let errors: Vec<f64> = learned.iter().filter_map(|trial| trial.prediction_error).collect();
    let summary = PredictionSummary {
        strategy,
        trials: learned.len(),
        median_error: median(&errors),
        max_error: errors.iter().copied().reduce(f64::max),
        within_range: learned
            .iter()
            .filter(|trial| match (trial.recorded_outage_ms, trial.predicted_range_ms) {
                (Some(recorded), Some((low, high))) => (low..=high).contains(&recorded),
                _ => false,
            })
            .count(),
        first_error: of_strategy
            .iter()
            .find(|trial| trial.predicted_from_rescales == Some(0))
            .and_then(|trial| trial.prediction_error),
    };
    eprintln!(
        "[bench] downtime prediction, {strategy}: median error {:.1} %, max {:.1} % over {} trials, {} within the range; first (defaults) {:.1} %",
        summary.median_error.unwrap_or(f64::NAN) * 100.0,
        summary.max_error.unwrap_or(f64::NAN) * 100.0,
        summary.trials,
        summary.within_range,
        summary.first_error.unwrap_or(f64::NAN) * 100.0
    );
    summary
}

/// One product loop against the direct sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub route: Route,
    /// Median product downtime minus median direct downtime.
    pub difference_ms: f64,
    /// Median product downtime over median direct downtime.
    pub ratio: f64,
    /// At most [`OVERHEAD_TARGET_MS`] more than the direct sequence.
    pub target_met: bool,
}

/// P1: the product, driven by either loop, against the direct sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub repetitions: usize,
    pub scheduler: &'static str,
    pub product_local_loop: RouteSummary,
    pub product_lambda_loop: RouteSummary,
    pub direct: RouteSummary,
    pub comparisons: Vec<Comparison>,
    pub prediction: PredictionSummary,
    pub trials: Vec<Trial>,
}

fn downtime_median(summary: &RouteSummary) -> f64 {
    summary.downtime_ms.map(|spread| spread.median).unwrap_or(f64::NAN)
}

fn compare(route: Route, product: &RouteSummary, direct: &RouteSummary) -> Comparison {
    let difference_ms = round1(downtime_median(product) - downtime_median(direct));
    let ratio = (downtime_median(product) / downtime_median(direct) * 1000.0).round() / 1000.0;
    Comparison { route, difference_ms, ratio, target_met: difference_ms <= OVERHEAD_TARGET_MS }
}

/// Runs P1 on a default-scheduler cluster: `repetitions` rounds of the three routes, each round
/// starting one route later (so that none always follows the same one), the direction
/// alternating with every rescale (1→2, 2→1, …).
pub async fn overhead(s3: &S3Server, repetitions: usize) -> anyhow::Result<(Overhead, Scene)> {
    let mut scene = Scene::start(s3, Scheduler::Default).await?;
    let routes = [Route::ProductLocalLoop, Route::Direct, Route::ProductLambdaLoop];
    let mut trials = Vec::new();
    for repetition in 0..repetitions {
        for index in 0..routes.len() {
            let route = routes[(repetition + index) % routes.len()];
            scene.settle().await?;
            let to = scene.next_parallelism();
            let trial = match route {
                Route::Direct => scene.direct(to).await?,
                product => scene.product(product, to, Strategy::Savepoint).await?,
            };
            eprintln!(
                "[bench] P1 {} {}→{}: downtime {:.0} ms (stop→submit {:.0} ms, submit→running {:.0} ms)",
                trial.route.label(),
                trial.from,
                trial.to,
                trial.downtime_ms,
                trial.stop_to_submit_ms.unwrap_or(f64::NAN),
                trial.submit_to_running_ms.unwrap_or(f64::NAN)
            );
            trials.push(trial);
        }
    }
    let of = |route: Route| summarize(&trials.iter().filter(|trial| trial.route == route).collect::<Vec<_>>());
    let (local, lambda, direct) = (of(Route::ProductLocalLoop), of(Route::ProductLambdaLoop), of(Route::Direct));
    let comparisons =
        vec![compare(Route::ProductLocalLoop, &local, &direct), compare(Route::ProductLambdaLoop, &lambda, &direct)];
    Ok((
        Overhead {
            repetitions,
            scheduler: "default",
            product_local_loop: local,
            product_lambda_loop: lambda,
            direct,
            comparisons,
            prediction: prediction_summary(&trials, "savepoint"),
            trials,
        },
        scene,
    ))
}

/// P2: in place against savepoint-restart on the adaptive scheduler, for the same job: both
/// through the product (the local binary's loop), and the savepoint-restart also by the direct
/// sequence (so that the product's own overhead, P1, can be told apart from the strategy's).
///
/// The job stops processing at different moments: a stop-with-savepoint suspends the sources at
/// the savepoint's barrier, right after the stop call, while Flink still shows the job RUNNING;
/// an in-place rescale leaves the job running at its old parallelism until the adaptive
/// scheduler restarts it (after its cooldown and resource-stabilization waits). So the outage
/// compared is, for savepoint-restart, from the stop call, and for in place, from the first poll
/// that saw the job's tasks leave RUNNING — each until every task runs at the target.
#[derive(Debug, Clone, Serialize)]
pub struct InPlaceVsSavepoint {
    /// The cluster's Flink version.
    pub flink_version: String,
    pub repetitions: usize,
    pub scheduler: &'static str,
    pub in_place: RouteSummary,
    pub savepoint: RouteSummary,
    pub savepoint_direct: RouteSummary,
    /// Median in-place outage (observed) over median savepoint-restart outage (from the stop).
    pub outage_ratio: f64,
    /// The same against the direct savepoint-restart.
    pub outage_ratio_vs_direct: f64,
    /// Both from the triggering call (the PUT, the stop): the in-place figure then includes the
    /// scheduler's waits, during which the job still runs at the old parallelism.
    pub from_trigger_ratio: f64,
    /// Both as observed (from the first poll without every task RUNNING): the savepoint figure
    /// then leaves out the savepoint itself, during which the sources are already suspended.
    pub observed_ratio: Option<f64>,
    pub prediction: Vec<PredictionSummary>,
    pub trials: Vec<Trial>,
}

/// Runs P2 on an adaptive-scheduler cluster of Flink `version`: `repetitions` rounds of in place
/// (product), savepoint-restart (product) and savepoint-restart (direct), each round starting one
/// later.
pub async fn in_place_vs_savepoint(
    s3: &S3Server,
    repetitions: usize,
    version: &str,
) -> anyhow::Result<InPlaceVsSavepoint> {
    let options = FlinkOptions::default().with_version(version).with_scheduler(Scheduler::Adaptive);
    let mut scene = Scene::start_with(s3, options).await?;
    let mut trials = Vec::new();
    let kinds = [
        (Route::ProductLocalLoop, Strategy::InPlace),
        (Route::ProductLocalLoop, Strategy::Savepoint),
        (Route::Direct, Strategy::Savepoint),
    ];
    for repetition in 0..repetitions {
        for index in 0..kinds.len() {
            let (route, strategy) = kinds[(repetition + index) % kinds.len()];
            scene.settle().await?;
            let to = scene.next_parallelism();
            let trial = match route {
                Route::Direct => scene.direct(to).await?,
                product => scene.product(product, to, strategy).await?,
            };
            eprintln!(
                "[bench] P2 Flink {version} {} via {} {}→{}: {:.0} ms from the trigger, {:.0} ms observed outage",
                trial.strategy,
                trial.route.label(),
                trial.from,
                trial.to,
                trial.downtime_ms,
                trial.observed_outage_ms.unwrap_or(f64::NAN)
            );
            trials.push(trial);
        }
    }
    let of = |route: Route, strategy: &str| {
        summarize(&trials.iter().filter(|trial| trial.route == route && trial.strategy == strategy).collect::<Vec<_>>())
    };
    let in_place = of(Route::ProductLocalLoop, "in_place");
    let savepoint = of(Route::ProductLocalLoop, "savepoint");
    let savepoint_direct = of(Route::Direct, "savepoint");
    let ratio = |a: f64, b: f64| (a / b * 1000.0).round() / 1000.0;
    let outage_ratio = ratio(in_place.observed_outage_ms.unwrap_or(f64::NAN), downtime_median(&savepoint));
    let outage_ratio_vs_direct =
        ratio(in_place.observed_outage_ms.unwrap_or(f64::NAN), downtime_median(&savepoint_direct));
    let from_trigger_ratio = ratio(downtime_median(&in_place), downtime_median(&savepoint));
    let observed_ratio = match (in_place.observed_outage_ms, savepoint.observed_outage_ms) {
        (Some(in_place), Some(savepoint)) => Some(ratio(in_place, savepoint)),
        _ => None,
    };
    Ok(InPlaceVsSavepoint {
        flink_version: version.to_owned(),
        repetitions,
        scheduler: "adaptive",
        in_place,
        savepoint,
        savepoint_direct,
        outage_ratio,
        outage_ratio_vs_direct,
        from_trigger_ratio,
        observed_ratio,
        prediction: vec![prediction_summary(&trials, "in_place"), prediction_summary(&trials, "savepoint")],
        trials,
    })
}
