//! The phase machine of an operation: what to read from Flink, what to do next, and the user
//! actions (approve, reject, cancel, break glass) that move a request before it runs.
//!
//! A reconcile pass in the backend goes: [`needs`] → read Flink into an [`Observation`] →
//! [`decide`] → perform the [`Action`] if the decision is [`Decision::Act`] → [`apply`] →
//! compare-and-swap the record. Everything here is pure; only the action touches Flink.
//!
//! A crash after an action and before the write makes the next pass decide the same action
//! again, so every action is idempotent on Flink's side: the same trigger id, the same derived
//! job id, the same resource requirements body, a cancel of a job that already stopped.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::flink::{ClusterView, JobStatus, JobView, SavepointStatus, TaskStatus};
use crate::operation::{
    Approval, BreakGlass, Operation, OperationEvent, RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE, ResolvedStrategy,
    STOP_TRIGGER_PURPOSE, SavepointRef, derive_flink_id, event_kind,
};
use crate::preflight::{self, Plan, job_status_label, task_status_label};

/// Requeue while a request waits for approval (approvals also trigger a pass directly).
pub const APPROVAL_POLL_MS: u64 = 10_000;
/// Requeue while a savepoint is being taken. Every poll is one light REST call; the job is
/// down between the stop and the restart, so polling tightly shortens the downtime.
pub const SAVEPOINT_POLL_MS: u64 = 100;
/// Requeue while a job starts, rescales or stops (the downtime, again: keep it short).
pub const JOB_POLL_MS: u64 = 100;
/// Requeue when this pass lacks an observation the phase needs.
pub const MISSING_OBSERVATION_POLL_MS: u64 = 1_000;
/// First requeue when Flink is unavailable; doubles with every further unavailable pass.
pub const UNAVAILABLE_BACKOFF_BASE_MS: u64 = 1_000;
/// Longest requeue when Flink is unavailable.
pub const UNAVAILABLE_BACKOFF_MAX_MS: u64 = 60_000;

/// Where an operation is in its lifecycle, with the data valid in that phase only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for enough approvals (or a break-glass) before the approval window closes.
    AwaitingApproval,
    /// Approved; the next pass re-runs pre-flight and starts execution. Nothing touched yet.
    Approved,
    /// Savepoint strategy: stopping the job with a savepoint. The trigger id is written before
    /// the stop call, so a retried call reuses it.
    Stopping {
        trigger_id: String,
    },
    /// Savepoint strategy: the savepoint is complete (its location written); submitting the job
    /// at the target parallelism under a derived job id.
    Restarting {
        savepoint_location: String,
        new_job_id: String,
        since_ms: u64,
    },
    /// In-place strategy: sending the target resource requirements to the adaptive scheduler.
    Applying {
        since_ms: u64,
    },
    /// Waiting for `job_id` to run at the target parallelism.
    Verifying {
        job_id: String,
        since_ms: u64,
    },
    /// The rescale failed after touching the job; restoring the original parallelism.
    RollingBack {
        reason: String,
        rollback: RollbackPlan,
    },
    /// The job runs at the target parallelism.
    Completed,
    /// The rescale failed and the job runs at its original parallelism again.
    RolledBack {
        reason: String,
    },
    /// The operation stopped without reaching its goal; `reason` says what became of the job
    /// and what an operator should do.
    Failed {
        reason: String,
    },
    Rejected {
        by: String,
        comment: String,
    },
    Cancelled {
        by: String,
        comment: String,
    },
    /// Not approved within the approval window.
    Expired,
}

/// How a rollback restores the original parallelism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackPlan {
    /// Savepoint strategy: cancel the failed new job if it is still alive, then resubmit the
    /// job at its original parallelism from the same savepoint.
    Resubmit {
        failed_job_id: String,
        savepoint_location: String,
        rollback_job_id: String,
        since_ms: u64,
        /// When the rollback job was submitted (or first seen).
        #[serde(default)]
        submitted_at_ms: Option<u64>,
    },
    /// In-place strategy: send the original resource requirements back.
    InPlace {
        since_ms: u64,
        /// When the original requirements were sent.
        #[serde(default)]
        requirements_sent_at_ms: Option<u64>,
    },
}

/// The name of a [`Phase`] without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    AwaitingApproval,
    Approved,
    Stopping,
    Restarting,
    Applying,
    Verifying,
    RollingBack,
    Completed,
    RolledBack,
    Failed,
    Rejected,
    Cancelled,
    Expired,
}

