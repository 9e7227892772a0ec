//! What the machine answers — wait, write a new phase, act once on Flink, or nothing — and how
//! an answer is written into the record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::MISSING_OBSERVATION_POLL_MS;
use super::observation::{Observation, Seen};
use crate::flink::{JobView, ParallelismBounds};
use crate::operation::{
    Operation, OperationEvent, Phase, RollbackPlan, STOP_TRIGGER_PURPOSE, SavepointRef, derive_flink_id, event_kind,
    msf_snapshot_location,
};
use crate::preflight::Plan;

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
    /// `POST /jobs/:job_id/stop` with this trigger id, into `target_directory` (the operation's
    /// own directory under the cluster's savepoint directory; `None`: Flink's default). Flink
    /// answers a repeated trigger id with the first trigger.
    StopWithSavepoint {
        job_id: String,
        trigger_id: String,
        #[serde(default)]
        target_directory: Option<String>,
    },
    /// Submit the operation's artifact under this job id, restoring from the savepoint, at this
    /// parallelism by vertex id. Flink refuses a second job with the same id: the backend
    /// treats "duplicate job" as success.
    SubmitJob { job_id: String, savepoint_location: String, parallelism: BTreeMap<String, u32> },
    /// `PUT /jobs/:job_id/resource-requirements` with these bounds by vertex id (every vertex;
    /// see [`rescale_bounds`](crate::flink::rescale_bounds)).
    PutResourceRequirements { job_id: String, bounds: BTreeMap<String, ParallelismBounds> },
    /// `PATCH /jobs/:job_id?mode=cancel`. Harmless on a job that already stopped.
    CancelJob { job_id: String },
    /// MSF: `CreateApplicationSnapshot` under the request's own snapshot name; the backend
    /// treats a snapshot of that name that exists as success.
    CreateSnapshot { application: String, snapshot_name: String },
    /// MSF: `UpdateApplication` to `parallelism` (configuration type CUSTOM), restoring from
    /// the snapshot, sent with the conditional token (MSF refuses it once the application
    /// changed, so a repeat after a crash never updates twice); `autoscaling`: the
    /// `AutoScalingEnabledUpdate`, if any.
    UpdateApplication {
        application: String,
        parallelism: u32,
        snapshot_name: String,
        conditional_token: String,
        #[serde(default)]
        autoscaling: Option<bool>,
    },
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
        if let Some(budget_ms) = plan.verify_timeout_ms {
            op.verify_timeout_ms = op.verify_timeout_ms.max(budget_ms);
        }
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
        Phase::Updating { snapshot_name, .. } => {
            let location = msf_snapshot_location(&op.job_name, snapshot_name);
            if op.savepoint.as_ref().is_none_or(|savepoint| savepoint.location != location) {
                op.savepoint = Some(SavepointRef { location, trigger_id: snapshot_name.clone(), taken_at_ms: now_ms });
            }
        }
        _ => {}
    }
    if matches!(event.kind.as_str(), event_kind::RUNS_AT_TARGET | event_kind::VERIFIED) {
        op.note_running_at_target(now_ms);
    }
    op.enter(to.clone(), now_ms);
    op.record(event.clone());
}

pub(super) fn transition(to: Phase, event: OperationEvent) -> Decision {
    Decision::Transition { to, event, plan: None }
}

pub(super) fn fail(now_ms: u64, reason: String) -> Decision {
    transition(Phase::Failed { reason: reason.clone() }, OperationEvent::by_system(now_ms, event_kind::FAILED, reason))
}

/// The original job of an in-place step, running or about to: a wait while it was not read,
/// the failure `gone` or `ended` describes when it is absent or terminal.
pub(super) fn live_job<'a>(
    op: &Operation,
    obs: &'a Observation,
    gone: impl FnOnce() -> String,
    ended: impl FnOnce(&JobView) -> String,
) -> Result<&'a JobView, Box<Decision>> {
    match &obs.job {
        None => Err(Box::new(wait_for_observation(&format!("job {}", op.job_id)))),
        Some(Seen::Absent) => Err(Box::new(fail(obs.now_ms, gone()))),
        Some(Seen::Present(job)) if job.status.is_terminal() => Err(Box::new(fail(obs.now_ms, ended(job)))),
        Some(Seen::Present(job)) => Ok(job),
    }
}

pub(super) fn wait_for_observation(what: &str) -> Decision {
    Decision::Wait { requeue_after_ms: MISSING_OBSERVATION_POLL_MS, why: format!("{what} was not read in this pass") }
}

/// The job has been RUNNING for the operation's stable window (as far as Flink's clock says;
/// a job whose RUNNING time Flink does not report counts as stable).
pub(super) fn is_stable(op: &Operation, job: &JobView, now_ms: u64) -> bool {
    job.running_since_ms.is_none_or(|since| now_ms.saturating_sub(since) >= op.stable_for_ms)
}
