//! Job artifacts (jars) in the store, deployments from them, and adopting running jobs.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use rescaler_shared::api::{Artifact, DeployRequest, DeployResponse, ErrorEnvelope, JobLink, LinkRequest, VertexLoad};
use rescaler_shared::user_action;

use super::clusters::{cluster, job_view};
use super::extract::{Body, Caller, PathParams};
use super::schema::{
    ArtifactUpload, BadJobId, CannotViewCluster, ClusterPath, FlinkOrStoreUnavailable, FlinkUnavailable, JobPath,
    NoSuchClusterOrJob, NotClusterAdmin, StoreUnavailable, Unauthenticated,
};
use super::{ApiError, AppState, require};
use crate::auth::{Identity, Role};
use crate::reconcile::now_ms;
use crate::records::{JOB_DEPLOYED, JOB_LINKED, link_artifact};

/// The largest jar accepted (the Lambda entry point is limited further by API Gateway).
pub const MAX_ARTIFACT_BYTES: usize = 256 * 1024 * 1024;

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Stores a jar as an artifact, addressed by its sha256.
#[utoipa::path(
    post,
    path = "/api/v1/artifacts",
    tag = "artifacts",
    operation_id = "upload_artifact",
    request_body(content = ArtifactUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored artifact", body = Artifact),
        (status = 400, description = "Not a multipart upload, or no file part", body = ErrorEnvelope),
        Unauthenticated,
        (status = 403, description = "The caller is not a requester anywhere", body = ErrorEnvelope),
        (status = 422, description = "The file is not a jar (zip) file", body = ErrorEnvelope),
        StoreUnavailable,
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    Caller(identity): Caller,
    // Not an extractor that rejects: the role is checked before the body.
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Artifact>), ApiError> {
    if !rescaler_shared::user_action::may_upload_artifacts(&identity) {
        return Err(ApiError::Forbidden("uploading an artifact needs the requester role".to_owned()));
    }
    let mut multipart = multipart?;
    while let Some(field) = multipart.next_field().await? {
        let Some(file_name) = field.file_name().map(str::to_owned) else { continue };
        let bytes = field.bytes().await?;
        if !bytes.starts_with(crate::records::ZIP_MAGIC) {
            return Err(ApiError::Unprocessable(format!("{file_name} is not a jar (zip) file")));
        }
        let safe_name = super::uploads::safe_file_name(&file_name);
        let artifact = state.records.put_artifact(&safe_name, bytes, &identity.name, now_ms()).await?;
        return Ok((StatusCode::CREATED, Json(artifact)));
    }
    Err(ApiError::BadRequest("the upload has no file part".to_owned()))
}

/// The stored artifacts.
#[utoipa::path(
    get,
    path = "/api/v1/artifacts",
    tag = "artifacts",
    operation_id = "list_artifacts",
    responses(
        (status = 200, description = "The artifacts", body = Vec<Artifact>),
        Unauthenticated,
        StoreUnavailable,
    ),
)]
pub async fn list(State(state): State<AppState>, Caller(_identity): Caller) -> Result<Json<Vec<Artifact>>, ApiError> {
    Ok(Json(state.records.artifacts().await?))
}

