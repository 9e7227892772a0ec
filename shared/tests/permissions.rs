//! Table tests of the one permission rule: role × phase × own request or not × approval window,
//! for every user action; and the mutations agree with it everywhere.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::access::{Identity, Role};
use rescaler_shared::operation::{Approval, BreakGlass, Operation, Phase, ResolvedStrategy};
use rescaler_shared::user_action::{ActionRefused, Permitted, UserAction, act, refusal};
use support::*;

const OTHER: &str = "carol@example.com";

fn identity(name: &str, roles: &[(&str, Role)]) -> Identity {
    Identity::new(name, roles.iter().map(|(cluster, role)| ((*cluster).to_owned(), *role)).collect::<BTreeMap<_, _>>())
}

fn in_phase(phase: Phase) -> Operation {
    operation_in(phase, ResolvedStrategy::Savepoint)
}

fn awaiting() -> Operation {
    let mut operation = requested(rescaler_shared::operation::Strategy::Savepoint);
    operation.required_approvals = 2;
    operation
}

/// Allowed actions as `arcb` letters: approve, reject, cancel, break glass; `-` where refused.
fn allowed(operation: &Operation, who: &Identity, now_ms: u64) -> String {
    UserAction::ALL
        .into_iter()
        .zip(['a', 'r', 'c', 'b'])
        .map(|(action, letter)| if refusal(operation, who, action, now_ms).is_none() { letter } else { '-' })
        .collect()
}

struct Row {
    what: &'static str,
    operation: Operation,
    who: Identity,
    now_ms: u64,
    expected: &'static str,
}

fn open_ms() -> u64 {
    CREATED_AT_MS + 10
}

fn expired_ms() -> u64 {
    CREATED_AT_MS + APPROVAL_WINDOW_MS
}

fn rows() -> Vec<Row> {
    let row = |what, operation, who, now_ms, expected| Row { what, operation, who, now_ms, expected };
    let me = |roles: &[(&str, Role)]| identity(REQUESTER, roles);
    let other = |roles: &[(&str, Role)]| identity(OTHER, roles);
    let mut approved_once = awaiting();
    approved_once.approvals.push(Approval { by: OTHER.to_owned(), at_ms: CREATED_AT_MS + 1, comment: String::new() });
    let mut glass_broken = awaiting();
    glass_broken.break_glass =
        Some(BreakGlass { by: "oncall".to_owned(), at_ms: CREATED_AT_MS + 1, reason: "outage".to_owned() });
    vec![
        row("no role", awaiting(), other(&[]), open_ms(), "----"),
        row("viewer", awaiting(), other(&[("*", Role::Viewer)]), open_ms(), "----"),
        row("requester, someone else's", awaiting(), other(&[("*", Role::Requester)]), open_ms(), "----"),
        row("requester withdraws own", awaiting(), me(&[("*", Role::Requester)]), open_ms(), "--c-"),
        row("approver, someone else's", awaiting(), other(&[("*", Role::Approver)]), open_ms(), "arc-"),
        row("approver, own", awaiting(), me(&[("*", Role::Approver)]), open_ms(), "-rc-"),
        row(
            "approver, own, other case and spaces",
            awaiting(),
            identity(" ALICE@example.com ", &[("*", Role::Approver)]),
            open_ms(),
            "-rc-",
        ),
        row("approver, window closed", awaiting(), other(&[("*", Role::Approver)]), expired_ms(), "-rc-"),
        row("approver who approved already", approved_once.clone(), other(&[("*", Role::Approver)]), open_ms(), "-rc-"),
        row(
            "another approver after one approval",
            approved_once,
            identity("dave", &[("*", Role::Approver)]),
            open_ms(),
            "arc-",
        ),
        row("admin, someone else's", awaiting(), other(&[("*", Role::Admin)]), open_ms(), "arcb"),
        row("admin, own", awaiting(), me(&[("*", Role::Admin)]), open_ms(), "-rcb"),
        row("admin, window closed", awaiting(), other(&[("*", Role::Admin)]), expired_ms(), "-rc-"),
        row("admin, glass already broken", glass_broken, other(&[("*", Role::Admin)]), open_ms(), "arc-"),
        row("admin of another cluster", awaiting(), other(&[("staging", Role::Admin)]), open_ms(), "----"),
        row(
            "admin everywhere, viewer here",
            awaiting(),
            other(&[("*", Role::Admin), ("prod-eu", Role::Viewer)]),
            open_ms(),
            "----",
        ),
        row(
            "viewer everywhere, approver here",
            awaiting(),
            other(&[("*", Role::Viewer), ("prod-eu", Role::Approver)]),
            open_ms(),
            "arc-",
        ),
        row("approved: approver cancels", in_phase(Phase::Approved), other(&[("*", Role::Approver)]), NOW_MS, "--c-"),
        row("approved: requester withdraws", in_phase(Phase::Approved), me(&[("*", Role::Requester)]), NOW_MS, "--c-"),
        row(
            "approved: requester, someone else's",
            in_phase(Phase::Approved),
            other(&[("*", Role::Requester)]),
            NOW_MS,
            "----",
        ),
        row(
            "stopping",
            in_phase(Phase::Stopping { trigger_id: "t".to_owned() }),
            other(&[("*", Role::Admin)]),
            NOW_MS,
            "----",
        ),
        row(
            "verifying",
            in_phase(Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: NOW_MS }),
            me(&[("*", Role::Admin)]),
            NOW_MS,
            "----",
        ),
        row("completed", in_phase(Phase::Completed), other(&[("*", Role::Admin)]), NOW_MS, "----"),
        row(
            "rejected",
            in_phase(Phase::Rejected { by: OTHER.to_owned(), comment: String::new() }),
            other(&[("*", Role::Admin)]),
            NOW_MS,
            "----",
        ),
        row("expired", in_phase(Phase::Expired), other(&[("*", Role::Admin)]), NOW_MS, "----"),
        row("failed", in_phase(Phase::Failed { reason: "x".to_owned() }), me(&[("*", Role::Admin)]), NOW_MS, "----"),
    ]
}

