//! Savepoints taken by rescales, newest first, with the request and job they belong to.
//!
//! The API has a savepoint catalog per job only; every savepoint it holds was taken by a
//! rescale request, which records its location too, so the list is read from the requests.

use leptos::prelude::*;

use crate::api::{RescaleFilter, newest_first};
use crate::components::loaded::loaded;
use crate::components::phase_badge::PhaseBadge;
use crate::fetch::Fetch;
use crate::format::{self, short_id};
use crate::session::use_session;

/// `/savepoints`.
#[component]
pub fn SavepointsPage() -> impl IntoView {
    let session = use_session();
    let operations = Fetch::new(move || session.client().rescales(&RescaleFilter::default()));
    view! {
        <div class="page-head">
            <h1>"Savepoints"</h1>
            <button type="button" class="button" on:click=move |_| operations.refetch()>"Refresh"</button>
        </div>
        <p class="muted">"Every savepoint a rescale stopped a job with. Each one can restore its job as it was before the rescale."</p>
        {move || loaded(operations.get(), "savepoints", |operations| {
            let taken: Vec<_> = operations
                .into_iter()
                .filter_map(|operation| operation.savepoint.clone().map(|savepoint| (operation, savepoint)))
                .collect();
            let taken = newest_first(taken, |(_, savepoint)| savepoint.taken_at_ms);
            if taken.is_empty() {
                return view! { <p class="empty">"No rescale has taken a savepoint yet."</p> }.into_any();
            }
            let rows = taken.into_iter().map(|(operation, savepoint)| {
                let job = if operation.job_name.is_empty() { short_id(&operation.job_id).to_owned() } else { operation.job_name.clone() };
                view! {
                    <tr>
                        <td>{format::time(savepoint.taken_at_ms)}</td>
                        <td>
                            <a href=rescaler_shared::console_path::job(&operation.cluster_id, &operation.job_id)>{job}</a>
                            <span class="cell-sub mono">{format!("{} · {}", operation.cluster_id, short_id(&operation.job_id))}</span>
                        </td>
                        <td class="mono break">{savepoint.location}</td>
                        <td><a href=format!("/rescales/{}", operation.id)>{format!("#{}", short_id(&operation.id))}</a></td>
                        <td><PhaseBadge phase=operation.phase.name()/></td>
                    </tr>
                }
            }).collect_view();
            view! {
                <div class="table-wrap">
                    <table class="table" id="savepoints-table">
                        <thead>
                            <tr>
                                <th scope="col">"Taken"</th>
                                <th scope="col">"Job"</th>
                                <th scope="col">"Location"</th>
                                <th scope="col">"Request"</th>
                                <th scope="col">"Request phase"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        })}
    }
}
