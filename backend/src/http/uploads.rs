//! Jar uploads in parts, straight to the store: a synchronous Lambda request carries at most
//! 6 MB, and Flink fat jars run to 300 MB. The API hands out where each part goes after its
//! role check, then completes the upload and registers the artifact from the stored object
//! (`records/uploads.rs` verifies size, sha256 and that it is a jar).
//!
//! On S3 the parts go to presigned `UploadPart` URLs. On the embedded store they come back to
//! this API at `PUT /api/v1/artifacts/uploads/{id}/parts/{n}`, authorised like a presigned URL
//! by an expiry and an HMAC of the upload, part and expiry under a key made at start-up.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Query, State};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use bytes::Bytes;
use rescaler_shared::api::{Artifact, BeginUpload, CompleteUpload, ErrorEnvelope, UploadPlan};

use super::extract::{Body, Caller, PathParams};
use super::schema::{StoreUnavailable, Unauthenticated};
use super::{ApiError, AppState};
use crate::notify::sign::hmac_sha256;
use crate::reconcile::now_ms;
use crate::records::{PART_BYTES, UploadError};
use crate::store::large::UploadTarget;

/// Signs the embedded store's part URLs; made at start-up, so a restart voids open uploads.
static PART_URL_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0_u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
});

fn part_signature(upload_id: &str, part_number: u32, expires_ms: u64) -> String {
    hex::encode(hmac_sha256(&*PART_URL_KEY, format!("{upload_id}/{part_number}/{expires_ms}").as_bytes()))
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Invalid(message) => ApiError::Unprocessable(message),
            UploadError::NotFound(id) => ApiError::NotFound(format!("no upload {id}")),
            UploadError::NotUploader(who) => ApiError::Forbidden(format!("only {who} may complete this upload")),
            UploadError::Unsupported => ApiError::Unavailable("the store keeps no large objects".to_owned()),
            UploadError::Store(error) => error.into(),
        }
    }
}

/// A jar's name as stored: letters, digits, `.`, `-` and `_`, at most 128.
pub(super) fn safe_file_name(file_name: &str) -> String {
    file_name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(128).collect()
}

/// Starts an upload of a jar in parts; answers where each part goes.
#[utoipa::path(
    post,
    path = "/api/v1/artifacts/uploads",
    tag = "artifacts",
    operation_id = "begin_upload",
    request_body = BeginUpload,
    responses(
        (status = 201, description = "Where to put each part", body = UploadPlan),
        (status = 400, description = "Bad JSON", body = ErrorEnvelope),
        Unauthenticated,
        (status = 403, description = "The caller is not a requester anywhere", body = ErrorEnvelope),
        (status = 422, description = "No file name, or a size out of range", body = ErrorEnvelope),
        StoreUnavailable,
    ),
)]
pub async fn begin(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Body(request): Body<BeginUpload>,
) -> Result<(StatusCode, Json<UploadPlan>), ApiError> {
    if !rescaler_shared::user_action::may_upload_artifacts(&identity) {
        return Err(ApiError::Forbidden("uploading an artifact needs the requester role".to_owned()));
    }
    let file_name = safe_file_name(&request.file_name);
    if !file_name.ends_with(".jar") {
        return Err(ApiError::Unprocessable("the file name must end with .jar".to_owned()));
    }
    let (record, target) = state.records.begin_upload(&file_name, request.size_bytes, &identity.name, now_ms()).await?;
    let part_urls = match target {
        UploadTarget::Presigned(urls) => urls,
        UploadTarget::ThroughApi => {
            let expires_ms = now_ms() + crate::records::UPLOAD_VALID_FOR_MS;
            (1..=record.parts)
                .map(|part| {
                    let signature = part_signature(&record.id, part, expires_ms);
                    format!(
                        "/api/v1/artifacts/uploads/{}/parts/{part}?expires={expires_ms}&signature={signature}",
                        record.id
                    )
                })
                .collect()
        }
    };
    Ok((StatusCode::CREATED, Json(UploadPlan { upload_id: record.id, part_size_bytes: PART_BYTES, part_urls })))
}

/// The signed query of a part URL on the embedded store.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PartQuery {
    expires: u64,
    signature: String,
}

/// Takes one part of an upload on the embedded store (authorised by its signed URL).
#[utoipa::path(
    put,
    path = "/api/v1/artifacts/uploads/{id}/parts/{part}",
    tag = "artifacts",
    operation_id = "put_upload_part",
    security(()),
    params(("id" = String, Path), ("part" = u32, Path), PartQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored; the ETag header names the part"),
        (status = 400, description = "No expiry or signature in the URL", body = ErrorEnvelope),
        (status = 403, description = "The URL's signature is wrong or expired", body = ErrorEnvelope),
        (status = 404, description = "No such upload", body = ErrorEnvelope),
        (status = 422, description = "The part has the wrong size", body = ErrorEnvelope),
        StoreUnavailable,
    ),
)]
pub async fn put_part(
    State(state): State<AppState>,
    PathParams((upload_id, part_number)): PathParams<(String, u32)>,
    query: Result<Query<PartQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Body,
) -> Result<(HeaderMap, Json<serde_json::Value>), ApiError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("a part URL needs expires and signature".to_owned()))?;
    // The signature before the body: nobody without a part URL makes the server read one.
    let expected = part_signature(&upload_id, part_number, query.expires);
    if query.expires < now_ms()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), query.signature.as_bytes()))
    {
        return Err(ApiError::Forbidden("this part URL is not valid (signature or expiry)".to_owned()));
    }
    let limit = usize::try_from(PART_BYTES).unwrap_or(usize::MAX);
    let body: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::Unprocessable(format!("a part has at most {PART_BYTES} bytes")))?;
    let etag = state.records.put_upload_part(&upload_id, part_number, body).await?;
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(axum::http::header::ETAG, value);
    }
    Ok((headers, Json(serde_json::json!({ "etag": etag }))))
}

/// Completes an upload: joins the parts, checks the jar, registers the artifact.
#[utoipa::path(
    post,
    path = "/api/v1/artifacts/uploads/{id}/complete",
    tag = "artifacts",
    operation_id = "complete_upload",
    params(("id" = String, Path)),
    request_body = CompleteUpload,
    responses(
        (status = 201, description = "The stored artifact", body = Artifact),
        (status = 400, description = "Bad JSON", body = ErrorEnvelope),
        Unauthenticated,
        (status = 403, description = "Someone else started this upload", body = ErrorEnvelope),
        (status = 404, description = "No such upload", body = ErrorEnvelope),
        (status = 422, description = "Parts missing or changed, wrong size, or not a jar", body = ErrorEnvelope),
        StoreUnavailable,
    ),
)]
pub async fn complete(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(upload_id): PathParams<String>,
    Body(request): Body<CompleteUpload>,
) -> Result<(StatusCode, Json<Artifact>), ApiError> {
    // The role again: it may have been taken away since the upload began.
    if !rescaler_shared::user_action::may_upload_artifacts(&identity) {
        return Err(ApiError::Forbidden("uploading an artifact needs the requester role".to_owned()));
    }
    let etags: Vec<String> = request.etags.iter().map(|etag| etag.trim().trim_matches('"').to_owned()).collect();
    let artifact = state.records.complete_upload(&upload_id, &etags, &identity.name, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(artifact)))
}
