//! What code a job runs: who may decide it (and read the program arguments), and what a re-link
//! does to a request waiting for approval.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::access::{Identity, Role};
use rescaler_shared::operation::{Approval, ArtifactRef, BreakGlass, Phase, ResolvedStrategy, Strategy, event_kind};
use rescaler_shared::user_action::{UserAction, may_link_jobs, refusal, take_new_artifact};
use support::*;

fn identity(roles: &[(&str, Role)]) -> Identity {
    Identity::new(
        "dave",
        roles.iter().map(|(cluster, role)| ((*cluster).to_owned(), *role)).collect::<BTreeMap<_, _>>(),
    )
}

fn other_artifact() -> ArtifactRef {
    ArtifactRef {
        artifact_id: "11".repeat(32),
        sha256: "11".repeat(32),
        entry_class: Some("com.example.Other".to_owned()),
        args: vec!["--password".to_owned(), "hunter2".to_owned()],
    }
}

#[test]
fn only_admins_of_the_cluster_may_link_jobs_and_read_their_arguments() {
    let cases = [
        (vec![("*", Role::Viewer)], false),
        (vec![("*", Role::Requester)], false),
        (vec![("*", Role::Approver)], false),
        (vec![("*", Role::Admin)], true),
        (vec![("prod-eu", Role::Admin)], true),
        (vec![("other", Role::Admin)], false),
        // A cluster's own entry wins over the wildcard, lower or not.
        (vec![("*", Role::Admin), ("prod-eu", Role::Approver)], false),
        (vec![], false),
    ];
    for (roles, expected) in cases {
        assert_eq!(may_link_jobs(&identity(&roles), "prod-eu"), expected, "{roles:?}");
    }
}

#[test]
fn a_relink_while_waiting_takes_the_new_artifact_and_clears_the_approvals() {
    let mut operation = requested(Strategy::Savepoint);
    operation.required_approvals = 2;
    operation.approvals.push(Approval { by: "bob".into(), at_ms: CREATED_AT_MS + 1, comment: String::new() });
    operation.break_glass = Some(BreakGlass { by: "root".into(), at_ms: CREATED_AT_MS + 2, reason: "fire".into() });
    let events_before = operation.events.len();
    assert!(take_new_artifact(
        &mut operation,
        other_artifact(),
        "admin",
        "artifact 1111 (other.jar)",
        CREATED_AT_MS + 3
    ));
    assert_eq!(operation.artifact, Some(other_artifact()));
    assert!(operation.approvals.is_empty());
    assert!(operation.break_glass.is_none());
    assert!(!operation.is_approved());
    let event = &operation.events[events_before];
    assert_eq!(event.kind, event_kind::RELINKED);
    assert_eq!(event.actor.as_deref(), Some("admin"));
    assert!(event.message.contains("artifact 1111 (other.jar)"), "{}", event.message);
    assert!(event.message.contains("bob") && event.message.contains("root"), "{}", event.message);
    assert!(!event.message.contains("hunter2"), "arguments never reach events: {}", event.message);
    // bob may approve again.
    let bob = Identity::new("bob", BTreeMap::from([("*".to_owned(), Role::Approver)]));
    assert_eq!(refusal(&operation, &bob, UserAction::Approve, CREATED_AT_MS + 4), None);
}

#[test]
fn the_same_artifact_or_a_request_past_approval_is_left_alone() {
    let mut waiting = requested(Strategy::Savepoint);
    let same = waiting.artifact.clone().expect("the support request has an artifact");
    let before = waiting.clone();
    assert!(!take_new_artifact(&mut waiting, same, "admin", "the same", CREATED_AT_MS + 1));
    assert_eq!(waiting, before);
    let mut approved = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let before = approved.clone();
    assert!(!take_new_artifact(&mut approved, other_artifact(), "admin", "other", NOW_MS));
    assert_eq!(approved, before, "an approved request runs what was approved");
}
