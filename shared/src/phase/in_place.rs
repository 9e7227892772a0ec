//! The in-place path: send the target resource requirements to the adaptive scheduler.

use super::decision::{Action, Decision, live_job};
use super::messages::{describe_duration, describe_parallelism, describe_requirements};
use super::observation::{Needs, Observation};
use super::rollback::start_in_place_rollback;
use crate::flink::rescale_bounds;
use crate::operation::{Operation, OperationEvent, Phase, RollbackPlan, event_kind};

/// While in-place requirements were sent and the adaptive scheduler's cooldown has not ended
/// (the verification's, or the rollback's, clock starts then): when it ends.
pub fn flink_cooldown_until(op: &Operation, now_ms: u64) -> Option<u64> {
    let acts_at_ms = match &op.phase {
        Phase::Verifying { job_id, since_ms } if *job_id == op.job_id => *since_ms,
        Phase::RollingBack { rollback: RollbackPlan::InPlace { requirements_sent_at_ms: Some(at), .. }, .. } => *at,
        _ => return None,
    };
    (acts_at_ms > now_ms).then_some(acts_at_ms)
}

/// Applying: the job and its current requirements, to send it its new ones.
pub(super) fn needs_applying() -> Needs {
    Needs { job: true, requirements: true, ..Needs::default() }
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
    let bounds = rescale_bounds(&op.target_parallelism, obs.requirements.as_ref());
    // The verification's time runs from when Flink acts: after its cooldown.
    let acts_at_ms = job.requirements_act_at_ms(now_ms);
    Decision::Act {
        action: Action::PutResourceRequirements { job_id: op.job_id.clone(), bounds: bounds.clone() },
        then: Phase::Verifying { job_id: op.job_id.clone(), since_ms: acts_at_ms },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::REQUIREMENTS_SENT,
            format!(
                "resource requirements of job {} set to {} ({})",
                op.job_id,
                describe_parallelism(job, &op.target_parallelism),
                describe_requirements(job, &bounds, now_ms)
            ),
        ),
    }
}
