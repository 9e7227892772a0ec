//! The savepoints rescales took of one job.

use leptos::prelude::*;
use rescaler_shared::api::{SavepointRecord, SavepointStorageState};

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
                        <td>{storage_cell(savepoint.storage.as_ref())}</td>
                        <td><a href=format!("/rescales/{}", savepoint.operation_id)>{format!("#{}", short_id(&savepoint.operation_id))}</a></td>
                    </tr>
                }).collect_view();
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Taken"</th><th scope="col">"Location"</th><th scope="col">"In storage"</th><th scope="col">"Request"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            })}
        </section>
    }
}

/// Whether the savepoint is still there to restore from, as its storage said when listed.
fn storage_cell(storage: Option<&SavepointStorageState>) -> impl IntoView + use<> {
    match storage {
        Some(SavepointStorageState::Complete { .. }) => view! { <span class="pill tone-good">"complete"</span> }.into_any(),
        Some(SavepointStorageState::Missing) => {
            view! { <span class="pill tone-bad" title="its _metadata is gone: it cannot be restored from">"missing"</span> }
                .into_any()
        }
        Some(SavepointStorageState::Unreadable { reason }) => {
            view! { <span class="pill tone-warn" title=reason.clone()>"unreadable"</span> }.into_any()
        }
        None => view! { <span class="muted">"not checked"</span> }.into_any(),
    }
}
