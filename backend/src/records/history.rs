//! Load history: each deployment's sampled vertex metrics, in two bounded documents (the rules
//! are `rescaler_shared::history`'s).
//!
//! | key | what |
//! |---|---|
//! | `history/<cluster>/<deployment>/recent.json` | the last two hours of samples as taken, rewritten by compare-and-swap on every sample |
//! | `history/<cluster>/<deployment>/day.json` | five-minute points for 24 hours, rewritten by compare-and-swap when samples fold out of the recent window (at most every five minutes) |
//!
//! Both are written as compact JSON (the shapes are documented in `rescaler_shared::history`).
//! The day document is written before the recent one is trimmed: a writer that stops between
//! the two leaves samples in both, which the next fold skips and readers see once.

use bytes::Bytes;
use rescaler_shared::history::{self, LoadHistory, LoadSample};

use super::Records;
use crate::store::{JsonStore, StoreError, StoreResult, Version};

fn recent_key(cluster_id: &str, deployment_id: &str) -> String {
    format!("history/{cluster_id}/{deployment_id}/recent.json")
}

fn day_key(cluster_id: &str, deployment_id: &str) -> String {
    format!("history/{cluster_id}/{deployment_id}/day.json")
}

/// Compare-and-swap attempts of one document before a sample gives up for this pass.
const WRITE_ATTEMPTS: u32 = 8;

impl Records {
    /// Stores one sample of a deployment's load, taken at `sample.at_ms`; samples that leave
    /// the recent window at `now_ms` fold into the day document first. A retried sample is
    /// stored once. A compare-and-swap that keeps losing to other writers is logged and the
    /// sample dropped (the next pass samples again): only a store that fails, or a document
    /// that cannot be read, is an error.
    pub async fn record_load_sample(
        &self,
        cluster_id: &str,
        deployment_id: &str,
        sample: &LoadSample,
        now_ms: u64,
    ) -> StoreResult<()> {
        let key = recent_key(cluster_id, deployment_id);
        for attempt in 0..WRITE_ATTEMPTS {
            let (mut recent, version) = self.history_document(&key, LoadHistory::recent).await?;
            if !recent.append(sample.clone()) {
                return Ok(());
            }
            let leaving = history::fold_out(&mut recent, now_ms);
            if !leaving.samples.is_empty() && !self.fold_into_day(cluster_id, deployment_id, &leaving, now_ms).await? {
                return Ok(());
            }
            match self.write_history(&key, &recent, version.as_ref()).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_conflict() => back_off(attempt).await,
                Err(error) => return Err(error),
            }
        }
        gave_up(&key, sample.at_ms);
        Ok(())
    }

    /// What a reader sees of a deployment's load at `now_ms`: the day's points, then the
    /// recent samples, nothing older than a day (two reads, concurrently).
    pub async fn load_history(&self, cluster_id: &str, deployment_id: &str, now_ms: u64) -> StoreResult<LoadHistory> {
        let (recent_key, day_key) = (recent_key(cluster_id, deployment_id), day_key(cluster_id, deployment_id));
        let (recent, day) = futures::future::try_join(
            self.history_document(&recent_key, LoadHistory::recent),
            self.history_document(&day_key, LoadHistory::day),
        )
        .await?;
        let mut merged = history::merged(&recent.0, &day.0);
        merged.retain_since(now_ms.saturating_sub(history::DAY_MS));
        Ok(merged)
    }

    /// Folds `leaving` into the deployment's day document. Returns false when a conflict on it
    /// persisted: then the recent document must not be trimmed (logged already).
    async fn fold_into_day(
        &self,
        cluster_id: &str,
        deployment_id: &str,
        leaving: &LoadHistory,
        now_ms: u64,
    ) -> StoreResult<bool> {
        let key = day_key(cluster_id, deployment_id);
        for attempt in 0..WRITE_ATTEMPTS {
            let (mut day, version) = self.history_document(&key, LoadHistory::day).await?;
            if !history::fold_into(&mut day, leaving, now_ms) {
                return Ok(true);
            }
            match self.write_history(&key, &day, version.as_ref()).await {
                Ok(()) => return Ok(true),
                Err(error) if error.is_conflict() => back_off(attempt).await,
                Err(error) => return Err(error),
            }
        }
        gave_up(&key, leaving.newest_ms().unwrap_or_default());
        Ok(false)
    }

    /// A history document and its version, or `empty()` and no version when there is none yet.
    /// Samples out of time order (or twice at one time) are put in order and the reader carries
    /// on, with a warning: the next write stores the repaired document. Only JSON that does not
    /// parse as a history is an error.
    async fn history_document(
        &self,
        key: &str,
        empty: fn() -> LoadHistory,
    ) -> StoreResult<(LoadHistory, Option<Version>)> {
        Ok(match self.store.get_json::<LoadHistory>(key).await? {
            Some((mut document, version)) => {
                let stored = document.samples.len();
                if document.put_in_order() {
                    tracing::warn!(
                        history.key = key,
                        samples.stored = stored,
                        samples.kept = document.samples.len(),
                        "load history samples were out of time order: sorted on read, the next write stores them so"
                    );
                }
                (document, Some(version))
            }
            None => (empty(), None),
        })
    }

    /// Creates the document when it had no version, else replaces that version.
    async fn write_history(&self, key: &str, document: &LoadHistory, version: Option<&Version>) -> StoreResult<()> {
        let body = serde_json::to_vec(document)
            .map(Bytes::from)
            .map_err(|error| StoreError::Corrupt { key: key.to_owned(), detail: error.to_string() })?;
        match version {
            Some(version) => self.store.replace(key, body, version).await?,
            None => self.store.create(key, body).await?,
        };
        Ok(())
    }
}

/// A short, growing pause with some jitter, so that two writers that collided do not collide again.
async fn back_off(attempt: u32) {
    let jitter_ms = u64::from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.subsec_nanos()) % 20,
    );
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt + 1) * 10 + jitter_ms)).await;
}

fn gave_up(key: &str, at_ms: u64) {
    tracing::warn!(
        history.key = key,
        sample.at_ms = at_ms,
        attempts = WRITE_ATTEMPTS,
        "load history kept changing under this write: the sample is dropped, the next pass samples again"
    );
}
