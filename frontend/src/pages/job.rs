//! A job: its vertices and load, the rescale form with live pre-flight, its requests and
//! savepoints.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use rescaler_shared::access::Role;
use rescaler_shared::api::JobDetailResponse;
use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;

use crate::api::RescaleFilter;
use crate::components::job_charts::JobCharts;
use crate::components::loaded::loaded;
use crate::components::operations_table::OperationsTable;
use crate::components::rescale_form::RescaleForm;
use crate::fetch::Fetch;
use crate::format::{self, job_status_tone, short_id};
use crate::metrics::MetricsFeed;
use crate::session::use_session;

/// `/clusters/:cluster/jobs/:job`.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let ids = Memo::new(move |_| {
        params.with(|params| (params.get("cluster").unwrap_or_default(), params.get("job").unwrap_or_default()))
    });
    move || {
        let (cluster_id, job_id) = ids.get();
        view! { <JobView cluster_id=cluster_id job_id=job_id/> }
    }
}

/// The page for one job; built again when the address names another job.
#[component]
fn JobView(cluster_id: String, job_id: String) -> impl IntoView {
    let session = use_session();
    let (detail_cluster, detail_job) = (cluster_id.clone(), job_id.clone());
    let detail = Fetch::new(move || session.client().job(&detail_cluster, &detail_job));
    let (ops_cluster, ops_job) = (cluster_id.clone(), job_id.clone());
    let operations = Fetch::new(move || {
        let filter = RescaleFilter {
            cluster: Some(ops_cluster.clone()),
            job: Some(ops_job.clone()),
            ..RescaleFilter::default()
        };
        session.client().rescales(&filter)
    });
    let (sp_cluster, sp_job) = (cluster_id.clone(), job_id.clone());
    let savepoints = Fetch::new(move || session.client().savepoints(&sp_cluster, &sp_job));
    let feed = MetricsFeed::start(session, cluster_id.clone(), job_id.clone());
    let cluster_for_view = cluster_id.clone();

    view! {
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <a href="/">"Clusters"</a>
            <span aria-hidden="true">" / "</span>
            <span>{cluster_id.clone()}</span>
            <span aria-hidden="true">" / "</span>
            <span aria-current="page" class="mono">{short_id(&job_id).to_owned()}</span>
        </nav>
        {move || {
            let cluster_id = cluster_for_view.clone();
            loaded(detail.get(), "the job", move |detail| job_body(detail, cluster_id, feed, operations, savepoints))
        }}
    }
}

