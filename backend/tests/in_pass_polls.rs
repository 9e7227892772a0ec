//! While a stop keeps the job down and is polled fast (`phase::FAST_POLL_MS`), one pass polls
//! it again from the record it read, without listing the store again, until the savepoint is
//! seen complete and the next phase written, and for no longer than the fast polls last; a
//! wait polled at the normal pace is looked at once per pass. On the directory store and a
//! cluster that answers from memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rescaler_backend::cluster::{Cluster, ClusterError, ClusterRegistry, ClusterResult, Performed};
use rescaler_backend::config::ClusterConfig;
use rescaler_backend::flink::{JobSummary, VertexMetrics};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_backend::records::Records;
use rescaler_backend::store::DirStore;
use rescaler_shared::flink::{ClusterView, JobView, SavepointStatus, WebUiActions};
use rescaler_shared::operation::{
    ArtifactRef, Operation, OperationRequest, Phase, PhaseName, PhaseSpan, Strategy, Target,
};
use rescaler_shared::phase::{Action, FAST_POLL_FOR_MS, Needs, Observation, Seen};

const JOB: &str = "0123456789abcdef0123456789abcdef";

/// A cluster whose job's stop-with-savepoint completes at the `completes_at`-th look (never
/// when `None`); counts the looks at a stopping operation.
struct SlowStop {
    config: ClusterConfig,
    completes_at: Option<usize>,
    looks: AtomicUsize,
}

impl SlowStop {
    fn new(completes_at: Option<usize>) -> Arc<Self> {
        let config =
            serde_json::from_value(serde_json::json!({"id": "prod", "name": "prod", "rest_url": "http://127.0.0.1:9"}))
                .expect("config");
        Arc::new(Self { config, completes_at, looks: AtomicUsize::new(0) })
    }

    fn job(status: &str) -> JobView {
        serde_json::from_value(serde_json::json!({
            "id": JOB, "name": "counter", "status": status, "scheduler": "default", "checkpointing": true,
            "start_time_ms": 1, "vertices": [],
        }))
        .expect("job view")
    }
}

fn not_here<T>() -> ClusterResult<T> {
    Err(ClusterError::Artifact("not used by this test".to_owned()))
}

impl Cluster for SlowStop {
    fn config(&self) -> &ClusterConfig {
        &self.config
    }
    fn overview(&self) -> BoxFuture<'_, ClusterResult<ClusterView>> {
        Box::pin(async { not_here() })
    }
    fn jobs(&self) -> BoxFuture<'_, ClusterResult<Vec<JobSummary>>> {
        Box::pin(async { not_here() })
    }
    fn web_ui(&self) -> BoxFuture<'_, ClusterResult<WebUiActions>> {
        Box::pin(async { not_here() })
    }
    fn job<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobView>>> {
        Box::pin(async { not_here() })
    }
    fn vertex_metrics<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, ClusterResult<VertexMetrics>> {
        Box::pin(async { not_here() })
    }
    fn observe<'a>(&'a self, op: &'a Operation, _: &'a Needs, now: u64) -> BoxFuture<'a, ClusterResult<Observation>> {
        Box::pin(async move {
            // Past the stop the cluster is unreachable: the operation waits there, and the
            // test reads where it got to.
            let Phase::Stopping { .. } = op.phase else { return not_here() };
            let look = self.looks.fetch_add(1, Ordering::SeqCst) + 1;
            let completed = self.completes_at.is_some_and(|at| look >= at);
            let mut observation = self.config.observation(now);
            observation.job = Some(Seen::Present(Self::job(if completed { "FINISHED" } else { "RUNNING" })));
            observation.savepoint = Some(if completed {
                SavepointStatus::Completed { location: "file:///savepoints/sp-1".to_owned() }
            } else {
                SavepointStatus::InProgress
            });
            Ok(observation)
        })
    }
    fn perform<'a>(&'a self, _: &'a Operation, _: &'a Action) -> BoxFuture<'a, ClusterResult<Performed>> {
        Box::pin(async { not_here() })
    }
    fn start_job<'a>(&'a self, _: &'a ArtifactRef, _: u32) -> BoxFuture<'a, ClusterResult<String>> {
        Box::pin(async { not_here() })
    }
    fn savepoint_metadata<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ClusterResult<Option<u64>>> {
        Box::pin(async { not_here() })
    }
    fn flink_rescales<'a>(
        &'a self,
        _: &'a str,
        _: rescaler_shared::flink_rescales::ExecutionWindow,
    ) -> BoxFuture<'a, ClusterResult<rescaler_shared::flink_rescales::FlinkRescaleAccount>> {
        Box::pin(async { not_here() })
    }
}

