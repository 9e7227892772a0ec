//! Typed records on top of the [`Store`]: operations, the one-active-operation-per-job markers,
//! artifacts, job links, the savepoint catalog and the audit log. Key layout:
//!
//! | key | what |
//! |---|---|
//! | `operations/<op>.json` | an [`Operation`], rewritten by compare-and-swap |
//! | `active/<cluster>/<deployment>.json` | the id of the deployment's one non-terminal operation and how far its claim got (see `active`; keyed by job id for records from before deployments) |
//! | `active/<cluster>/<deployment>.next/…` | whether a pass must read that operation: quiet until a time, or woken (see `quiet`) |
//! | `artifacts/<sha256>/meta.json`, `artifacts/<sha256>/jar` | an uploaded jar |
//! | `links/<cluster>/<job>.json` | how to resubmit a job: artifact, entry class, arguments (see `links`) |
//! | `savepoints/<cluster>/<job>/<op>.json` | a savepoint the product took |
//! | `audit/<at_ms>-<op or id>-<n>.json` | one append-only audit event, never rewritten |
//! | `deployments/…`, `deployment-of/…` | a managed job's identity and lineage (see `deployments`) |
//! | `history/<cluster>/<deployment>/{recent,day}.json` | a managed job's load history: the last 2 h as sampled, 5-minute points for 24 h (see `history`) |
//! | `notifications/<op>/<n>-<channel>.json`, `outbox/<delivery>.json` | one notification delivery and its attempts; the marker while it is pending (see `outbox`) |
//! | `users/<name>.json` | a signed-in user's email and roles, for mail to people (see `users`) |
//! | `schedules/<id>.json`, `live-schedules/<id>.json` | a recurring schedule; the marker while it awaits approval or is active (see `schedules`) |
//! | `index/…` | the listing index: operations newest first, by phase group, job and deployment; the audit log newest first; the requests awaiting approval whole, for the badge (see `index`) |
//!
//! Architecture Invariant: the reconciler lists `active/` only, so a pass costs a number of
//! store calls that grows with active operations, not with stored ones — with the operations
//! due, in fact: one that is quiet (awaiting approval, not before a time) is not read (see
//! `quiet`); listings read the index, so a page costs a number of calls that grows with the
//! page.

mod active;
mod deployments;
mod history;
pub mod index;
mod links;
mod outbox;
pub mod quiet;
mod schedules;
mod uploads;
mod users;

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use rescaler_shared::api::{Artifact, AuditEvent, SavepointRecord};
use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;
use sha2::{Digest, Sha256};

use crate::store::{JsonStore, Store, StoreResult, Version};

pub use active::{ActiveMarker, Claim, CreateError};
pub use index::{BadCursor, Cursor, IndexPage, OperationSource};
pub use links::{JOB_DEPLOYED, JOB_LINKED, LinkError, link_artifact};
pub use outbox::{EmailRouting, OutboxMarker, Routing};
pub use quiet::ActiveDeployment;
pub use uploads::{ArtifactUploadRecord, MAX_UPLOAD_BYTES, PART_BYTES, UPLOAD_VALID_FOR_MS, UploadError, ZIP_MAGIC};
pub use users::{SeenUsers, UserRecord, user_key};

/// The typed record layer.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
    routing: Arc<Routing>,
    index: Arc<index::IndexMemo>,
}

fn operation_key(id: &str) -> String {
    format!("operations/{id}.json")
}

