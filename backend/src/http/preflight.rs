//! Pre-flight: whether a rescale can start, against live Flink, as at execution time — for the
//! console's live check and for filing a request.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::{CreateRescale, ErrorEnvelope, PreflightResponse};
use rescaler_shared::operation::ArtifactRef;
use rescaler_shared::preflight;

use super::clusters::{cluster, job_view};
use super::extract::{Body, Caller};
use super::schema::{CannotViewCluster, FlinkOrStoreUnavailable, NoSuchClusterOrJob, Unauthenticated};
use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::records::link_artifact;

/// Pre-flight against live Flink, as at execution time.
pub(super) async fn check(
    state: &AppState,
    request: &CreateRescale,
) -> Result<(PreflightResponse, Option<ArtifactRef>, String), ApiError> {
    let handle = cluster(state, &request.cluster_id)?;
    let job = job_view(handle, &request.job_id).await?;
    let cluster_view = handle.overview().await.map_err(|error| ApiError::from_cluster(&request.cluster_id, error))?;
    let link = state.records.job_link(&request.cluster_id, &request.job_id).await?;
    let artifact = link.as_ref().map(link_artifact);
    let result = preflight::check(
        &request.target,
        request.strategy,
        &job,
        &cluster_view,
        handle.config().savepoint_dir.as_deref(),
        artifact.is_some(),
        request.autoscaling,
    );
    let response = match result {
        Ok(plan) => PreflightResponse { ok: true, plan: Some(plan), failures: Vec::new() },
        Err(failures) => PreflightResponse { ok: false, plan: None, failures },
    };
    Ok((response, artifact, job.name))
}

/// Checks a rescale against the job and cluster as they are now, without storing anything.
#[utoipa::path(
    post,
    path = "/api/v1/preflight",
    tag = "rescales",
    operation_id = "preflight",
    request_body = CreateRescale,
    responses(
        (status = 200, description = "The plan, or every reason the rescale cannot start", body = PreflightResponse),
        (status = 400, description = "Bad JSON, wrong field types or a malformed job id", body = ErrorEnvelope),
        Unauthenticated,
        CannotViewCluster,
        NoSuchClusterOrJob,
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn preflight(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Body(request): Body<CreateRescale>,
) -> Result<Json<PreflightResponse>, ApiError> {
    cluster(&state, &request.cluster_id)?;
    require(&identity, &request.cluster_id, Role::Viewer)?;
    Ok(Json(check(&state, &request).await?.0))
}
