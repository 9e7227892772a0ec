//! The listings the API serves through the index: a page of operations from one source (all,
//! a phase group, a job, a deployment) and a page of the audit log; before the backfill is done,
//! the same pages cut from every stored record.

use rescaler_shared::api::AuditEvent;
use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;

use super::page::{Scan, Verdict};
use super::{
    AUDIT_INDEX, Cursor, IndexPage, audit_key, entry_name, group_of, operations_all, operations_in,
    operations_of_deployment, operations_of_job, parse_entry_name,
};
use crate::records::{Records, operation_key};
use crate::store::StoreResult;

/// How many entries one page of a filtered listing looks at, at most, before it answers what it
/// found with a cursor.
pub const MAX_SCAN: usize = 1000;

/// Which index a request listing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationSource {
    All,
    Group(PhaseGroup),
    /// The requests naming this Flink job id.
    Job(String),
    /// A deployment's requests: those naming it, and those from before deployments naming one of
    /// its job ids.
    Deployment {
        cluster_id: String,
        deployment_id: String,
        job_ids: Vec<String>,
    },
}

impl OperationSource {
    fn prefixes(&self) -> Vec<String> {
        match self {
            Self::All => vec![operations_all().to_owned()],
            Self::Group(group) => vec![operations_in(*group)],
            Self::Job(job_id) => vec![operations_of_job(job_id)],
            Self::Deployment { cluster_id, deployment_id, job_ids } => {
                let mut prefixes = vec![operations_of_deployment(cluster_id, deployment_id)];
                prefixes.extend(job_ids.iter().map(|job_id| operations_of_job(job_id)));
                prefixes
            }
        }
    }

    /// Whether `operation` belongs to this source (the index answers with more, never fewer).
    fn holds(&self, operation: &Operation) -> Verdict {
        match self {
            Self::All => Verdict::Keep,
            Self::Group(group) => match group_of(operation).cmp(group) {
                std::cmp::Ordering::Equal => Verdict::Keep,
                // Moved on: groups only move forward, this entry is never right again.
                std::cmp::Ordering::Greater => Verdict::Stale,
                // Its new group's entry is written, the record not yet.
                std::cmp::Ordering::Less => Verdict::Skip,
            },
            Self::Job(job_id) => keep_if(&operation.job_id == job_id),
            Self::Deployment { cluster_id, deployment_id, job_ids } => keep_if(
                &operation.cluster_id == cluster_id
                    && (operation.deployment_id == *deployment_id
                        || (operation.deployment_id.is_empty() && job_ids.contains(&operation.job_id))),
            ),
        }
    }
}

fn keep_if(keep: bool) -> Verdict {
    if keep { Verdict::Keep } else { Verdict::Skip }
}

fn operation_record_key(name: &str) -> Option<String> {
    parse_entry_name(name).map(|(_, id)| operation_key(id))
}

fn audit_record_key(name: &str) -> Option<String> {
    parse_entry_name(name).map(|(at_ms, dedup)| audit_key(at_ms, dedup))
}

impl Records {
    /// A page of the operations of `source` that `keep` accepts, newest first, after `after`.
    pub async fn operations_page(
        &self,
        source: &OperationSource,
        after: Option<&Cursor>,
        limit: usize,
        keep: &(dyn Fn(&Operation) -> bool + Sync),
        now_ms: u64,
    ) -> StoreResult<IndexPage<Operation>> {
        let judge = |operation: &Operation| match source.holds(operation) {
            Verdict::Keep if keep(operation) => Verdict::Keep,
            Verdict::Keep => Verdict::Skip,
            other => other,
        };
        if !self.index_ready().await? {
            let operations = self.all_operations().await?;
            let named =
                operations.into_iter().map(|operation| (entry_name(operation.created_at_ms, &operation.id), operation));
            return Ok(cut_page(named, after, limit, |operation| judge(operation) == Verdict::Keep));
        }
        let max_scan =
            if *source == OperationSource::Group(PhaseGroup::AwaitingApproval) { usize::MAX } else { MAX_SCAN };
        Scan {
            store: self.store.as_ref(),
            prefixes: source.prefixes(),
            after,
            limit,
            max_scan,
            record_key: &operation_record_key,
            judge: &judge,
            now_ms,
        }
        .run()
        .await
    }

    /// A page of the audit log that `keep` accepts, newest first, after `after`.
    pub async fn audit_page(
        &self,
        after: Option<&Cursor>,
        limit: usize,
        keep: &(dyn Fn(&AuditEvent) -> bool + Sync),
        now_ms: u64,
    ) -> StoreResult<IndexPage<AuditEvent>> {
        let judge = |event: &AuditEvent| keep_if(keep(event));
        if !self.index_ready().await? {
            return self.audit_page_unindexed(after, limit, keep).await;
        }
        Scan {
            store: self.store.as_ref(),
            prefixes: vec![AUDIT_INDEX.to_owned()],
            after,
            limit,
            max_scan: MAX_SCAN,
            record_key: &audit_record_key,
            judge: &judge,
            now_ms,
        }
        .run()
        .await
    }

    /// The audit page from the listing of the audit prefix, as before the index.
    async fn audit_page_unindexed(
        &self,
        after: Option<&Cursor>,
        limit: usize,
        keep: &(dyn Fn(&AuditEvent) -> bool + Sync),
    ) -> StoreResult<IndexPage<AuditEvent>> {
        let mut events = Vec::new();
        for key in self.store.list(super::super::AUDIT_PREFIX).await?.iter().rev() {
            let Some(name) =
                super::audit_entry_key(key).and_then(|entry| entry.strip_prefix(AUDIT_INDEX).map(str::to_owned))
            else {
                continue;
            };
            if after.is_some_and(|cursor| name.as_str() <= cursor.entry()) {
                continue;
            }
            if let Some((event, _)) = crate::store::JsonStore::get_json::<AuditEvent>(self.store.as_ref(), key).await?
                && keep(&event)
            {
                events.push((name, event));
                if events.len() > limit {
                    break;
                }
            }
        }
        Ok(cut_page(events, None, limit, |_| true))
    }
}

/// A page cut from records already in listing order (entry names ascending).
fn cut_page<T>(
    named: impl IntoIterator<Item = (String, T)>,
    after: Option<&Cursor>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> IndexPage<T> {
    let mut named: Vec<(String, T)> = named
        .into_iter()
        .filter(|(name, record)| after.is_none_or(|cursor| name.as_str() > cursor.entry()) && keep(record))
        .collect();
    named.sort_by(|left, right| left.0.cmp(&right.0));
    let more = named.len() > limit;
    named.truncate(limit);
    let next = if more { named.last().map(|(name, _)| Cursor::after(name.clone())) } else { None };
    IndexPage { items: named.into_iter().map(|(_, record)| record).collect(), next }
}
