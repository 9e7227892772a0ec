//! What the product knows of a Flink cluster and its jobs, independent of Flink's wire format.
//!
//! The backend's Flink client produces these; the phase machine and pre-flight checks read them;
//! the console shows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod adaptive;
pub mod msf;

pub use adaptive::{
    ConfiguredScheduler, ParallelismBounds, RescalePacing, describe_bounds, parse_duration_ms, rescale_bounds,
};

/// The span Flink's per-second task metrics average over (`numRecordsInPerSecond` and the other
/// meters are `MeterView`s of 60 s; busy and back-pressured time per second are measured over
/// the same span): until a job has run this long, its rates still count the time before it ran.
pub const METRIC_WINDOW_MS: u64 = 60_000;

/// How long after a job (re)starts its load figures are Flink's own: one [`METRIC_WINDOW_MS`],
/// and one round of the JobManager's metric fetcher (`metrics.fetcher.update-interval`, 10 s)
/// for the figures to reach the REST API.
pub const METRICS_SETTLED_AFTER_MS: u64 = METRIC_WINDOW_MS + 10_000;

/// A job's status as Flink reports it (`GET /jobs/:id` `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Initializing,
    Created,
    Running,
    Failing,
    Failed,
    Cancelling,
    Canceled,
    Finished,
    Restarting,
    Suspended,
    Reconciling,
    /// A status this version of the product does not know.
    #[serde(other)]
    Unknown,
}

impl JobStatus {
    /// Globally terminal: the job will never run again under this id.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed | Self::Canceled | Self::Finished)
    }

    /// Flink's spelling, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Initializing => "INITIALIZING",
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Failing => "FAILING",
            Self::Failed => "FAILED",
            Self::Cancelling => "CANCELLING",
            Self::Canceled => "CANCELED",
            Self::Finished => "FINISHED",
            Self::Restarting => "RESTARTING",
            Self::Suspended => "SUSPENDED",
            Self::Reconciling => "RECONCILING",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// A vertex's (or a task's) execution state as Flink reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Created,
    Scheduled,
    Deploying,
    Initializing,
    Running,
    Finished,
    Canceling,
    Canceled,
    Failed,
    Reconciling,
    #[serde(other)]
    Unknown,
}

impl TaskStatus {
    /// Flink's spelling, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Scheduled => "SCHEDULED",
            Self::Deploying => "DEPLOYING",
            Self::Initializing => "INITIALIZING",
            Self::Running => "RUNNING",
            Self::Finished => "FINISHED",
            Self::Canceling => "CANCELING",
            Self::Canceled => "CANCELED",
            Self::Failed => "FAILED",
            Self::Reconciling => "RECONCILING",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Which scheduler runs the job. Only the adaptive one can rescale in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    Adaptive,
    /// The adaptive scheduler in reactive mode (`scheduler-mode: reactive`): it scales to every
    /// slot by itself, and its requirements cannot be set.
    Reactive,
    Default,
    /// Not known yet: Flink did not say, and its configuration and requirements did not settle it.
    Unknown,
}

impl SchedulerKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Adaptive => "adaptive",
            Self::Reactive => "reactive",
            Self::Default => "default",
            Self::Unknown => "unknown",
        }
    }
}

/// One vertex (a chain of operators) of a job graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexView {
    /// Flink's 32-hex vertex id; stable across resubmits when operators have `uid`s.
    pub id: String,
    pub name: String,
    pub parallelism: u32,
    pub max_parallelism: u32,
    pub status: TaskStatus,
}

/// A job as observed in one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    pub scheduler: SchedulerKind,
    /// Periodic checkpointing is on (interval > 0).
    pub checkpointing: bool,
    /// At least one checkpoint has completed, so an in-place restart has state to restore.
    /// `None` when not read (the reconciler reads it before execution starts).
    #[serde(default)]
    pub has_completed_checkpoint: Option<bool>,
    pub start_time_ms: u64,
    /// When the job last entered RUNNING (Flink's `timestamps.RUNNING`), if it has.
    #[serde(default)]
    pub running_since_ms: Option<u64>,
    /// When the adaptive scheduler acts on new requirements (its cooldown); `None` on other
    /// schedulers or when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_pacing: Option<RescalePacing>,
    /// An Amazon Managed Service for Apache Flink application's own facts; `None` for a job on
    /// a Flink cluster. An application has no vertices the product can see: its parallelism is
    /// one number, under [`msf::APPLICATION_KEY`] in parallelism maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<msf::MsfApplication>,
    pub vertices: Vec<VertexView>,
}

impl JobView {
    /// An MSF application as a job under `id` (the backend derives it from the ARN,
    /// `operation::msf_application_job_id`): no vertices, MSF's status.
    pub fn of_application(id: String, application: msf::MsfApplication) -> Self {
        Self {
            id,
            name: application.name.clone(),
            status: application.status.job_status(),
            scheduler: SchedulerKind::Unknown,
            checkpointing: true,
            has_completed_checkpoint: None,
            start_time_ms: 0,
            running_since_ms: None,
            rescale_pacing: None,
            application: Some(application),
            vertices: Vec::new(),
        }
    }

    /// When Flink acts on requirements sent to this job at `now_ms`: after the adaptive
    /// scheduler's cooldown ([`RescalePacing::acts_at_ms`]), at once when it has none.
    pub fn requirements_act_at_ms(&self, now_ms: u64) -> u64 {
        self.rescale_pacing.as_ref().map_or(now_ms, |pacing| pacing.acts_at_ms(self, now_ms))
    }

