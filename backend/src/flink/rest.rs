//! `RestFlinkClient`: the [`FlinkClient`] (and [`FlinkClientExt`]) that speaks Flink's JobManager REST API over reqwest.
//!
//! This file holds the configuration, the client and its cached Flink version, and the two trait
//! implementations, which hand each call to the submodule of its subject: [`jobs`] (cluster
//! overview, jobs, cancelling), [`metrics`] (vertex metrics), [`load`] (the job graph and load
//! samples), [`savepoints`] (triggers, their
//! status, checkpoint history), [`jars`], [`requirements`] (the adaptive scheduler's resource
//! requirements), [`rescales`] (its rescale history), all over the HTTP plumbing of [`http`].

mod http;
mod jars;
mod jobs;
mod load;
mod metrics;
mod requirements;
mod rescales;
mod savepoints;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rescaler_shared::flink::{ClusterView, RescalePacing, SavepointStatus, SchedulerKind, WebUiActions};
use rescaler_shared::history::LoadSample;
use rescaler_shared::recommend::JobGraph;

#[cfg(test)]
pub(super) use http::segment;

use super::error::FlinkError;
use super::model::{
    CheckpointConfig, CheckpointHistory, FlinkVersion, JarInfo, JobDetail, JobSummary, MetricAggregation, RunJar,
    VertexMetrics,
};
use super::{FlinkClient, FlinkClientExt, FlinkResult, ParallelismBounds};

/// How to reach a Flink cluster's REST endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestFlinkClientConfig {
    /// E.g. `http://127.0.0.1:8081` (a path prefix behind a proxy is kept).
    pub base_url: String,
    /// One extra header sent with every request, e.g. for a proxy's authentication.
    pub auth_header: Option<(String, String)>,
    pub connect_timeout: Duration,
    /// For every request but jar uploads.
    pub request_timeout: Duration,
    pub upload_timeout: Duration,
}

impl RestFlinkClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            auth_header: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(300),
        }
    }

    pub fn with_auth_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.auth_header = Some((name.into(), value.into()));
        self
    }
}

/// The configuration cannot make a client.
#[derive(Debug, thiserror::Error)]
#[error("invalid flink client configuration: {0}")]
pub struct InvalidFlinkClientConfig(String);

/// A [`FlinkClient`] over Flink's REST API.
#[derive(Debug)]
pub struct RestFlinkClient {
    http: reqwest::Client,
    base_url: String,
    upload_timeout: Duration,
    /// Learnt from `/overview` once; a cluster does not change version under one URL without a
    /// restart, and the fields that depend on it only matter for submissions.
    version: Mutex<Option<FlinkVersion>>,
    /// Each job's scheduler, once decided: a job keeps its scheduler for its life.
    schedulers: Mutex<HashMap<String, JobScheduler>>,
}

/// Which scheduler runs a job, and when it acts on new requirements (adaptive only).
#[derive(Debug, Clone)]
struct JobScheduler {
    kind: SchedulerKind,
    pacing: Option<RescalePacing>,
}

/// Jobs whose scheduler is remembered; past it the cache starts over (a cluster runs far fewer).
const REMEMBERED_SCHEDULERS: usize = 4096;

