//! The savepoint path: stop the job with a savepoint, then submit it again from that savepoint
//! at the target parallelism.

use super::decision::{Action, Decision, fail, transition, wait_for_observation};
use super::messages::describe_duration;
use super::observation::{Needs, Observation, SavepointQuery, Seen};
use super::rollback::start_resubmit_rollback;
use super::{JOB_POLL_MS, SAVEPOINT_POLL_MS};
use crate::flink::{JobStatus, JobView, SavepointStatus};
use crate::operation::{Operation, OperationEvent, Phase, RESTART_JOB_PURPOSE, derive_flink_id, event_kind};

/// Stopping: the job, and the stop trigger's savepoint.
pub(super) fn needs_stopping(op: &Operation, trigger_id: &str) -> Needs {
    Needs {
        job: true,
        savepoint: Some(SavepointQuery { job_id: op.job_id.clone(), trigger_id: trigger_id.to_owned() }),
        ..Needs::default()
    }
}

/// Restarting: the stopped job (it must stay stopped) and the job to submit.
pub(super) fn needs_restarting(new_job_id: &str) -> Needs {
    Needs { job: true, new_job: Some(new_job_id.to_owned()), ..Needs::default() }
}

pub(super) fn decide_stopping(op: &Operation, obs: &Observation, trigger_id: &str) -> Decision {
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
                    job.status.label()
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
        SavepointStatus::Failed { cause } => fail(now_ms, savepoint_failure_reason(op, job, cause)),
        SavepointStatus::Unknown => decide_unknown_trigger(op, now_ms, job, trigger_id),
    }
}

/// Why the operation fails when the stop's savepoint failed, by what became of the job.
fn savepoint_failure_reason(op: &Operation, job: &Seen<JobView>, cause: &str) -> String {
    match job {
        Seen::Present(job) if job.status == JobStatus::Running => {
            format!("savepoint failed: {cause}; job {} is still RUNNING, untouched", op.job_id)
        }
        Seen::Present(job) => format!(
            "savepoint failed: {cause}; job {} is {} and no savepoint was taken: \
             restore it from its latest checkpoint",
            op.job_id,
            job.status.label()
        ),
        Seen::Absent => format!(
            "savepoint failed: {cause}; job {} no longer exists and no savepoint was \
             taken: restore it from its latest checkpoint",
            op.job_id
        ),
    }
}

/// Flink knows no savepoint for the stop trigger: not triggered yet (or forgotten), by what
/// became of the job.
fn decide_unknown_trigger(op: &Operation, now_ms: u64, job: &Seen<JobView>, trigger_id: &str) -> Decision {
    match job {
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
                job.status.label()
            ),
        ),
        Seen::Present(job) => Decision::Wait {
            requeue_after_ms: JOB_POLL_MS,
            why: format!("job {} is {}; waiting for it to run before stopping it", op.job_id, job.status.label()),
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
    }
}

pub(super) fn decide_restarting(
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
                original_job.status.label()
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
