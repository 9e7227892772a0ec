//! The listing index: request lists, the inbox badge and the audit log in a number of store
//! calls that grows with the page, not with what is stored.
//!
//! | key | what |
//! |---|---|
//! | `index/operations/all/<entry>` | every operation |
//! | `index/operations/phase/<group>/<entry>` | operations by [`PhaseGroup`]: `awaiting_approval`, `active`, `terminal` |
//! | `index/operations/job/<job>/<entry>` | operations by the Flink job they name |
//! | `index/operations/deployment/<cluster>/<deployment>/<entry>` | operations by deployment (by job id for records from before deployments) |
//! | `index/audit/<entry>` | every audit event |
//! | `index/awaiting.json` | the requests awaiting approval, whole, for the inbox badge (`awaiting.rs`) |
//! | `index/version.json`, `index/backfill.json` | the index serves listings; how far the backfill of older records got |
//!
//! An entry is an empty document named `<inverted ms>-<id>` (`cursor.rs`): a page is one list
//! call from the cursor plus one read per record, concurrently.
//!
//! Architecture Invariant: the index never hides a record. An entry is written before the record
//! it points to (an operation's before it is created, its new group's before a phase change is
//! written, an audit event's before the event); only entries that can no longer be right are
//! removed: those of an earlier group once the record moved on (groups only move forward), and,
//! after [`MISSING_GRACE_MS`], those whose record does not exist. Until the backfill has indexed
//! every record stored before the index existed, listings read every record as they used to.

mod awaiting;
mod backfill;
mod cursor;
mod listing;
mod page;

use super::AUDIT_PREFIX;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;

pub use awaiting::{AWAITING_VIEW_KEY, AwaitingView, REBUILT_EVERY_MS, VIEW_LIMIT};
pub use cursor::{BadCursor, Cursor, entry_name, parse_entry_name};
pub use listing::OperationSource;
pub use page::IndexPage;

use super::{Records, ignore_conflict};

/// Present once every record stored before the index existed is indexed.
pub const INDEX_VERSION_KEY: &str = "index/version.json";
/// How long an entry may point to a record that is not there before a reader removes it: far
/// longer than a create takes between writing its entries and its record.
pub const MISSING_GRACE_MS: u64 = 10 * 60 * 1000;
/// The prefix of the audit log's index.
pub const AUDIT_INDEX: &str = "index/audit/";

pub const fn operations_all() -> &'static str {
    "index/operations/all/"
}

pub fn operations_in(group: PhaseGroup) -> String {
    format!("index/operations/phase/{}/", group.as_str())
}

pub fn operations_of_job(job_id: &str) -> String {
    format!("index/operations/job/{job_id}/")
}

pub fn operations_of_deployment(cluster_id: &str, managed_job_id: &str) -> String {
    format!("index/operations/deployment/{cluster_id}/{managed_job_id}/")
}

/// The group an operation is in now.
pub fn group_of(operation: &Operation) -> PhaseGroup {
    PhaseGroup::of(operation.phase.name())
}

/// Every index key of an operation as it is now.
pub fn operation_entry_keys(operation: &Operation) -> Vec<String> {
    let name = entry_name(operation.created_at_ms, &operation.id);
    vec![
        format!("{}{name}", operations_all()),
        format!("{}{name}", operations_in(group_of(operation))),
        format!("{}{name}", operations_of_job(&operation.job_id)),
        format!("{}{name}", operations_of_deployment(&operation.cluster_id, operation.managed_job_id())),
    ]
}

/// The key of an audit event, `audit/<at_ms>-<dedup>.json` (the prefix is `records.rs`'s: only
/// `Records::audit` writes there, which `infra/check_template.py` checks).
pub fn audit_key(at_ms: u64, dedup: &str) -> String {
    format!("{AUDIT_PREFIX}{at_ms:013}-{dedup}.json")
}

