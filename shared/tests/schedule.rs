//! Table tests of scheduled starts: the schedule's own answer (`next_allowed`: windows across
//! midnight and days, offsets, freezes), the not-before rule at creation, and the approved
//! phase waiting for its not-before and its window, a break-glass overriding the window.

mod support;

use rescaler_shared::operation::{BreakGlass, Operation, ResolvedStrategy};
use rescaler_shared::phase::{Decision, Observation, Phase, SCHEDULE_POLL_MS, decide};
use rescaler_shared::schedule::{
    Allowed, Freeze, Instant, MaintenanceWindow, Schedule, Weekday, next_allowed, not_before_refusal,
};
use support::*;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

fn at(text: &str) -> u64 {
    Instant::try_from(text.to_owned()).expect("an instant").0
}

fn window(days: &[Weekday], start: &str, end: &str, offset: &str) -> MaintenanceWindow {
    let text = format!(
        r#"{{"days": {}, "start": "{start}", "end": "{end}", "utc_offset": "{offset}"}}"#,
        serde_json::to_string(days).expect("days")
    );
    serde_json::from_str(&text).expect("a window")
}

fn freeze(from: &str, until: &str) -> Freeze {
    Freeze { from: Instant(at(from)), until: Instant(at(until)), reason: "holidays".to_owned() }
}

#[test]
fn instants_parse_as_rfc3339() {
    assert_eq!(at("1970-01-01T00:00:00Z"), 0);
    assert_eq!(at("2026-12-01T00:00:00Z"), 1_796_083_200_000);
    assert_eq!(at("2024-02-29T12:34:56Z"), 1_709_210_096_000);
    assert_eq!(at("2026-12-01T22:00:00+01:00"), 1_796_158_800_000);
    assert_eq!(String::from(Instant(1_709_210_096_000)), "2024-02-29T12:34:56Z");
    for bad in
        ["2026-13-01T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01 10:00", "yesterday", "2026-12-01T10:00:00+1"]
    {
        assert!(Instant::try_from(bad.to_owned()).is_err(), "{bad} parsed");
    }
    let seconds = window(&[Weekday::Tue], "12:00:15", "12:10", "Z");
    assert_eq!((seconds.start.0, seconds.end.0), (43_215, 43_800));
    let next = next_allowed(at("2026-12-01T12:00:00Z"), &Schedule { windows: vec![seconds], freezes: vec![] });
    assert_eq!(next, Allowed::At(at("2026-12-01T12:00:15Z")), "a window may open to the second");
    let bad_window = r#"{"days": ["mon"], "start": "25:00", "end": "06:00"}"#;
    assert!(serde_json::from_str::<MaintenanceWindow>(bad_window).is_err());
}