impl PhaseName {
    pub const ALL: [Self; 13] = [
        Self::AwaitingApproval,
        Self::Approved,
        Self::Stopping,
        Self::Restarting,
        Self::Applying,
        Self::Verifying,
        Self::RollingBack,
        Self::Completed,
        Self::RolledBack,
        Self::Failed,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The operation ended in this phase; nothing will move it again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::RolledBack | Self::Failed | Self::Rejected | Self::Cancelled | Self::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Approved => "approved",
            Self::Stopping => "stopping",
            Self::Restarting => "restarting",
            Self::Applying => "applying",
            Self::Verifying => "verifying",
            Self::RollingBack => "rolling_back",
            Self::Completed => "completed",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for PhaseName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Phase {
    pub fn name(&self) -> PhaseName {
        match self {
            Self::AwaitingApproval => PhaseName::AwaitingApproval,
            Self::Approved => PhaseName::Approved,
            Self::Stopping { .. } => PhaseName::Stopping,
            Self::Restarting { .. } => PhaseName::Restarting,
            Self::Applying { .. } => PhaseName::Applying,
            Self::Verifying { .. } => PhaseName::Verifying,
            Self::RollingBack { .. } => PhaseName::RollingBack,
            Self::Completed => PhaseName::Completed,
            Self::RolledBack { .. } => PhaseName::RolledBack,
            Self::Failed { .. } => PhaseName::Failed,
            Self::Rejected { .. } => PhaseName::Rejected,
            Self::Cancelled { .. } => PhaseName::Cancelled,
            Self::Expired => PhaseName::Expired,
        }
    }
}

/// What Flink said about one id: it does not exist, or here it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen<T> {
    /// Flink answered that this id does not exist.
    Absent,
    Present(T),
}

impl<T> Seen<T> {
    pub fn present(&self) -> Option<&T> {
        match self {
            Self::Absent => None,
            Self::Present(value) => Some(value),
        }
    }
}

/// What one reconcile pass read. `None` means "not read in this pass".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub now_ms: u64,
    /// The original job ([`Operation::job_id`]).
    #[serde(default)]
    pub job: Option<Seen<JobView>>,
    /// The job this operation submitted at the target parallelism ([`Needs::new_job`]).
    #[serde(default)]
    pub new_job: Option<Seen<JobView>>,
    /// The job this operation submitted at the original parallelism on rollback
    /// ([`Needs::rollback_job`]).
    #[serde(default)]
    pub rollback_job: Option<Seen<JobView>>,
    /// The status of the stop-with-savepoint trigger ([`Needs::savepoint`]).
    #[serde(default)]
    pub savepoint: Option<SavepointStatus>,
    #[serde(default)]
    pub cluster: Option<ClusterView>,
    /// The savepoint directory configured for the cluster. Configuration, not read from Flink:
    /// the backend always fills it when one is configured.
    #[serde(default)]
    pub savepoint_directory: Option<String>,
    /// Flink could not be reached or answered with a server error; why.
    #[serde(default)]
    pub flink_unavailable: Option<String>,
    /// How many passes in a row before this one found Flink unavailable (0 when unknown);
    /// drives the backoff.
    #[serde(default)]
    pub unavailable_streak: u32,
}

impl Observation {
    /// An observation at `now_ms` that read nothing.
    pub fn at(now_ms: u64) -> Self {
        Self {
            now_ms,
            job: None,
            new_job: None,
            rollback_job: None,
            savepoint: None,
            cluster: None,
            savepoint_directory: None,
            flink_unavailable: None,
            unavailable_streak: 0,
        }
    }
}

/// What the backend should read before calling [`decide`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Needs {
    /// Read the original job into [`Observation::job`].
    pub job: bool,
    /// Read this job into [`Observation::new_job`].
    pub new_job: Option<String>,
    /// Read this job into [`Observation::rollback_job`].
    pub rollback_job: Option<String>,
    /// Read this savepoint trigger into [`Observation::savepoint`].
    pub savepoint: Option<SavepointQuery>,
    /// Read the cluster overview into [`Observation::cluster`].
    pub cluster: bool,
}

impl Needs {
    /// Nothing to read: the pass needs no Flink access.
    pub fn is_nothing(&self) -> bool {
        *self == Self::default()
    }
}

/// A savepoint trigger to look up (`GET /jobs/:job_id/savepoints/:trigger_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointQuery {
    pub job_id: String,
    pub trigger_id: String,
}

/// What to read from Flink for the operation's current phase.
pub fn needs(op: &Operation) -> Needs {
    match &op.phase {
        Phase::Approved => Needs { job: true, cluster: true, ..Needs::default() },
        Phase::Stopping { trigger_id } => Needs {
            job: true,
            savepoint: Some(SavepointQuery { job_id: op.job_id.clone(), trigger_id: trigger_id.clone() }),
            ..Needs::default()
        },
        Phase::Restarting { new_job_id, .. } => {
            Needs { job: true, new_job: Some(new_job_id.clone()), ..Needs::default() }
        }
        Phase::Applying { .. } => Needs { job: true, ..Needs::default() },
        Phase::Verifying { job_id, .. } => {
            if *job_id == op.job_id {
                Needs { job: true, ..Needs::default() }
            } else {
                Needs { new_job: Some(job_id.clone()), ..Needs::default() }
            }
        }
        Phase::RollingBack { rollback: RollbackPlan::Resubmit { failed_job_id, rollback_job_id, .. }, .. } => Needs {
            new_job: Some(failed_job_id.clone()),
            rollback_job: Some(rollback_job_id.clone()),
            ..Needs::default()
        },
        Phase::RollingBack { rollback: RollbackPlan::InPlace { .. }, .. } => Needs { job: true, ..Needs::default() },
        Phase::AwaitingApproval
        | Phase::Completed
        | Phase::RolledBack { .. }
        | Phase::Failed { .. }
        | Phase::Rejected { .. }
        | Phase::Cancelled { .. }
        | Phase::Expired => Needs::default(),
    }
}

/// What the backend should do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Nothing to do yet; look again later.
    Wait { requeue_after_ms: u64, why: String },
    /// Write a new phase (and the plan, when execution starts) without touching Flink.
    Transition {
        to: Phase,
        event: OperationEvent,
        #[serde(default)]
        plan: Option<Plan>,
    },
    /// Perform exactly one action on Flink, then write `then`. If the action fails, write
    /// nothing: the next pass decides again.
    Act { action: Action, then: Phase, event: OperationEvent },
    /// The operation is terminal.
    Done,
}

impl Decision {
    /// When to run the next pass: right away after a write, later after a wait, never when done.
    pub fn requeue_after_ms(&self) -> Option<u64> {
        match self {
            Self::Wait { requeue_after_ms, .. } => Some(*requeue_after_ms),
            Self::Transition { .. } | Self::Act { .. } => Some(0),
            Self::Done => None,
        }
    }
}

