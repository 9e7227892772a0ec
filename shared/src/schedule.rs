//! When an approved request may start: its cluster's weekly maintenance windows and its freezes
//! (explicit ranges in which nothing starts). Pure: [`next_allowed`] answers now, at an instant,
//! or never, from a clock reading the caller passes in.
//!
//! A window's times of day are read in its [`Zone`]: a fixed UTC offset (`utc_offset =
//! "+01:00"`) or a named IANA zone (`time_zone = "Europe/Berlin"`, whose offset follows its
//! daylight saving time; needs the `tz` feature, see [`zone`]). A window opens on days at a
//! time of day (`days`, `start`, `end`), or at the minutes a cron expression matches, for a
//! `duration` ([`cron`]).

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod cron;
mod window;
pub mod zone;
pub use cron::{Cron, CronWindow, Span};
pub use window::MaintenanceWindow;
pub use zone::{Zone, ZoneName};

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;
const SECOND_MS: u64 = 1_000;
const DAY_SECONDS: u32 = 86_400;
/// How many freezes and window openings [`next_allowed`] steps over before it gives up.
const MAX_STEPS: usize = 1_000;

/// A day of the week, as the configuration writes it (`mon` … `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Self; 7] = [Self::Mon, Self::Tue, Self::Wed, Self::Thu, Self::Fri, Self::Sat, Self::Sun];

    /// The weekday of a day counted from 1970-01-01, a Thursday.
    fn of_day(day: i64) -> Self {
        Self::ALL[(day + 3).rem_euclid(7) as usize]
    }
}

/// A time of day, `HH:MM` or `HH:MM:SS` (seconds since midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "22:00"))]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(pub u32);

impl TryFrom<String> for ClockTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a time of day HH:MM");
        let mut parts = text.split(':');
        let hours = parts.next().and_then(two_digits).ok_or_else(bad)?;
        let minutes = parts.next().and_then(two_digits).ok_or_else(bad)?;
        let seconds = parts.next().map_or(Some(0), two_digits).ok_or_else(bad)?;
        if hours > 23 || minutes > 59 || seconds > 59 || parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(hours * 3_600 + minutes * 60 + seconds))
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> Self {
        let (hours, minutes, seconds) = (time.0 / 3_600, time.0 / 60 % 60, time.0 % 60);
        if seconds == 0 { format!("{hours:02}:{minutes:02}") } else { format!("{hours:02}:{minutes:02}:{seconds:02}") }
    }
}

/// A fixed offset from UTC, `+HH:MM`, `-HH:MM` or `Z` (minutes east of UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "+01:00"))]
#[serde(try_from = "String", into = "String")]
pub struct UtcOffset(pub i32);

impl TryFrom<String> for UtcOffset {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_offset(&text).ok_or_else(|| format!("{text:?} is not a UTC offset (+HH:MM, -HH:MM or Z)"))
    }
}

impl From<UtcOffset> for String {
    /// `+01:00`, as the configuration writes it (what [`UtcOffset::try_from`] reads back).
    fn from(offset: UtcOffset) -> Self {
        let sign = if offset.0 < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", offset.0.unsigned_abs() / 60, offset.0.unsigned_abs() % 60)
    }
}

impl fmt::Display for UtcOffset {
    /// `UTC+01:00`, as sentences write it.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "UTC{}", String::from(*self))
    }
}

/// An instant, written as RFC 3339 (`2026-12-20T00:00:00Z`, `2026-12-20T00:00:00+01:00`);
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "2026-12-20T00:00:00Z"))]
#[serde(try_from = "String", into = "String")]
pub struct Instant(pub u64);

impl TryFrom<String> for Instant {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_instant(&text).map(Self).ok_or_else(|| format!("{text:?} is not an RFC 3339 instant"))
    }
}

impl From<Instant> for String {
    fn from(instant: Instant) -> Self {
        let (date, time) = local_parts(instant.0, UtcOffset(0));
        format!("{date}T{time}:{:02}Z", (instant.0 / 1000) % 60)
    }
}