/// The index key of the audit event at `audit_key`, if it is one.
pub fn audit_entry_key(audit_key: &str) -> Option<String> {
    let name = audit_key.strip_prefix(AUDIT_PREFIX)?.strip_suffix(".json")?;
    let (at_ms, dedup) = name.split_at_checked(13)?;
    let at_ms = at_ms.parse::<u64>().ok().filter(|_| at_ms.bytes().all(|b| b.is_ascii_digit()))?;
    let entry = entry_name(at_ms, dedup.strip_prefix('-')?);
    parse_entry_name(&entry)?;
    Some(format!("{AUDIT_INDEX}{entry}"))
}

/// What this process knows of the index, to spare store calls; losing it costs calls, never
/// correctness.
#[derive(Debug, Default)]
pub(super) struct IndexMemo {
    ready: AtomicBool,
    /// The group whose entry this process wrote, and whose earlier groups' entries it removed,
    /// per operation.
    groups: Mutex<HashMap<String, PhaseGroup>>,
}

const MEMO_LIMIT: usize = 10_000;

impl Records {
    /// Writes every entry of a new operation, before the operation itself.
    pub(super) async fn index_new_operation(&self, operation: &Operation) -> crate::store::StoreResult<()> {
        let writes = operation_entry_keys(operation)
            .into_iter()
            .map(|key| async move { ignore_conflict(self.store.create(&key, Bytes::from_static(b"{}")).await) });
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    /// Before a write of `operation`: the entry of the group it is in now exists.
    pub(super) async fn index_group_before_write(&self, operation: &Operation) -> crate::store::StoreResult<()> {
        let group = group_of(operation);
        if self.memo_group(&operation.id) == Some(group) {
            return Ok(());
        }
        let key = format!("{}{}", operations_in(group), entry_name(operation.created_at_ms, &operation.id));
        ignore_conflict(self.store.create(&key, Bytes::from_static(b"{}")).await)
    }

    /// After a write of `operation`: the entries of earlier groups go. A failure only leaves a
    /// stale entry, which readers skip and remove.
    pub(super) async fn index_group_after_write(&self, operation: &Operation) {
        let group = group_of(operation);
        if self.memo_group(&operation.id) == Some(group) {
            return;
        }
        let name = entry_name(operation.created_at_ms, &operation.id);
        for earlier in PhaseGroup::ALL.into_iter().filter(|earlier| *earlier < group) {
            if let Err(error) = self.store.delete(&format!("{}{name}", operations_in(earlier))).await {
                tracing::warn!(operation.id = %operation.id, %error, "cannot remove a stale index entry");
                return;
            }
        }
        let mut groups = self.index.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if groups.len() >= MEMO_LIMIT {
            groups.clear();
        }
        groups.insert(operation.id.clone(), group);
    }

    /// Removes the entries of an operation whose record a lost create removed.
    pub(super) async fn unindex_withdrawn(&self, operation: &Operation) {
        for key in operation_entry_keys(operation) {
            if let Err(error) = self.store.delete(&key).await {
                tracing::warn!(operation.id = %operation.id, %error, "cannot remove the index entry of a withdrawn request");
            }
        }
    }

    pub(super) fn memo_group(&self, operation_id: &str) -> Option<PhaseGroup> {
        self.index.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(operation_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::{AUDIT_INDEX, AUDIT_PREFIX, audit_entry_key, audit_key, entry_name};

    #[test]
    fn an_audit_key_maps_to_its_entry_and_back() {
        let key = audit_key(1_764_600_000_123, "op1-0003");
        assert_eq!(key, format!("{AUDIT_PREFIX}1764600000123-op1-0003.json"));
        assert_eq!(audit_entry_key(&key), Some(format!("{AUDIT_INDEX}{}", entry_name(1_764_600_000_123, "op1-0003"))));
        for bad in ["x.json", "12345678901234-a.json", "1764600000123-a"] {
            assert_eq!(audit_entry_key(&format!("{AUDIT_PREFIX}{bad}")), None, "{bad:?}");
        }
        assert_eq!(audit_entry_key("other/1764600000123-a.json"), None);
    }
}
