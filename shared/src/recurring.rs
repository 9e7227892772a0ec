//! Recurring rescale schedules: "scale job X to 2 at 22:00 and to 6 at 07:00 on weekdays",
//! requested and approved once. Pure: when the next occurrence is ([`next_occurrence`]), which
//! one to materialize now ([`due`]), and the records of what each occurrence became.
//!
//! Each occurrence becomes its own rescale request (the backend's `reconcile/recurring.rs`),
//! approved through the schedule, with its own events, pre-flight and rollback; the cluster's
//! maintenance windows and freezes still hold it. An occurrence older than [`OCCURRENCE_GRACE_MS`]
//! when first seen is reported missed, never run late.
//!
//! A step's time of day is read in its [`Zone`], as a maintenance window's is.

use serde::{Deserialize, Serialize};

mod occurrence;
pub use occurrence::{OccurrenceJob, occurrence_operation};

use crate::operation::{Approval, OperationEvent, Strategy, Target};
use crate::schedule::{ClockTime, UtcOffset, Weekday, Zone, ZoneName, describe_instant};

const DAY_MS: i64 = 86_400_000;
/// How late an occurrence may still start: past this it is reported missed. Also how long its
/// request may wait for the cluster's maintenance window before it expires.
pub const OCCURRENCE_GRACE_MS: u64 = 10 * 60 * 1000;
/// Most missed occurrences [`due`] counts at once (a reconciler down for weeks).
const MAX_MISSED: usize = 10_000;
/// Occurrences kept on the record, newest last; older ones stay in the audit log.
pub const MAX_OCCURRENCES_KEPT: usize = 200;

/// Kinds of schedule events, beside the request's own (`requested`, `approved`, …).
pub mod schedule_event {
    pub const ACTIVATED: &str = "schedule_activated";
    pub const OCCURRENCE_CREATED: &str = "occurrence_created";
    pub const OCCURRENCE_SKIPPED: &str = "occurrence_skipped";
    pub const OCCURRENCE_MISSED: &str = "occurrence_missed";
}

/// One step of a schedule: on each of `days`, at `at` local time in the step's zone
/// (`utc_offset` or `time_zone`, at most one; neither is UTC), rescale to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub days: Vec<Weekday>,
    /// `HH:MM` or `HH:MM:SS`.
    pub at: ClockTime,
    /// A fixed offset from UTC (`+01:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<UtcOffset>,
    /// A named IANA time zone (`Europe/Berlin`), instead of `utc_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "Europe/Berlin"))]
    pub time_zone: Option<ZoneName>,
    pub target: Target,
    #[serde(default)]
    pub strategy: Strategy,
}

/// Where a schedule is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    AwaitingApproval,
    /// Approved: its occurrences run.
    Active,
    Rejected,
    Cancelled,
    /// Not approved within its approval window.
    Expired,
}

impl ScheduleState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting approval",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired unapproved",
        }
    }

    /// Nothing more happens to it.
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Rejected | Self::Cancelled | Self::Expired)
    }
}

/// What one occurrence became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub at_ms: u64,
    pub step: usize,
    /// The request it created (its phase says how it ended), or `None` when it was skipped.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// Why it was skipped (the job had an open request, it was missed), when it was.
    #[serde(default)]
    pub skipped: Option<String>,
}

/// The intent of materializing an occurrence, held by one reconciler until it recorded the
/// outcome: written (compare-and-swap) before the request is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingOccurrence {
    pub at_ms: u64,
    pub step: usize,
    pub operation_id: String,
    pub owner: String,
    pub until_ms: u64,
}

