//! The one boundary to Flink: the `FlinkClient` trait and its REST implementation.
//!
//! Everything the product asks of a Flink cluster goes through [`FlinkClient`]. The REST
//! implementation, [`RestFlinkClient`], speaks Flink's JobManager REST API and turns its answers
//! into the product's own types (`rescaler_shared::flink`) or the backend-only types re-exported
//! here ([`JobDetail`], [`RunJar`], ...). Flink's wire format stays private to this module.
//!
//! Facts about Flink's REST API this module relies on (verified on 1.20.5 and 2.3.0; all but the
//! shared trigger-id memory and the `Long.MAX_VALUE` interval also on 1.18.1):
//! - savepoint and stop-with-savepoint take a caller-chosen `triggerId` (32 hex digits);
//!   triggering again with the same id answers 202 with the same id and starts nothing new, as
//!   long as Flink still remembers the operation (`rest.async.store-duration`, 5 minutes by
//!   default). Both endpoints share that memory: a stop under the id of an earlier savepoint is
//!   answered 202 and does **not** stop the job, so never reuse an id across kinds;
//! - a savepoint status is `COMPLETED` for success (with a `location`) and for failure (with a
//!   `failure-cause`);
//! - `POST /jobs/<unknown>/stop` answers 202: the missing job only shows in the status;
//! - checkpointing switched off shows as an interval of `Long.MAX_VALUE`, not 0.

mod error;
mod live;
mod model;
mod rest;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use rescaler_shared::flink::{ClusterView, JobView, SavepointStatus, WebUiActions};
use rescaler_shared::history::LoadSample;
use rescaler_shared::recommend::JobGraph;

pub use error::FlinkError;
pub use live::freshen_views;
pub use model::{
    CheckpointConfig, CheckpointHistory, CheckpointRef, FlinkVersion, JarInfo, JobDetail, JobSummary, LiveTasks,
    MetricAggregation, RestoreMode, RunJar, TaskCounts, VERTEX_PARALLELISM_OVERRIDES_KEY, VertexMetrics,
    savepoint_failed_for_missing_job,
};
pub use rescaler_shared::flink::ParallelismBounds;
/// A jar to upload: its length and its bytes, in memory or streamed from the store. An error
/// in the stream aborts the upload, so Flink never keeps a partial jar.
pub struct JarBody {
    pub len: u64,
    pub stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
}

impl From<Vec<u8>> for JarBody {
    fn from(bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        Self { len, stream: Box::pin(futures::stream::once(std::future::ready(Ok(bytes::Bytes::from(bytes))))) }
    }
}

impl std::fmt::Debug for JarBody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("JarBody").field("len", &self.len).finish_non_exhaustive()
    }
}

pub use rest::{InvalidFlinkClientConfig, RestFlinkClient, RestFlinkClientConfig};

/// The result of every Flink call.
pub type FlinkResult<T> = Result<T, FlinkError>;

/// What the product asks of one Flink cluster, and nothing more: a wrapper (a test's recording
/// client, another kind of cluster) implements only these. Tests and the bench read more
/// through [`FlinkClientExt`].
///
/// Every method has at most one side effect on the cluster (reads may take several requests), so
/// a caller knows which side effect may have happened when a call fails. Usable as
/// `Arc<dyn FlinkClient>`.
pub trait FlinkClient: Send + Sync {
    /// Version, TaskManagers and slots (`GET /overview`).
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>>;

    /// Every job the cluster knows, running or finished (`GET /jobs/overview`).
    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>>;

    /// What Flink's own Web UI lets people do to jobs (`GET /jobmanager/config`, with Flink's
    /// defaults for keys not set).
    fn web_ui_actions(&self) -> BoxFuture<'_, FlinkResult<WebUiActions>>;

    /// A job with its vertices and their task counts; `None` when Flink does not know the job.
    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>>;

    /// A job with its vertices; `None` when Flink does not know the job.
    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobView>>> {
        Box::pin(async move { Ok(self.job_detail(job_id).await?.map(|detail| detail.job)) })
    }

    /// Busy time (busiest subtask), back-pressure (most back-pressured subtask) and input rate
    /// (summed) of one vertex: the console's live figures.
    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>>;

    /// The job graph (one `GET /jobs/:id`, its plan): every vertex in Flink's order (upstream
    /// first) with its parallelism, `maxParallelism` and input vertices; a vertex is keyed when
    /// an input's ship strategy is `HASH`, a source when it has no input. `None` when Flink does
    /// not know the job.
    fn job_graph<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobGraph>>>;

