//! Where an operation is in its lifecycle: the [`Phase`] it is in, with the data valid there
//! only, its name, and the span of time it spent in each.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an operation is in its lifecycle, with the data valid in that phase only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for enough approvals (or a break-glass) before the approval window closes.
    AwaitingApproval,
    /// Approved; the next pass re-runs pre-flight and starts execution. Nothing touched yet.
    Approved,
    /// Savepoint strategy: stopping the job with a savepoint. The trigger id is written before
    /// the stop call, so a retried call reuses it.
    Stopping {
        trigger_id: String,
    },
    /// Savepoint strategy: the savepoint is complete (its location written); submitting the job
    /// at the target parallelism under a derived job id.
    Restarting {
        savepoint_location: String,
        new_job_id: String,
        since_ms: u64,
    },
    /// In-place strategy: sending the target resource requirements to the adaptive scheduler.
    Applying {
        since_ms: u64,
    },
    /// MSF: taking the request's own snapshot of the application, which keeps running. The
    /// conditional token is the application's when execution started: the update sends it, so
    /// a change made elsewhere since is refused rather than overwritten.
    Snapshotting {
        snapshot_name: String,
        conditional_token: String,
        since_ms: u64,
    },
    /// MSF: the snapshot is ready; updating the application to the target parallelism,
    /// restoring from it, under the same conditional token.
    Updating {
        snapshot_name: String,
        conditional_token: String,
        since_ms: u64,
    },
    /// Waiting for `job_id` to run at the target parallelism.
    Verifying {
        job_id: String,
        since_ms: u64,
    },
    /// The rescale failed after touching the job; restoring the original parallelism.
    RollingBack {
        reason: String,
        rollback: RollbackPlan,
    },
    /// The job runs at the target parallelism.
    Completed,
    /// The rescale failed and the job runs at its original parallelism again.
    RolledBack {
        reason: String,
    },
    /// The operation stopped without reaching its goal; `reason` says what became of the job
    /// and what an operator should do.
    Failed {
        reason: String,
    },
    Rejected {
        by: String,
        comment: String,
    },
    Cancelled {
        by: String,
        comment: String,
    },
    /// Not approved within the approval window.
    Expired,
}

/// How a rollback restores the original parallelism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackPlan {
    /// Savepoint strategy: cancel the failed new job if it is still alive, then resubmit the
    /// job at its original parallelism from the same savepoint.
    Resubmit {
        failed_job_id: String,
        savepoint_location: String,
        rollback_job_id: String,
        since_ms: u64,
        /// When the rollback job was submitted (or first seen).
        #[serde(default)]
        submitted_at_ms: Option<u64>,
    },
    /// In-place strategy: send the original resource requirements back.
    InPlace {
        since_ms: u64,
        /// When the original requirements were sent, or when Flink acts on them if that is
        /// later (its cooldown): the wait for the job runs from then.
        #[serde(default)]
        requirements_sent_at_ms: Option<u64>,
    },
    /// MSF: update the application back to its original parallelism, restoring from the
    /// request's snapshot (unless MSF's system rollback already brought it back).
    MsfUpdate {
        snapshot_name: String,
        since_ms: u64,
        /// When the rollback update was sent.
        #[serde(default)]
        sent_at_ms: Option<u64>,
    },
}

/// The name of a [`Phase`] without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    AwaitingApproval,
    Approved,
    Stopping,
    Restarting,
    Applying,
    Snapshotting,
    Updating,
    Verifying,
    RollingBack,
    Completed,
    RolledBack,
    Failed,
    Rejected,
    Cancelled,
    Expired,
}

impl PhaseName {
    pub const ALL: [Self; 15] = [
        Self::AwaitingApproval,
        Self::Approved,
        Self::Stopping,
        Self::Restarting,
        Self::Applying,
        Self::Snapshotting,
        Self::Updating,
        Self::Verifying,
        Self::RollingBack,
        Self::Completed,
        Self::RolledBack,
        Self::Failed,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The operation ended in this phase; nothing will move it again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::RolledBack | Self::Failed | Self::Rejected | Self::Cancelled | Self::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Approved => "approved",
            Self::Stopping => "stopping",
            Self::Restarting => "restarting",
            Self::Applying => "applying",
            Self::Snapshotting => "snapshotting",
            Self::Updating => "updating",
            Self::Verifying => "verifying",
            Self::RollingBack => "rolling_back",
            Self::Completed => "completed",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for PhaseName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Phase {
    pub fn name(&self) -> PhaseName {
        match self {
            Self::AwaitingApproval => PhaseName::AwaitingApproval,
            Self::Approved => PhaseName::Approved,
            Self::Stopping { .. } => PhaseName::Stopping,
            Self::Restarting { .. } => PhaseName::Restarting,
            Self::Applying { .. } => PhaseName::Applying,
            Self::Snapshotting { .. } => PhaseName::Snapshotting,
            Self::Updating { .. } => PhaseName::Updating,
            Self::Verifying { .. } => PhaseName::Verifying,
            Self::RollingBack { .. } => PhaseName::RollingBack,
            Self::Completed => PhaseName::Completed,
            Self::RolledBack { .. } => PhaseName::RolledBack,
            Self::Failed { .. } => PhaseName::Failed,
            Self::Rejected { .. } => PhaseName::Rejected,
            Self::Cancelled { .. } => PhaseName::Cancelled,
            Self::Expired => PhaseName::Expired,
        }
    }
}

/// The time an operation spent in one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseSpan {
    pub phase: PhaseName,
    pub started_at_ms: u64,
    /// `None` while the phase lasts.
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
}

impl PhaseSpan {
    pub fn duration_ms(&self) -> Option<u64> {
        self.ended_at_ms.map(|ended_at_ms| ended_at_ms.saturating_sub(self.started_at_ms))
    }
}
