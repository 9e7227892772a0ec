//! What an approved request waits for on its cluster's schedule (its maintenance windows and
//! freezes), in the shared schedule's own words (`schedule::next_allowed`, `describe_wait`).

use leptos::prelude::*;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;
use rescaler_shared::schedule::{Allowed, Schedule, describe_wait, next_allowed};

/// The sentence for `operation` at `now_ms` on `schedule`, when it has not started and the
/// schedule holds it.
pub fn schedule_wait(operation: &Operation, schedule: &Schedule, now_ms: u64) -> Option<String> {
    if !matches!(operation.phase.name(), PhaseName::AwaitingApproval | PhaseName::Approved) {
        return None;
    }
    let from_ms = operation.not_before_ms.unwrap_or(now_ms).max(now_ms);
    let wait = match next_allowed(from_ms, schedule) {
        Allowed::Now => return None,
        Allowed::At(at_ms) => describe_wait(from_ms, at_ms, schedule),
        Allowed::Never(reason) => format!("the cluster's schedule allows no start: {reason}"),
    };
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
    /// Its cluster's schedule.
    schedule: Schedule,
    /// Now.
    now_ms: u64,
) -> impl IntoView {
    schedule_wait(&operation, &schedule, now_ms)
        .map(|text| view! { <p class="progress-note" data-test="schedule-wait">{text}</p> })
}
