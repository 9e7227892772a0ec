//! `RestFlinkClient`: the [`FlinkClient`] (and [`FlinkClientExt`]) that speaks Flink's JobManager REST API over reqwest.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use rescaler_shared::flink::{ClusterView, JobStatus, JobView, SavepointStatus, SchedulerKind, TaskStatus, VertexView};
use serde::de::DeserializeOwned;

use super::error::{FlinkError, flink_errors, summarize_errors};
use super::model::{
    CheckpointConfig, CheckpointHistory, CheckpointRef, FlinkVersion, JarInfo, JobDetail, JobSummary,
    MetricAggregation, ParallelismBounds, RunJar, TaskCounts, VertexMetrics,
};
use super::{FlinkClient, FlinkClientExt, FlinkResult, wire};

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
}

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
        Ok(Self { http, base_url, upload_timeout: config.upload_timeout, version: Mutex::new(None) })
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

    fn remember_version(&self, text: &str) -> FlinkResult<FlinkVersion> {
        let version = FlinkVersion::parse(text)
            .ok_or_else(|| FlinkError::undecodable("the cluster overview", format!("version {text:?}")))?;
        *self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(version);
        Ok(version)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base_url))
    }

    /// Sends and reads the whole answer; transport failures become `Unavailable`.
    async fn exchange(&self, what: &str, request: RequestBuilder) -> FlinkResult<(StatusCode, String)> {
        let response = request.send().await.map_err(|error| FlinkError::from_transport(what, &error))?;
        let status = response.status();
        let body = response.text().await.map_err(|error| FlinkError::from_transport(what, &error))?;
        tracing::debug!(flink.what = what, http.status = status.as_u16(), "flink answered");
        Ok((status, body))
    }

    /// A GET whose 404 means "no such thing".
    async fn get_optional<T: DeserializeOwned>(&self, what: &str, path: &str) -> FlinkResult<Option<T>> {
        let (status, body) = self.exchange(what, self.request(Method::GET, path)).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        decode(what, status, &body).map(Some)
    }

    async fn get<T: DeserializeOwned>(&self, what: &str, path: &str) -> FlinkResult<T> {
        let (status, body) = self.exchange(what, self.request(Method::GET, path)).await?;
        decode(what, status, &body)
    }

    async fn overview(&self) -> FlinkResult<wire::Overview> {
        self.get("the cluster overview", "/overview").await
    }

    async fn fetch_job_detail(&self, job_id: &str) -> FlinkResult<Option<JobDetail>> {
        let what = format!("job {job_id}");
        let path = format!("/jobs/{}", segment(job_id));
        let Some(details) = self.get_optional::<wire::JobDetails>(&what, &path).await? else {
            return Ok(None);
        };
        let checkpointing = match self.fetch_checkpoint_config(job_id).await {
            Ok(config) => config.is_some_and(|config| config.periodic()),
            // Flink answered, but not with a configuration: no checkpointing to rely on.
            Err(FlinkError::NotFound { .. } | FlinkError::Rejected { .. }) => false,
            Err(error) => return Err(error),
        };
        Ok(Some(job_detail_from_wire(details, checkpointing)))
    }

    async fn fetch_checkpoint_config(&self, job_id: &str) -> FlinkResult<Option<CheckpointConfig>> {
        let what = format!("the checkpoint configuration of job {job_id}");
        let path = format!("/jobs/{}/checkpoints/config", segment(job_id));
        let config = self.get_optional::<wire::CheckpointConfig>(&what, &path).await?;
        Ok(config.map(|config| CheckpointConfig {
            interval_ms: u64::try_from(config.interval)
                .ok()
                .filter(|interval| *interval > 0 && config.interval != i64::MAX),
            mode: config.mode,
        }))
    }

    /// `subtasks/metrics` of one vertex: all metric ids when `metric_ids` is empty, else the
    /// given ones with the given aggregations.
    async fn aggregated_metrics(
        &self,
        job_id: &str,
        vertex_id: &str,
        metric_ids: &[&str],
        aggregations: &[MetricAggregation],
    ) -> FlinkResult<Vec<wire::AggregatedMetric>> {
        let what = format!("the metrics of vertex {vertex_id} of job {job_id}");
        let mut path = format!("/jobs/{}/vertices/{}/subtasks/metrics", segment(job_id), segment(vertex_id));
        if !metric_ids.is_empty() {
            let ids = metric_ids.iter().map(|id| segment(id)).collect::<Vec<_>>().join(",");
            let aggs = aggregations.iter().map(|agg| agg.wire_name()).collect::<Vec<_>>().join(",");
            path.push_str(&format!("?get={ids}&agg={aggs}"));
        }
        self.get(&what, &path).await
    }

    async fn trigger(&self, what: &str, path: &str, body: impl serde::Serialize, trigger_id: &str) -> FlinkResult<()> {
        let request = self.request(Method::POST, path).json(&body);
        let (status, body) = self.exchange(what, request).await?;
        let accepted: wire::TriggerResponse = decode(what, status, &body)?;
        if accepted.request_id != trigger_id {
            return Err(FlinkError::undecodable(
                what,
                format!(
                    "flink answered request id {} for trigger id {trigger_id}: this version does not take a caller-chosen trigger id",
                    accepted.request_id
                ),
            ));
        }
        Ok(())
    }

    async fn run(&self, jar_id: &str, run: &RunJar) -> FlinkResult<String> {
        let what = format!("the run of jar {jar_id}");
        let restore_mode = if run.savepoint_path.is_some() { Some(run.restore_mode.wire_name()) } else { None };
        let claim_field = match restore_mode {
            Some(_) => self.flink_version().await?.uses_claim_mode(),
            None => false,
        };
        let body = wire::JarRunRequest {
            job_id: run.job_id.as_deref(),
            entry_class: run.entry_class.as_deref(),
            program_args: &run.program_args,
            parallelism: run.parallelism,
            savepoint_path: run.savepoint_path.as_deref(),
            allow_non_restored_state: run.allow_non_restored_state,
            claim_mode: restore_mode.filter(|_| claim_field),
            restore_mode: restore_mode.filter(|_| !claim_field),
            flink_configuration: run.effective_configuration(),
        };
        let path = format!("/jars/{}/run", segment(jar_id));
        let (status, text) = self.exchange(&what, self.request(Method::POST, &path).json(&body)).await?;
        if !status.is_success() {
            let errors = flink_errors(&text);
            let mentions = |needle: &str| errors.iter().any(|error| error.contains(needle));
            // 1.x: DuplicateJobSubmissionException; 2.x: DuplicateApplicationSubmissionException
            // (a jar run is an application whose id is the job id). Both for running and for
            // finished jobs.
            if mentions("DuplicateJobSubmissionException") || mentions("DuplicateApplicationSubmissionException") {
                return Err(FlinkError::DuplicateJob { job_id: run.job_id.clone().unwrap_or_default() });
            }
            if mentions("Jar file") && mentions("does not exist") {
                return Err(FlinkError::NotFound { what: format!("jar {jar_id}") });
            }
            return Err(FlinkError::from_status(&what, status, &text));
        }
        let started: wire::JarRunResponse = decode(&what, status, &text)?;
        Ok(started.jobid)
    }
}