impl Records {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, routing: Arc::default(), index: Arc::default() }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn operation(&self, id: &str) -> StoreResult<Option<(Operation, Version)>> {
        self.store.get_json(&operation_key(id)).await
    }

    /// Compare-and-swap write of an operation outside a reconcile pass (the API's decisions, a
    /// re-link): a wake key first, so that no pass leaves the operation unread (`quiet`).
    pub async fn replace_operation(&self, operation: &Operation, expected: &Version) -> StoreResult<Version> {
        self.wake(operation).await?;
        self.write_operation(operation, expected).await
    }

    /// Compare-and-swap write of an operation by the reconcile pass stepping it: no wake key
    /// (a pass moves an operation only when it is due, and looks again itself).
    pub async fn replace_operation_in_pass(&self, operation: &Operation, expected: &Version) -> StoreResult<Version> {
        self.write_operation(operation, expected).await
    }

    /// Every write of an operation goes through here, so the index entry of its phase group is
    /// written before it, and those of earlier groups removed after it.
    async fn write_operation(&self, operation: &Operation, expected: &Version) -> StoreResult<Version> {
        let known = self.memo_group(&operation.id);
        self.index_group_before_write(operation).await?;
        let version = self.store.replace_json(&operation_key(&operation.id), operation, expected).await?;
        self.index_group_after_write(operation).await;
        // The badge's document holds requests awaiting approval: this one's copy follows when
        // it awaits, or when this process does not know yet that it left (once per request).
        if index::group_of(operation) == PhaseGroup::AwaitingApproval
            || known.is_none_or(|group| group == PhaseGroup::AwaitingApproval)
        {
            self.awaiting_view_after_write(operation, false).await;
        }
        Ok(version)
    }

    /// Every stored operation, newest first, read one by one: for listings before the index is
    /// backfilled, and for tests.
    pub async fn all_operations(&self) -> StoreResult<Vec<Operation>> {
        let mut operations = Vec::new();
        for key in self.store.list("operations/").await? {
            if let Some((operation, _)) = self.store.get_json::<Operation>(&key).await? {
                operations.push(operation);
            }
        }
        operations.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then_with(|| a.id.cmp(&b.id)));
        Ok(operations)
    }

    /// Stores a jar (idempotent: the key is its sha256) and its metadata.
    pub async fn put_artifact(
        &self,
        file_name: &str,
        bytes: Bytes,
        uploaded_by: &str,
        now_ms: u64,
    ) -> StoreResult<Artifact> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let meta_key = format!("artifacts/{sha256}/meta.json");
        if let Some((existing, _)) = self.store.get_json::<Artifact>(&meta_key).await? {
            return Ok(existing);
        }
        let artifact = Artifact {
            sha256: sha256.clone(),
            file_name: file_name.to_owned(),
            size_bytes: bytes.len() as u64,
            uploaded_by: uploaded_by.to_owned(),
            uploaded_at_ms: now_ms,
        };
        ignore_conflict(self.store.create(&format!("artifacts/{sha256}/jar"), bytes).await)?;
        ignore_conflict(self.store.create_json(&meta_key, &artifact).await)?;
        Ok(artifact)
    }

    pub async fn artifact(&self, sha256: &str) -> StoreResult<Option<Artifact>> {
        Ok(self.store.get_json(&format!("artifacts/{sha256}/meta.json")).await?.map(|(a, _)| a))
    }

    pub async fn artifacts(&self) -> StoreResult<Vec<Artifact>> {
        let mut artifacts = Vec::new();
        for key in self.store.list("artifacts/").await? {
            if key.ends_with("/meta.json")
                && let Some((artifact, _)) = self.store.get_json::<Artifact>(&key).await?
            {
                artifacts.push(artifact);
            }
        }
        artifacts.sort_by_key(|artifact| std::cmp::Reverse(artifact.uploaded_at_ms));
        Ok(artifacts)
    }

    /// Records a savepoint in the catalog (idempotent per operation).
    pub async fn record_savepoint(&self, record: &SavepointRecord) -> StoreResult<()> {
        let key = format!("savepoints/{}/{}/{}.json", record.cluster_id, record.job_id, record.operation_id);
        ignore_conflict(self.store.create_json(&key, record).await)
    }

    /// The savepoints the product took of a job, newest first.
    pub async fn savepoints(&self, cluster_id: &str, job_id: &str) -> StoreResult<Vec<SavepointRecord>> {
        let mut records = Vec::new();
        for key in self.store.list(&format!("savepoints/{cluster_id}/{job_id}/")).await? {
            if let Some((record, _)) = self.store.get_json::<SavepointRecord>(&key).await? {
                records.push(record);
            }
        }
        records.sort_by_key(|record| std::cmp::Reverse(record.taken_at_ms));
        Ok(records)
    }

    /// Appends an audit event. `dedup` makes the key deterministic, so that a retried step
    /// writes its event once.
    /// Its index entry is written first.
    pub async fn audit(&self, event: &AuditEvent, dedup: &str) -> StoreResult<()> {
        let key = index::audit_key(event.at_ms, dedup);
        if let Some(entry) = index::audit_entry_key(&key) {
            ignore_conflict(self.store.create(&entry, Bytes::from_static(b"{}")).await)?;
        }
        ignore_conflict(self.store.create_json(&key, event).await)
    }

    /// Audits the operation's events from index `from` on. The key derives from the operation
    /// and the event's index, so whoever writes an event's audit entry first (the API, the
    /// reconciler, or the backfill when the operation ends) writes the only one. The events
    /// that notify are then put in the outbox (`outbox.rs`), just as idempotently.
    pub async fn audit_operation_events(&self, operation: &Operation, from: usize) -> StoreResult<()> {
        // Written concurrently: a step's writes cost one round trip, not one per event.
        let writes = operation.events.iter().enumerate().skip(from).map(|(index, event)| {
            let audit = AuditEvent {
                at_ms: event.at_ms,
                actor: event.actor.clone().unwrap_or_else(|| "system".to_owned()),
                action: event.kind.clone(),
                operation_id: Some(operation.id.clone()),
                cluster_id: Some(operation.cluster_id.clone()),
                job_id: Some(operation.job_id.clone()),
                message: event.message.clone(),
            };
            async move { self.audit(&audit, &format!("{}-{index:04}", operation.id)).await }
        });
        futures::future::try_join_all(writes).await?;
        // Every event that is audited is also offered to the notification routes: one place,
        // whoever wrote the event.
        self.enqueue_notifications(operation, from, wall_clock_ms()).await
    }

    /// The newest `limit` audit events, newest first.
    pub async fn audit_events(&self, limit: usize) -> StoreResult<Vec<AuditEvent>> {
        Ok(self.audit_page(None, limit, &|_| true, wall_clock_ms()).await?.items)
    }
}

