//! Maintenance windows written as cron expressions (`cron = "0 22 * * 1-5"`, `duration =
//! "8h"`): the parser's table (lists, ranges, steps, `*`, Sunday as 0 or 7, clear errors) and
//! `next_allowed` over such windows at a fixed offset.

use rescaler_shared::schedule::{
    Allowed, Cron, Instant, MaintenanceWindow, Schedule, Span, describe_wait, next_allowed,
};

fn at(text: &str) -> u64 {
    Instant::try_from(text.to_owned()).expect("an instant").0
}

fn cron(text: &str) -> Result<Cron, String> {
    Cron::try_from(text.to_owned())
}

fn schedule(expression: &str, duration: &str, offset: &str) -> Schedule {
    let text = format!(r#"{{"cron": "{expression}", "duration": "{duration}", "utc_offset": "{offset}"}}"#);
    Schedule { windows: vec![serde_json::from_str(&text).expect("a cron window")], freezes: vec![] }
}

/// The times of day (HH:MM) and whether 2026-12-01 (Tue), 2026-12-06 (Sun) and 2026-02-01
/// (Sun) match.
fn matches(text: &str) -> (Vec<String>, [bool; 3]) {
    let cron = cron(text).expect("parses");
    let times = cron.times_of_day().map(|second| format!("{:02}:{:02}", second / 3600, second / 60 % 60)).collect();
    (times, [cron.matches_day(12, 1, 2), cron.matches_day(12, 6, 0), cron.matches_day(2, 1, 0)])
}

#[test]
fn cron_expressions_parse_as_cron_reads_them() {
    let cases: Vec<(&str, Vec<&str>, [bool; 3])> = vec![
        ("0 22 * * 1-5", vec!["22:00"], [true, false, false]),
        ("30 1,13 * * *", vec!["01:30", "13:30"], [true, true, true]),
        ("*/20 3 * * 0", vec!["03:00", "03:20", "03:40"], [false, true, true]),
        ("0 3 * * 7", vec!["03:00"], [false, true, true]),
        ("15-45/15 0 * * *", vec!["00:15", "00:30", "00:45"], [true, true, true]),
        ("5/30 0 * * *", vec!["00:05", "00:35"], [true, true, true]),
        ("0 0 1 * *", vec!["00:00"], [true, false, true]),
        ("0 0 1 12 *", vec!["00:00"], [true, false, false]),
        // Both day fields restricted: either matches (the 6th, or a Tuesday).
        ("0 0 6 * 2", vec!["00:00"], [true, true, false]),
        ("0 22-23/1 * 2-3,12 *", vec!["22:00", "23:00"], [true, true, true]),
    ];
    for (text, times, days) in cases {
        let expected: Vec<String> = times.iter().map(|time| (*time).to_owned()).collect();
        assert_eq!(matches(text), (expected, days), "{text}");
    }
    let errors = [
        ("0 22 * *", "has 4 fields; it needs five"),
        ("60 22 * * *", "minute \"60\" is outside 0-59"),
        ("0 24 * * *", "hour \"24\" is outside 0-23"),
        ("0 0 0 * *", "day of month \"0\" is outside 1-31"),
        ("0 0 * 13 *", "month \"13\" is outside 1-12"),
        ("0 0 * * 8", "day of week \"8\" is outside 0-7"),
        ("0 0 * * 5-1", "day of week \"5-1\" is outside 0-7"),
        ("*/0 0 * * *", "minute has a bad step \"0\""),
        ("x 0 * * *", "minute has \"x\", not a number, range, step or *"),
        ("0 0 * * mon", "day of week has \"mon\""),
        ("0 0 1- * *", "day of month has a bad range \"1-\""),
    ];
    for (text, why) in errors {
        let error = cron(text).expect_err(text);
        assert!(error.contains(why) && error.contains(&format!("{text:?}")), "{text}: {error}");
    }
    assert_eq!(String::from(cron("0 22 * * 1-5").expect("parses")), "0 22 * * 1-5");
    for (text, seconds) in [("90m", 5_400), ("8h", 28_800), ("1h30m", 5_400), ("2d", 172_800), ("45s", 45)] {
        assert_eq!(Span::try_from(text.to_owned()), Ok(Span(seconds)), "{text}");
    }
    assert_eq!(String::from(Span(5_400)), "1h30m");
    for bad in ["", "8", "h", "8x", "0m", "8d"] {
        assert!(Span::try_from(bad.to_owned()).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn next_allowed_follows_cron_windows() {
    // 2026-12-01 is a Tuesday. Weeknights from 22:00 +01:00 for 8 h.
    let nights = schedule("0 22 * * 1-5", "8h", "+01:00");
    let hourly = schedule("0 * * * *", "10m", "Z");
    let first = schedule("0 2 1 * *", "1h", "Z");
    let cases: Vec<(&str, u64, &Schedule, Allowed)> = vec![
        ("noon waits for 22:00", at("2026-12-01T12:00:00Z"), &nights, Allowed::At(at("2026-12-01T21:00:00Z"))),
        ("inside", at("2026-12-02T05:59:00+01:00"), &nights, Allowed::Now),
        ("the end is excluded", at("2026-12-02T06:00:00+01:00"), &nights, Allowed::At(at("2026-12-02T22:00:00+01:00"))),
        ("friday night into saturday", at("2026-12-05T05:00:00+01:00"), &nights, Allowed::Now),
        (
            "saturday waits for monday",
            at("2026-12-05T12:00:00+01:00"),
            &nights,
            Allowed::At(at("2026-12-07T22:00:00+01:00")),
        ),
        ("hourly, inside", at("2026-12-01T12:09:59Z"), &hourly, Allowed::Now),
        ("hourly, after", at("2026-12-01T12:10:00Z"), &hourly, Allowed::At(at("2026-12-01T13:00:00Z"))),
        ("the first of the month", at("2026-12-01T03:00:00Z"), &first, Allowed::At(at("2027-01-01T02:00:00Z"))),
    ];
    for (name, now_ms, schedule, expected) in cases {
        assert_eq!(next_allowed(now_ms, schedule), expected, "{name}");
    }
    assert_eq!(
        describe_wait(at("2026-12-01T12:00:00Z"), at("2026-12-01T21:00:00Z"), &nights),
        "the next maintenance window opens at 2026-12-01 22:00 (UTC+01:00)"
    );
    let never = schedule("0 0 31 2 *", "1h", "Z");
    assert_eq!(never.problem().as_deref(), Some("a maintenance window's cron \"0 0 31 2 *\" never matches"));
    assert!(matches!(next_allowed(at("2026-12-01T12:00:00Z"), &never), Allowed::Never(_)));
}

#[test]
fn a_cron_window_is_written_with_its_duration_only() {
    let parse = |text: &str| serde_json::from_str::<MaintenanceWindow>(text).map_err(|error| error.to_string());
    let window = parse(r#"{"cron": "0 22 * * 1-5", "duration": "8h"}"#).expect("a cron window");
    assert_eq!(
        serde_json::to_value(&window).expect("wire"),
        serde_json::json!({"cron": "0 22 * * 1-5", "duration": "8h"})
    );
    let errors = [
        (r#"{"cron": "0 22 * * 1-5"}"#, "needs a duration"),
        (r#"{"cron": "0 22 * * 1-5", "duration": "8h", "days": ["mon"]}"#, "has no days, start or end"),
        (r#"{"days": ["mon"], "start": "22:00", "end": "06:00", "duration": "8h"}"#, "a duration is for a cron window"),
        (r#"{"days": ["mon"], "start": "22:00"}"#, "needs days, start and end, or cron and duration"),
        (r#"{"cron": "0 22 * *", "duration": "8h"}"#, "has 4 fields"),
        (r#"{"cron": "0 22 * * *", "duration": "8h", "every": "day"}"#, "unknown field"),
    ];
    for (text, why) in errors {
        let error = parse(text).expect_err(text);
        assert!(error.contains(why), "{text}: {error}");
    }
}
