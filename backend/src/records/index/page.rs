//! Reading a page through the index: entries from the cursor on, newest first, merged across
//! one or more index prefixes, each record read concurrently and judged by the caller.

use serde::de::DeserializeOwned;

use super::{Cursor, MISSING_GRACE_MS, parse_entry_name};
use crate::records::read_many;
use crate::store::{JsonStore, Store, StoreResult};

/// A page of records and the cursor after it (`None` on the last page).
#[derive(Debug, Clone)]
pub struct IndexPage<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What a reader makes of a record an entry points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// On the page.
    Keep,
    /// Not for this listing (a filter, or not the caller's to see).
    Skip,
    /// The entry can never be right again (the record moved on to a later group): remove it.
    Stale,
}

/// One page read through the index.
pub(crate) struct Scan<'a, T> {
    pub store: &'a dyn Store,
    /// Index prefixes, each ending in `/`, whose entries are merged.
    pub prefixes: Vec<String>,
    pub after: Option<&'a Cursor>,
    pub limit: usize,
    /// The most entries one page looks at before it answers what it has, with a cursor.
    pub max_scan: usize,
    /// The key of the record an entry names.
    pub record_key: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub judge: &'a (dyn Fn(&T) -> Verdict + Sync),
    pub now_ms: u64,
}

impl<T: DeserializeOwned + Send> Scan<'_, T> {
    pub async fn run(self) -> StoreResult<IndexPage<T>> {
        let mut items = Vec::new();
        let mut after = self.after.map(|cursor| cursor.entry().to_owned());
        let mut scanned = 0;
        while items.len() < self.limit {
            let need = self.limit - items.len();
            let names = self.names_after(after.as_deref(), need.saturating_add(1)).await?;
            let more = names.len() > need;
            let taken: Vec<String> = names.into_iter().take(need).collect();
            let Some(last) = taken.last().cloned() else { break };
            let reads: Vec<_> = taken.iter().map(|name| self.read(name)).collect();
            let records: Vec<Option<T>> = read_many(reads).await?;
            for (name, record) in taken.iter().zip(records) {
                match record {
                    Some(record) => match (self.judge)(&record) {
                        Verdict::Keep => items.push(record),
                        Verdict::Skip => {}
                        Verdict::Stale => self.remove(name).await,
                    },
                    None => self.missing(name).await,
                }
            }
            scanned += taken.len();
            after = Some(last);
            if !more {
                return Ok(IndexPage { items, next: None });
            }
            if scanned >= self.max_scan {
                break;
            }
        }
        // A full page, or as far as one page may look: more may follow.
        Ok(IndexPage { items, next: after.map(Cursor::after) })
    }

    /// Up to `count` entry names after `after`, merged from every prefix, newest first.
    async fn names_after(&self, after: Option<&str>, count: usize) -> StoreResult<Vec<String>> {
        let lists = self.prefixes.iter().map(|prefix| async move {
            let start = after.map(|name| format!("{prefix}{name}"));
            let keys = self.store.list_page(prefix, start.as_deref(), count).await?;
            Ok::<_, crate::store::StoreError>(
                keys.into_iter()
                    .filter_map(|key| key.strip_prefix(prefix.as_str()).map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
        });
        let mut names: Vec<String> = futures::future::try_join_all(lists).await?.into_iter().flatten().collect();
        names.sort_unstable();
        names.dedup();
        names.truncate(count);
        Ok(names)
    }

    async fn read(&self, name: &str) -> StoreResult<Option<T>> {
        let Some(key) = (self.record_key)(name) else { return Ok(None) };
        Ok(self.store.get_json::<T>(&key).await?.map(|(record, _)| record))
    }

    /// An entry whose record is not there: a create between its entries and its record, or one
    /// that never finished. Only the second is removed, once it is old enough to be sure.
    async fn missing(&self, name: &str) {
        let old = parse_entry_name(name).is_none_or(|(at_ms, _)| at_ms.saturating_add(MISSING_GRACE_MS) < self.now_ms);
        if old {
            self.remove(name).await;
        }
    }

    async fn remove(&self, name: &str) {
        for prefix in &self.prefixes {
            if let Err(error) = self.store.delete(&format!("{prefix}{name}")).await {
                tracing::warn!(index.entry = name, %error, "cannot remove an index entry");
            }
        }
    }
}
