//! What the OpenAPI document says beyond the wire types: path parameters, the multipart upload
//! body, and the error responses several operations share. Handlers name these in their
//! `#[utoipa::path]` annotations; `openapi` assembles the document from the handlers.

use rescaler_shared::api::ErrorEnvelope;
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// A configured cluster, in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only describes the path in the document")]
pub struct ClusterPath {
    /// The cluster id from the configuration.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    cluster: String,
}

/// A job of a configured cluster, in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only describes the path in the document")]
pub struct JobPath {
    /// The cluster id from the configuration.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    cluster: String,
    /// The Flink job id: 32 lowercase hex characters.
    #[param(pattern = "^[0-9a-f]{32}$")]
    job: String,
}

/// A rescale request, in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only describes the path in the document")]
pub struct RescalePath {
    /// The request id: 32 lowercase hex characters.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// The multipart body of an artifact upload: the first part with a file name is the jar.
#[derive(ToSchema)]
#[expect(dead_code, reason = "only describes the body in the document")]
pub struct ArtifactUpload {
    /// The jar (a zip file); its file name is kept, reduced to letters, digits, `.`, `-` and `_`.
    #[schema(value_type = String, format = Binary, content_media_type = "application/java-archive")]
    file: Vec<u8>,
}

// Error responses several operations share, each once: a handler's `responses(...)` names the
// ones that apply next to its own tuples. Each answers the `ErrorEnvelope`.

/// 400 from an extractor: the JSON body does not parse or has wrong field types.
#[derive(IntoResponses)]
#[response(status = 400, description = "Bad JSON or wrong field types")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct BadBody(ErrorEnvelope);

/// 401: the `Caller` extractor found no token, or one it does not know.
#[derive(IntoResponses)]
#[response(status = 401, description = "No or an unknown token")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct Unauthenticated(ErrorEnvelope);

/// 400 of the job routes: the path's job id is not 32 hex characters.
#[derive(IntoResponses)]
#[response(status = 400, description = "The job id is not a Flink job id")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct BadJobId(ErrorEnvelope);

/// 403 of a read that needs the viewer role on the cluster.
#[derive(IntoResponses)]
#[response(status = 403, description = "The caller cannot view this cluster")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct CannotViewCluster(ErrorEnvelope);

/// 403 of an action that needs the admin role on the cluster.
#[derive(IntoResponses)]
#[response(status = 403, description = "The caller is not an admin of this cluster")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct NotClusterAdmin(ErrorEnvelope);

/// 404 of a route that names a cluster and a job.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such cluster or job")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct NoSuchClusterOrJob(ErrorEnvelope);

/// 404 of the `/rescales/{id}` routes: a request the caller cannot view is not found either.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such request, or the caller cannot view its cluster")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct NoSuchRequest(ErrorEnvelope);

/// 422 of the user actions on a request.
#[derive(IntoResponses)]
#[response(status = 422, description = "The comment or reason is missing or too long")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct BadComment(ErrorEnvelope);

/// 503 of an operation that reads only the record store.
#[derive(IntoResponses)]
#[response(status = 503, description = "The record store is unavailable")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct StoreUnavailable(ErrorEnvelope);

/// 503 of an operation that reads only Flink.
#[derive(IntoResponses)]
#[response(status = 503, description = "Flink is unavailable")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct FlinkUnavailable(ErrorEnvelope);

/// 503 of an operation that reads Flink and the record store.
#[derive(IntoResponses)]
#[response(status = 503, description = "Flink or the record store is unavailable")]
#[expect(dead_code, reason = "only describes the response in the document")]
pub struct FlinkOrStoreUnavailable(ErrorEnvelope);
