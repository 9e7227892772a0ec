//! The savepoint path: stop the job with a savepoint, then submit it again from that savepoint
//! at the target parallelism.

use super::decision::{Action, Decision, fail, transition, wait_for_observation};
use super::messages::describe_duration;
use super::observation::{FoundSavepoint, Needs, Observation, SavepointQuery, SavepointSearch, SavepointSource, Seen};
use super::rollback::start_resubmit_rollback;
use super::{JOB_POLL_MS, SAVEPOINT_POLL_MS, outage_poll_ms};
use crate::flink::{JobStatus, JobView, SavepointStatus};
use crate::operation::{
    Operation, OperationEvent, Phase, PhaseName, RESTART_JOB_PURPOSE, derive_flink_id, event_kind, location_is_under,
    savepoint_target,
};

/// Stopping: the job, the stop trigger's savepoint, and — should Flink have forgotten the
/// trigger after the job stopped — the savepoint where the stop wrote it.
pub(super) fn needs_stopping(op: &Operation, trigger_id: &str) -> Needs {
    Needs {
        job: true,
        savepoint: Some(SavepointQuery { job_id: op.job_id.clone(), trigger_id: trigger_id.to_owned() }),
        savepoint_search: Some(SavepointSearch { job_id: op.job_id.clone(), operation_id: op.id.clone() }),
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
            requeue_after_ms: outage_poll_ms(SAVEPOINT_POLL_MS, stopping_since(op), now_ms),
            why: format!("savepoint of job {} in progress", op.job_id),
        },
        SavepointStatus::Completed { location } => match job {
            Seen::Present(job) if !job.status.is_terminal() => Decision::Wait {
                requeue_after_ms: outage_poll_ms(JOB_POLL_MS, stopping_since(op), now_ms),
                why: format!(
                    "savepoint completed at {location}; waiting for job {} to finish (it is {})",
                    op.job_id,
                    job.status.label()
                ),
            },
            Seen::Present(_) | Seen::Absent => {
                restart_from(op, now_ms, location, format!("job {} stopped with savepoint {location}", op.job_id))
            }
        },
        // A failed stop leaves the job to Flink's restart strategy: see it running again (or
        // not, within the timeout) before saying what became of it.
        SavepointStatus::Failed { cause } => match job {
            Seen::Present(job)
                if !job.status.is_terminal()
                    && job.status != JobStatus::Running
                    && !op.timed_out(stopping_since(op), now_ms) =>
            {
                Decision::Wait {
                    requeue_after_ms: JOB_POLL_MS,
                    why: format!(
                        "savepoint failed: {cause}; waiting for flink to run job {} again (it is {})",
                        op.job_id,
                        job.status.label()
                    ),
                }
            }
            _ => fail(now_ms, savepoint_failure_reason(op, job, cause)),
        },
        SavepointStatus::Unknown => match recovered_savepoint(op, obs) {
            Some(found) => restart_from(
                op,
                now_ms,
                &found.location,
                format!(
                    "flink no longer knows stop trigger {trigger_id}; job {} stopped with savepoint {}, \
                     found in {}",
                    op.job_id,
                    found.location,
                    found.found_in.label()
                ),
            ),
            None => decide_unknown_trigger(op, obs, job, trigger_id),
        },
    }
}

/// When the operation began stopping the job.
fn stopping_since(op: &Operation) -> u64 {
    op.phase_history.iter().rev().find(|span| span.phase == PhaseName::Stopping).map_or(0, |span| span.started_at_ms)
}

/// The job stopped with the savepoint at `location`: restart it from there.
fn restart_from(op: &Operation, now_ms: u64, location: &str, message: String) -> Decision {
    transition(
        Phase::Restarting {
            savepoint_location: location.to_owned(),
            new_job_id: derive_flink_id(&op.id, RESTART_JOB_PURPOSE),
            since_ms: now_ms,
        },
        OperationEvent::by_system(now_ms, event_kind::SAVEPOINT_COMPLETED, message),
    )
}

/// The stop's savepoint among those the pass found, when Flink forgot the trigger: the newest
/// `_metadata` in the operation's own directory, else the job's latest savepoint if it was
/// written there or — without a savepoint directory — taken after the stop began. A savepoint
/// someone took earlier never passes for the stop's.
fn recovered_savepoint<'a>(op: &Operation, obs: &'a Observation) -> Option<&'a FoundSavepoint> {
    let found = obs.found_savepoints.as_deref()?;
    let target = obs.savepoint_directory.as_deref().map(|directory| savepoint_target(directory, &op.id));
    let stopping_since = stopping_since(op);
    let is_the_stops = |candidate: &&FoundSavepoint| match (&target, candidate.found_in) {
        (Some(target), _) => location_is_under(&candidate.location, target),
        (None, SavepointSource::CheckpointHistory) => candidate.taken_at_ms.is_some_and(|at| at >= stopping_since),
        (None, SavepointSource::SavepointDirectory) => false,
    };
    let newest = |sources: SavepointSource| {
        found
            .iter()
            .filter(is_the_stops)
            .filter(|candidate| candidate.found_in == sources)
            .max_by_key(|candidate| candidate.taken_at_ms.unwrap_or(0))
    };
    newest(SavepointSource::SavepointDirectory).or_else(|| newest(SavepointSource::CheckpointHistory))
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

/// Flink knows no savepoint for the stop trigger and none was found where the stop writes:
/// not triggered yet (or forgotten before the job stopped), by what became of the job.
fn decide_unknown_trigger(op: &Operation, obs: &Observation, job: &Seen<JobView>, trigger_id: &str) -> Decision {
    let now_ms = obs.now_ms;
    if SavepointSearch::wanted(Some(job), obs.savepoint.as_ref()) && obs.found_savepoints.is_none() {
        return wait_for_observation(&format!("the savepoint of stop trigger {trigger_id}"));
    }
    match job {
        Seen::Present(job) if job.status == JobStatus::Running => Decision::Act {
            action: Action::StopWithSavepoint {
                job_id: op.job_id.clone(),
                trigger_id: trigger_id.to_owned(),
                target_directory: obs
                    .savepoint_directory
                    .as_deref()
                    .map(|directory| savepoint_target(directory, &op.id)),
            },
            then: Phase::Stopping { trigger_id: trigger_id.to_owned() },
            event: OperationEvent::by_system(
                now_ms,
                event_kind::STOP_TRIGGERED,
                format!("stop-with-savepoint of job {} triggered (trigger {trigger_id})", op.job_id),
            ),
        },
        Seen::Present(job) if job.status == JobStatus::Finished => fail(
            now_ms,
            format!(
                "flink no longer knows stop trigger {trigger_id} and job {} is FINISHED, and no \
                 savepoint of this operation is in {} or in the job's checkpoint history: find \
                 the job's last savepoint or retained checkpoint and restore the job from it by \
                 hand",
                op.job_id,
                search_place(op, obs)
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
                "job {} no longer exists, flink does not know stop trigger {trigger_id} and no \
                 savepoint of this operation is in {}: restore the job from its latest retained \
                 checkpoint by hand",
                op.job_id,
                search_place(op, obs)
            ),
        ),
    }
}

/// Where the stop's savepoint was looked for, for a failure reason.
fn search_place(op: &Operation, obs: &Observation) -> String {
    match &obs.savepoint_directory {
        Some(directory) => savepoint_target(directory, &op.id),
        None => "the cluster's default savepoint directory (none is configured)".to_owned(),
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