/// A successful answer decoded as `T`, or the error the status means.
fn decode<T: DeserializeOwned>(what: &str, status: StatusCode, body: &str) -> FlinkResult<T> {
    if !status.is_success() {
        return Err(FlinkError::from_status(what, status, body));
    }
    serde_json::from_str(body).map_err(|error| FlinkError::undecodable(what, error))
}

/// A status string (`RUNNING`) as one of the shared enums; unknown strings become `Unknown`.
fn parse_status<T: DeserializeOwned>(text: &str, unknown: T) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(unknown)
}

fn scheduler_kind(scheduler_type: Option<&str>) -> SchedulerKind {
    match scheduler_type {
        Some("Adaptive") => SchedulerKind::Adaptive,
        // The adaptive batch scheduler cannot rescale a running job either.
        Some("Default" | "AdaptiveBatch") => SchedulerKind::Default,
        _ => SchedulerKind::Unknown,
    }
}

fn millis(timestamp: i64) -> u64 {
    u64::try_from(timestamp).unwrap_or(0)
}

fn job_detail_from_wire(details: wire::JobDetails, checkpointing: bool) -> JobDetail {
    let mut tasks = BTreeMap::new();
    let mut vertices = Vec::with_capacity(details.vertices.len());
    for vertex in details.vertices {
        let mut counts = TaskCounts::default();
        for (state, count) in &vertex.tasks {
            counts.add(parse_status(state, TaskStatus::Unknown), *count);
        }
        tasks.insert(vertex.id.clone(), counts);
        vertices.push(VertexView {
            status: parse_status(&vertex.status, TaskStatus::Unknown),
            id: vertex.id,
            name: vertex.name,
            parallelism: vertex.parallelism,
            max_parallelism: vertex.max_parallelism,
        });
    }
    let job = JobView {
        id: details.jid,
        name: details.name,
        status: parse_status(&details.state, JobStatus::Unknown),
        scheduler: scheduler_kind(details.scheduler_type.as_deref()),
        checkpointing,
        has_completed_checkpoint: None,
        start_time_ms: millis(details.start_time),
        vertices,
    };
    JobDetail { job, tasks }
}

