//! The live pre-flight check: run again after every change of target or strategy, its answer
//! shown under the form.

use std::collections::BTreeMap;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::{CreateRescale, PreflightResponse};
use rescaler_shared::downtime;
use rescaler_shared::operation::{OutagePrediction, ResolvedStrategy, Strategy, Target};

use crate::api::ApiFailure;
use crate::components::error_notice::{ErrorNotice, capitalize};
use crate::session::Session;

/// Pause after the last edit before the pre-flight call.
const PREFLIGHT_DEBOUNCE_MS: u32 = 300;

/// Where the live pre-flight check stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The inputs do not make a target yet.
    Incomplete(String),
    Checking,
    Answered(Result<PreflightResponse, ApiFailure>),
}

impl Check {
    /// The check passed.
    pub fn passed(&self) -> bool {
        matches!(self, Check::Answered(Ok(answer)) if answer.ok)
    }

    /// The `data-state` of the result, for styles and tests.
    fn state(&self) -> &'static str {
        match self {
            Check::Incomplete(_) => "incomplete",
            Check::Checking => "checking",
            Check::Answered(Ok(answer)) if answer.ok => "ok",
            Check::Answered(Ok(_)) => "failed",
            Check::Answered(Err(_)) => "error",
        }
    }
}

/// Checks `target` with `strategy` on the job whenever either changes, after a short pause;
/// only the answer to the latest inputs is kept.
pub fn live_preflight(
    session: Session,
    cluster_id: String,
    job_id: String,
    target: impl Fn() -> Result<Target, String> + 'static,
    strategy: RwSignal<Strategy>,
    autoscaling: RwSignal<Option<rescaler_shared::flink::msf::AutoscalingChoice>>,
) -> RwSignal<Check> {
    let check = RwSignal::new(Check::Checking);
    let sequence = StoredValue::new(0_u32);
    Effect::new(move |_| {
        let target = target();
        let strategy = strategy.get();
        let autoscaling = autoscaling.get();
        sequence.update_value(|value| *value += 1);
        let this_check = sequence.get_value();
        let target = match target {
            Ok(target) => target,
            Err(message) => {
                check.set(Check::Incomplete(message));
                return;
            }
        };
        check.set(Check::Checking);
        let request = CreateRescale {
            cluster_id: cluster_id.clone(),
            job_id: job_id.clone(),
            target,
            strategy,
            reason: String::new(),
            not_before_ms: None,
            autoscaling,
        };
        spawn_local(async move {
            TimeoutFuture::new(PREFLIGHT_DEBOUNCE_MS).await;
            if sequence.try_get_value() != Some(this_check) {
                return;
            }
            let answer = session.client().preflight(&request).await;
            if sequence.try_get_value() == Some(this_check) {
                check.try_set(Check::Answered(answer));
            }
        });
    });
    check
}

/// The pre-flight answer: the plan when it passed, the reasons when it failed.
#[component]
pub fn PreflightResult(
    /// The check to show.
    check: RwSignal<Check>,
    /// Vertex names by id, for the plan.
    vertex_names: BTreeMap<String, String>,
) -> impl IntoView {
    view! {
        <div id="preflight-result" class="preflight" aria-live="polite" data-state=move || check.with(Check::state)>
            {move || preflight_view(check.get(), &vertex_names)}
        </div>
    }
}

fn preflight_view(check: Check, vertex_names: &BTreeMap<String, String>) -> AnyView {
    match check {
        Check::Incomplete(message) => view! { <p class="preflight-line muted">{message}</p> }.into_any(),
        Check::Checking => {
            view! { <p class="preflight-line muted">"Checking against the job as it is now…"</p> }.into_any()
        }
        Check::Answered(Err(failure)) => view! { <ErrorNotice failure=failure context="Pre-flight check"/> }.into_any(),
        Check::Answered(Ok(answer)) if answer.ok => {
            let planned = answer.plan.as_ref().map(|plan| plan.strategy);
            let downtime = downtime_view(answer.downtime, planned);
            let rows = answer.plan.map(|plan| {
                let strategy = plan.strategy.as_str().replace('_', " ");
                let rows = plan
                    .original
                    .iter()
                    .map(|(vertex_id, before)| {
                        let after = plan.target.get(vertex_id).copied().unwrap_or(*before);
                        let name = vertex_names.get(vertex_id).cloned().unwrap_or_else(|| vertex_id.clone());
                        view! {
                            <li class:changed=after != *before>
                                {name}": "<span class="mono">{format!("{before} → {after}")}</span>
                            </li>
                        }
                    })
                    .collect_view();
                let pacing = plan.rescale_pacing.map(|pacing| {
                    let now_ms = web_sys::js_sys::Date::now() as u64;
                    let text = capitalize(&pacing.describe(plan.cooldown_ends_at_ms, now_ms));
                    view! { <p class="preflight-line muted" data-test="flink-acts">{format!("{text}.")}</p> }
                });
                let savepoint = plan.savepoint_directory.map(|directory| {
                    view! {
                        <p class="preflight-line">"Savepoint to "<code class="break" data-test="savepoint-directory">{directory}</code></p>
                    }
                });
                view! {
                    <p class="preflight-line">{format!("Plan: {strategy} strategy.")}</p>
                    <ul class="plan">{rows}</ul>
                    {savepoint}
                    {pacing}
                }
            });
            view! {
                <div class="preflight-ok">
                    <p class="preflight-head"><span class="check-mark" aria-hidden="true">"✓"</span>" Pre-flight passed"</p>
                    {rows}
                    {downtime}
                </div>
            }
            .into_any()
        }
        Check::Answered(Ok(answer)) => {
            let failures = answer
                .failures
                .into_iter()
                .map(|failure| view! { <li data-code=failure.code>{capitalize(&failure.message)}</li> })
                .collect_view();
            view! {
                <div class="preflight-failed">
                    <p class="preflight-head"><span class="cross-mark" aria-hidden="true">"✗"</span>" Pre-flight failed: this rescale cannot start"</p>
                    <ul>{failures}</ul>
                </div>
            }
            .into_any()
        }
    }
}

/// "Predicted downtime": one line per strategy pre-flight allows, in words from
/// [`downtime::describe`]; the plan's strategy (`planned`) is marked as the one that runs.
fn downtime_view(predictions: Vec<OutagePrediction>, planned: Option<ResolvedStrategy>) -> Option<impl IntoView> {
    if predictions.is_empty() {
        return None;
    }
    let items = predictions
        .into_iter()
        .map(|prediction| {
            let runs = Some(prediction.strategy) == planned;
            let label = prediction.strategy.as_str().replace('_', " ");
            view! {
                <li data-test="downtime-prediction" data-strategy=prediction.strategy.as_str() data-runs=runs.then_some("true")>
                    <strong>{label}</strong>
                    {runs.then_some(" (the plan: this one runs)")}
                    {format!(": {}", downtime::describe(&prediction))}
                </li>
            }
        })
        .collect_view();
    Some(view! {
        <p class="preflight-line">"Predicted downtime:"</p>
        <ul class="downtime">{items}</ul>
    })
}
