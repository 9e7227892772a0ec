//! The append-only audit log: who did what, when, to which request, a page at a time.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use rescaler_shared::api::{AuditEvent, ErrorEnvelope};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Caller, QueryParams};
use super::rescales::{answer, cursor, limit};
use super::schema::{StoreUnavailable, Unauthenticated};
use super::{ApiError, AppState};
use crate::auth::Role;
use crate::reconcile::now_ms;

const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 1000;

/// Query of the audit list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many of the newest events to answer (1 to 1000, larger values count as 1000; 200
    /// when absent).
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Where the page starts: the `x-next-cursor` header of the page before.
    pub cursor: Option<String>,
}

fn default_limit() -> usize {
    DEFAULT_LIMIT
}

/// The newest audit events about clusters the caller may view, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    operation_id = "list_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the events, newest first", body = Vec<AuditEvent>,
            headers(("x-next-cursor" = String, description = "The cursor of the next, older page; absent on the last page"))),
        (status = 400, description = "An unknown parameter, a bad limit or a cursor this server did not hand out", body = ErrorEnvelope),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn audit_list(
    State(state): State<AppState>,
    Caller(identity): Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<(HeaderMap, Json<Vec<AuditEvent>>), ApiError> {
    let after = cursor(query.cursor.as_deref())?;
    let limit = limit(Some(query.limit.min(MAX_LIMIT)), DEFAULT_LIMIT, MAX_LIMIT)?;
    let keep = |event: &AuditEvent| event.cluster_id.as_ref().is_none_or(|cluster| identity.can(cluster, Role::Viewer));
    let page = state.records.audit_page(after.as_ref(), limit, &keep, now_ms()).await?;
    Ok(answer(page, |event| event))
}
