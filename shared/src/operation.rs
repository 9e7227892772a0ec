//! The operation record: one rescale request, from its approval through execution to its outcome.
//!
//! The backend stores an [`Operation`] as JSON and rewrites it (compare-and-swap) after every
//! step. Fields added later carry `#[serde(default)]` so older records stay readable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flink::msf::AutoscalingChoice;

mod event;
mod flink_id;
mod outage;
mod phase;
mod target;

pub use event::{Approval, BreakGlass, OperationEvent, event_kind};
pub use flink_id::{
    RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE, STOP_TRIGGER_PURPOSE, derive_flink_id, is_flink_id, location_is_under,
    msf_application_job_id, msf_snapshot_location, msf_snapshot_name, normalize_location, savepoint_target,
};
pub use outage::{MeasuredOutage, OutagePrediction};
pub use phase::{Phase, PhaseName, PhaseSpan, RollbackPlan};
pub use target::{ResolvedStrategy, Strategy, Target};

/// Approvals a request needs when the record does not say.
pub const DEFAULT_REQUIRED_APPROVALS: u32 = 1;

/// How long a restarted or rescaled job may take to run at its new parallelism, when the record
/// does not say. Restoring large state from a savepoint can take minutes.
pub const DEFAULT_VERIFY_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// How long a rescaled job must keep running at its target before the rescale is done, when
/// the record does not say: long enough for a job that fails on its first records or its first
/// checkpoint to show it.
pub const DEFAULT_STABLE_FOR_MS: u64 = 10_000;

/// One rescale request and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    /// 32 lowercase hex characters (a uuid without dashes).
    pub id: String,
    pub cluster_id: String,
    /// The Flink job being rescaled.
    pub job_id: String,
    /// The deployment the job belongs to (see [`crate::deployment`]); empty in records written
    /// before deployments existed.
    #[serde(default)]
    pub deployment_id: String,
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
    /// The request starts no earlier than this instant, even when approved before it; never
    /// after [`Operation::expires_at_ms`] (refused when the request is created).
    #[serde(default)]
    pub not_before_ms: Option<u64>,
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
    /// How long the rescaled job must keep running at its target before the rescale counts
    /// as done; a failure inside this window rolls back.
    #[serde(default = "default_stable_for_ms")]
    pub stable_for_ms: u64,
    /// The uploaded job artifact used to resubmit the job (savepoint strategy).
    #[serde(default)]
    pub artifact: Option<ArtifactRef>,
    /// Held by the reconciler that is performing a side effect on Flink right now, so that a
    /// second reconciler on the same store waits instead of acting too.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// The recurring schedule this request is an occurrence of (see [`crate::recurring`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// MSF: what the request does about the application's autoscaling (asked when it is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingChoice>,
    /// MSF: the id of the last `UpdateApplication` operation the request started (the
    /// rescale's, then the rollback's), as MSF answered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msf_operation_id: Option<String>,
    /// The outage the request's rescale was predicted to cause, as its approvers saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_outage: Option<OutagePrediction>,
    /// The outage it caused, recorded when the job was first seen at its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<MeasuredOutage>,
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

fn default_stable_for_ms() -> u64 {
    DEFAULT_STABLE_FOR_MS
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
    /// MSF: what to do about the application's autoscaling.
    pub autoscaling: Option<AutoscalingChoice>,
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
            deployment_id: String::new(),
            job_name: request.job_name,
            target: request.target,
            requested_strategy: request.strategy,
            strategy: None,
            reason: request.reason,
            requested_by: request.requested_by,
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(request.approval_window_ms),
            not_before_ms: None,
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
            stable_for_ms: DEFAULT_STABLE_FOR_MS,
            artifact: request.artifact,
            lease: None,
            schedule_id: None,
            autoscaling: request.autoscaling,
            msf_operation_id: None,
            predicted_outage: None,
            outage: None,
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

    /// What may have one active operation at a time: the job's deployment (all its Flink job
    /// ids), or the job itself in records written before deployments existed.
    pub fn managed_job_id(&self) -> &str {
        if self.deployment_id.is_empty() { &self.job_id } else { &self.deployment_id }
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
