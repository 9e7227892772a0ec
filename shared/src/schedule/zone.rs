//! A time zone for local times of day: a fixed UTC offset (`+01:00`) or a named IANA zone
//! (`Europe/Berlin`) whose offset follows its daylight saving time. One small type for every
//! local time in the product (maintenance windows, recurring steps): [`Zone::offset_at`] an
//! instant, and local wall-clock time ↔ UTC ([`Zone::local_ms`], [`Zone::utc_ms`]).
//!
//! Named zones need the tz database, compiled in only with this crate's `tz` feature (the
//! backend enables it; the console does not, so its wasm bundle carries no tz data). Without
//! `tz` a named zone is still read and written by its name, but its offset is taken as UTC:
//! a build without `tz` must not compute with named zones (the console shows the server's
//! answers instead, `ClusterSummary::hold`).
//!
//! Local times that a named zone skips or repeats: a local time that does not exist (in the
//! hour skipped when clocks go forward) is taken as the first instant after it that exists,
//! the moment of the change; a local time that occurs twice (when clocks go back) is taken at
//! its first occurrence, at the earlier (summer) offset.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::UtcOffset;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// A named IANA time zone (`Europe/Berlin`); with the `tz` feature, only a name the tz
/// database knows parses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ZoneName {
    name: String,
    #[cfg(feature = "tz")]
    tz: chrono_tz::Tz,
}

impl ZoneName {
    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TryFrom<String> for ZoneName {
    type Error = String;
    #[cfg(feature = "tz")]
    fn try_from(name: String) -> Result<Self, String> {
        let tz = name.parse::<chrono_tz::Tz>().map_err(|_| format!("{name:?} is not a known IANA time zone"))?;
        Ok(Self { name, tz })
    }
    #[cfg(not(feature = "tz"))]
    fn try_from(name: String) -> Result<Self, String> {
        if name.is_empty() { Err("an empty time zone name".to_owned()) } else { Ok(Self { name }) }
    }
}

impl From<ZoneName> for String {
    fn from(zone: ZoneName) -> Self {
        zone.name
    }
}

/// Where local times of day are read: at a fixed offset from UTC, or in a named zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Fixed(UtcOffset),
    Named(ZoneName),
}

impl Default for Zone {
    fn default() -> Self {
        Self::Fixed(UtcOffset(0))
    }
}

impl fmt::Display for Zone {
    /// `UTC+01:00`, or the zone's name.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(offset) => offset.fmt(formatter),
            Self::Named(zone) => formatter.write_str(zone.name()),
        }
    }
}

impl Zone {
    /// The zone a configuration names with `utc_offset` or `time_zone`: at most one of them;
    /// neither is UTC.
    pub fn from_fields(utc_offset: Option<UtcOffset>, time_zone: Option<&ZoneName>) -> Result<Self, String> {
        match (utc_offset, time_zone) {
            (Some(_), Some(zone)) => {
                Err(format!("both utc_offset and time_zone ({}) are given; give one", zone.name()))
            }
            (Some(offset), None) => Ok(Self::Fixed(offset)),
            (None, Some(zone)) => Ok(Self::Named(zone.clone())),
            (None, None) => Ok(Self::default()),
        }
    }

    /// The zone's offset from UTC at the instant `utc_ms` (ms since the Unix epoch).
    pub fn offset_at(&self, utc_ms: u64) -> UtcOffset {
        match self {
            Self::Fixed(offset) => *offset,
            Self::Named(zone) => named_offset(zone, utc_ms),
        }
    }

    /// The local wall-clock time at `utc_ms`, as ms since 1970-01-01 00:00 local.
    pub fn local_ms(&self, utc_ms: u64) -> i64 {
        utc_ms as i64 + i64::from(self.offset_at(utc_ms).0) * MINUTE_MS
    }

    /// The instant (UTC ms) of the local wall-clock time `local_ms` (ms since 1970-01-01 00:00
    /// local): a skipped local time is the first instant after it, a repeated one its first
    /// occurrence (see the module's header). Instants before the epoch are the epoch.
    pub fn utc_ms(&self, local_ms: i64) -> u64 {
        let guess = |offset: UtcOffset| (local_ms - i64::from(offset.0) * MINUTE_MS).max(0) as u64;
        let nearby = [-DAY_MS, 0, DAY_MS].map(|shift| self.offset_at((local_ms + shift).max(0) as u64));
        let valid = nearby.iter().map(|offset| guess(*offset)).filter(|utc| self.local_ms(*utc) == local_ms).min();
        if let Some(utc) = valid {
            return utc;
        }
        // In a gap: the change happened between the guesses at the widest and narrowest offset;
        // the first instant after the skipped local time is that change.
        let widest = nearby.iter().copied().max_by_key(|offset| offset.0).unwrap_or_default();
        let (mut low, mut high) = (guess(widest), nearby.iter().map(|offset| guess(*offset)).max().unwrap_or(0));
        while low < high {
            let middle = low + (high - low) / 2;
            if self.local_ms(middle) > local_ms { high = middle } else { low = middle + 1 }
        }
        high
    }

    /// `2026-12-01 22:00 (Europe/Berlin, UTC+01:00)`, or `2026-12-01 22:00 (UTC+01:00)` at a
    /// fixed offset: an instant in the zone, to the minute.
    pub fn describe(&self, utc_ms: u64) -> String {
        let offset = self.offset_at(utc_ms);
        let (date, time) = super::local_parts(utc_ms, offset);
        match self {
            Self::Fixed(_) => format!("{date} {time} ({offset})"),
            Self::Named(zone) => format!("{date} {time} ({}, {offset})", zone.name()),
        }
    }
}

#[cfg(feature = "tz")]
fn named_offset(zone: &ZoneName, utc_ms: u64) -> UtcOffset {
    use chrono::{Offset, TimeZone};
    let at = chrono::DateTime::from_timestamp_millis(utc_ms as i64).unwrap_or_default().naive_utc();
    UtcOffset(zone.tz.offset_from_utc_datetime(&at).fix().local_minus_utc() / 60)
}

/// Without the tz database a named zone's offset is unknown: UTC (see the module's header).
#[cfg(not(feature = "tz"))]
fn named_offset(_zone: &ZoneName, _utc_ms: u64) -> UtcOffset {
    UtcOffset(0)
}
