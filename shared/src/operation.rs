//! The operation record: one rescale request, from its approval through execution to its outcome.
//!
//! The backend stores an [`Operation`] as JSON and rewrites it (compare-and-swap) after every
//! step. Fields added later carry `#[serde(default)]` so older records stay readable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flink::{ClusterView, JobView, SchedulerKind};
use crate::phase::{Phase, PhaseName};
use crate::preflight::supports_in_place_rescale;

/// Approvals a request needs when the record does not say.
pub const DEFAULT_REQUIRED_APPROVALS: u32 = 1;

/// How long a restarted or rescaled job may take to run at its new parallelism, when the record
/// does not say. Restoring large state from a savepoint can take minutes.
pub const DEFAULT_VERIFY_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// Purpose of the trigger id of the stop-with-savepoint call.
pub const STOP_TRIGGER_PURPOSE: &str = "stop-trigger";
/// Purpose of the job id of the job restarted at the target parallelism.
pub const RESTART_JOB_PURPOSE: &str = "restart-job";
/// Purpose of the job id of the job resubmitted at the original parallelism on rollback.
pub const ROLLBACK_JOB_PURPOSE: &str = "rollback-job";

/// Kinds of [`OperationEvent`] this crate writes. The backend may add its own.
pub mod event_kind {
    pub const REQUESTED: &str = "requested";
    pub const APPROVED: &str = "approved";
    pub const BREAK_GLASS: &str = "break_glass";
    pub const APPROVAL_COMPLETE: &str = "approval_complete";
    pub const REJECTED: &str = "rejected";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
    pub const EXECUTION_STARTED: &str = "execution_started";
    pub const STOP_TRIGGERED: &str = "stop_triggered";
    pub const SAVEPOINT_COMPLETED: &str = "savepoint_completed";
    pub const JOB_SUBMITTED: &str = "job_submitted";
    pub const JOB_FOUND: &str = "job_found";
    pub const REQUIREMENTS_SENT: &str = "requirements_sent";
    pub const VERIFIED: &str = "verified";
    pub const ROLLBACK_STARTED: &str = "rollback_started";
    pub const CANCEL_REQUESTED: &str = "cancel_requested";
    pub const ROLLBACK_SUBMITTED: &str = "rollback_submitted";
    pub const ROLLBACK_JOB_FOUND: &str = "rollback_job_found";
    pub const ROLLBACK_REQUIREMENTS_SENT: &str = "rollback_requirements_sent";
    pub const ROLLED_BACK: &str = "rolled_back";
    pub const FAILED: &str = "failed";
}

/// One rescale request and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    /// 32 lowercase hex characters (a uuid without dashes).
    pub id: String,
    pub cluster_id: String,
    /// The Flink job being rescaled.
    pub job_id: String,
    #[serde(default)]
    pub job_name: String,
    pub target: Target,
    #[serde(default)]
    pub requested_strategy: Strategy,
    /// Fixed when execution starts (leaving [`Phase::Approved`]).
    #[serde(default)]
    pub strategy: Option<ResolvedStrategy>,
    /// Why the requester wants the rescale.
    #[serde(default)]
    pub reason: String,
    pub requested_by: String,
    pub created_at_ms: u64,
    /// The request must be approved before this instant, or it expires.
    pub expires_at_ms: u64,
    #[serde(default = "default_required_approvals")]
    pub required_approvals: u32,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub break_glass: Option<BreakGlass>,
    pub phase: Phase,
    /// One span per phase entered, oldest first; the last one is the current phase.
    #[serde(default)]
    pub phase_history: Vec<PhaseSpan>,
    #[serde(default)]
    pub events: Vec<OperationEvent>,
    /// Parallelism by vertex id when execution started.
    #[serde(default)]
    pub original_parallelism: BTreeMap<String, u32>,
    /// Parallelism by vertex id the operation aims for, resolved when execution started.
    #[serde(default)]
    pub target_parallelism: BTreeMap<String, u32>,
    /// The savepoint the original job was stopped with (savepoint strategy).
    #[serde(default)]
    pub savepoint: Option<SavepointRef>,
    /// The job restarted at the target parallelism (savepoint strategy).
    #[serde(default)]
    pub new_job_id: Option<String>,
    /// The job resubmitted at the original parallelism when a savepoint-strategy rescale rolled
    /// back.
    #[serde(default)]
    pub rollback_job_id: Option<String>,
    #[serde(default = "default_verify_timeout_ms")]
    pub verify_timeout_ms: u64,
    /// The uploaded job artifact used to resubmit the job (savepoint strategy).
    #[serde(default)]
    pub artifact: Option<ArtifactRef>,
    /// Held by the reconciler that is performing a side effect on Flink right now, so that a
    /// second reconciler on the same store waits instead of acting too.
    #[serde(default)]
    pub lease: Option<Lease>,
}