/// Starts a job from a stored artifact at a parallelism, and links the new job to it. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/deployments",
    tag = "artifacts",
    operation_id = "deploy",
    params(ClusterPath),
    request_body = DeployRequest,
    responses(
        (status = 201, description = "The new job and its link", body = DeployResponse),
        (status = 400, description = "Bad JSON, wrong field types or a malformed sha256", body = ErrorEnvelope),
        Unauthenticated,
        NotClusterAdmin,
        (status = 404, description = "No such cluster or artifact", body = ErrorEnvelope),
        (status = 422, description = "Parallelism out of range, or Flink refused the job", body = ErrorEnvelope),
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn deploy(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams(cluster_id): PathParams<String>,
    Body(request): Body<DeployRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    may_link(&identity, &cluster_id)?;
    if !is_sha256(&request.artifact_sha256) {
        return Err(ApiError::BadRequest("artifact_sha256 must be 64 lowercase hex characters".to_owned()));
    }
    if state.records.artifact(&request.artifact_sha256).await?.is_none() {
        return Err(ApiError::NotFound(format!("no artifact {}", request.artifact_sha256)));
    }
    if !(1..=32768).contains(&request.parallelism) {
        return Err(ApiError::Unprocessable("parallelism must be between 1 and 32768".to_owned()));
    }
    let mut link = JobLink {
        cluster_id: cluster_id.clone(),
        job_id: String::new(),
        artifact_sha256: request.artifact_sha256,
        entry_class: request.entry_class,
        args: request.args,
        linked_by: identity.name.clone(),
        linked_at_ms: 0,
    };
    let job_id = handle.start_job(&link_artifact(&link), request.parallelism).await?;
    link.job_id = job_id.clone();
    link.linked_at_ms = now_ms();
    // Code started: audited before anything else can fail.
    let parallelism = format!(", at parallelism {}", request.parallelism);
    state.records.audit_job_link(JOB_DEPLOYED, &link, &parallelism).await?;
    state.records.put_job_link(&link).await?;
    Ok((StatusCode::CREATED, Json(DeployResponse { job_id, link })))
}

/// Adopts a running job: records which artifact, entry class and arguments started it, so a
/// savepoint rescale can resubmit it. Audited; a request waiting for approval on the job takes
/// the new link and loses its approvals.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/jobs/{job}/link",
    tag = "artifacts",
    operation_id = "link_job",
    params(JobPath),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "The link; a request waiting for approval on the job now resubmits it and must be approved again", body = JobLink),
        (status = 400, description = "Bad JSON, wrong field types, a malformed sha256 or job id", body = ErrorEnvelope),
        Unauthenticated,
        NotClusterAdmin,
        (status = 404, description = "No such cluster, job or artifact", body = ErrorEnvelope),
        (status = 409, description = "An approved rescale request on the job resubmits other code", body = ErrorEnvelope),
        FlinkOrStoreUnavailable,
    ),
)]
pub async fn link(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
    Body(request): Body<LinkRequest>,
) -> Result<Json<JobLink>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    may_link(&identity, &cluster_id)?;
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
    // An approved request resubmits what was approved: no link changes it under it.
    state.records.check_relink(&link).await?;
    state.records.put_job_link(&link).await?;
    state.records.audit_job_link(JOB_LINKED, &link, "").await?;
    // A request waiting for approval takes the new code and must be approved again.
    state.records.apply_link(&link, link.linked_at_ms).await?;
    Ok(Json(link))
}

/// Refuses a caller who may not decide what code the cluster's jobs run (the shared rule).
fn may_link(identity: &Identity, cluster_id: &str) -> Result<(), ApiError> {
    if user_action::may_link_jobs(identity, cluster_id) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "linking or deploying a job needs the {} role on cluster {cluster_id}",
            user_action::LINKS_JOBS
        )))
    }
}

/// The load of each vertex of a job now, from Flink's metrics.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/jobs/{job}/metrics",
    tag = "clusters",
    operation_id = "job_metrics",
    params(JobPath),
    responses(
        (status = 200, description = "One entry per vertex; a metric Flink does not report is null", body = Vec<VertexLoad>),
        BadJobId,
        Unauthenticated,
        CannotViewCluster,
        NoSuchClusterOrJob,
        FlinkUnavailable,
    ),
)]
pub async fn metrics(
    State(state): State<AppState>,
    Caller(identity): Caller,
    PathParams((cluster_id, job_id)): PathParams<(String, String)>,
) -> Result<Json<Vec<VertexLoad>>, ApiError> {
    let handle = cluster(&state, &cluster_id)?;
    require(&identity, &cluster_id, Role::Viewer)?;
    let job = job_view(handle, &job_id).await?;
    let loads = futures::future::join_all(job.vertices.iter().map(|vertex| async {
        let metrics = handle.vertex_metrics(&job.id, &vertex.id).await.unwrap_or_default();
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
