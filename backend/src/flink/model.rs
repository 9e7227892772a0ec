//! Backend-only views of Flink that the shared crate does not need: task counts, metrics,
//! jars, submissions, checkpoints and resource requirements.

use std::collections::{BTreeMap, HashMap};

use rescaler_shared::flink::{JobStatus, JobView, SavepointStatus, TaskStatus};

/// One line of `GET /jobs/overview`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    pub start_time_ms: u64,
    /// An MSF application's own facts (its job list entry); `None` for a Flink job.
    pub application: Option<rescaler_shared::flink::msf::MsfApplication>,
    /// The job's tasks as the JobManager counts them now; `None` where the list does not give
    /// them (an MSF application, an answer without counts).
    pub live_tasks: Option<LiveTasks>,
}

/// A job's tasks by state, from `GET /jobs/overview`, which Flink answers from the running
/// JobManager. `GET /jobs/:id` (and every view below it) is answered from the REST endpoint's
/// execution-graph cache, refreshed only every `web.refresh-interval` (3 s by default): a job
/// that finished or started running can read as it was for that long. [`LiveTasks::freshen`]
/// corrects such a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTasks {
    pub counts: TaskCounts,
    /// When a task last changed its state (or the job ended).
    pub last_modified_ms: u64,
}

/// A job as [`JobView`] shows it, plus how many tasks of each vertex are in which state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDetail {
    pub job: JobView,
    /// Task counts by vertex id.
    pub tasks: BTreeMap<String, TaskCounts>,
}

impl JobDetail {
    /// Every task of every vertex runs (vertex status alone can say RUNNING while some of its
    /// tasks are still deploying).
    pub fn all_tasks_running(&self) -> bool {
        self.job.vertices.iter().all(|vertex| {
            self.tasks.get(&vertex.id).is_some_and(|counts| {
                counts.total() == vertex.parallelism && counts.count(TaskStatus::Running) == counts.total()
            })
        })
    }
}

/// How many tasks (subtasks) of a vertex are in each execution state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCounts {
    by_status: HashMap<TaskStatus, u32>,
}

impl TaskCounts {
    pub fn count(&self, status: TaskStatus) -> u32 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.by_status.values().sum()
    }

    /// The states with at least one task.
    pub fn nonzero(&self) -> impl Iterator<Item = (TaskStatus, u32)> + '_ {
        self.by_status.iter().filter(|(_, count)| **count > 0).map(|(status, count)| (*status, *count))
    }

    pub(super) fn add(&mut self, status: TaskStatus, count: u32) {
        *self.by_status.entry(status).or_insert(0) += count;
    }
}

/// Load of one vertex, aggregated over its subtasks; `None` while Flink has no value yet.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VertexMetrics {
    /// The busiest subtask's busy time (0–1000 ms per second).
    pub busy_time_ms_per_second: Option<f64>,
    /// The most back-pressured subtask's back-pressured time (0–1000 ms per second).
    pub backpressured_time_ms_per_second: Option<f64>,
    /// Records per second into the vertex, summed over its subtasks.
    pub num_records_in_per_second: Option<f64>,
}

/// How `subtasks/metrics` aggregates one metric over the subtasks of a vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricAggregation {
    Min,
    Max,
    Avg,
    Sum,
    /// Newer versions only.
    Skew,
}

impl MetricAggregation {
    pub(super) fn wire_name(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Avg => "avg",
            Self::Sum => "sum",
            Self::Skew => "skew",
        }
    }
}

/// An uploaded jar (`GET /jars`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarInfo {
    /// What [`super::FlinkClient::run_jar`] takes: `<uuid>_<file name>`.
    pub id: String,
    /// The file name it was uploaded with.
    pub name: String,
    pub uploaded_ms: u64,
    pub entry_classes: Vec<String>,
}

/// How a job started from a savepoint treats that savepoint's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestoreMode {
    /// Flink takes ownership of the snapshot and may delete it later.
    Claim,
    /// The snapshot stays the user's; the first checkpoint is a full one.
    #[default]
    NoClaim,
}

impl RestoreMode {
    pub(super) fn wire_name(self) -> &'static str {
        match self {
            Self::Claim => "CLAIM",
            Self::NoClaim => "NO_CLAIM",
        }
    }
}

/// A submission of an uploaded jar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunJar {
    /// The 32-hex job id to use; a fresh one per submission (Flink refuses an id it knows,
    /// finished jobs included).
    pub job_id: Option<String>,
    /// Needed only when the jar's manifest names no entry class.
    pub entry_class: Option<String>,
    pub program_args: Vec<String>,
    /// Default parallelism of the job's vertices.
    pub parallelism: Option<u32>,
    /// Per-vertex parallelism, written as `pipeline.jobvertex-parallelism-overrides`. Flink 1.18
    /// and 2.0 to 2.3 ignore it for jar runs (see
    /// [`FlinkVersion::applies_vertex_overrides_on_jar_run`]).
    pub vertex_parallelism: BTreeMap<String, u32>,
    pub savepoint_path: Option<String>,
    pub allow_non_restored_state: bool,
    /// Sent only with a savepoint path: as `claimMode` to 2.x, `restoreMode` to 1.x.
    pub restore_mode: RestoreMode,
    /// Extra job configuration; wins over `vertex_parallelism` for the same key.
    pub flink_configuration: BTreeMap<String, String>,
}