fn job_body(
    detail: JobDetailResponse,
    cluster_id: String,
    feed: MetricsFeed,
    operations: Fetch<Vec<Operation>>,
    savepoints: Fetch<Vec<rescaler_shared::api::SavepointRecord>>,
) -> impl IntoView {
    let session = use_session();
    let job = detail.job.clone();
    let running = job.status == JobStatus::Running;
    let can_request = session.can(&cluster_id, Role::Requester);
    let vertices: Vec<(String, String)> =
        job.vertices.iter().map(|vertex| (vertex.id.clone(), vertex.name.clone())).collect();
    let vertex_rows = job
        .vertices
        .iter()
        .map(|vertex| {
            let vertex_id = vertex.id.clone();
            let latest = move || feed.latest(&vertex_id);
            let (busy, pressure, records) = (latest.clone(), latest.clone(), latest);
            view! {
                <tr data-vertex-id=vertex.id.clone()>
                    <th scope="row">
                        {vertex.name.clone()}
                        <span class="cell-sub mono">{short_id(&vertex.id).to_owned()}</span>
                    </th>
                    <td class="num strong" data-vertex-parallelism=vertex.parallelism>{vertex.parallelism}</td>
                    <td class="num">{vertex.max_parallelism}</td>
                    <td>{vertex.status.label()}</td>
                    <td class="num">{move || format::load_percent(busy().and_then(|load| load.busy_time_ms_per_second))}</td>
                    <td class="num">{move || format::load_percent(pressure().and_then(|load| load.backpressured_time_ms_per_second))}</td>
                    <td class="num">{move || format::rate(records().and_then(|load| load.num_records_in_per_second))}</td>
                </tr>
            }
        })
        .collect_view();

    let active = detail.active_operation.clone().map(|id| {
        view! {
            <div class="notice notice-info" role="status">
                "A rescale request for this job is open: "
                <a id="active-operation-link" href=format!("/rescales/{id}")>{format!("request #{}", short_id(&id))}</a>
                ". A new one can be made once it ends."
            </div>
        }
    });
    let job_id = job.id.clone();
    let replaced_by = move || {
        operations.get().and_then(Result::ok).and_then(|operations| {
            operations.into_iter().find(|op| op.phase.name() == PhaseName::Completed && op.current_job_id() != job_id)
        })
    };
    let not_running = (!running).then(|| {
        let status = job.status.label();
        let cluster_id = cluster_id.clone();
        view! {
            <div class="notice notice-warn" role="status">
                {format!("This job is {status}; only a running job can be rescaled.")}
                {move || replaced_by().map(|op| {
                    let new_job = op.current_job_id().to_owned();
                    view! {
                        " It was rescaled into "
                        <a href=format!("/clusters/{cluster_id}/jobs/{new_job}") id="replacement-job-link">{format!("job {}", short_id(&new_job))}</a>
                        " by "<a href=format!("/rescales/{}", op.id)>{format!("request #{}", short_id(&op.id))}</a>"."
                    }
                })}
            </div>
        }
    });
    let form = if !running || detail.active_operation.is_some() {
        None
    } else if can_request {
        Some(view! { <RescaleForm detail=detail.clone()/> }.into_any())
    } else {
        Some(
            view! {
                <section class="panel"><h2>"Request a rescale"</h2>
                    <p class="empty">"Your role on this cluster does not allow requesting rescales."</p>
                </section>
            }
            .into_any(),
        )
    };
    let link = match &detail.link {
        Some(link) => format!("artifact {}", &link.artifact_sha256[..link.artifact_sha256.len().min(12)]),
        None => "no artifact linked (savepoint rescales need one)".to_owned(),
    };

    view! {
        <div class="page-head">
            <div>
                <h1 id="job-title">{job.name.clone()}</h1>
                <p class="meta">
                    <span class=format!("pill tone-{}", job_status_tone(job.status)) id="job-status">{job.status.label()}</span>
                    <span class="mono">{job.id.clone()}</span>
                    <span>{format!("{} scheduler", format::scheduler_label(job.scheduler))}</span>
                    <span>{if job.checkpointing { "checkpointing on" } else { "checkpointing off" }}</span>
                    <span>{format!("started {}", format::time(job.start_time_ms))}</span>
                    <span>{link}</span>
                </p>
            </div>
        </div>
        {active}
        {not_running}
        <section class="panel" aria-labelledby="vertices-title">
            <h2 id="vertices-title">"Vertices"</h2>
            <div class="table-wrap">
                <table class="table" id="vertices-table">
                    <thead>
                        <tr>
                            <th scope="col">"Vertex"</th>
                            <th scope="col" class="num">"Parallelism"</th>
                            <th scope="col" class="num">"Max"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col" class="num">"Busy"</th>
                            <th scope="col" class="num">"Back-pressure"</th>
                            <th scope="col" class="num">"Records in"</th>
                        </tr>
                    </thead>
                    <tbody>{vertex_rows}</tbody>
                </table>
            </div>
            <p class="muted small">{format!(
                "{} task slots usable for this job; highest uniform parallelism now {}.",
                detail.limits.slots_usable, detail.limits.max_uniform_parallelism
            )}</p>
        </section>
        {running.then(|| view! { <JobCharts feed=feed vertices=vertices/> })}
        {form}
        <section class="panel" aria-labelledby="job-requests-title">
            <h2 id="job-requests-title">"Rescale requests for this job"</h2>
            {move || loaded(operations.get(), "requests", |operations| view! {
                <OperationsTable operations=operations empty="No rescale was requested for this job."/>
            })}
        </section>
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
