//! Clusters and their jobs, live from Flink, with the pre-flight limits.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::{
    ClusterSummary, ErrorEnvelope, JobDetailResponse, JobListEntry, Me, SavepointRecord, SavepointStorageState,
    StrategyOption,
};
use rescaler_shared::flink::JobView;
use rescaler_shared::operation::Strategy;
use rescaler_shared::preflight::{self, Limits};

use super::extract::{Caller, PathParams};
use super::redact;
use super::schema::{
    BadJobId, CannotViewCluster, ClusterPath, FlinkOrStoreUnavailable, FlinkUnavailable, JobPath, NoSuchClusterOrJob,
    StoreUnavailable, Unauthenticated,
};
use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::cluster::Cluster;

/// The caller: name and role by cluster.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "clusters",
    operation_id = "me",
    responses(
        (status = 200, description = "The caller", body = Me),
        Unauthenticated,
    ),
)]
pub async fn me(Caller(identity): Caller) -> Json<Me> {
    Json(identity)
}

pub(super) fn cluster<'a>(state: &'a AppState, cluster_id: &str) -> Result<&'a dyn Cluster, ApiError> {
    let cluster =
        state.clusters.get(cluster_id).ok_or_else(|| ApiError::NotFound(format!("no cluster {cluster_id:?}")))?;
    Ok(cluster.as_ref())
}

/// The configured clusters the caller may view, with their Flink version and reachability.
#[utoipa::path(
    get,
    path = "/api/v1/clusters",
    tag = "clusters",
    operation_id = "list_clusters",
    responses(
        (status = 200, description = "The clusters; an unreachable one says why", body = Vec<ClusterSummary>),
        Unauthenticated,
    ),
)]
pub async fn list(State(state): State<AppState>, Caller(identity): Caller) -> Json<Vec<ClusterSummary>> {
    let visible = state.clusters.iter().filter(|handle| identity.can(&handle.config().id, Role::Viewer));
    let summaries = futures::future::join_all(visible.map(|handle| async {
        let config = handle.config();
        let required_approvals = config.required_approvals.unwrap_or(state.config.approvals.default_required);
        let schedule = config.schedule();
        let hold = rescaler_shared::schedule::hold_at(crate::reconcile::now_ms(), &schedule);
        let kind = match config.kind {
            crate::config::ClusterKind::Flink => rescaler_shared::api::ClusterKind::Flink,
            crate::config::ClusterKind::Msf => rescaler_shared::api::ClusterKind::Msf,
        };
        let (overview, web_ui) = futures::future::join(handle.overview(), handle.web_ui()).await;
        let web_ui = web_ui
            .inspect_err(|error| tracing::warn!(cluster.id = %config.id, %error, "jobmanager configuration unreadable"))
            .ok();
        match overview {
            Ok(view) => ClusterSummary {
                id: config.id.clone(),
                name: config.name.clone(),
                kind,
                reachable: true,
                flink_version: Some(view.flink_version),
                slots_total: view.slots_total,
                slots_available: view.slots_available,
                required_approvals,
                error: None,
                web_ui,
                schedule,
                hold,
            },
            Err(error) => ClusterSummary {
                id: config.id.clone(),
                name: config.name.clone(),
                kind,
                reachable: false,
                flink_version: None,
                slots_total: 0,
                slots_available: 0,
                required_approvals,
                error: Some(error.to_string()),
                web_ui,
                schedule,
                hold,
            },
        }
    }))
    .await;
    Json(summaries)
}

/// The jobs of a cluster, live from Flink.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs",
    tag = "clusters",
    operation_id = "list_jobs",
    params(ClusterPath),
    responses(
        (status = 200, description = "The jobs Flink knows", body = Vec<JobListEntry>),
        Unauthenticated,
        CannotViewCluster,
        (status = 404, description = "No such cluster", body = ErrorEnvelope),
        FlinkUnavailable,
    ),
)]
pub async fn jobs(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(cluster_id): PathParams<String>,
) -> Result<Json<Vec<JobListEntry>>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    let jobs = handle.jobs().await.map_err(|error| ApiError::from_cluster(&cluster_id, error))?;
    // The list comes from Flink; the store only adds which deployment a job belongs to.
    let deployments = state.records.deployments(&cluster_id).await.unwrap_or_else(|error| {
        tracing::warn!(cluster.id = %cluster_id, %error, "deployments unreadable; listing jobs without them");
        Vec::new()
    });
    let deployment_of = |job_id: &str| deployments.iter().find(|deployment| deployment.has_job(job_id));
    // A change made outside the product shows on the deployment's current job, and on the job
    // it was seen running as (a resubmit outside the product).
    let out_of_band_on = |job_id: &str| {
        deployments.iter().find_map(|deployment| {
            let out_of_band = deployment.out_of_band.as_ref()?;
            (deployment.current_job_id == job_id || out_of_band.seen.job_id == job_id).then(|| out_of_band.clone())
        })
    };
    Ok(Json(
        jobs.into_iter()
            .map(|job| {
                let deployment = deployment_of(&job.id);
                JobListEntry {
                    out_of_band: out_of_band_on(&job.id),
                    deployment_id: deployment.map(|deployment| deployment.id.clone()),
                    superseded_by: deployment
                        .filter(|deployment| deployment.current_job_id != job.id)
                        .map(|deployment| deployment.current_job_id.clone()),
                    id: job.id,
                    name: job.name,
                    status: job.status,
                    start_time_ms: job.start_time_ms,
                    application: job.application,
                }
            })
            .collect(),
    ))
}

