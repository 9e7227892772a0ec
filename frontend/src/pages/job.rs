//! A job: its vertices and load, the rescale form with live pre-flight, its requests and
//! savepoints.

mod job_head;
mod job_savepoints;
mod lineage_panel;
mod msf_panel;
mod not_running_notice;
mod out_of_band_notice;
mod vertices_panel;

use leptos::prelude::*;
use rescaler_shared::access::Role;
use rescaler_shared::api::{JobDetailResponse, SavepointRecord};
use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::Operation;

use crate::api::RescaleFilter;
use crate::components::job_charts::JobCharts;
use crate::components::loaded::loaded;
use crate::components::operations_table::OperationsTable;
use crate::components::recommendation_panel::RecommendationPanel;
use crate::components::rescale_form::{Prefill, RescaleForm};
use crate::fetch::Fetch;
use crate::format::short_id;
use crate::metrics::MetricsFeed;
use crate::router::use_router;
use crate::session::use_session;
use job_head::JobHead;
use job_savepoints::JobSavepoints;
use lineage_panel::LineagePanel;
use msf_panel::MsfPanel;
use not_running_notice::NotRunningNotice;
use out_of_band_notice::OutOfBandNotice;
use vertices_panel::VerticesPanel;

/// `/clusters/:cluster/jobs/:job`: the page for one job; built again when the address names
/// another job.
#[component]
pub fn JobPage(cluster_id: String, job_id: String) -> impl IntoView {
    let session = use_session();
    let (detail_cluster, detail_job) = (cluster_id.clone(), job_id.clone());
    let detail = Fetch::new(move || session.client().job(&detail_cluster, &detail_job));
    // The job's deployment, once known: its requests are those of every job id it has had.
    let deployment_id = Memo::new(move |_| {
        detail.get().and_then(Result::ok).and_then(|detail| detail.deployment).map(|deployment| deployment.id)
    });
    follow_to_current_job(detail, cluster_id.clone(), job_id.clone());
    let (ops_cluster, ops_job) = (cluster_id.clone(), job_id.clone());
    let operations = Fetch::new(move || {
        let deployment = deployment_id.get();
        let filter = RescaleFilter {
            cluster: Some(ops_cluster.clone()),
            job: deployment.is_none().then(|| ops_job.clone()),
            deployment,
            ..RescaleFilter::default()
        };
        session.client().rescales(&filter)
    });
    let (sp_cluster, sp_job) = (cluster_id.clone(), job_id.clone());
    let savepoints = Fetch::new(move || session.client().savepoints(&sp_cluster, &sp_job));
    let feed = MetricsFeed::start(session, cluster_id.clone(), job_id.clone());
    // What the recommendation's button fills the rescale form with.
    let prefill = RwSignal::new(None::<Prefill>);
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
            loaded(detail.get(), "the job", move |detail| job_body(detail, cluster_id, feed, prefill, operations, savepoints))
        }}
    }
}

/// An earlier Flink job id of a deployment shows the job as it runs now: the page moves on to
/// the deployment's current job id.
fn follow_to_current_job(detail: Fetch<JobDetailResponse>, cluster_id: String, job_id: String) {
    let router = use_router();
    Effect::new(move |_| {
        let current = detail.get().and_then(Result::ok).and_then(|detail| detail.deployment).map(|d| d.current_job_id);
        if let Some(current) = current.filter(|current| *current != job_id) {
            router.navigate(&rescaler_shared::console_path::job(&cluster_id, &current), true);
        }
    });
}

/// The page once the job is loaded.
fn job_body(
    detail: JobDetailResponse,
    cluster_id: String,
    feed: MetricsFeed,
    prefill: RwSignal<Option<Prefill>>,
    operations: Fetch<Vec<Operation>>,
    savepoints: Fetch<Vec<SavepointRecord>>,
) -> impl IntoView {
    let session = use_session();
    let job = detail.job.clone();
    let running = job.status == JobStatus::Running;
    let vertices: Vec<(String, String)> =
        job.vertices.iter().map(|vertex| (vertex.id.clone(), vertex.name.clone())).collect();
    let active = detail.active_operation.clone().map(active_notice);
    let out_of_band = detail.deployment.clone().and_then(|deployment| {
        let out_of_band = deployment.out_of_band.clone()?;
        Some(view! { <OutOfBandNotice deployment=deployment out_of_band=out_of_band/> })
    });
    let not_running = (!running).then(|| {
        view! { <NotRunningNotice cluster_id=cluster_id.clone() job_id=job.id.clone() status=job.status operations=operations/> }
    });
    let can_request = session.can(&cluster_id, Role::Requester);
    let form_shown = running && detail.active_operation.is_none();
    let form = form_shown.then(|| request_form(detail.clone(), can_request, prefill));
    let recommendation = view! {
        <RecommendationPanel cluster_id=cluster_id.clone() job_id=job.id.clone() can_fill=form_shown && can_request prefill=prefill/>
    };

    view! {
        <JobHead job=job.clone() link=detail.link.clone()/>
        {detail.deployment.clone().filter(|deployment| deployment.lineage.len() > 1).map(|deployment| view! { <LineagePanel deployment=deployment/> })}
        {out_of_band}
        {active}
        {not_running}
        {match job.application.clone() {
            // An MSF application shows MSF's facts; its metrics are in CloudWatch.
            Some(application) => view! { <MsfPanel application=application/> }.into_any(),
            None => view! {
                <VerticesPanel vertices=job.vertices.clone() limits=detail.limits.clone() feed=feed/>
                {running.then(|| view! { <JobCharts feed=feed vertices=vertices.clone()/> })}
            }.into_any(),
        }}
        {recommendation}
        {form}
        <section class="panel" aria-labelledby="job-requests-title">
            <h2 id="job-requests-title">"Rescale requests for this job"</h2>
            {move || loaded(operations.get(), "requests", |operations| view! {
                <OperationsTable operations=operations empty="No rescale was requested for this job."/>
            })}
        </section>
        <JobSavepoints savepoints=savepoints/>
    }
}

/// The job's open request, which a new one must wait for.
fn active_notice(operation_id: String) -> impl IntoView {
    view! {
        <div class="notice notice-info" role="status">
            "A rescale request for this job is open: "
            <a id="active-operation-link" href=format!("/rescales/{operation_id}")>{format!("request #{}", short_id(&operation_id))}</a>
            ". A new one can be made once it ends."
        </div>
    }
}

/// The rescale form, or why the user may not request one.
fn request_form(detail: JobDetailResponse, can_request: bool, prefill: RwSignal<Option<Prefill>>) -> AnyView {
    if can_request {
        return view! { <RescaleForm detail=detail prefill=prefill/> }.into_any();
    }
    view! {
        <section class="panel"><h2>"Request a rescale"</h2>
            <p class="empty">"Your role on this cluster does not allow requesting rescales."</p>
        </section>
    }
    .into_any()
}
