//! A job's load: its stored history (the charts from the first paint) and its recommendation.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::{JobLoadHistory, JobRecommendation};

use super::clusters::{check_job_id, cluster};
use super::extract::{Caller, PathParams};
use super::schema::{
    BadJobId, CannotViewCluster, FlinkOrStoreUnavailable, JobPath, NoSuchClusterOrJob, Unauthenticated,
};
use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::recommendations;
use crate::reconcile::now_ms;

/// The job's load history as sampled by the backend: up to two hours as taken, then five-minute
/// points for a day, with the rescales it shows.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs/{job}/history",
    tag = "clusters",
    operation_id = "job_load_history",
    params(JobPath),
    responses(
        (status = 200, description = "The history, oldest first; empty before the first sample", body = JobLoadHistory),
        BadJobId,
        Unauthenticated,
        CannotViewCluster,
        NoSuchClusterOrJob,
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
) -> Result<Json<JobLoadHistory>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    check_job_id(&job_id)?;
    let answer = recommendations::job_history(&state.records, handle, &job_id, now_ms())
        .await
        .map_err(|error| ApiError::from_cluster(&cluster_id, error))?;
    Ok(Json(answer))
}

/// The recommended parallelism of every vertex of the job, from its stored history and its graph
/// now, under the cluster's recommendation settings, with the reason in words.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs/{job}/recommendation",
    tag = "clusters",
    operation_id = "job_recommendation",
    params(JobPath),
    responses(
        (status = 200, description = "The recommendation, or why there is none", body = JobRecommendation),
        BadJobId,
        Unauthenticated,
        CannotViewCluster,
        NoSuchClusterOrJob,
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn recommendation(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
) -> Result<Json<JobRecommendation>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    check_job_id(&job_id)?;
    let answer = recommendations::job_recommendation(&state.records, handle, &job_id, now_ms())
        .await
        .map_err(|error| ApiError::from_cluster(&cluster_id, error))?;
    answer.map(Json).ok_or_else(|| ApiError::NotFound(format!("no job {job_id}")))
}
