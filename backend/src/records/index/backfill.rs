//! Indexing what was stored before the index existed: one batch per call, from where the last
//! batch left off (`index/backfill.json`), every write create-only; then `index/version.json`.
//! Idempotent and resumable: a crash repeats at most one batch, whose writes find their entries
//! there already; two backfills at once write the same entries.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use rescaler_shared::operation::Operation;
use serde::{Deserialize, Serialize};

use super::{INDEX_VERSION_KEY, audit_entry_key};
use crate::records::{Records, ignore_conflict};
use crate::store::{JsonStore, StoreResult};

const PROGRESS_KEY: &str = "index/backfill.json";
/// Records indexed per call.
const BATCH: usize = 500;
const CONCURRENCY: usize = 16;

/// How far the backfill got: the last key indexed of each prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Progress {
    #[serde(default)]
    operations_after: Option<String>,
    #[serde(default)]
    operations_done: bool,
    #[serde(default)]
    audit_after: Option<String>,
}

impl Records {
    /// Whether the index serves listings. When it does not yet, indexes one more batch of the
    /// records stored before it, and answers whether that finished it.
    pub async fn index_ready(&self) -> StoreResult<bool> {
        if self.index.ready.load(Ordering::Relaxed) {
            return Ok(true);
        }
        if self.store.get(INDEX_VERSION_KEY).await?.is_some() || self.backfill_batch().await? {
            self.index.ready.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        Ok(false)
    }

    /// Indexes everything stored before the index, batch after batch.
    pub async fn backfill_index(&self) -> StoreResult<()> {
        while !self.index_ready().await? {}
        Ok(())
    }

    /// One batch; `true` once the last one is done and the index is marked ready.
    async fn backfill_batch(&self) -> StoreResult<bool> {
        let stored = self.store.get_json::<Progress>(PROGRESS_KEY).await?;
        let (mut progress, version) = match stored {
            Some((progress, version)) => (progress, Some(version)),
            None => (Progress::default(), None),
        };
        let finished = if progress.operations_done {
            self.backfill_audit(&mut progress).await?
        } else {
            let keys = self.store.list_page("operations/", progress.operations_after.as_deref(), BATCH).await?;
            self.index_operation_keys(&keys).await?;
            progress.operations_after = keys.last().cloned().or(progress.operations_after);
            progress.operations_done = keys.len() < BATCH;
            // A short last batch leaves room for the audit log's first.
            progress.operations_done && self.backfill_audit(&mut progress).await?
        };
        if finished {
            ignore_conflict(self.store.create(INDEX_VERSION_KEY, Bytes::from_static(b"{\"version\":1}")).await)?;
            tracing::info!("listing index backfilled");
            return Ok(true);
        }
        // Another backfill that got further wins; this batch is written either way.
        ignore_conflict(match version {
            Some(version) => self.store.replace_json(PROGRESS_KEY, &progress, &version).await,
            None => self.store.create_json(PROGRESS_KEY, &progress).await,
        })?;
        Ok(false)
    }

    /// One batch of the audit log; `true` when it was the last.
    async fn backfill_audit(&self, progress: &mut Progress) -> StoreResult<bool> {
        let keys = self.store.list_page(super::super::AUDIT_PREFIX, progress.audit_after.as_deref(), BATCH).await?;
        self.index_audit_keys(&keys).await?;
        progress.audit_after = keys.last().cloned().or(progress.audit_after.take());
        Ok(keys.len() < BATCH)
    }

    async fn index_operation_keys(&self, keys: &[String]) -> StoreResult<()> {
        let writes: Vec<_> = keys.iter().map(|key| self.index_stored_operation(key)).collect();
        futures::stream::iter(writes).buffer_unordered(CONCURRENCY).try_collect::<Vec<()>>().await?;
        Ok(())
    }

    async fn index_stored_operation(&self, key: &str) -> StoreResult<()> {
        match self.store.get_json::<Operation>(key).await? {
            Some((operation, _)) => self.index_new_operation(&operation).await,
            None => Ok(()),
        }
    }

    async fn index_audit_keys(&self, keys: &[String]) -> StoreResult<()> {
        let entries: Vec<String> = keys.iter().filter_map(|key| audit_entry_key(key)).collect();
        let writes: Vec<_> = entries.iter().map(|entry| self.store.create(entry, Bytes::from_static(b"{}"))).collect();
        futures::stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .map(ignore_conflict)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
