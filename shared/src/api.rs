//! Wire types of the HTTP API that the console decodes too.

use serde::{Deserialize, Serialize};

mod load;

pub use load::{JobLoadHistory, JobRecommendation};

/// The one JSON envelope every error response carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong, for people (`message`) and for programs (`code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `not_found` or `bad_request`.
    pub code: String,
    /// A lowercase sentence without a trailing period.
    pub message: String,
}

/// Answer of `GET /api/v1/auth/config` (unauthenticated, nothing secret): how the console
/// signs people in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInSettings {
    /// `tokens` (paste a token) or `oidc`.
    pub mode: String,
    /// The OpenID Connect client the console signs in with; `None` in `tokens` mode, and in
    /// `oidc` mode without a console client (API callers bring their own access tokens).
    pub oidc: Option<OidcSignIn>,
}

/// The console's OpenID Connect client: Authorization Code flow with PKCE, a public client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OidcSignIn {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where signing out ends the provider's session too; `None` when the provider has none.
    pub end_session_endpoint: Option<String>,
    /// Where signing out revokes the refresh token (RFC 7009); `None` when the provider has none.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

/// `POST /api/v1/artifacts/uploads`: a jar to upload in parts, straight to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeginUpload {
    pub file_name: String,
    pub size_bytes: u64,
}

/// Where to send each part of an upload: `PUT` the part's bytes (every part but the last has
/// `part_size_bytes`) to its URL, keep the `ETag` it answers, then complete the upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadPlan {
    pub upload_id: String,
    pub part_size_bytes: u64,
    /// In part order, from part 1. Presigned S3 URLs, or the backend's own signed URLs when the
    /// records are in the embedded store. Valid for an hour.
    pub part_urls: Vec<String>,
}

/// `POST /api/v1/artifacts/uploads/{id}/complete`: the parts' `ETag`s, in part order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    pub etags: Vec<String>,
}

/// Answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// One append-only audit entry: who did what, when, to which request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub at_ms: u64,
    /// A user name, or `system` for the reconciler.
    pub actor: String,
    /// What happened, e.g. `requested`, `approved`, `stop_triggered`, `break_glass`.
    pub action: String,
    #[serde(default)]
    pub operation_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    pub message: String,
}

/// A stored job artifact (a jar), addressed by its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Artifact {
    pub sha256: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub uploaded_by: String,
    pub uploaded_at_ms: u64,
}

/// How to resubmit a job: which artifact, entry class and arguments started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLink {
    pub cluster_id: String,
    pub job_id: String,
    pub artifact_sha256: String,
    #[serde(default)]
    pub entry_class: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub linked_by: String,
    pub linked_at_ms: u64,
}

/// A savepoint the product took, in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavepointRecord {
    pub cluster_id: String,
    pub job_id: String,
    pub operation_id: String,
    pub location: String,
    pub taken_at_ms: u64,
    /// Whether the savepoint is still complete where it was written, read through its storage
    /// (file system or S3) when the catalog is listed; never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<SavepointStorageState>,
}

/// What the savepoint's storage says of it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SavepointStorageState {
    /// Its `_metadata` is there: the job can be restored from it.
    Complete { metadata_bytes: u64 },
    /// Its `_metadata` is gone (deleted, or a retention rule removed it).
    Missing,
    /// The storage could not be read; why.
    Unreadable { reason: String },
}

/// Answer of `GET /api/v1/me`: the caller's name and role by cluster id.
pub type Me = crate::access::Identity;

/// A configured cluster and whether it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterSummary {
    pub id: String,
    pub name: String,
    /// A Flink cluster, or Amazon Managed Service for Apache Flink applications.
    #[serde(default)]
    pub kind: ClusterKind,
    pub reachable: bool,
    #[serde(default)]
    pub flink_version: Option<String>,
    #[serde(default)]
    pub slots_total: u32,
    #[serde(default)]
    pub slots_available: u32,
    pub required_approvals: u32,
    /// Why it is unreachable.
    #[serde(default)]
    pub error: Option<String>,
    /// What Flink's own Web UI allows on this cluster; `None` when its configuration could not
    /// be read.
    #[serde(default)]
    pub web_ui: Option<crate::flink::WebUiActions>,
    /// When an approved request may start on this cluster (configuration): its maintenance
    /// windows and freezes; none means any time.
    #[serde(default)]
    pub schedule: crate::schedule::Schedule,
    /// What the schedule holds a request that would start now for (`None`: nothing), computed
    /// by the server with the schedule's own rule (`schedule::hold_at`); the console shows it.
    #[serde(default)]
    pub hold: Option<crate::schedule::ScheduleHold>,
}

