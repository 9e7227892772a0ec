//! Typed records on top of the [`Store`]: operations, the one-active-operation-per-job markers,
//! artifacts, job links, the savepoint catalog and the audit log. Key layout:
//!
//! | key | what |
//! |---|---|
//! | `operations/<op>.json` | an [`Operation`], rewritten by compare-and-swap |
//! | `active/<cluster>/<deployment>.json` | the id of the deployment's one non-terminal operation (create-only; keyed by job id for records from before deployments) |
//! | `artifacts/<sha256>/meta.json`, `artifacts/<sha256>/jar` | an uploaded jar |
//! | `links/<cluster>/<job>.json` | how to resubmit a job: artifact, entry class, arguments |
//! | `savepoints/<cluster>/<job>/<op>.json` | a savepoint the product took |
//! | `audit/<at_ms>-<op or id>-<n>.json` | one append-only audit event, never rewritten |
//! | `deployments/…`, `deployment-of/…` | a managed job's identity and lineage (see `deployments`) |
//!
//! Architecture Invariant: the reconciler lists `active/` only, so a pass costs a number of
//! store calls that grows with active operations, not with stored ones.

mod deployments;

use std::sync::Arc;

use bytes::Bytes;
use rescaler_shared::api::{Artifact, AuditEvent, JobLink, SavepointRecord};
use rescaler_shared::operation::Operation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{JsonStore, Store, StoreError, StoreResult, Version};

/// What the `active/` marker of a job holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMarker {
    pub operation_id: String,
}

/// Why an operation could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("job {job_id} already has an active rescale request ({operation_id})")]
    JobBusy { job_id: String, operation_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The typed record layer.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
}

fn operation_key(id: &str) -> String {
    format!("operations/{id}.json")
}

fn active_key(cluster_id: &str, job_id: &str) -> String {
    format!("active/{cluster_id}/{job_id}.json")
}

impl Records {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stores a new operation, refusing when its job already has a non-terminal one.
    pub async fn create_operation(&self, operation: &Operation) -> Result<Version, CreateError> {
        // One active operation per deployment, whichever of its job ids it names: a second
        // rescale must not stop the job the first one is still verifying or rolling back.
        let marker_key = active_key(&operation.cluster_id, operation.managed_job_id());
        let marker = ActiveMarker { operation_id: operation.id.clone() };
        for _ in 0..3 {
            match self.store.create_json(&marker_key, &marker).await {
                Ok(_) => return Ok(self.store.create_json(&operation_key(&operation.id), operation).await?),
                Err(error) if error.is_conflict() => {
                    // Someone holds the job. A marker whose operation ended (or was never
                    // written, after a crash) is stale: clear it and try again.
                    let Some((holder, _)) = self.store.get_json::<ActiveMarker>(&marker_key).await? else { continue };
                    match self.operation(&holder.operation_id).await? {
                        Some((existing, _)) if !existing.is_terminal() => {
                            return Err(CreateError::JobBusy {
                                job_id: operation.job_id.clone(),
                                operation_id: existing.id,
                            });
                        }
                        _ => self.store.delete(&marker_key).await?,
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(CreateError::Store(StoreError::Conflict { key: marker_key }))
    }

    pub async fn operation(&self, id: &str) -> StoreResult<Option<(Operation, Version)>> {
        self.store.get_json(&operation_key(id)).await
    }

    /// Compare-and-swap write of an operation.
    pub async fn replace_operation(&self, operation: &Operation, expected: &Version) -> StoreResult<Version> {
        self.store.replace_json(&operation_key(&operation.id), operation, expected).await
    }

    /// Ids of the non-terminal operations (one per busy job).
    pub async fn active_operation_ids(&self) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        for key in self.store.list("active/").await? {
            if let Some((marker, _)) = self.store.get_json::<ActiveMarker>(&key).await? {
                ids.push(marker.operation_id);
            }
        }
        Ok(ids)
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

    /// Frees the job of a terminal operation, if the marker is still that operation's.
    pub async fn release_job(&self, operation: &Operation) -> StoreResult<()> {
        let key = active_key(&operation.cluster_id, operation.managed_job_id());
        if let Some((marker, _)) = self.store.get_json::<ActiveMarker>(&key).await?
            && marker.operation_id == operation.id
        {
            self.store.delete(&key).await?;
        }
        Ok(())
    }

    /// Every stored operation (for listings), newest first.
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

    /// The jar's bytes, checked against its sha256.
    pub async fn artifact_bytes(&self, sha256: &str) -> StoreResult<Option<Bytes>> {
        let key = format!("artifacts/{sha256}/jar");
        let Some((bytes, _)) = self.store.get(&key).await? else { return Ok(None) };
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(StoreError::Corrupt { key, detail: "sha256 does not match".to_owned() });
        }
        Ok(Some(bytes))
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

    /// Links a job to the artifact that runs it; a later link replaces an earlier one.
    pub async fn put_job_link(&self, link: &JobLink) -> StoreResult<()> {
        let key = format!("links/{}/{}.json", link.cluster_id, link.job_id);
        match self.store.get_json::<JobLink>(&key).await? {
            None => ignore_conflict(self.store.create_json(&key, link).await),
            Some((existing, _)) if existing == *link => Ok(()),
            Some((_, version)) => self.store.replace_json(&key, link, &version).await.map(|_| ()),
        }
    }

    pub async fn job_link(&self, cluster_id: &str, job_id: &str) -> StoreResult<Option<JobLink>> {
        Ok(self.store.get_json(&format!("links/{cluster_id}/{job_id}.json")).await?.map(|(l, _)| l))
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
    pub async fn audit(&self, event: &AuditEvent, dedup: &str) -> StoreResult<()> {
        let key = format!("audit/{:013}-{dedup}.json", event.at_ms);
        ignore_conflict(self.store.create_json(&key, event).await)
    }

    /// Audits the operation's events from index `from` on. The key derives from the operation
    /// and the event's index, so whoever writes an event's audit entry first (the API, the
    /// reconciler, or the backfill when the operation ends) writes the only one.
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
        Ok(())
    }

    /// The newest `limit` audit events, newest first.
    pub async fn audit_events(&self, limit: usize) -> StoreResult<Vec<AuditEvent>> {
        let keys = self.store.list("audit/").await?;
        let mut events = Vec::new();
        for key in keys.iter().rev().take(limit) {
            if let Some((event, _)) = self.store.get_json::<AuditEvent>(key).await? {
                events.push(event);
            }
        }
        Ok(events)
    }
}

fn ignore_conflict<T>(result: StoreResult<T>) -> StoreResult<()> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.is_conflict() => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
    use rescaler_shared::phase::Phase;

    use super::{CreateError, Records};
    use crate::store::DirStore;

    /// A request by alice for `job_id` on cluster `c`, created at 1 ms.
    pub(super) fn request(id: &str, job_id: &str) -> Operation {
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