#[test]
fn next_allowed_follows_windows_and_freezes() {
    use Weekday::*;
    // 2026-12-01 is a Tuesday.
    let weeknights = window(&[Mon, Tue, Wed, Thu, Fri], "22:00", "06:00", "+01:00");
    let weekend = window(&[Sat, Sun], "00:00", "00:00", "Z");
    let nights = Schedule { windows: vec![weeknights.clone()], freezes: vec![] };
    let holidays = Schedule {
        windows: vec![weeknights.clone()],
        freezes: vec![freeze("2026-12-01T20:00:00Z", "2026-12-02T03:00:00Z")],
    };
    let both = Schedule { windows: vec![weeknights, weekend], freezes: vec![] };
    let frozen_always =
        Schedule { windows: vec![], freezes: vec![freeze("2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z")] };
    let none = Schedule::default();
    let no_days = Schedule { windows: vec![window(&[], "22:00", "06:00", "Z")], freezes: vec![] };
    let cases: Vec<(&str, u64, &Schedule, Allowed)> = vec![
        ("no schedule: now", at("2026-12-01T12:00:00Z"), &none, Allowed::Now),
        (
            "tuesday noon waits for 22:00 +01:00",
            at("2026-12-01T12:00:00Z"),
            &nights,
            Allowed::At(at("2026-12-01T21:00:00Z")),
        ),
        ("inside the window", at("2026-12-01T23:30:00+01:00"), &nights, Allowed::Now),
        ("after midnight, still the tuesday window", at("2026-12-02T05:59:00+01:00"), &nights, Allowed::Now),
        (
            "the window's end is excluded",
            at("2026-12-02T06:00:00+01:00"),
            &nights,
            Allowed::At(at("2026-12-02T22:00:00+01:00")),
        ),
        (
            "monday 03:00: sunday has no weeknight window",
            at("2026-12-07T03:00:00+01:00"),
            &nights,
            Allowed::At(at("2026-12-07T22:00:00+01:00")),
        ),
        ("friday night runs into saturday", at("2026-12-05T05:00:00+01:00"), &nights, Allowed::Now),
        (
            "saturday noon waits until monday night",
            at("2026-12-05T12:00:00+01:00"),
            &nights,
            Allowed::At(at("2026-12-07T22:00:00+01:00")),
        ),
        ("saturday noon in the all-day weekend window", at("2026-12-05T12:00:00+01:00"), &both, Allowed::Now),
        (
            "a freeze over the window's start: its end",
            at("2026-12-01T12:00:00Z"),
            &holidays,
            Allowed::At(at("2026-12-02T03:00:00Z")),
        ),
        (
            "inside a freeze without windows",
            at("2026-12-03T12:00:00Z"),
            &frozen_always,
            Allowed::At(at("2026-12-08T00:00:00Z")),
        ),
        ("the freeze's end is allowed", at("2026-12-08T00:00:00Z"), &frozen_always, Allowed::Now),
        (
            "a window without days never opens",
            at("2026-12-01T12:00:00Z"),
            &no_days,
            Allowed::Never("no maintenance window has any day".to_owned()),
        ),
    ];
    let mismatches: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, now_ms, schedule, expected)| {
            let got = next_allowed(now_ms, schedule);
            (got != expected).then(|| format!("{name}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn a_not_before_is_refused_in_the_past_or_after_expiry() {
    let now = at("2026-12-01T12:00:00Z");
    let expires = now + HOUR;
    assert_eq!(not_before_refusal(now + 10 * MINUTE, now, expires), None);
    assert_eq!(not_before_refusal(now - 30_000, now, expires), None, "a form filled in a moment ago");
    let past = not_before_refusal(now - 2 * MINUTE, now, expires).expect("refused");
    assert!(past.contains("in the past"), "{past}");
    let late = not_before_refusal(expires, now, expires).expect("refused");
    assert!(late.contains("after the request expires"), "{late}");
}

fn approved() -> Operation {
    operation_in(Phase::Approved, ResolvedStrategy::Savepoint)
}

/// An observation of the approved phase that passes the last pre-flight at `now_ms`.
fn ready(now_ms: u64, schedule: Schedule) -> Observation {
    let mut observation = observation(now_ms);
    observation.job = present(job(JOB_ID, rescaler_shared::flink::JobStatus::Running, ORIGINAL_PARALLELISM));
    observation.cluster = Some(cluster(16));
    observation.savepoint_directory = Some("s3://flink/savepoints".to_owned());
    observation.schedule = schedule;
    observation
}

fn outcome(decision: &Decision) -> String {
    match decision {
        Decision::Wait { requeue_after_ms, why } => format!("wait {requeue_after_ms} {why}"),
        Decision::Transition { to, event, .. } => format!("transition {} {}", to.name(), event.message),
        other => format!("{other:?}"),
    }
}

#[test]
fn approved_waits_for_its_not_before_then_starts() {
    let mut operation = approved();
    let now = PHASE_START_MS;
    operation.not_before_ms = Some(now + 15_000);
    let waiting = outcome(&decide(&operation, &ready(now, Schedule::default())));
    assert!(waiting.starts_with("wait 15000 approved; waits until not before"), "{waiting}");
    operation.not_before_ms = Some(now + 10 * MINUTE);
    let far = outcome(&decide(&operation, &ready(now, Schedule::default())));
    assert!(far.starts_with(&format!("wait {SCHEDULE_POLL_MS} ")), "capped: {far}");
    operation.not_before_ms = Some(now);
    let started = outcome(&decide(&operation, &ready(now, Schedule::default())));
    assert!(started.starts_with("transition stopping savepoint strategy"), "{started}");
    // A not-before is the requester's: a break-glass does not override it.
    operation.not_before_ms = Some(now + 15_000);
    operation.break_glass = Some(BreakGlass { by: "carol".to_owned(), at_ms: now, reason: "outage".to_owned() });
    assert!(outcome(&decide(&operation, &ready(now, Schedule::default()))).starts_with("wait 15000"));
}

#[test]
fn approved_waits_for_the_next_window_and_expires_if_it_opens_too_late() {
    let operation = Operation { expires_at_ms: at("2026-12-02T12:00:00Z"), ..approved() };
    let tonight = Schedule { windows: vec![window(&Weekday::ALL, "22:00", "23:00", "+01:00")], freezes: vec![] };
    let noon = at("2026-12-01T12:00:00Z");
    let waiting = outcome(&decide(&operation, &ready(noon, tonight.clone())));
    assert_eq!(
        waiting,
        format!(
            "wait {SCHEDULE_POLL_MS} approved; waits: the next maintenance window opens at 2026-12-01 22:00 (UTC+01:00)"
        )
    );
    let opening = at("2026-12-01T21:00:00Z");
    let soon = outcome(&decide(&operation, &ready(opening - 5_000, tonight.clone())));
    assert!(soon.starts_with("wait 5000 "), "{soon}");
    let started = outcome(&decide(&operation, &ready(opening, tonight.clone())));
    assert!(started.starts_with("transition stopping"), "{started}");
    let short = Operation { expires_at_ms: noon + HOUR, ..operation.clone() };
    let expired = outcome(&decide(&short, &ready(noon, tonight.clone())));
    assert!(expired.starts_with("transition expired not started before the request expired"), "{expired}");
    let glass = BreakGlass { by: "carol".to_owned(), at_ms: noon, reason: "outage".to_owned() };
    let broken = Operation { break_glass: Some(glass), ..operation };
    let overridden = outcome(&decide(&broken, &ready(noon, tonight)));
    assert!(overridden.starts_with("transition stopping"), "{overridden}");
    assert!(
        overridden.ends_with(
            "; started outside the maintenance windows (the next maintenance window opens at 2026-12-01 22:00 (UTC+01:00)) by carol's break-glass: outage"
        ),
        "{overridden}"
    );
}