/// One side effect on Flink. Each is idempotent when repeated with the same data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `POST /jobs/:job_id/stop` with the savepoint directory and this trigger id. Flink
    /// answers a repeated trigger id with the first trigger.
    StopWithSavepoint { job_id: String, trigger_id: String },
    /// Submit the operation's artifact under this job id, restoring from the savepoint, at this
    /// parallelism by vertex id. Flink refuses a second job with the same id: the backend
    /// treats "duplicate job" as success.
    SubmitJob { job_id: String, savepoint_location: String, parallelism: BTreeMap<String, u32> },
    /// `PUT /jobs/:job_id/resource-requirements` with this parallelism by vertex id.
    PutResourceRequirements { job_id: String, parallelism: BTreeMap<String, u32> },
    /// `PATCH /jobs/:job_id?mode=cancel`. Harmless on a job that already stopped.
    CancelJob { job_id: String },
}

/// Decides the next step of `op` from what this pass observed.
///
/// While Flink is unavailable an active operation only waits: no phase moves on a guess.
pub fn decide(op: &Operation, obs: &Observation) -> Decision {
    if op.is_terminal() {
        return Decision::Done;
    }
    if op.phase == Phase::AwaitingApproval {
        return decide_awaiting_approval(op, obs.now_ms);
    }
    if let Some(cause) = &obs.flink_unavailable {
        return Decision::Wait {
            requeue_after_ms: unavailable_backoff_ms(obs.unavailable_streak),
            why: format!("flink is unavailable: {cause}"),
        };
    }
    match &op.phase {
        Phase::Approved => decide_approved(op, obs),
        Phase::Stopping { trigger_id } => decide_stopping(op, obs, trigger_id),
        Phase::Restarting { savepoint_location, new_job_id, since_ms } => {
            decide_restarting(op, obs, savepoint_location, new_job_id, *since_ms)
        }
        Phase::Applying { since_ms } => decide_applying(op, obs, *since_ms),
        Phase::Verifying { job_id, since_ms } => decide_verifying(op, obs, job_id, *since_ms),
        Phase::RollingBack { reason, rollback } => match rollback {
            RollbackPlan::Resubmit {
                failed_job_id,
                savepoint_location,
                rollback_job_id,
                since_ms,
                submitted_at_ms,
            } => decide_resubmit_rollback(
                op,
                obs,
                reason,
                ResubmitRollback {
                    failed_job_id,
                    savepoint_location,
                    rollback_job_id,
                    since_ms: *since_ms,
                    submitted_at_ms: *submitted_at_ms,
                },
            ),
            RollbackPlan::InPlace { since_ms, requirements_sent_at_ms } => {
                decide_in_place_rollback(op, obs, reason, *since_ms, *requirements_sent_at_ms)
            }
        },
        Phase::AwaitingApproval
        | Phase::Completed
        | Phase::RolledBack { .. }
        | Phase::Failed { .. }
        | Phase::Rejected { .. }
        | Phase::Cancelled { .. }
        | Phase::Expired => Decision::Done,
    }
}

/// The requeue after `streak` unavailable passes in a row: 1 s, 2 s, 4 s … up to a minute.
pub fn unavailable_backoff_ms(streak: u32) -> u64 {
    let factor = 1_u64.checked_shl(streak.min(16)).unwrap_or(u64::MAX);
    UNAVAILABLE_BACKOFF_BASE_MS.saturating_mul(factor).min(UNAVAILABLE_BACKOFF_MAX_MS)
}

fn decide_awaiting_approval(op: &Operation, now_ms: u64) -> Decision {
    // Approvals are refused once the window closed, so any recorded approval came in time.
    if let Some(break_glass) = &op.break_glass {
        return transition(
            Phase::Approved,
            OperationEvent::by_system(
                now_ms,
                event_kind::APPROVAL_COMPLETE,
                format!("approval bypassed by {}'s break-glass", break_glass.by),
            ),
        );
    }
    if op.approval_count() >= op.required_approvals {
        return transition(
            Phase::Approved,
            OperationEvent::by_system(
                now_ms,
                event_kind::APPROVAL_COMPLETE,
                format!("approved by {} of {} required", op.approval_count(), op.required_approvals),
            ),
        );
    }
    if now_ms >= op.expires_at_ms {
        return transition(
            Phase::Expired,
            OperationEvent::by_system(
                now_ms,
                event_kind::EXPIRED,
                format!("not approved in time: {} of {} approvals", op.approval_count(), op.required_approvals),
            ),
        );
    }
    Decision::Wait {
        requeue_after_ms: APPROVAL_POLL_MS.min(op.expires_at_ms - now_ms),
        why: format!("waiting for approval: {} of {}", op.approval_count(), op.required_approvals),
    }
}

