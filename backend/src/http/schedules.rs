//! Recurring rescale schedules: request (each step checked against the live job), list, read
//! (with its occurrences' request ids), approve, reject, cancel — under the one schedule rule,
//! `user_action::schedule_refusal`. The engine turns each due occurrence into a request
//! (`reconcile/recurring.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rescaler_shared::api::{CreateRescale, ErrorEnvelope};
use rescaler_shared::recurring::{CreateSchedule, RecurringSchedule, ScheduleTerms, refuses_schedule, steps_problem};
use rescaler_shared::user_action::{self, ScheduleAction};
use serde::Deserialize;
use utoipa::IntoParams;

use super::clusters::cluster;
use super::extract::{Body, Caller, Filters, PathParams, RawBody};
use super::preflight::check;
use super::schema::{
    BadBody, BadComment, FlinkOrStoreUnavailable, NoSuchClusterOrJob, StoreUnavailable, Unauthenticated,
};
use super::{ApiError, AppState, require};
use crate::auth::{Identity, Role};
use crate::reconcile::now_ms;

/// Most steps a schedule may have.
const MAX_STEPS: usize = 50;

/// A schedule, in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only describes the path in the document")]
pub struct SchedulePath {
    /// The schedule id: 32 lowercase hex characters.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// 404: no such schedule, or the caller cannot view its cluster.
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "No such schedule, or the caller cannot view its cluster")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct NoSuchSchedule(ErrorEnvelope);

fn validate(request: &CreateSchedule) -> Result<(), ApiError> {
    if request.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("a reason is required".to_owned()));
    }
    if request.reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable("the reason is longer than 2000 characters".to_owned()));
    }
    if request.steps.len() > MAX_STEPS {
        return Err(ApiError::Unprocessable(format!("a schedule has at most {MAX_STEPS} steps")));
    }
    steps_problem(&request.steps).map_or(Ok(()), |problem| Err(ApiError::Unprocessable(problem)))
}

/// Checks each step's target against the live job as a request's pre-flight does, refusing what
/// can never run on it (see `refuses_schedule`); answers the job's name.
async fn check_steps(state: &AppState, request: &CreateSchedule) -> Result<String, ApiError> {
    let mut job_name = String::new();
    for (index, step) in request.steps.iter().enumerate() {
        let as_request = CreateRescale {
            cluster_id: request.cluster_id.clone(),
            job_id: request.job_id.clone(),
            target: step.target.clone(),
            strategy: step.strategy,
            reason: request.reason.clone(),
            not_before_ms: None,
            autoscaling: None,
        };
        let checked = check(state, &as_request).await?;
        job_name = checked.job_name;
        let refused: Vec<&str> = checked
            .response
            .failures
            .iter()
            .filter(|failure| refuses_schedule(&failure.code))
            .map(|failure| failure.message.as_str())
            .collect();
        if !refused.is_empty() {
            return Err(ApiError::Unprocessable(format!("step {}: {}", index + 1, refused.join("; "))));
        }
    }
    Ok(job_name)
}

/// Requests a recurring schedule; it waits for approval by someone else.
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    tag = "schedules",
    operation_id = "create_schedule",
    request_body = CreateSchedule,
    responses(
        (status = 201, description = "The schedule, awaiting approval", body = RecurringSchedule),
        (status = 400, description = "Bad JSON, wrong field types, a bad time of day or a malformed job id", body = ErrorEnvelope),
        Unauthenticated,
        (status = 403, description = "The caller is not a requester on this cluster", body = ErrorEnvelope),
        NoSuchClusterOrJob,
        (status = 422, description = "No reason, no steps, a step without days, or a target the job can never run at", body = ErrorEnvelope),
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Body(request): Body<CreateSchedule>,
) -> Result<(StatusCode, Json<RecurringSchedule>), ApiError> {
    let handle = cluster(&state, &request.cluster_id)?;
    let approvals = &state.config.approvals;
    let now = now_ms();
    let terms = ScheduleTerms {
        id: uuid::Uuid::new_v4().simple().to_string(),
        deployment_id: String::new(),
        job_name: String::new(),
        requested_by: identity.name.trim().to_owned(),
        required_approvals: handle.config().required_approvals.unwrap_or(approvals.default_required).max(1),
        approval_window_ms: approvals.expire_after_secs.saturating_mul(1000),
        verify_timeout_ms: approvals.verify_timeout_secs.saturating_mul(1000),
        stable_for_ms: approvals.stable_for_secs.saturating_mul(1000),
    };
    let draft = RecurringSchedule::new(request.clone(), terms.clone(), now);
    if let Some(refused) = user_action::schedule_refusal(&draft, &identity, ScheduleAction::Request, now) {
        return Err(refused.into());
    }
    validate(&request)?;
    let job_name = check_steps(&state, &request).await?;
    let deployment = state.records.adopt_job(&request.cluster_id, &request.job_id, &job_name, now).await?;
    let terms = ScheduleTerms { deployment_id: deployment.id, job_name, ..terms };
    let schedule = RecurringSchedule::new(request, terms, now);
    state.records.create_schedule(&schedule).await?;
    audit(&state, &schedule, 0).await;
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// Filters of the schedule list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Only schedules the caller could approve now.
    #[serde(default)]
    pub awaiting_me: bool,
}