fn checkpoint_ref(statistics: wire::CheckpointStatistics) -> CheckpointRef {
    CheckpointRef {
        id: statistics.id,
        is_savepoint: statistics.is_savepoint,
        external_path: statistics.external_path,
        timestamp_ms: millis(statistics.trigger_timestamp),
        discarded: statistics.discarded,
    }
}

fn savepoint_status_from_wire(what: &str, answer: wire::SavepointStatusResponse) -> FlinkResult<SavepointStatus> {
    match answer.status.id.as_str() {
        "IN_PROGRESS" => Ok(SavepointStatus::InProgress),
        "COMPLETED" => {
            let operation =
                answer.operation.ok_or_else(|| FlinkError::undecodable(what, "completed without an operation"))?;
            if let Some(cause) = operation.failure_cause {
                let trace = cause.stack_trace.unwrap_or_default();
                return Ok(SavepointStatus::Failed { cause: summarize_errors(&[trace]) });
            }
            match operation.location {
                Some(location) => Ok(SavepointStatus::Completed { location }),
                None => Err(FlinkError::undecodable(what, "completed with neither location nor failure cause")),
            }
        }
        other => Err(FlinkError::undecodable(what, format!("unknown status {other:?}"))),
    }
}

/// A path segment or query value, percent-encoded outside the unreserved characters.
pub(super) fn segment(text: &str) -> String {
    if text == "." || text == ".." {
        return text.replace('.', "%2E");
    }
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl FlinkClient for RestFlinkClient {
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>> {
        Box::pin(async move {
            let overview = self.overview().await?;
            if let Err(error) = self.remember_version(&overview.flink_version) {
                tracing::warn!(error = %error, "flink version not understood");
            }
            Ok(ClusterView {
                flink_version: overview.flink_version,
                taskmanagers: overview.taskmanagers,
                slots_total: overview.slots_total,
                slots_available: overview.slots_available,
            })
        })
    }

    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>> {
        Box::pin(async move {
            let overview: wire::JobsOverview = self.get("the job list", "/jobs/overview").await?;
            Ok(overview
                .jobs
                .into_iter()
                .map(|job| JobSummary {
                    status: parse_status(&job.state, JobStatus::Unknown),
                    id: job.jid,
                    name: job.name,
                    start_time_ms: millis(job.start_time),
                })
                .collect())
        })
    }

    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>> {
        Box::pin(self.fetch_job_detail(job_id))
    }

    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>> {
        Box::pin(async move {
            const BUSY: &str = "busyTimeMsPerSecond";
            const BACKPRESSURED: &str = "backPressuredTimeMsPerSecond";
            const RECORDS_IN: &str = "numRecordsInPerSecond";
            let metrics = self
                .aggregated_metrics(
                    job_id,
                    vertex_id,
                    &[BUSY, BACKPRESSURED, RECORDS_IN],
                    &[MetricAggregation::Max, MetricAggregation::Sum],
                )
                .await?;
            let mut result = VertexMetrics::default();
            for metric in metrics {
                match metric.id.as_str() {
                    BUSY => result.busy_time_ms_per_second = metric.max,
                    BACKPRESSURED => result.backpressured_time_ms_per_second = metric.max,
                    RECORDS_IN => result.num_records_in_per_second = metric.sum,
                    _ => {}
                }
            }
            Ok(result)
        })
    }

    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>> {
        Box::pin(async move {
            let what = format!("the checkpoints of job {job_id}");
            let path = format!("/jobs/{}/checkpoints", segment(job_id));
            let Some(statistics) = self.get_optional::<wire::CheckpointingStatistics>(&what, &path).await? else {
                return Ok(None);
            };
            let latest = statistics.latest;
            Ok(Some(CheckpointHistory {
                latest_checkpoint: latest.completed.map(checkpoint_ref),
                latest_savepoint: latest.savepoint.map(checkpoint_ref),
                restored: latest.restored.map(|restored| CheckpointRef {
                    id: restored.id,
                    is_savepoint: restored.is_savepoint,
                    external_path: restored.external_path,
                    timestamp_ms: millis(restored.restore_timestamp),
                    discarded: false,
                }),
            }))
        })
    }

    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(async move {
            let what = format!("stop-with-savepoint {trigger_id} of job {job_id}");
            let path = format!("/jobs/{}/stop", segment(job_id));
            let body = wire::StopWithSavepointRequest { trigger_id, target_directory, drain: false };
            self.trigger(&what, &path, body, trigger_id).await
        })
    }

    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>> {
        Box::pin(async move {
            let what = format!("savepoint {trigger_id} of job {job_id}");
            let path = format!("/jobs/{}/savepoints/{}", segment(job_id), segment(trigger_id));
            match self.get_optional::<wire::SavepointStatusResponse>(&what, &path).await? {
                None => Ok(SavepointStatus::Unknown),
                Some(answer) => savepoint_status_from_wire(&what, answer),
            }
        })
    }

    fn upload_jar<'a>(&'a self, file_name: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, FlinkResult<String>> {
        Box::pin(async move {
            let what = format!("the upload of {file_name}");
            // Flink keeps only files whose name ends with `.jar`.
            let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
            let form = reqwest::multipart::Form::new().part("jarfile", part);
            let request = self.request(Method::POST, "/jars/upload").multipart(form).timeout(self.upload_timeout);
            let (status, body) = self.exchange(&what, request).await?;
            let uploaded: wire::JarUploadResponse = decode(&what, status, &body)?;
            if uploaded.status != "success" {
                return Err(FlinkError::undecodable(&what, format!("upload status {:?}", uploaded.status)));
            }
            uploaded
                .filename
                .rsplit('/')
                .next()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| FlinkError::undecodable(&what, format!("file name {:?}", uploaded.filename)))
        })
    }

    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>> {
        Box::pin(async move {
            let list: wire::JarList = self.get("the jar list", "/jars").await?;
            Ok(list
                .files
                .into_iter()
                .map(|file| JarInfo {
                    id: file.id,
                    name: file.name,
                    uploaded_ms: millis(file.uploaded),
                    entry_classes: file.entry.into_iter().map(|entry| entry.name).collect(),
                })
                .collect())
        })
    }

    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>> {
        Box::pin(self.run(jar_id, run))
    }

    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(async move {
            let what = format!("the resource requirements of job {job_id}");
            let path = format!("/jobs/{}/resource-requirements", segment(job_id));
            let body = requirements
                .iter()
                .map(|(vertex_id, bounds)| {
                    let parallelism = wire::Bounds { lower_bound: bounds.lower, upper_bound: bounds.upper };
                    (vertex_id.clone(), wire::VertexResourceRequirements { parallelism })
                })
                .collect::<wire::ResourceRequirements>();
            let (status, text) = self.exchange(&what, self.request(Method::PUT, &path).json(&body)).await?;
            if status.is_success() { Ok(()) } else { Err(FlinkError::from_status(&what, status, &text)) }
        })
    }

    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(async move {
            let what = format!("job {job_id}");
            let path = format!("/jobs/{}?mode=cancel", segment(job_id));
            let (status, body) = self.exchange(&what, self.request(Method::PATCH, &path)).await?;
            // 409: "the job has already reached another terminal state": nothing to cancel.
            if status.is_success() || status == StatusCode::CONFLICT {
                return Ok(());
            }
            Err(FlinkError::from_status(&what, status, &body))
        })
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
        Box::pin(async move {
            let metrics = self.aggregated_metrics(job_id, vertex_id, &[metric_id], &[aggregation]).await?;
            Ok(metrics.into_iter().find(|metric| metric.id == metric_id).and_then(|metric| match aggregation {
                MetricAggregation::Min => metric.min,
                MetricAggregation::Max => metric.max,
                MetricAggregation::Avg => metric.avg,
                MetricAggregation::Sum => metric.sum,
                MetricAggregation::Skew => metric.skew,
            }))
        })
    }

    fn operator_metric_sum<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
        metric_suffix: &'a str,
    ) -> BoxFuture<'a, FlinkResult<Option<f64>>> {
        Box::pin(async move {
            let dotted = format!(".{metric_suffix}");
            let available = self.aggregated_metrics(job_id, vertex_id, &[], &[]).await?;
            let matching = available
                .iter()
                .map(|metric| metric.id.as_str())
                .filter(|id| *id == metric_suffix || id.ends_with(&dotted))
                .collect::<Vec<_>>();
            if matching.is_empty() {
                return Ok(None);
            }
            let values = self.aggregated_metrics(job_id, vertex_id, &matching, &[MetricAggregation::Sum]).await?;
            let sums = values.into_iter().filter_map(|metric| metric.sum).collect::<Vec<_>>();
            Ok(if sums.is_empty() { None } else { Some(sums.iter().sum()) })
        })
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
        Box::pin(async move {
            let what = format!("savepoint {trigger_id} of job {job_id}");
            let path = format!("/jobs/{}/savepoints", segment(job_id));
            let body = wire::SavepointTriggerRequest { trigger_id, target_directory, cancel_job: false };
            self.trigger(&what, &path, body, trigger_id).await
        })
    }

    fn delete_jar<'a>(&'a self, jar_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        Box::pin(async move {
            let what = format!("jar {jar_id}");
            let path = format!("/jars/{}", segment(jar_id));
            let (status, body) = self.exchange(&what, self.request(Method::DELETE, &path)).await?;
            if status.is_success() {
                return Ok(());
            }
            // Flink answers 400 "File ... does not exist" for an unknown jar.
            if flink_errors(&body).iter().any(|error| error.contains("does not exist")) {
                return Err(FlinkError::NotFound { what });
            }
            Err(FlinkError::from_status(&what, status, &body))
        })
    }

    fn resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<BTreeMap<String, ParallelismBounds>>> {
        Box::pin(async move {
            let what = format!("the resource requirements of job {job_id}");
            let path = format!("/jobs/{}/resource-requirements", segment(job_id));
            let requirements: wire::ResourceRequirements = self.get(&what, &path).await?;
            Ok(requirements
                .into_iter()
                .map(|(vertex_id, vertex)| {
                    let bounds = ParallelismBounds {
                        lower: vertex.parallelism.lower_bound,
                        upper: vertex.parallelism.upper_bound,
                    };
                    (vertex_id, bounds)
                })
                .collect())
        })
    }
}
