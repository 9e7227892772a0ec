//! `RecordingClient`: a [`FlinkClient`] that passes every call on to another and records it
//! (method, job, when it started and ended, whether it succeeded) in a log the test reads.
//!
//! Tests count side effects with it (how many PUTs reached Flink, per job) and the bench times
//! the engine's calls with it; several clients may share one log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rescaler_backend::flink::{
    CheckpointHistory, FlinkClient, FlinkResult, JarInfo, JobDetail, JobSummary, ParallelismBounds, RunJar,
    VertexMetrics,
};
use rescaler_shared::flink::{ClusterView, JobView, SavepointStatus, WebUiActions};
use rescaler_shared::history::LoadSample;
use rescaler_shared::recommend::JobGraph;

/// How a recorded call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// The error's message.
    Err(String),
}

/// One call a [`RecordingClient`] passed on.
#[derive(Debug, Clone)]
pub struct FlinkCall {
    /// The [`FlinkClient`] method, e.g. `set_resource_requirements`.
    pub method: &'static str,
    /// The job the call was about, for the methods that take one.
    pub job_id: Option<String>,
    /// The bounds asked for, for `set_resource_requirements`.
    pub requirements: Option<BTreeMap<String, ParallelismBounds>>,
    /// When the call was first polled.
    pub started: Instant,
    /// When its answer came; `None` while it is in flight (or if it was dropped unfinished).
    pub finished: Option<Instant>,
    /// `None` while it is in flight (or if it was dropped unfinished).
    pub outcome: Option<CallOutcome>,
}

impl FlinkCall {
    pub fn succeeded(&self) -> bool {
        self.outcome == Some(CallOutcome::Ok)
    }

    /// How long the call took, once it has finished.
    pub fn duration(&self) -> Option<Duration> {
        self.finished.map(|finished| finished.saturating_duration_since(self.started))
    }
}

/// The calls of one or more [`RecordingClient`]s, in the order they started.
#[derive(Debug, Default)]
pub struct FlinkCallLog {
    calls: Mutex<Vec<FlinkCall>>,
}

impl FlinkCallLog {
    fn lock(&self) -> MutexGuard<'_, Vec<FlinkCall>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs a call that starts now; answers its place for [`FlinkCallLog::finish`].
    fn start(
        &self,
        method: &'static str,
        job_id: Option<String>,
        requirements: Option<BTreeMap<String, ParallelismBounds>>,
    ) -> usize {
        let mut calls = self.lock();
        calls.push(FlinkCall { method, job_id, requirements, started: Instant::now(), finished: None, outcome: None });
        calls.len() - 1
    }

    fn finish<T>(&self, index: usize, result: &FlinkResult<T>) {
        let outcome = match result {
            Ok(_) => CallOutcome::Ok,
            Err(error) => CallOutcome::Err(error.to_string()),
        };
        if let Some(call) = self.lock().get_mut(index) {
            call.finished = Some(Instant::now());
            call.outcome = Some(outcome);
        }
    }

    /// How many calls are logged: a mark for [`FlinkCallLog::since`].
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every call logged so far.
    pub fn calls(&self) -> Vec<FlinkCall> {
        self.lock().clone()
    }

    /// The calls logged after `mark`.
    pub fn since(&self, mark: usize) -> Vec<FlinkCall> {
        self.lock().iter().skip(mark).cloned().collect()
    }

    /// Calls per method.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for call in self.lock().iter() {
            *counts.entry(call.method).or_insert(0) += 1;
        }
        counts
    }
}

/// The first call of `method` in `calls`.
pub fn first_call<'a>(calls: &'a [FlinkCall], method: &str) -> Option<&'a FlinkCall> {
    calls.iter().find(|call| call.method == method)
}

/// A [`FlinkClient`] that passes every call on to `inner` and records it in a [`FlinkCallLog`].
pub struct RecordingClient {
    inner: Arc<dyn FlinkClient>,
    log: Arc<FlinkCallLog>,
}

impl RecordingClient {
    pub fn new(inner: Arc<dyn FlinkClient>, log: Arc<FlinkCallLog>) -> Self {
        Self { inner, log }
    }