/// Refuses a path segment that cannot be a Flink job id.
pub(super) fn check_job_id(job_id: &str) -> Result<(), ApiError> {
    if rescaler_shared::operation::is_flink_id(job_id) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("{job_id:?} is not a Flink job id (32 hex characters)")))
    }
}

/// A job as the rescale form needs it: vertices, limits, strategies possible now.
pub(super) async fn job_view(handle: &dyn Cluster, job_id: &str) -> Result<JobView, ApiError> {
    check_job_id(job_id)?;
    let job = handle.job(job_id).await.map_err(|error| ApiError::from_cluster(&handle.config().id, error))?;
    let job = job.ok_or_else(|| ApiError::NotFound(format!("no job {job_id}")))?;
    Ok(job)
}

/// A job as the rescale form needs it: vertices, limits, the strategies possible now, its link
/// to an artifact (the program arguments empty for callers who may not link jobs) and its active
/// rescale request.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs/{job}",
    tag = "clusters",
    operation_id = "get_job",
    params(JobPath),
    responses(
        (status = 200, description = "The job", body = JobDetailResponse),
        BadJobId,
        Unauthenticated,
        CannotViewCluster,
        NoSuchClusterOrJob,
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn job(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
) -> Result<Json<JobDetailResponse>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    let job = job_view(handle, &job_id).await?;
    let cluster_view = handle.overview().await.map_err(|error| ApiError::from_cluster(&cluster_id, error))?;
    // The job's program arguments only for those who may link jobs.
    let link = state.records.job_link(&cluster_id, &job_id).await?.map(|link| redact::link(link, &identity));
    let limits = Limits::of(&job, &cluster_view);
    // What each strategy would say about a rescale to one more than now (the form's default).
    let probe = rescaler_shared::operation::Target::Uniform {
        parallelism: job.parallelism_by_vertex().values().copied().max().unwrap_or(1).saturating_add(1),
    };
    let strategies = [Strategy::Auto, Strategy::Savepoint, Strategy::InPlace]
        .into_iter()
        .map(|strategy| {
            let result = preflight::check(
                &probe,
                strategy,
                &job,
                &cluster_view,
                handle.config().savepoint_dir.as_deref(),
                link.is_some(),
                // An application's autoscaling is a choice the form asks for; not a reason
                // a strategy is impossible.
                Some(rescaler_shared::flink::msf::AutoscalingChoice::Keep),
            );
            let reasons: Vec<String> = match result {
                Ok(_) => Vec::new(),
                Err(failures) => failures
                    .into_iter()
                    .filter(|f| {
                        f.code != preflight::failure_code::NOT_ENOUGH_SLOTS
                            && f.code != preflight::failure_code::PARALLELISM_OUT_OF_RANGE
                    })
                    .map(|f| f.message)
                    .collect(),
            };
            StrategyOption { strategy, possible: reasons.is_empty(), reasons }
        })
        .collect();
    let deployment = state.records.deployment_of_job(&cluster_id, &job_id).await?;
    let managed_job_id = deployment.as_ref().map_or(job_id.as_str(), |deployment| deployment.id.as_str());
    let active_operation = state.records.active_operation_for(&cluster_id, managed_job_id).await?;
    Ok(Json(JobDetailResponse { cluster_id, job, limits, strategies, link, active_operation, deployment }))
}

/// The savepoints the product took of a job (of its whole deployment, every job id it had), from the catalog.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs/{job}/savepoints",
    tag = "clusters",
    operation_id = "list_savepoints",
    params(JobPath),
    responses(
        (status = 200, description = "The savepoints, newest first", body = Vec<SavepointRecord>),
        BadJobId,
        Unauthenticated,
        CannotViewCluster,
        (status = 404, description = "No such cluster", body = ErrorEnvelope),
        StoreUnavailable,
    ),
)]
pub async fn savepoints(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
) -> Result<Json<Vec<SavepointRecord>>, ApiError> {
    cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    check_job_id(&job_id)?;
    // A deployment's savepoints are those of every Flink job id it has had.
    let job_ids = match state.records.deployment_of_job(&cluster_id, &job_id).await? {
        Some(deployment) => deployment.job_ids().map(str::to_owned).collect(),
        None => vec![job_id],
    };
    let mut savepoints = Vec::new();
    for job_id in &job_ids {
        savepoints.extend(state.records.savepoints(&cluster_id, job_id).await?);
    }
    savepoints.sort_by_key(|record| std::cmp::Reverse(record.taken_at_ms));
    // Read each one's storage now: a savepoint deleted since is no way to restore the job.
    let handle = cluster(&state, &cluster_id)?;
    let states =
        futures::future::join_all(savepoints.iter().map(|record| handle.savepoint_metadata(&record.location))).await;
    for (record, state) in savepoints.iter_mut().zip(states) {
        record.storage = Some(match state {
            Ok(Some(metadata_bytes)) => SavepointStorageState::Complete { metadata_bytes },
            Ok(None) => SavepointStorageState::Missing,
            Err(error) => SavepointStorageState::Unreadable { reason: error.to_string() },
        });
    }
    Ok(Json(savepoints))
}
