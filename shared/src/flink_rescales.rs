//! Flink's own account of an in-place rescale: the rescale history Flink 2.3's adaptive
//! scheduler keeps when `web.adaptive-scheduler.rescale-history.size` is above 0 (FLIP-495),
//! independent of Flink's wire format, and which of its rescales belong to one request.
//!
//! Facts this relies on (verified on 2.3.0): Flink lists a rescale once it has ended, newest
//! first; each records its trigger (`UPDATE_REQUIREMENT` for new resource requirements), start
//! and end, outcome (`COMPLETED`, `FAILED`, `IGNORED`) with a reason, the scheduler states it
//! went through and each vertex's parallelism before and after. A history size of 0 (the
//! default) keeps nothing; 1.x has no such endpoint.

use serde::{Deserialize, Serialize};

use crate::operation::{Operation, PhaseName, ResolvedStrategy, Strategy, event_kind};

/// How far before the operation's execution and after its end a rescale Flink recorded may
/// start and still count as the operation's: the backend's and Flink's clocks may differ.
pub const WINDOW_MARGIN_MS: u64 = 5_000;

/// One rescale as Flink's adaptive scheduler recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlinkRescale {
    /// Flink's rescale id (`rescaleUuid`, 32 hex characters).
    pub id: String,
    /// Flink's attempt number for one change of requirements.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// What started it, as Flink names it: `UPDATE_REQUIREMENT`, `INITIAL_SCHEDULE`,
    /// `NEW_RESOURCE_AVAILABLE`, `RECOVERABLE_FAILOVER`.
    pub trigger: String,
    pub started_at_ms: u64,
    /// `None` while it lasts.
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
    /// `COMPLETED`, `FAILED` or `IGNORED`; `None` while it lasts.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Why it ended, as Flink names it: `SUCCEEDED`, `EXCEPTION_OCCURRED`,
    /// `RESOURCE_REQUIREMENTS_UPDATED`, ...
    #[serde(default)]
    pub terminated_reason: Option<String>,
    /// The adaptive scheduler's states during the rescale, oldest first.
    #[serde(default)]
    pub scheduler_states: Vec<SchedulerStateSpan>,
    /// Each vertex's parallelism before and after, in Flink's order of vertex ids.
    #[serde(default)]
    pub vertices: Vec<RescaledVertex>,
}

/// The time the adaptive scheduler spent in one of its states (`Executing`, `Restarting`,
/// `CreatingExecutionGraph`, `WaitingForResources`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchedulerStateSpan {
    /// Flink's name of the state.
    pub state: String,
    pub entered_at_ms: u64,
    #[serde(default)]
    pub left_at_ms: Option<u64>,
    /// The first line of the exception Flink recorded in this state, without addresses.
    #[serde(default)]
    pub exception: Option<String>,
}

/// One vertex of a rescale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RescaledVertex {
    pub id: String,
    pub name: String,
    /// `None` for the first schedule of a job.
    #[serde(default)]
    pub before: Option<u32>,
    #[serde(default)]
    pub after: Option<u32>,
    /// What the requirements asked for.
    #[serde(default)]
    pub desired: Option<u32>,
}

impl FlinkRescale {
    pub fn is_completed(&self) -> bool {
        self.outcome.as_deref() == Some("COMPLETED")
    }

    /// What started it, in words.
    pub fn trigger_label(&self) -> String {
        match self.trigger.as_str() {
            "UPDATE_REQUIREMENT" => "new resource requirements".to_owned(),
            "INITIAL_SCHEDULE" => "the job's first schedule".to_owned(),
            "NEW_RESOURCE_AVAILABLE" => "new resources became available".to_owned(),
            "RECOVERABLE_FAILOVER" => "a recoverable failure".to_owned(),
            other => other.to_lowercase().replace('_', " "),
        }
    }

    /// How it ended, in words: the outcome, and the reason when it adds something.
    pub fn outcome_label(&self) -> String {
        let Some(outcome) = self.outcome.as_deref() else { return "in progress".to_owned() };
        let reason = match self.terminated_reason.as_deref() {
            None | Some("SUCCEEDED") => None,
            Some("EXCEPTION_OCCURRED") => Some("an exception occurred, such as too few resources".to_owned()),
            Some("RESOURCE_REQUIREMENTS_UPDATED") => Some("newer resource requirements replaced it".to_owned()),
            Some("NO_RESOURCES_OR_PARALLELISMS_CHANGE") => Some("neither resources nor parallelism changed".to_owned()),
            Some("JOB_FINISHED") => Some("the job finished".to_owned()),
            Some("JOB_FAILING" | "JOB_FAILED") => Some("the job was failing".to_owned()),
            Some("JOB_FAILOVER_RESTARTING") => Some("the job was restarting after a failure".to_owned()),
            Some("JOB_CANCELING" | "JOB_CANCELED") => Some("the job was being cancelled".to_owned()),
            Some(other) => Some(other.to_lowercase().replace('_', " ")),
        };
        let outcome = outcome.to_lowercase();
        match reason {
            Some(reason) => format!("{outcome}: {reason}"),
            None => outcome,
        }
    }
}

/// The part of an in-place request's life Flink's rescales are matched against: from when it
/// began sending the new requirements (entering `applying`) to when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionWindow {
    pub from_ms: u64,
    /// `None` while the request is not over.
    #[serde(default)]
    pub until_ms: Option<u64>,
}

