//! Flink's REST JSON, field for field: private to the `flink` module.
//!
//! Field names follow the wire (`flink-runtime-web/src/test/resources/rest_api_v1.snapshot` and
//! what 1.20.5 and 2.3.0 answered), not Flink's OpenAPI file. Fields the product does not read
//! are left out; unknown fields are ignored.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Any error answer: `{"errors": ["..."]}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<String>,
}

/// `GET /overview`.
#[derive(Debug, Deserialize)]
pub(super) struct Overview {
    #[serde(rename = "flink-version")]
    pub flink_version: String,
    pub taskmanagers: u32,
    #[serde(rename = "slots-total")]
    pub slots_total: u32,
    #[serde(rename = "slots-available")]
    pub slots_available: u32,
}

/// One entry of `GET /jobmanager/config` (the cluster configuration, as set).
#[derive(Debug, Deserialize)]
pub(super) struct ConfigEntry {
    pub key: String,
    pub value: String,
}

/// `GET /jobs/overview`.
#[derive(Debug, Deserialize)]
pub(super) struct JobsOverview {
    pub jobs: Vec<JobOverview>,
}

#[derive(Debug, Deserialize)]
pub(super) struct JobOverview {
    pub jid: String,
    pub name: String,
    pub state: String,
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// When a task of the job last changed its state (or the job ended), in milliseconds.
    #[serde(rename = "last-modification", default)]
    pub last_modification: Option<i64>,
    /// Tasks by state, lowercase (`running`, `deploying`, …), and their `total`.
    #[serde(default)]
    pub tasks: Option<std::collections::BTreeMap<String, u32>>,
}

/// `GET /jobs/:id`.
#[derive(Debug, Deserialize)]
pub(super) struct JobDetails {
    pub jid: String,
    pub name: String,
    pub state: String,
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// 2.x only: `Default`, `Adaptive`, `AdaptiveBatch`.
    #[serde(rename = "schedulerType", default)]
    pub scheduler_type: Option<String>,
    /// When the job last entered each status, in milliseconds (0: never).
    #[serde(default)]
    pub timestamps: std::collections::BTreeMap<String, i64>,
    pub vertices: Vec<JobVertex>,
    /// The job's dataflow plan, loosely typed in Flink's REST spec: an object (`{"jid", "name",
    /// "type", "nodes": [...]}`) on the versions verified, kept raw here so that an odd plan never
    /// fails the rest of the detail; [`JobPlan::from_raw`] reads it (a JSON string too).
    #[serde(default)]
    pub plan: serde_json::Value,
}

/// The `plan` of `GET /jobs/:id`: one node per job vertex, with the edges that feed it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct JobPlan {
    #[serde(default)]
    pub nodes: Vec<PlanNode>,
}

impl JobPlan {
    /// The plan from the raw field: an object, or a string holding one; `None` when absent or
    /// unreadable.
    pub fn from_raw(raw: &serde_json::Value) -> Option<Self> {
        match raw {
            serde_json::Value::String(text) => serde_json::from_str(text).ok(),
            serde_json::Value::Object(_) => serde_json::from_value(raw.clone()).ok(),
            _ => None,
        }
    }
}

/// One node of the plan: a job vertex (its `id` is the vertex id).
#[derive(Debug, Deserialize)]
pub(super) struct PlanNode {
    pub id: String,
    /// Absent for a source.
    #[serde(default)]
    pub inputs: Vec<PlanInput>,
}

