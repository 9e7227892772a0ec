//! An MSF application with autoscaling on: whether the update turns it off or keeps it.

use leptos::prelude::*;
use rescaler_shared::flink::msf::AutoscalingChoice;

/// The requester's choice about MSF's autoscaling; pre-flight asks for one while it is on.
#[component]
pub fn AutoscalingInput(
    /// The choice made, `None` until one is.
    value: RwSignal<Option<AutoscalingChoice>>,
) -> impl IntoView {
    let option = |id: &'static str, choice: AutoscalingChoice, title: &'static str, note: &'static str| {
        view! {
            <label class="choice">
                <input type="radio" name="autoscaling" id=id
                    prop:checked=move || value.get() == Some(choice)
                    on:change=move |_| value.set(Some(choice))/>
                <span class="choice-body">
                    <span class="choice-title">{title}</span>
                    <span class="choice-note">{note}</span>
                </span>
            </label>
        }
    };
    view! {
        <fieldset class="field" id="autoscaling-choice">
            <legend>"Autoscaling is on for this application"</legend>
            <div class="choices">
                {option("autoscaling-turn-off", AutoscalingChoice::TurnOff, "Turn it off in this update",
                    "The application stays at the new parallelism; MSF no longer doubles or halves it on CPU load.")}
                {option("autoscaling-keep", AutoscalingChoice::Keep, "Keep it on",
                    "The new parallelism becomes the floor: MSF may scale above it again on CPU load.")}
            </div>
        </fieldset>
    }
}
