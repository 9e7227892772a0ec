//! Whom an email to people goes to, per event: approvers for `requested` (never the requester,
//! only those with the approver role on the request's cluster), the requester for the
//! decisions, both for the execution's events; unknown addresses named, not dropped.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::access::{Role, Roles};
use rescaler_shared::notify::{Audience, NotifyEvent, Person, people_for};
use rescaler_shared::operation::Strategy;
use support::*;

fn person(name: &str, email: Option<&str>, roles: &[(&str, Role)]) -> Person {
    let roles: BTreeMap<String, Role> = roles.iter().map(|(cluster, role)| ((*cluster).to_owned(), *role)).collect();
    Person { name: name.to_owned(), email: email.map(str::to_owned), roles: Roles::new(roles) }
}

/// The request (by `REQUESTER` on `prod-eu`) and its people.
fn directory() -> Vec<Person> {
    vec![
        person(REQUESTER, Some("req@example.com"), &[("*", Role::Approver)]),
        person("bob", Some("bob@example.com"), &[("*", Role::Approver)]),
        person("carol", None, &[("prod-eu", Role::Admin)]),
        // Approver elsewhere, only a viewer here: a cluster's own entry wins.
        person("dave", Some("dave@example.com"), &[("*", Role::Approver), ("prod-eu", Role::Viewer)]),
        person("erin", Some("erin@example.com"), &[("*", Role::Requester)]),
        // The same person twice (another case): the first entry counts.
        person("BOB", Some("other@example.com"), &[("*", Role::Admin)]),
        person("frank", Some("BOB@example.com"), &[("prod-eu", Role::Approver)]),
    ]
}

#[test]
fn each_event_goes_to_its_audience() {
    let table = [
        (NotifyEvent::Requested, Audience::Approvers),
        (NotifyEvent::Approved, Audience::Requester),
        (NotifyEvent::Rejected, Audience::Requester),
        (NotifyEvent::Cancelled, Audience::Requester),
        (NotifyEvent::Expired, Audience::Requester),
        (NotifyEvent::Started, Audience::Both),
        (NotifyEvent::Completed, Audience::Both),
        (NotifyEvent::RolledBack, Audience::Both),
        (NotifyEvent::Failed, Audience::Both),
    ];
    for (event, audience) in table {
        assert_eq!(event.audience(), audience, "{event:?}");
    }
}

#[test]
fn recipients_per_event() {
    let operation = requested(Strategy::Savepoint);
    let people = directory();
    // (event, addresses, people without an address)
    let table: [(NotifyEvent, &[&str], &[&str]); 4] = [
        // Approvers only: not the requester (an approver too), not dave (a viewer here), not
        // erin (a requester); carol has no address; bob's address once though "frank" has it too.
        (NotifyEvent::Requested, &["bob@example.com"], &["carol"]),
        (NotifyEvent::Approved, &["req@example.com"], &[]),
        (NotifyEvent::Expired, &["req@example.com"], &[]),
        (NotifyEvent::Failed, &["req@example.com", "bob@example.com"], &["carol"]),
    ];
    for (event, addresses, unaddressed) in table {
        let recipients = people_for(event, &operation, &people);
        assert_eq!(recipients.addresses, addresses, "{event:?}");
        assert_eq!(recipients.unaddressed, unaddressed, "{event:?}");
    }
}

#[test]
fn a_requester_nobody_knows_is_named_and_nothing_fails() {
    let operation = requested(Strategy::Savepoint);
    let recipients = people_for(NotifyEvent::Completed, &operation, &[]);
    assert!(recipients.addresses.is_empty());
    assert_eq!(recipients.unaddressed, [REQUESTER]);
    let blank = [person(REQUESTER, Some("  "), &[])];
    assert_eq!(people_for(NotifyEvent::Rejected, &operation, &blank).unaddressed, [REQUESTER]);
    assert!(people_for(NotifyEvent::Requested, &operation, &[]).addresses.is_empty());
}
