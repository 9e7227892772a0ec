//! Cron expressions for maintenance windows that open at the matching minutes:
//! `minute hour day-of-month month day-of-week` (`0 22 * * 1-5`: 22:00 on weekdays), each field
//! `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those (`0,30`).
//! Day of week 0–7, Sunday 0 or 7. As in cron, when both day fields are restricted a day
//! matches either of them; when one is `*`, the other decides. The times are local to the
//! window's zone.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Zone;

const DAY_MS: i64 = 86_400_000;

/// A parsed cron expression, kept with its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    any_day_of_month: bool,
    any_day_of_week: bool,
}

/// The five fields: name and inclusive range.
const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];

impl TryFrom<String> for Cron {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron {text:?} has {} fields; it needs five: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        }
        let mut sets = [0u64; 5];
        for (index, ((name, low, high), field)) in FIELDS.iter().zip(&fields).enumerate() {
            sets[index] = parse_field(field, *low, *high).map_err(|why| format!("cron {text:?}: {name} {why}"))?;
        }
        // Sunday is 0 or 7.
        let days_of_week = if sets[4] & (1 << 7) != 0 { (sets[4] | 1) & !(1 << 7) } else { sets[4] };
        Ok(Self {
            minutes: sets[0],
            hours: sets[1],
            days_of_month: sets[2],
            months: sets[3],
            days_of_week,
            any_day_of_month: fields[2] == "*",
            any_day_of_week: fields[4] == "*",
            text,
        })
    }
}

impl From<Cron> for String {
    fn from(cron: Cron) -> Self {
        cron.text
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl Cron {
    /// Whether the expression matches the local date `month`/`day_of_month` (1-based) on
    /// `weekday` (0 = Sunday).
    pub fn matches_day(&self, month: u32, day_of_month: u32, weekday: u32) -> bool {
        let in_month = self.months & (1 << month) != 0;
        let by_date = self.days_of_month & (1 << day_of_month) != 0;
        let by_weekday = self.days_of_week & (1 << weekday) != 0;
        let day = match (self.any_day_of_month, self.any_day_of_week) {
            (false, false) => by_date || by_weekday,
            (true, false) => by_weekday,
            (false, true) => by_date,
            (true, true) => true,
        };
        in_month && day
    }

    /// The matching times of a matching day, as seconds since local midnight, earliest first.
    pub fn times_of_day(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        (0..24u32)
            .filter(|hour| self.hours & (1 << hour) != 0)
            .flat_map(move |hour| {
                (0..60u32).filter(|minute| self.minutes & (1 << minute) != 0).map(move |m| hour * 3600 + m * 60)
            })
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Whether the expression can ever match (`0 0 31 2 *` cannot).
    pub fn ever_matches(&self) -> bool {
        const DAYS_IN_MONTH: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let any_date = (1..=12).any(|month| {
            self.months & (1 << month) != 0
                && (1..=DAYS_IN_MONTH[month]).any(|day| self.days_of_month & (1 << day) != 0)
        });
        let weekday_decides = !self.any_day_of_week;
        any_date || (weekday_decides && self.months != 0 && self.days_of_week != 0)
    }
}

/// The set of values a field allows, as bits.
fn parse_field(field: &str, low: u32, high: u32) -> Result<u64, String> {
    let mut set = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step = number(step).filter(|step| *step > 0).ok_or_else(|| format!("has a bad step {step:?}"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (low, high)
        } else if let Some((from, to)) = range.split_once('-') {
            let bad = || format!("has a bad range {range:?}");
            (number(from).ok_or_else(bad)?, number(to).ok_or_else(bad)?)
        } else {
            let value = number(range).ok_or_else(|| format!("has {range:?}, not a number, range, step or *"))?;
            // `5/15`: from 5 to the end, every 15.
            (value, if step > 1 { high } else { value })
        };
        if from < low || to > high || from > to {
            return Err(format!("{range:?} is outside {low}-{high}"));
        }
        set |= (from..=to).step_by(step as usize).fold(0, |set, value| set | (1 << value));
    }
    Ok(set)
}

fn number(text: &str) -> Option<u32> {
    (!text.is_empty() && text.len() <= 2 && text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A window's length: `90m`, `8h`, `1h30m`, `2d` (at most 7 days), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span(pub u32);

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a duration such as 90m, 8h, 1h30m or 2d");
        let (mut seconds, mut digits) = (0u64, String::new());
        for character in text.chars() {
            if character.is_ascii_digit() {
                digits.push(character);
                continue;
            }
            let unit = match character {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            let value: u64 = digits.parse().map_err(|_| bad())?;
            seconds += value * unit;
            digits.clear();
        }
        if !digits.is_empty() || seconds == 0 {
            return Err(bad());
        }
        if seconds > 7 * 86_400 {
            return Err(format!("{text:?} is longer than 7 days"));
        }
        Ok(Self(seconds as u32))
    }
}

impl From<Span> for String {
    fn from(span: Span) -> Self {
        let (days, hours, minutes, seconds) = (span.0 / 86_400, span.0 / 3_600 % 24, span.0 / 60 % 60, span.0 % 60);
        let parts = [(days, 'd'), (hours, 'h'), (minutes, 'm'), (seconds, 's')];
        parts.iter().filter(|(value, _)| *value > 0).map(|(value, unit)| format!("{value}{unit}")).collect()
    }
}

/// A window that opens at each minute `cron` matches, local to its zone, for `duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronWindow {
    pub cron: Cron,
    pub duration: Span,
}

/// How many days [`CronWindow::next_opening`] looks ahead (`0 0 29 2 *` opens every 4 years).
const LOOK_AHEAD_DAYS: i64 = 1_500;

impl CronWindow {
    /// Whether the expression matches local day `day` (counted from 1970-01-01).
    fn matches(&self, day: i64) -> bool {
        let (_, month, day_of_month) = super::civil_from_days(day);
        self.cron.matches_day(month, day_of_month, (day + 4).rem_euclid(7) as u32)
    }

    /// The opening (UTC ms) of the latest occurrence that contains `at_ms`, if one does.
    pub fn open_at(&self, zone: &Zone, at_ms: u64) -> Option<u64> {
        let day = zone.local_ms(at_ms).div_euclid(DAY_MS);
        let span_days = i64::from(self.duration.0).div_euclid(86_400) + 1;
        for start_day in (day - span_days..=day).rev().filter(|start_day| self.matches(*start_day)) {
            for time in self.cron.times_of_day().rev() {
                let local = start_day * DAY_MS + i64::from(time) * 1000;
                let opens = zone.utc_ms(local);
                if opens <= at_ms {
                    let closes = zone.utc_ms(local + i64::from(self.duration.0) * 1000);
                    return (at_ms < closes).then_some(opens);
                }
            }
        }
        None
    }

    /// The first opening (UTC ms) after `after_ms`, within [`LOOK_AHEAD_DAYS`].
    pub fn next_opening(&self, zone: &Zone, after_ms: u64) -> Option<u64> {
        let day = zone.local_ms(after_ms).div_euclid(DAY_MS);
        (day..day + LOOK_AHEAD_DAYS).filter(|start_day| self.matches(*start_day)).find_map(|start_day| {
            self.cron
                .times_of_day()
                .map(|time| zone.utc_ms(start_day * DAY_MS + i64::from(time) * 1000))
                .find(|opens| *opens > after_ms)
        })
    }
}
