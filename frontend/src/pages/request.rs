//! One rescale request: progress by phase with each phase's time, live while active; the
//! details, the code it resubmits the job with, the savepoint location, the actions the user
//! may take (with what approving runs), Flink's own account of an in-place rescale, the
//! notifications sent, and the events.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::downtime;
use rescaler_shared::operation::{ArtifactRef, Operation, ResolvedStrategy, Strategy};
use rescaler_shared::phase::{Phase, PhaseName};
use rescaler_shared::schedule::ScheduleHold;

use crate::api::ApiFailure;
use crate::components::code_to_run::CodeToRun;
use crate::components::error_notice::{ErrorNotice, capitalize};
use crate::components::events_timeline::EventsTimeline;
use crate::components::flink_account::FlinkAccount;
use crate::components::notifications::Notifications;
use crate::components::operation_actions::OperationActions;
use crate::components::phase_badge::PhaseBadge;
use crate::components::phase_progress::PhaseProgress;
use crate::components::schedule_note::ScheduleNote;
use crate::fetch::Fetch;
use crate::format::{self, now_ms, short_id};
use crate::session::{Session, use_session};

/// How often an active request is read again.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// `/rescales/:id`: the page for one request; built again when the address names another one.
#[component]
pub fn RequestPage(id: String) -> impl IntoView {
    let session = use_session();
    let operation = RwSignal::new(None::<Operation>);
    let failure = RwSignal::new(None::<ApiFailure>);
    let now = RwSignal::new(now_ms());
    let id = StoredValue::new(id);
    follow(session, id, operation, failure, now);

    let live = move || operation.with(|operation| operation.as_ref().map(|operation| !operation.is_terminal()));
    let permitted = Memo::new(move |_| {
        operation.with(|operation| operation.as_ref().and_then(|operation| session.permitted(operation, now.get())))
    });
    let artifact = Memo::new(move |_| {
        operation.with(|operation| operation.as_ref().and_then(|operation| operation.artifact.clone()))
    });
    let file_name = artifact_file_name(session, artifact);
    let hold = cluster_hold(session, operation);
    let event_count = Memo::new(move |_| operation.with(|operation| operation.as_ref().map_or(0, |o| o.events.len())));
    let arguments_visible = move || {
        operation
            .with(|operation| operation.as_ref().is_some_and(|operation| session.may_link_jobs(&operation.cluster_id)))
    };

    view! {
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <a href="/rescales">"Requests"</a>
            <span aria-hidden="true">" / "</span>
            <span aria-current="page" class="mono">{move || format!("#{}", short_id(&id.get_value()))}</span>
        </nav>
        {move || failure.get().map(|failure| {
            let context = if operation.with_untracked(Option::is_some) { "Refreshing the request (showing the last known state)" } else { "Loading the request" };
            view! { <ErrorNotice failure=failure context=context/> }
        })}
        {move || operation.with(Option::is_none).then(|| {
            (failure.with(Option::is_none)).then(|| view! { <p class="loading">"Loading the request…"</p> })
        })}
        <Show when=move || operation.with(Option::is_some)>
            {move || operation.get().map(|operation| request_head(&operation))}
            <section class="panel" aria-labelledby="progress-title">
                <div class="panel-head">
                    <h2 id="progress-title">"Progress"</h2>
                    {move || match live() {
                        Some(true) => view! { <span class="live" id="live-indicator"><span class="live-dot" aria-hidden="true"></span>"Live"</span> }.into_any(),
                        _ => view! { <span class="muted small">"Final"</span> }.into_any(),
                    }}
                </div>
                {move || operation.get().map(|operation| view! { <PhaseProgress operation=operation now_ms=now.get()/> })}
                {move || operation.get().zip(hold.get()).map(|(operation, hold)| view! { <ScheduleNote operation=operation hold=hold now_ms=now.get()/> })}
                {move || operation.get().and_then(|operation| outcome(&operation))}
            </section>
            <div class="columns">
                <section class="panel" aria-labelledby="details-title">
                    <h2 id="details-title">"Details"</h2>
                    {move || operation.get().map(|operation| details(&operation))}
                </section>
                <section class="panel" aria-labelledby="decision-title">
                    <h2 id="decision-title">"Decision"</h2>
                    {move || operation.with(|operation| operation.as_ref().map(approvals))}
                    {move || permitted.get().filter(|permitted| permitted.approve || permitted.break_glass).map(|_| view! {
                        <CodeToRun artifact=artifact.get() file_name=file_name arguments_visible=arguments_visible() compact=true/>
                    })}
                    {move || permitted.get().map(|permitted| view! {
                        <OperationActions operation_id=id.get_value() permitted=permitted shown=operation file_name=file_name/>
                    })}
                </section>
            </div>
            <section class="panel" aria-labelledby="code-title">
                <h2 id="code-title">"Code it runs"</h2>
                {move || view! { <CodeToRun artifact=artifact.get() file_name=file_name arguments_visible=arguments_visible()/> }}
            </section>
            {flink_account(id.get_value(), operation)}
            <Notifications operation_id=id.get_value() events=event_count/>
            <section class="panel" aria-labelledby="events-title">
                <h2 id="events-title">"Events"</h2>
                {move || operation.get().map(|operation| view! { <EventsTimeline events=operation.events/> })}
            </section>
        </Show>
    }
}