#[test]
fn who_may_do_what_now() {
    let mut failures = Vec::new();
    for row in rows() {
        let got = allowed(&row.operation, &row.who, row.now_ms);
        if got != row.expected {
            failures.push(format!("{}: expected {}, got {got}", row.what, row.expected));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn permitted_is_the_rule_and_explains_when_nothing_is() {
    for row in rows() {
        let permitted = Permitted::of(&row.operation, &row.who, row.now_ms);
        for action in UserAction::ALL {
            assert_eq!(
                permitted.allows(action),
                refusal(&row.operation, &row.who, action, row.now_ms).is_none(),
                "{}: {action:?}",
                row.what
            );
        }
        assert_eq!(permitted.any(), row.expected != "----", "{}", row.what);
        assert_eq!(permitted.why_none.is_empty(), permitted.any(), "{}", row.what);
    }
    let closed = Permitted::of(&awaiting(), &identity(OTHER, &[("*", Role::Viewer)]), expired_ms());
    assert_eq!(closed.why_none, "The approval window has closed; the request expires at the next check.");
    let running =
        Permitted::of(&in_phase(Phase::Stopping { trigger_id: "t".to_owned() }), &identity(OTHER, &[]), NOW_MS);
    assert!(running.why_none.starts_with("The rescale is running"), "{}", running.why_none);
    let viewer = Permitted::of(&awaiting(), &identity(OTHER, &[("*", Role::Viewer)]), open_ms());
    assert_eq!(viewer.why_none, "Your role on prod-eu (viewer) cannot act on this request.");
}

#[test]
fn acting_succeeds_exactly_when_the_rule_allows() {
    for row in rows() {
        for action in UserAction::ALL {
            let mut operation = row.operation.clone();
            let result = act(&mut operation, &row.who, action, "a reason", row.now_ms);
            let refused = refusal(&row.operation, &row.who, action, row.now_ms);
            assert_eq!(result.clone().err(), refused, "{}: {action:?}", row.what);
            assert_eq!(result.is_ok(), operation != row.operation, "{}: {action:?} changed the record", row.what);
        }
    }
}

#[test]
fn refusals_say_whether_the_caller_lacks_the_right() {
    let viewer = identity(OTHER, &[("*", Role::Viewer)]);
    let refused = refusal(&awaiting(), &viewer, UserAction::Approve, open_ms()).expect("refused");
    assert_eq!(refused, ActionRefused::NeedsRole { role: Role::Approver, cluster_id: "prod-eu".to_owned() });
    assert_eq!(refused.to_string(), "this needs the approver role on cluster prod-eu");
    assert!(refused.is_forbidden());
    let own = refusal(&awaiting(), &identity(REQUESTER, &[("*", Role::Admin)]), UserAction::Approve, open_ms());
    assert_eq!(own, Some(ActionRefused::OwnRequest));
    assert!(ActionRefused::OwnRequest.is_forbidden());
    let closed = refusal(&awaiting(), &identity(OTHER, &[("*", Role::Admin)]), UserAction::Approve, expired_ms());
    assert_eq!(closed, Some(ActionRefused::ApprovalWindowClosed));
    assert!(!ActionRefused::ApprovalWindowClosed.is_forbidden());
}

#[test]
fn identity_on_the_wire_is_a_name_and_a_plain_roles_map() {
    let who = identity("ann", &[("*", Role::Admin), ("prod", Role::Viewer)]);
    let json = serde_json::to_value(&who).expect("serializes");
    assert_eq!(json, serde_json::json!({"name": "ann", "roles": {"*": "admin", "prod": "viewer"}}));
    assert_eq!(serde_json::from_value::<Identity>(json).expect("deserializes"), who);
    assert!(serde_json::from_value::<Identity>(serde_json::json!({"name": "x", "roles": {"*": "boss"}})).is_err());
}
