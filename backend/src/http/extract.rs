//! Extractors that answer in the API's error envelope: the caller's identity and JSON bodies.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::auth::Identity;

/// The authenticated caller.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        Ok(Self(state.auth.authenticate(header).await?))
    }
}

/// A JSON body; bad JSON and wrong field types are a 400 in the envelope, not axum's text.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    ApiError::BadRequest("expected a JSON body (content-type: application/json)".to_owned())
                }
                JsonRejection::JsonDataError(error) => {
                    ApiError::BadRequest(format!("invalid request body: {}", error.body_text()))
                }
                JsonRejection::JsonSyntaxError(error) => {
                    ApiError::BadRequest(format!("malformed JSON: {}", error.body_text()))
                }
                other => ApiError::BadRequest(format!("unreadable request body: {}", other.body_text())),
            }),
        }
    }
}

/// Path parameters; a bad one (say invalid UTF-8 after percent-decoding) is a 400 in the
/// envelope, not axum's text.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest(format!("invalid path: {}", rejection.body_text()))),
        }
    }
}
