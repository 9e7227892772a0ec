//! The in-place path: send the target resource requirements to the adaptive scheduler.

use super::decision::{Action, Decision, live_job};
use super::messages::{describe_duration, describe_parallelism};
use super::observation::{Needs, Observation};
use super::rollback::start_in_place_rollback;
use crate::operation::{Operation, OperationEvent, Phase, event_kind};

/// Applying: the job, to send it its new requirements.
pub(super) fn needs_applying() -> Needs {
    Needs { job: true, ..Needs::default() }
}

pub(super) fn decide_applying(op: &Operation, obs: &Observation, since_ms: u64) -> Decision {
    let now_ms = obs.now_ms;
    let job = match live_job(
        op,
        obs,
        || {
            format!(
                "job {} disappeared while its new resource requirements were being sent; restore it from its latest checkpoint",
                op.job_id
            )
        },
        |job| {
            format!(
                "job {} is {} while its new resource requirements were being sent; restore it from its latest checkpoint",
                op.job_id,
                job.status.label()
            )
        },
    ) {
        Ok(job) => job,
        Err(decision) => return *decision,
    };
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