/// A reconciler's claim on an operation while it performs one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    /// The reconciler instance (stable across restarts of the same instance).
    pub owner: String,
    pub until_ms: u64,
    /// What it is doing, for people reading the record.
    pub action: String,
}

impl Lease {
    /// Another reconciler holds this lease and it has not expired.
    pub fn blocks(&self, owner: &str, now_ms: u64) -> bool {
        self.owner != owner && now_ms < self.until_ms
    }
}

fn default_required_approvals() -> u32 {
    DEFAULT_REQUIRED_APPROVALS
}

fn default_verify_timeout_ms() -> u64 {
    DEFAULT_VERIFY_TIMEOUT_MS
}

/// What a requester asks for; the inputs of [`Operation::new`].
///
/// `required_approvals`, `approval_window_ms` and `verify_timeout_ms` come from configuration,
/// not from the requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRequest {
    pub cluster_id: String,
    pub job_id: String,
    pub job_name: String,
    pub target: Target,
    pub strategy: Strategy,
    pub reason: String,
    pub requested_by: String,
    pub required_approvals: u32,
    /// How long the request may wait for approval.
    pub approval_window_ms: u64,
    pub verify_timeout_ms: u64,
    pub artifact: Option<ArtifactRef>,
}

impl Operation {
    /// A new request, awaiting approval, with an open span and a `requested` event.
    ///
    /// `id` should be 32 lowercase hex characters (see [`is_flink_id`]); the backend generates it.
    pub fn new(id: String, request: OperationRequest, now_ms: u64) -> Self {
        let requested_event = OperationEvent::by_user(
            now_ms,
            &request.requested_by,
            event_kind::REQUESTED,
            format!(
                "{} requested rescaling job {} to {} ({} strategy): {}",
                request.requested_by,
                request.job_id,
                request.target.describe(),
                request.strategy.as_str(),
                request.reason
            ),
        );
        Self {
            id,
            cluster_id: request.cluster_id,
            job_id: request.job_id,
            job_name: request.job_name,
            target: request.target,
            requested_strategy: request.strategy,
            strategy: None,
            reason: request.reason,
            requested_by: request.requested_by,
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(request.approval_window_ms),
            required_approvals: request.required_approvals,
            approvals: Vec::new(),
            break_glass: None,
            phase: Phase::AwaitingApproval,
            phase_history: vec![PhaseSpan {
                phase: PhaseName::AwaitingApproval,
                started_at_ms: now_ms,
                ended_at_ms: None,
            }],
            events: vec![requested_event],
            original_parallelism: BTreeMap::new(),
            target_parallelism: BTreeMap::new(),
            savepoint: None,
            new_job_id: None,
            rollback_job_id: None,
            verify_timeout_ms: request.verify_timeout_ms,
            artifact: request.artifact,
            lease: None,
        }
    }

    /// Moves to `phase` at `now_ms`.
    ///
    /// Entering a phase with a different name closes the current span and opens a new one; a
    /// terminal phase's span is closed at once. Entering a phase with the same name (its data
    /// changed, say a rollback sub-step) keeps the current span.
    pub fn enter(&mut self, phase: Phase, now_ms: u64) {
        let name = phase.name();
        let same_phase = self.phase.name() == name && self.phase_history.last().is_some_and(|span| span.phase == name);
        self.phase = phase;
        if same_phase {
            return;
        }
        if let Some(span) = self.phase_history.last_mut()
            && span.ended_at_ms.is_none()
        {
            span.ended_at_ms = Some(now_ms.max(span.started_at_ms));
        }
        self.phase_history.push(PhaseSpan {
            phase: name,
            started_at_ms: now_ms,
            ended_at_ms: name.is_terminal().then_some(now_ms),
        });
    }

    /// Appends an event.
    pub fn record(&mut self, event: OperationEvent) {
        self.events.push(event);
    }