impl RestFlinkClient {
    pub fn new(config: RestFlinkClientConfig) -> Result<Self, InvalidFlinkClientConfig> {
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = &config.auth_header {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|error| InvalidFlinkClientConfig(format!("header name: {error}")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|error| InvalidFlinkClientConfig(format!("header value: {error}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|error| InvalidFlinkClientConfig(error.to_string()))?;
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(InvalidFlinkClientConfig(format!("base url {base_url} is not http(s)")));
        }
        Ok(Self {
            http,
            base_url,
            upload_timeout: config.upload_timeout,
            version: Mutex::new(None),
            schedulers: Mutex::new(HashMap::new()),
        })
    }

    /// The cluster's version, from `/overview` on first use.
    pub async fn flink_version(&self) -> FlinkResult<FlinkVersion> {
        if let Some(version) = self.cached_version() {
            return Ok(version);
        }
        let overview = self.overview().await?;
        self.remember_version(&overview.flink_version)
    }

    fn cached_version(&self) -> Option<FlinkVersion> {
        *self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached_scheduler(&self, job_id: &str) -> Option<JobScheduler> {
        self.schedulers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(job_id).cloned()
    }

    fn remember_scheduler(&self, job_id: &str, scheduler: JobScheduler) {
        let mut schedulers = self.schedulers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if schedulers.len() >= REMEMBERED_SCHEDULERS {
            schedulers.clear();
        }
        schedulers.insert(job_id.to_owned(), scheduler);
    }

    fn remember_version(&self, text: &str) -> FlinkResult<FlinkVersion> {
        let version = FlinkVersion::parse(text)
            .ok_or_else(|| FlinkError::undecodable("the cluster overview", format!("version {text:?}")))?;
        *self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(version);
        Ok(version)
    }
}

impl FlinkClient for RestFlinkClient {
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>> {
        Box::pin(self.cluster_view())
    }

    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>> {
        Box::pin(self.job_summaries())
    }

    fn web_ui_actions(&self) -> BoxFuture<'_, FlinkResult<WebUiActions>> {
        Box::pin(self.web_ui())
    }

    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>> {
        Box::pin(self.fetch_job_detail(job_id))
    }

    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>> {
        Box::pin(self.load_metrics(job_id, vertex_id))
    }

    fn job_graph<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobGraph>>> {
        Box::pin(self.fetch_job_graph(job_id))
    }

    fn load_sample<'a>(&'a self, job_id: &'a str, now_ms: u64) -> BoxFuture<'a, FlinkResult<Option<LoadSample>>> {
        Box::pin(self.fetch_load_sample(job_id, now_ms))
    }

    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>> {
        Box::pin(self.fetch_checkpoint_history(job_id))
    }

    fn rescale_history<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<Vec<rescaler_shared::flink_rescales::FlinkRescale>>>> {
        Box::pin(self.fetch_rescale_history(job_id))
    }

    fn rescale_details<'a>(
        &'a self,
        job_id: &'a str,
        rescale_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<rescaler_shared::flink_rescales::FlinkRescale>>> {
        Box::pin(self.fetch_rescale_details(job_id, rescale_id))
    }

    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(self.stop(job_id, trigger_id, target_directory))
    }

    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>> {
        Box::pin(self.fetch_savepoint_status(job_id, trigger_id))
    }

    fn upload_jar<'a>(&'a self, file_name: &'a str, jar: super::JarBody) -> BoxFuture<'a, FlinkResult<String>> {
        Box::pin(self.upload(file_name, jar))
    }

    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>> {
        Box::pin(self.jars())
    }

    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>> {
        Box::pin(self.run(jar_id, run))
    }

    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(self.put_requirements(job_id, requirements))
    }

    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(self.cancel(job_id))
    }

    fn resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<BTreeMap<String, ParallelismBounds>>> {
        Box::pin(self.get_requirements(job_id))
    }
}

impl FlinkClientExt for RestFlinkClient {
    fn vertex_metric<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
        metric_id: &'a str,
        aggregation: MetricAggregation,
    ) -> BoxFuture<'a, FlinkResult<Option<f64>>> {
        Box::pin(self.single_metric(job_id, vertex_id, metric_id, aggregation))
    }

    fn operator_metric_sum<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
        metric_suffix: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<f64>>> {
        Box::pin(self.operator_metric_total(job_id, vertex_id, metric_suffix))
    }

    fn checkpoint_config<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointConfig>>> {
        Box::pin(self.fetch_checkpoint_config(job_id))
    }

    fn trigger_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(self.savepoint(job_id, trigger_id, target_directory))
    }

    fn delete_jar<'a>(&'a self, jar_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(self.delete(jar_id))
    }
}
