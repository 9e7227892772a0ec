//! One strategy as a radio choice: what it does, and why it is not possible now when it is not.

use leptos::prelude::*;
use rescaler_shared::api::StrategyOption;
use rescaler_shared::operation::Strategy;

use crate::components::error_notice::capitalize;
use crate::format::strategy_label;

/// One line on what a strategy does (on an MSF application: what MSF does).
fn explanation(strategy: Strategy, msf: bool) -> &'static str {
    if msf {
        return match strategy {
            Strategy::Auto | Strategy::Savepoint => {
                "Take a snapshot named after the request while the application runs, then update the application to the new parallelism restoring from it."
            }
            Strategy::InPlace => "MSF restarts an application from a snapshot for every parallelism change.",
        };
    }
    match strategy {
        Strategy::Auto => {
            "In place when the job can take it safely (adaptive scheduler, a completed checkpoint); otherwise with a savepoint."
        }
        Strategy::Savepoint => {
            "Stop with a savepoint, then resubmit at the new parallelism from it. Works with any scheduler; the job is down meanwhile."
        }
        Strategy::InPlace => {
            "Send new resource requirements to the adaptive scheduler; the job restarts from its latest checkpoint, no resubmit."
        }
    }
}

/// A strategy the user can pick, disabled when not possible for the job now.
#[component]
pub fn StrategyChoice(
    /// The strategy and whether it is possible, with the reasons when not.
    option: StrategyOption,
    /// The strategy picked.
    selected: RwSignal<Strategy>,
    /// The job is an MSF application.
    msf: bool,
) -> impl IntoView {
    let strategy = option.strategy;
    let id = format!("strategy-{}", strategy.as_str().replace('_', "-"));
    let note_id = format!("{id}-note");
    let unavailable = (!option.possible).then(|| {
        let reasons = option.reasons.iter().map(|reason| capitalize(reason)).collect::<Vec<_>>().join(" ");
        view! { <span class="choice-unavailable">{format!("Not possible for this job now. {reasons}")}</span> }
    });
    view! {
        <label class="choice" class:choice-disabled=!option.possible>
            <input type="radio" name="strategy" id=id value=strategy.as_str()
                disabled=!option.possible
                aria-describedby=note_id.clone()
                prop:checked=move || selected.get() == strategy
                on:change=move |_| selected.set(strategy)/>
            <span class="choice-body">
                <span class="choice-title">{strategy_label(strategy)}</span>
                <span class="choice-note" id=note_id>{explanation(strategy, msf)}</span>
                {unavailable}
            </span>
        </label>
    }
}
