//! One job in a cluster's table: status, parallelism per vertex, scheduler, load at a glance.

use leptos::prelude::*;
use rescaler_shared::api::JobListEntry;

use crate::api::ApiFailure;
use crate::fetch::Fetch;
use crate::format::{self, job_status_tone, short_id};
use crate::session::use_session;

/// A row of the jobs table; reads the job's detail and load when it is not ended.
#[component]
pub fn JobRow(
    /// The cluster the job runs on.
    cluster_id: String,
    /// The job as the cluster's list has it.
    job: JobListEntry,
) -> impl IntoView {
    let session = use_session();
    let live = !job.status.is_terminal();
    let (detail_cluster, detail_job) = (cluster_id.clone(), job.id.clone());
    let detail = live.then(|| Fetch::new(move || session.client().job(&detail_cluster, &detail_job)));
    let detail = move || detail.and_then(Fetch::get);
    let (load_cluster, load_job) = (cluster_id.clone(), job.id.clone());
    let load = (live && session.metrics_supported.get_untracked()).then(|| {
        Fetch::new(move || {
            let answer = session.client().metrics(&load_cluster, &load_job);
            Box::pin(async move {
                let answer = answer.await;
                if answer.as_ref().is_err_and(ApiFailure::is_missing_endpoint) {
                    session.metrics_supported.set(false);
                }
                answer
            })
        })
    });
    let peak = move |pick: fn(&rescaler_shared::api::VertexLoad) -> Option<f64>| {
        load.and_then(Fetch::get)
            .and_then(Result::ok)
            .and_then(|loads| loads.iter().filter_map(pick).filter(|value| value.is_finite()).reduce(f64::max))
    };
    let href = rescaler_shared::console_path::job(&cluster_id, &job.id);
    view! {
        <tr data-job-row=job.id.clone()>
            <td>
                <a href=href data-job-id=job.id.clone()>{job.name.clone()}</a>
                <span class="cell-sub mono">{short_id(&job.id).to_owned()}</span>
            </td>
            <td>
                <span class=format!("pill tone-{}", job_status_tone(job.status))>{job.status.label()}</span>
                {job.out_of_band.clone().map(|out_of_band| view! {
                    <span class="pill tone-warn" data-out-of-band=job.id.clone() title=out_of_band.message>"changed outside"</span>
                })}
            </td>
            <td>
                {move || match detail() {
                    Some(Ok(detail)) if let Some(application) = detail.job.application.clone() => view! {
                        <span class="chip" title="configured parallelism">{application.parallelism}</span>
                        <span class="cell-sub">{format!("{} of {} KPUs", application.kpus_in_use(), application.kpu_limit)}</span>
                    }.into_any(),
                    Some(Ok(detail)) => detail.job.vertices.iter().map(|vertex| view! {
                        <span class="chip" title=vertex.name.clone()>{vertex.parallelism}</span>
                    }).collect_view().into_any(),
                    Some(Err(failure)) => view! { <span class="error small">{failure.to_string()}</span> }.into_any(),
                    None => view! { <span class="muted">{if live { "…" } else { "–" }}</span> }.into_any(),
                }}
            </td>
            <td>{move || match detail() {
                Some(Ok(detail)) => match &detail.job.application {
                    Some(application) => format!(
                        "MSF {}, autoscaling {}",
                        application.runtime,
                        if application.autoscaling { "on" } else { "off" }
                    ),
                    None => detail.job.scheduler.label().to_owned(),
                },
                _ => "–".to_owned(),
            }}</td>
            <td class="num">{move || format::load_percent(peak(|load| load.busy_time_ms_per_second))}</td>
            <td class="num">{move || format::load_percent(peak(|load| load.backpressured_time_ms_per_second))}</td>
            <td>{move || match detail() {
                Some(Ok(detail)) => match detail.active_operation {
                    Some(id) => view! { <a href=rescaler_shared::console_path::request(&id) class="pill tone-active">"in progress"</a> }.into_any(),
                    None => view! { <span class="muted">"idle"</span> }.into_any(),
                },
                _ => view! { <span class="muted">"–"</span> }.into_any(),
            }}</td>
        </tr>
    }
}
