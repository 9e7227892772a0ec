//! Amazon Managed Service for Apache Flink (MSF), as the product knows it, independent of the
//! SDK's types: an application's facts (status, version and conditional token, parallelism
//! settings, how it restores), its snapshots and operations, the KPU arithmetic, and the names
//! the product derives for them.
//!
//! An MSF application is shown and handled as a job: its job id is derived from its ARN
//! ([`crate::operation::msf_application_job_id`]), its parallelism is one number for the whole application, kept in
//! parallelism maps under [`APPLICATION_KEY`] (MSF has no per-vertex parallelism).

use serde::{Deserialize, Serialize};

use super::JobStatus;

/// The key of an MSF application's parallelism in the per-vertex maps of a request.
pub const APPLICATION_KEY: &str = "application";

/// MSF's default limit of KPUs an application may use (a service quota that can be raised).
pub const DEFAULT_KPU_LIMIT: u32 = 64;

/// An application's status (`ApplicationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MsfStatus {
    Deleting,
    Starting,
    Stopping,
    Ready,
    Running,
    Updating,
    Autoscaling,
    ForceStopping,
    RollingBack,
    Maintenance,
    RolledBack,
    #[serde(other)]
    Unknown,
}

impl MsfStatus {
    /// MSF's spelling, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Deleting => "DELETING",
            Self::Starting => "STARTING",
            Self::Stopping => "STOPPING",
            Self::Ready => "READY",
            Self::Running => "RUNNING",
            Self::Updating => "UPDATING",
            Self::Autoscaling => "AUTOSCALING",
            Self::ForceStopping => "FORCE_STOPPING",
            Self::RollingBack => "ROLLING_BACK",
            Self::Maintenance => "MAINTENANCE",
            Self::RolledBack => "ROLLED_BACK",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// MSF's spelling read back (`RUNNING` …); an unknown one is [`MsfStatus::Unknown`].
    pub fn parse(text: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(Self::Unknown)
    }

    /// The job status the console and the generic checks see: running, on its way (starting,
    /// updating, autoscaling, rolling back), stopping, or stopped (READY: the application does
    /// not run; it can be started again, so it is not lost).
    pub fn job_status(self) -> JobStatus {
        match self {
            Self::Running => JobStatus::Running,
            Self::Starting => JobStatus::Initializing,
            Self::Stopping | Self::ForceStopping => JobStatus::Cancelling,
            Self::Ready => JobStatus::Finished,
            Self::Deleting => JobStatus::Canceled,
            Self::Updating | Self::Autoscaling | Self::RollingBack | Self::Maintenance | Self::RolledBack => {
                JobStatus::Reconciling
            }
            Self::Unknown => JobStatus::Unknown,
        }
    }
}

/// What the application restores from when it (re)starts (`ApplicationRestoreConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MsfRestore {
    SkipRestoreFromSnapshot,
    RestoreFromLatestSnapshot,
    RestoreFromCustomSnapshot { snapshot_name: String },
}

/// One MSF application as one `DescribeApplication` showed it, with the limit the product was
/// told for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MsfApplication {
    pub name: String,
    pub arn: String,
    pub status: MsfStatus,
    /// `RuntimeEnvironment`, e.g. `FLINK-1_20`.
    pub runtime: String,
    pub version_id: u64,
    /// Changes with every update of the application; an update that names an older one is
    /// refused (`ConcurrentModificationException`).
    #[serde(default)]
    pub conditional_token: Option<String>,
    /// `Parallelism`: the configured parallelism (autoscaling never goes below it).
    pub parallelism: u32,
    pub parallelism_per_kpu: u32,
    /// `CurrentParallelism`: what runs now (above `parallelism` while autoscaling scaled up).
    pub current_parallelism: u32,
    pub autoscaling: bool,
    /// `ConfigurationType` is `CUSTOM` (with `DEFAULT`, MSF's defaults apply).
    pub custom_configuration: bool,
    pub snapshots_enabled: bool,
    pub system_rollback: bool,
    pub restore: MsfRestore,
    /// KPUs the application may use (configured: MSF's quota, [`DEFAULT_KPU_LIMIT`] unless
    /// raised).
    pub kpu_limit: u32,
    /// The newest snapshots MSF lists for the application (read for one job's page, not for
    /// the job list), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_snapshots: Vec<MsfSnapshot>,
}