/// A range in which no request starts, whatever the windows say: from `from` until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    pub from: Instant,
    pub until: Instant,
    #[serde(default)]
    pub reason: String,
}

/// A cluster's schedule: no windows means any time outside the freezes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    #[serde(default)]
    pub windows: Vec<MaintenanceWindow>,
    #[serde(default)]
    pub freezes: Vec<Freeze>,
}

impl Schedule {
    /// What is wrong with the schedule as configured, if anything: a window without days, a
    /// freeze that ends before it begins.
    pub fn problem(&self) -> Option<String> {
        if let Some(problem) = self.windows.iter().find_map(MaintenanceWindow::problem) {
            return Some(problem);
        }
        self.freezes.iter().find(|freeze| freeze.until.0 <= freeze.from.0).map(|freeze| {
            format!(
                "a freeze ends before it begins: from {} until {}",
                String::from(freeze.from),
                String::from(freeze.until)
            )
        })
    }
}

/// When a request may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Now,
    /// Not before this instant (UTC ms): the next window opens, or a freeze ends.
    At(u64),
    /// The schedule never allows a start; why.
    Never(String),
}

/// When the schedule next allows a start, at `now_ms` or later.
pub fn next_allowed(now_ms: u64, schedule: &Schedule) -> Allowed {
    if !schedule.windows.is_empty() && schedule.windows.iter().all(MaintenanceWindow::never_opens) {
        return Allowed::Never("no maintenance window has any day".to_owned());
    }
    let mut at_ms = now_ms;
    for _ in 0..MAX_STEPS {
        if let Some(freeze) = schedule.freezes.iter().find(|f| f.from.0 <= at_ms && at_ms < f.until.0) {
            at_ms = freeze.until.0;
            continue;
        }
        let in_window = schedule.windows.is_empty() || schedule.windows.iter().any(|w| w.open_at(at_ms).is_some());
        if in_window {
            return if at_ms == now_ms { Allowed::Now } else { Allowed::At(at_ms) };
        }
        match schedule.windows.iter().filter_map(|window| window.next_opening(at_ms)).min() {
            Some(opening) => at_ms = opening,
            None => return Allowed::Never("no maintenance window has any day".to_owned()),
        }
    }
    Allowed::Never("the freezes cover every maintenance window".to_owned())
}

/// What a cluster's schedule holds a request that would start at `from_ms` for, as the
/// server answers it (`api::ClusterSummary::hold`): the console shows it rather than computing
/// it, since named zones need the tz database, which the console does not carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleHold {
    /// The instant the answer is for (ms since the Unix epoch).
    pub from_ms: u64,
    /// The first instant from then on that the schedule allows a start; `None`: never.
    pub until_ms: Option<u64>,
    /// Why, in the schedule's words ([`describe_wait`], or why it never allows a start).
    pub wait: String,
}

/// What `schedule` holds a start at `from_ms` for; `None` when it allows the start then.
pub fn hold_at(from_ms: u64, schedule: &Schedule) -> Option<ScheduleHold> {
    let (until_ms, wait) = match next_allowed(from_ms, schedule) {
        Allowed::Now => return None,
        Allowed::At(at_ms) => (Some(at_ms), describe_wait(from_ms, at_ms, schedule)),
        Allowed::Never(reason) => (None, never_allowed(&reason)),
    };
    Some(ScheduleHold { from_ms, until_ms, wait })
}

/// Why a request never starts on a schedule that allows no start: `reason` from [`Allowed::Never`].
pub fn never_allowed(reason: &str) -> String {
    format!("the cluster's schedule allows no start: {reason}")
}