pub(crate) fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0)
}

/// Where audit events live: written by [`Records::audit`] only, create-only (the template's
/// bucket policy refuses overwrites and deletes under it).
pub(crate) const AUDIT_PREFIX: &str = "audit/";

/// How many objects a reader of many (a page, the active markers) reads at once.
pub const READS_AT_ONCE: usize = 50;

/// Runs `reads` [`READS_AT_ONCE`] at a time; answers their results in order, or the first error.
/// (Callers collect the futures first: a stream over a borrowing closure is not `Send` enough
/// for axum's handlers.)
pub async fn read_many<T>(reads: Vec<impl Future<Output = StoreResult<T>>>) -> StoreResult<Vec<T>> {
    futures::stream::iter(reads).buffered(READS_AT_ONCE).try_collect().await
}

fn ignore_conflict<T>(result: StoreResult<T>) -> StoreResult<()> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.is_conflict() => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
    use rescaler_shared::phase::Phase;

    use super::{CreateError, Records};
    use crate::store::DirStore;

    /// A request by alice for `job_id` on cluster `c`, created at 1 ms.
    pub(crate) fn request(id: &str, job_id: &str) -> Operation {
        Operation::new(
            id.to_owned(),
            OperationRequest {
                cluster_id: "c".into(),
                job_id: job_id.into(),
                job_name: "j".into(),
                target: Target::Uniform { parallelism: 2 },
                strategy: Strategy::Auto,
                reason: "r".into(),
                requested_by: "alice".into(),
                required_approvals: 1,
                approval_window_ms: 1000,
                verify_timeout_ms: 1000,
                artifact: None,
                autoscaling: None,
            },
            1,
        )
    }

    #[tokio::test]
    async fn a_second_request_for_a_busy_job_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
        let first = request("a1", "job1");
        records.create_operation(&first).await.expect("first request");
        records.create_operation(&request("b1", "job2")).await.expect("another job is free");
        let refused = records.create_operation(&request("a2", "job1")).await;
        assert!(
            matches!(&refused, Err(CreateError::JobBusy { operation_id, .. }) if operation_id == "a1"),
            "{refused:?}"
        );
        // Once the first ends, the job is free again even if its marker was left behind.
        let (mut ended, version) = records.operation("a1").await.expect("read").expect("exists");
        ended.enter(Phase::Cancelled { by: "alice".into(), comment: "no".into() }, 2);
        records.replace_operation(&ended, &version).await.expect("cancel");
        records.create_operation(&request("a3", "job1")).await.expect("job free after the first ended");
        assert_eq!(records.active_operation_ids().await.expect("list").len(), 2);
    }
}
