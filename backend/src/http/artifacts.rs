//! Job artifacts (jars) in the store, deployments from them, and adopting running jobs.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use rescaler_shared::api::{Artifact, DeployRequest, DeployResponse, JobLink, LinkRequest, VertexLoad};

use super::clusters::{cluster, flink_error, job_view};
use super::extract::{Body, Caller};
use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::flink::RunJar;
use crate::reconcile::{ReconcileError, now_ms};

/// The largest jar accepted (the Lambda entry point is limited further by API Gateway).
pub const MAX_ARTIFACT_BYTES: usize = 256 * 1024 * 1024;

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub async fn upload(
    State(state): State<AppState>,
    Caller(identity): Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Artifact>), ApiError> {
    if !identity.max_role().is_some_and(|role| role >= Role::Requester) {
        return Err(ApiError::Forbidden("uploading an artifact needs the requester role".to_owned()));
    }
    let mut multipart = multipart.map_err(|rejection| ApiError::BadRequest(format!("expected a multipart upload: {}", rejection.body_text())))?;
    while let Some(field) = multipart.next_field().await.map_err(|error| ApiError::BadRequest(format!("unreadable upload: {}", error.body_text())))? {
        let Some(file_name) = field.file_name().map(str::to_owned) else { continue };
        let bytes = field.bytes().await.map_err(|error| ApiError::BadRequest(format!("unreadable upload: {}", error.body_text())))?;
        if !bytes.starts_with(b"PK\x03\x04") {
            return Err(ApiError::Unprocessable(format!("{file_name} is not a jar (zip) file")));
        }
        let safe_name: String = file_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(128)
            .collect();
        let artifact = state.records.put_artifact(&safe_name, bytes, &identity.name, now_ms()).await?;
        return Ok((StatusCode::CREATED, Json(artifact)));
    }
    Err(ApiError::BadRequest("the upload has no file part".to_owned()))
}

pub async fn list(State(state): State<AppState>, Caller(_identity): Caller) -> Result<Json<Vec<Artifact>>, ApiError> {
    Ok(Json(state.records.artifacts().await?))
}

fn engine_error(error: ReconcileError) -> ApiError {
    match error {
        ReconcileError::Flink(flink) => flink_error(flink),
        ReconcileError::Store(store) => store.into(),
        other => ApiError::Unprocessable(other.to_string()),
    }
}

pub async fn deploy(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Path(cluster_id): Path<String>,
    Body(request): Body<DeployRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Admin)?;
    if !is_sha256(&request.artifact_sha256) {
        return Err(ApiError::BadRequest("artifact_sha256 must be 64 lowercase hex characters".to_owned()));
    }
    if state.records.artifact(&request.artifact_sha256).await?.is_none() {
        return Err(ApiError::NotFound(format!("no artifact {}", request.artifact_sha256)));
    }
    if !(1..=32768).contains(&request.parallelism) {
        return Err(ApiError::Unprocessable("parallelism must be between 1 and 32768".to_owned()));
    }
    let jar_id = state.engine.jar_on_cluster(&request.artifact_sha256, handle).await.map_err(engine_error)?;
    let run = RunJar {
        entry_class: request.entry_class.clone(),
        program_args: request.args.clone(),
        parallelism: Some(request.parallelism),
        ..RunJar::default()
    };
    let job_id = handle.client.run_jar(&jar_id, &run).await.map_err(flink_error)?;
    let link = JobLink {
        cluster_id: cluster_id.clone(),
        job_id: job_id.clone(),
        artifact_sha256: request.artifact_sha256,
        entry_class: request.entry_class,
        args: request.args,
        linked_by: identity.name.clone(),
        linked_at_ms: now_ms(),
    };
    state.records.put_job_link(&link).await?;
    Ok((StatusCode::CREATED, Json(DeployResponse { job_id, link })))
}

pub async fn link(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Path((cluster_id, job_id)): Path<(String, String)>,
    Body(request): Body<LinkRequest>,
) -> Result<Json<JobLink>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Admin)?;
    if !is_sha256(&request.artifact_sha256) {
        return Err(ApiError::BadRequest("artifact_sha256 must be 64 lowercase hex characters".to_owned()));
    }
    job_view(handle, &job_id).await?;
    if state.records.artifact(&request.artifact_sha256).await?.is_none() {
        return Err(ApiError::NotFound(format!("no artifact {}", request.artifact_sha256)));
    }
    let link = JobLink {
        cluster_id,
        job_id,
        artifact_sha256: request.artifact_sha256,
        entry_class: request.entry_class,
        args: request.args,
        linked_by: identity.name.clone(),
        linked_at_ms: now_ms(),
    };
    state.records.put_job_link(&link).await?;
    Ok(Json(link))
}

pub async fn metrics(
    State(state): State<AppState>,
    Caller(identity): Caller,
    Path((cluster_id, job_id)): Path<(String, String)>,
) -> Result<Json<Vec<VertexLoad>>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    let job = job_view(handle, &job_id).await?;
    let loads = futures::future::join_all(job.vertices.iter().map(|vertex| async {
        let metrics = handle.client.vertex_metrics(&job.id, &vertex.id).await.unwrap_or_default();
        VertexLoad {
            vertex_id: vertex.id.clone(),
            name: vertex.name.clone(),
            parallelism: vertex.parallelism,
            busy_time_ms_per_second: metrics.busy_time_ms_per_second,
            backpressured_time_ms_per_second: metrics.backpressured_time_ms_per_second,
            num_records_in_per_second: metrics.num_records_in_per_second,
        }
    }))
    .await;
    Ok(Json(loads))
}