    pub fn log(&self) -> &Arc<FlinkCallLog> {
        &self.log
    }

    fn recorded<'a, T: Send + 'a>(
        &'a self,
        method: &'static str,
        job_id: Option<&str>,
        call: BoxFuture<'a, FlinkResult<T>>,
    ) -> BoxFuture<'a, FlinkResult<T>> {
        self.recorded_with(method, job_id, None, call)
    }

    fn recorded_with<'a, T: Send + 'a>(
        &'a self,
        method: &'static str,
        job_id: Option<&str>,
        requirements: Option<BTreeMap<String, ParallelismBounds>>,
        call: BoxFuture<'a, FlinkResult<T>>,
    ) -> BoxFuture<'a, FlinkResult<T>> {
        let job_id = job_id.map(str::to_owned);
        Box::pin(async move {
            let index = self.log.start(method, job_id, requirements);
            let result = call.await;
            self.log.finish(index, &result);
            result
        })
    }
}

impl FlinkClient for RecordingClient {
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>> {
        self.recorded("cluster_overview", None, self.inner.cluster_overview())
    }

    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>> {
        self.recorded("list_jobs", None, self.inner.list_jobs())
    }

    fn web_ui_actions(&self) -> BoxFuture<'_, FlinkResult<WebUiActions>> {
        self.recorded("web_ui_actions", None, self.inner.web_ui_actions())
    }

    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>> {
        self.recorded("job_detail", Some(job_id), self.inner.job_detail(job_id))
    }

    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobView>>> {
        self.recorded("job", Some(job_id), self.inner.job(job_id))
    }

    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>> {
        self.recorded("vertex_metrics", Some(job_id), self.inner.vertex_metrics(job_id, vertex_id))
    }

    fn job_graph<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobGraph>>> {
        self.recorded("job_graph", Some(job_id), self.inner.job_graph(job_id))
    }

    fn load_sample<'a>(&'a self, job_id: &'a str, now_ms: u64) -> BoxFuture<'a, FlinkResult<Option<LoadSample>>> {
        self.recorded("load_sample", Some(job_id), self.inner.load_sample(job_id, now_ms))
    }

    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>> {
        self.recorded("checkpoint_history", Some(job_id), self.inner.checkpoint_history(job_id))
    }

    fn rescale_history<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<Vec<rescaler_shared::flink_rescales::FlinkRescale>>>> {
        self.recorded("rescale_history", Some(job_id), self.inner.rescale_history(job_id))
    }

    fn rescale_details<'a>(
        &'a self,
        job_id: &'a str,
        rescale_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<rescaler_shared::flink_rescales::FlinkRescale>>> {
        self.recorded("rescale_details", Some(job_id), self.inner.rescale_details(job_id, rescale_id))
    }

    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        let call = self.inner.stop_with_savepoint(job_id, trigger_id, target_directory);
        self.recorded("stop_with_savepoint", Some(job_id), call)
    }

    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>> {
        self.recorded("savepoint_status", Some(job_id), self.inner.savepoint_status(job_id, trigger_id))
    }

    fn upload_jar<'a>(
        &'a self,
        file_name: &'a str,
        jar: rescaler_backend::flink::JarBody,
    ) -> BoxFuture<'a, FlinkResult<String>> {
        self.recorded("upload_jar", None, self.inner.upload_jar(file_name, jar))
    }

    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>> {
        self.recorded("list_jars", None, self.inner.list_jars())
    }

    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>> {
        self.recorded("run_jar", run.job_id.as_deref(), self.inner.run_jar(jar_id, run))
    }

    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        let call = self.inner.set_resource_requirements(job_id, requirements);
        self.recorded_with("set_resource_requirements", Some(job_id), Some(requirements.clone()), call)
    }

    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        self.recorded("cancel_job", Some(job_id), self.inner.cancel_job(job_id))
    }

    fn resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<BTreeMap<String, ParallelismBounds>>> {
        self.recorded("resource_requirements", Some(job_id), self.inner.resource_requirements(job_id))
    }
}
