//! Table tests of recurring schedules: the next occurrence (days, offsets, the day wrap, two
//! steps), which one is due (the grace, missed ones, nothing before activation), and the one
//! permission rule for schedule actions, role × state × own schedule.

use std::collections::BTreeMap;

use rescaler_shared::access::{Identity, Role};
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::recurring::{
    CreateSchedule, Due, OCCURRENCE_GRACE_MS, RecurringSchedule, ScheduleState, ScheduleTerms, Step, due,
    next_occurrence, occurrence_operation_id, refuses_schedule, steps_problem,
};
use rescaler_shared::schedule::{Instant, Weekday};
use rescaler_shared::user_action::{ActionRefused, ScheduleAction, act_on_schedule, schedule_refusal};

const MINUTE: u64 = 60_000;
const REQUESTER: &str = "alice";

fn at(text: &str) -> u64 {
    Instant::try_from(text.to_owned()).expect("an instant").0
}

fn step(days: &[Weekday], time: &str, offset: &str, parallelism: u32) -> Step {
    let text = format!(
        r#"{{"days": {}, "at": "{time}", "utc_offset": "{offset}", "target": {{"kind": "uniform", "parallelism": {parallelism}}}}}"#,
        serde_json::to_string(days).expect("days")
    );
    serde_json::from_str(&text).expect("a step")
}

fn schedule(steps: Vec<Step>) -> RecurringSchedule {
    RecurringSchedule::new(
        CreateSchedule { cluster_id: "c".into(), job_id: "j".repeat(32), steps, reason: "night".into() },
        ScheduleTerms {
            id: "a".repeat(32),
            deployment_id: "j".repeat(32),
            job_name: "job".into(),
            requested_by: REQUESTER.into(),
            required_approvals: 1,
            approval_window_ms: 60 * MINUTE,
            verify_timeout_ms: 60_000,
            stable_for_ms: 10_000,
        },
        at("2026-11-30T00:00:00Z"),
    )
}

/// Weekdays 22:00 to 2, weekdays 07:00 to 6, at +01:00.
fn nights() -> RecurringSchedule {
    use Weekday::*;
    let weekdays = [Mon, Tue, Wed, Thu, Fri];
    schedule(vec![step(&weekdays, "22:00", "+01:00", 2), step(&weekdays, "07:00", "+01:00", 6)])
}

fn active(mut schedule: RecurringSchedule, since: &str) -> RecurringSchedule {
    schedule.state = ScheduleState::Active;
    schedule.active_since_ms = Some(at(since));
    schedule
}

