//! The job's deployment: its one identity across resubmits, and every Flink job id it has had.

use leptos::prelude::*;
use rescaler_shared::deployment::Deployment;

use crate::format::{self, short_id};

/// The Flink job ids of the deployment, oldest first, the current one marked.
#[component]
pub fn LineagePanel(
    /// The deployment the shown job belongs to.
    deployment: Deployment,
) -> impl IntoView {
    let cluster_id = deployment.cluster_id.clone();
    let current = deployment.current_job_id.clone();
    let rows = deployment
        .lineage
        .into_iter()
        .map(|entry| {
            let is_current = entry.job_id == current;
            let href = rescaler_shared::console_path::job(&cluster_id, &entry.job_id);
            let origin = match &entry.operation_id {
                Some(operation_id) => view! {
                    <a href=format!("/rescales/{operation_id}")>{format!("resubmitted by request #{}", short_id(operation_id))}</a>
                }
                .into_any(),
                None => view! { <span>"first managed"</span> }.into_any(),
            };
            view! {
                <li data-lineage-job-id=entry.job_id.clone() data-current=is_current.to_string()>
                    <a class="mono" href=href>{entry.job_id.clone()}</a>
                    {is_current.then(|| view! { <span class="pill tone-good">"current"</span> })}
                    " · " {origin} " · " {format::time(entry.since_ms)}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="lineage-title">
            <h2 id="lineage-title">"Flink job ids of this job"</h2>
            <p class="hint">"A savepoint rescale resubmits the job under a new Flink job id; its requests and savepoints stay together here."</p>
            <ol id="deployment-lineage">{rows}</ol>
        </section>
    }
}
