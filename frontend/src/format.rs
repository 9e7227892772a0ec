//! How times, durations, ids, phases and statuses read on screen.

use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::{Operation, Strategy};
use rescaler_shared::phase::PhaseName;
use web_sys::js_sys::Date;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    // Truncation is fine: a clock in milliseconds fits in u64 for millennia.
    Date::now() as u64
}

/// A local date and time, `2026-11-24 08:38:31`.
pub fn time(at_ms: u64) -> String {
    let date = Date::new(&(at_ms as f64).into());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// A local time of day, `08:38:31`.
pub fn clock(at_ms: u64) -> String {
    let date = Date::new(&(at_ms as f64).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

/// A duration for people: `850 ms`, `4.2 s`, `3 min 05 s`, `2 h 10 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    let seconds = ms / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if seconds < 60 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if seconds < 3600 {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    } else if seconds < 86_400 {
        format!("{} h {:02} min", seconds / 3600, (seconds % 3600) / 60)
    } else {
        format!("{} d {} h", seconds / 86_400, (seconds % 86_400) / 3600)
    }
}

/// How long ago, `just now`, `5 min ago`.
pub fn ago(at_ms: u64, now_ms: u64) -> String {
    let elapsed = now_ms.saturating_sub(at_ms);
    if elapsed < 10_000 { "just now".to_owned() } else { format!("{} ago", duration(elapsed - elapsed % 1000)) }
}

/// The first 8 characters of a 32-hex id.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub fn phase_label(phase: PhaseName) -> &'static str {
    match phase {
        PhaseName::AwaitingApproval => "Awaiting approval",
        PhaseName::Approved => "Approved",
        PhaseName::Stopping => "Stopping with savepoint",
        PhaseName::Restarting => "Restarting",
        PhaseName::Applying => "Applying in place",
        PhaseName::Snapshotting => "Taking snapshot",
        PhaseName::Updating => "Updating application",
        PhaseName::Verifying => "Verifying",
        PhaseName::RollingBack => "Rolling back",
        PhaseName::Completed => "Completed",
        PhaseName::RolledBack => "Rolled back",
        PhaseName::Failed => "Failed",
        PhaseName::Rejected => "Rejected",
        PhaseName::Cancelled => "Cancelled",
        PhaseName::Expired => "Expired",
    }
}

/// The colour family of a phase: `waiting`, `active`, `good`, `warn`, `bad` or `neutral`.
pub fn phase_tone(phase: PhaseName) -> &'static str {
    match phase {
        PhaseName::AwaitingApproval => "waiting",
        PhaseName::Approved
        | PhaseName::Stopping
        | PhaseName::Restarting
        | PhaseName::Applying
        | PhaseName::Snapshotting
        | PhaseName::Updating
        | PhaseName::Verifying => "active",
        PhaseName::Completed => "good",
        PhaseName::RollingBack | PhaseName::RolledBack => "warn",
        PhaseName::Failed => "bad",
        PhaseName::Rejected | PhaseName::Cancelled | PhaseName::Expired => "neutral",
    }
}

pub fn job_status_tone(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "good",
        JobStatus::Failing | JobStatus::Failed => "bad",
        JobStatus::Restarting
        | JobStatus::Cancelling
        | JobStatus::Initializing
        | JobStatus::Created
        | JobStatus::Reconciling => "active",
        JobStatus::Canceled | JobStatus::Finished | JobStatus::Suspended | JobStatus::Unknown => "neutral",
    }
}

pub fn strategy_label(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Auto => "Automatic",
        Strategy::Savepoint => "Savepoint",
        Strategy::InPlace => "In place",
    }
}

/// The strategy an operation uses, or asked for while not yet resolved.
pub fn operation_strategy(operation: &Operation) -> String {
    match operation.strategy {
        Some(resolved) => resolved.as_str().replace('_', " "),
        None => format!("{} (requested)", operation.requested_strategy.as_str().replace('_', " ")),
    }
}

/// A load metric in ms per second as a percentage, `37 %`.
pub fn load_percent(ms_per_second: Option<f64>) -> String {
    match ms_per_second {
        Some(value) if value.is_finite() => format!("{:.0} %", (value / 10.0).clamp(0.0, 100.0)),
        _ => "–".to_owned(),
    }
}

/// A rate with a short unit, `1.2k/s`.
pub fn rate(per_second: Option<f64>) -> String {
    match per_second {
        Some(value) if value.is_finite() && value >= 10_000.0 => format!("{:.0}k/s", value / 1000.0),
        Some(value) if value.is_finite() && value >= 1000.0 => format!("{:.1}k/s", value / 1000.0),
        Some(value) if value.is_finite() && value >= 10.0 => format!("{value:.0}/s"),
        Some(value) if value.is_finite() => format!("{value:.1}/s"),
        _ => "–".to_owned(),
    }
}