fn decide_approved(op: &Operation, obs: &Observation) -> Decision {
    let now_ms = obs.now_ms;
    let Some(job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let Some(cluster) = &obs.cluster else {
        return wait_for_observation("the cluster overview");
    };
    let Seen::Present(job) = job else {
        return fail(now_ms, format!("job {} no longer exists; nothing was changed", op.job_id));
    };
    if job.status != JobStatus::Running {
        return fail(
            now_ms,
            format!("job {} is {}, not RUNNING; nothing was changed", op.job_id, job_status_label(job.status)),
        );
    }
    let checked = preflight::check(
        &op.target,
        op.requested_strategy,
        job,
        cluster,
        obs.savepoint_directory.as_deref(),
        op.artifact.is_some(),
    );
    let plan = match checked {
        Ok(plan) => plan,
        Err(failures) => {
            let messages = failures.iter().map(|failure| failure.message.as_str()).collect::<Vec<_>>().join("; ");
            return fail(now_ms, format!("pre-flight failed: {messages}; nothing was changed"));
        }
    };
    let (to, message) = match plan.strategy {
        ResolvedStrategy::Savepoint => (
            Phase::Stopping { trigger_id: derive_flink_id(&op.id, STOP_TRIGGER_PURPOSE) },
            format!(
                "savepoint strategy: stopping job {} with a savepoint, then restarting it at {}",
                op.job_id,
                describe_parallelism(job, &plan.target)
            ),
        ),
        ResolvedStrategy::InPlace => (
            Phase::Applying { since_ms: now_ms },
            format!("in-place strategy: rescaling job {} to {}", op.job_id, describe_parallelism(job, &plan.target)),
        ),
    };
    Decision::Transition {
        to,
        event: OperationEvent::by_system(now_ms, event_kind::EXECUTION_STARTED, message),
        plan: Some(plan),
    }
}

fn decide_stopping(op: &Operation, obs: &Observation, trigger_id: &str) -> Decision {
    let now_ms = obs.now_ms;
    let Some(job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let Some(savepoint) = &obs.savepoint else {
        return wait_for_observation(&format!("savepoint trigger {trigger_id}"));
    };
    match savepoint {
        SavepointStatus::InProgress => Decision::Wait {
            requeue_after_ms: SAVEPOINT_POLL_MS,
            why: format!("savepoint of job {} in progress", op.job_id),
        },
        SavepointStatus::Completed { location } => match job {
            Seen::Present(job) if !job.status.is_terminal() => Decision::Wait {
                requeue_after_ms: JOB_POLL_MS,
                why: format!(
                    "savepoint completed at {location}; waiting for job {} to finish (it is {})",
                    op.job_id,
                    job_status_label(job.status)
                ),
            },
            Seen::Present(_) | Seen::Absent => transition(
                Phase::Restarting {
                    savepoint_location: location.clone(),
                    new_job_id: derive_flink_id(&op.id, RESTART_JOB_PURPOSE),
                    since_ms: now_ms,
                },
                OperationEvent::by_system(
                    now_ms,
                    event_kind::SAVEPOINT_COMPLETED,
                    format!("job {} stopped with savepoint {location}", op.job_id),
                ),
            ),
        },
        SavepointStatus::Failed { cause } => {
            let reason = match job {
                Seen::Present(job) if job.status == JobStatus::Running => {
                    format!("savepoint failed: {cause}; job {} is still RUNNING, untouched", op.job_id)
                }
                Seen::Present(job) => format!(
                    "savepoint failed: {cause}; job {} is {} and no savepoint was taken: \
                     restore it from its latest checkpoint",
                    op.job_id,
                    job_status_label(job.status)
                ),
                Seen::Absent => format!(
                    "savepoint failed: {cause}; job {} no longer exists and no savepoint was \
                     taken: restore it from its latest checkpoint",
                    op.job_id
                ),
            };
            fail(now_ms, reason)
        }
        SavepointStatus::Unknown => match job {
            Seen::Present(job) if job.status == JobStatus::Running => Decision::Act {
                action: Action::StopWithSavepoint { job_id: op.job_id.clone(), trigger_id: trigger_id.to_owned() },
                then: Phase::Stopping { trigger_id: trigger_id.to_owned() },
                event: OperationEvent::by_system(
                    now_ms,
                    event_kind::STOP_TRIGGERED,
                    format!("stop-with-savepoint of job {} triggered (trigger {trigger_id})", op.job_id),
                ),
            },
            // This is where a later version may look the savepoint up in the job's checkpoint
            // history instead of failing.
            Seen::Present(job) if job.status == JobStatus::Finished => fail(
                now_ms,
                format!(
                    "flink no longer knows stop trigger {trigger_id} and job {} is FINISHED: the \
                     stop probably completed but its savepoint location was lost (jobmanager \
                     restart?); find the savepoint in the job's checkpoint history or the \
                     savepoint directory and restore the job from it by hand",
                    op.job_id
                ),
            ),
            Seen::Present(job) if job.status.is_terminal() => fail(
                now_ms,
                format!(
                    "job {} is {} and flink knows no savepoint for trigger {trigger_id}: \
                     restore it from its latest checkpoint",
                    op.job_id,
                    job_status_label(job.status)
                ),
            ),
            Seen::Present(job) => Decision::Wait {
                requeue_after_ms: JOB_POLL_MS,
                why: format!(
                    "job {} is {}; waiting for it to run before stopping it",
                    op.job_id,
                    job_status_label(job.status)
                ),
            },
            Seen::Absent => fail(
                now_ms,
                format!(
                    "job {} no longer exists and flink does not know stop trigger {trigger_id}: \
                     if the stop completed, find the savepoint in the savepoint directory and \
                     restore the job from it by hand",
                    op.job_id
                ),
            ),
        },
    }
}

fn decide_restarting(
    op: &Operation,
    obs: &Observation,
    savepoint_location: &str,
    new_job_id: &str,
    since_ms: u64,
) -> Decision {
    let now_ms = obs.now_ms;
    let Some(original_job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let Some(new_job) = &obs.new_job else {
        return wait_for_observation(&format!("job {new_job_id}"));
    };
    if let Seen::Present(_) = new_job {
        return transition(
            Phase::Verifying { job_id: new_job_id.to_owned(), since_ms: now_ms },
            OperationEvent::by_system(
                now_ms,
                event_kind::JOB_FOUND,
                format!("job {new_job_id} was already submitted; verifying it"),
            ),
        );
    }
    if let Seen::Present(original_job) = original_job
        && !original_job.status.is_terminal()
    {
        return fail(
            now_ms,
            format!(
                "job {} is {} again although it was stopped with savepoint {savepoint_location}; \
                 not starting a second copy",
                op.job_id,
                job_status_label(original_job.status)
            ),
        );
    }
    if op.timed_out(since_ms, now_ms) {
        let reason =
            format!("job {new_job_id} could not be submitted within {}", describe_duration(op.verify_timeout_ms));
        return start_resubmit_rollback(op, now_ms, reason, new_job_id, savepoint_location);
    }
    Decision::Act {
        action: Action::SubmitJob {
            job_id: new_job_id.to_owned(),
            savepoint_location: savepoint_location.to_owned(),
            parallelism: op.target_parallelism.clone(),
        },
        then: Phase::Verifying { job_id: new_job_id.to_owned(), since_ms: now_ms },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::JOB_SUBMITTED,
            format!("job {new_job_id} submitted from savepoint {savepoint_location}"),
        ),
    }
}

fn decide_applying(op: &Operation, obs: &Observation, since_ms: u64) -> Decision {
    let now_ms = obs.now_ms;
    let Some(job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let job = match job {
        Seen::Absent => {
            return fail(
                now_ms,
                format!(
                    "job {} disappeared while its new resource requirements were being sent; \
                     restore it from its latest checkpoint",
                    op.job_id
                ),
            );
        }
        Seen::Present(job) => job,
    };
    if job.status.is_terminal() {
        return fail(
            now_ms,
            format!(
                "job {} is {} while its new resource requirements were being sent; restore it \
                 from its latest checkpoint",
                op.job_id,
                job_status_label(job.status)
            ),
        );
    }
    if op.timed_out(since_ms, now_ms) {
        return start_in_place_rollback(
            now_ms,
            format!(
                "the new resource requirements could not be sent within {}",
                describe_duration(op.verify_timeout_ms)
            ),
        );
    }
    Decision::Act {
        action: Action::PutResourceRequirements {
            job_id: op.job_id.clone(),
            parallelism: op.target_parallelism.clone(),
        },
        then: Phase::Verifying { job_id: op.job_id.clone(), since_ms: now_ms },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::REQUIREMENTS_SENT,
            format!(
                "resource requirements of job {} set to {}",
                op.job_id,
                describe_parallelism(job, &op.target_parallelism)
            ),
        ),
    }
}

fn decide_verifying(op: &Operation, obs: &Observation, job_id: &str, since_ms: u64) -> Decision {
    let now_ms = obs.now_ms;
    let in_place = job_id == op.job_id;
    let seen = if in_place { &obs.job } else { &obs.new_job };
    let Some(seen) = seen else {
        return wait_for_observation(&format!("job {job_id}"));
    };
    let target = &op.target_parallelism;
    let failure = match seen {
        Seen::Present(job) if job.runs_at(target) => {
            return transition(
                Phase::Completed,
                OperationEvent::by_system(
                    now_ms,
                    event_kind::VERIFIED,
                    format!("job {job_id} runs at {}", describe_parallelism(job, target)),
                ),
            );
        }
        Seen::Absent => format!("job {job_id} disappeared before it ran at the target parallelism"),
        Seen::Present(job) if job.status.is_terminal() => {
            format!("job {job_id} is {} before it ran at the target parallelism", job_status_label(job.status))
        }
        Seen::Present(job) if op.timed_out(since_ms, now_ms) => format!(
            "job {job_id} did not run at the target parallelism within {}: {}",
            describe_duration(op.verify_timeout_ms),
            describe_progress(job, target)
        ),
        Seen::Present(job) => {
            return Decision::Wait {
                requeue_after_ms: JOB_POLL_MS,
                why: format!("verifying job {job_id}: {}", describe_progress(job, target)),
            };
        }
    };
    if in_place {
        let job_alive = matches!(seen, Seen::Present(job) if !job.status.is_terminal());
        if !job_alive {
            return fail(
                now_ms,
                format!(
                    "{failure}; an in-place rollback is impossible: restore the job from its \
                     latest checkpoint"
                ),
            );
        }
        return start_in_place_rollback(now_ms, failure);
    }
    match &op.savepoint {
        Some(savepoint) => start_resubmit_rollback(op, now_ms, failure, job_id, &savepoint.location),
        None => fail(now_ms, format!("{failure}; the operation recorded no savepoint to roll back to")),
    }
}

/// The data of [`RollbackPlan::Resubmit`], borrowed.
struct ResubmitRollback<'a> {
    failed_job_id: &'a str,
    savepoint_location: &'a str,
    rollback_job_id: &'a str,
    since_ms: u64,
    submitted_at_ms: Option<u64>,
}

impl ResubmitRollback<'_> {
    fn phase(&self, reason: &str, submitted_at_ms: Option<u64>) -> Phase {
        Phase::RollingBack {
            reason: reason.to_owned(),
            rollback: RollbackPlan::Resubmit {
                failed_job_id: self.failed_job_id.to_owned(),
                savepoint_location: self.savepoint_location.to_owned(),
                rollback_job_id: self.rollback_job_id.to_owned(),
                since_ms: self.since_ms,
                submitted_at_ms,
            },
        }
    }
}

