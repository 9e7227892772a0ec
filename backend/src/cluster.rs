//! Kinds of cluster behind one boundary: what the engine and the API ask of a cluster, whatever
//! runs it.
//!
//! API Boundary: [`Cluster`] is the one trait a kind of cluster implements — what it observes
//! for the phase machine ([`Cluster::observe`]), the side effects it performs
//! ([`Cluster::perform`]), the facts pre-flight needs ([`Cluster::overview`],
//! [`Cluster::job`]), the listings the console shows and the cluster's own account of an
//! in-place rescale ([`Cluster::flink_rescales`]). The engine and the HTTP layer hold
//! `Arc<dyn Cluster>`s from a [`ClusterRegistry`] and never ask which kind they have, as the
//! Flink Kubernetes Operator's reconcilers never ask which `FlinkService` they have.
//!
//! Kinds: [`standalone`] — a self-run Flink cluster reached over its REST API; [`msf`] —
//! Amazon Managed Service for Apache Flink applications through its `kinesisanalyticsv2` API. A
//! new kind (a Kubernetes `FlinkDeployment`) is a new module implementing [`Cluster`] and one
//! arm in [`ClusterRegistry::from_config`].

mod flink_account;
pub mod msf;
pub mod standalone;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use rescaler_shared::flink::{ClusterView, JobView};
use rescaler_shared::flink_rescales::{ExecutionWindow, FlinkRescaleAccount};
use rescaler_shared::history::LoadSample;
use rescaler_shared::operation::{ArtifactRef, Operation};
use rescaler_shared::phase::{Action, CheckpointFacts, Needs, Observation};
use rescaler_shared::recommend::JobGraph;

use crate::config::{ClusterConfig, ClusterKind, Config};
use crate::flink::{FlinkError, JobSummary, VertexMetrics};
use crate::records::Records;
use crate::savepoint_storage::{SavepointStorage, SavepointStorageError};
use crate::store::StoreError;

pub use msf::MsfCluster;
pub use standalone::StandaloneCluster;