/// What runs a cluster's jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    /// A Flink cluster reached over its REST API.
    #[default]
    Flink,
    /// Amazon Managed Service for Apache Flink applications.
    Msf,
}

/// A job in a cluster's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobListEntry {
    pub id: String,
    pub name: String,
    pub status: crate::flink::JobStatus,
    pub start_time_ms: u64,
    /// The deployment the job belongs to, when the product manages it.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// The job of the same deployment that replaced this one (a savepoint rescale resubmits
    /// under a new job id); `None` for the current job.
    #[serde(default)]
    pub superseded_by: Option<String>,
    /// The latest change made to the deployment outside the product, on its current job.
    #[serde(default)]
    pub out_of_band: Option<crate::drift::OutOfBand>,
    /// An MSF application's status, parallelism, KPUs and autoscaling; `None` for a Flink job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<crate::flink::msf::MsfApplication>,
}

/// A job with what a rescale of it may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetailResponse {
    pub cluster_id: String,
    pub job: crate::flink::JobView,
    pub limits: crate::preflight::Limits,
    /// The strategies and whether each is possible now, with the reason when not.
    pub strategies: Vec<StrategyOption>,
    #[serde(default)]
    pub link: Option<JobLink>,
    /// The job's non-terminal rescale request, if any.
    #[serde(default)]
    pub active_operation: Option<String>,
    /// The deployment the job belongs to: its current job id and every earlier one.
    #[serde(default)]
    pub deployment: Option<crate::deployment::Deployment>,
}

/// Whether a strategy can be used for a job now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StrategyOption {
    pub strategy: crate::operation::Strategy,
    pub possible: bool,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Body of `POST /api/v1/rescales` (and of the pre-flight check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRescale {
    pub cluster_id: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub job_id: String,
    pub target: crate::operation::Target,
    #[serde(default)]
    pub strategy: crate::operation::Strategy,
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S", max_length = 2000))]
    pub reason: String,
    /// Start no earlier than this instant (ms since the Unix epoch), even when approved before
    /// it: at most a minute in the past, and before the request would expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_ms: Option<u64>,
    /// An MSF application with autoscaling on: turn it off in the same update, or keep it (the
    /// target becomes its floor). Pre-flight asks for it then; ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<crate::flink::msf::AutoscalingChoice>,
}

/// Answer of the pre-flight check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreflightResponse {
    pub ok: bool,
    #[serde(default)]
    pub plan: Option<crate::preflight::Plan>,
    #[serde(default)]
    pub failures: Vec<crate::preflight::PreflightFailure>,
    /// The outage predicted for each strategy pre-flight allows, the plan's first (see
    /// [`crate::downtime`]); empty when pre-flight failed.
    #[serde(default)]
    pub downtime: Vec<crate::operation::OutagePrediction>,
}

/// A comment on approve, reject or cancel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: String,
}

/// Body of break-glass: the reason is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BreakGlassBody {
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub reason: String,
}

/// Body of `POST /api/v1/clusters/{cluster}/deployments`: start a job from a stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub artifact_sha256: String,
    #[serde(default)]
    pub entry_class: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 32768))]
    pub parallelism: u32,
}

/// Answer of a deployment: the new job, linked to its artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployResponse {
    pub job_id: String,
    pub link: JobLink,
}

/// Body of `POST /api/v1/clusters/{cluster}/jobs/{job}/link`: adopt a running job by saying
/// which artifact, entry class and arguments started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub artifact_sha256: String,
    #[serde(default)]
    pub entry_class: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

/// Load of one vertex now (`GET /api/v1/clusters/{cluster}/jobs/{job}/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexLoad {
    pub vertex_id: String,
    pub name: String,
    pub parallelism: u32,
    /// The busiest subtask's busy time, 0–1000 ms per second.
    #[serde(default)]
    pub busy_time_ms_per_second: Option<f64>,
    /// The most back-pressured subtask's back-pressured time, 0–1000 ms per second.
    #[serde(default)]
    pub backpressured_time_ms_per_second: Option<f64>,
    /// Records per second into the vertex, all subtasks.
    #[serde(default)]
    pub num_records_in_per_second: Option<f64>,
}
