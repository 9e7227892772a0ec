//! Maintenance windows in named IANA time zones (the `tz` feature, which the backend enables):
//! local times follow daylight saving time; a skipped local time opens at the first instant
//! after it, a repeated one at its first occurrence; unknown names and two zones are refused.
//! And the `Zone` type itself: offsets, local ↔ UTC, its sentences.
#![cfg(feature = "tz")]

mod support;

use rescaler_shared::operation::{Operation, ResolvedStrategy};
use rescaler_shared::phase::{Decision, Phase, SCHEDULE_POLL_MS, decide};
use rescaler_shared::schedule::{
    Allowed, Instant, MaintenanceWindow, Schedule, UtcOffset, Weekday, Zone, ZoneName, describe_wait, next_allowed,
};

fn at(text: &str) -> u64 {
    Instant::try_from(text.to_owned()).expect("an instant").0
}

fn zoned(days: &[Weekday], start: &str, end: &str, zone: &str) -> Schedule {
    let text = format!(
        r#"{{"days": {}, "start": "{start}", "end": "{end}", "time_zone": "{zone}"}}"#,
        serde_json::to_string(days).expect("days")
    );
    Schedule { windows: vec![serde_json::from_str(&text).expect("a window")], freezes: vec![] }
}

fn named(name: &str) -> Zone {
    Zone::Named(ZoneName::try_from(name.to_owned()).expect("a zone"))
}

#[test]
fn a_named_window_follows_daylight_saving_time() {
    use Weekday::*;
    let nights = zoned(&[Mon, Tue, Wed, Thu, Fri], "22:00", "06:00", "Europe/Berlin");
    let cases: Vec<(&str, u64, Allowed)> = vec![
        ("winter: 22:00 CET is 21:00 UTC", at("2026-12-01T12:00:00Z"), Allowed::At(at("2026-12-01T21:00:00Z"))),
        ("summer: 22:00 CEST is 20:00 UTC", at("2026-07-07T12:00:00Z"), Allowed::At(at("2026-07-07T20:00:00Z"))),
        ("summer, inside", at("2026-07-07T20:30:00Z"), Allowed::Now),
        ("summer, 06:00 CEST closes at 04:00 UTC", at("2026-07-08T04:00:00Z"), Allowed::At(at("2026-07-08T20:00:00Z"))),
        ("winter, 05:59 CET still open", at("2026-12-02T04:59:00Z"), Allowed::Now),
        ("friday night to monday", at("2026-12-05T06:00:00Z"), Allowed::At(at("2026-12-07T21:00:00Z"))),
    ];
    for (name, now_ms, expected) in cases {
        assert_eq!(next_allowed(now_ms, &nights), expected, "{name}");
    }
    assert_eq!(
        describe_wait(at("2026-12-01T12:00:00Z"), at("2026-12-01T21:00:00Z"), &nights),
        "the next maintenance window opens at 2026-12-01 22:00 (Europe/Berlin, UTC+01:00)"
    );
    assert_eq!(
        describe_wait(at("2026-07-07T12:00:00Z"), at("2026-07-07T20:00:00Z"), &nights),
        "the next maintenance window opens at 2026-07-07 22:00 (Europe/Berlin, UTC+02:00)"
    );
}

