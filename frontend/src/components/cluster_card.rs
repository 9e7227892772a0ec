//! One cluster: version, slots, approvals needed, and its jobs.

use leptos::prelude::*;
use rescaler_shared::api::ClusterSummary;

use crate::components::job_row::JobRow;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::session::use_session;

/// A cluster's facts and a table of its jobs (running first; ended ones on request).
#[component]
pub fn ClusterCard(
    /// The cluster as `GET /clusters` describes it.
    cluster: ClusterSummary,
) -> impl IntoView {
    let session = use_session();
    let cluster_id = cluster.id.clone();
    let jobs = Fetch::new(move || session.client().jobs(&cluster_id));
    let show_ended = RwSignal::new(false);
    let reachable = cluster.reachable;
    let msf = cluster.kind == rescaler_shared::api::ClusterKind::Msf;
    let facts = cluster_facts(&cluster);
    let web_ui = (reachable && !msf).then(|| web_ui_warning(&cluster));
    let id = cluster.id.clone();
    view! {
        <section class="panel cluster" data-cluster-id=cluster.id.clone() aria-labelledby=format!("cluster-{}", cluster.id)>
            <div class="panel-head">
                <h2 id=format!("cluster-{}", cluster.id)>
                    {cluster.name.clone()}
                    <span class="cell-sub mono">{cluster.id.clone()}</span>
                </h2>
                <span class=if reachable { "pill tone-good" } else { "pill tone-bad" }>{if reachable { "reachable" } else { "unreachable" }}</span>
            </div>
            <p class=if reachable { "muted" } else { "error" }>{facts}</p>
            {web_ui}
            {move || {
                let id = id.clone();
                loaded(jobs.get(), "jobs", move |jobs| {
                    if jobs.is_empty() {
                        return view! { <p class="empty">"No jobs on this cluster."</p> }.into_any();
                    }
                    // A job a rescale resubmitted under a new id is shown once, as its current job.
                    let jobs = jobs.into_iter().filter(|job| job.superseded_by.is_none());
                    let (live, ended): (Vec<_>, Vec<_>) = jobs.partition(|job| !job.status.is_terminal());
                    let ended_count = ended.len();
                    let live_rows = live.into_iter().map(|job| view! { <JobRow cluster_id=id.clone() job=job/> }).collect_view();
                    let ended_rows = ended.into_iter().map(|job| view! { <JobRow cluster_id=id.clone() job=job/> }).collect_view();
                    view! {
                        <div class="table-wrap">
                            <table class="table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Job"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">{if msf { "Parallelism" } else { "Parallelism per vertex" }}</th>
                                        <th scope="col">{if msf { "Runtime" } else { "Scheduler" }}</th>
                                        <th scope="col" class="num">"Busy"</th>
                                        <th scope="col" class="num">"Back-pressure"</th>
                                        <th scope="col">"Rescale"</th>
                                    </tr>
                                </thead>
                                <tbody>{live_rows}</tbody>
                                <tbody hidden=move || !show_ended.get()>{ended_rows}</tbody>
                            </table>
                        </div>
                        {(ended_count > 0).then(|| view! {
                            <button type="button" class="button button-quiet" aria-expanded=move || show_ended.get().to_string()
                                on:click=move |_| show_ended.update(|shown| *shown = !*shown)>
                                {move || if show_ended.get() { format!("Hide {ended_count} ended jobs") } else { format!("Show {ended_count} ended jobs") }}
                            </button>
                        })}
                    }.into_any()
                })
            }}
        </section>
    }
}

/// What Flink's own Web UI lets people do to jobs without approval, if anything.
fn web_ui_warning(cluster: &ClusterSummary) -> Option<AnyView> {
    let Some(web_ui) = cluster.web_ui else {
        return Some(
            view! { <p class="muted small" data-web-ui="unknown">"What Flink's own Web UI allows could not be read."</p> }
                .into_any(),
        );
    };
    let allowed = web_ui.allowed();
    if allowed.is_empty() {
        return None;
    }
    let actions = match allowed.as_slice() {
        [one] => (*one).to_owned(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
        [] => String::new(),
    };
    let keys = allowed.iter().map(|action| format!("web.{action}.enable")).collect::<Vec<_>>().join(", ");
    Some(
        view! {
            <div class="notice notice-warn" role="status" data-web-ui=allowed.join(",")>
                {format!("Flink's own Web UI on this cluster can {actions} jobs, without approval. ")}
                "The console notices such changes, but cannot prevent them: set "
                <span class="mono">{keys}</span>
                " to false and close Flink's REST port to everything but this backend (see the deploy guide)."
            </div>
        }
        .into_any(),
    )
}

/// What the card says of the cluster: what runs it, its version, capacity and approvals; or why
/// it is unreachable.
fn cluster_facts(cluster: &ClusterSummary) -> String {
    if cluster.reachable && cluster.kind == rescaler_shared::api::ClusterKind::Msf {
        format!(
            "Amazon Managed Service for Apache Flink · Flink {} · {} approval{} per request",
            cluster.flink_version.clone().unwrap_or_else(|| "?".to_owned()),
            cluster.required_approvals,
            if cluster.required_approvals == 1 { "" } else { "s" }
        )
    } else if cluster.reachable {
        format!(
            "Flink {} · {} of {} task slots free · {} approval{} per request",
            cluster.flink_version.clone().unwrap_or_else(|| "?".to_owned()),
            cluster.slots_available,
            cluster.slots_total,
            cluster.required_approvals,
            if cluster.required_approvals == 1 { "" } else { "s" }
        )
    } else {
        format!("Unreachable: {}", cluster.error.clone().unwrap_or_default())
    }
}
