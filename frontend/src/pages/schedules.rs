//! Recurring schedules: the list, newest first, and the form that proposes one (for requesters);
//! one schedule's page is `schedules/detail.rs`.

pub mod detail;
mod form;

use leptos::prelude::*;
use rescaler_shared::access::Role;
use rescaler_shared::recurring::{RecurringSchedule, ScheduleState};

use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format::{self, short_id};
use crate::session::use_session;

/// `/schedules`.
#[component]
pub fn SchedulesPage() -> impl IntoView {
    let session = use_session();
    let schedules = Fetch::new(move || session.client().schedules());
    let may_request = move || session.me.with(|me| me.as_ref().and_then(|me| me.max_role()) >= Some(Role::Requester));
    let proposing = RwSignal::new(false);
    view! {
        <div class="page-head">
            <h1>"Schedules"</h1>
            <button type="button" class="button" on:click=move |_| schedules.refetch()>"Refresh"</button>
            <Show when=move || may_request() && !proposing.get()>
                <button type="button" id="propose-schedule" class="button button-primary" on:click=move |_| proposing.set(true)>
                    "Propose a schedule"
                </button>
            </Show>
        </div>
        <p class="muted">"A schedule is approved once; each occurrence is its own rescale request, with its own approval record, pre-flight and rollback."</p>
        <Show when=move || proposing.get()>
            <form::ScheduleForm on_done=Callback::new(move |_| proposing.set(false))/>
        </Show>
        {move || loaded(schedules.get(), "schedules", |schedules| {
            if schedules.is_empty() {
                return view! { <p class="empty" id="schedules-empty">"No schedule yet."</p> }.into_any();
            }
            let rows = schedules.into_iter().map(schedule_row).collect_view();
            view! {
                <div class="table-wrap">
                    <table class="table" id="schedules-table">
                        <thead>
                            <tr>
                                <th scope="col">"Schedule"</th>
                                <th scope="col">"Job"</th>
                                <th scope="col">"Steps"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Requested"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        })}
    }
}

fn schedule_row(schedule: RecurringSchedule) -> impl IntoView {
    let job =
        if schedule.job_name.is_empty() { short_id(&schedule.job_id).to_owned() } else { schedule.job_name.clone() };
    let steps: Vec<String> = schedule.steps.iter().map(|step| step.describe()).collect();
    view! {
        <tr>
            <td><a href=format!("/schedules/{}", schedule.id)>{format!("#{}", short_id(&schedule.id))}</a></td>
            <td>{job}<span class="cell-sub mono">{schedule.cluster_id.clone()}</span></td>
            <td>{steps.join("; ")}</td>
            <td><StateBadge state=schedule.state/></td>
            <td>{format!("{} · {}", schedule.requested_by, format::time(schedule.created_at_ms))}</td>
        </tr>
    }
}

/// A schedule's state as a pill.
#[component]
pub fn StateBadge(
    /// The state to show.
    state: ScheduleState,
) -> impl IntoView {
    let tone = match state {
        ScheduleState::AwaitingApproval => "waiting",
        ScheduleState::Active => "good",
        ScheduleState::Rejected => "bad",
        ScheduleState::Cancelled | ScheduleState::Expired => "neutral",
    };
    view! { <span class=format!("pill tone-{tone}") data-state=state.as_str()>{state.as_str()}</span> }
}
