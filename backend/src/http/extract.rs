//! Extractors that answer in the API's error envelope: the caller's identity, JSON and raw
//! bodies, path and query parameters. Each rejection becomes an `ApiError` through a `From`
//! impl in `error.rs`.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::auth::Identity;

/// The authenticated caller.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        let identity = state.auth.authenticate(header).await?;
        // The user directory, for mail to people; never fails the request.
        if let Err(error) = state.records.note_user(&identity, crate::reconcile::now_ms()).await {
            tracing::warn!(%error, user = %identity.name, "cannot update the user directory");
        }
        Ok(Self(identity))
    }
}

/// A JSON body; bad JSON and wrong field types are a 400 in the envelope, not axum's text.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// A body read whole, whatever its content type; one too large or cut short is a 400 in the
/// envelope.
#[derive(FromRequest)]
#[from_request(rejection(ApiError))]
pub struct RawBody(pub axum::body::Bytes);

/// Path parameters; a bad one (say invalid UTF-8 after percent-decoding) is a 400 in the
/// envelope, not axum's text.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

/// Query parameters; an unknown parameter or a bad value is a 400 in the envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

/// The filters of a list, in the query; like `QueryParams`, but the 400 says "invalid filter".
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(super::error::InvalidFilter))]
pub struct Filters<T>(pub T);
