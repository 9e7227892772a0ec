//! Flink's own account of an in-place request: the rescales Flink 2.3's adaptive scheduler
//! recorded within the request's execution, or why there are none. Readable by whoever may
//! read the request.

use axum::Json;
use axum::extract::State;
use rescaler_shared::flink_rescales::{ExecutionWindow, FlinkRescaleAccount};

use super::clusters::cluster;
use super::extract::{Caller, PathParams};
use super::rescales::load;
use super::schema::{FlinkOrStoreUnavailable, NoSuchRequest, RescalePath, Unauthenticated};
use super::{ApiError, AppState};

/// What Flink recorded of an in-place request: each rescale's trigger, scheduler states with
/// their times, outcome and per-vertex parallelism (Flink 2.3 and later, with
/// `web.adaptive-scheduler.rescale-history.size` above 0); otherwise the status says why there is
/// nothing (not in place, not sent yet, no history kept, the job gone).
#[utoipa::path(
    get,
    path = "/api/v1/rescales/{id}/flink-rescales",
    tag = "rescales",
    operation_id = "get_flink_rescales",
    params(RescalePath),
    responses(
        (status = 200, description = "Flink's account of the request, or why there is none", body = FlinkRescaleAccount),
        Unauthenticated,
        NoSuchRequest,
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn flink_rescales(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<FlinkRescaleAccount>, ApiError> {
    let (operation, _) = load(&state, &identity, &id).await?;
    let window = match ExecutionWindow::of(&operation) {
        Ok(window) => window,
        // Nothing to ask Flink.
        Err(account) => return Ok(Json(account)),
    };
    let handle = cluster(&state, &operation.cluster_id)?;
    let account = handle
        .flink_rescales(&operation.job_id, window)
        .await
        .map_err(|error| ApiError::from_cluster(&operation.cluster_id, error))?;
    Ok(Json(account))
}
