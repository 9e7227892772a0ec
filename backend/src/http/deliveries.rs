//! A request's notification delivery log: every (event, channel) the routes sent it to, each
//! attempt's status and error, and what could not be delivered. Readable by whoever may read
//! the request.

use axum::Json;
use axum::extract::State;
use rescaler_shared::notify::Delivery;

use super::extract::{Caller, PathParams};
use super::rescales::load;
use super::schema::{NoSuchRequest, RescalePath, StoreUnavailable, Unauthenticated};
use super::{ApiError, AppState};

/// The notifications of a request: one delivery per event and channel, in event order, with
/// its attempts (time, HTTP status, error), whether it was delivered, is due again, or could
/// not be delivered (every attempt failed).
#[utoipa::path(
    get,
    path = "/api/v1/rescales/{id}/deliveries",
    tag = "rescales",
    operation_id = "list_deliveries",
    params(RescalePath),
    responses(
        (status = 200, description = "The request's deliveries", body = [Delivery]),
        Unauthenticated,
        NoSuchRequest,
        StoreUnavailable,
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let (operation, _) = load(&state, &identity, &id).await?;
    Ok(Json(state.records.deliveries_of(&operation.id).await?))
}
