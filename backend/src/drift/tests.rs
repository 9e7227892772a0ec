//! The drift check over a directory store and a cluster that answers from memory: each change is
//! audited once, also with two checks at once and after a crash between claim and event; a
//! deployment whose request executes is left alone; one job list per cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use rescaler_shared::drift::{ApprovedRun, OUT_OF_BAND_ACTION};
use rescaler_shared::flink::{ClusterView, JobStatus, JobView, WebUiActions};
use rescaler_shared::operation::{ArtifactRef, Operation};
use rescaler_shared::phase::{Action, Needs, Observation, Phase};

use super::check;
use crate::cluster::{Cluster, ClusterError, ClusterRegistry, ClusterResult};
use crate::config::ClusterConfig;
use crate::flink::{JobSummary, VertexMetrics};
use crate::records::Records;
use crate::store::DirStore;

const JOB: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_JOB: &str = "cccccccccccccccccccccccccccccccc";
const VERTEX: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A cluster whose one job runs at `parallelism`; counts its job lists.
struct MemoryCluster {
    config: ClusterConfig,
    parallelism: u32,
    listings: AtomicUsize,
}

impl MemoryCluster {
    fn running_at(parallelism: u32) -> Arc<Self> {
        let config =
            serde_json::from_value(serde_json::json!({"id": "c", "name": "c", "rest_url": "http://127.0.0.1:9"}))
                .expect("config");
        Arc::new(Self { config, parallelism, listings: AtomicUsize::new(0) })
    }

    /// From JSON, so that fields added to `JobView` later (with defaults) need no change here.
    fn view(&self, job_id: &str) -> JobView {
        let vertex = serde_json::json!({"id": VERTEX, "name": "v", "parallelism": self.parallelism, "max_parallelism": 128, "status": "RUNNING"});
        serde_json::from_value(serde_json::json!({
            "id": job_id, "name": "counter", "status": "RUNNING", "scheduler": "adaptive", "checkpointing": true,
            "start_time_ms": 1, "vertices": [vertex],
        }))
        .expect("job view")
    }
}

fn not_here<T>() -> ClusterResult<T> {
    Err(ClusterError::Artifact("not used by the drift check".to_owned()))
}

impl Cluster for MemoryCluster {
    fn config(&self) -> &ClusterConfig {
        &self.config
    }
    fn overview(&self) -> BoxFuture<'_, ClusterResult<ClusterView>> {
        Box::pin(async { not_here() })
    }
    fn jobs(&self) -> BoxFuture<'_, ClusterResult<Vec<JobSummary>>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        let job = JobSummary {
            id: JOB.to_owned(),
            name: "counter".to_owned(),
            status: JobStatus::Running,
            start_time_ms: 1,
            application: None,
            live_tasks: None,
        };
        let other = JobSummary { id: OTHER_JOB.to_owned(), ..job.clone() };
        Box::pin(async move { Ok(vec![job, other]) })
    }
    fn web_ui(&self) -> BoxFuture<'_, ClusterResult<WebUiActions>> {
        Box::pin(async { not_here() })
    }
    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobView>>> {
        Box::pin(async move { Ok(Some(self.view(job_id))) })
    }
    fn vertex_metrics<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, ClusterResult<VertexMetrics>> {
        Box::pin(async { not_here() })
    }
    fn observe<'a>(&'a self, _: &'a Operation, _: &'a Needs, _: u64) -> BoxFuture<'a, ClusterResult<Observation>> {
        Box::pin(async { not_here() })
    }
    fn perform<'a>(
        &'a self,
        _: &'a Operation,
        _: &'a Action,
    ) -> BoxFuture<'a, ClusterResult<crate::cluster::Performed>> {
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

