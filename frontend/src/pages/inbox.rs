//! The approvals inbox: requests, then recurring schedules, the user could approve now.

use leptos::prelude::*;
use rescaler_shared::downtime::seconds;
use rescaler_shared::operation::OutagePrediction;
use rescaler_shared::recurring::RecurringSchedule;

use crate::api::RescaleFilter;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format::{self, now_ms, short_id};
use crate::session::use_session;

/// `/inbox`.
#[component]
pub fn InboxPage() -> impl IntoView {
    let session = use_session();
    let operations = Fetch::new(move || {
        session.inbox_version.track();
        session.client().rescales(&RescaleFilter { awaiting_me: true, ..RescaleFilter::default() })
    });
    let schedules = Fetch::new(move || {
        session.inbox_version.track();
        session.client().schedules_awaiting_me()
    });
    let refresh = move |_| {
        operations.refetch();
        schedules.refetch();
    };
    view! {
        <div class="page-head">
            <h1>"Awaiting your approval"</h1>
            <button type="button" class="button" on:click=refresh>"Refresh"</button>
        </div>
        {move || loaded(operations.get(), "the inbox", |operations| {
            if operations.is_empty() {
                return view! { <p class="empty" id="inbox-empty">"No rescale request awaits your approval."</p> }.into_any();
            }
            let now = now_ms();
            operations.into_iter().map(|operation| {
                let job = if operation.job_name.is_empty() { short_id(&operation.job_id).to_owned() } else { operation.job_name.clone() };
                view! {
                    <article class="panel inbox-item" data-inbox-operation=operation.id.clone()>
                        <div class="panel-head">
                            <h2>
                                <a href=format!("/rescales/{}", operation.id) data-operation-id=operation.id.clone()>
                                    {format!("Rescale {job} to {}", operation.target.describe())}
                                </a>
                            </h2>
                            <span class="muted small">{format!("expires in {}", format::duration(operation.expires_at_ms.saturating_sub(now)))}</span>
                        </div>
                        <p class="quote">{operation.reason.clone()}</p>
                        <p class="meta">
                            <span>{format!("by {}", operation.requested_by)}</span>
                            <span>{format::ago(operation.created_at_ms, now)}</span>
                            <span>{format!("{} on {}", short_id(&operation.job_id), operation.cluster_id)}</span>
                            <span>{format!("{} strategy", format::operation_strategy(&operation))}</span>
                            <span>{format!("{} of {} approvals", operation.approvals.len(), operation.required_approvals)}</span>
                            {operation.predicted_outage.as_ref().map(downtime_chip)}
                        </p>
                    </article>
                }
            }).collect_view().into_any()
        })}
        {move || loaded(schedules.get(), "the schedules awaiting you", schedule_section)}
    }
}

/// The downtime the request was predicted to cause when it was filed: "downtime ≈ 0.8 s
/// (0.7 s–0.9 s)".
fn downtime_chip(prediction: &OutagePrediction) -> impl IntoView + use<> {
    let text = format!(
        "downtime ≈ {} ({}–{})",
        seconds(prediction.expected_ms),
        seconds(prediction.low_ms),
        seconds(prediction.high_ms)
    );
    view! { <span data-test="inbox-downtime">{text}</span> }
}

/// "Schedules awaiting your approval", when there are any: each links to its page.
fn schedule_section(schedules: Vec<RecurringSchedule>) -> AnyView {
    if schedules.is_empty() {
        return ().into_any();
    }
    let now = now_ms();
    let items = schedules.into_iter().map(|schedule| {
        let job = if schedule.job_name.is_empty() { short_id(&schedule.job_id).to_owned() } else { schedule.job_name.clone() };
        let steps: Vec<String> = schedule.steps.iter().map(|step| step.describe()).collect();
        view! {
            <article class="panel inbox-item" data-inbox-schedule=schedule.id.clone()>
                <div class="panel-head">
                    <h3>
                        <a href=format!("/schedules/{}", schedule.id) data-schedule-id=schedule.id.clone()>
                            {format!("Recurring rescale of {job}")}
                        </a>
                    </h3>
                    <span class="muted small">{format!("expires in {}", format::duration(schedule.expires_at_ms.saturating_sub(now)))}</span>
                </div>
                <p>{steps.join("; ")}</p>
                <p class="quote">{schedule.reason.clone()}</p>
                <p class="meta">
                    <span>{format!("by {}", schedule.requested_by)}</span>
                    <span>{format::ago(schedule.created_at_ms, now)}</span>
                    <span>{format!("{} on {}", short_id(&schedule.job_id), schedule.cluster_id)}</span>
                    <span>{format!("{} of {} approvals", schedule.approvals.len(), schedule.required_approvals)}</span>
                </p>
            </article>
        }
    });
    view! {
        <section id="inbox-schedules">
            <h2>"Schedules awaiting your approval"</h2>
            {items.collect_view()}
        </section>
    }
    .into_any()
}