#[test]
fn skipped_and_repeated_local_times() {
    // 2027-03-28: Berlin skips 02:00–03:00 (01:00 UTC). A window at 02:30 opens at 03:00 CEST.
    let spring = zoned(&[Weekday::Sun], "02:30", "04:00", "Europe/Berlin");
    let before = at("2027-03-28T00:00:00Z");
    assert_eq!(next_allowed(before, &spring), Allowed::At(at("2027-03-28T01:00:00Z")));
    assert_eq!(
        describe_wait(before, at("2027-03-28T01:00:00Z"), &spring),
        "the next maintenance window opens at 2027-03-28 03:00 (Europe/Berlin, UTC+02:00)"
    );
    assert_eq!(next_allowed(at("2027-03-28T01:59:00Z"), &spring), Allowed::Now, "open until 04:00 CEST");
    assert_eq!(next_allowed(at("2027-03-28T02:00:00Z"), &spring), Allowed::At(at("2027-04-04T00:30:00Z")));
    // 2026-10-25: Berlin repeats 02:00–03:00. A window at 02:30 opens at the first, 00:30 UTC.
    let autumn = zoned(&[Weekday::Sun], "02:30", "03:30", "Europe/Berlin");
    assert_eq!(next_allowed(at("2026-10-24T12:00:00Z"), &autumn), Allowed::At(at("2026-10-25T00:30:00Z")));
    // Saturday 22:00 CEST until Sunday 06:00 CET: nine hours that night.
    let saturday = zoned(&[Weekday::Sat], "22:00", "06:00", "Europe/Berlin");
    assert_eq!(next_allowed(at("2026-10-24T12:00:00Z"), &saturday), Allowed::At(at("2026-10-24T20:00:00Z")));
    assert_eq!(next_allowed(at("2026-10-25T04:59:00Z"), &saturday), Allowed::Now);
    assert_eq!(next_allowed(at("2026-10-25T05:00:00Z"), &saturday), Allowed::At(at("2026-10-31T21:00:00Z")));
    // West of UTC: New York repeats 01:00–02:00 on 2026-11-01; 01:30 first at EDT (-04:00).
    let new_york = zoned(&Weekday::ALL, "01:30", "01:45", "America/New_York");
    assert_eq!(next_allowed(at("2026-11-01T00:00:00Z"), &new_york), Allowed::At(at("2026-11-01T05:30:00Z")));
    assert_eq!(next_allowed(at("2026-11-01T05:46:00Z"), &new_york), Allowed::At(at("2026-11-02T06:30:00Z")));
}

#[test]
fn the_zone_type_converts_local_times() {
    let berlin = named("Europe/Berlin");
    assert_eq!(berlin.offset_at(at("2026-12-01T00:00:00Z")), UtcOffset(60));
    assert_eq!(berlin.offset_at(at("2026-07-01T00:00:00Z")), UtcOffset(120));
    let local = |text: &str| at(&format!("{text}Z")) as i64;
    assert_eq!(berlin.local_ms(at("2026-07-01T20:00:00Z")), local("2026-07-01T22:00:00"));
    assert_eq!(berlin.utc_ms(local("2026-07-01T22:00:00")), at("2026-07-01T20:00:00Z"));
    assert_eq!(berlin.utc_ms(local("2027-03-28T02:00:00")), at("2027-03-28T01:00:00Z"), "skipped: the change");
    assert_eq!(berlin.utc_ms(local("2027-03-28T02:59:59")), at("2027-03-28T01:00:00Z"), "skipped: the change");
    assert_eq!(berlin.utc_ms(local("2027-03-28T03:00:00")), at("2027-03-28T01:00:00Z"));
    assert_eq!(berlin.utc_ms(local("2026-10-25T02:00:00")), at("2026-10-25T00:00:00Z"), "repeated: the first");
    assert_eq!(berlin.utc_ms(local("2026-10-25T03:00:00")), at("2026-10-25T02:00:00Z"));
    let fixed = Zone::Fixed(UtcOffset(-330));
    assert_eq!(fixed.utc_ms(local("2026-12-01T00:00:00")), at("2026-12-01T05:30:00Z"));
    assert_eq!(fixed.describe(at("2026-12-01T05:30:00Z")), "2026-12-01 00:00 (UTC-05:30)");
    assert_eq!(berlin.describe(at("2026-12-01T21:00:00Z")), "2026-12-01 22:00 (Europe/Berlin, UTC+01:00)");
    assert_eq!(berlin.to_string(), "Europe/Berlin");
    assert_eq!(Zone::default(), Zone::Fixed(UtcOffset(0)));
}

