//! The phase machine of an operation: what to read from Flink, and what to do next.
//!
//! A reconcile pass in the backend goes: [`needs`] → read Flink into an [`Observation`] →
//! [`decide`] → perform the [`Action`] if the decision is [`Decision::Act`] → [`apply`] →
//! compare-and-swap the record. Everything here is pure; only the action touches Flink.
//!
//! A crash after an action and before the write makes the next pass decide the same action
//! again, so every action is idempotent on Flink's side: the same trigger id, the same derived
//! job id, the same resource requirements body, a cancel of a job that already stopped.
//!
//! One module per path, each phase's `needs_…` and `decide_…` side by side: [`approval`]
//! (awaiting approval, approved), [`timing`] (when an approved request may start), [`savepoint`] (stopping, restarting), [`in_place`] (applying),
//! [`verify`], [`rollback`]; [`messages`] holds the sentences operators read. The record types
//! ([`Phase`], [`PhaseName`], [`RollbackPlan`]) live with the record in [`crate::operation`].
//!
//! Entry point: [`decide`].

mod approval;
mod decision;
mod in_place;
mod messages;
mod msf;
mod observation;
mod restore_budget;
mod rollback;
mod savepoint;
mod timing;
mod verify;

pub use decision::{Action, Decision, apply};
pub use in_place::flink_cooldown_until;
pub use msf::MSF_POLL_MS;
pub use observation::{
    FoundSavepoint, MsfOperationQuery, Needs, Observation, SavepointQuery, SavepointSearch, SavepointSource, Seen,
};
pub use restore_budget::{CheckpointFacts, describe_bytes, restore_budget_ms};
pub use rollback::CANCEL_ASK_AGAIN_MS;
pub use timing::SCHEDULE_POLL_MS;

use crate::operation::{Operation, ResolvedStrategy};
pub use crate::operation::{Phase, PhaseName, RollbackPlan};

/// Requeue while a request waits for approval (approvals also trigger a pass directly).
pub const APPROVAL_POLL_MS: u64 = 10_000;
/// Requeue while a savepoint is being taken. Every poll is one light REST call; the job is
/// down between the stop and the restart, so polling tightly shortens the downtime.
pub const SAVEPOINT_POLL_MS: u64 = 100;
/// Requeue while a job starts, rescales or stops (the downtime, again: keep it short).
pub const JOB_POLL_MS: u64 = 100;
/// Requeue in the first [`FAST_POLL_FOR_MS`] of a wait that keeps the job down (its
/// savepoint, its start): a small job's is over within it, and every poll it is seen late
/// adds to the outage.
pub const FAST_POLL_MS: u64 = 20;
/// How long a wait that keeps the job down is polled every [`FAST_POLL_MS`].
pub const FAST_POLL_FOR_MS: u64 = 1_000;

/// When to look again at such a wait, begun at `since_ms`: every [`FAST_POLL_MS`] in its
/// first [`FAST_POLL_FOR_MS`], every `poll_ms` after.
pub fn outage_poll_ms(poll_ms: u64, since_ms: u64, now_ms: u64) -> u64 {
    if now_ms.saturating_sub(since_ms) < FAST_POLL_FOR_MS { FAST_POLL_MS.min(poll_ms) } else { poll_ms }
}
/// Requeue when this pass lacks an observation the phase needs.
pub const MISSING_OBSERVATION_POLL_MS: u64 = 1_000;
/// First requeue when Flink is unavailable; doubles with every further unavailable pass.
pub const UNAVAILABLE_BACKOFF_BASE_MS: u64 = 1_000;
/// Longest requeue when Flink is unavailable.
pub const UNAVAILABLE_BACKOFF_MAX_MS: u64 = 60_000;

/// What to read from Flink for the operation's current phase.
pub fn needs(op: &Operation) -> Needs {
    match &op.phase {
        Phase::Approved => approval::needs_approved(),
        Phase::Stopping { trigger_id } => savepoint::needs_stopping(op, trigger_id),
        Phase::Restarting { new_job_id, .. } => savepoint::needs_restarting(new_job_id),
        Phase::Applying { .. } => in_place::needs_applying(),
        Phase::Snapshotting { snapshot_name, .. } => msf::needs_snapshotting(snapshot_name),
        Phase::Updating { .. } => msf::needs_application(),
        Phase::Verifying { since_ms, .. } if is_msf(op) => msf::needs_verifying(op, *since_ms),
        Phase::Verifying { job_id, .. } => verify::needs_verifying(op, job_id),
        Phase::RollingBack { rollback, .. } => rollback::needs_rolling_back(rollback),
        Phase::AwaitingApproval
        | Phase::Completed
        | Phase::RolledBack { .. }
        | Phase::Failed { .. }
        | Phase::Rejected { .. }
        | Phase::Cancelled { .. }
        | Phase::Expired => Needs::default(),
    }
}