impl MsfApplication {
    /// KPUs the application uses now.
    pub fn kpus_in_use(&self) -> u32 {
        kpus(self.current_parallelism, self.parallelism_per_kpu)
    }

    /// The highest parallelism the KPU limit allows at the application's parallelism per KPU.
    pub fn max_parallelism(&self) -> u32 {
        self.kpu_limit.saturating_mul(self.parallelism_per_kpu.max(1))
    }

    /// The Flink version of its runtime (`FLINK-1_20` → `1.20`), or the runtime as MSF names it.
    pub fn flink_version(&self) -> String {
        runtime_flink_version(&self.runtime).unwrap_or_else(|| self.runtime.clone())
    }

    /// The application restores from the named snapshot when it starts.
    pub fn restores_from(&self, snapshot_name: &str) -> bool {
        matches!(&self.restore, MsfRestore::RestoreFromCustomSnapshot { snapshot_name: name } if name == snapshot_name)
    }

    /// The application runs at `parallelism`: RUNNING, configured at it, and — unless
    /// autoscaling may take it higher — running at it.
    pub fn runs_at(&self, parallelism: u32) -> bool {
        self.status == MsfStatus::Running
            && self.parallelism == parallelism
            && (self.autoscaling || self.current_parallelism == parallelism)
    }
}

/// KPUs an application needs at `parallelism` with `per_kpu` subtasks per KPU (rounded up).
pub fn kpus(parallelism: u32, per_kpu: u32) -> u32 {
    parallelism.div_ceil(per_kpu.max(1))
}

/// The Flink version of an MSF runtime (`FLINK-1_20` → `1.20`); `None` for other runtimes.
pub fn runtime_flink_version(runtime: &str) -> Option<String> {
    let version = runtime.strip_prefix("FLINK-")?;
    let (major, minor) = version.split_once('_')?;
    (major.bytes().all(|byte| byte.is_ascii_digit()) && minor.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| format!("{major}.{minor}"))
}

/// A snapshot's status (`SnapshotStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MsfSnapshotStatus {
    Creating,
    Ready,
    Deleting,
    Failed,
    #[serde(other)]
    Unknown,
}

/// One application snapshot (`DescribeApplicationSnapshot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MsfSnapshot {
    pub name: String,
    pub status: MsfSnapshotStatus,
    /// The application version it was taken of.
    pub version_id: u64,
    #[serde(default)]
    pub created_at_ms: Option<u64>,
}

/// An operation's status (`OperationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MsfOperationStatus {
    InProgress,
    Successful,
    Failed,
    Cancelled,
    #[serde(other)]
    Unknown,
}

/// One application operation (`DescribeApplicationOperation`): an update, a system rollback …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsfOperation {
    pub id: String,
    /// `UpdateApplication`, `SystemRollbackApplication`, …
    pub kind: String,
    pub status: MsfOperationStatus,
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
    /// The system rollback MSF started when this operation failed.
    #[serde(default)]
    pub rollback_operation_id: Option<String>,
}

/// The operation kind of an `UpdateApplication` call.
pub const UPDATE_OPERATION: &str = "UpdateApplication";

/// What a request on an application with autoscaling on does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AutoscalingChoice {
    /// Turn autoscaling off in the same update, so the target stays.
    TurnOff,
    /// Keep it on: the target becomes the parallelism autoscaling never goes below.
    Keep,
}

impl AutoscalingChoice {
    /// The `AutoScalingEnabledUpdate` to send, if any.
    pub fn autoscaling_update(choice: Option<Self>, application_autoscales: bool) -> Option<bool> {
        match choice {
            Some(Self::TurnOff) if application_autoscales => Some(false),
            _ => None,
        }
    }
}
