//! The one HTTP error type: every error leaves as the JSON envelope of `rescaler_shared::api`.

use std::sync::Arc;

use crate::cluster::ClusterError;
use axum::Json;
use axum::extract::Request;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rescaler_shared::api::{ErrorBody, ErrorEnvelope};
use rescaler_shared::user_action::ActionRefused;

use crate::auth::AuthError;
use crate::flink::FlinkError;
use crate::reconcile::ReconcileError;
use crate::records::{CreateError, LinkError};
use crate::store::StoreError;

/// An error answered to a caller. Internal details are logged (by `log_errors`), never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not (axum adds the `Allow` header).
    #[error("this endpoint does not answer {0}")]
    MethodNotAllowed(axum::http::Method),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// The caller's writes reached the per-user limit (`http/write_limit.rs`); answered with
    /// `Retry-After`.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// Flink or the store cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is logged only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable(_) => "unprocessable",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope = ErrorEnvelope { error: ErrorBody { code: self.code().to_owned(), message: self.to_string() } };
        let mut response = (self.status(), Json(envelope)).into_response();
        if let Self::TooManyRequests { retry_after_secs, .. } = &self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        // For `log_errors`; extensions stay in the process, they are never sent.
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// Middleware that logs the `ApiError` a response carries: an internal error with its detail
/// (which the caller never sees), Flink or the store unavailable as a warning, every refusal at
/// debug level.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<Arc<ApiError>>() {
        let status = response.status().as_u16();
        let code = error.code();
        match error.as_ref() {
            ApiError::Internal(detail) => tracing::error!(
                error.code = code, error.detail = %detail, http.method = %method, http.path = %path,
                http.status = status, "internal error"
            ),
            ApiError::Unavailable(message) => tracing::warn!(
                error.code = code, error.message = %message, http.method = %method, http.path = %path,
                http.status = status, "dependency unavailable"
            ),
            refused => tracing::debug!(
                error.code = code, error.message = %refused, http.method = %method, http.path = %path,
                http.status = status, "request refused"
            ),
        }
    }
    response
}

// Every mapping of a lower error to `ApiError` lives here, so that `?` converts in handlers.

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => Self::Conflict("the record changed meanwhile; try again".to_owned()),
            StoreError::InvalidKey { key } => Self::BadRequest(format!("invalid identifier in {key:?}")),
            StoreError::Unavailable { detail } => {
                tracing::warn!(store.error = %detail, "store unavailable");
                Self::Unavailable("the record store is unavailable".to_owned())
            }
            StoreError::Corrupt { key, detail } => Self::Internal(format!("corrupt record {key}: {detail}")),
        }
    }
}

impl From<FlinkError> for ApiError {
    fn from(error: FlinkError) -> Self {
        match error {
            FlinkError::NotFound { what } => Self::NotFound(format!("flink does not know {what}")),
            FlinkError::Rejected { message, .. } => Self::Unprocessable(format!("flink refused: {message}")),
            // Its message already says "flink is unavailable" or "could not decode flink's answer".
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<ClusterError> for ApiError {
    fn from(error: ClusterError) -> Self {
        ReconcileError::from(error).into()
    }
}

impl ApiError {
    /// A failed call to the cluster `cluster_id`, answered naming the cluster: Flink being
    /// unavailable or refusing says which cluster (never where it lives, which a `FlinkError`'s
    /// text does not carry).
    pub fn from_cluster(cluster_id: &str, error: ClusterError) -> Self {
        let named = |message: String| format!("cluster {cluster_id}: {message}");
        match error {
            ClusterError::Flink(flink) if !flink.is_not_found() => match Self::from(flink) {
                Self::Unavailable(message) => Self::Unavailable(named(message)),
                Self::Unprocessable(message) => Self::Unprocessable(named(message)),
                other => other,
            },
            other => other.into(),
        }
    }
}

impl From<ReconcileError> for ApiError {
    fn from(error: ReconcileError) -> Self {
        match error {
            ReconcileError::Flink(flink) => flink.into(),
            ReconcileError::Store(store) => store.into(),
            ReconcileError::Msf(crate::cluster::msf::MsfError::NotFound { what }) => {
                Self::NotFound(format!("MSF does not know {what}"))
            }
            ReconcileError::Msf(error @ crate::cluster::msf::MsfError::Unavailable { .. }) => {
                Self::Unavailable(error.to_string())
            }
            other => Self::Unprocessable(other.to_string()),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::JobBusy { job_id, operation_id } => {
                Self::Conflict(format!("job {job_id} already has an active rescale request ({operation_id})"))
            }
            CreateError::Store(store) => store.into(),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::RequestApproved { .. } => Self::Conflict(error.to_string()),
            LinkError::Store(store) => store.into(),
        }
    }
}

/// A user action the permission rule refused: lacking the role or approving one's own request
/// is forbidden, every other refusal conflicts with the request's phase or history.
impl From<ActionRefused> for ApiError {
    fn from(refused: ActionRefused) -> Self {
        match refused {
            refused if refused.is_forbidden() => Self::Forbidden(refused.to_string()),
            other => Self::Conflict(other.to_string()),
        }
    }
}

/// Every authentication failure answers the same 401; the reason is logged here, never sent.
impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Missing => tracing::debug!(auth.error = %error, "request not authenticated"),
            _ => tracing::info!(auth.error = %error, "request not authenticated"),
        }
        Self::Unauthenticated
    }
}

