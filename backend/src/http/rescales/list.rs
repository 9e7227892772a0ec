//! The request list, a page at a time through the listing index, and the inbox badge's count.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use rescaler_shared::api::ErrorEnvelope;
use rescaler_shared::api_page::{AwaitingCount, NEXT_CURSOR_HEADER, PhaseGroup};
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;
use rescaler_shared::user_action::{self, UserAction};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Identity, Role};
use crate::http::extract::{Caller, Filters};
use crate::http::redact;
use crate::http::schema::{StoreUnavailable, Unauthenticated};
use crate::http::{ApiError, AppState};
use crate::reconcile::now_ms;
use crate::records::{Cursor, IndexPage, OperationSource};

/// Requests per page when `limit` is absent, and at most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// The most requests awaiting approval the badge counts.
const COUNT_LIMIT: usize = 10_000;

/// Filters of the request list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Only requests in this phase.
    pub phase: Option<PhaseName>,
    /// Only requests in this group of phases: awaiting approval, active (approved, not ended)
    /// or terminal.
    pub phase_group: Option<PhaseGroup>,
    /// Only requests for this cluster id.
    pub cluster: Option<String>,
    /// Only requests for this Flink job id.
    pub job: Option<String>,
    /// Only requests for this deployment (a managed job under all its Flink job ids); with
    /// `cluster`, older requests for any of its job ids too.
    pub deployment: Option<String>,
    /// Only the caller's own requests.
    #[serde(default)]
    pub mine: bool,
    /// Only requests the caller could approve now.
    #[serde(default)]
    pub awaiting_me: bool,
    /// How many requests to answer (1 to 500; 50 when absent).
    pub limit: Option<usize>,
    /// Where the page starts: the `x-next-cursor` header of the page before.
    pub cursor: Option<String>,
}