/// The configuration key of per-vertex parallelism overrides.
pub const VERTEX_PARALLELISM_OVERRIDES_KEY: &str = "pipeline.jobvertex-parallelism-overrides";

impl RunJar {
    /// The configuration sent to Flink: `flink_configuration` plus the vertex overrides.
    pub(super) fn effective_configuration(&self) -> BTreeMap<String, String> {
        let mut configuration = BTreeMap::new();
        if !self.vertex_parallelism.is_empty() {
            let overrides = self
                .vertex_parallelism
                .iter()
                .map(|(vertex_id, parallelism)| format!("{vertex_id}:{parallelism}"))
                .collect::<Vec<_>>()
                .join(",");
            configuration.insert(VERTEX_PARALLELISM_OVERRIDES_KEY.to_owned(), overrides);
        }
        configuration.extend(self.flink_configuration.iter().map(|(k, v)| (k.clone(), v.clone())));
        configuration
    }
}

/// A job's checkpointing configuration (`GET /jobs/:id/checkpoints/config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// `None` when periodic checkpointing is off.
    pub interval_ms: Option<u64>,
    /// `exactly_once` or `at_least_once`.
    pub mode: Option<String>,
}

impl CheckpointConfig {
    pub fn periodic(&self) -> bool {
        self.interval_ms.is_some()
    }
}

/// A checkpoint or savepoint that exists (or existed) on storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRef {
    pub id: u64,
    pub is_savepoint: bool,
    /// Where it lies, e.g. `file:/tmp/sp/savepoint-000000-0123abcd`.
    pub external_path: Option<String>,
    /// When it was triggered (restored ones: when the restore happened).
    pub timestamp_ms: u64,
    /// Flink already deleted it (subsumed checkpoints).
    pub discarded: bool,
    /// Bytes of the full state it holds (0 when Flink did not say: restored ones).
    pub state_size_bytes: u64,
    /// How long it took, trigger to completion (0 when Flink did not say).
    pub duration_ms: u64,
}

/// The latest snapshots of a job (`GET /jobs/:id/checkpoints`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointHistory {
    /// The latest completed checkpoint (not savepoint).
    pub latest_checkpoint: Option<CheckpointRef>,
    /// The latest completed savepoint, stop-with-savepoint included.
    pub latest_savepoint: Option<CheckpointRef>,
    /// What the job was last restored from.
    pub restored: Option<CheckpointRef>,
}

/// A Flink version as `/overview` reports it (`2.3.0`, `1.20.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlinkVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl FlinkVersion {
    /// Reads `2.3.0`, `1.20.5`, `2.1-SNAPSHOT`; `None` when there is no major.minor.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split(['.', '-']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().and_then(|part| part.parse().ok()).unwrap_or(0);
        Some(Self { major, minor, patch })
    }

    /// The jar-run field for the restore mode: `claimMode` from 2.0, `restoreMode` before.
    pub fn uses_claim_mode(self) -> bool {
        self.major >= 2
    }

    /// `pipeline.jobvertex-parallelism-overrides` in a jar run's configuration takes effect.
    ///
    /// 1.x submits a JobGraph and the dispatcher applies the overrides, but up to 1.18 it reads
    /// them from the cluster's configuration only, not from the job's (verified on 1.18.1, where
    /// the job keeps its uniform parallelism; 1.20.5 merges both, 1.19 is not verified). 2.0 to
    /// 2.3 submit a StreamGraph from `/jars/:id/run` and the dispatcher only applies overrides
    /// to JobGraphs: verified on 2.3.0, where the job keeps its uniform parallelism. Later
    /// versions apply them in the scheduler factories (upstream `ParallelismOverrideUtil`); not
    /// verified here.
    pub fn applies_vertex_overrides_on_jar_run(self) -> bool {
        let before_1_19 = self.major == 1 && self.minor <= 18;
        let streamgraph_2_x = self.major == 2 && self.minor <= 3;
        !(before_1_19 || streamgraph_2_x)
    }
}

impl std::fmt::Display for FlinkVersion {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A savepoint failed because Flink had no running job of that id (a stop or savepoint on an
/// unknown or already finished job is accepted with 202 and fails this way).
pub fn savepoint_failed_for_missing_job(status: &SavepointStatus) -> bool {
    matches!(status, SavepointStatus::Failed { cause } if cause.contains("FlinkJobNotFoundException"))
}