/// A recurring schedule and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecurringSchedule {
    /// 32 lowercase hex characters.
    pub id: String,
    pub cluster_id: String,
    /// The deployment of the job: each occurrence rescales its current job.
    pub deployment_id: String,
    /// The Flink job id when the schedule was requested.
    pub job_id: String,
    #[serde(default)]
    pub job_name: String,
    pub steps: Vec<Step>,
    pub reason: String,
    pub requested_by: String,
    pub created_at_ms: u64,
    /// Must be approved before this instant, or it expires.
    pub expires_at_ms: u64,
    pub required_approvals: u32,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub events: Vec<OperationEvent>,
    pub state: ScheduleState,
    /// When it became active: occurrences before this never run.
    #[serde(default)]
    pub active_since_ms: Option<u64>,
    /// The latest occurrence materialized (created or skipped).
    #[serde(default)]
    pub last_occurrence_ms: Option<u64>,
    #[serde(default)]
    pub occurrences: Vec<Occurrence>,
    #[serde(default)]
    pub pending: Option<PendingOccurrence>,
    /// Copied into each occurrence's request (from the configuration when it was requested).
    #[serde(default = "default_verify_timeout_ms")]
    pub verify_timeout_ms: u64,
    #[serde(default = "default_stable_for_ms")]
    pub stable_for_ms: u64,
}

fn default_verify_timeout_ms() -> u64 {
    crate::operation::DEFAULT_VERIFY_TIMEOUT_MS
}

fn default_stable_for_ms() -> u64 {
    crate::operation::DEFAULT_STABLE_FOR_MS
}

/// What [`due`] says to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Materialize this occurrence now.
    Run {
        at_ms: u64,
        step: usize,
    },
    /// `count` occurrences, from `first_ms` to `last_ms` (of step `step`), passed more than the
    /// grace ago unseen: report them, then go on after `last_ms`.
    Missed {
        first_ms: u64,
        last_ms: u64,
        step: usize,
        count: usize,
    },
}

impl Step {
    /// The zone its time of day is read in (UTC when it names none, or wrongly both: see
    /// [`steps_problem`]).
    pub fn zone(&self) -> Zone {
        Zone::from_fields(self.utc_offset, self.time_zone.as_ref()).unwrap_or_default()
    }

    /// The first time of this step strictly after `after_ms`.
    fn next_after(&self, after_ms: u64) -> Option<u64> {
        let zone = self.zone();
        let day = zone.local_ms(after_ms).div_euclid(DAY_MS);
        (-1..=8).map(|offset| day + offset).find_map(|day| {
            let at_ms = zone.utc_ms(day * DAY_MS + i64::from(self.at.0) * 1000);
            (at_ms > after_ms && self.days.contains(&weekday_of(day))).then_some(at_ms)
        })
    }

    /// `mon,tue at 22:00 (UTC+01:00): parallelism 2`.
    pub fn describe(&self) -> String {
        let days: Vec<String> = self.days.iter().map(|day| format!("{day:?}").to_lowercase()).collect();
        format!("{} at {} ({}): {}", days.join(","), String::from(self.at), self.zone(), self.target.describe())
    }
}

/// The weekday of a day counted from 1970-01-01, a Thursday.
fn weekday_of(day: i64) -> Weekday {
    Weekday::ALL[(day + 3).rem_euclid(7) as usize]
}

/// The first occurrence strictly after `after_ms`, and the index of its step; of two steps at
/// the same instant, the first listed.
pub fn next_occurrence(schedule: &RecurringSchedule, after_ms: u64) -> Option<(u64, usize)> {
    schedule
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| step.next_after(after_ms).map(|at_ms| (at_ms, index)))
        .min()
}

