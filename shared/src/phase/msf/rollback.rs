//! Rolling an MSF request back: the application back at its original parallelism (whoever
//! brought it back), busy (wait), or updated back from the request's snapshot, once.

use super::{MSF_POLL_MS, application, parallelism};
use crate::flink::msf::{MsfApplication, MsfStatus};
use crate::operation::{Operation, OperationEvent, Phase, RollbackPlan, event_kind, msf_snapshot_location};
use crate::phase::decision::{Action, Decision, fail, transition};
use crate::phase::observation::Observation;

/// Rolling back: back at the original parallelism (whoever brought it back), busy (wait), or
/// update it back from the request's snapshot, once.
pub(in crate::phase) fn decide_rolling_back(
    op: &Operation,
    obs: &Observation,
    reason: &str,
    snapshot_name: &str,
    since_ms: u64,
    sent_at_ms: Option<u64>,
) -> Decision {
    let now_ms = obs.now_ms;
    let restore_by_hand = restore_by_hand(op, snapshot_name);
    let application = match application(op, obs, &restore_by_hand) {
        Ok(application) => application,
        Err(decision) => return *decision,
    };
    let Some(original) = parallelism(&op.original_parallelism) else {
        return fail(now_ms, format!("{reason}; the request has no original parallelism: {restore_by_hand}"));
    };
    let name = &application.name;
    if application.runs_at(original) {
        return transition(
            Phase::RolledBack { reason: reason.to_owned() },
            OperationEvent::by_system(
                now_ms,
                event_kind::ROLLED_BACK,
                format!("application {name} runs at parallelism {original} again"),
            ),
        );
    }
    if op.timed_out(since_ms, now_ms) || application.status == MsfStatus::Ready {
        return fail(
            now_ms,
            format!(
                "{reason}; the rollback did not bring application {name} back to parallelism {original} (it is {} \
                 at {}): {restore_by_hand}",
                application.status.label(),
                application.current_parallelism
            ),
        );
    }
    let sent =
        sent_at_ms.is_some() || (application.restores_from(snapshot_name) && application.parallelism == original);
    if sent || application.status != MsfStatus::Running {
        return Decision::Wait {
            requeue_after_ms: MSF_POLL_MS,
            why: format!(
                "rolling back application {name} to parallelism {original}: it is {} at {}",
                application.status.label(),
                application.current_parallelism
            ),
        };
    }
    rollback_update(op, application, reason, snapshot_name, since_ms, original, now_ms)
}

/// The update back to the original parallelism from the request's snapshot, under the token
/// the application has now.
fn rollback_update(
    op: &Operation,
    application: &MsfApplication,
    reason: &str,
    snapshot_name: &str,
    since_ms: u64,
    original: u32,
    now_ms: u64,
) -> Decision {
    let name = &application.name;
    let restore_by_hand = restore_by_hand(op, snapshot_name);
    let Some(token) = application.conditional_token.clone() else {
        return fail(now_ms, format!("{reason}; MSF answered no conditional token for {name}: {restore_by_hand}"));
    };
    Decision::Act {
        action: Action::UpdateApplication {
            application: name.clone(),
            parallelism: original,
            snapshot_name: snapshot_name.to_owned(),
            conditional_token: token,
            autoscaling: None,
        },
        then: Phase::RollingBack {
            reason: reason.to_owned(),
            rollback: RollbackPlan::MsfUpdate {
                snapshot_name: snapshot_name.to_owned(),
                since_ms,
                sent_at_ms: Some(now_ms),
            },
        },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::ROLLBACK_UPDATE_SENT,
            format!(
                "application {name} updated back to parallelism {original}, restoring from snapshot {snapshot_name}"
            ),
        ),
    }
}

/// What an operator does when the product cannot bring the application back.
fn restore_by_hand(op: &Operation, snapshot_name: &str) -> String {
    format!(
        "restore it by hand: UpdateApplication with its original parallelism and \
         RESTORE_FROM_CUSTOM_SNAPSHOT {snapshot_name} ({})",
        msf_snapshot_location(&op.job_name, snapshot_name)
    )
}