/// Why a start waits until `at_ms`, in words: the freeze that holds it, or the window that opens.
pub fn describe_wait(now_ms: u64, at_ms: u64, schedule: &Schedule) -> String {
    if let Some(freeze) = schedule.freezes.iter().find(|f| f.from.0 <= now_ms && now_ms < f.until.0) {
        let reason = if freeze.reason.is_empty() { String::new() } else { format!(" ({})", freeze.reason) };
        return format!("frozen{reason} until {}", describe_instant(freeze.until.0, UtcOffset(0)));
    }
    let zone = schedule.windows.iter().find(|w| w.open_at(at_ms) == Some(at_ms)).map(MaintenanceWindow::zone);
    format!("the next maintenance window opens at {}", zone.unwrap_or_default().describe(at_ms))
}

/// `2026-12-01 22:00 (UTC+01:00)`: an instant at an offset, to the minute.
pub fn describe_instant(at_ms: u64, offset: UtcOffset) -> String {
    let (date, time) = local_parts(at_ms, offset);
    format!("{date} {time} ({offset})")
}

fn shift(at_ms: u64, offset: UtcOffset) -> i64 {
    at_ms as i64 + i64::from(offset.0) * MINUTE_MS as i64
}

/// The local date (`YYYY-MM-DD`) and time (`HH:MM`) of an instant at an offset.
fn local_parts(at_ms: u64, offset: UtcOffset) -> (String, String) {
    let local_ms = shift(at_ms, offset);
    let (year, month, day) = civil_from_days(local_ms.div_euclid(DAY_MS as i64));
    let minute = local_ms.rem_euclid(DAY_MS as i64) / MINUTE_MS as i64;
    (format!("{year:04}-{month:02}-{day:02}"), format!("{:02}:{:02}", minute / 60, minute % 60))
}

fn two_digits(text: &str) -> Option<u32> {
    (text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn parse_offset(text: &str) -> Option<UtcOffset> {
    if text == "Z" || text == "z" {
        return Some(UtcOffset(0));
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = text.get(1..)?.split_once(':')?;
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    (hours <= 14 && minutes <= 59).then(|| UtcOffset(sign * (hours * 60 + minutes) as i32))
}

fn parse_instant(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next().filter(|year| year.len() == 4)?.parse().ok()?;
    let month = two_digits(date_parts.next()?)?;
    let day = two_digits(date_parts.next()?)?;
    let offset_at = rest.find(['Z', 'z', '+', '-'])?;
    let (time, offset) = rest.split_at(offset_at);
    let offset = parse_offset(offset)?;
    let mut time_parts = time.split(':');
    let hours = two_digits(time_parts.next()?)?;
    let minutes = two_digits(time_parts.next()?)?;
    let seconds = time_parts.next().map_or(Some(0), |seconds| two_digits(seconds.split('.').next()?))?;
    let valid = date_parts.next().is_none()
        && time_parts.next().is_none()
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hours <= 23
        && minutes <= 59
        && seconds <= 59;
    if !valid {
        return None;
    }
    let local_seconds = days_from_civil(year, month, day) * 86_400 + i64::from(hours * 3_600 + minutes * 60 + seconds)
        - i64::from(offset.0) * 60;
    u64::try_from(local_seconds).ok().map(|seconds| seconds * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// How far in the past a requested not-before may be (a form filled in a minute ago).
pub const NOT_BEFORE_TOLERANCE_MS: u64 = 60_000;

/// Why a request created at `now_ms` that must be approved before `expires_at_ms` cannot start
/// not before `not_before_ms`, if it cannot: the time is past, or after the request expires.
pub fn not_before_refusal(not_before_ms: u64, now_ms: u64, expires_at_ms: u64) -> Option<String> {
    if not_before_ms.saturating_add(NOT_BEFORE_TOLERANCE_MS) < now_ms {
        return Some(format!("not before {} is in the past", describe_instant(not_before_ms, UtcOffset(0))));
    }
    (not_before_ms >= expires_at_ms).then(|| {
        format!(
            "not before {} is after the request expires at {}",
            describe_instant(not_before_ms, UtcOffset(0)),
            describe_instant(expires_at_ms, UtcOffset(0))
        )
    })
}