/// Which occurrence to materialize at `now_ms`: the first one after the last materialized (or
/// the activation) whose time has come, if it came less than [`OCCURRENCE_GRACE_MS`] ago; the
/// ones older than that are missed. Only an active schedule has occurrences.
pub fn due(schedule: &RecurringSchedule, now_ms: u64) -> Due {
    let Some(active_since_ms) = schedule.active_since_ms.filter(|_| schedule.state == ScheduleState::Active) else {
        return Due::Nothing;
    };
    let since_ms = schedule.last_occurrence_ms.unwrap_or(0).max(active_since_ms);
    let Some((first_ms, first_step)) = next_occurrence(schedule, since_ms).filter(|(at, _)| *at <= now_ms) else {
        return Due::Nothing;
    };
    if now_ms - first_ms <= OCCURRENCE_GRACE_MS {
        return Due::Run { at_ms: first_ms, step: first_step };
    }
    let (mut last_ms, mut step, mut count) = (first_ms, first_step, 1);
    while count < MAX_MISSED {
        match next_occurrence(schedule, last_ms) {
            Some((at_ms, index)) if now_ms.saturating_sub(at_ms) > OCCURRENCE_GRACE_MS => {
                (last_ms, step, count) = (at_ms, index, count + 1);
            }
            _ => break,
        }
    }
    Due::Missed { first_ms, last_ms, step, count }
}

/// What is wrong with the steps, if anything: none, a step without days or with two zones.
pub fn steps_problem(steps: &[Step]) -> Option<String> {
    if steps.is_empty() {
        return Some("a schedule needs at least one step".to_owned());
    }
    steps.iter().enumerate().find_map(|(index, step)| {
        let zone = Zone::from_fields(step.utc_offset, step.time_zone.as_ref()).err();
        let days = step.days.is_empty().then(|| "has no days".to_owned());
        days.or(zone).map(|problem| format!("step {} {problem}", index + 1))
    })
}

/// The pre-flight failure codes that refuse a schedule when it is requested: a target that can
/// never run on this job. What depends on the moment (free slots, the job's state, a target
/// equal to the current parallelism) is checked again at each occurrence's start, which is
/// skipped (its request fails, nothing changed) when it does not pass.
pub fn refuses_schedule(failure_code: &str) -> bool {
    use crate::preflight::failure_code as code;
    [code::EMPTY_TARGET, code::UNKNOWN_VERTEX, code::PARALLELISM_OUT_OF_RANGE, code::PER_VERTEX_NEEDS_IN_PLACE]
        .contains(&failure_code)
}

/// The id of the request an occurrence creates: the same for every reconciler, so that the
/// occurrence creates one request however often it is tried.
pub fn occurrence_operation_id(schedule_id: &str, at_ms: u64) -> String {
    crate::operation::derive_flink_id(schedule_id, &format!("occurrence-{at_ms}"))
}

/// What a requester asks for: the body of `POST /api/v1/schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    pub cluster_id: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub job_id: String,
    pub steps: Vec<Step>,
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S", max_length = 2000))]
    pub reason: String,
}

/// The configured parts of a new schedule, beside what the requester asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTerms {
    pub id: String,
    pub deployment_id: String,
    pub job_name: String,
    pub requested_by: String,
    pub required_approvals: u32,
    pub approval_window_ms: u64,
    pub verify_timeout_ms: u64,
    pub stable_for_ms: u64,
}

impl RecurringSchedule {
    /// A new schedule awaiting approval, with its `requested` event.
    pub fn new(request: CreateSchedule, terms: ScheduleTerms, now_ms: u64) -> Self {
        let steps: Vec<String> = request.steps.iter().map(Step::describe).collect();
        let message = format!(
            "{} requested a recurring schedule for job {}: {}; {}",
            terms.requested_by,
            request.job_id,
            steps.join("; "),
            request.reason.trim()
        );
        let requested =
            OperationEvent::by_user(now_ms, &terms.requested_by, crate::operation::event_kind::REQUESTED, message);
        Self {
            id: terms.id,
            cluster_id: request.cluster_id,
            deployment_id: terms.deployment_id,
            job_id: request.job_id,
            job_name: terms.job_name,
            steps: request.steps,
            reason: request.reason.trim().to_owned(),
            requested_by: terms.requested_by,
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(terms.approval_window_ms),
            required_approvals: terms.required_approvals.max(1),
            approvals: Vec::new(),
            events: vec![requested],
            state: ScheduleState::AwaitingApproval,
            active_since_ms: None,
            last_occurrence_ms: None,
            occurrences: Vec::new(),
            pending: None,
            verify_timeout_ms: terms.verify_timeout_ms,
            stable_for_ms: terms.stable_for_ms,
        }
    }

