//! Which of Flink's recorded rescales belong to an in-place request, and why some requests have
//! no account: table-tested on records as the engine writes them.

use rescaler_shared::flink_rescales::{
    ExecutionWindow, FlinkAccountStatus, FlinkRescale, FlinkRescaleAccount, WINDOW_MARGIN_MS, keeps_rescale_history,
};
use rescaler_shared::operation::{
    Operation, OperationEvent, OperationRequest, PhaseName, PhaseSpan, ResolvedStrategy, Strategy, Target, event_kind,
};
use rescaler_shared::phase::Phase;

const JOB_ID: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";
const APPLYING_AT_MS: u64 = 2_000_000;
const COMPLETED_AT_MS: u64 = 2_030_000;

fn request() -> Operation {
    Operation::new(
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0".to_owned(),
        OperationRequest {
            cluster_id: "local".to_owned(),
            job_id: JOB_ID.to_owned(),
            job_name: "keyed-counter".to_owned(),
            target: Target::Uniform { parallelism: 3 },
            strategy: Strategy::InPlace,
            reason: "load".to_owned(),
            requested_by: "alice".to_owned(),
            required_approvals: 1,
            approval_window_ms: 3_600_000,
            verify_timeout_ms: 60_000,
            artifact: None,
            autoscaling: None,
        },
        1_000_000,
    )
}

fn span(phase: PhaseName, started_at_ms: u64, ended_at_ms: Option<u64>) -> PhaseSpan {
    PhaseSpan { phase, started_at_ms, ended_at_ms }
}

/// An in-place request that went through applying and verifying; completed when `ended`.
fn in_place(ended: bool) -> Operation {
    let mut operation = request();
    operation.strategy = Some(ResolvedStrategy::InPlace);
    operation.phase_history = vec![
        span(PhaseName::AwaitingApproval, 1_000_000, Some(1_500_000)),
        span(PhaseName::Approved, 1_500_000, Some(APPLYING_AT_MS)),
        span(PhaseName::Applying, APPLYING_AT_MS, Some(APPLYING_AT_MS + 300)),
        span(PhaseName::Verifying, APPLYING_AT_MS + 300, ended.then_some(COMPLETED_AT_MS)),
    ];
    operation.phase = Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: APPLYING_AT_MS + 300 };
    if ended {
        operation.phase_history.push(span(PhaseName::Completed, COMPLETED_AT_MS, None));
        operation.phase = Phase::Completed;
    }
    operation.events.push(OperationEvent::by_system(APPLYING_AT_MS + 300, event_kind::REQUIREMENTS_SENT, "sent"));
    operation
}

fn rescale(id: &str, trigger: &str, started_at_ms: u64) -> FlinkRescale {
    FlinkRescale {
        id: id.to_owned(),
        attempt: Some(1),
        trigger: trigger.to_owned(),
        started_at_ms,
        ended_at_ms: Some(started_at_ms.saturating_add(1_500)),
        outcome: Some("COMPLETED".to_owned()),
        terminated_reason: Some("SUCCEEDED".to_owned()),
        scheduler_states: Vec::new(),
        vertices: Vec::new(),
    }
}

#[test]
fn the_window_runs_from_applying_to_the_end_of_the_request() {
    let window = ExecutionWindow::of(&in_place(true)).expect("in place");
    assert_eq!(window, ExecutionWindow { from_ms: APPLYING_AT_MS, until_ms: Some(COMPLETED_AT_MS) });
    let open = ExecutionWindow::of(&in_place(false)).expect("in place");
    assert_eq!(open.until_ms, None, "a request that is not over has an open window");
}

#[test]
fn only_rescales_started_within_the_window_and_its_margin_are_the_requests() {
    let window = ExecutionWindow::of(&in_place(true)).expect("in place");
    let history = vec![
        // Newest first, as Flink lists them.
        rescale("after", "NEW_RESOURCE_AVAILABLE", COMPLETED_AT_MS + WINDOW_MARGIN_MS + 1),
        rescale("late-edge", "UPDATE_REQUIREMENT", COMPLETED_AT_MS + WINDOW_MARGIN_MS),
        rescale("rollback", "UPDATE_REQUIREMENT", APPLYING_AT_MS + 20_000),
        rescale("ours", "UPDATE_REQUIREMENT", APPLYING_AT_MS + 330),
        rescale("skewed-clock", "UPDATE_REQUIREMENT", APPLYING_AT_MS - WINDOW_MARGIN_MS),
        rescale("first-schedule", "INITIAL_SCHEDULE", APPLYING_AT_MS - WINDOW_MARGIN_MS - 1),
    ];
    let account = FlinkRescaleAccount::recorded(window, history);
    assert_eq!(account.status, FlinkAccountStatus::Recorded);
    assert_eq!(account.reason, None);
    let ids: Vec<&str> = account.rescales.iter().map(|rescale| rescale.id.as_str()).collect();
    assert_eq!(ids, ["skewed-clock", "ours", "rollback", "late-edge"], "oldest first, within the margin");
}

