//! What happened to an operation and who did it: events, approvals, break-glass.

use serde::{Deserialize, Serialize};

/// Kinds of [`OperationEvent`] this crate writes. The backend may add its own.
pub mod event_kind {
    pub const REQUESTED: &str = "requested";
    pub const APPROVED: &str = "approved";
    pub const BREAK_GLASS: &str = "break_glass";
    pub const APPROVAL_COMPLETE: &str = "approval_complete";
    pub const REJECTED: &str = "rejected";
    /// The job was linked to other code while the request waited; its approvals were cleared.
    pub const RELINKED: &str = "relinked";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
    pub const EXECUTION_STARTED: &str = "execution_started";
    pub const STOP_TRIGGERED: &str = "stop_triggered";
    pub const SAVEPOINT_COMPLETED: &str = "savepoint_completed";
    pub const JOB_SUBMITTED: &str = "job_submitted";
    pub const JOB_FOUND: &str = "job_found";
    pub const REQUIREMENTS_SENT: &str = "requirements_sent";
    /// The job was first seen running at its target (the outage's end); verification goes on.
    pub const RUNS_AT_TARGET: &str = "runs_at_target";
    pub const VERIFIED: &str = "verified";
    pub const ROLLBACK_STARTED: &str = "rollback_started";
    pub const CANCEL_REQUESTED: &str = "cancel_requested";
    pub const ROLLBACK_SUBMITTED: &str = "rollback_submitted";
    pub const ROLLBACK_JOB_FOUND: &str = "rollback_job_found";
    pub const ROLLBACK_REQUIREMENTS_SENT: &str = "rollback_requirements_sent";
    /// MSF: the request's snapshot of the application was asked for.
    pub const SNAPSHOT_REQUESTED: &str = "snapshot_requested";
    /// MSF: `UpdateApplication` to the target was sent (or found sent).
    pub const APPLICATION_UPDATED: &str = "application_updated";
    /// MSF: `UpdateApplication` back to the original parallelism was sent.
    pub const ROLLBACK_UPDATE_SENT: &str = "rollback_update_sent";
    pub const ROLLED_BACK: &str = "rolled_back";
    pub const FAILED: &str = "failed";
}

/// Something that happened to an operation, for the audit trail and the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationEvent {
    pub at_ms: u64,
    /// The user who acted; `None` for the backend itself.
    #[serde(default)]
    pub actor: Option<String>,
    /// A stable snake_case kind, see [`event_kind`].
    pub kind: String,
    pub message: String,
}

impl OperationEvent {
    /// An event written by the backend.
    pub fn by_system(at_ms: u64, kind: &str, message: impl Into<String>) -> Self {
        Self { at_ms, actor: None, kind: kind.to_owned(), message: message.into() }
    }

    /// An event caused by a user.
    pub fn by_user(at_ms: u64, actor: &str, kind: &str, message: impl Into<String>) -> Self {
        Self { at_ms, actor: Some(actor.to_owned()), kind: kind.to_owned(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub by: String,
    pub at_ms: u64,
    #[serde(default)]
    pub comment: String,
}

/// An emergency bypass of the approval count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakGlass {
    pub by: String,
    pub at_ms: u64,
    pub reason: String,
}
