//! Rolling back: resubmit the job at its original parallelism from the savepoint, or send the
//! original resource requirements back in place.

use std::collections::BTreeMap;

use super::JOB_POLL_MS;
use super::decision::{Action, Decision, fail, is_stable, live_job, transition, wait_for_observation};
use super::messages::{describe_duration, describe_parallelism, describe_progress, describe_requirements};
use super::observation::{Needs, Observation, Seen};
use crate::flink::{JobStatus, JobView, ParallelismBounds, rescale_bounds};
use crate::operation::{
    Operation, OperationEvent, Phase, ROLLBACK_JOB_PURPOSE, RollbackPlan, derive_flink_id, event_kind,
};

/// Rolling back: the failed and the rollback job of a resubmit; the original job in place.
pub(super) fn needs_rolling_back(rollback: &RollbackPlan) -> Needs {
    match rollback {
        RollbackPlan::Resubmit { failed_job_id, rollback_job_id, .. } => Needs {
            new_job: Some(failed_job_id.clone()),
            rollback_job: Some(rollback_job_id.clone()),
            ..Needs::default()
        },
        RollbackPlan::InPlace { requirements_sent_at_ms: None, .. } => {
            Needs { job: true, requirements: true, ..Needs::default() }
        }
        RollbackPlan::InPlace { .. } => Needs { job: true, ..Needs::default() },
        RollbackPlan::MsfUpdate { .. } => super::msf::needs_application(),
    }
}

pub(super) fn decide_rolling_back(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    rollback: &RollbackPlan,
) -> Decision {
    match rollback {
        RollbackPlan::Resubmit { failed_job_id, savepoint_location, rollback_job_id, since_ms, submitted_at_ms } => {
            let rollback = ResubmitRollback {
                failed_job_id,
                savepoint_location,
                rollback_job_id,
                since_ms: *since_ms,
                submitted_at_ms: *submitted_at_ms,
            };
            decide_resubmit_rollback(op, obs, reason, rollback)
        }
        RollbackPlan::InPlace { since_ms, requirements_sent_at_ms } => {
            decide_in_place_rollback(op, obs, reason, *since_ms, *requirements_sent_at_ms)
        }
        RollbackPlan::MsfUpdate { snapshot_name, since_ms, sent_at_ms } => {
            super::msf::decide_rolling_back(op, obs, reason, snapshot_name, *since_ms, *sent_at_ms)
        }
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
        // Like the rescaled job, the rollback job is back only once it has run for the stable
        // window: one whose tasks land on a TaskManager that just died fails over right after.
        (Seen::Present(job), _) if job.runs_at(original) && !is_stable(op, job, now_ms) => Decision::Wait {
            requeue_after_ms: JOB_POLL_MS,
            why: format!(
                "rollback job {rollback_job_id} runs at the original {}; back once it has run for {}",
                describe_parallelism(job, original),
                describe_duration(op.stable_for_ms)
            ),
        },
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
                job.status.label()
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
                    job.status.label()
                ),
            );
        }
        if job.status == JobStatus::Cancelling || cancel_asked_since(op, now_ms) {
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
                format!("cancelling failed job {failed_job_id} (it was {})", job.status.label()),
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

/// How long after asking Flink to cancel the failed job the rollback waits before asking again:
/// a job restarting or failing over may still show its old status for a while.
pub const CANCEL_ASK_AGAIN_MS: u64 = 10_000;

/// Whether the latest event asked to cancel the failed job less than [`CANCEL_ASK_AGAIN_MS`]
/// ago, so the cancel is not sent (and audited) again on every pass.
fn cancel_asked_since(op: &Operation, now_ms: u64) -> bool {
    op.events.last().is_some_and(|event| {
        event.kind == event_kind::CANCEL_REQUESTED && now_ms < event.at_ms.saturating_add(CANCEL_ASK_AGAIN_MS)
    })
}

fn decide_in_place_rollback(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    since_ms: u64,
    requirements_sent_at_ms: Option<u64>,
) -> Decision {
    let now_ms = obs.now_ms;
    let job = match live_job(
        op,
        obs,
        || {
            format!(
                "job {} disappeared during the rollback: restore it from its latest checkpoint (the rescale failed: {reason})",
                op.job_id
            )
        },
        |job| {
            format!(
                "job {} is {} during the rollback: restore it from its latest checkpoint (the rescale failed: {reason})",
                op.job_id,
                job.status.label()
            )
        },
    ) {
        Ok(job) => job,
        Err(decision) => return *decision,
    };
    match requirements_sent_at_ms {
        None => decide_in_place_before_sending(op, now_ms, reason, since_ms, job, obs.requirements.as_ref()),
        Some(sent_at_ms) => decide_in_place_after_sending(op, now_ms, reason, sent_at_ms, job),
    }
}

/// An in-place rollback whose original requirements are not sent yet: send them, unless the
/// rollback ran out of time.
fn decide_in_place_before_sending(
    op: &Operation,
    now_ms: u64,
    reason: &str,
    since_ms: u64,
    job: &JobView,
    requirements: Option<&BTreeMap<String, ParallelismBounds>>,
) -> Decision {
    let original = &op.original_parallelism;
    if op.timed_out(since_ms, now_ms) {
        return fail(
            now_ms,
            format!(
                "the original resource requirements of job {} could not be sent back within {}: \
                 {}; set them by hand (the rescale failed: {reason})",
                op.job_id,
                describe_duration(op.verify_timeout_ms),
                describe_progress(job, original)
            ),
        );
    }
    let bounds = rescale_bounds(original, requirements);
    // The wait for the job runs from when Flink acts: after its cooldown.
    let acts_at_ms = job.requirements_act_at_ms(now_ms);
    Decision::Act {
        action: Action::PutResourceRequirements { job_id: op.job_id.clone(), bounds: bounds.clone() },
        then: Phase::RollingBack {
            reason: reason.to_owned(),
            rollback: RollbackPlan::InPlace { since_ms, requirements_sent_at_ms: Some(acts_at_ms) },
        },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::ROLLBACK_REQUIREMENTS_SENT,
            format!(
                "resource requirements of job {} set back to {} ({})",
                op.job_id,
                describe_parallelism(job, original),
                describe_requirements(job, &bounds, now_ms)
            ),
        ),
    }
}

