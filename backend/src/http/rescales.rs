//! Rescale requests: create (with pre-flight), list, read, approve, reject, cancel, break glass;
//! the audit log lives in `audit`. Every request answered carries the artifact it resubmits,
//! with the program arguments only for callers who may link jobs (`redact`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rescaler_shared::api::{BreakGlassBody, CommentBody, CreateRescale, ErrorEnvelope};
use rescaler_shared::operation::Operation;
use rescaler_shared::schedule::not_before_refusal;
use rescaler_shared::user_action::{self, UserAction};

mod list;

pub use list::{__path_awaiting_me_count, __path_list, awaiting_me_count, list};
pub(super) use list::{answer, cursor, limit};

use super::clusters::cluster;
use super::extract::{Body, Caller, PathParams, RawBody};
use super::preflight::check;
use super::redact;
use super::schema::{
    BadBody, BadComment, FlinkOrStoreUnavailable, NoSuchClusterOrJob, NoSuchRequest, NotClusterAdmin, RescalePath,
    StoreUnavailable, Unauthenticated,
};
use super::{ApiError, AppState, require};
use crate::auth::{Identity, Role};
use crate::reconcile::now_ms;
use crate::requests::{self, Filed};

fn validate(request: &CreateRescale) -> Result<(), ApiError> {
    if request.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("a reason is required".to_owned()));
    }
    if request.reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable("the reason is longer than 2000 characters".to_owned()));
    }
    Ok(())
}

/// Requests a rescale; it waits for approval.
#[utoipa::path(
    post,
    path = "/api/v1/rescales",
    tag = "rescales",
    operation_id = "create_rescale",
    request_body = CreateRescale,
    responses(
        (status = 201, description = "The request, awaiting approval", body = Operation),
        (status = 400, description = "Bad JSON, wrong field types or a malformed job id", body = ErrorEnvelope),
        Unauthenticated,
        (status = 403, description = "The caller is not a requester on this cluster", body = ErrorEnvelope),
        NoSuchClusterOrJob,
        (status = 409, description = "The job already has an active rescale request", body = ErrorEnvelope),
        (status = 422, description = "No reason given, a not-before in the past or after the request would expire, or pre-flight failed", body = ErrorEnvelope),
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Body(request): Body<CreateRescale>,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    let handle = cluster(&state, &request.cluster_id)?;
    require(&identity, &request.cluster_id, Role::Requester)?;
    validate(&request)?;
    let approvals = &state.config.approvals;
    let now = now_ms();
    let approval_window_ms = approvals.expire_after_secs.saturating_mul(1000);
    let refusal = request
        .not_before_ms
        .and_then(|not_before_ms| not_before_refusal(not_before_ms, now, now.saturating_add(approval_window_ms)));
    if let Some(refusal) = refusal {
        return Err(ApiError::Unprocessable(refusal));
    }
    let checked = check(&state, &request).await?;
    if let Some(refusal) = checked.refusal() {
        return Err(ApiError::Unprocessable(refusal));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let filed = Filed { id: &id, by: &identity.name, at_ms: now };
    let operation = requests::store_request(&state.records, handle, approvals, &request, checked, filed).await?;
    // The reconciler delivers the `requested` notification now, not at the next schedule.
    state.kick.kick().await;
    // A link written since the pre-flight read it: the request resubmits what the job is linked
    // to now, and says so.
    let operation = match state.records.job_link(&operation.cluster_id, &operation.job_id).await? {
        Some(link) => state.records.apply_link(&link, now_ms()).await?.unwrap_or(operation),
        None => operation,
    };
    Ok((StatusCode::CREATED, Json(redact::operation(operation, &identity))))
}

/// The request `id` if the caller may view it (the one read rule of the request routes).
pub(super) async fn load(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<(Operation, crate::store::Version), ApiError> {
    if !rescaler_shared::operation::is_flink_id(id) {
        return Err(ApiError::NotFound(format!("no rescale request {id:?}")));
    }
    let (operation, version) =
        state.records.operation(id).await?.ok_or_else(|| ApiError::NotFound(format!("no rescale request {id}")))?;
    require(identity, &operation.cluster_id, Role::Viewer)
        .map_err(|_| ApiError::NotFound(format!("no rescale request {id}")))?;
    Ok((operation, version))
}

/// One rescale request: phase, per-phase timings, events, savepoint, new job id.
#[utoipa::path(
    get,
    path = "/api/v1/rescales/{id}",
    tag = "rescales",
    operation_id = "get_rescale",
    params(RescalePath),
    responses(
        (status = 200, description = "The request", body = Operation),
        Unauthenticated,
        NoSuchRequest,
        StoreUnavailable,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Operation>, ApiError> {
    Ok(Json(redact::operation(load(&state, &identity, &id).await?.0, &identity)))
}

/// Applies a user action, as the one permission rule allows it, with compare-and-swap; retries
/// when the reconciler wrote meanwhile. `text` is the comment, or the break-glass reason.
async fn act(
    state: &AppState,
    identity: &Identity,
    id: &str,
    action: UserAction,
    text: &str,
) -> Result<Json<Operation>, ApiError> {
    for _ in 0..5 {
        let (mut operation, version) = load(state, identity, id).await?;
        let events_before = operation.events.len();
        user_action::act(&mut operation, identity, action, text, now_ms())?;
        match state.records.replace_operation(&operation, &version).await {
            Ok(_) => {
                audit(state, &operation, events_before).await;
                state.kick.kick().await;
                return Ok(Json(redact::operation(operation, identity)));
            }
            Err(error) if error.is_conflict() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict("the request changed while acting on it; try again".to_owned()))
}

/// Approves a request; enough approvals start its execution.
#[utoipa::path(
    post,
    path = "/api/v1/rescales/{id}/approve",
    tag = "rescales",
    operation_id = "approve_rescale",
    params(RescalePath),
    request_body(content = Option<CommentBody>, description = "An optional comment; the body may be empty or null"),
    responses(
        (status = 200, description = "The request after the action", body = Operation),
        BadBody,
        Unauthenticated,
        (status = 403, description = "The caller is not an approver of this cluster, or requested it", body = ErrorEnvelope),
        NoSuchRequest,
        (status = 409, description = "The request no longer awaits approval, or the caller already approved it", body = ErrorEnvelope),
        BadComment,
        StoreUnavailable,
    ),
)]
pub async fn approve(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
    RawBody(body): RawBody,
) -> Result<Json<Operation>, ApiError> {
    let comment = comment(body)?;
    act(&state, &identity, &id, UserAction::Approve, &comment).await
}

/// Rejects a request awaiting approval.
#[utoipa::path(
    post,
    path = "/api/v1/rescales/{id}/reject",
    tag = "rescales",
    operation_id = "reject_rescale",
    params(RescalePath),
    request_body(content = Option<CommentBody>, description = "An optional comment; the body may be empty or null"),
    responses(
        (status = 200, description = "The request after the action", body = Operation),
        BadBody,
        Unauthenticated,
        (status = 403, description = "The caller is not an approver of this cluster, or requested it", body = ErrorEnvelope),
        NoSuchRequest,
        (status = 409, description = "The request no longer awaits approval", body = ErrorEnvelope),
        BadComment,
        StoreUnavailable,
    ),
)]
pub async fn reject(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
    RawBody(body): RawBody,
) -> Result<Json<Operation>, ApiError> {
    let comment = comment(body)?;
    act(&state, &identity, &id, UserAction::Reject, &comment).await
}