fn decide_resubmit_rollback(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    rollback: ResubmitRollback<'_>,
) -> Decision {
    let now_ms = obs.now_ms;
    let rollback_job_id = rollback.rollback_job_id;
    let savepoint_location = rollback.savepoint_location;
    let Some(rollback_job) = &obs.rollback_job else {
        return wait_for_observation(&format!("job {rollback_job_id}"));
    };
    let original = &op.original_parallelism;
    match (rollback_job, rollback.submitted_at_ms) {
        (Seen::Present(job), _) if job.runs_at(original) => transition(
            Phase::RolledBack { reason: reason.to_owned() },
            OperationEvent::by_system(
                now_ms,
                event_kind::ROLLED_BACK,
                format!("job {rollback_job_id} runs at the original {}", describe_parallelism(job, original)),
            ),
        ),
        (Seen::Present(job), _) if job.status.is_terminal() => fail(
            now_ms,
            format!(
                "rollback job {rollback_job_id} is {}; restore the job by hand from savepoint \
                 {savepoint_location} (the rescale failed: {reason})",
                job_status_label(job.status)
            ),
        ),
        (Seen::Present(_), None) => transition(
            rollback.phase(reason, Some(now_ms)),
            OperationEvent::by_system(
                now_ms,
                event_kind::ROLLBACK_JOB_FOUND,
                format!("rollback job {rollback_job_id} was already submitted; verifying it"),
            ),
        ),
        (Seen::Present(job), Some(submitted_at_ms)) => {
            if op.timed_out(submitted_at_ms, now_ms) {
                fail(
                    now_ms,
                    format!(
                        "rollback job {rollback_job_id} did not run at the original parallelism \
                         within {}: {}; restore the job by hand from savepoint \
                         {savepoint_location} (the rescale failed: {reason})",
                        describe_duration(op.verify_timeout_ms),
                        describe_progress(job, original)
                    ),
                )
            } else {
                Decision::Wait {
                    requeue_after_ms: JOB_POLL_MS,
                    why: format!("verifying rollback job {rollback_job_id}: {}", describe_progress(job, original)),
                }
            }
        }
        (Seen::Absent, Some(_)) => fail(
            now_ms,
            format!(
                "rollback job {rollback_job_id} disappeared after it was submitted; restore the \
                 job by hand from savepoint {savepoint_location} (the rescale failed: {reason})"
            ),
        ),
        (Seen::Absent, None) => decide_resubmit_before_submission(op, obs, reason, &rollback),
    }
}