    /// The operation ended, one way or another.
    pub fn is_terminal(&self) -> bool {
        self.phase.name().is_terminal()
    }

    /// The operation is approved and not finished: it may touch Flink.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && self.phase != Phase::AwaitingApproval
    }

    pub fn approval_count(&self) -> u32 {
        u32::try_from(self.approvals.len()).unwrap_or(u32::MAX)
    }

    /// Enough people approved, or someone broke the glass.
    pub fn is_approved(&self) -> bool {
        self.break_glass.is_some() || self.approval_count() >= self.required_approvals
    }

    /// Each span's phase and duration in milliseconds, oldest first; `None` for the open span.
    pub fn phase_durations(&self) -> Vec<(PhaseName, Option<u64>)> {
        self.phase_history.iter().map(|span| (span.phase, span.duration_ms())).collect()
    }

    /// The id of the job that carries the workload now, or will when the operation is done:
    /// the restarted job after a completed savepoint-strategy rescale, the rollback job after
    /// a savepoint-strategy rollback, else the original job.
    pub fn current_job_id(&self) -> &str {
        let savepoint_strategy = self.strategy == Some(ResolvedStrategy::Savepoint);
        match (&self.phase, savepoint_strategy) {
            (Phase::Completed, true) => self.new_job_id.as_deref().unwrap_or(&self.job_id),
            (Phase::RolledBack { .. }, true) => self.rollback_job_id.as_deref().unwrap_or(&self.job_id),
            _ => &self.job_id,
        }
    }

    /// `now_ms` is more than the verify timeout after `since_ms`.
    pub fn timed_out(&self, since_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(since_ms) > self.verify_timeout_ms
    }
}

/// The parallelism a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Every vertex at the same parallelism.
    Uniform { parallelism: u32 },
    /// Parallelism by vertex id; vertices not listed keep their current parallelism.
    PerVertex { parallelism: BTreeMap<String, u32> },
}

impl Target {
    /// The full parallelism by vertex id this target means for `job`.
    ///
    /// Vertex ids the job does not have are ignored here; pre-flight reports them
    /// (see [`Target::unknown_vertices`]).
    pub fn resolve(&self, job: &JobView) -> BTreeMap<String, u32> {
        job.vertices
            .iter()
            .map(|vertex| {
                let parallelism = match self {
                    Self::Uniform { parallelism } => *parallelism,
                    Self::PerVertex { parallelism } => {
                        parallelism.get(&vertex.id).copied().unwrap_or(vertex.parallelism)
                    }
                };
                (vertex.id.clone(), parallelism)
            })
            .collect()
    }

    /// Vertex ids of a per-vertex target that `job` does not have.
    pub fn unknown_vertices(&self, job: &JobView) -> Vec<String> {
        match self {
            Self::Uniform { .. } => Vec::new(),
            Self::PerVertex { parallelism } => {
                parallelism.keys().filter(|id| !job.vertices.iter().any(|vertex| &vertex.id == *id)).cloned().collect()
            }
        }
    }

    /// A short human description, e.g. `parallelism 4` or `2 vertices changed`.
    pub fn describe(&self) -> String {
        match self {
            Self::Uniform { parallelism } => format!("parallelism {parallelism}"),
            Self::PerVertex { parallelism } => {
                let listed = parallelism
                    .iter()
                    .map(|(vertex_id, parallelism)| format!("{vertex_id}={parallelism}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("per-vertex parallelism {{{listed}}}")
            }
        }
    }
}

/// How the requester wants the rescale done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In place when the job can be rescaled in place safely, else savepoint.
    #[default]
    Auto,
    /// Stop with a savepoint, restart at the new parallelism.
    Savepoint,
    /// Change the resource requirements of a job on the adaptive scheduler.
    InPlace,
}

impl Strategy {
    /// The strategy execution will use for `job` on `cluster`.
    ///
    /// `Auto` picks in place only when the job runs on the adaptive scheduler, has periodic
    /// checkpointing (an in-place rescale restores from the latest checkpoint; without one the
    /// state is lost) and the cluster's Flink version has the resource requirements endpoint.
    /// An explicit choice is kept as is: pre-flight refuses an in-place rescale the job cannot
    /// take.
    pub fn resolve(self, job: &JobView, cluster: &ClusterView) -> ResolvedStrategy {
        match self {
            Self::Savepoint => ResolvedStrategy::Savepoint,
            Self::InPlace => ResolvedStrategy::InPlace,
            Self::Auto => {
                let in_place_safe = job.scheduler == SchedulerKind::Adaptive
                    && job.checkpointing
                    && job.has_completed_checkpoint != Some(false)
                    && supports_in_place_rescale(&cluster.flink_version) != Some(false);
                if in_place_safe { ResolvedStrategy::InPlace } else { ResolvedStrategy::Savepoint }
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Savepoint => "savepoint",
            Self::InPlace => "in_place",
        }
    }
}

/// The strategy an operation executes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResolvedStrategy {
    Savepoint,
    InPlace,
}

impl ResolvedStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Savepoint => "savepoint",
            Self::InPlace => "in_place",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub by: String,
    pub at_ms: u64,
    #[serde(default)]
    pub comment: String,
}

