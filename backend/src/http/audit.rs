//! The append-only audit log: who did what, when, to which request.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::{AuditEvent, ErrorEnvelope};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Caller, QueryParams};
use super::schema::{StoreUnavailable, Unauthenticated};
use super::{ApiError, AppState};
use crate::auth::Role;

/// Query of the audit list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many of the newest events to answer (at most 1000; 200 when absent).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    200
}

/// The newest audit events about clusters the caller may view.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    operation_id = "list_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "The events, newest first", body = Vec<AuditEvent>),
        (status = 400, description = "An unknown parameter or a bad limit", body = ErrorEnvelope),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn audit_list(
    State(state): State<AppState>,
    Caller(identity): Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let events = state.records.audit_events(query.limit.min(1000)).await?;
    Ok(Json(
        events
            .into_iter()
            .filter(|event| event.cluster_id.as_ref().is_none_or(|cluster| identity.can(cluster, Role::Viewer)))
            .collect(),
    ))
}