/// A resubmit rollback whose rollback job does not exist yet: stop the failed job, then submit.
fn decide_resubmit_before_submission(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    rollback: &ResubmitRollback<'_>,
) -> Decision {
    let now_ms = obs.now_ms;
    let failed_job_id = rollback.failed_job_id;
    let savepoint_location = rollback.savepoint_location;
    let Some(failed_job) = &obs.new_job else {
        return wait_for_observation(&format!("job {failed_job_id}"));
    };
    let timed_out = op.timed_out(rollback.since_ms, now_ms);
    if let Seen::Present(job) = failed_job
        && !job.status.is_terminal()
    {
        if timed_out {
            return fail(
                now_ms,
                format!(
                    "failed job {failed_job_id} did not stop within {} (it is {}): cancel it, \
                     then restore the job by hand from savepoint {savepoint_location} (the \
                     rescale failed: {reason})",
                    describe_duration(op.verify_timeout_ms),
                    job_status_label(job.status)
                ),
            );
        }
        if job.status == JobStatus::Cancelling {
            return Decision::Wait {
                requeue_after_ms: JOB_POLL_MS,
                why: format!("waiting for failed job {failed_job_id} to cancel"),
            };
        }
        return Decision::Act {
            action: Action::CancelJob { job_id: failed_job_id.to_owned() },
            then: rollback.phase(reason, None),
            event: OperationEvent::by_system(
                now_ms,
                event_kind::CANCEL_REQUESTED,
                format!("cancelling failed job {failed_job_id} (it was {})", job_status_label(job.status)),
            ),
        };
    }
    if timed_out {
        return fail(
            now_ms,
            format!(
                "rollback job {} could not be submitted within {}: restore the job by hand from \
                 savepoint {savepoint_location} (the rescale failed: {reason})",
                rollback.rollback_job_id,
                describe_duration(op.verify_timeout_ms)
            ),
        );
    }
    Decision::Act {
        action: Action::SubmitJob {
            job_id: rollback.rollback_job_id.to_owned(),
            savepoint_location: savepoint_location.to_owned(),
            parallelism: op.original_parallelism.clone(),
        },
        then: rollback.phase(reason, Some(now_ms)),
        event: OperationEvent::by_system(
            now_ms,
            event_kind::ROLLBACK_SUBMITTED,
            format!(
                "rollback job {} submitted from savepoint {savepoint_location} at the original \
                 parallelism",
                rollback.rollback_job_id
            ),
        ),
    }
}