/// Flink's account, for in-place requests only: chosen, or asked for and not started yet.
fn flink_account(id: String, operation: RwSignal<Option<Operation>>) -> impl IntoView {
    let in_place = Memo::new(move |_| operation.with(|operation| operation.as_ref().is_some_and(is_in_place)));
    let phase = Memo::new(move |_| {
        operation.with(|operation| {
            operation.as_ref().map_or(PhaseName::AwaitingApproval, |operation| operation.phase.name())
        })
    });
    view! {
        <Show when=move || in_place.get()>
            <FlinkAccount operation_id=id.clone() phase=phase/>
        </Show>
    }
}

fn is_in_place(operation: &Operation) -> bool {
    match operation.strategy {
        Some(strategy) => strategy == ResolvedStrategy::InPlace,
        None => operation.requested_strategy == Strategy::InPlace,
    }
}

/// Reads the request now, then every second while it is active; `now` ticks along. Only changes
/// are written to `operation`.
fn follow(
    session: Session,
    id: StoredValue<String>,
    operation: RwSignal<Option<Operation>>,
    failure: RwSignal<Option<ApiFailure>>,
    now: RwSignal<u64>,
) {
    let in_flight = StoredValue::new(false);

    let refresh = move || {
        if in_flight.try_get_value() != Some(false) {
            return;
        }
        in_flight.set_value(true);
        let id = id.get_value();
        spawn_local(async move {
            let result = session.client().rescale(&id).await;
            in_flight.try_set_value(false);
            match result {
                Ok(fresh) => {
                    failure.try_set(None);
                    // Write only changes, so that nothing re-renders needlessly.
                    if operation.try_with_untracked(|current| current.as_ref() != Some(&fresh)) == Some(true) {
                        operation.try_set(Some(fresh));
                    }
                }
                Err(error) => {
                    failure.try_set(Some(error));
                }
            }
        });
    };
    refresh();
    let tick = move || {
        now.set(now_ms());
        let active =
            operation.with_untracked(|operation| operation.as_ref().is_some_and(|operation| !operation.is_terminal()));
        if active {
            refresh();
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }
}

/// The file name of the request's artifact, from the artifact list (read again when the request
/// takes another artifact).
/// What the schedule of the request's cluster holds a start for, from the cluster list.
fn cluster_hold(session: Session, operation: RwSignal<Option<Operation>>) -> Signal<Option<Option<ScheduleHold>>> {
    let cluster_id = Memo::new(move |_| operation.with(|operation| operation.as_ref().map(|o| o.cluster_id.clone())));
    let clusters = Fetch::new(move || session.client().clusters());
    Signal::derive(move || {
        let cluster_id = cluster_id.get()?;
        clusters.get()?.ok()?.into_iter().find(|cluster| cluster.id == cluster_id).map(|cluster| cluster.hold)
    })
}

fn artifact_file_name(session: Session, artifact: Memo<Option<ArtifactRef>>) -> Signal<Option<String>> {
    let sha256 =
        Memo::new(move |_| artifact.with(|artifact| artifact.as_ref().map(|artifact| artifact.sha256.clone())));
    let artifacts = Fetch::new(move || {
        sha256.track();
        session.client().artifacts()
    });
    Signal::derive(move || {
        let sha256 = sha256.get()?;
        let artifacts = artifacts.get()?.ok()?;
        artifacts.into_iter().find(|stored| stored.sha256 == sha256).map(|stored| stored.file_name)
    })
}

fn request_head(operation: &Operation) -> impl IntoView + use<> {
    let job =
        if operation.job_name.is_empty() { short_id(&operation.job_id).to_owned() } else { operation.job_name.clone() };
    view! {
        <div class="page-head">
            <div>
                <h1>{format!("Rescale of {job}")}</h1>
                <p class="meta">
                    <span id="operation-phase"><PhaseBadge phase=operation.phase.name()/></span>
                    <span>{operation.target.describe()}</span>
                    <span>{format!("{} strategy", format::operation_strategy(operation))}</span>
                    <span>{format!("requested by {} at {}", operation.requested_by, format::time(operation.created_at_ms))}</span>
                </p>
            </div>
        </div>
    }
}

/// How the request ended, or the savepoint it relies on, said prominently.
fn outcome(operation: &Operation) -> Option<AnyView> {
    let job_link = |label: &str| {
        let job_id = operation.current_job_id().to_owned();
        view! {
            <a id="current-job-link" class="button" href=rescaler_shared::console_path::job(&operation.cluster_id, &job_id)>
                {format!("{label} {}", short_id(&job_id))}
            </a>
        }
    };
    let savepoint = operation.savepoint.as_ref().map(|savepoint| {
        view! {
            <p class="savepoint">
                "Savepoint: "<code id="savepoint-location" class="break">{savepoint.location.clone()}</code>
            </p>
        }
    });
    match &operation.phase {
        Phase::Completed => Some(view! {
            <div class="notice notice-ok" role="status">
                <p><strong>"Completed."</strong>" The job runs at its new parallelism."</p>
                {savepoint}
                {job_link("Open job")}
            </div>
        }.into_any()),
        Phase::RolledBack { reason } => Some(view! {
            <div class="notice notice-warn" role="status">
                <p><strong>"Rolled back."</strong>" "{capitalize(reason)}</p>
                {savepoint}
                {job_link("Open job")}
            </div>
        }.into_any()),
        Phase::Failed { reason } => Some(view! {
            <div class="notice notice-error" role="alert">
                <p><strong>"Failed."</strong>" "{capitalize(reason)}</p>
                {savepoint}
            </div>
        }.into_any()),
        Phase::Rejected { by, comment } | Phase::Cancelled { by, comment } => {
            let verb = if matches!(operation.phase, Phase::Rejected { .. }) { "Rejected" } else { "Cancelled" };
            let comment = if comment.trim().is_empty() { String::new() } else { format!(": “{}”", comment.trim()) };
            Some(view! { <div class="notice notice-info" role="status"><p>{format!("{verb} by {by}{comment}")}</p></div> }.into_any())
        }
        Phase::Expired => Some(view! {
            <div class="notice notice-info" role="status"><p>"Expired: not approved within the approval window."</p></div>
        }.into_any()),
        Phase::RollingBack { reason, .. } => Some(view! {
            <div class="notice notice-warn" role="status">
                <p><strong>"Rolling back. "</strong>{capitalize(reason)}</p>
                {savepoint}
            </div>
        }.into_any()),
        _ => savepoint.map(|savepoint| view! { <div class="notice notice-info">{savepoint}</div> }.into_any()),
    }
}

fn details(operation: &Operation) -> impl IntoView + use<> {
    let parallelism_rows = operation
        .original_parallelism
        .iter()
        .map(|(vertex_id, before)| {
            let after = operation.target_parallelism.get(vertex_id).copied().unwrap_or(*before);
            view! { <li class:changed=after != *before><span class="mono">{short_id(vertex_id).to_owned()}</span>{format!(": {before} → {after}")}</li> }
        })
        .collect_view();
    let cluster = operation.cluster_id.clone();
    let job_href = |job_id: &str| rescaler_shared::console_path::job(&cluster, job_id);
    view! {
        <dl class="facts">
            <dt>"Reason"</dt>
            <dd>{operation.reason.clone()}</dd>
            {operation.schedule_id.clone().map(|schedule_id| view! {
                <dt>"Schedule"</dt>
                <dd><a href=format!("/schedules/{schedule_id}") id="schedule-link">{format!("an occurrence of schedule #{}", short_id(&schedule_id))}</a></dd>
            })}
            <dt>"Job"</dt>
            <dd><a href=job_href(&operation.job_id) class="mono">{operation.job_id.clone()}</a>{format!(" on {}", operation.cluster_id)}</dd>
            {operation.new_job_id.clone().map(|new_job| view! {
                <dt>"New job"</dt>
                <dd><a href=job_href(&new_job) class="mono" id="new-job-link">{new_job.clone()}</a></dd>
            })}
            {operation.rollback_job_id.clone().map(|rollback_job| view! {
                <dt>"Rollback job"</dt>
                <dd><a href=job_href(&rollback_job) class="mono">{rollback_job.clone()}</a></dd>
            })}
            <dt>"Target"</dt>
            <dd>{operation.target.describe()}</dd>
            {(!operation.original_parallelism.is_empty()).then(|| view! {
                <dt>"Per vertex"</dt>
                <dd><ul class="plan">{parallelism_rows}</ul></dd>
            })}
            {downtime_facts(operation)}
            <dt>"Savepoint"</dt>
            <dd class="mono break">{operation.savepoint.as_ref().map(|savepoint| savepoint.location.clone()).unwrap_or_else(|| "none yet".to_owned())}</dd>
            <dt>"Approval window"</dt>
            <dd>{format!("until {}", format::time(operation.expires_at_ms))}</dd>
            <dt>"Request id"</dt>
            <dd class="mono">{operation.id.clone()}</dd>
        </dl>
    }
}

/// The downtime predicted when the request was filed (what its approvers saw) and, once the job
/// was seen at its target, the one measured, with how far off the prediction was.
fn downtime_facts(operation: &Operation) -> impl IntoView + use<> {
    let predicted = operation.predicted_outage.as_ref().map(|prediction| {
        view! {
            <dt>"Predicted downtime"</dt>
            <dd data-test="request-predicted-downtime">{downtime::describe(prediction)}</dd>
        }
    });
    let measured = operation.outage.map(|outage| {
        let off = operation.predicted_outage.as_ref().map(|prediction| {
            format!(" (the prediction was {:.0} % off)", downtime::relative_error(prediction, &outage) * 100.0)
        });
        view! {
            <dt>"Measured downtime"</dt>
            <dd data-test="request-measured-downtime">{downtime::seconds(outage.duration_ms())}{off}</dd>
        }
    });
    (predicted, measured)
}

fn approvals(operation: &Operation) -> impl IntoView + use<> {
    let list = operation
        .approvals
        .iter()
        .map(|approval| {
            let comment = if approval.comment.trim().is_empty() {
                String::new()
            } else {
                format!(": “{}”", approval.comment.trim())
            };
            view! { <li>{format!("{} approved at {}{comment}", approval.by, format::time(approval.at_ms))}</li> }
        })
        .collect_view();
    let glass = operation.break_glass.as_ref().map(|glass| view! {
        <p class="notice notice-warn">{format!("Break-glass by {} at {}: {}", glass.by, format::time(glass.at_ms), glass.reason)}</p>
    });
    view! {
        <p id="approval-count">{format!("{} of {} approval{} given.", operation.approvals.len(), operation.required_approvals, if operation.required_approvals == 1 { "" } else { "s" })}</p>
        <ul class="approvals">{list}</ul>
        {glass}
    }
}