#[test]
fn the_next_occurrence_follows_days_offsets_and_the_day_wrap() {
    use Weekday::*;
    // 2026-12-01 is a Tuesday.
    type Row = (&'static str, RecurringSchedule, &'static str, Option<(&'static str, usize)>);
    let rows: &[Row] = &[
        (
            "tuesday noon: 22:00 +01:00 is 21:00 UTC",
            nights(),
            "2026-12-01T12:00:00Z",
            Some(("2026-12-01T21:00:00Z", 0)),
        ),
        (
            "just after the evening step: next morning",
            nights(),
            "2026-12-01T21:00:00Z",
            Some(("2026-12-02T06:00:00Z", 1)),
        ),
        ("friday evening: then monday morning", nights(), "2026-12-04T21:00:00Z", Some(("2026-12-07T06:00:00Z", 1))),
        ("saturday: monday morning", nights(), "2026-12-05T10:00:00Z", Some(("2026-12-07T06:00:00Z", 1))),
        (
            "a local day ahead of UTC: monday 00:30 at +02:00 is sunday 22:30 UTC",
            schedule(vec![step(&[Mon], "00:30", "+02:00", 2)]),
            "2026-12-06T12:00:00Z",
            Some(("2026-12-06T22:30:00Z", 0)),
        ),
        (
            "behind UTC: sunday 23:00 at -05:00 is monday 04:00 UTC",
            schedule(vec![step(&[Sun], "23:00", "-05:00", 2)]),
            "2026-12-06T12:00:00Z",
            Some(("2026-12-07T04:00:00Z", 0)),
        ),
        (
            "seconds count: 18:00:25 today",
            schedule(vec![step(&[Tue], "18:00:25", "Z", 2)]),
            "2026-12-01T18:00:00Z",
            Some(("2026-12-01T18:00:25Z", 0)),
        ),
        (
            "exactly at an occurrence: the one a week later",
            schedule(vec![step(&[Tue], "18:00", "Z", 2)]),
            "2026-12-01T18:00:00Z",
            Some(("2026-12-08T18:00:00Z", 0)),
        ),
        ("no days: never", schedule(vec![step(&[], "18:00", "Z", 2)]), "2026-12-01T18:00:00Z", None),
    ];
    for (what, schedule, after, expected) in rows {
        let expected = expected.map(|(when, index)| (at(when), index));
        assert_eq!(next_occurrence(schedule, at(after)), expected, "{what}");
    }
}

#[test]
fn the_due_occurrence_runs_within_the_grace_and_older_ones_are_missed() {
    let since = "2026-12-01T12:00:00Z";
    let evening = at("2026-12-01T21:00:00Z");
    let grace = OCCURRENCE_GRACE_MS;
    let mut done = active(nights(), since);
    done.last_occurrence_ms = Some(evening);
    let rows: Vec<(&str, RecurringSchedule, u64, Due)> = vec![
        ("before its time: nothing", active(nights(), since), evening - 1, Due::Nothing),
        ("at its time", active(nights(), since), evening, Due::Run { at_ms: evening, step: 0 }),
        ("late within the grace", active(nights(), since), evening + grace, Due::Run { at_ms: evening, step: 0 }),
        (
            "past the grace: missed",
            active(nights(), since),
            evening + grace + 1,
            Due::Missed { first_ms: evening, last_ms: evening, step: 0, count: 1 },
        ),
        (
            "down for two days: every missed one counted, the due one left for the next call",
            active(nights(), since),
            at("2026-12-03T21:05:00Z"),
            Due::Missed { first_ms: evening, last_ms: at("2026-12-03T06:00:00Z"), step: 1, count: 4 },
        ),
        ("already materialized: nothing until the next", done.clone(), evening + MINUTE, Due::Nothing),
        (
            "the next after the last",
            done,
            at("2026-12-02T06:00:00Z"),
            Due::Run { at_ms: at("2026-12-02T06:00:00Z"), step: 1 },
        ),
        ("awaiting approval: nothing", nights(), evening, Due::Nothing),
        (
            "activated after the occurrence: nothing",
            active(nights(), "2026-12-01T21:00:30Z"),
            evening + MINUTE,
            Due::Nothing,
        ),
    ];
    for (what, schedule, now_ms, expected) in rows {
        assert_eq!(due(&schedule, now_ms), expected, "{what}");
    }
    let mut cancelled = active(nights(), since);
    cancelled.state = ScheduleState::Cancelled;
    assert_eq!(due(&cancelled, evening), Due::Nothing, "a cancelled schedule has no occurrences");
}

#[test]
fn steps_are_checked_and_occurrence_ids_are_stable() {
    assert_eq!(steps_problem(&[]).as_deref(), Some("a schedule needs at least one step"));
    let steps = [step(&[Weekday::Mon], "07:00", "Z", 2), step(&[], "08:00", "Z", 3)];
    assert_eq!(steps_problem(&steps).as_deref(), Some("step 2 has no days"));
    assert_eq!(steps_problem(&steps[..1]), None);
    let bad = r#"{"days": ["mon"], "at": "24:00", "target": {"kind": "uniform", "parallelism": 2}}"#;
    assert!(serde_json::from_str::<Step>(bad).is_err(), "24:00 is no time of day");
    let first = occurrence_operation_id(&"a".repeat(32), 1_000);
    assert_eq!(first, occurrence_operation_id(&"a".repeat(32), 1_000), "the same occurrence, the same request");
    assert_ne!(first, occurrence_operation_id(&"a".repeat(32), 2_000));
    assert_eq!(first.len(), 32);
    assert!(refuses_schedule("parallelism_out_of_range") && !refuses_schedule("not_enough_slots"));
    let parsed: Step =
        serde_json::from_str(r#"{"days": ["tue"], "at": "22:00:05", "target": {"kind": "uniform", "parallelism": 2}}"#)
            .expect("seconds and defaults");
    assert_eq!((parsed.strategy, parsed.target), (Strategy::Auto, Target::Uniform { parallelism: 2 }));
}

fn identity(name: &str, role: Role) -> Identity {
    Identity::new(name, BTreeMap::from([("c".to_owned(), role)]))
}

/// Allowed actions as `qarc` letters: request, approve, reject, cancel; `-` where refused.
fn allowed(schedule: &RecurringSchedule, who: &Identity, now_ms: u64) -> String {
    [ScheduleAction::Request, ScheduleAction::Approve, ScheduleAction::Reject, ScheduleAction::Cancel]
        .into_iter()
        .zip(['q', 'a', 'r', 'c'])
        .map(|(action, letter)| if schedule_refusal(schedule, who, action, now_ms).is_none() { letter } else { '-' })
        .collect()
}

#[test]
fn the_permission_table_of_schedule_actions() {
    let open = nights().created_at_ms + MINUTE;
    let closed = nights().expires_at_ms;
    let in_state = |state| {
        let mut schedule = nights();
        schedule.state = state;
        schedule
    };
    let rows: Vec<(&str, RecurringSchedule, Identity, u64, &str)> = vec![
        ("a viewer does nothing", nights(), identity("vic", Role::Viewer), open, "----"),
        ("a requester asks, cannot decide others'", nights(), identity("rita", Role::Requester), open, "q---"),
        ("the requester cancels her own", nights(), identity(REQUESTER, Role::Requester), open, "q--c"),
        ("an approver decides", nights(), identity("bob", Role::Approver), open, "qar-"),
        ("never one's own, even as admin", nights(), identity(REQUESTER, Role::Admin), open, "q--c"),
        ("an admin decides and cancels", nights(), identity("ann", Role::Admin), open, "qarc"),
        ("the window closed", nights(), identity("ann", Role::Admin), closed, "q--c"),
        ("active: only cancel", in_state(ScheduleState::Active), identity("ann", Role::Admin), open, "q--c"),
        ("active, her own", in_state(ScheduleState::Active), identity(REQUESTER, Role::Requester), open, "q--c"),
        ("cancelled: nothing", in_state(ScheduleState::Cancelled), identity("ann", Role::Admin), open, "q---"),
        ("rejected: nothing", in_state(ScheduleState::Rejected), identity(REQUESTER, Role::Requester), open, "q---"),
        ("expired: nothing", in_state(ScheduleState::Expired), identity("bob", Role::Approver), open, "q---"),
    ];
    for (what, schedule, who, now_ms, expected) in rows {
        assert_eq!(allowed(&schedule, &who, now_ms), expected, "{what}");
    }
}

#[test]
fn approving_activates_and_the_mutations_follow_the_rule() {
    let bob = identity("bob", Role::Approver);
    let mut schedule = nights();
    let now = schedule.created_at_ms + MINUTE;
    let own = act_on_schedule(&mut schedule, &identity(REQUESTER, Role::Admin), ScheduleAction::Approve, "", now);
    assert_eq!(own, Err(ActionRefused::OwnRequest));
    act_on_schedule(&mut schedule, &bob, ScheduleAction::Approve, "ok", now).expect("bob approves");
    assert_eq!((schedule.state, schedule.active_since_ms), (ScheduleState::Active, Some(now)));
    assert!(schedule.events.iter().any(|event| event.kind == "schedule_activated"), "{:?}", schedule.events);
    assert!(schedule.describe_approvals().starts_with("approved by bob at 2026-11-30 00:01"));
    let again = act_on_schedule(&mut schedule, &bob, ScheduleAction::Approve, "", now);
    assert!(matches!(again, Err(ActionRefused::ScheduleClosed { .. })), "{again:?}");
    let approver_cancel = act_on_schedule(&mut schedule, &bob, ScheduleAction::Cancel, "", now);
    assert!(matches!(approver_cancel, Err(ActionRefused::NeedsRole { role: Role::Admin, .. })), "{approver_cancel:?}");
    act_on_schedule(&mut schedule, &identity(REQUESTER, Role::Requester), ScheduleAction::Cancel, "done", now)
        .expect("the requester cancels");
    assert_eq!(schedule.state, ScheduleState::Cancelled);
    assert_eq!(due(&schedule, at("2026-12-01T21:00:00Z")), Due::Nothing);
    let mut waiting = nights();
    assert!(!waiting.expire_if_due(waiting.expires_at_ms - 1));
    assert!(waiting.expire_if_due(waiting.expires_at_ms));
    assert_eq!(waiting.state, ScheduleState::Expired);
}

#[test]
fn an_occurrence_is_a_request_approved_through_its_schedule() {
    use rescaler_shared::recurring::{OccurrenceJob, PendingOccurrence, occurrence_operation};
    let bob = identity("bob", Role::Approver);
    let mut schedule = nights();
    let approved_at = schedule.created_at_ms + MINUTE;
    act_on_schedule(&mut schedule, &bob, ScheduleAction::Approve, "", approved_at).expect("approve");
    let at_ms = at("2026-12-01T21:00:00Z");
    let pending = PendingOccurrence {
        at_ms,
        step: 0,
        operation_id: occurrence_operation_id(&schedule.id, at_ms),
        owner: "r1".into(),
        until_ms: at_ms + MINUTE,
    };
    let job = OccurrenceJob { job_id: "k".repeat(32), job_name: "job".into(), artifact: None };
    let operation = occurrence_operation(&schedule, &pending, job, at_ms + 5);
    assert_eq!(operation.id, pending.operation_id);
    assert_eq!(
        (operation.job_id.as_str(), operation.deployment_id.as_str()),
        ("k".repeat(32).as_str(), schedule.deployment_id.as_str())
    );
    assert_eq!(operation.schedule_id.as_deref(), Some(schedule.id.as_str()));
    assert_eq!((operation.not_before_ms, operation.expires_at_ms), (Some(at_ms), at_ms + OCCURRENCE_GRACE_MS));
    assert_eq!(operation.requested_by, REQUESTER);
    assert_eq!(operation.reason, format!("schedule {}: night", schedule.id));
    assert_eq!(operation.target, Target::Uniform { parallelism: 2 });
    assert!(operation.is_approved(), "approved through the schedule");
    let kinds: Vec<&str> = operation.events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "approved"]);
    assert!(operation.events[0].message.contains("requested through schedule"), "{:?}", operation.events[0]);
    assert!(
        operation.events[1]
            .message
            .contains(&format!("approved through schedule {} (approved by bob at 2026-11-30 00:01", schedule.id)),
        "{:?}",
        operation.events[1]
    );
}

#[cfg(feature = "tz")]
#[test]
fn a_step_in_a_named_zone_follows_its_daylight_saving_time() {
    let text = r#"{"days": ["mon"], "at": "07:00", "time_zone": "Europe/Berlin", "target": {"kind": "uniform", "parallelism": 2}}"#;
    let berlin = schedule(vec![serde_json::from_str(text).expect("a step")]);
    let rows = [
        ("winter: UTC+01:00", "2026-12-01T00:00:00Z", "2026-12-07T06:00:00Z"),
        ("summer: UTC+02:00", "2026-07-01T00:00:00Z", "2026-07-06T05:00:00Z"),
        ("the monday after the clocks went forward", "2026-03-28T00:00:00Z", "2026-03-30T05:00:00Z"),
    ];
    for (what, after, expected) in rows {
        assert_eq!(next_occurrence(&berlin, at(after)), Some((at(expected), 0)), "{what}");
    }
    let both = r#"{"days": ["mon"], "at": "07:00", "utc_offset": "+01:00", "time_zone": "Europe/Berlin", "target": {"kind": "uniform", "parallelism": 2}}"#;
    let problem = steps_problem(&[serde_json::from_str(both).expect("parses; refused by the check")]);
    assert!(problem.is_some_and(|problem| problem.starts_with("step 1 ") && problem.contains("give one")));
}

#[test]
fn a_schedules_own_events_notify_the_approvers_then_the_requester_then_both() {
    use rescaler_shared::access::Roles;
    use rescaler_shared::notify::{Notification, NotifyEvent, Person, schedule_people, schedule_subject};
    let person = |name: &str, role: Role| Person {
        name: name.into(),
        email: Some(format!("{name}@example.com")),
        roles: Roles::new(BTreeMap::from([("c".to_owned(), role)])),
    };
    let people = [
        person(REQUESTER, Role::Approver),
        person("bob", Role::Approver),
        person("vera", Role::Viewer),
        person("root", Role::Admin),
    ];
    let mut schedule = nights();
    let now = at("2026-11-30T00:01:00Z");
    let requested = &schedule.events[0];
    let notification = Notification::of_schedule(&schedule, requested, "d".into(), Some("https://c.example/"));
    let notification = notification.expect("requested notifies");
    assert_eq!(notification.event, NotifyEvent::ScheduleRequested);
    assert_eq!(notification.schedule_id.as_deref(), Some(schedule.id.as_str()));
    assert_eq!(notification.console_url, Some(format!("https://c.example/schedules/{}", schedule.id)));
    assert!(notification.target.contains("22:00") && notification.target.contains("parallelism 6"));
    assert_eq!(notification.link_label(), "Open the schedule in the console");
    // Asked for: who may approve it (never its requester, never a viewer).
    let asked = schedule_people(NotifyEvent::ScheduleRequested, &schedule, &people, now);
    assert_eq!(asked.addresses, ["bob@example.com", "root@example.com"]);

    let bob = Identity::new("bob", BTreeMap::from([("c".to_owned(), Role::Approver)]));
    act_on_schedule(&mut schedule, &bob, ScheduleAction::Approve, "ok", now).expect("bob approves");
    let kinds: Vec<_> = schedule.events.iter().map(|event| NotifyEvent::of_schedule_kind(&event.kind)).collect();
    assert_eq!(kinds, [Some(NotifyEvent::ScheduleRequested), None, Some(NotifyEvent::ScheduleApproved)]);
    let approved = schedule_people(NotifyEvent::ScheduleApproved, &schedule, &people, now);
    assert_eq!(approved.addresses, ["alice@example.com"]);
    // Once active nobody may approve it, but a skipped occurrence reaches the cluster's
    // approvers as well as its requester.
    let skipped = schedule_people(NotifyEvent::OccurrenceSkipped, &schedule, &people, now);
    assert_eq!(skipped.addresses, ["alice@example.com", "bob@example.com", "root@example.com"]);
    // Each event its own subject, stable however many older events are dropped.
    let subjects: Vec<_> = schedule.events.iter().map(|event| schedule_subject(&schedule.id, event)).collect();
    assert!(subjects[0] != subjects[2] && subjects[2].ends_with("schedule_activated"), "{subjects:?}");
}
