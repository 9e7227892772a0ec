//! What a pass reads from Flink before it decides: what to read ([`Needs`]) and what it read
//! ([`Observation`]).

use serde::{Deserialize, Serialize};

use crate::flink::{ClusterView, JobView, SavepointStatus};

/// What Flink said about one id: it does not exist, or here it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen<T> {
    /// Flink answered that this id does not exist.
    Absent,
    Present(T),
}

impl<T> Seen<T> {
    pub fn present(&self) -> Option<&T> {
        match self {
            Self::Absent => None,
            Self::Present(value) => Some(value),
        }
    }
}

/// What one reconcile pass read. `None` means "not read in this pass".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub now_ms: u64,
    /// The original job ([`Operation::job_id`]).
    #[serde(default)]
    pub job: Option<Seen<JobView>>,
    /// The job this operation submitted at the target parallelism ([`Needs::new_job`]).
    #[serde(default)]
    pub new_job: Option<Seen<JobView>>,
    /// The job this operation submitted at the original parallelism on rollback
    /// ([`Needs::rollback_job`]).
    #[serde(default)]
    pub rollback_job: Option<Seen<JobView>>,
    /// The status of the stop-with-savepoint trigger ([`Needs::savepoint`]).
    #[serde(default)]
    pub savepoint: Option<SavepointStatus>,
    #[serde(default)]
    pub cluster: Option<ClusterView>,
    /// The savepoint directory configured for the cluster. Configuration, not read from Flink:
    /// the backend always fills it when one is configured.
    #[serde(default)]
    pub savepoint_directory: Option<String>,
    /// Flink could not be reached or answered with a server error; why.
    #[serde(default)]
    pub flink_unavailable: Option<String>,
    /// How many passes in a row before this one found Flink unavailable (0 when unknown);
    /// drives the backoff.
    #[serde(default)]
    pub unavailable_streak: u32,
}

impl Observation {
    /// An observation at `now_ms` that read nothing.
    pub fn at(now_ms: u64) -> Self {
        Self {
            now_ms,
            job: None,
            new_job: None,
            rollback_job: None,
            savepoint: None,
            cluster: None,
            savepoint_directory: None,
            flink_unavailable: None,
            unavailable_streak: 0,
        }
    }
}

/// What the backend should read before calling [`decide`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Needs {
    /// Read the original job into [`Observation::job`].
    pub job: bool,
    /// Read this job into [`Observation::new_job`].
    pub new_job: Option<String>,
    /// Read this job into [`Observation::rollback_job`].
    pub rollback_job: Option<String>,
    /// Read this savepoint trigger into [`Observation::savepoint`].
    pub savepoint: Option<SavepointQuery>,
    /// Read the cluster overview into [`Observation::cluster`].
    pub cluster: bool,
}

impl Needs {
    /// Nothing to read: the pass needs no Flink access.
    pub fn is_nothing(&self) -> bool {
        *self == Self::default()
    }
}

/// A savepoint trigger to look up (`GET /jobs/:job_id/savepoints/:trigger_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointQuery {
    pub job_id: String,
    pub trigger_id: String,
}