    /// One load sample of every vertex, stamped `now_ms`: `GET /jobs/:id`, then for every vertex
    /// at once one `subtasks/metrics` call (busy and back-pressured time averaged and at the
    /// busiest subtask, records in and out summed), and for a source two more (its
    /// `pendingRecords`, summed). Values Flink reports as NaN or not at all are `None`. `None`
    /// when the job is unknown, not RUNNING, or has a vertex not RUNNING yet.
    fn load_sample<'a>(&'a self, job_id: &'a str, now_ms: u64) -> BoxFuture<'a, FlinkResult<Option<LoadSample>>>;

    /// The latest completed checkpoint and savepoint, and what the job restored from; `None`
    /// when the job is unknown. Finished jobs keep this, so a forgotten trigger result can be
    /// recovered here.
    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>>;

    /// The adaptive scheduler's account of the job's rescales that have ended, newest first,
    /// without their vertices and scheduler states (`GET /jobs/:id/rescales/history`, Flink 2.3
    /// and later). `None` when Flink keeps no history for the job: before 2.3, with
    /// `web.adaptive-scheduler.rescale-history.size` 0 (the default), off the adaptive
    /// scheduler, or an unknown job (ask [`FlinkClient::job`] which).
    fn rescale_history<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<Vec<rescaler_shared::flink_rescales::FlinkRescale>>>>;

    /// One rescale of [`FlinkClient::rescale_history`] with its vertices and scheduler states
    /// (`GET /jobs/:id/rescales/details/:rescaleuuid`); `None` when Flink does not know it.
    fn rescale_details<'a>(
        &'a self,
        job_id: &'a str,
        rescale_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<rescaler_shared::flink_rescales::FlinkRescale>>>;

    /// Stops the job with a savepoint (`POST /jobs/:id/stop`, never draining).
    ///
    /// Triggering again with the same `trigger_id` is harmless; an id already used for
    /// [`FlinkClientExt::trigger_savepoint`] makes this a no-op. An unknown or finished job is
    /// accepted too: [`FlinkClient::savepoint_status`] then reports the failure.
    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>>;

    /// Where a savepoint triggered with `trigger_id` is.
    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>>;

    /// Uploads a jar (streamed: it is never held whole); answers its id for
    /// [`FlinkClient::run_jar`].
    fn upload_jar<'a>(&'a self, file_name: &'a str, jar: JarBody) -> BoxFuture<'a, FlinkResult<String>>;

    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>>;

    /// Runs an uploaded jar and answers the job id.
    ///
    /// A job id Flink already knows (running or finished) is [`FlinkError::DuplicateJob`]. A
    /// savepoint path Flink cannot read may still answer a job id: the job then fails.
    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>>;

    /// Asks the adaptive scheduler for new per-vertex bounds. Every vertex must be listed. Flink
    /// accepts at once and rescales later: poll the job.
    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>>;

    /// Cancels the job; a job already in a terminal state is left as it is.
    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>>;

    /// The adaptive scheduler's per-vertex parallelism bounds; other schedulers answer an
    /// error (500).
    fn resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<BTreeMap<String, ParallelismBounds>>>;
}

/// What tests and the bench ask of a Flink cluster beyond the product's needs: single metrics,
/// the checkpoint configuration, savepoints that keep the job running and jar deletion. Only
/// [`RestFlinkClient`] implements it; the product never calls it.
pub trait FlinkClientExt: FlinkClient {
    /// One metric of one vertex, aggregated over its subtasks; `None` while Flink has no value
    /// (the JobManager fetches metrics every `metrics.fetcher.update-interval`, 10 s by default).
    ///
    /// Operator metrics are named `<operator name>.<metric>` at this level, e.g.
    /// `Counter.freshKeys`; Flink replaces characters such as `:` and spaces in the operator
    /// name with `_` (`Sink__Print.numRecordsIn`).
    fn vertex_metric<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
        metric_id: &'a str,
        aggregation: MetricAggregation,
    ) -> BoxFuture<'a, FlinkResult<Option<f64>>>;

    /// The sum over subtasks, and over every operator of the vertex, of the metrics whose id is
    /// `metric_suffix` or ends with `.<metric_suffix>` (`freshKeys` or `Counter.freshKeys`).
    /// `None` while no such metric is reported.
    fn operator_metric_sum<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
        metric_suffix: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<f64>>>;

    /// The job's checkpointing configuration; `None` when the job is unknown.
    fn checkpoint_config<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointConfig>>>;

    /// Takes a savepoint and keeps the job running (`POST /jobs/:id/savepoints`).
    fn trigger_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>>;

    /// Deletes an uploaded jar; an unknown jar is `NotFound`.
    fn delete_jar<'a>(&'a self, jar_id: &'a str) -> BoxFuture<'a, FlinkResult<()>>;
}
