//! The `active/` markers: one non-terminal operation per deployment, and creating an operation
//! under that rule.
//!
//! A marker is claimed (`pending`), then the operation is stored, then the claim is confirmed by
//! a compare-and-swap from the version the creator claimed. A marker whose operation ended, or
//! was not stored yet, is taken over by compare-and-swap too, never deleted by a creator: a
//! creator whose claim was taken over learns it when its confirmation fails, claims again (its
//! operation now stored, so nobody takes the marker from it any more) or finds the job busy and
//! removes its operation. Of any number of concurrent creates for one job, exactly one is stored.
//!
//! A marker is removed only by [`Records::release_job`], which first marks it `released` by
//! compare-and-swap: a create that took the marker over meanwhile makes that write fail, and
//! the release leaves the marker alone. Creators wait a moment for a released marker to go,
//! and for a claim whose request is stored to be confirmed (it may still lose) before they call
//! the job busy with it.

use std::time::Duration;

use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;
use serde::{Deserialize, Serialize};

use super::{Records, operation_key};
use crate::store::{JsonStore, StoreError, StoreResult, Version};

/// What the `active/` marker of a deployment holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMarker {
    pub operation_id: String,
    /// How far the claim got; markers written before claims had stages named a stored
    /// operation, hence the default.
    #[serde(default)]
    pub claim: Claim,
}

/// The stage of a marker's claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Claimed by a create that may not have stored its operation yet.
    Pending,
    /// The operation is stored and holds the job.
    #[default]
    Confirmed,
    /// The operation ended; the marker is being removed.
    Released,
}