/// Decides the next step of `op` from what this pass observed.
///
/// While Flink is unavailable an active operation only waits: no phase moves on a guess.
pub fn decide(op: &Operation, obs: &Observation) -> Decision {
    if op.is_terminal() {
        return Decision::Done;
    }
    if op.phase == Phase::AwaitingApproval {
        return approval::decide_awaiting_approval(op, obs.now_ms);
    }
    if let Some(cause) = &obs.flink_unavailable {
        return Decision::Wait {
            requeue_after_ms: unavailable_backoff_ms(obs.unavailable_streak),
            why: format!("flink is unavailable: {cause}"),
        };
    }
    match &op.phase {
        Phase::Approved => approval::decide_approved(op, obs),
        Phase::Stopping { trigger_id } => savepoint::decide_stopping(op, obs, trigger_id),
        Phase::Restarting { savepoint_location, new_job_id, since_ms } => {
            savepoint::decide_restarting(op, obs, savepoint_location, new_job_id, *since_ms)
        }
        Phase::Applying { since_ms } => in_place::decide_applying(op, obs, *since_ms),
        Phase::Snapshotting { snapshot_name, conditional_token, since_ms } => {
            msf::decide_snapshotting(op, obs, snapshot_name, conditional_token, *since_ms)
        }
        Phase::Updating { snapshot_name, conditional_token, since_ms } => {
            msf::decide_updating(op, obs, snapshot_name, conditional_token, *since_ms)
        }
        Phase::Verifying { since_ms, .. } if is_msf(op) => msf::decide_verifying(op, obs, *since_ms),
        Phase::Verifying { job_id, since_ms } => verify::decide_verifying(op, obs, job_id, *since_ms),
        Phase::RollingBack { reason, rollback } => rollback::decide_rolling_back(op, obs, reason, rollback),
        Phase::AwaitingApproval
        | Phase::Completed
        | Phase::RolledBack { .. }
        | Phase::Failed { .. }
        | Phase::Rejected { .. }
        | Phase::Cancelled { .. }
        | Phase::Expired => Decision::Done,
    }
}

/// Until when `op`'s next step depends on nothing but its record and the clock: before then
/// [`decide`] answers [`Decision::Wait`] whatever a pass observes, so a pass need not read it
/// while its record is unchanged (the backend's `records::quiet` keeps that promise: every
/// write outside a pass wakes it). A request awaiting approval until it expires; an approved
/// one until its not-before. Waits that depend on what Flink or the cluster's schedule say
/// are never quiet.
pub fn quiet_until(op: &Operation, now_ms: u64) -> Option<u64> {
    let until = match &op.phase {
        Phase::AwaitingApproval if op.break_glass.is_none() && op.approval_count() < op.required_approvals => {
            op.expires_at_ms
        }
        // `timing::wait_until`: a not-before at or after the expiry expires the request now.
        Phase::Approved => op.not_before_ms.filter(|not_before_ms| *not_before_ms < op.expires_at_ms)?,
        _ => return None,
    };
    (now_ms < until && op.lease.is_none()).then_some(until)
}

/// The operation runs on the MSF path.
fn is_msf(op: &Operation) -> bool {
    op.strategy == Some(ResolvedStrategy::MsfUpdate)
}

/// The requeue after `streak` unavailable passes in a row: 1 s, 2 s, 4 s … up to a minute.
pub fn unavailable_backoff_ms(streak: u32) -> u64 {
    let factor = 1_u64.checked_shl(streak.min(16)).unwrap_or(u64::MAX);
    UNAVAILABLE_BACKOFF_BASE_MS.saturating_mul(factor).min(UNAVAILABLE_BACKOFF_MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_that_keeps_the_job_down_is_polled_fast_for_its_first_second_only() {
        let cases = [
            (0, FAST_POLL_MS, "just begun"),
            (FAST_POLL_FOR_MS - 1, FAST_POLL_MS, "still in its first second"),
            (FAST_POLL_FOR_MS, SAVEPOINT_POLL_MS, "a large state's savepoint: the usual pace"),
            (60_000, SAVEPOINT_POLL_MS, "long after"),
        ];
        for (elapsed, expected, name) in cases {
            assert_eq!(outage_poll_ms(SAVEPOINT_POLL_MS, 5_000, 5_000 + elapsed), expected, "{name}");
        }
        assert_eq!(outage_poll_ms(10, 5_000, 5_000), 10, "never slower than asked");
        assert_eq!(outage_poll_ms(SAVEPOINT_POLL_MS, 9_000, 5_000), FAST_POLL_MS, "a clock behind the phase start");
    }
}
