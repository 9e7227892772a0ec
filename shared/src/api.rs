//! Wire types of the HTTP API that the console decodes too.

use serde::{Deserialize, Serialize};

/// The one JSON envelope every error response carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong, for people (`message`) and for programs (`code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `not_found` or `bad_request`.
    pub code: String,
    /// A lowercase sentence without a trailing period.
    pub message: String,
}

/// Answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// One append-only audit entry: who did what, when, to which request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at_ms: u64,
    /// A user name, or `system` for the reconciler.
    pub actor: String,
    /// What happened, e.g. `requested`, `approved`, `stop_triggered`, `break_glass`.
    pub action: String,
    #[serde(default)]
    pub operation_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    pub message: String,
}

/// A stored job artifact (a jar), addressed by its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub sha256: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub uploaded_by: String,
    pub uploaded_at_ms: u64,
}

/// How to resubmit a job: which artifact, entry class and arguments started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLink {
    pub cluster_id: String,
    pub job_id: String,
    pub artifact_sha256: String,
    #[serde(default)]
    pub entry_class: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub linked_by: String,
    pub linked_at_ms: u64,
}

/// A savepoint the product took, in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointRecord {
    pub cluster_id: String,
    pub job_id: String,
    pub operation_id: String,
    pub location: String,
    pub taken_at_ms: u64,
}
