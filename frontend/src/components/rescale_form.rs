//! The rescale form: a uniform or per-vertex target, a strategy with what each one does, a
//! reason, and the pre-flight check run live against the job as it is now.

use std::collections::BTreeMap;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use rescaler_shared::api::{CreateRescale, JobDetailResponse, PreflightResponse, StrategyOption};
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::preflight::VertexLimit;

use crate::api::ApiFailure;
use crate::components::error_notice::{ErrorNotice, capitalize};
use crate::format::strategy_label;
use crate::session::use_session;

/// Pause after the last edit before the pre-flight call.
const PREFLIGHT_DEBOUNCE_MS: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    Uniform,
    PerVertex,
}

/// Where the live pre-flight check stands.
#[derive(Debug, Clone, PartialEq)]
enum Check {
    /// The inputs do not make a target yet.
    Incomplete(String),
    Checking,
    Answered(Result<PreflightResponse, ApiFailure>),
}

/// One line on what a strategy does.
fn explanation(strategy: Strategy) -> &'static str {
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

/// The form to request a rescale of one job.
#[component]
pub fn RescaleForm(
    /// The job, its limits and the strategies possible now.
    detail: JobDetailResponse,
) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let cluster_id = detail.cluster_id.clone();
    let job_id = detail.job.id.clone();
    let limits = detail.limits.clone();
    let current_max = limits.vertices.iter().map(|vertex| vertex.current_parallelism).max().unwrap_or(1);
    let suggested = current_max.saturating_add(1).min(limits.max_uniform_parallelism.max(1));

    let kind = RwSignal::new(TargetKind::Uniform);
    let uniform = RwSignal::new(suggested.to_string());
    let per_vertex: Vec<(VertexLimit, RwSignal<String>)> = limits
        .vertices
        .iter()
        .map(|vertex| (vertex.clone(), RwSignal::new(vertex.current_parallelism.to_string())))
        .collect();
    let per_vertex = StoredValue::new(per_vertex);
    let default_strategy =
        detail.strategies.iter().find(|option| option.possible).map(|option| option.strategy).unwrap_or(Strategy::Auto);
    let strategy = RwSignal::new(default_strategy);
    let reason = RwSignal::new(String::new());
    let check = RwSignal::new(Check::Checking);
    let submitting = RwSignal::new(false);
    let submit_failure = RwSignal::new(None::<ApiFailure>);

    // The target the inputs describe, or why they do not describe one.
    let target = move || -> Result<Target, String> {
        match kind.get() {
            TargetKind::Uniform => {
                let parallelism = uniform
                    .with(|text| text.trim().parse::<u32>())
                    .map_err(|_| "Enter the new parallelism, a whole number.".to_owned())?;
                Ok(Target::Uniform { parallelism })
            }
            TargetKind::PerVertex => {
                let mut changed = BTreeMap::new();
                for (vertex, input) in per_vertex.get_value() {
                    let parallelism = input
                        .with(|text| text.trim().parse::<u32>())
                        .map_err(|_| format!("Enter a whole number for {}.", vertex.vertex_name))?;
                    if parallelism != vertex.current_parallelism {
                        changed.insert(vertex.vertex_id.clone(), parallelism);
                    }
                }
                if changed.is_empty() {
                    return Err("Change at least one vertex's parallelism.".to_owned());
                }
                Ok(Target::PerVertex { parallelism: changed })
            }
        }
    };

    // Live pre-flight: every change of target or strategy, after a short pause; only the answer
    // to the latest inputs is shown.
    let sequence = StoredValue::new(0_u32);
    let (preflight_cluster, preflight_job) = (cluster_id.clone(), job_id.clone());
    Effect::new(move |_| {
        let target = target();
        let strategy = strategy.get();
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
            cluster_id: preflight_cluster.clone(),
            job_id: preflight_job.clone(),
            target,
            strategy,
            reason: String::new(),
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

    let preflight_ok = move || check.with(|check| matches!(check, Check::Answered(Ok(answer)) if answer.ok));
    let reason_given = move || reason.with(|reason| !reason.trim().is_empty());
    let blocker = move || {
        if !preflight_ok() {
            Some("The pre-flight check must pass first.")
        } else if !reason_given() {
            Some("Say why this rescale is needed.")
        } else {
            None
        }
    };

    let (submit_cluster, submit_job) = (cluster_id.clone(), job_id.clone());
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if blocker().is_some() || submitting.get_untracked() {
            return;
        }
        let Ok(target) = target() else { return };
        let request = CreateRescale {
            cluster_id: submit_cluster.clone(),
            job_id: submit_job.clone(),
            target,
            strategy: strategy.get_untracked(),
            reason: reason.get_untracked().trim().to_owned(),
        };
        submitting.set(true);
        submit_failure.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            match session.client().create_rescale(&request).await {
                Ok(operation) => {
                    session.inbox_version.update(|version| *version += 1);
                    // Only if the user is still on the form's page.
                    if submitting.try_set(false).is_none() {
                        navigate(&format!("/rescales/{}", operation.id), Default::default());
                    }
                }
                Err(failure) => {
                    submit_failure.try_set(Some(failure));
                    submitting.try_set(false);
                }
            }
        });
    };

    let vertex_names: BTreeMap<String, String> =
        limits.vertices.iter().map(|vertex| (vertex.vertex_id.clone(), vertex.vertex_name.clone())).collect();
    let vertex_rows = per_vertex
        .get_value()
        .into_iter()
        .enumerate()
        .map(|(index, (vertex, input))| {
            let id = format!("vertex-parallelism-{index}");
            view! {
                <tr>
                    <th scope="row"><label for=id.clone()>{vertex.vertex_name.clone()}</label></th>
                    <td class="num">{vertex.current_parallelism}</td>
                    <td>
                        <input
                            type="number"
                            id=id
                            class="input input-narrow"
                            data-vertex-id=vertex.vertex_id.clone()
                            min="1"
                            max=vertex.max_achievable_parallelism
                            bind:value=input
                        />
                    </td>
                    <td class="num muted">{vertex.max_achievable_parallelism}</td>
                </tr>
            }
        })
        .collect_view();
    let strategy_options =
        detail.strategies.iter().cloned().map(|option| strategy_choice(option, strategy)).collect_view();

    view! {
        <form class="panel form" id="rescale-form" on:submit=on_submit aria-labelledby="rescale-title" novalidate>
            <h2 id="rescale-title">"Request a rescale"</h2>
            <fieldset class="field">
                <legend>"Target"</legend>
                <div class="segmented" role="radiogroup" aria-label="Target kind">
                    <label class="segment">
                        <input type="radio" name="target-kind" id="target-kind-uniform"
                            prop:checked=move || kind.get() == TargetKind::Uniform
                            on:change=move |_| kind.set(TargetKind::Uniform)/>
                        "Same parallelism for every vertex"
                    </label>
                    <label class="segment">
                        <input type="radio" name="target-kind" id="target-kind-per-vertex"
                            prop:checked=move || kind.get() == TargetKind::PerVertex
                            on:change=move |_| kind.set(TargetKind::PerVertex)/>
                        "Per vertex"
                    </label>
                </div>
                <div class="target-uniform" hidden=move || kind.get() != TargetKind::Uniform>
                    <label for="uniform-parallelism">"New parallelism"</label>
                    <input type="number" id="uniform-parallelism" class="input input-narrow" min="1"
                        max=limits.max_uniform_parallelism bind:value=uniform aria-describedby="uniform-hint"/>
                    <p id="uniform-hint" class="hint">
                        {format!(
                            "Now {current_max}. At most {} here: {} task slots are usable (free ones plus the job's own).",
                            limits.max_uniform_parallelism, limits.slots_usable
                        )}
                    </p>
                </div>
                <div class="target-per-vertex" hidden=move || kind.get() != TargetKind::PerVertex>
                    <table class="table table-compact">
                        <thead>
                            <tr>
                                <th scope="col">"Vertex"</th>
                                <th scope="col" class="num">"Now"</th>
                                <th scope="col">"New"</th>
                                <th scope="col" class="num">"At most"</th>
                            </tr>
                        </thead>
                        <tbody>{vertex_rows}</tbody>
                    </table>
                </div>
            </fieldset>
            <fieldset class="field">
                <legend>"Strategy"</legend>
                <div class="choices">{strategy_options}</div>
            </fieldset>
            <div class="field">
                <label for="rescale-reason">"Reason"</label>
                <textarea id="rescale-reason" class="input" rows="2" maxlength="2000" bind:value=reason
                    placeholder="e.g. consumer lag growing since the 09:00 traffic peak"></textarea>
            </div>
            <div id="preflight-result" class="preflight" aria-live="polite"
                data-state=move || check.with(|check| match check {
                    Check::Incomplete(_) => "incomplete",
                    Check::Checking => "checking",
                    Check::Answered(Ok(answer)) if answer.ok => "ok",
                    Check::Answered(Ok(_)) => "failed",
                    Check::Answered(Err(_)) => "error",
                })>
                {move || preflight_view(check.get(), &vertex_names)}
            </div>
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

fn strategy_choice(option: StrategyOption, selected: RwSignal<Strategy>) -> impl IntoView {
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
                <span class="choice-note" id=note_id>{explanation(strategy)}</span>
                {unavailable}
            </span>
        </label>
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
                view! {
                    <p class="preflight-line">{format!("Plan: {strategy} strategy.")}</p>
                    <ul class="plan">{rows}</ul>
                }
            });
            view! {
                <div class="preflight-ok">
                    <p class="preflight-head"><span class="check-mark" aria-hidden="true">"✓"</span>" Pre-flight passed"</p>
                    {rows}
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
