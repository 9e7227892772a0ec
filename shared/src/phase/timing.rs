//! When an approved request may start: not before its own not-before, and inside its cluster's
//! maintenance windows, outside its freezes ([`crate::schedule`]); a break-glass overrides the
//! windows and freezes (not the requester's own not-before), and the start says so.

use super::decision::Decision;
use super::observation::Observation;
use crate::operation::{Operation, OperationEvent, Phase, event_kind};
use crate::schedule::{Allowed, UtcOffset, describe_instant, describe_wait, never_allowed, next_allowed};

/// Longest requeue while a request waits for its time: a pass looks again at least this often.
pub const SCHEDULE_POLL_MS: u64 = 30_000;

/// Whether `op` may start now: `Ok` with a note for the start's event (empty, or how a
/// break-glass overrode the schedule), or the decision to wait or to expire.
pub(super) fn may_start(op: &Operation, obs: &Observation) -> Result<String, Box<Decision>> {
    let now_ms = obs.now_ms;
    if let Some(not_before_ms) = op.not_before_ms.filter(|not_before_ms| now_ms < *not_before_ms) {
        let why = format!("approved; waits until not before {}", describe_instant(not_before_ms, UtcOffset(0)));
        return Err(Box::new(wait_until(op, now_ms, not_before_ms, why)));
    }
    let allowed = next_allowed(now_ms, &obs.schedule);
    if allowed == Allowed::Now {
        return Ok(String::new());
    }
    if let Some(glass) = &op.break_glass {
        let schedule = match &allowed {
            Allowed::At(at_ms) => describe_wait(now_ms, *at_ms, &obs.schedule),
            _ => "no maintenance window is open".to_owned(),
        };
        return Ok(format!(
            "; started outside the maintenance windows ({schedule}) by {}'s break-glass: {}",
            glass.by, glass.reason
        ));
    }
    match allowed {
        Allowed::At(at_ms) => {
            let why = format!("approved; waits: {}", describe_wait(now_ms, at_ms, &obs.schedule));
            Err(Box::new(wait_until(op, now_ms, at_ms, why)))
        }
        Allowed::Never(reason) => Err(Box::new(expire(now_ms, never_allowed(&reason)))),
        Allowed::Now => Ok(String::new()),
    }
}

/// Wait until `at_ms`, looking again at most every [`SCHEDULE_POLL_MS`]; expire instead when
/// that is at or after the request's expiry.
fn wait_until(op: &Operation, now_ms: u64, at_ms: u64, why: String) -> Decision {
    if at_ms >= op.expires_at_ms {
        let expires = describe_instant(op.expires_at_ms, UtcOffset(0));
        return expire(
            now_ms,
            format!("not started before the request expired at {expires}: {why}; nothing was changed"),
        );
    }
    Decision::Wait { requeue_after_ms: (at_ms - now_ms).clamp(1, SCHEDULE_POLL_MS), why }
}

fn expire(now_ms: u64, message: String) -> Decision {
    Decision::Transition {
        to: Phase::Expired,
        event: OperationEvent::by_system(now_ms, event_kind::EXPIRED, message),
        plan: None,
    }
}