fn decide_in_place_rollback(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    since_ms: u64,
    requirements_sent_at_ms: Option<u64>,
) -> Decision {
    let now_ms = obs.now_ms;
    let Some(job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let job = match job {
        Seen::Absent => {
            return fail(
                now_ms,
                format!(
                    "job {} disappeared during the rollback: restore it from its latest \
                     checkpoint (the rescale failed: {reason})",
                    op.job_id
                ),
            );
        }
        Seen::Present(job) => job,
    };
    let original = &op.original_parallelism;
    if job.status.is_terminal() {
        return fail(
            now_ms,
            format!(
                "job {} is {} during the rollback: restore it from its latest checkpoint (the \
                 rescale failed: {reason})",
                op.job_id,
                job_status_label(job.status)
            ),
        );
    }
    match requirements_sent_at_ms {
        None if op.timed_out(since_ms, now_ms) => fail(
            now_ms,
            format!(
                "the original resource requirements of job {} could not be sent back within {}: \
                 {}; set them by hand (the rescale failed: {reason})",
                op.job_id,
                describe_duration(op.verify_timeout_ms),
                describe_progress(job, original)
            ),
        ),
        None => Decision::Act {
            action: Action::PutResourceRequirements { job_id: op.job_id.clone(), parallelism: original.clone() },
            then: Phase::RollingBack {
                reason: reason.to_owned(),
                rollback: RollbackPlan::InPlace { since_ms, requirements_sent_at_ms: Some(now_ms) },
            },
            event: OperationEvent::by_system(
                now_ms,
                event_kind::ROLLBACK_REQUIREMENTS_SENT,
                format!(
                    "resource requirements of job {} set back to {}",
                    op.job_id,
                    describe_parallelism(job, original)
                ),
            ),
        },
        Some(_) if job.runs_at(original) => transition(
            Phase::RolledBack { reason: reason.to_owned() },
            OperationEvent::by_system(
                now_ms,
                event_kind::ROLLED_BACK,
                format!("job {} runs at the original {}", op.job_id, describe_parallelism(job, original)),
            ),
        ),
        Some(sent_at_ms) if op.timed_out(sent_at_ms, now_ms) => fail(
            now_ms,
            format!(
                "job {} did not return to its original parallelism within {}: {} (the rescale \
                 failed: {reason})",
                op.job_id,
                describe_duration(op.verify_timeout_ms),
                describe_progress(job, original)
            ),
        ),
        Some(_) => Decision::Wait {
            requeue_after_ms: JOB_POLL_MS,
            why: format!("rolling back job {}: {}", op.job_id, describe_progress(job, original)),
        },
    }
}

fn start_resubmit_rollback(
    op: &Operation,
    now_ms: u64,
    reason: String,
    failed_job_id: &str,
    savepoint_location: &str,
) -> Decision {
    let message = format!("rolling back from savepoint {savepoint_location}: {reason}");
    transition(
        Phase::RollingBack {
            reason,
            rollback: RollbackPlan::Resubmit {
                failed_job_id: failed_job_id.to_owned(),
                savepoint_location: savepoint_location.to_owned(),
                rollback_job_id: derive_flink_id(&op.id, ROLLBACK_JOB_PURPOSE),
                since_ms: now_ms,
                submitted_at_ms: None,
            },
        },
        OperationEvent::by_system(now_ms, event_kind::ROLLBACK_STARTED, message),
    )
}

fn start_in_place_rollback(now_ms: u64, reason: String) -> Decision {
    let message = format!("rolling back in place: {reason}");
    transition(
        Phase::RollingBack {
            reason,
            rollback: RollbackPlan::InPlace { since_ms: now_ms, requirements_sent_at_ms: None },
        },
        OperationEvent::by_system(now_ms, event_kind::ROLLBACK_STARTED, message),
    )
}

fn transition(to: Phase, event: OperationEvent) -> Decision {
    Decision::Transition { to, event, plan: None }
}

fn fail(now_ms: u64, reason: String) -> Decision {
    transition(Phase::Failed { reason: reason.clone() }, OperationEvent::by_system(now_ms, event_kind::FAILED, reason))
}

fn wait_for_observation(what: &str) -> Decision {
    Decision::Wait { requeue_after_ms: MISSING_OBSERVATION_POLL_MS, why: format!("{what} was not read in this pass") }
}

/// `Source: numbers 2 → 4, Sink 2 → 4` style summary of a target against a job.
fn describe_parallelism(job: &JobView, parallelism: &BTreeMap<String, u32>) -> String {
    let parts = job
        .vertices
        .iter()
        .filter_map(|vertex| {
            let wanted = parallelism.get(&vertex.id)?;
            Some(if *wanted == vertex.parallelism {
                format!("'{}' {wanted}", vertex.name)
            } else {
                format!("'{}' {} → {wanted}", vertex.name, vertex.parallelism)
            })
        })
        .collect::<Vec<_>>();
    if parts.is_empty() { "parallelism by vertex {}".to_owned() } else { format!("parallelism {}", parts.join(", ")) }
}

/// What still keeps `job` from running at `parallelism`.
fn describe_progress(job: &JobView, parallelism: &BTreeMap<String, u32>) -> String {
    if job.status != JobStatus::Running {
        return format!("job is {}", job_status_label(job.status));
    }
    let pending = job
        .vertices
        .iter()
        .filter_map(|vertex| {
            let wanted = parallelism.get(&vertex.id);
            if wanted == Some(&vertex.parallelism) && vertex.status == TaskStatus::Running {
                return None;
            }
            let wanted = wanted.map_or_else(|| "none".to_owned(), u32::to_string);
            Some(format!(
                "'{}' at {} of {wanted} ({})",
                vertex.name,
                vertex.parallelism,
                task_status_label(vertex.status)
            ))
        })
        .collect::<Vec<_>>();
    if pending.is_empty() {
        if job.vertices.len() == parallelism.len() {
            "job runs at the expected parallelism".to_owned()
        } else {
            format!("job has {} vertices, {} expected", job.vertices.len(), parallelism.len())
        }
    } else {
        format!("job is RUNNING; not there yet: {}", pending.join(", "))
    }
}

fn describe_duration(duration_ms: u64) -> String {
    let seconds = duration_ms / 1000;
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else if seconds > 0 {
        format!("{seconds} s")
    } else {
        format!("{duration_ms} ms")
    }
}

/// Writes a decision into the record: the plan when execution starts, the savepoint and job ids
/// the phase introduces, the phase (with its span) and the event.
///
/// The backend calls it for a [`Decision::Transition`], and for a [`Decision::Act`] after the
/// action succeeded; [`Decision::Wait`] and [`Decision::Done`] change nothing.
pub fn apply(op: &mut Operation, decision: &Decision, now_ms: u64) {
    let (to, event, plan) = match decision {
        Decision::Wait { .. } | Decision::Done => return,
        Decision::Transition { to, event, plan } => (to, event, plan.as_ref()),
        Decision::Act { then, event, .. } => (then, event, None),
    };
    if let Some(plan) = plan {
        op.strategy = Some(plan.strategy);
        op.original_parallelism = plan.original.clone();
        op.target_parallelism = plan.target.clone();
    }
    match to {
        Phase::Restarting { savepoint_location, new_job_id, .. } => {
            let already_recorded =
                op.savepoint.as_ref().is_some_and(|savepoint| savepoint.location == *savepoint_location);
            if !already_recorded {
                op.savepoint = Some(SavepointRef {
                    location: savepoint_location.clone(),
                    trigger_id: derive_flink_id(&op.id, STOP_TRIGGER_PURPOSE),
                    taken_at_ms: now_ms,
                });
            }
            op.new_job_id = Some(new_job_id.clone());
        }
        Phase::RollingBack { rollback: RollbackPlan::Resubmit { rollback_job_id, .. }, .. } => {
            op.rollback_job_id = Some(rollback_job_id.clone())
        }
        _ => {}
    }
    op.enter(to.clone(), now_ms);
    op.record(event.clone());
}

/// Why a user action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionRefused {
    #[error("the operation is {phase}, not awaiting approval")]
    NotAwaitingApproval { phase: PhaseName },
    #[error("the approval window closed")]
    ApprovalWindowClosed,
    #[error("the acting user is not known")]
    MissingActor,
    #[error("nobody may approve their own request")]
    OwnRequest,
    #[error("{by} already approved this operation")]
    AlreadyApproved { by: String },
    #[error("break-glass was already used by {by}")]
    AlreadyBrokenGlass { by: String },
    #[error("break-glass needs a reason")]
    ReasonRequired,
    #[error("the operation is {phase}; it can only be cancelled before it touches flink")]
    NotCancellable { phase: PhaseName },
}