/// An approved savepoint rescale of `JOB` that began stopping it at `stopping_since_ms`.
fn stopping(stopping_since_ms: u64) -> Operation {
    let request = OperationRequest {
        cluster_id: "prod".into(),
        job_id: JOB.into(),
        job_name: "counter".into(),
        target: Target::Uniform { parallelism: 2 },
        strategy: Strategy::Savepoint,
        reason: "more traffic".into(),
        requested_by: "alice".into(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    };
    let mut operation = Operation::new("a".repeat(32), request, stopping_since_ms);
    operation.phase = Phase::Stopping { trigger_id: "b".repeat(32) };
    operation.phase_history.push(PhaseSpan {
        phase: PhaseName::Stopping,
        started_at_ms: stopping_since_ms,
        ended_at_ms: None,
    });
    operation
}

async fn engine_on(cluster: Arc<SlowStop>, operation: &Operation) -> anyhow::Result<(tempfile::TempDir, Engine)> {
    let dir = tempfile::tempdir()?;
    let records = Records::new(Arc::new(DirStore::open(dir.path())?));
    records.create_operation(operation).await.map_err(|error| anyhow::anyhow!("create: {error:?}"))?;
    let engine = Engine::new(records, ClusterRegistry::new([cluster as Arc<dyn Cluster>]), "poll-test");
    Ok((dir, engine))
}

async fn phase_of(engine: &Engine, id: &str) -> anyhow::Result<PhaseName> {
    let (operation, _) = engine.records.operation(id).await?.ok_or_else(|| anyhow::anyhow!("no operation {id}"))?;
    Ok(operation.phase.name())
}

#[tokio::test]
async fn one_pass_polls_a_fresh_stop_until_its_savepoint_completes() -> anyhow::Result<()> {
    let cluster = SlowStop::new(Some(4));
    let operation = stopping(now_ms());
    let (_dir, engine) = engine_on(cluster.clone(), &operation).await?;
    engine.pass().await?;
    assert_eq!(cluster.looks.load(Ordering::SeqCst), 4, "three looks in progress, the fourth completed");
    assert_eq!(phase_of(&engine, &operation.id).await?, PhaseName::Restarting);
    Ok(())
}

#[tokio::test]
async fn a_pass_polls_a_slow_stop_no_longer_than_the_fast_polls_last() -> anyhow::Result<()> {
    let cluster = SlowStop::new(None);
    let operation = stopping(now_ms());
    let (_dir, engine) = engine_on(cluster.clone(), &operation).await?;
    let started = Instant::now();
    let report = engine.pass().await?;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(FAST_POLL_FOR_MS + 500), "the pass took {took:?}");
    let looks = cluster.looks.load(Ordering::SeqCst);
    assert!(looks > 5, "polled again within the pass: {looks} looks");
    assert!(report.next_in.is_some(), "{report:?}");
    assert_eq!(phase_of(&engine, &operation.id).await?, PhaseName::Stopping);
    Ok(())
}

#[tokio::test]
async fn a_stop_past_its_fast_polls_is_looked_at_once_per_pass() -> anyhow::Result<()> {
    let cluster = SlowStop::new(None);
    let operation = stopping(now_ms() - FAST_POLL_FOR_MS - 5_000);
    let (_dir, engine) = engine_on(cluster.clone(), &operation).await?;
    let report = engine.pass().await?;
    assert_eq!(cluster.looks.load(Ordering::SeqCst), 1);
    assert_eq!(report.next_in, Some(Duration::from_millis(rescaler_shared::phase::SAVEPOINT_POLL_MS)));
    Ok(())
}