    pub fn approval_count(&self) -> u32 {
        u32::try_from(self.approvals.len()).unwrap_or(u32::MAX)
    }

    /// Records an approval; enough of them make it active. Called by `user_action`, which
    /// checked the rule.
    pub(crate) fn record_approval(&mut self, by: &str, comment: &str, now_ms: u64) {
        self.approvals.push(Approval { by: by.to_owned(), at_ms: now_ms, comment: comment.to_owned() });
        let message = format!("{by} approved the schedule ({} of {})", self.approval_count(), self.required_approvals);
        self.events.push(OperationEvent::by_user(now_ms, by, crate::operation::event_kind::APPROVED, message));
        if self.approval_count() >= self.required_approvals {
            self.state = ScheduleState::Active;
            self.active_since_ms = Some(now_ms);
            let next = next_occurrence(self, now_ms)
                .map_or_else(|| "none".to_owned(), |(at_ms, _)| describe_instant(at_ms, UtcOffset(0)));
            let message = format!("the schedule is active; next occurrence {next}");
            self.events.push(OperationEvent::by_system(now_ms, schedule_event::ACTIVATED, message));
        }
    }

    /// Ends the schedule: rejected or cancelled by `by`, or expired.
    pub(crate) fn end(&mut self, state: ScheduleState, by: Option<&str>, comment: &str, now_ms: u64) {
        use crate::operation::event_kind;
        self.state = state;
        self.pending = None;
        let (kind, verb) = match state {
            ScheduleState::Rejected => (event_kind::REJECTED, "rejected"),
            ScheduleState::Cancelled => (event_kind::CANCELLED, "cancelled"),
            _ => (event_kind::EXPIRED, "expired"),
        };
        let comment = if comment.trim().is_empty() { String::new() } else { format!(": {}", comment.trim()) };
        self.events.push(match by {
            Some(by) => OperationEvent::by_user(now_ms, by, kind, format!("{by} {verb} the schedule{comment}")),
            None => OperationEvent::by_system(now_ms, kind, "the schedule was not approved in time".to_owned()),
        });
    }

    /// Awaiting approval past its window: expire it (the reconciler calls this).
    pub fn expire_if_due(&mut self, now_ms: u64) -> bool {
        let due = self.state == ScheduleState::AwaitingApproval && now_ms >= self.expires_at_ms;
        if due {
            self.end(ScheduleState::Expired, None, "", now_ms);
        }
        due
    }

    /// Records what occurrence `at_ms` became and moves past it; an event says so.
    pub fn record_occurrence(&mut self, occurrence: Occurrence, event: OperationEvent) {
        self.last_occurrence_ms = Some(self.last_occurrence_ms.unwrap_or(0).max(occurrence.at_ms));
        self.pending = None;
        self.occurrences.push(occurrence);
        if self.occurrences.len() > MAX_OCCURRENCES_KEPT {
            self.occurrences.remove(0);
        }
        self.events.push(event);
        if self.events.len() > MAX_OCCURRENCES_KEPT * 2 {
            // The events of who decided (requested, approved) stay; the oldest occurrence goes.
            if let Some(oldest) = self.events.iter().position(|event| event.kind.starts_with("occurrence_")) {
                self.events.remove(oldest);
            }
        }
    }

    /// "approved by bob at 2026-12-01 18:00 (UTC+00:00)" for each approval, for the events of
    /// the requests it creates.
    pub fn describe_approvals(&self) -> String {
        let each: Vec<String> = self
            .approvals
            .iter()
            .map(|approval| {
                format!("approved by {} at {}", approval.by, describe_instant(approval.at_ms, UtcOffset(0)))
            })
            .collect();
        each.join(", ")
    }
}
