//! A maintenance window: weekly (`days`, `start`, `end`) or by a cron expression (`cron`,
//! `duration`), its local times read in its zone (`utc_offset` or `time_zone`).

use serde::{Deserialize, Serialize};

use super::cron::{Cron, Span};
use super::{ClockTime, CronWindow, DAY_MS, DAY_SECONDS, SECOND_MS, UtcOffset, Weekday, Zone, ZoneName};

/// A maintenance window: on each of `days`, from `start` until `end` local time in the
/// window's zone (`utc_offset` or `time_zone`, at most one; neither is UTC); an `end` at or
/// before `start` ends on the next day (`22:00`–`06:00`). Or, with `cron` (then `days`, `start`
/// and `end` are empty), at each local minute the expression matches, for its `duration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowFields", into = "WindowFields")]
pub struct MaintenanceWindow {
    pub days: Vec<Weekday>,
    pub start: ClockTime,
    pub end: ClockTime,
    /// A fixed offset from UTC (`+01:00`).
    pub utc_offset: Option<UtcOffset>,
    /// A named IANA time zone (`Europe/Berlin`), instead of `utc_offset`.
    pub time_zone: Option<ZoneName>,
    /// Instead of `days`, `start` and `end`: opens when the expression matches.
    pub cron: Option<CronWindow>,
}

/// A window as written (the configuration and the wire): `days`, `start` and `end`, or `cron`
/// and `duration`; `utc_offset` or `time_zone`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
struct WindowFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<Vec<Weekday>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<ClockTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<ClockTime>,
    /// A fixed offset from UTC (`+01:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    utc_offset: Option<UtcOffset>,
    /// A named IANA time zone (`Europe/Berlin`), instead of `utc_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "Europe/Berlin"))]
    time_zone: Option<ZoneName>,
    /// `minute hour day-of-month month day-of-week`, instead of `days`, `start` and `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "0 22 * * 1-5"))]
    cron: Option<Cron>,
    /// How long a `cron` window stays open: `90m`, `8h`, `1h30m`, `2d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "8h"))]
    duration: Option<Span>,
}

impl TryFrom<WindowFields> for MaintenanceWindow {
    type Error = String;
    fn try_from(fields: WindowFields) -> Result<Self, String> {
        Zone::from_fields(fields.utc_offset, fields.time_zone.as_ref())?;
        let WindowFields { days, start, end, utc_offset, time_zone, cron, duration } = fields;
        let (days, start, end, cron) = match (cron, duration, days, start, end) {
            (Some(cron), Some(duration), None, None, None) => {
                (Vec::new(), ClockTime(0), ClockTime(0), Some(CronWindow { cron, duration }))
            }
            (Some(_), None, ..) => return Err("a cron window needs a duration (duration = \"8h\")".to_owned()),
            (Some(_), Some(_), ..) => return Err("a cron window has no days, start or end".to_owned()),
            (None, Some(_), ..) => return Err("a duration is for a cron window; this one has none".to_owned()),
            (None, None, Some(days), Some(start), Some(end)) => (days, start, end, None),
            (None, None, ..) => return Err("a window needs days, start and end, or cron and duration".to_owned()),
        };
        Ok(Self { days, start, end, utc_offset, time_zone, cron })
    }
}

impl From<MaintenanceWindow> for WindowFields {
    fn from(window: MaintenanceWindow) -> Self {
        let MaintenanceWindow { days, start, end, utc_offset, time_zone, cron } = window;
        let weekly = cron.is_none();
        let (cron, duration) = cron.map(|cron| (cron.cron, cron.duration)).unzip();
        Self {
            days: weekly.then_some(days),
            start: weekly.then_some(start),
            end: weekly.then_some(end),
            utc_offset,
            time_zone,
            cron,
            duration,
        }
    }
}

/// The wire schema of a window is the schema of its written fields.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for MaintenanceWindow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <WindowFields as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for MaintenanceWindow {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("MaintenanceWindow")
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <WindowFields as utoipa::ToSchema>::schemas(schemas);
    }
}

impl MaintenanceWindow {
    /// A weekly window at a fixed offset (`None`: UTC).
    pub fn weekly(days: Vec<Weekday>, start: ClockTime, end: ClockTime, utc_offset: Option<UtcOffset>) -> Self {
        Self { days, start, end, utc_offset, time_zone: None, cron: None }
    }

    /// The zone its times of day are read in (UTC when it names none, or wrongly both: see
    /// [`MaintenanceWindow::problem`]).
    pub fn zone(&self) -> Zone {
        Zone::from_fields(self.utc_offset, self.time_zone.as_ref()).unwrap_or_default()
    }

    /// What is wrong with the window, if anything: no days, a cron expression that never
    /// matches, two zones.
    pub fn problem(&self) -> Option<String> {
        if let Err(problem) = Zone::from_fields(self.utc_offset, self.time_zone.as_ref()) {
            return Some(format!("a maintenance window: {problem}"));
        }
        match &self.cron {
            Some(cron) if !cron.cron.ever_matches() => {
                Some(format!("a maintenance window's cron {:?} never matches", cron.cron.to_string()))
            }
            None if self.days.is_empty() => Some("a maintenance window has no days".to_owned()),
            _ => None,
        }
    }

    /// Whether the window never opens.
    pub fn never_opens(&self) -> bool {
        match &self.cron {
            Some(cron) => !cron.cron.ever_matches(),
            None => self.days.is_empty(),
        }
    }

    fn length_seconds(&self) -> u32 {
        match self.end.0.checked_sub(self.start.0) {
            Some(length) if length > 0 => length,
            _ => self.end.0 + DAY_SECONDS - self.start.0,
        }
    }

    /// The local opening time (local ms) of the occurrence that starts on local day `day`.
    fn local_opening(&self, day: i64) -> i64 {
        day * DAY_MS as i64 + i64::from(self.start.0) * SECOND_MS as i64
    }

    /// The opening (UTC ms) of the occurrence that contains `at_ms`, if one does.
    pub(super) fn open_at(&self, at_ms: u64) -> Option<u64> {
        let zone = self.zone();
        if let Some(cron) = &self.cron {
            return cron.open_at(&zone, at_ms);
        }
        let day = zone.local_ms(at_ms).div_euclid(DAY_MS as i64);
        [day, day - 1].into_iter().find_map(|start_day| {
            let opens = self.local_opening(start_day);
            let closes = zone.utc_ms(opens + i64::from(self.length_seconds()) * SECOND_MS as i64);
            let opens = zone.utc_ms(opens);
            let listed = self.days.contains(&Weekday::of_day(start_day));
            (listed && opens <= at_ms && at_ms < closes).then_some(opens)
        })
    }

    /// The first opening (UTC ms) after `after_ms`, if the window has any day.
    pub(super) fn next_opening(&self, after_ms: u64) -> Option<u64> {
        let zone = self.zone();
        if let Some(cron) = &self.cron {
            return cron.next_opening(&zone, after_ms);
        }
        let day = zone.local_ms(after_ms).div_euclid(DAY_MS as i64);
        (0..=8).map(|offset| day + offset).find_map(|start_day| {
            let opens = zone.utc_ms(self.local_opening(start_day));
            (self.days.contains(&Weekday::of_day(start_day)) && opens > after_ms).then_some(opens)
        })
    }
}