/// An emergency bypass of the approval count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakGlass {
    pub by: String,
    pub at_ms: u64,
    pub reason: String,
}

/// Something that happened to an operation, for the audit trail and the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationEvent {
    pub at_ms: u64,
    /// The user who acted; `None` for the backend itself.
    #[serde(default)]
    pub actor: Option<String>,
    /// A stable snake_case kind, see [`event_kind`].
    pub kind: String,
    pub message: String,
}

impl OperationEvent {
    /// An event written by the backend.
    pub fn by_system(at_ms: u64, kind: &str, message: impl Into<String>) -> Self {
        Self { at_ms, actor: None, kind: kind.to_owned(), message: message.into() }
    }

    /// An event caused by a user.
    pub fn by_user(at_ms: u64, actor: &str, kind: &str, message: impl Into<String>) -> Self {
        Self { at_ms, actor: Some(actor.to_owned()), kind: kind.to_owned(), message: message.into() }
    }
}

/// A completed savepoint the operation relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavepointRef {
    pub location: String,
    pub trigger_id: String,
    /// When the operation saw it completed.
    pub taken_at_ms: u64,
}

/// The job artifact (jar) the backend resubmits the job from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactRef {
    pub artifact_id: String,
    pub sha256: String,
    #[serde(default)]
    pub entry_class: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

/// The time an operation spent in one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseSpan {
    pub phase: PhaseName,
    pub started_at_ms: u64,
    /// `None` while the phase lasts.
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
}

impl PhaseSpan {
    pub fn duration_ms(&self) -> Option<u64> {
        self.ended_at_ms.map(|ended_at_ms| ended_at_ms.saturating_sub(self.started_at_ms))
    }
}

/// A Flink id (JobID or savepoint TriggerId, 32 lowercase hex characters) derived from an
/// operation id and a purpose.
///
/// The same inputs always give the same id, so a retried call reuses the id of the first
/// attempt: Flink refuses a second job with the same job id and answers a known trigger id
/// with the first trigger's result. This is what makes every step idempotent.
///
/// The hash is 128-bit FNV-1a over length-prefixed inputs, followed by a bijective mix so that
/// ids of one operation do not look alike. It is not cryptographic; it must never change, since
/// records in flight depend on it.
pub fn derive_flink_id(operation_id: &str, purpose: &str) -> String {
    const FNV_OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    const DOMAIN: &str = "rescaler/flink-id/v1";

    let mut hash = FNV_OFFSET_BASIS;
    for field in [DOMAIN, operation_id, purpose] {
        let length = u64::try_from(field.len()).unwrap_or(u64::MAX).to_le_bytes();
        for byte in length.iter().chain(field.as_bytes()) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    format!("{:032x}", mix_bits(hash))
}

/// A bijection on 128-bit values that spreads every input bit over the whole output.
fn mix_bits(mut value: u128) -> u128 {
    const FIRST_MULTIPLIER: u128 = 0x2f8a_91d3_5c4e_b067_a1d4_3e95_c07b_62f1;
    const SECOND_MULTIPLIER: u128 = 0xc3b5_0e72_9f16_d84b_5d27_8a61_f3e0_94c9;
    value ^= value >> 67;
    value = value.wrapping_mul(FIRST_MULTIPLIER);
    value ^= value >> 59;
    value = value.wrapping_mul(SECOND_MULTIPLIER);
    value ^= value >> 64;
    value
}

/// `text` has the shape of a Flink id and of an operation id: 32 lowercase hex characters.
pub fn is_flink_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}
