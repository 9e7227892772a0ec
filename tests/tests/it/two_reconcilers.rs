//! Two reconcilers on one store (the S3 server) carry out 20 operations: each action reaches
//! Flink exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::flink::*;
use rescaler_shared::flink::{ClusterView, JobView, SavepointStatus};
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::phase::Phase;

/// A real REST client that counts the side effects it performs, by job.
struct CountingClient {
    inner: Arc<dyn FlinkClient>,
    requirement_puts: Arc<Mutex<HashMap<String, u32>>>,
}

impl FlinkClient for CountingClient {
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>> {
        self.inner.cluster_overview()
    }
    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>> {
        self.inner.list_jobs()
    }
    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>> {
        self.inner.job_detail(job_id)
    }
    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>> {
        self.inner.vertex_metrics(job_id, vertex_id)
    }
    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>> {
        self.inner.checkpoint_history(job_id)
    }
    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        dir: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        self.inner.stop_with_savepoint(job_id, trigger_id, dir)
    }
    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>> {
        self.inner.savepoint_status(job_id, trigger_id)
    }
    fn upload_jar<'a>(&'a self, file_name: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, FlinkResult<String>> {
        self.inner.upload_jar(file_name, bytes)
    }
    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>> {
        self.inner.list_jars()
    }
    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>> {
        self.inner.run_jar(jar_id, run)
    }
    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        let counts = self.requirement_puts.clone();
        Box::pin(async move {
            let result = self.inner.set_resource_requirements(job_id, requirements).await;
            if result.is_ok() {
                let upper = requirements.values().map(|b| b.upper).max().unwrap_or(0);
                *counts.lock().expect("counts").entry(format!("{job_id}@{upper}")).or_default() += 1;
            }
            result
        })
    }
    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        self.inner.cancel_job(job_id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reconcilers_on_one_store_execute_each_of_20_operations_once() -> anyhow::Result<()> {
    let mut options = FlinkOptions::default().with_scheduler(Scheduler::Adaptive);
    options.taskmanagers = 2;
    // Scaled-down jobs keep their idle slots for `slot.idle.timeout` (50 s by default), and
    // pre-flight rightly counts them as taken: leave room for that.
    options.slots_per_taskmanager = 6;
    let rig = Rig::start(options).await?;
    let puts = Arc::new(Mutex::new(HashMap::new()));
    let engines: Vec<_> = ["reconciler-a", "reconciler-b"]
        .into_iter()
        .map(|owner| {
            let client = Arc::new(CountingClient {
                inner: rig::flink_client(&rig.flink).expect("client"),
                requirement_puts: puts.clone(),
            });
            Arc::new(Rig::engine_for(&rig.records, &rig.flink, client, owner))
        })
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let kick = Arc::new(tokio::sync::Notify::new());
    let runners: Vec<_> = engines
        .iter()
        .map(|engine| {
            let mut stopped = stopped.clone();
            tokio::spawn(engine.clone().run(kick.clone(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        })
        .collect();

    // Four jobs, five rescales each, alternating 2 and 1, one active request per job.
    let mut chains = Vec::new();
    for _ in 0..4 {
        let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
        chains.push((job_id, artifact, vec![2u32, 1, 2, 1, 2], None::<String>));
    }
    // In place needs a completed checkpoint.
    for (job_id, ..) in &chains {
        let deadline = Instant::now() + Duration::from_secs(60);
        while rig.client.checkpoint_history(job_id).await?.and_then(|h| h.latest_checkpoint).is_none() {
            anyhow::ensure!(Instant::now() < deadline, "no checkpoint for {job_id}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let mut completed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(400);
    while completed.len() < 20 {
        for (job_id, artifact, targets, current) in &mut chains {
            if let Some(operation_id) = current.clone() {
                let (operation, _) = rig.records.operation(&operation_id).await?.expect("stored");
                if !operation.is_terminal() {
                    continue;
                }
                assert_eq!(operation.phase, Phase::Completed, "{:#?}", operation.events);
                completed.push(operation);
                *current = None;
            }
            if let Some(target) = (!targets.is_empty()).then(|| targets.remove(0)) {
                let id = rig
                    .request_approved(
                        job_id,
                        artifact,
                        Target::Uniform { parallelism: target },
                        Strategy::InPlace,
                        Duration::from_secs(120),
                    )
                    .await?;
                *current = Some(id);
                kick.notify_waiters();
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "only {} of 20 operations completed", completed.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for runner in runners {
        runner.await?;
    }
    // Every operation's one PUT reached Flink exactly once, whichever reconciler sent it.
    let puts = puts.lock().expect("counts").clone();
    let total: u32 = puts.values().sum();
    assert_eq!(total, 20, "PUTs by job@parallelism: {puts:?}");
    for operation in &completed {
        let key = format!("{}@{}", operation.job_id, operation.target_parallelism.values().max().expect("target"));
        assert!(puts.get(&key).is_some_and(|n| *n >= 1), "{key} never sent");
    }
    // The leases were all released and every job still runs.
    for operation in &completed {
        assert!(operation.lease.is_none(), "lease left on {}", operation.id);
        let job: JobView = rig.job(&operation.job_id).await?;
        assert_eq!(job.status, rescaler_shared::flink::JobStatus::Running);
    }
    Ok(())
}
