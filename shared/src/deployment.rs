//! A managed job's one identity across resubmits.
//!
//! A savepoint rescale gives the job a new Flink job id (and a rollback another). A
//! [`Deployment`] is what stays: its id is the Flink job id the product first managed, and its
//! lineage lists every Flink job id it has had, the current one last — like the Flink
//! Kubernetes Operator's `FlinkDeployment` or a managed service's application name. Requests,
//! savepoints, history and charts belong to the deployment, whichever of its job ids they name.

use serde::{Deserialize, Serialize};

use crate::drift::{self, ApprovedRun, OutOfBand, Run};
use crate::operation::{Operation, PhaseName, event_kind};

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
    /// What the product approved it to run; `None` until the drift check first sees the
    /// adopted job running (see [`Deployment::drift`]).
    #[serde(default)]
    pub approved: Option<ApprovedRun>,
    /// The latest change made outside the product, until a rescale the product makes settles
    /// the deployment again.
    #[serde(default)]
    pub out_of_band: Option<OutOfBand>,
    /// The latest request the recommender filed for it (`request` mode), written before the
    /// request is: the intent a crashed filing resumes, and the clock of the rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_request: Option<RecommendedRequest>,
}

/// A request the recommender filed, or is filing: under this id, at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecommendedRequest {
    pub operation_id: String,
    pub at_ms: u64,
}

/// What the drift check should do about a deployment, from one look at its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// It runs as the product last knew it (or is mid-transition): nothing to write.
    Unchanged,
    /// Nothing was approved yet: record what runs as approved.
    Baseline(ApprovedRun),
    /// Something the product did not cause changed: claim it, then audit it.
    OutOfBand(OutOfBand),
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
            approved: None,
            out_of_band: None,
            recommended_request: None,
        }
    }

    /// The job the drift check looks at: the one last seen changed from outside, else the
    /// approved one, else the current one.
    pub fn watched_job_id(&self) -> &str {
        match (&self.out_of_band, &self.approved) {
            (Some(out_of_band), _) => &out_of_band.seen.job_id,
            (None, Some(approved)) => &approved.job_id,
            (None, None) => &self.current_job_id,
        }
    }

    /// Compares one settled look at the job (`seen`, see [`drift::settled`]) with how the
    /// product last knew it: the latest out-of-band change, else what it approved. A running job
    /// with nothing approved becomes the baseline; so does the first running look after a failed
    /// request.
    pub fn drift(&self, seen: &Run, now_ms: u64) -> Drift {
        let baseline = match (&self.out_of_band, &self.approved) {
            (Some(out_of_band), _) => out_of_band.seen.clone(),
            (None, Some(approved)) if !approved.is_unknown() => approved.run(),
            (None, approved) => {
                if seen.has_ended() {
                    return Drift::Unchanged;
                }
                return Drift::Baseline(ApprovedRun {
                    job_id: seen.job_id.clone(),
                    parallelism: seen.parallelism.clone(),
                    since_ms: now_ms,
                    operation_id: approved.as_ref().and_then(|approved| approved.operation_id.clone()),
                });
            }
        };
        match drift::compare(&baseline, seen) {
            None => Drift::Unchanged,
            Some(change) => Drift::OutOfBand(OutOfBand {
                at_ms: now_ms,
                seen: seen.clone(),
                message: format!("changed outside the product: {change}"),
                audited: false,
            }),
        }
    }

    /// After `operation` ended: what it leaves running becomes what is approved — the target
    /// when it completed, the original parallelism when it rolled back, to be looked at again
    /// when it failed — and an earlier out-of-band change is settled. Answers whether anything
    /// changed; requests that never started executing change nothing.
    pub fn settle(&mut self, operation: &Operation, now_ms: u64) -> bool {
        if !settles(operation)
            || self.approved.as_ref().is_some_and(|approved| approved.operation_id.as_deref() == Some(&operation.id))
        {
            return false;
        }
        let (job_id, parallelism) = match operation.phase.name() {
            PhaseName::Completed => (operation.current_job_id(), operation.target_parallelism.clone()),
            PhaseName::RolledBack => (operation.current_job_id(), operation.original_parallelism.clone()),
            // Failed: the lineage says which job it left current; what it runs at is read next.
            _ => (self.current_job_id.as_str(), Default::default()),
        };
        self.approved = Some(ApprovedRun {
            job_id: job_id.to_owned(),
            parallelism,
            since_ms: now_ms,
            operation_id: Some(operation.id.clone()),
        });
        self.out_of_band = None;
        true
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

/// The operation ended after it started executing (completed, rolled back or failed), so what
/// runs now is the product's doing.
pub fn settles(operation: &Operation) -> bool {
    matches!(operation.phase.name(), PhaseName::Completed | PhaseName::RolledBack | PhaseName::Failed)
        && !operation.original_parallelism.is_empty()
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