/// Why a cluster call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The cluster answered with an error, or could not be reached.
    #[error(transparent)]
    Flink(#[from] FlinkError),
    /// The record store (artifacts) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Savepoint storage could not be read.
    #[error(transparent)]
    SavepointStorage(#[from] SavepointStorageError),
    /// The job cannot be submitted: no artifact, or the artifact is missing from the store.
    #[error("cannot submit: {0}")]
    Artifact(String),
    /// Amazon Managed Service for Apache Flink answered with an error, or could not be reached.
    #[error(transparent)]
    Msf(#[from] msf::MsfError),
    /// The action or read is not one this kind of cluster has.
    #[error("{0}")]
    Unsupported(String),
}

pub type ClusterResult<T> = Result<T, ClusterError>;

/// What a performed action answered that the operation's record keeps.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Performed {
    /// MSF: the id of the operation `UpdateApplication` started.
    pub msf_operation_id: Option<String>,
}

/// What the product asks of one cluster.
///
/// Every method performs at most one side effect, and every side effect is idempotent when
/// repeated with the same arguments (the phase machine relies on it after a crash).
pub trait Cluster: Send + Sync {
    /// The cluster's configuration: id, name, savepoint directory, approvals.
    fn config(&self) -> &ClusterConfig;

    /// Version and capacity (what pre-flight checks slots and version quirks against).
    fn overview(&self) -> BoxFuture<'_, ClusterResult<ClusterView>>;

    /// Every job the cluster knows.
    fn jobs(&self) -> BoxFuture<'_, ClusterResult<Vec<JobSummary>>>;

    /// What the cluster's own Web UI lets people do to jobs, outside the product.
    fn web_ui(&self) -> BoxFuture<'_, ClusterResult<rescaler_shared::flink::WebUiActions>>;

    /// A job as pre-flight needs it (vertices, scheduler, whether a completed checkpoint
    /// exists); `None` when the cluster does not know it.
    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobView>>>;

    /// The load of one vertex now.
    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str)
    -> BoxFuture<'a, ClusterResult<VertexMetrics>>;

    /// The job graph a recommendation reads: every vertex with its parallelism and key groups,
    /// the edges, which inputs are hash-partitioned by key, which vertices are sources. `None`
    /// when the cluster does not know the job.
    fn job_graph<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobGraph>>> {
        let _ = job_id;
        Box::pin(async { Err(ClusterError::Unsupported(format!("cluster {} shows no job graph", self.config().id))) })
    }

    /// One load sample of every vertex of job `job_id`, stamped `now_ms`: busy and
    /// back-pressured time (average and busiest subtask), records in and out per second, a
    /// source's backlog where it reports one, and each vertex's parallelism and name. `None` when
    /// the job is not running (a stopped or restarting job has no load to sample).
    fn load_sample<'a>(&'a self, job_id: &'a str, now_ms: u64) -> BoxFuture<'a, ClusterResult<Option<LoadSample>>> {
        let _ = (job_id, now_ms);
        Box::pin(async {
            Err(ClusterError::Unsupported(format!("cluster {} shows no per-vertex load", self.config().id)))
        })
    }

    /// The job's latest completed checkpoint (full state size, duration), for a downtime
    /// prediction; `None` when it has none, or the cluster shows none.
    fn latest_checkpoint<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<CheckpointFacts>>> {
        let _ = job_id;
        Box::pin(async { Ok(None) })
    }

    /// Reads what the operation's phase needs into an observation at `now_ms`. An error means
    /// the cluster is unavailable for this pass; the engine records it as such.
    fn observe<'a>(
        &'a self,
        operation: &'a Operation,
        needs: &'a Needs,
        now_ms: u64,
    ) -> BoxFuture<'a, ClusterResult<Observation>>;

    /// Performs one action the phase machine decided. Repeating it is harmless.
    fn perform<'a>(&'a self, operation: &'a Operation, action: &'a Action) -> BoxFuture<'a, ClusterResult<Performed>>;

    /// Whether the savepoint at `location` is complete in its storage, and its metadata's
    /// size (`None`: it is not there).
    fn savepoint_metadata<'a>(&'a self, location: &'a str) -> BoxFuture<'a, ClusterResult<Option<u64>>>;

    /// The cluster's own account of the rescales of job `job_id` within `window` (an in-place
    /// request's execution): Flink's rescale history, or why there is none.
    fn flink_rescales<'a>(
        &'a self,
        job_id: &'a str,
        window: ExecutionWindow,
    ) -> BoxFuture<'a, ClusterResult<FlinkRescaleAccount>>;

    /// Starts a new job from a stored artifact at a parallelism; answers its job id.
    fn start_job<'a>(&'a self, artifact: &'a ArtifactRef, parallelism: u32) -> BoxFuture<'a, ClusterResult<String>>;
}

/// Every configured cluster, by id.
#[derive(Clone, Default)]
pub struct ClusterRegistry {
    clusters: Arc<BTreeMap<String, Arc<dyn Cluster>>>,
}

impl ClusterRegistry {
    pub fn new(clusters: impl IntoIterator<Item = Arc<dyn Cluster>>) -> Self {
        let clusters = clusters.into_iter().map(|cluster| (cluster.config().id.clone(), cluster)).collect();
        Self { clusters: Arc::new(clusters) }
    }

    /// One cluster per `[[clusters]]` entry; artifacts to resubmit jobs come from `records`,
    /// savepoints are read through `savepoints`.
    pub async fn from_config(
        config: &Config,
        records: &Records,
        savepoints: &SavepointStorage,
    ) -> anyhow::Result<Self> {
        let mut clusters: Vec<Arc<dyn Cluster>> = Vec::new();
        for cluster in &config.clusters {
            match (cluster.kind, &cluster.msf) {
                (ClusterKind::Msf, Some(settings)) => {
                    clusters.push(Arc::new(MsfCluster::from_config(cluster, settings).await?));
                }
                (ClusterKind::Msf, None) => {
                    anyhow::bail!("cluster {}: kind = \"msf\" needs [clusters.msf]", cluster.id)
                }
                (ClusterKind::Flink, _) => clusters.push(Arc::new(StandaloneCluster::from_config(
                    cluster,
                    records.clone(),
                    savepoints.clone(),
                )?)),
            }
        }
        Ok(Self::new(clusters))
    }

    pub fn get(&self, cluster_id: &str) -> Option<&Arc<dyn Cluster>> {
        self.clusters.get(cluster_id)
    }

    /// The clusters in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Cluster>> {
        self.clusters.values()
    }
}