/// Cancels a request: its requester may withdraw it, an approver may cancel it.
#[utoipa::path(
    post,
    path = "/api/v1/rescales/{id}/cancel",
    tag = "rescales",
    operation_id = "cancel_rescale",
    params(RescalePath),
    request_body(content = Option<CommentBody>, description = "An optional comment; the body may be empty or null"),
    responses(
        (status = 200, description = "The request after the action", body = Operation),
        BadBody,
        Unauthenticated,
        (status = 403, description = "The caller is neither its requester nor an approver of this cluster", body = ErrorEnvelope),
        NoSuchRequest,
        (status = 409, description = "The request can no longer be cancelled", body = ErrorEnvelope),
        BadComment,
        StoreUnavailable,
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
    RawBody(body): RawBody,
) -> Result<Json<Operation>, ApiError> {
    let comment = comment(body)?;
    // The requester may withdraw their own request; otherwise an approver may cancel it.
    act(&state, &identity, &id, UserAction::Cancel, &comment).await
}

/// Executes a request without approval (admins only, with a reason); marked in the audit.
#[utoipa::path(
    post,
    path = "/api/v1/rescales/{id}/break-glass",
    tag = "rescales",
    operation_id = "break_glass_rescale",
    params(RescalePath),
    request_body = BreakGlassBody,
    responses(
        (status = 200, description = "The request after the action", body = Operation),
        BadBody,
        Unauthenticated,
        NotClusterAdmin,
        NoSuchRequest,
        (status = 409, description = "The request no longer awaits approval", body = ErrorEnvelope),
        BadComment,
        StoreUnavailable,
    ),
)]
pub async fn break_glass(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
    Body(body): Body<BreakGlassBody>,
) -> Result<Json<Operation>, ApiError> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("break glass needs a reason".to_owned()));
    }
    act(&state, &identity, &id, UserAction::BreakGlass, &body.reason).await
}

/// The optional `{"comment": …}` body of approve, reject and cancel (empty or `null`: none).
pub(super) fn comment(body: axum::body::Bytes) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let parsed: Option<CommentBody> = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("invalid request body: {error}")))?;
    let Some(parsed) = parsed else { return Ok(String::new()) };
    if parsed.comment.chars().count() > 2000 {
        return Err(ApiError::Unprocessable("the comment is longer than 2000 characters".to_owned()));
    }
    Ok(parsed.comment)
}

/// Audits the events a user action added (the same entries the reconciler would backfill).
async fn audit(state: &AppState, operation: &Operation, events_before: usize) {
    if let Err(error) = state.records.audit_operation_events(operation, events_before).await {
        // The operation's own events still carry the step; the reconciler's backfill writes
        // the audit copy when the operation ends.
        tracing::warn!(operation.id = %operation.id, %error, "audit write failed");
    }
}