impl ExecutionWindow {
    /// The window of an in-place request whose requirements went out (or were about to), or
    /// the account that says why Flink's history has nothing for it.
    pub fn of(operation: &Operation) -> Result<Self, FlinkRescaleAccount> {
        let in_place = match operation.strategy {
            Some(strategy) => strategy == ResolvedStrategy::InPlace,
            // Not started: `auto` may still become in place.
            None => operation.requested_strategy != Strategy::Savepoint,
        };
        if !in_place {
            return Err(FlinkRescaleAccount::without(FlinkAccountStatus::NotInPlace, NOT_IN_PLACE.to_owned()));
        }
        let applying = operation.phase_history.iter().find(|span| span.phase == PhaseName::Applying);
        let sent = operation.events.iter().find(|event| event.kind == event_kind::REQUIREMENTS_SENT);
        let Some(from_ms) = applying.map(|span| span.started_at_ms).or(sent.map(|event| event.at_ms)) else {
            let reason = if operation.is_terminal() { NEVER_SENT } else { NOT_SENT };
            return Err(FlinkRescaleAccount::without(FlinkAccountStatus::NotSent, reason.to_owned()));
        };
        let until_ms =
            if operation.is_terminal() { operation.phase_history.last().map(|span| span.started_at_ms) } else { None };
        Ok(Self { from_ms, until_ms })
    }

    /// The rescale started within the window, give or take [`WINDOW_MARGIN_MS`].
    pub fn covers(&self, rescale: &FlinkRescale) -> bool {
        let started = rescale.started_at_ms;
        started.saturating_add(WINDOW_MARGIN_MS) >= self.from_ms
            && self.until_ms.is_none_or(|until_ms| started <= until_ms.saturating_add(WINDOW_MARGIN_MS))
    }
}

/// Whether Flink has an account of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlinkAccountStatus {
    /// Flink keeps a rescale history for the job; `rescales` are those of the request (maybe
    /// none yet: Flink lists a rescale once it has ended).
    Recorded,
    /// The request restarts the job from a savepoint: Flink's history covers in-place rescales.
    NotInPlace,
    /// The new requirements have not been sent (yet: the request may not have started, or an
    /// `auto` request not chosen its strategy).
    NotSent,
    /// Flink keeps no rescale history for the job (before 2.3, or a history size of 0).
    NotKept,
    /// Flink no longer knows the job, nor its history.
    JobGone,
}

/// Flink's account of one request: the rescales it recorded within the request's execution,
/// oldest first, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlinkRescaleAccount {
    pub status: FlinkAccountStatus,
    /// Why there is no account, for people; `None` when recorded.
    #[serde(default)]
    pub reason: Option<String>,
    /// What the rescales were matched against, when the request got that far.
    #[serde(default)]
    pub window: Option<ExecutionWindow>,
    #[serde(default)]
    pub rescales: Vec<FlinkRescale>,
}

const NOT_IN_PLACE: &str =
    "not an in-place rescale: Flink's rescale history covers the adaptive scheduler's in-place rescales";
const NOT_SENT: &str = "the new resource requirements have not been sent to Flink yet";
const NEVER_SENT: &str = "the request ended before its new resource requirements were sent to Flink";

impl FlinkRescaleAccount {
    fn without(status: FlinkAccountStatus, reason: String) -> Self {
        Self { status, reason: Some(reason), window: None, rescales: Vec::new() }
    }

    /// The rescales of `history` that started within `window`, oldest first.
    pub fn recorded(window: ExecutionWindow, history: Vec<FlinkRescale>) -> Self {
        let mut rescales: Vec<FlinkRescale> = history.into_iter().filter(|rescale| window.covers(rescale)).collect();
        rescales.sort_by_key(|rescale| rescale.started_at_ms);
        Self { status: FlinkAccountStatus::Recorded, reason: None, window: Some(window), rescales }
    }

    /// Flink keeps no history for the job; `flink_version` says whether it could.
    pub fn not_kept(window: ExecutionWindow, flink_version: &str) -> Self {
        let reason = if keeps_rescale_history(flink_version) == Some(false) {
            format!("Flink {} keeps no rescale history: it came with Flink 2.3", flink_version.trim())
        } else {
            "Flink keeps no rescale history for this job: web.adaptive-scheduler.rescale-history.size is 0".to_owned()
        };
        Self { window: Some(window), ..Self::without(FlinkAccountStatus::NotKept, reason) }
    }

    /// Flink no longer knows the job (a JobManager restart, or its archive expired).
    pub fn job_gone(window: ExecutionWindow, job_id: &str) -> Self {
        let reason = format!("the job is gone: Flink no longer knows job {job_id}, nor its rescale history");
        Self { window: Some(window), ..Self::without(FlinkAccountStatus::JobGone, reason) }
    }
}

/// Whether a Flink version can keep a rescale history (2.3 and later); `None` when the version
/// does not start with `major.minor`.
pub fn keeps_rescale_history(flink_version: &str) -> Option<bool> {
    let mut numbers = flink_version.trim().trim_start_matches('v').split(['.', '-']);
    let major: u32 = numbers.next()?.parse().ok()?;
    let minor: u32 = numbers.next()?.parse().ok()?;
    Some(major > 2 || (major == 2 && minor >= 3))
}