/// Why an operation could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("job {job_id} already has an active rescale request ({operation_id})")]
    JobBusy { job_id: String, operation_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one claim attempt found.
enum Claimed {
    /// The marker names this operation, at this version.
    Held(Version),
    /// Another operation holds the job.
    Busy(String),
    /// Someone wrote the marker in between: try again.
    Lost,
}

/// Claim-and-confirm rounds before a create gives up (each lost round means another creator
/// moved on).
const CREATE_ATTEMPTS: usize = 8;
/// How long a creator waits for a marker in passing to settle — released, to be removed; or
/// claimed by a create that has not confirmed yet, which may still lose — before taking it
/// over, or calling the job busy.
const SETTLE_WAIT: Duration = Duration::from_millis(50);
const SETTLE_WAITS: usize = 20;

pub(super) fn active_key(cluster_id: &str, managed_job_id: &str) -> String {
    format!("active/{cluster_id}/{managed_job_id}.json")
}

impl Records {
    /// Stores a new operation, refusing when its deployment already has a non-terminal one.
    /// Of concurrent creates for one deployment exactly one is stored; the others are refused
    /// with [`CreateError::JobBusy`].
    pub async fn create_operation(&self, operation: &Operation) -> Result<Version, CreateError> {
        // One active operation per deployment, whichever of its job ids it names: a second
        // rescale must not stop the job the first one is still verifying or rolling back.
        let key = active_key(&operation.cluster_id, operation.managed_job_id());
        let confirmed = ActiveMarker { operation_id: operation.id.clone(), claim: Claim::Confirmed };
        // A pass reads the deployment's operation whatever an earlier one left (`quiet.rs`).
        self.wake(operation).await?;
        // The listing index points to the request before it exists (`index.rs`).
        self.index_new_operation(operation).await?;
        let mut stored = None;
        for _ in 0..CREATE_ATTEMPTS {
            let claimed = match self.claim(&key, &operation.id).await {
                Ok(claimed) => claimed,
                Err(error) => return Err(self.withdraw(operation, stored.is_some(), error.into()).await),
            };
            let version = match claimed {
                Claimed::Held(version) => version,
                Claimed::Busy(holder) => {
                    let busy = CreateError::JobBusy { job_id: operation.job_id.clone(), operation_id: holder };
                    return Err(self.withdraw(operation, stored.is_some(), busy).await);
                }
                Claimed::Lost => continue,
            };
            if stored.is_none() {
                match self.store.create_json(&operation_key(&operation.id), operation).await {
                    Ok(version) => stored = Some(version),
                    // Another writer created this very id (two filers of one intent, see
                    // `recommendations::filing`): the request is theirs, and so is the claim.
                    Err(error) if error.is_conflict() => {
                        let operation_id = operation.id.clone();
                        return Err(CreateError::JobBusy { job_id: operation.job_id.clone(), operation_id });
                    }
                    // The write may have happened even so: remove it.
                    Err(error) => return Err(self.withdraw(operation, true, error.into()).await),
                }
            }
            match self.store.replace_json(&key, &confirmed, &version).await {
                Ok(_) => {
                    if super::index::group_of(operation) == PhaseGroup::AwaitingApproval {
                        self.awaiting_view_after_write(operation, false).await;
                    }
                    return Ok(stored.expect("stored above"));
                }
                // Taken over while the operation was being stored: claim again.
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(self.withdraw(operation, true, error.into()).await),
            }
        }
        let gave_up = CreateError::Store(StoreError::Conflict { key });
        Err(self.withdraw(operation, stored.is_some(), gave_up).await)
    }

    /// One attempt at making the marker name `operation_id`: create it, or take over a stale
    /// one by compare-and-swap.
    async fn claim(&self, key: &str, operation_id: &str) -> StoreResult<Claimed> {
        let pending = ActiveMarker { operation_id: operation_id.to_owned(), claim: Claim::Pending };
        let mut waits = 0;
        loop {
            match self.store.create_json(key, &pending).await {
                Ok(version) => return Ok(Claimed::Held(version)),
                Err(error) if error.is_conflict() => {}
                Err(error) => return Err(error),
            }
            let Some((holder, version)) = self.store.get_json::<ActiveMarker>(key).await? else {
                return Ok(Claimed::Lost);
            };
            if holder.operation_id == operation_id {
                return Ok(Claimed::Held(version));
            }
            let holder_request = match holder.claim {
                Claim::Released => None,
                Claim::Pending | Claim::Confirmed => self.operation(&holder.operation_id).await?,
            };
            let holds = holder_request.as_ref().is_some_and(|(existing, _)| !existing.is_terminal());
            // A release in progress, or a claim not confirmed yet: it settles in a moment (a
            // pending request the losers named could still lose, and be gone).
            let settling = holder.claim == Claim::Released || (holds && holder.claim == Claim::Pending);
            if settling && waits < SETTLE_WAITS {
                waits += 1;
                tokio::time::sleep(SETTLE_WAIT).await;
                continue;
            }
            if holds {
                return Ok(Claimed::Busy(holder.operation_id));
            }
            // Stale: its operation ended, or is not stored (its creator crashed, or is still
            // writing it and will learn that it lost), or its release never finished.
            return match self.store.replace_json(key, &pending, &version).await {
                Ok(version) => Ok(Claimed::Held(version)),
                Err(error) if error.is_conflict() => Ok(Claimed::Lost),
                Err(error) => Err(error),
            };
        }
    }

    /// A create that did not win removes the operation it stored, and answers `error`.
    async fn withdraw(&self, operation: &Operation, stored: bool, error: CreateError) -> CreateError {
        if stored {
            match self.store.delete(&operation_key(&operation.id)).await {
                Ok(()) => {
                    self.unindex_withdrawn(operation).await;
                    // A rebuild may have read it while it was stored.
                    self.awaiting_view_after_write(operation, true).await;
                }
                Err(delete_error) => {
                    tracing::error!(operation.id = %operation.id, error = %delete_error, "cannot remove a request that lost its job");
                }
            }
        }
        error
    }

    /// Ids of the non-terminal operations (one per busy job).
    pub async fn active_operation_ids(&self) -> StoreResult<Vec<String>> {
        let deployments = self.active_deployments().await?;
        let marked = self.marked_operations(&deployments.iter().collect::<Vec<_>>()).await?;
        Ok(marked.into_iter().flatten().collect())
    }

    /// The id of the non-terminal operation of a deployment (or, for records from before
    /// deployments, of a job), if any.
    pub async fn active_operation_for(&self, cluster_id: &str, managed_job_id: &str) -> StoreResult<Option<String>> {
        let Some((marker, _)) = self.store.get_json::<ActiveMarker>(&active_key(cluster_id, managed_job_id)).await?
        else {
            return Ok(None);
        };
        Ok(match self.operation(&marker.operation_id).await? {
            Some((operation, _)) if !operation.is_terminal() => Some(operation.id),
            _ => None,
        })
    }

    /// Frees the job of a terminal operation, if the marker is still that operation's: marks
    /// it released (compare-and-swap, so that a create that took it over keeps it), then
    /// removes it.
    pub async fn release_job(&self, operation: &Operation) -> StoreResult<()> {
        let key = active_key(&operation.cluster_id, operation.managed_job_id());
        let Some((marker, version)) = self.store.get_json::<ActiveMarker>(&key).await? else { return Ok(()) };
        if marker.operation_id != operation.id {
            return Ok(());
        }
        if marker.claim != Claim::Released {
            let released = ActiveMarker { operation_id: operation.id.clone(), claim: Claim::Released };
            match self.store.replace_json(&key, &released, &version).await {
                Ok(_) => {}
                // A create took the job over, or another release got there first.
                Err(error) if error.is_conflict() => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        // Its side keys stay: the passes remove them once the marker is gone, each when it may
        // (`quiet.rs`), and nothing may come between the release and this delete.
        self.store.delete(&key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use rescaler_shared::phase::Phase;
    use tokio::sync::{Mutex, oneshot};

    use super::{ActiveMarker, Claim, CreateError, active_key};
    use crate::records::Records;
    use crate::records::tests::request;
    use crate::store::{DirStore, JsonStore, Store, StoreFuture, Version};

    /// A directory store that, once armed, holds the next write of a chosen key until the test
    /// lets it go, telling the test when it got there.
    struct GatedStore {
        inner: DirStore,
        gate: Mutex<Option<Gate>>,
    }

    struct Gate {
        key: String,
        reached: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    }

    impl GatedStore {
        fn open(dir: &tempfile::TempDir) -> Arc<Self> {
            Arc::new(Self { inner: DirStore::open(dir.path()).expect("store"), gate: Mutex::new(None) })
        }

        /// Holds the next write of `key`: answers a receiver that resolves once it waits, and the
        /// sender that lets it go.
        async fn arm(&self, key: &str) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
            let (reached, reached_rx) = oneshot::channel();
            let (release_tx, release) = oneshot::channel();
            *self.gate.lock().await = Some(Gate { key: key.to_owned(), reached, release });
            (reached_rx, release_tx)
        }

        async fn pass(&self, key: &str) {
            let mut gate = self.gate.lock().await;
            if gate.as_ref().is_some_and(|gate| gate.key == key) {
                let Gate { reached, release, .. } = gate.take().expect("checked");
                drop(gate);
                let _ = reached.send(());
                let _ = release.await;
            }
        }
    }

    impl Store for GatedStore {
        fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<(Bytes, Version)>> {
            self.inner.get(key)
        }
        fn create<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, Version> {
            Box::pin(async move {
                self.pass(key).await;
                self.inner.create(key, body).await
            })
        }
        fn replace<'a>(&'a self, key: &'a str, body: Bytes, expected: &'a Version) -> StoreFuture<'a, Version> {
            Box::pin(async move {
                self.pass(key).await;
                self.inner.replace(key, body, expected).await
            })
        }
        fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
            Box::pin(async move {
                self.pass(key).await;
                self.inner.delete(key).await
            })
        }
        fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
            self.inner.list(prefix)
        }
        fn kind(&self) -> &'static str {
            "gated"
        }
    }

    #[tokio::test]
    async fn a_create_that_finds_a_claim_whose_request_is_not_stored_yet_leaves_exactly_one_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = GatedStore::open(&dir);
        let records = Records::new(store.clone());
        let (reached, release) = store.arm("operations/a1.json").await;
        // `a1` claims the job, then stalls while its record is written.
        let first = tokio::spawn({
            let records = records.clone();
            async move { records.create_operation(&request("a1", "job1")).await }
        });
        reached.await.expect("a1 reaches its record write");
        // Meanwhile `b1` finds a claim naming a request that does not exist: stale to it.
        let second = records.create_operation(&request("b1", "job1")).await;
        release.send(()).expect("a1 still waits");
        let first = first.await.expect("join");
        let answers = [first.is_ok(), second.is_ok()];
        assert_eq!(answers.iter().filter(|ok| **ok).count(), 1, "exactly one create wins: {first:?} / {second:?}");
        let loser = if first.is_ok() { &second } else { &first };
        assert!(matches!(loser, Err(CreateError::JobBusy { .. })), "the other is told the job is busy: {loser:?}");
        let stored = records.all_operations().await.expect("list");
        assert_eq!(stored.len(), 1, "one request stored: {:?}", stored.iter().map(|op| &op.id).collect::<Vec<_>>());
        let (marker, _) =
            records.store().get_json::<ActiveMarker>(&active_key("c", "job1")).await.expect("read").expect("marker");
        assert_eq!(marker, ActiveMarker { operation_id: stored[0].id.clone(), claim: Claim::Confirmed });
    }

    #[tokio::test]
    async fn a_release_that_races_a_new_request_leaves_the_new_request_its_marker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = GatedStore::open(&dir);
        let records = Records::new(store.clone());
        records.create_operation(&request("a1", "job1")).await.expect("first request");
        let (mut ended, version) = records.operation("a1").await.expect("read").expect("exists");
        ended.enter(Phase::Cancelled { by: "alice".into(), comment: "no".into() }, 2);
        records.replace_operation(&ended, &version).await.expect("cancel");
        // The reconciler has read the ended request's marker and is about to free the job ...
        let (reached, release) = store.arm(&active_key("c", "job1")).await;
        let releasing = tokio::spawn({
            let records = records.clone();
            let ended = ended.clone();
            async move { records.release_job(&ended).await }
        });
        reached.await.expect("the release reaches its write");
        // ... when a new request takes the marker over.
        records.create_operation(&request("a2", "job1")).await.expect("the job is free once the first ended");
        release.send(()).expect("the release still waits");
        releasing.await.expect("join").expect("release");
        assert_eq!(records.active_operation_for("c", "job1").await.expect("read").as_deref(), Some("a2"));
        let refused = records.create_operation(&request("a3", "job1")).await;
        assert!(
            matches!(refused, Err(CreateError::JobBusy { ref operation_id, .. }) if operation_id == "a2"),
            "{refused:?}"
        );
        // Once the new request ends, its release frees the job.
        let (mut second, version) = records.operation("a2").await.expect("read").expect("exists");
        second.enter(Phase::Cancelled { by: "alice".into(), comment: "no".into() }, 3);
        records.replace_operation(&second, &version).await.expect("cancel");
        records.release_job(&second).await.expect("release");
        assert!(records.active_operation_ids().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_second_create_of_a_stored_request_leaves_it_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::new(GatedStore::open(&dir));
        records.create_operation(&request("a1", "job1")).await.expect("first create");
        let again = records.create_operation(&request("a1", "job1")).await;
        assert!(
            matches!(again, Err(CreateError::JobBusy { ref operation_id, .. }) if operation_id == "a1"),
            "{again:?}"
        );
        assert!(records.operation("a1").await.expect("read").is_some(), "the first filer's request stays");
    }
}
