//! A managed job's one identity across resubmits.
//!
//! A savepoint rescale gives the job a new Flink job id (and a rollback another). A
//! [`Deployment`] is what stays: its id is the Flink job id the product first managed, and its
//! lineage lists every Flink job id it has had, the current one last — like the Flink
//! Kubernetes Operator's `FlinkDeployment` or a managed service's application name. Requests,
//! savepoints, history and charts belong to the deployment, whichever of its job ids they name.

use serde::{Deserialize, Serialize};

use crate::operation::{Operation, event_kind};

/// One managed job and the Flink job ids it has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    /// Stable: the Flink job id the product first managed.
    pub id: String,
    pub cluster_id: String,
    pub name: String,
    /// The Flink job that carries the workload now (or last did).
    pub current_job_id: String,
    /// Every Flink job id of the deployment, oldest first.
    pub lineage: Vec<LineageEntry>,
}

/// One Flink job id a deployment has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageEntry {
    pub job_id: String,
    /// When the product first recorded it.
    pub since_ms: u64,
    /// The rescale request that submitted it; `None` for the job the deployment started from.
    #[serde(default)]
    pub operation_id: Option<String>,
}

impl Deployment {
    /// A deployment that starts from a running job the product did not submit.
    pub fn adopt(cluster_id: &str, job_id: &str, name: &str, now_ms: u64) -> Self {
        Self {
            id: job_id.to_owned(),
            cluster_id: cluster_id.to_owned(),
            name: name.to_owned(),
            current_job_id: job_id.to_owned(),
            lineage: vec![LineageEntry { job_id: job_id.to_owned(), since_ms: now_ms, operation_id: None }],
        }
    }

    pub fn has_job(&self, job_id: &str) -> bool {
        self.lineage.iter().any(|entry| entry.job_id == job_id)
    }

    /// Every Flink job id, oldest first.
    pub fn job_ids(&self) -> impl Iterator<Item = &str> {
        self.lineage.iter().map(|entry| entry.job_id.as_str())
    }

    /// Records the jobs `operation` submitted (the restarted job, then a rollback job), in that
    /// order; the last one submitted becomes current. Answers whether anything changed, so that
    /// calling it again after a crash writes nothing.
    pub fn follow(&mut self, operation: &Operation, now_ms: u64) -> bool {
        let mut changed = false;
        for job_id in submitted_job_ids(operation) {
            if !self.has_job(job_id) {
                self.lineage.push(LineageEntry {
                    job_id: job_id.to_owned(),
                    since_ms: now_ms,
                    operation_id: Some(operation.id.clone()),
                });
                self.current_job_id = job_id.to_owned();
                changed = true;
            }
        }
        changed
    }
}

/// The Flink jobs an operation submitted (or found submitted), oldest first, read from its
/// events: the restarted job, then the rollback job.
pub fn submitted_job_ids(operation: &Operation) -> Vec<&str> {
    let submitted = |kinds: [&str; 2]| operation.events.iter().any(|event| kinds.contains(&event.kind.as_str()));
    let mut job_ids = Vec::new();
    if let Some(new_job_id) = &operation.new_job_id
        && submitted([event_kind::JOB_SUBMITTED, event_kind::JOB_FOUND])
    {
        job_ids.push(new_job_id.as_str());
    }
    if let Some(rollback_job_id) = &operation.rollback_job_id
        && submitted([event_kind::ROLLBACK_SUBMITTED, event_kind::ROLLBACK_JOB_FOUND])
    {
        job_ids.push(rollback_job_id.as_str());
    }
    job_ids
}
