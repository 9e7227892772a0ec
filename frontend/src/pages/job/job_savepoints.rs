//! The savepoints rescales took of one job.

use leptos::prelude::*;
use rescaler_shared::api::SavepointRecord;

use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format::{self, short_id};

/// The job's savepoints panel, newest first as the API answers them.
#[component]
pub fn JobSavepoints(
    /// The job's savepoint catalog.
    savepoints: Fetch<Vec<SavepointRecord>>,
) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="job-savepoints-title">
            <h2 id="job-savepoints-title">"Savepoints taken by rescales"</h2>
            {move || loaded(savepoints.get(), "savepoints", |savepoints| {
                if savepoints.is_empty() {
                    return view! { <p class="empty">"No savepoint was taken of this job by a rescale."</p> }.into_any();
                }
                let rows = savepoints.into_iter().map(|savepoint| view! {
                    <tr>
                        <td>{format::time(savepoint.taken_at_ms)}</td>
                        <td class="mono break">{savepoint.location}</td>
                        <td><a href=format!("/rescales/{}", savepoint.operation_id)>{format!("#{}", short_id(&savepoint.operation_id))}</a></td>
                    </tr>
                }).collect_view();
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Taken"</th><th scope="col">"Location"</th><th scope="col">"Request"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            })}
        </section>
    }
}
