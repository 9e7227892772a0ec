//! The rescale form: a uniform or per-vertex target, a strategy with what each one does, a
//! reason, and the pre-flight check run live against the job as it is now.

mod autoscaling;
mod not_before;
pub(crate) mod preflight_result;
mod strategy_choice;
mod target_picker;

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::{CreateRescale, JobDetailResponse};
use rescaler_shared::flink::msf::AutoscalingChoice;
use rescaler_shared::operation::Strategy;

use crate::api::ApiFailure;
use crate::components::error_notice::ErrorNotice;
use crate::session::{Session, use_session};
use autoscaling::AutoscalingInput;
use not_before::{NotBeforeInput, not_before_ms};
use preflight_result::{PreflightResult, live_preflight};
use strategy_choice::StrategyChoice;
use target_picker::{TargetInputs, TargetPicker};

/// Per-vertex targets (by vertex id) and a reason to fill the form with, as a recommendation
/// proposes them. The form applies each value set, and the user still edits and submits it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefill {
    pub targets: BTreeMap<String, u32>,
    pub reason: String,
}

/// The form to request a rescale of one job.
#[component]
pub fn RescaleForm(
    /// The job, its limits and the strategies possible now.
    detail: JobDetailResponse,
    /// Set to fill the form in (and bring it into view).
    #[prop(optional)]
    prefill: Option<RwSignal<Option<Prefill>>>,
) -> impl IntoView {
    let session = use_session();
    let router = crate::router::use_router();
    let JobDetailResponse { cluster_id, job, limits, strategies, .. } = detail;
    let inputs = TargetInputs::new(&limits);
    let default_strategy =
        strategies.iter().find(|option| option.possible).map(|option| option.strategy).unwrap_or(Strategy::Auto);
    let strategy = RwSignal::new(default_strategy);
    let reason = RwSignal::new(String::new());
    let not_before = RwSignal::new(String::new());
    let autoscaling = RwSignal::new(None::<AutoscalingChoice>);
    let asks_autoscaling = limits.kpus.as_ref().is_some_and(|kpus| kpus.autoscaling);
    let check =
        live_preflight(session, cluster_id.clone(), job.id.clone(), move || inputs.target(), strategy, autoscaling);
    let submitting = RwSignal::new(false);
    let submit_failure = RwSignal::new(None::<ApiFailure>);
    if let Some(prefill) = prefill {
        apply_prefill(prefill, inputs, reason, limits.kpus.is_some());
    }

    let blocker = move || blocker_of(check, reason, not_before);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if blocker().is_some() || submitting.get_untracked() {
            return;
        }
        let Ok(target) = inputs.target() else { return };
        let request = CreateRescale {
            cluster_id: cluster_id.clone(),
            job_id: job.id.clone(),
            target,
            strategy: strategy.get_untracked(),
            reason: reason.get_untracked().trim().to_owned(),
            not_before_ms: not_before.with_untracked(|text| not_before_ms(text).ok().flatten()),
            autoscaling: autoscaling.get_untracked(),
        };
        submit(session, request, submitting, submit_failure, router);
    };

    let vertex_names: BTreeMap<String, String> =
        limits.vertices.iter().map(|vertex| (vertex.vertex_id.clone(), vertex.vertex_name.clone())).collect();
    let strategy_options = strategy_options(strategies, strategy, job.application.is_some());

    view! {
        <form class="panel form" id="rescale-form" on:submit=on_submit aria-labelledby="rescale-title" novalidate>
            <h2 id="rescale-title">"Request a rescale"</h2>
            <TargetPicker inputs=inputs limits=limits/>
            <fieldset class="field">
                <legend>"Strategy"</legend>
                <div class="choices">{strategy_options}</div>
            </fieldset>
            <div class="field">
                <label for="rescale-reason">"Reason"</label>
                <textarea id="rescale-reason" class="input" rows="2" maxlength="2000" bind:value=reason
                    placeholder="e.g. consumer lag growing since the 09:00 traffic peak"></textarea>
            </div>
            {asks_autoscaling.then(|| view! { <AutoscalingInput value=autoscaling/> })}
            <NotBeforeInput value=not_before/>
            <PreflightResult check=check vertex_names=vertex_names/>
            {move || submit_failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Submitting the request"/> })}
            <div class="form-actions">
                <button type="submit" id="submit-rescale" class="button button-primary"
                    disabled=move || blocker().is_some() || submitting.get()>
                    {move || if submitting.get() { "Submitting…" } else { "Request rescale" }}
                </button>
                <span class="hint">{move || blocker().unwrap_or("An approver must approve it before it runs.")}</span>
            </div>
        </form>
    }
}

/// What keeps the form from being submitted now, if anything; tracked.
fn blocker_of(
    check: RwSignal<preflight_result::Check>,
    reason: RwSignal<String>,
    not_before: RwSignal<String>,
) -> Option<&'static str> {
    if !check.with(|check| check.passed()) {
        Some("The pre-flight check must pass first.")
    } else if reason.with(|reason| reason.trim().is_empty()) {
        Some("Say why this rescale is needed.")
    } else if not_before.with(|text| not_before_ms(text).is_err()) {
        Some("Give the not-before as a date and time (UTC), or leave it empty.")
    } else {
        None
    }
}

/// Fills the target and the reason whenever `prefill` is set, then shows the form with the
/// first target input focused (once the per-vertex table is no longer hidden).
fn apply_prefill(
    prefill: RwSignal<Option<Prefill>>,
    inputs: TargetInputs,
    reason: RwSignal<String>,
    uniform_only: bool,
) {
    Effect::new(move |_| {
        let Some(Prefill { targets, reason: text }) = prefill.get() else { return };
        inputs.prefill(&targets, uniform_only);
        reason.set(text);
        let first = if uniform_only { "uniform-parallelism" } else { "vertex-parallelism-0" };
        set_timeout(
            move || {
                use wasm_bindgen::JsCast;
                let document = document();
                if let Some(form) = document.get_element_by_id("rescale-form") {
                    form.scroll_into_view();
                }
                if let Some(input) = document.get_element_by_id(first) {
                    let _ = input.unchecked_into::<web_sys::HtmlElement>().focus();
                }
            },
            Duration::ZERO,
        );
    });
}

/// The strategies as radio choices.
fn strategy_options(
    strategies: Vec<rescaler_shared::api::StrategyOption>,
    selected: RwSignal<Strategy>,
    msf: bool,
) -> impl IntoView {
    strategies
        .into_iter()
        .map(|option| view! { <StrategyChoice option=option selected=selected msf=msf/> })
        .collect_view()
}

/// Sends the request; on success opens it, if the user is still on the form's page.
fn submit(
    session: Session,
    request: CreateRescale,
    submitting: RwSignal<bool>,
    submit_failure: RwSignal<Option<ApiFailure>>,
    router: crate::router::Router,
) {
    submitting.set(true);
    submit_failure.set(None);
    spawn_local(async move {
        match session.client().create_rescale(&request).await {
            Ok(operation) => {
                session.inbox_version.update(|version| *version += 1);
                // Only if the user is still on the form's page.
                if submitting.try_set(false).is_none() {
                    router.navigate(&rescaler_shared::console_path::request(&operation.id), false);
                }
            }
            Err(failure) => {
                submit_failure.try_set(Some(failure));
                submitting.try_set(false);
            }
        }
    });
}