/// A store with deployments of `JOB` (and `OTHER_JOB`) approved at 2.
async fn records_with_deployments_at_two() -> (tempfile::TempDir, Records) {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
    for job_id in [JOB, OTHER_JOB] {
        records.adopt_job("c", job_id, "counter", 1).await.expect("adopt");
    }
    for (mut deployment, version) in records.deployments_with_versions("c").await.expect("list") {
        deployment.approved = Some(ApprovedRun {
            job_id: deployment.id.clone(),
            parallelism: BTreeMap::from([(VERTEX.to_owned(), 2)]),
            since_ms: 1,
            operation_id: None,
        });
        records.replace_deployment(&deployment, &version).await.expect("approve");
    }
    (dir, records)
}

async fn out_of_band_events(records: &Records) -> usize {
    let events = records.audit_events(100).await.expect("audit");
    events.iter().filter(|event| event.action == OUT_OF_BAND_ACTION).count()
}

#[tokio::test]
async fn two_checks_at_once_audit_each_change_once_with_one_job_list_each() {
    let (_dir, records) = records_with_deployments_at_two().await;
    let cluster = MemoryCluster::running_at(3);
    let clusters = ClusterRegistry::new([cluster.clone() as Arc<dyn Cluster>]);
    let (first, second) = tokio::join!(check(&records, &clusters, 10), check(&records, &clusters, 11));
    assert_eq!(first.out_of_band + second.out_of_band, 2, "{first:?} {second:?}");
    assert_eq!(out_of_band_events(&records).await, 2, "one event per deployment");
    assert_eq!(cluster.listings.load(Ordering::SeqCst), 2, "one job list per check, not per deployment");
    let again = check(&records, &clusters, 12).await;
    assert_eq!((again.out_of_band, again.failures), (0, 0));
    assert_eq!(out_of_band_events(&records).await, 2);
}

#[tokio::test]
async fn a_claim_whose_event_was_not_written_is_audited_by_the_next_check_once() {
    let (_dir, records) = records_with_deployments_at_two().await;
    let clusters = ClusterRegistry::new([MemoryCluster::running_at(3) as Arc<dyn Cluster>]);
    // A reconciler claimed the change on JOB's deployment, then died before the event.
    let (mut deployment, version) = records
        .deployments_with_versions("c")
        .await
        .expect("list")
        .into_iter()
        .find(|(d, _)| d.id == JOB)
        .expect("job");
    let seen = rescaler_shared::drift::Run::running(JOB, BTreeMap::from([(VERTEX.to_owned(), 3)]));
    let rescaler_shared::deployment::Drift::OutOfBand(change) = deployment.drift(&seen, 5) else { panic!("a change") };
    deployment.out_of_band = Some(change);
    records.replace_deployment(&deployment, &version).await.expect("claim");
    check(&records, &clusters, 10).await;
    check(&records, &clusters, 11).await;
    assert_eq!(out_of_band_events(&records).await, 2, "the claimed one and OTHER_JOB's, once each");
    let deployment = records.deployment("c", JOB).await.expect("read").expect("deployment");
    assert!(deployment.out_of_band.is_some_and(|change| change.audited && change.at_ms == 5));
}

#[tokio::test]
async fn a_deployment_whose_request_executes_is_not_compared() {
    let (_dir, records) = records_with_deployments_at_two().await;
    let mut operation = crate::records::tests::request("0123456789abcdef0123456789abcdef", JOB);
    operation.deployment_id = JOB.to_owned();
    operation.enter(Phase::Approved, 2);
    records.create_operation(&operation).await.expect("create");
    let clusters = ClusterRegistry::new([MemoryCluster::running_at(3) as Arc<dyn Cluster>]);
    let report = check(&records, &clusters, 10).await;
    assert_eq!((report.deployments, report.out_of_band), (1, 1), "only OTHER_JOB's: {report:?}");
    assert!(records.deployment("c", JOB).await.expect("read").expect("deployment").out_of_band.is_none());
}

#[tokio::test]
async fn a_cluster_without_idle_deployments_is_not_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
    let cluster = MemoryCluster::running_at(3);
    let clusters = ClusterRegistry::new([cluster.clone() as Arc<dyn Cluster>]);
    assert_eq!(check(&records, &clusters, 10).await, super::DriftReport::default());
    assert_eq!(cluster.listings.load(Ordering::SeqCst), 0);
}
