//! `phase::quiet_until`: when it names a time, `decide` waits until then whatever a pass
//! observes — the promise that lets a reconcile pass leave the request unread.

mod support;

use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::{Approval, BreakGlass, Lease, Operation, ResolvedStrategy, Strategy};
use rescaler_shared::phase::{Decision, Observation, Phase, decide, quiet_until};
use support::*;

/// Observations a pass could make: nothing read, Flink down, the job running, the job gone.
fn observations(now_ms: u64) -> Vec<(&'static str, Observation)> {
    let running = job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM);
    vec![
        ("nothing read", observation(now_ms)),
        ("flink unavailable", Observation { flink_unavailable: Some("refused".to_owned()), ..observation(now_ms) }),
        ("job running", Observation { job: present(running), cluster: Some(cluster(4)), ..observation(now_ms) }),
        ("job gone", Observation { job: absent(), cluster: Some(cluster(4)), ..observation(now_ms) }),
    ]
}

fn approved_by(mut operation: Operation, by: &str) -> Operation {
    operation.approvals.push(Approval { by: by.to_owned(), at_ms: CREATED_AT_MS + 5, comment: String::new() });
    operation
}

#[test]
fn a_quiet_request_waits_whatever_a_pass_observes_until_its_time() {
    let mut two_needed = requested(Strategy::Savepoint);
    two_needed.required_approvals = 2;
    let one_of_two = approved_by(two_needed.clone(), "bob@example.com");
    let mut scheduled = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let not_before = NOW_MS + 600_000;
    scheduled.not_before_ms = Some(not_before);
    for (name, operation, until) in [
        ("awaiting its first approval", requested(Strategy::Savepoint), requested(Strategy::Savepoint).expires_at_ms),
        ("one of two approvals", one_of_two.clone(), one_of_two.expires_at_ms),
        ("approved, not before a later time", scheduled.clone(), not_before),
    ] {
        assert_eq!(quiet_until(&operation, NOW_MS), Some(until), "{name}");
        for at in [NOW_MS, NOW_MS + 1, (NOW_MS + until) / 2, until - 1] {
            for (seen, observation) in observations(at) {
                let decision = decide(&operation, &observation);
                assert!(matches!(decision, Decision::Wait { .. }), "{name}, {seen}, at {at}: {decision:?}");
            }
        }
        // At its time the request moves on (expires, or starts).
        let (_, running) = observations(until).swap_remove(2);
        let at_until = decide(&operation, &running);
        assert!(!matches!(at_until, Decision::Wait { .. }), "{name}: {at_until:?}");
        assert_eq!(quiet_until(&operation, until), None, "{name}: no longer quiet at its time");
    }
}

#[test]
fn a_request_a_pass_must_look_at_is_never_quiet() {
    let approved = approved_by(requested(Strategy::Savepoint), "bob@example.com");
    let mut broken_glass = requested(Strategy::Savepoint);
    broken_glass.break_glass =
        Some(BreakGlass { by: "carol@example.com".to_owned(), at_ms: CREATED_AT_MS + 5, reason: "outage".to_owned() });
    let mut leased = requested(Strategy::Savepoint);
    leased.lease = Some(Lease { owner: "r1".to_owned(), until_ms: NOW_MS + 60_000, action: "x".to_owned() });
    let ready = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let mut late = ready.clone();
    late.not_before_ms = Some(late.expires_at_ms);
    let mut passed = ready.clone();
    passed.not_before_ms = Some(NOW_MS - 1);
    let stopping = operation_in(Phase::Stopping { trigger_id: "t".to_owned() }, ResolvedStrategy::Savepoint);
    let completed = operation_in(Phase::Completed, ResolvedStrategy::Savepoint);
    let expired = requested(Strategy::Savepoint);
    for (name, operation, now) in [
        ("all approvals in: it starts", approved, NOW_MS),
        ("a break-glass: it starts", broken_glass, NOW_MS),
        ("a lease on it", leased, NOW_MS),
        ("approved, no not-before: the schedule and Flink decide", ready, NOW_MS),
        ("a not-before at its expiry: it expires now", late, NOW_MS),
        ("a not-before passed", passed, NOW_MS),
        ("executing", stopping, NOW_MS),
        ("ended", completed, NOW_MS),
        ("its expiry reached", expired.clone(), expired.expires_at_ms),
    ] {
        assert_eq!(quiet_until(&operation, now), None, "{name}");
    }
}