/// One input edge of a plan node.
#[derive(Debug, Deserialize)]
pub(super) struct PlanInput {
    /// The upstream vertex's id.
    pub id: String,
    /// The partitioner's name: `HASH` (keyBy), `FORWARD`, `REBALANCE`, `RESCALE`, `BROADCAST`,
    /// `GLOBAL`, `SHUFFLE`, `CUSTOM`.
    #[serde(default)]
    pub ship_strategy: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct JobVertex {
    pub id: String,
    pub name: String,
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: u32,
    pub parallelism: u32,
    pub status: String,
    /// Task count by execution state (`RUNNING`, `CANCELING`, ...).
    #[serde(default)]
    pub tasks: HashMap<String, u32>,
}

/// `GET /jobs/:id/checkpoints/config`.
#[derive(Debug, Deserialize)]
pub(super) struct CheckpointConfig {
    /// `Long.MAX_VALUE` when periodic checkpointing is off.
    pub interval: i64,
    #[serde(default)]
    pub mode: Option<String>,
}

/// `GET /jobs/:id/checkpoints`.
#[derive(Debug, Deserialize)]
pub(super) struct CheckpointingStatistics {
    pub latest: LatestCheckpoints,
}

#[derive(Debug, Deserialize)]
pub(super) struct LatestCheckpoints {
    #[serde(default)]
    pub completed: Option<CheckpointStatistics>,
    #[serde(default)]
    pub savepoint: Option<CheckpointStatistics>,
    #[serde(default)]
    pub restored: Option<RestoredCheckpoint>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CheckpointStatistics {
    pub id: u64,
    #[serde(default)]
    pub is_savepoint: bool,
    #[serde(default)]
    pub trigger_timestamp: i64,
    #[serde(default)]
    pub external_path: Option<String>,
    #[serde(default)]
    pub discarded: bool,
    /// Bytes of the full state (`checkpointed_size` is the incremental part).
    #[serde(default)]
    pub state_size: u64,
    /// Milliseconds from trigger to the last acknowledgement.
    #[serde(default)]
    pub end_to_end_duration: u64,
}

#[derive(Debug, Deserialize)]
pub(super) struct RestoredCheckpoint {
    pub id: u64,
    #[serde(default)]
    pub is_savepoint: bool,
    #[serde(default)]
    pub restore_timestamp: i64,
    #[serde(default)]
    pub external_path: Option<String>,
}

/// One entry of `GET /jobs/:id/vertices/:vid/subtasks/metrics`: only the asked aggregations
/// are present. Listing without `get` gives entries with the `id` only.
#[derive(Debug, Deserialize)]
pub(super) struct AggregatedMetric {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub min: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub max: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub avg: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub sum: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub skew: Option<f64>,
}

/// A metric value: a number, or a string such as `"NaN"` (Jackson writes non-finite doubles as
/// strings); anything not finite reads as no value.
fn lenient_f64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
        Null(()),
    }
    let value = match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(number) => Some(number),
        NumberOrText::Text(text) => text.trim().parse::<f64>().ok(),
        NumberOrText::Null(()) => None,
    };
    Ok(value.filter(|number| number.is_finite()))
}

/// `POST /jobs/:id/stop`: camel case.
#[derive(Debug, Serialize)]
pub(super) struct StopWithSavepointRequest<'a> {
    #[serde(rename = "triggerId")]
    pub trigger_id: &'a str,
    #[serde(rename = "targetDirectory", skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<&'a str>,
    pub drain: bool,
}

/// `POST /jobs/:id/savepoints`: kebab case, unlike the stop request.
#[derive(Debug, Serialize)]
pub(super) struct SavepointTriggerRequest<'a> {
    #[serde(rename = "triggerId")]
    pub trigger_id: &'a str,
    #[serde(rename = "target-directory", skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<&'a str>,
    #[serde(rename = "cancel-job")]
    pub cancel_job: bool,
}

/// The answer to any asynchronous trigger.
#[derive(Debug, Deserialize)]
pub(super) struct TriggerResponse {
    #[serde(rename = "request-id")]
    pub request_id: String,
}

/// `GET /jobs/:id/savepoints/:triggerid`.
#[derive(Debug, Deserialize)]
pub(super) struct SavepointStatusResponse {
    pub status: QueueStatus,
    #[serde(default)]
    pub operation: Option<SavepointOperation>,
}