    /// Current parallelism by vertex id (an MSF application's configured parallelism under
    /// [`msf::APPLICATION_KEY`]).
    pub fn parallelism_by_vertex(&self) -> BTreeMap<String, u32> {
        if let Some(application) = &self.application {
            return BTreeMap::from([(msf::APPLICATION_KEY.to_owned(), application.parallelism)]);
        }
        self.vertices.iter().map(|v| (v.id.clone(), v.parallelism)).collect()
    }

    /// The job runs, and every vertex runs at exactly the given parallelism.
    ///
    /// Mid-rescale Flink shows RESTARTING, CANCELING or CREATED vertices, sometimes at
    /// parallelism 1: only this is "done".
    pub fn runs_at(&self, parallelism: &BTreeMap<String, u32>) -> bool {
        if let Some(application) = &self.application {
            return parallelism.len() == 1
                && parallelism.get(msf::APPLICATION_KEY).is_some_and(|&target| application.runs_at(target));
        }
        self.status == JobStatus::Running
            && self.vertices.len() == parallelism.len()
            && self.vertices.iter().all(|vertex| {
                vertex.status == TaskStatus::Running && parallelism.get(&vertex.id) == Some(&vertex.parallelism)
            })
    }
}

/// Slots and version of a cluster (`GET /overview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub flink_version: String,
    pub taskmanagers: u32,
    pub slots_total: u32,
    pub slots_available: u32,
}

/// What Flink's own Web UI lets anyone who reaches it do to jobs, outside the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebUiActions {
    /// `web.rescale.enable`, which Flink honours on the adaptive scheduler outside reactive
    /// mode, from 1.18 on.
    pub rescale: bool,
    /// `web.submit.enable`: upload and run jars.
    pub submit: bool,
    /// `web.cancel.enable`.
    pub cancel: bool,
}

impl WebUiActions {
    /// From the JobManager's configuration (`GET /jobmanager/config`, looked up by key). A key
    /// that is not set takes Flink's default, which is `true` for all three; a value that is not
    /// a boolean counts as `true` too (the UI may allow it). The UI rescales only from 1.18 on,
    /// and only jobs of the adaptive scheduler (`jobmanager.scheduler: adaptive`) outside
    /// reactive mode (`scheduler-mode: reactive` rescales by itself).
    pub fn from_config<'a>(flink_version: &str, value_of: impl Fn(&str) -> Option<&'a str>) -> Self {
        let enabled = |keys: &[&str]| {
            keys.iter().find_map(|key| value_of(key)).is_none_or(|value| !value.trim().eq_ignore_ascii_case("false"))
        };
        let is =
            |key: &str, expected: &str| value_of(key).is_some_and(|value| value.trim().eq_ignore_ascii_case(expected));
        let adaptive = is("jobmanager.scheduler", "adaptive") && !is("scheduler-mode", "reactive");
        Self {
            rescale: supports_in_place_rescale(flink_version).unwrap_or(true)
                && adaptive
                && enabled(&["web.rescale.enable"]),
            submit: enabled(&["web.submit.enable", "jobmanager.web.submit.enable"]),
            cancel: enabled(&["web.cancel.enable"]),
        }
    }

    /// What the UI allows, in words (`rescale`, `submit`, `cancel`); empty when nothing.
    pub fn allowed(&self) -> Vec<&'static str> {
        [(self.rescale, "rescale"), (self.submit, "submit"), (self.cancel, "cancel")]
            .into_iter()
            .filter_map(|(allowed, label)| allowed.then_some(label))
            .collect()
    }
}

/// Status of a savepoint (or stop-with-savepoint) triggered with a known trigger id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SavepointStatus {
    /// Flink does not know this trigger id: never triggered, or forgotten (JobManager restart,
    /// result cache expired).
    Unknown,
    InProgress,
    Completed {
        location: String,
    },
    /// Flink answers `COMPLETED` with a `failure-cause` for a failed savepoint.
    Failed {
        cause: String,
    },
}

/// Whether a Flink version has the job resource requirements endpoint (Flink 1.18 and later).
///
/// `None` when the version does not start with `major.minor`.
pub fn supports_in_place_rescale(flink_version: &str) -> Option<bool> {
    let mut numbers = flink_version.trim().trim_start_matches('v').split('.');
    let major = leading_number(numbers.next()?)?;
    let minor = leading_number(numbers.next()?)?;
    Some(major > 1 || (major == 1 && minor >= 18))
}

/// Whether resubmitting a jar applies `pipeline.jobvertex-parallelism-overrides`: 1.18 reads
/// the overrides from the cluster's configuration only, and 2.0 to 2.3 submit a stream graph
/// from `/jars/:id/run` and skip them (both verified on real clusters, 1.18.1 and 2.3.0); 1.19
/// and 1.20 apply them. Unknown versions are given the benefit of the doubt.
pub fn resubmit_applies_vertex_overrides(flink_version: &str) -> bool {
    let mut numbers = flink_version.trim().trim_start_matches('v').split('.');
    let major = numbers.next().and_then(leading_number);
    let minor = numbers.next().and_then(leading_number);
    !matches!((major, minor), (Some(2), Some(0..=3)) | (Some(1), Some(0..=18)))
}

fn leading_number(text: &str) -> Option<u32> {
    let digits_end = text.find(|character: char| !character.is_ascii_digit()).unwrap_or(text.len());
    text[..digits_end].parse().ok()
}