/// The rescale requests the caller may view, newest first, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/rescales",
    tag = "rescales",
    operation_id = "list_rescales",
    params(ListFilter),
    responses(
        (status = 200, description = "A page of the requests, newest first; a page may hold fewer than `limit` when filters that have no index (cluster, mine) are given", body = Vec<Operation>,
            headers(("x-next-cursor" = String, description = "The cursor of the next, older page; absent on the last page"))),
        (status = 400, description = "An unknown filter, a bad value, a bad limit or a cursor this server did not hand out", body = ErrorEnvelope),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Filters(filter): Filters<ListFilter>,
) -> Result<(HeaderMap, Json<Vec<Operation>>), ApiError> {
    let after = cursor(filter.cursor.as_deref())?;
    let limit = limit(filter.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let now = now_ms();
    // Requests written before deployments existed name no deployment: with the cluster, they
    // belong to it by their job id.
    let lineage: Vec<String> = match (&filter.deployment, &filter.cluster) {
        (Some(deployment_id), Some(cluster_id)) => state
            .records
            .deployment(cluster_id, deployment_id)
            .await?
            .map(|deployment| deployment.job_ids().map(str::to_owned).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let in_deployment = |op: &Operation, deployment_id: &String| {
        op.deployment_id == *deployment_id || (op.deployment_id.is_empty() && lineage.contains(&op.job_id))
    };
    let keep = |op: &Operation| {
        identity.can(&op.cluster_id, Role::Viewer)
            && filter.phase.is_none_or(|phase| op.phase.name() == phase)
            && filter.phase_group.is_none_or(|group| PhaseGroup::of(op.phase.name()) == group)
            && filter.cluster.as_ref().is_none_or(|c| &op.cluster_id == c)
            && filter.job.as_ref().is_none_or(|j| &op.job_id == j)
            && filter.deployment.as_ref().is_none_or(|d| in_deployment(op, d))
            && (!filter.mine || identity.is(&op.requested_by))
            && (!filter.awaiting_me || awaits(&identity, op, now))
    };
    let source = source(&filter, &lineage);
    let page = state.records.operations_page(&source, after.as_ref(), limit, &keep, now).await?;
    Ok(answer(page, |op| redact::operation(op, &identity)))
}

/// How many requests the caller could approve now: what the inbox badge shows.
#[utoipa::path(
    get,
    path = "/api/v1/rescales/awaiting-me/count",
    tag = "rescales",
    operation_id = "count_rescales_awaiting_me",
    responses(
        (status = 200, description = "The number of requests the caller could approve now (the same rule as `awaiting_me`)", body = AwaitingCount),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn awaiting_me_count(
    State(state): State<AppState>,
    Caller(identity): Caller,
) -> Result<Json<AwaitingCount>, ApiError> {
    let now = now_ms();
    // One read of the badge's document (`records/index/awaiting.rs`) on most polls.
    let keep = |op: &Operation| awaits(&identity, op, now);
    let count = state.records.awaiting_operations(&keep, COUNT_LIMIT, now).await?.len();
    Ok(Json(AwaitingCount { count }))
}

fn awaits(identity: &Identity, op: &Operation, now: u64) -> bool {
    identity.can(&op.cluster_id, Role::Viewer) && user_action::refusal(op, identity, UserAction::Approve, now).is_none()
}

/// The index that holds every request the filter can answer, the smallest first.
fn source(filter: &ListFilter, lineage: &[String]) -> OperationSource {
    if let Some(job_id) = &filter.job {
        return OperationSource::Job(job_id.clone());
    }
    if let (Some(deployment_id), Some(cluster_id)) = (&filter.deployment, &filter.cluster) {
        return OperationSource::Deployment {
            cluster_id: cluster_id.clone(),
            deployment_id: deployment_id.clone(),
            job_ids: lineage.to_vec(),
        };
    }
    let group = if filter.awaiting_me {
        Some(PhaseGroup::AwaitingApproval)
    } else {
        filter.phase.map(PhaseGroup::of).or(filter.phase_group)
    };
    group.map_or(OperationSource::All, OperationSource::Group)
}

/// The `?cursor=` of a paged listing, refused with a 400 unless this server handed it out.
pub(in crate::http) fn cursor(text: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    text.map(Cursor::decode).transpose().map_err(|error| ApiError::BadRequest(error.to_string()))
}

/// The `?limit=` of a paged listing: `default` when absent, 1 to `max`.
pub(in crate::http) fn limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit.unwrap_or(default) {
        limit @ 1.. if limit <= max => Ok(limit),
        _ => Err(ApiError::BadRequest(format!("limit must be between 1 and {max}"))),
    }
}

/// A page as the API answers it: the items, and the next cursor in its header.
pub(in crate::http) fn answer<T, U>(page: IndexPage<T>, map: impl Fn(T) -> U) -> (HeaderMap, Json<Vec<U>>) {
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next
        && let Ok(value) = HeaderValue::from_str(&next.encode())
    {
        headers.insert(NEXT_CURSOR_HEADER, value);
    }
    (headers, Json(page.items.into_iter().map(map).collect()))
}

#[cfg(test)]
mod tests {
    use super::{ListFilter, limit, source};
    use crate::records::OperationSource;
    use rescaler_shared::api_page::PhaseGroup;
    use rescaler_shared::phase::PhaseName;

    #[test]
    fn a_filter_reads_the_smallest_index_that_holds_its_answer() {
        let job = ListFilter { job: Some("j".into()), awaiting_me: true, ..ListFilter::default() };
        assert_eq!(source(&job, &[]), OperationSource::Job("j".into()));
        let awaiting = ListFilter { awaiting_me: true, mine: true, ..ListFilter::default() };
        assert_eq!(source(&awaiting, &[]), OperationSource::Group(PhaseGroup::AwaitingApproval));
        let verifying = ListFilter { phase: Some(PhaseName::Verifying), ..ListFilter::default() };
        assert_eq!(source(&verifying, &[]), OperationSource::Group(PhaseGroup::Active));
        let deployment =
            ListFilter { deployment: Some("d".into()), cluster: Some("c".into()), ..ListFilter::default() };
        assert!(
            matches!(source(&deployment, &["j1".into()]), OperationSource::Deployment { job_ids, .. } if job_ids == ["j1"])
        );
        let cluster_only =
            ListFilter { cluster: Some("c".into()), deployment: Some("d".into()), ..ListFilter::default() };
        assert!(matches!(source(&cluster_only, &[]), OperationSource::Deployment { .. }));
        assert_eq!(source(&ListFilter { mine: true, ..ListFilter::default() }, &[]), OperationSource::All);
    }

    #[test]
    fn a_limit_outside_its_range_is_refused() {
        assert_eq!(limit(None, 100, 500).ok(), Some(100));
        assert_eq!(limit(Some(500), 100, 500).ok(), Some(500));
        assert!(limit(Some(0), 100, 500).is_err());
        assert!(limit(Some(501), 100, 500).is_err());
    }
}