/// The schedules the caller may view, newest first, filtered.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    tag = "schedules",
    operation_id = "list_schedules",
    params(ListFilter),
    responses(
        (status = 200, description = "The schedules", body = Vec<RecurringSchedule>),
        (status = 400, description = "An unknown filter or a bad value", body = ErrorEnvelope),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Filters(filter): Filters<ListFilter>,
) -> Result<Json<Vec<RecurringSchedule>>, ApiError> {
    let schedules = state.records.all_schedules().await?;
    let now = now_ms();
    let awaits_me = |schedule: &RecurringSchedule| {
        user_action::schedule_refusal(schedule, &identity, ScheduleAction::Approve, now).is_none()
    };
    Ok(Json(
        schedules
            .into_iter()
            .filter(|schedule| identity.can(&schedule.cluster_id, Role::Viewer))
            .filter(|schedule| !filter.awaiting_me || awaits_me(schedule))
            .collect(),
    ))
}

async fn load(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<(RecurringSchedule, crate::store::Version), ApiError> {
    let missing = || ApiError::NotFound(format!("no schedule {id:?}"));
    if !rescaler_shared::operation::is_flink_id(id) {
        return Err(missing());
    }
    let (schedule, version) = state.records.schedule(id).await?.ok_or_else(missing)?;
    require(identity, &schedule.cluster_id, Role::Viewer).map_err(|_| missing())?;
    Ok((schedule, version))
}

/// One schedule: steps, state, approvals, events and its occurrences with their request ids.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    operation_id = "get_schedule",
    params(SchedulePath),
    responses(
        (status = 200, description = "The schedule", body = RecurringSchedule),
        Unauthenticated,
        NoSuchSchedule,
        StoreUnavailable,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<RecurringSchedule>, ApiError> {
    Ok(Json(load(&state, &identity, &id).await?.0))
}

/// Applies an action as the schedule rule allows it, with compare-and-swap; retries when the
/// reconciler wrote meanwhile. An ended schedule loses its live marker.
async fn act(
    state: &AppState,
    identity: &Identity,
    id: &str,
    action: ScheduleAction,
    body: axum::body::Bytes,
) -> Result<Json<RecurringSchedule>, ApiError> {
    let comment = super::rescales::comment(body)?;
    for _ in 0..5 {
        let (mut schedule, version) = load(state, identity, id).await?;
        let events_before = schedule.events.len();
        user_action::act_on_schedule(&mut schedule, identity, action, &comment, now_ms())?;
        match state.records.replace_schedule(&schedule, &version).await {
            Ok(_) => {
                audit(state, &schedule, events_before).await;
                if schedule.state.is_ended() {
                    state.records.release_schedule(&schedule.id).await?;
                }
                return Ok(Json(schedule));
            }
            Err(error) if error.is_conflict() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict("the schedule changed while acting on it; try again".to_owned()))
}

macro_rules! schedule_action {
    ($name:ident, $action:expr, $path:literal, $operation_id:literal, $what:literal, $forbidden:literal, $conflict:literal) => {
        #[doc = $what]
        #[utoipa::path(
            post,
            path = $path,
            tag = "schedules",
            operation_id = $operation_id,
            params(SchedulePath),
            request_body(content = Option<rescaler_shared::api::CommentBody>, description = "An optional comment; the body may be empty or null"),
            responses(
                (status = 200, description = "The schedule after the action", body = RecurringSchedule),
                BadBody,
                Unauthenticated,
                (status = 403, description = $forbidden, body = ErrorEnvelope),
                NoSuchSchedule,
                (status = 409, description = $conflict, body = ErrorEnvelope),
                BadComment,
                StoreUnavailable,
            ),
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Caller(identity): Caller,
            PathParams(id): PathParams<String>,
            RawBody(body): RawBody,
        ) -> Result<Json<RecurringSchedule>, ApiError> {
            act(&state, &identity, &id, $action, body).await
        }
    };
}

schedule_action!(
    approve,
    ScheduleAction::Approve,
    "/api/v1/schedules/{id}/approve",
    "approve_schedule",
    "Approves a schedule; enough approvals make it active.",
    "The caller is not an approver of this cluster, or requested it",
    "The schedule no longer awaits approval, or the caller already approved it"
);
schedule_action!(
    reject,
    ScheduleAction::Reject,
    "/api/v1/schedules/{id}/reject",
    "reject_schedule",
    "Rejects a schedule awaiting approval.",
    "The caller is not an approver of this cluster, or requested it",
    "The schedule no longer awaits approval"
);
schedule_action!(
    cancel,
    ScheduleAction::Cancel,
    "/api/v1/schedules/{id}/cancel",
    "cancel_schedule",
    "Cancels a schedule: no more occurrences (a running one goes on). Its requester or an admin.",
    "The caller is neither its requester nor an admin of this cluster",
    "The schedule already ended"
);

/// Audits the events an action added; the reconciler writes its own.
async fn audit(state: &AppState, schedule: &RecurringSchedule, events_before: usize) {
    if let Err(error) = state.records.audit_schedule_events(schedule, events_before).await {
        tracing::warn!(schedule.id = %schedule.id, %error, "audit write failed");
    }
}
