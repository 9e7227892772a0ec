//! Verifying: wait for the job to run at the target parallelism, or start the rollback.

use super::decision::{Decision, fail, is_stable, transition, wait_for_observation};
use super::in_place::flink_cooldown_until;
use super::messages::{describe_duration, describe_parallelism, describe_progress};
use super::observation::{Needs, Observation, Seen};
use super::rollback::{start_in_place_rollback, start_resubmit_rollback};
use super::{JOB_POLL_MS, outage_poll_ms};
use crate::flink::{JobStatus, JobView, TaskStatus};
use crate::operation::{Operation, OperationEvent, Phase, event_kind};

/// Verifying: the job that should run at the target — the original one in place, the
/// restarted one after a savepoint.
pub(super) fn needs_verifying(op: &Operation, job_id: &str) -> Needs {
    if job_id == op.job_id {
        Needs { job: true, ..Needs::default() }
    } else {
        Needs { new_job: Some(job_id.to_owned()), ..Needs::default() }
    }
}

pub(super) fn decide_verifying(op: &Operation, obs: &Observation, job_id: &str, since_ms: u64) -> Decision {
    let now_ms = obs.now_ms;
    let in_place = job_id == op.job_id;
    let seen = if in_place { &obs.job } else { &obs.new_job };
    let Some(seen) = seen else {
        return wait_for_observation(&format!("job {job_id}"));
    };
    let target = &op.target_parallelism;
    let failure = match seen {
        Seen::Present(job) if job.runs_at(target) && !is_stable(op, job, now_ms) && op.awaits_outage_end() => {
            // Written once: the record keeps when the outage ended (see `Operation::outage`).
            return transition(
                op.phase.clone(),
                OperationEvent::by_system(
                    now_ms,
                    event_kind::RUNS_AT_TARGET,
                    format!(
                        "job {job_id} runs at {}; done once it has run for {} without failing",
                        describe_parallelism(job, target),
                        describe_duration(op.stable_for_ms)
                    ),
                ),
            );
        }
        Seen::Present(job) if job.runs_at(target) && !is_stable(op, job, now_ms) => {
            return Decision::Wait {
                requeue_after_ms: JOB_POLL_MS,
                why: format!(
                    "job {job_id} runs at {}; done once it has run for {} without failing",
                    describe_parallelism(job, target),
                    describe_duration(op.stable_for_ms)
                ),
            };
        }
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
            format!("job {job_id} is {} before it ran at the target parallelism", job.status.label())
        }
        // A freshly submitted job restarts only when it failed: its restore, or right after.
        // (In place, the adaptive scheduler restarts the job on purpose.)
        Seen::Present(job) if !in_place && matches!(job.status, JobStatus::Restarting | JobStatus::Failing) => {
            format!("job {job_id} is failing ({}) before it ran at the target parallelism", job.status.label())
        }
        Seen::Present(job) if op.timed_out(since_ms, now_ms) => format!(
            "job {job_id} did not run at the target parallelism within {}{}: {}",
            describe_duration(op.verify_timeout_ms),
            if is_restoring(job) { " (still restoring its state)" } else { "" },
            describe_progress(job, target)
        ),
        Seen::Present(job) => return still_verifying(op, job_id, job, since_ms, now_ms),
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

/// The job is on its way: waiting for Flink's cooldown (in place), restoring its state, or
/// starting.
fn still_verifying(op: &Operation, job_id: &str, job: &JobView, since_ms: u64, now_ms: u64) -> Decision {
    let target = &op.target_parallelism;
    let why = match flink_cooldown_until(op, now_ms) {
        Some(until_ms) => format!(
            "job {job_id}: Flink's adaptive scheduler acts on the new requirements after its cooldown, in \
             about {} s: {}",
            (until_ms - now_ms).div_ceil(1000),
            describe_progress(job, target)
        ),
        None => {
            let doing = if is_restoring(job) { "restoring state" } else { "starting" };
            format!("verifying job {job_id}, {doing}: {}", describe_progress(job, target))
        }
    };
    Decision::Wait { requeue_after_ms: outage_poll_ms(JOB_POLL_MS, since_ms, now_ms), why }
}

/// Some of the job's tasks are reading their state back (INITIALIZING), none failed.
fn is_restoring(job: &JobView) -> bool {
    job.vertices.iter().any(|vertex| vertex.status == TaskStatus::Initializing)
        && !job.vertices.iter().any(|vertex| vertex.status == TaskStatus::Failed)
}