#[test]
fn a_window_names_one_known_zone() {
    let parse = |text: &str| serde_json::from_str::<MaintenanceWindow>(text).map_err(|error| error.to_string());
    let unknown = parse(r#"{"days": ["mon"], "start": "22:00", "end": "06:00", "time_zone": "Europe/Berlln"}"#);
    assert!(
        unknown.as_ref().is_err_and(|error| error.contains("\"Europe/Berlln\" is not a known IANA time zone")),
        "{unknown:?}"
    );
    let both =
        parse(r#"{"days": ["mon"], "start": "22:00", "end": "06:00", "utc_offset": "+01:00", "time_zone": "UTC"}"#);
    assert!(both.as_ref().is_err_and(|error| error.contains("both utc_offset and time_zone")), "{both:?}");
    // The wire form: the zone's name, or the offset as before (stored records keep reading).
    let named =
        parse(r#"{"days": ["mon"], "start": "22:00", "end": "06:00", "time_zone": "Europe/Berlin"}"#).expect("named");
    assert_eq!(named.zone().to_string(), "Europe/Berlin");
    let wire = serde_json::to_value(&named).expect("wire");
    assert_eq!(
        wire,
        serde_json::json!({"days": ["mon"], "start": "22:00", "end": "06:00", "time_zone": "Europe/Berlin"})
    );
    let fixed = parse(r#"{"days": ["mon"], "start": "22:00", "end": "06:00", "utc_offset": "+01:00"}"#).expect("fixed");
    assert_eq!(fixed.zone(), Zone::Fixed(UtcOffset(60)));
    assert_eq!(serde_json::to_value(&fixed).expect("wire")["utc_offset"], "+01:00");
    let neither = parse(r#"{"days": ["mon"], "start": "22:00", "end": "06:00"}"#).expect("utc");
    assert_eq!(neither.zone(), Zone::Fixed(UtcOffset(0)));
    assert_eq!(
        serde_json::from_value::<MaintenanceWindow>(serde_json::to_value(&named).expect("wire")).expect("again"),
        named
    );
}

/// The approved phase on a Berlin window: waits with the window's time in Berlin, or expires at
/// once, nothing changed, when the window opens only after the request's expiry.
#[test]
fn an_approved_request_expires_when_its_window_opens_after_its_expiry() {
    use support::*;
    let nights = zoned(&Weekday::ALL, "22:00", "23:00", "Europe/Berlin");
    let noon = at("2026-12-01T12:00:00Z");
    let mut observation = observation(noon);
    observation.job = present(job(JOB_ID, rescaler_shared::flink::JobStatus::Running, ORIGINAL_PARALLELISM));
    observation.cluster = Some(cluster(16));
    observation.savepoint_directory = Some("s3://flink/savepoints".to_owned());
    observation.schedule = nights;
    let approved = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let waits = Operation { expires_at_ms: at("2026-12-02T12:00:00Z"), ..approved.clone() };
    let Decision::Wait { requeue_after_ms, why } = decide(&waits, &observation) else { panic!("no wait") };
    assert_eq!(requeue_after_ms, SCHEDULE_POLL_MS);
    assert_eq!(
        why,
        "approved; waits: the next maintenance window opens at 2026-12-01 22:00 (Europe/Berlin, UTC+01:00)"
    );
    let short = Operation { expires_at_ms: at("2026-12-01T20:59:59Z"), ..approved };
    let Decision::Transition { to, event, plan } = decide(&short, &observation) else { panic!("no transition") };
    assert_eq!((to, plan), (Phase::Expired, None));
    assert_eq!(
        event.message,
        "not started before the request expired at 2026-12-01 20:59 (UTC+00:00): approved; waits: the next \
         maintenance window opens at 2026-12-01 22:00 (Europe/Berlin, UTC+01:00); nothing was changed"
    );
}