/// An in-place rollback whose original requirements were sent at `sent_at_ms`: wait for the
/// job to run at them.
fn decide_in_place_after_sending(
    op: &Operation,
    now_ms: u64,
    reason: &str,
    sent_at_ms: u64,
    job: &JobView,
) -> Decision {
    let original = &op.original_parallelism;
    if job.runs_at(original) {
        return transition(
            Phase::RolledBack { reason: reason.to_owned() },
            OperationEvent::by_system(
                now_ms,
                event_kind::ROLLED_BACK,
                format!("job {} runs at the original {}", op.job_id, describe_parallelism(job, original)),
            ),
        );
    }
    if op.timed_out(sent_at_ms, now_ms) {
        return fail(
            now_ms,
            format!(
                "job {} did not return to its original parallelism within {}: {} (the rescale \
                 failed: {reason})",
                op.job_id,
                describe_duration(op.verify_timeout_ms),
                describe_progress(job, original)
            ),
        );
    }
    Decision::Wait {
        requeue_after_ms: JOB_POLL_MS,
        why: format!("rolling back job {}: {}", op.job_id, describe_progress(job, original)),
    }
}

pub(super) fn start_resubmit_rollback(
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

pub(super) fn start_in_place_rollback(now_ms: u64, reason: String) -> Decision {
    let message = format!("rolling back in place: {reason}");
    transition(
        Phase::RollingBack {
            reason,
            rollback: RollbackPlan::InPlace { since_ms: now_ms, requirements_sent_at_ms: None },
        },
        OperationEvent::by_system(now_ms, event_kind::ROLLBACK_STARTED, message),
    )
}