// Rejections of the extractors in `extract.rs`: a 400 in the envelope, never axum's plain text.

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                Self::BadRequest("expected a JSON body (content-type: application/json)".to_owned())
            }
            JsonRejection::JsonDataError(error) => {
                Self::BadRequest(format!("invalid request body: {}", error.body_text()))
            }
            JsonRejection::JsonSyntaxError(error) => Self::BadRequest(format!("malformed JSON: {}", error.body_text())),
            other => Self::BadRequest(format!("unreadable request body: {}", other.body_text())),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::BadRequest(format!("unreadable request body: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(format!("invalid path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(format!("invalid query: {}", rejection.body_text()))
    }
}

/// A query rejected by the `Filters` extractor: its 400 says "invalid filter".
pub struct InvalidFilter(QueryRejection);

impl From<QueryRejection> for InvalidFilter {
    fn from(rejection: QueryRejection) -> Self {
        Self(rejection)
    }
}

impl From<InvalidFilter> for ApiError {
    fn from(InvalidFilter(rejection): InvalidFilter) -> Self {
        Self::BadRequest(format!("invalid filter: {}", rejection.body_text()))
    }
}

impl IntoResponse for InvalidFilter {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        Self::BadRequest(format!("expected a multipart upload: {}", rejection.body_text()))
    }
}

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> Self {
        Self::BadRequest(format!("unreadable upload: {}", error.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_auth_error_answers_unauthenticated() {
        let errors = [
            AuthError::Missing,
            AuthError::Malformed,
            AuthError::UnknownToken,
            AuthError::Expired,
            AuthError::InvalidSignature,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
            AuthError::UnknownKey,
            AuthError::JwksUnavailable,
            AuthError::ReservedName,
        ];
        for error in errors {
            assert!(matches!(ApiError::from(error), ApiError::Unauthenticated), "{error}");
        }
    }

    /// Collects what a `fmt` subscriber writes.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_layer_logs_an_internal_detail_that_the_response_never_carries() {
        use tower::ServiceExt;

        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let router = axum::Router::new()
            .route("/boom", axum::routing::get(|| async { ApiError::Internal("corrupt record x: eof".to_owned()) }))
            .layer(axum::middleware::from_fn(log_errors));
        let request = axum::http::Request::get("/boom").body(axum::body::Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(body, r#"{"error":{"code":"internal","message":"internal error"}}"#);
        let logged = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
        assert!(logged.contains("ERROR"), "{logged}");
        assert!(logged.contains("error.detail=corrupt record x: eof"), "{logged}");
        assert!(logged.contains("http.status=500"), "{logged}");
    }

    #[test]
    fn too_many_requests_says_when_to_try_again() {
        let response =
            ApiError::TooManyRequests { message: "at most 3 writes".to_owned(), retry_after_secs: 17 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "17");
    }

    #[test]
    fn only_approving_ones_own_request_is_forbidden() {
        assert_eq!(ApiError::from(ActionRefused::OwnRequest).status(), StatusCode::FORBIDDEN);
        let conflicts = [
            ActionRefused::ApprovalWindowClosed,
            ActionRefused::MissingActor,
            ActionRefused::AlreadyApproved { by: "bob".to_owned() },
            ActionRefused::AlreadyBrokenGlass { by: "bob".to_owned() },
            ActionRefused::ReasonRequired,
        ];
        for refused in conflicts {
            assert_eq!(ApiError::from(refused.clone()).status(), StatusCode::CONFLICT, "{refused}");
        }
    }
}