#[test]
fn an_open_window_takes_every_later_rescale() {
    let window = ExecutionWindow::of(&in_place(false)).expect("in place");
    let account = FlinkRescaleAccount::recorded(window, vec![rescale("much-later", "UPDATE_REQUIREMENT", u64::MAX)]);
    assert_eq!(account.rescales.len(), 1);
}

#[test]
fn requests_without_an_account_say_why() {
    let mut savepoint = in_place(true);
    savepoint.strategy = Some(ResolvedStrategy::Savepoint);
    let waiting = request();
    let mut waiting_for_a_savepoint = request();
    waiting_for_a_savepoint.requested_strategy = Strategy::Savepoint;
    let mut auto = request();
    auto.requested_strategy = Strategy::Auto;
    let mut rejected = request();
    rejected.enter(Phase::Rejected { by: "bob".to_owned(), comment: String::new() }, 1_200_000);
    let mut approved_in_place = request();
    approved_in_place.strategy = Some(ResolvedStrategy::InPlace);
    let cases = [
        (savepoint, FlinkAccountStatus::NotInPlace, "not an in-place rescale"),
        (waiting_for_a_savepoint, FlinkAccountStatus::NotInPlace, "not an in-place rescale"),
        (waiting, FlinkAccountStatus::NotSent, "have not been sent"),
        (auto, FlinkAccountStatus::NotSent, "have not been sent"),
        (rejected, FlinkAccountStatus::NotSent, "ended before"),
        (approved_in_place, FlinkAccountStatus::NotSent, "have not been sent"),
    ];
    for (operation, status, words) in cases {
        let account = ExecutionWindow::of(&operation).expect_err("no window");
        assert_eq!(account.status, status);
        assert!(account.reason.as_deref().is_some_and(|reason| reason.contains(words)), "{account:?}");
        assert!(account.rescales.is_empty() && account.window.is_none());
    }
}

#[test]
fn an_older_record_without_an_applying_span_starts_at_its_requirements_sent_event() {
    let mut operation = in_place(true);
    operation.phase_history.retain(|span| span.phase != PhaseName::Applying);
    let window = ExecutionWindow::of(&operation).expect("in place");
    assert_eq!(window.from_ms, APPLYING_AT_MS + 300);
}

#[test]
fn no_history_names_the_version_or_the_setting_and_a_gone_job_names_the_job() {
    let window = ExecutionWindow { from_ms: 1, until_ms: None };
    let old = FlinkRescaleAccount::not_kept(window, "1.20.5");
    assert_eq!(old.status, FlinkAccountStatus::NotKept);
    assert_eq!(old.reason.as_deref(), Some("Flink 1.20.5 keeps no rescale history: it came with Flink 2.3"));
    let off = FlinkRescaleAccount::not_kept(window, "2.3.0");
    assert_eq!(
        off.reason.as_deref(),
        Some("Flink keeps no rescale history for this job: web.adaptive-scheduler.rescale-history.size is 0")
    );
    let gone = FlinkRescaleAccount::job_gone(window, JOB_ID);
    assert_eq!(gone.status, FlinkAccountStatus::JobGone);
    assert!(
        gone.reason.as_deref().is_some_and(|reason| reason.starts_with("the job is gone") && reason.contains(JOB_ID))
    );
    for (version, keeps) in [
        ("2.3.0", Some(true)),
        ("2.4-SNAPSHOT", Some(true)),
        ("3.0.0", Some(true)),
        ("2.2.1", Some(false)),
        ("1.20.5", Some(false)),
        ("dev", None),
    ] {
        assert_eq!(keeps_rescale_history(version), keeps, "{version}");
    }
}

#[test]
fn triggers_and_outcomes_read_as_words() {
    let mut ours = rescale("ours", "UPDATE_REQUIREMENT", 1);
    assert!(ours.is_completed());
    assert_eq!(ours.trigger_label(), "new resource requirements");
    assert_eq!(ours.outcome_label(), "completed");
    ours.outcome = Some("IGNORED".to_owned());
    ours.terminated_reason = Some("RESOURCE_REQUIREMENTS_UPDATED".to_owned());
    assert!(!ours.is_completed());
    assert_eq!(ours.outcome_label(), "ignored: newer resource requirements replaced it");
    ours.outcome = None;
    assert_eq!(ours.outcome_label(), "in progress");
    assert_eq!(rescale("x", "SOMETHING_NEW", 1).trigger_label(), "something new");
}
