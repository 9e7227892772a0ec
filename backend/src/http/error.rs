//! The one HTTP error type: every error leaves as the JSON envelope of `rescaler_shared::api`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rescaler_shared::api::{ErrorBody, ErrorEnvelope};

/// An error answered to a caller. Internal details are logged, never sent.
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
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error.detail = %detail, "internal error");
        }
        let envelope = ErrorEnvelope { error: ErrorBody { code: self.code().to_owned(), message: self.to_string() } };
        (self.status(), Json(envelope)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Conflict { .. } => {
                Self::Conflict("the record changed meanwhile; try again".to_owned())
            }
            crate::store::StoreError::InvalidKey { key } => Self::BadRequest(format!("invalid identifier in {key:?}")),
            crate::store::StoreError::Unavailable { detail } => {
                tracing::warn!(store.error = %detail, "store unavailable");
                Self::Unavailable("the record store is unavailable".to_owned())
            }
            crate::store::StoreError::Corrupt { key, detail } => {
                Self::Internal(format!("corrupt record {key}: {detail}"))
            }
        }
    }
}
