//! One schedule: its steps, state and approvals, the buttons the schedule rule allows
//! (`user_action::schedule_refusal`), its occurrences with their requests, and its events.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::recurring::RecurringSchedule;
use rescaler_shared::user_action::{ScheduleAction, schedule_refusal};

use super::StateBadge;
use crate::api::ApiFailure;
use crate::components::error_notice::ErrorNotice;
use crate::components::events_timeline::EventsTimeline;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format::{self, now_ms, short_id};
use crate::session::use_session;

/// `/schedules/:id`; built again when the address names another schedule.
#[component]
pub fn SchedulePage(id: String) -> impl IntoView {
    let session = use_session();
    let schedule = Fetch::new(move || session.client().schedule(&id));
    move || loaded(schedule.get(), "the schedule", move |shown| view! { <ScheduleView shown=shown reload=schedule/> })
}

#[component]
fn ScheduleView(shown: RecurringSchedule, reload: Fetch<RecurringSchedule>) -> impl IntoView {
    let steps = shown
        .steps
        .iter()
        .map(|step| view! { <li>{format!("{} ({} strategy)", step.describe(), step.strategy.as_str())}</li> });
    let approvals = if shown.approvals.is_empty() { "none yet".to_owned() } else { shown.describe_approvals() };
    let occurrences = shown.occurrences.iter().rev().map(|occurrence| {
        let outcome = match (&occurrence.operation_id, &occurrence.skipped) {
            (Some(id), _) => {
                view! { <a href=format!("/rescales/{id}")>{format!("request #{}", short_id(id))}</a> }.into_any()
            }
            (None, skipped) => {
                view! { <span>{format!("skipped: {}", skipped.clone().unwrap_or_default())}</span> }.into_any()
            }
        };
        view! { <tr><td>{format::time(occurrence.at_ms)}</td><td>{occurrence.step + 1}</td><td>{outcome}</td></tr> }
    });
    let none_yet = shown.occurrences.is_empty().then(|| view! { <p class="empty">"No occurrence yet."</p> });
    let occurrences = occurrences.collect_view();
    view! {
        <div class="page-head">
            <h1>{format!("Schedule #{}", short_id(&shown.id))}</h1>
            <StateBadge state=shown.state/>
        </div>
        <section class="panel">
            <p>{format!("{} on {} ({}), requested by {} at {}: {}", shown.job_name, shown.cluster_id, short_id(&shown.job_id), shown.requested_by, format::time(shown.created_at_ms), shown.reason)}</p>
            <ol id="schedule-steps">{steps.collect_view()}</ol>
            <p id="schedule-approvals">{format!("Approvals ({} required): {approvals}", shown.required_approvals)}</p>
            <ScheduleActions shown=shown.clone() reload=reload/>
        </section>
        <section class="panel">
            <h2>"Occurrences"</h2>
            <table class="table" id="schedule-occurrences">
                <thead><tr><th scope="col">"At"</th><th scope="col">"Step"</th><th scope="col">"Outcome"</th></tr></thead>
                <tbody>{occurrences}</tbody>
            </table>
            {none_yet}
        </section>
        <section class="panel">
            <h2>"Events"</h2>
            <EventsTimeline events=shown.events/>
        </section>
    }
}

/// Approve, reject, cancel: only the ones the schedule rule allows the user now.
#[component]
fn ScheduleActions(shown: RecurringSchedule, reload: Fetch<RecurringSchedule>) -> impl IntoView {
    let session = use_session();
    let now = now_ms();
    let allowed = |action| {
        session.me.with(|me| me.as_ref().is_some_and(|me| schedule_refusal(&shown, me, action, now).is_none()))
    };
    let actions: Vec<(ScheduleAction, &str, &str)> = [
        (ScheduleAction::Approve, "Approve", "approve-schedule"),
        (ScheduleAction::Reject, "Reject", "reject-schedule"),
        (ScheduleAction::Cancel, "Cancel schedule", "cancel-schedule"),
    ]
    .into_iter()
    .filter(|(action, _, _)| allowed(*action))
    .collect();
    if actions.is_empty() {
        return view! { <p class="empty" id="no-schedule-actions">"Nothing you may do to this schedule now."</p> }
            .into_any();
    }
    let comment = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<ApiFailure>);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(shown.id.clone());
    let act = move |action: ScheduleAction| {
        busy.set(true);
        failure.set(None);
        let text = comment.get_untracked();
        spawn_local(async move {
            let answer = session.client().act_on_schedule(&id.get_value(), action, text).await;
            busy.try_set(false);
            match answer {
                Ok(_) => {
                    // The inbox's count changes with it now, not at its next poll.
                    session.inbox_version.update(|version| *version += 1);
                    reload.refetch();
                }
                Err(error) => drop(failure.try_set(Some(error))),
            }
        });
    };
    let buttons = actions.into_iter().map(|(action, label, element_id)| {
        view! { <button type="button" id=element_id class="button" disabled=busy on:click=move |_| act(action)>{label}</button> }
    });
    view! {
        <div class="actions">
            <div class="field">
                <label for="schedule-comment">"Comment"</label>
                <textarea id="schedule-comment" class="input" rows="2" maxlength="2000" bind:value=comment></textarea>
            </div>
            {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Acting on the schedule"/> })}
            <div class="form-actions">{buttons.collect_view()}</div>
        </div>
    }
    .into_any()
}
