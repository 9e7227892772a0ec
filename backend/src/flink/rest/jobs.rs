//! Jobs and the cluster they run on: the overview, what the Web UI allows, the job list, a
//! job's detail with its vertices and checkpointing, and cancelling a job.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use rescaler_shared::flink::{
    ClusterView, ConfiguredScheduler, JobStatus, JobView, RescalePacing, SchedulerKind, TaskStatus, VertexView,
    WebUiActions,
};
use serde::de::DeserializeOwned;

use super::http::{millis, segment};
use super::{JobScheduler, RestFlinkClient};
use crate::flink::{CheckpointConfig, FlinkError, FlinkResult, JobDetail, JobSummary, LiveTasks, TaskCounts, wire};

impl RestFlinkClient {
    pub(super) async fn overview(&self) -> FlinkResult<wire::Overview> {
        self.get("the cluster overview", "/overview").await
    }

    /// The overview as the product sees it; the version is remembered on the way.
    pub(super) async fn cluster_view(&self) -> FlinkResult<ClusterView> {
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
    }

    /// What Flink's Web UI allows, from the JobManager's configuration and the version.
    pub(super) async fn web_ui(&self) -> FlinkResult<WebUiActions> {
        let what = "the jobmanager configuration";
        let entries: Vec<wire::ConfigEntry> = self.get(what, "/jobmanager/config").await?;
        let version = self.flink_version().await?.to_string();
        let value_of = |key: &str| entries.iter().find(|entry| entry.key == key).map(|entry| entry.value.as_str());
        Ok(WebUiActions::from_config(&version, value_of))
    }

    pub(super) async fn job_summaries(&self) -> FlinkResult<Vec<JobSummary>> {
        let overview: wire::JobsOverview = self.get("the job list", "/jobs/overview").await?;
        Ok(overview
            .jobs
            .into_iter()
            .map(|job| JobSummary {
                status: parse_status(&job.state, JobStatus::Unknown),
                id: job.jid,
                name: job.name,
                start_time_ms: millis(job.start_time),
                application: None,
                live_tasks: live_tasks(job.tasks.as_ref(), job.last_modification),
            })
            .collect())
    }

    pub(super) async fn fetch_job_detail(&self, job_id: &str) -> FlinkResult<Option<JobDetail>> {
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
        let scheduler = self.job_scheduler(job_id, details.scheduler_type.as_deref()).await?;
        Ok(Some(job_detail_from_wire(details, checkpointing, scheduler)))
    }

    /// The scheduler a job runs on, and when the adaptive one acts on new requirements; read once
    /// per job. 2.x report the scheduler in the job detail; on every version the job's JobManager
    /// configuration (`GET /jobs/:id/jobmanager/config`) names it and paces it, and only the
    /// adaptive scheduler answers `GET /jobs/:id/resource-requirements`. An answer that leaves
    /// it open is `Unknown`, and is asked again next time.
    async fn job_scheduler(&self, job_id: &str, reported: Option<&str>) -> FlinkResult<JobScheduler> {
        if let Some(known) = self.cached_scheduler(job_id) {
            return Ok(known);
        }
        let what = format!("the jobmanager configuration of job {job_id}");
        let path = format!("/jobs/{}/jobmanager/config", segment(job_id));
        let entries = match self.get_optional::<Vec<wire::ConfigEntry>>(&what, &path).await {
            Ok(entries) => entries,
            // Flink answered, without a configuration to read: decide from the rest.
            Err(FlinkError::Rejected { .. } | FlinkError::Undecodable { .. }) => None,
            Err(error) => return Err(error),
        };
        let entries = entries.unwrap_or_default();
        let value_of = |key: &str| entries.iter().find(|entry| entry.key == key).map(|entry| entry.value.as_str());
        let configured = ConfiguredScheduler::from_config(value_of);
        let kind = match reported.map(scheduler_kind) {
            Some(SchedulerKind::Adaptive) if configured == ConfiguredScheduler::Reactive => SchedulerKind::Reactive,
            Some(kind) if kind != SchedulerKind::Unknown => kind,
            _ => {
                let answered = if configured.needs_requirements_probe() {
                    match self.get_requirements(job_id).await {
                        Ok(_) => Some(true),
                        Err(FlinkError::Rejected { .. } | FlinkError::NotFound { .. }) => Some(false),
                        Err(_) => None,
                    }
                } else {
                    None
                };
                configured.decide(answered)
            }
        };
        let pacing = if kind == SchedulerKind::Adaptive {
            let version = self.flink_version().await?;
            RescalePacing::from_config(&version.to_string(), value_of)
        } else {
            None
        };
        let scheduler = JobScheduler { kind, pacing };
        if kind != SchedulerKind::Unknown {
            self.remember_scheduler(job_id, scheduler.clone());
        }
        Ok(scheduler)
    }

    pub(super) async fn fetch_checkpoint_config(&self, job_id: &str) -> FlinkResult<Option<CheckpointConfig>> {
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

    pub(super) async fn cancel(&self, job_id: &str) -> FlinkResult<()> {
        let what = format!("job {job_id}");
        let path = format!("/jobs/{}?mode=cancel", segment(job_id));
        let (status, body) = self.exchange(&what, self.request(Method::PATCH, &path)).await?;
        // 409: "the job has already reached another terminal state": nothing to cancel.
        if status.is_success() || status == StatusCode::CONFLICT {
            return Ok(());
        }
        Err(FlinkError::from_status(&what, status, &body))
    }
}

/// A status string (`RUNNING`) as one of the shared enums; unknown strings become `Unknown`.
fn parse_status<T: DeserializeOwned>(text: &str, unknown: T) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(unknown)
}

/// The task counts of a `/jobs/overview` entry (lowercase states, and their `total`), when it
/// has them and they add up.
fn live_tasks(tasks: Option<&BTreeMap<String, u32>>, last_modification: Option<i64>) -> Option<LiveTasks> {
    let (tasks, last_modification) = (tasks?, last_modification?);
    let mut counts = TaskCounts::default();
    for (state, count) in tasks.iter().filter(|(state, _)| state.as_str() != "total") {
        counts.add(parse_status(&state.to_ascii_uppercase(), TaskStatus::Unknown), *count);
    }
    let total = tasks.get("total").copied()?;
    (counts.total() == total && total > 0).then(|| LiveTasks { counts, last_modified_ms: millis(last_modification) })
}

/// The 2.x job detail's `schedulerType`.
fn scheduler_kind(scheduler_type: &str) -> SchedulerKind {
    match scheduler_type {
        "Adaptive" => SchedulerKind::Adaptive,
        // The adaptive batch scheduler cannot rescale a running job either.
        "Default" | "AdaptiveBatch" => SchedulerKind::Default,
        _ => SchedulerKind::Unknown,
    }
}

fn job_detail_from_wire(details: wire::JobDetails, checkpointing: bool, scheduler: JobScheduler) -> JobDetail {
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
        application: None,
        id: details.jid,
        name: details.name,
        status: parse_status(&details.state, JobStatus::Unknown),
        scheduler: scheduler.kind,
        rescale_pacing: scheduler.pacing,
        checkpointing,
        has_completed_checkpoint: None,
        start_time_ms: millis(details.start_time),
        running_since_ms: details.timestamps.get("RUNNING").copied().filter(|at| *at > 0).map(millis),
        vertices,
    };
    JobDetail { job, tasks }
}