/// Records `by`'s approval. Only while awaiting approval and before the window closes; nobody
/// approves their own request, nobody approves twice. Users are compared ignoring ASCII case
/// and surrounding spaces. Moving to [`Phase::Approved`] is left to [`decide`].
pub fn approve(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = acting_user(by)?;
    refuse_unless_open_for_approval(op, now_ms)?;
    if same_user(by, &op.requested_by) {
        return Err(ActionRefused::OwnRequest);
    }
    if let Some(approval) = op.approvals.iter().find(|approval| same_user(&approval.by, by)) {
        return Err(ActionRefused::AlreadyApproved { by: approval.by.clone() });
    }
    op.approvals.push(Approval { by: by.to_owned(), at_ms: now_ms, comment: comment.to_owned() });
    let message =
        format!("{by} approved ({} of {}){}", op.approval_count(), op.required_approvals, comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::APPROVED, message));
    Ok(())
}

/// Rejects the request. Only while awaiting approval; anyone may reject, the requester too.
pub fn reject(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = acting_user(by)?;
    if op.phase != Phase::AwaitingApproval {
        return Err(ActionRefused::NotAwaitingApproval { phase: op.phase.name() });
    }
    op.enter(Phase::Rejected { by: by.to_owned(), comment: comment.to_owned() }, now_ms);
    let message = format!("{by} rejected the request{}", comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::REJECTED, message));
    Ok(())
}

/// Cancels the operation. Only before it touched Flink: awaiting approval or approved.
pub fn cancel(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = acting_user(by)?;
    if !matches!(op.phase, Phase::AwaitingApproval | Phase::Approved) {
        return Err(ActionRefused::NotCancellable { phase: op.phase.name() });
    }
    op.enter(Phase::Cancelled { by: by.to_owned(), comment: comment.to_owned() }, now_ms);
    let message = format!("{by} cancelled the operation{}", comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::CANCELLED, message));
    Ok(())
}

/// Bypasses the approval count in an emergency. Needs a reason; only while awaiting approval
/// and before the window closes; once per operation. The requester may break the glass on
/// their own request: who may is a role, checked by the API.
pub fn break_glass(op: &mut Operation, by: &str, reason: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = acting_user(by)?;
    refuse_unless_open_for_approval(op, now_ms)?;
    if let Some(existing) = &op.break_glass {
        return Err(ActionRefused::AlreadyBrokenGlass { by: existing.by.clone() });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ActionRefused::ReasonRequired);
    }
    op.break_glass = Some(BreakGlass { by: by.to_owned(), at_ms: now_ms, reason: reason.to_owned() });
    op.record(OperationEvent::by_user(now_ms, by, event_kind::BREAK_GLASS, format!("{by} broke the glass: {reason}")));
    Ok(())
}

fn acting_user(by: &str) -> Result<&str, ActionRefused> {
    let by = by.trim();
    if by.is_empty() { Err(ActionRefused::MissingActor) } else { Ok(by) }
}

fn refuse_unless_open_for_approval(op: &Operation, now_ms: u64) -> Result<(), ActionRefused> {
    if op.phase != Phase::AwaitingApproval {
        return Err(ActionRefused::NotAwaitingApproval { phase: op.phase.name() });
    }
    if now_ms >= op.expires_at_ms {
        return Err(ActionRefused::ApprovalWindowClosed);
    }
    Ok(())
}

fn same_user(left: &str, right: &str) -> bool {
    left.trim().eq_ignore_ascii_case(right.trim())
}

fn comment_suffix(comment: &str) -> String {
    let comment = comment.trim();
    if comment.is_empty() { String::new() } else { format!(": {comment}") }
}
