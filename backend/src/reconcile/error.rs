//! Why a reconcile pass failed.

use crate::cluster::ClusterError;
use crate::flink::FlinkError;
use crate::savepoint_storage::SavepointStorageError;
use crate::store::StoreError;

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("flink: {0}")]
    Flink(#[from] FlinkError),
    #[error("operation {0} not found")]
    MissingOperation(String),
    #[error("operation {operation_id} names unknown cluster {cluster_id}")]
    UnknownCluster { operation_id: String, cluster_id: String },
    #[error("cannot submit: {0}")]
    Artifact(String),
    #[error(transparent)]
    SavepointStorage(#[from] SavepointStorageError),
    #[error(transparent)]
    Msf(#[from] crate::cluster::msf::MsfError),
    #[error("{0}")]
    Unsupported(String),
}

impl From<ClusterError> for ReconcileError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Flink(error) => Self::Flink(error),
            ClusterError::Store(error) => Self::Store(error),
            ClusterError::Artifact(detail) => Self::Artifact(detail),
            ClusterError::SavepointStorage(error) => Self::SavepointStorage(error),
            ClusterError::Msf(error) => Self::Msf(error),
            ClusterError::Unsupported(detail) => Self::Unsupported(detail),
        }
    }
}