#[derive(Debug, Deserialize)]
pub(super) struct QueueStatus {
    /// `IN_PROGRESS` or `COMPLETED`.
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct SavepointOperation {
    #[serde(default)]
    pub location: Option<String>,
    #[serde(rename = "failure-cause", default)]
    pub failure_cause: Option<FailureCause>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FailureCause {
    #[serde(rename = "stack-trace", default)]
    pub stack_trace: Option<String>,
}

/// `POST /jars/upload`.
#[derive(Debug, Deserialize)]
pub(super) struct JarUploadResponse {
    /// The server-side path; its last segment is the jar id.
    pub filename: String,
    pub status: String,
}

/// `GET /jars`.
#[derive(Debug, Deserialize)]
pub(super) struct JarList {
    pub files: Vec<JarFile>,
}

#[derive(Debug, Deserialize)]
pub(super) struct JarFile {
    pub id: String,
    pub name: String,
    pub uploaded: i64,
    #[serde(default)]
    pub entry: Vec<JarEntry>,
}

#[derive(Debug, Deserialize)]
pub(super) struct JarEntry {
    pub name: String,
}

/// `POST /jars/:jarid/run`.
#[derive(Debug, Serialize)]
pub(super) struct JarRunRequest<'a> {
    #[serde(rename = "jobId", skip_serializing_if = "Option::is_none")]
    pub job_id: Option<&'a str>,
    #[serde(rename = "entryClass", skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<&'a str>,
    #[serde(rename = "programArgsList", skip_serializing_if = "<[_]>::is_empty")]
    pub program_args: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(rename = "savepointPath", skip_serializing_if = "Option::is_none")]
    pub savepoint_path: Option<&'a str>,
    #[serde(rename = "allowNonRestoredState")]
    pub allow_non_restored_state: bool,
    /// 2.x name of the restore mode.
    #[serde(rename = "claimMode", skip_serializing_if = "Option::is_none")]
    pub claim_mode: Option<&'static str>,
    /// 1.x name of the restore mode.
    #[serde(rename = "restoreMode", skip_serializing_if = "Option::is_none")]
    pub restore_mode: Option<&'static str>,
    #[serde(rename = "flinkConfiguration", skip_serializing_if = "BTreeMap::is_empty")]
    pub flink_configuration: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct JarRunResponse {
    pub jobid: String,
}

/// `GET`/`PUT /jobs/:id/resource-requirements`: vertex id to bounds.
pub(super) type ResourceRequirements = BTreeMap<String, VertexResourceRequirements>;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VertexResourceRequirements {
    pub parallelism: Bounds,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Bounds {
    #[serde(rename = "lowerBound")]
    pub lower_bound: u32,
    #[serde(rename = "upperBound")]
    pub upper_bound: u32,
}

/// One rescale of `GET /jobs/:id/rescales/history` (a list, newest first, of the rescales that
/// have ended) and `GET /jobs/:id/rescales/details/:rescaleuuid`, 2.3 and later with
/// `web.adaptive-scheduler.rescale-history.size` above 0. The history leaves `vertices`, `slots`
/// and `schedulerStates` empty; the details fill them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rescale {
    pub rescale_uuid: String,
    #[serde(default)]
    pub rescale_attempt_id: Option<u32>,
    #[serde(default)]
    pub vertices: BTreeMap<String, RescaleVertex>,
    #[serde(default)]
    pub scheduler_states: Vec<RescaleSchedulerState>,
    #[serde(default)]
    pub start_timestamp_in_millis: Option<i64>,
    #[serde(default)]
    pub end_timestamp_in_millis: Option<i64>,
    /// `COMPLETED`, `FAILED`, `IGNORED`.
    #[serde(default)]
    pub terminal_state: Option<String>,
    #[serde(default)]
    pub trigger_cause: Option<String>,
    #[serde(default)]
    pub terminated_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RescaleVertex {
    pub job_vertex_id: String,
    #[serde(default)]
    pub job_vertex_name: String,
    #[serde(default)]
    pub desired_parallelism: Option<u32>,
    /// `null` for the first schedule.
    #[serde(default)]
    pub pre_rescale_parallelism: Option<u32>,
    #[serde(default)]
    pub post_rescale_parallelism: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RescaleSchedulerState {
    pub state: String,
    #[serde(default)]
    pub enter_timestamp_in_millis: Option<i64>,
    #[serde(default)]
    pub leave_timestamp_in_millis: Option<i64>,
    #[serde(default)]
    pub stringified_exception: Option<String>,
}
