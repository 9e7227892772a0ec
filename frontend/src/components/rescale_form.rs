//! The rescale form: a uniform or per-vertex target, a strategy with what each one does, a
//! reason, and the pre-flight check run live against the job as it is now.

mod autoscaling;
mod not_before;
pub(crate) mod preflight_result;
mod strategy_choice;
mod target_picker;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
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

/// The form to request a rescale of one job.
#[component]
pub fn RescaleForm(
    /// The job, its limits and the strategies possible now.
    detail: JobDetailResponse,
) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
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

    let blocker = move || {
        if !check.with(|check| check.passed()) {
            Some("The pre-flight check must pass first.")
        } else if reason.with(|reason| reason.trim().is_empty()) {
            Some("Say why this rescale is needed.")
        } else if not_before.with(|text| not_before_ms(text).is_err()) {
            Some("Give the not-before as a date and time (UTC), or leave it empty.")
        } else {
            None
        }
    };
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
        submit(session, request, submitting, submit_failure, navigate.clone());
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

/// The strategies as radio choices.
fn strategy_options(
    strategies: Vec<rescaler_shared::api::StrategyOption>,
    selected: RwSignal<Strategy>,
    msf: bool,
) -> impl IntoView {
    strategies.into_iter().map(|option| view! { <StrategyChoice option=option selected=selected msf=msf/> }).collect_view()
}

/// Sends the request; on success opens it, if the user is still on the form's page.
fn submit(
    session: Session,
    request: CreateRescale,
    submitting: RwSignal<bool>,
    submit_failure: RwSignal<Option<ApiFailure>>,
    navigate: impl Fn(&str, NavigateOptions) + 'static,
) {
    submitting.set(true);
    submit_failure.set(None);
    spawn_local(async move {
        match session.client().create_rescale(&request).await {
            Ok(operation) => {
                session.inbox_version.update(|version| *version += 1);
                // Only if the user is still on the form's page.
                if submitting.try_set(false).is_none() {
                    navigate(&rescaler_shared::console_path::request(&operation.id), Default::default());
                }
            }
            Err(failure) => {
                submit_failure.try_set(Some(failure));
                submitting.try_set(false);
            }
        }
    });
}
