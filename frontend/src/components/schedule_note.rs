//! What an approved request waits for on its cluster's schedule (its maintenance windows and
//! freezes), as the server answers it (`ClusterSummary::hold`, from `schedule::hold_at`): the
//! console does not compute schedules itself, since a window in a named time zone needs the tz
//! database, which the console's bundle does not carry.

use leptos::prelude::*;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;
use rescaler_shared::schedule::ScheduleHold;

/// The sentence for `operation` at `now_ms` when it has not started and the cluster's schedule
/// holds it (`hold`, the server's answer for a start at the time it was asked). Nothing when
/// the hold has passed since, or when the request's own not-before comes after the hold's end
/// (what the schedule says then is the server's to answer when that time comes).
pub fn schedule_wait(operation: &Operation, hold: Option<&ScheduleHold>, now_ms: u64) -> Option<String> {
    if !matches!(operation.phase.name(), PhaseName::AwaitingApproval | PhaseName::Approved) {
        return None;
    }
    let hold = hold?;
    let from_ms = operation.not_before_ms.unwrap_or(now_ms).max(now_ms);
    if hold.until_ms.is_some_and(|until_ms| until_ms <= from_ms) {
        return None;
    }
    let wait = &hold.wait;
    Some(match &operation.break_glass {
        Some(glass) => {
            format!("Outside the maintenance windows ({wait}), but {}'s break-glass overrides them.", glass.by)
        }
        None => format!("Once approved, it waits: {wait}."),
    })
}

/// The note, if the schedule holds the request.
#[component]
pub fn ScheduleNote(
    /// The request.
    operation: Operation,
    /// What its cluster's schedule holds a start for, as the server answered it.
    hold: Option<ScheduleHold>,
    /// Now.
    now_ms: u64,
) -> impl IntoView {
    schedule_wait(&operation, hold.as_ref(), now_ms)
        .map(|text| view! { <p class="progress-note" data-test="schedule-wait">{text}</p> })
}
