//! Pre-flight: whether a rescale can start, against live Flink, as at execution time — for the
//! console's live check and for filing a request.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::{CreateRescale, ErrorEnvelope, PreflightResponse};

use super::clusters::{check_job_id, cluster};
use super::extract::{Body, Caller};
use super::schema::{CannotViewCluster, FlinkOrStoreUnavailable, NoSuchClusterOrJob, Unauthenticated};
use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::requests::{self, Checked};

/// Pre-flight against live Flink, as at execution time (`requests::preflight`, with the API's
/// answers: a malformed job id 400, an unknown cluster or job 404).
pub(super) async fn check(state: &AppState, request: &CreateRescale) -> Result<Checked, ApiError> {
    let handle = cluster(state, &request.cluster_id)?;
    check_job_id(&request.job_id)?;
    let checked = requests::preflight(&state.records, handle, request, crate::reconcile::now_ms())
        .await
        .map_err(|error| ApiError::from_cluster(&request.cluster_id, error))?;
    checked.ok_or_else(|| ApiError::NotFound(format!("no job {}", request.job_id)))
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
    Ok(Json(check(&state, &request).await?.response))
}
