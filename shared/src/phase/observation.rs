//! What a pass reads from Flink before it decides: what to read ([`Needs`]) and what it read
//! ([`Observation`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::restore_budget::CheckpointFacts;
use crate::flink::msf::{MsfOperation, MsfSnapshot};
use crate::flink::{ClusterView, JobView, ParallelismBounds, SavepointStatus};
use crate::schedule::Schedule;

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
    /// The original job's latest completed checkpoint, read with the cluster (before execution
    /// starts), for the restore budget; `None` when not read or when the job has none.
    #[serde(default)]
    pub latest_checkpoint: Option<CheckpointFacts>,
    /// The savepoint directory configured for the cluster. Configuration, not read from Flink:
    /// the backend always fills it when one is configured.
    #[serde(default)]
    pub savepoint_directory: Option<String>,
    /// The cluster's maintenance windows and freezes. Configuration, not read from Flink: the
    /// backend always fills it.
    #[serde(default)]
    pub schedule: Schedule,
    /// Completed savepoints found where the stop writes them or in the job's checkpoint
    /// history ([`Needs::savepoint_search`]); read only when the search is
    /// [`wanted`](SavepointSearch::wanted).
    #[serde(default)]
    pub found_savepoints: Option<Vec<FoundSavepoint>>,
    /// The original job's resource requirements as the adaptive scheduler has them
    /// ([`Needs::requirements`]); `None` when not read or not known.
    #[serde(default)]
    pub requirements: Option<BTreeMap<String, ParallelismBounds>>,
    /// MSF: the request's snapshot of the application ([`Needs::snapshot`]).
    #[serde(default)]
    pub snapshot: Option<Seen<MsfSnapshot>>,
    /// MSF: the update operation the request started ([`Needs::msf_operation`]); absent when
    /// MSF knows none.
    #[serde(default)]
    pub msf_operation: Option<Seen<MsfOperation>>,
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
            latest_checkpoint: None,
            savepoint_directory: None,
            schedule: Schedule::default(),
            found_savepoints: None,
            requirements: None,
            snapshot: None,
            msf_operation: None,
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
    /// Look for the stop's savepoint into [`Observation::found_savepoints`], when
    /// [`SavepointSearch::wanted`] says so.
    pub savepoint_search: Option<SavepointSearch>,
    /// Read the original job's resource requirements into [`Observation::requirements`].
    #[serde(default)]
    pub requirements: bool,
    /// MSF: read the application snapshot of this name into [`Observation::snapshot`].
    #[serde(default)]
    pub snapshot: Option<String>,
    /// MSF: read the request's update operation into [`Observation::msf_operation`].
    #[serde(default)]
    pub msf_operation: Option<MsfOperationQuery>,
}

/// The update operation a request started: by the id MSF answered, or — when a crash lost the
/// answer — the newest `UpdateApplication` operation started since the update was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsfOperationQuery {
    #[serde(default)]
    pub id: Option<String>,
    pub since_ms: u64,
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

/// Where to look for the savepoint of an operation's stop when Flink no longer knows the stop
/// trigger: the operation's own directory under the cluster's savepoint directory
/// ([`savepoint_target`](crate::operation::savepoint_target)), and the job's checkpoint history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointSearch {
    pub job_id: String,
    pub operation_id: String,
}

impl SavepointSearch {
    /// Whether a pass should search, from the job and the trigger status it read: Flink no
    /// longer knows the trigger and the job no longer runs, so the stop may have completed
    /// without Flink remembering where its savepoint went. (A running job is simply stopped
    /// again; searching then would only slow the stop down.)
    pub fn wanted(job: Option<&Seen<JobView>>, trigger: Option<&SavepointStatus>) -> bool {
        let stopped = match job {
            Some(Seen::Absent) => true,
            Some(Seen::Present(job)) => job.status.is_terminal(),
            None => false,
        };
        stopped && matches!(trigger, Some(SavepointStatus::Unknown))
    }
}

/// A completed savepoint found without the stop trigger's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundSavepoint {
    /// The savepoint's directory (the one holding `_metadata`), as Flink restores from it.
    pub location: String,
    pub found_in: SavepointSource,
    /// When it was written (the storage's modification time) or triggered (the checkpoint
    /// history), when known.
    #[serde(default)]
    pub taken_at_ms: Option<u64>,
}

/// Where a savepoint was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavepointSource {
    /// A `_metadata` file under the operation's savepoint directory.
    SavepointDirectory,
    /// The latest savepoint in the job's checkpoint history (`GET /jobs/:id/checkpoints`).
    CheckpointHistory,
}

impl SavepointSource {
    pub fn label(self) -> &'static str {
        match self {
            Self::SavepointDirectory => "the operation's savepoint directory",
            Self::CheckpointHistory => "the job's checkpoint history",
        }
    }
}
