//! A request's progress as a bar of phases, each with the time spent in it.

use leptos::prelude::*;
use rescaler_shared::operation::{Operation, ResolvedStrategy, Strategy};
use rescaler_shared::phase::{PhaseName, flink_cooldown_until};

use crate::format::{self, phase_label};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Done,
    Current,
    Pending,
    /// The request ended badly here (failed, rejected, cancelled, expired).
    Ended,
    /// Rolling back or rolled back.
    Warning,
}

impl StepState {
    fn class(self) -> &'static str {
        match self {
            Self::Done => "step step-done",
            Self::Current => "step step-current",
            Self::Pending => "step step-pending",
            Self::Ended => "step step-ended",
            Self::Warning => "step step-warning",
        }
    }
}

/// The phases a request goes through when all goes well.
fn happy_path(operation: &Operation) -> Vec<PhaseName> {
    let strategy = match (operation.strategy, operation.requested_strategy) {
        (Some(resolved), _) => Some(resolved),
        (None, Strategy::Savepoint) => Some(ResolvedStrategy::Savepoint),
        (None, Strategy::InPlace) => Some(ResolvedStrategy::InPlace),
        // Automatic: known once execution starts.
        (None, Strategy::Auto) => None,
    };
    let mut path = vec![PhaseName::AwaitingApproval, PhaseName::Approved];
    match strategy {
        Some(ResolvedStrategy::Savepoint) => path.extend([PhaseName::Stopping, PhaseName::Restarting]),
        Some(ResolvedStrategy::InPlace) => path.push(PhaseName::Applying),
        Some(ResolvedStrategy::MsfUpdate) => path.extend([PhaseName::Snapshotting, PhaseName::Updating]),
        None => {}
    }
    path.extend([PhaseName::Verifying, PhaseName::Completed]);
    path
}

/// Time spent in `phase` so far, all its spans together; `None` if never entered.
fn time_in(operation: &Operation, phase: PhaseName, now_ms: u64) -> Option<u64> {
    let spans: Vec<_> = operation.phase_history.iter().filter(|span| span.phase == phase).collect();
    if spans.is_empty() {
        return None;
    }
    Some(spans.iter().map(|span| span.ended_at_ms.unwrap_or(now_ms).saturating_sub(span.started_at_ms)).sum())
}

fn steps(operation: &Operation) -> Vec<(PhaseName, StepState)> {
    let current = operation.phase.name();
    let path = happy_path(operation);
    let mut visited: Vec<PhaseName> = Vec::new();
    for span in &operation.phase_history {
        if visited.last() != Some(&span.phase) {
            visited.push(span.phase);
        }
    }
    if visited.iter().all(|phase| path.contains(phase)) && path.contains(&current) {
        let reached = path.iter().position(|phase| *phase == current).unwrap_or(0);
        return path
            .into_iter()
            .enumerate()
            .map(|(index, phase)| {
                let state = if index < reached || current == PhaseName::Completed {
                    StepState::Done
                } else if index == reached {
                    StepState::Current
                } else {
                    StepState::Pending
                };
                (phase, state)
            })
            .collect();
    }
    // Off the happy path: what actually happened, ending where it ended.
    let last = visited.len().saturating_sub(1);
    visited
        .into_iter()
        .enumerate()
        .map(|(index, phase)| {
            let state = match phase {
                _ if index < last => StepState::Done,
                PhaseName::RollingBack | PhaseName::RolledBack => StepState::Warning,
                PhaseName::Failed | PhaseName::Rejected | PhaseName::Cancelled | PhaseName::Expired => StepState::Ended,
                _ => StepState::Current,
            };
            (phase, state)
        })
        .collect()
}

/// The phases of a request, the current one highlighted, with each phase's time.
#[component]
pub fn PhaseProgress(
    /// The request.
    operation: Operation,
    /// Now, for the time of the current phase.
    now_ms: u64,
) -> impl IntoView {
    let terminal = operation.is_terminal();
    let items = steps(&operation)
        .into_iter()
        .map(|(phase, state)| {
            // Terminal phases have no duration of their own.
            let time = if phase.is_terminal() { None } else { time_in(&operation, phase, now_ms) };
            let time_text = match (state, time) {
                (StepState::Pending, _) | (_, None) => String::new(),
                (_, Some(ms)) => format::duration(ms),
            };
            view! {
                <li class=state.class() data-step=phase.as_str() aria-current=(state == StepState::Current).then_some("step")>
                    <span class="step-bar" aria-hidden="true"></span>
                    <span class="step-name">{phase_label(phase)}</span>
                    <span class="step-time">{time_text}</span>
                </li>
            }
        })
        .collect_view();
    let end_ms =
        if terminal { operation.phase_history.last().map(|span| span.started_at_ms).unwrap_or(now_ms) } else { now_ms };
    let total = format::duration(end_ms.saturating_sub(operation.created_at_ms));
    let cooldown = flink_cooldown_until(&operation, now_ms).map(|until_ms| {
        let text = format!(
            "Flink's adaptive scheduler acts on the new requirements when its cooldown ends, in about {} ({}).",
            format::duration(until_ms - now_ms),
            format::time(until_ms)
        );
        view! { <p class="progress-note" data-test="flink-cooldown">{text}</p> }
    });
    let not_yet = matches!(operation.phase.name(), PhaseName::AwaitingApproval | PhaseName::Approved);
    let not_before =
        operation.not_before_ms.filter(|not_before_ms| not_yet && *not_before_ms > now_ms).map(|until_ms| {
            let text = format!(
                "Starts not before {} (in about {}), however early it is approved.",
                format::time(until_ms),
                format::duration(until_ms - now_ms)
            );
            view! { <p class="progress-note" data-test="not-before">{text}</p> }
        });
    view! {
        <div class="progress-wrap">
            <ol class="progress" aria-label="Progress by phase">{items}</ol>
            {not_before}
            {cooldown}
            <p class="progress-total muted small">
                {if terminal { format!("Took {total} from request to end.") } else { format!("{total} since requested.") }}
            </p>
        </div>
    }
}
