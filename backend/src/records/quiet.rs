//! Which active operations a reconcile pass must read: the `active/` listing, with two kinds of
//! side keys beside each deployment's marker, so that one listing tells a pass which records it
//! can leave unread.
//!
//! | key | what |
//! |---|---|
//! | `active/<cluster>/<deployment>.next/quiet.<until_ms>.<held or free>.<op>` | a pass read the operation and found it quiet until then ([`phase::quiet_until`]); `held`: the drift check leaves its deployment alone |
//! | `active/<cluster>/<deployment>.next/wake.<at_ms>.<nonce>` | a write outside a pass is being made: read the operation |
//!
//! Architecture Invariant: a pass leaves a deployment unread only while it has a quiet key whose
//! time has not come and no wake key, and:
//! - every write of an operation outside a pass (the API's decisions, a re-link, a create) is
//!   preceded by a wake key ([`Records::wake`]); a wake key is removed only by a pass that read
//!   the operation at least [`WAKE_HOLD_MS`] after the key's time, by when the write it announces
//!   has landed (a request's writes are bounded by the API's timeout, 29 s, and the store's);
//! - a quiet key is written only by a pass, after it read the record and `quiet_until` named a
//!   time; writes by a pass need no wake key: a pass moves an operation only when it is due;
//! - no quiet key lasts more than [`QUIET_MAX_MS`]: an operation is read at least that often.
//!
//! Wake keys carry the writer's wall clock and are judged by the reconciler's: clocks apart by
//! more than a few seconds (NTP keeps Lambda's within milliseconds) would shorten the hold.
//!
//! Removing a side key is always safe (the operation is then read); keeping a wake key too
//! long costs a read per pass. A crash anywhere leaves an operation read too often, never
//! unread while it has something to do.
//!
//! [`phase::quiet_until`]: rescaler_shared::phase::quiet_until

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rescaler_shared::operation::Operation;

use super::Records;
use super::active::ActiveMarker;
use crate::store::{JsonStore as _, StoreResult};

/// How long a wake key outlives the write it announces, at least.
pub const WAKE_HOLD_MS: u64 = 5 * 60 * 1000;
/// The longest a quiet key lets a pass leave an operation unread.
pub const QUIET_MAX_MS: u64 = 60 * 60 * 1000;
/// A quiet time shorter than this is not written down: the pass's next look costs less than
/// the key (a PUT costs as much as 12 GETs on S3).
pub const QUIET_MIN_MS: u64 = 60 * 1000;

const QUIET: &str = "quiet";
const WAKE: &str = "wake";
const HELD: &str = "held";
const FREE: &str = "free";

/// One deployment under `active/`: its marker, if it has one, and its side keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveDeployment {
    pub cluster_id: String,
    pub deployment: String,
    /// `None`: side keys only, their operation gone (a pass removes them).
    pub marker_key: Option<String>,
    pub quiet: Vec<QuietKey>,
    pub wakes: Vec<WakeKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietKey {
    pub key: String,
    pub until_ms: u64,
    /// The operation holds its deployment (`drift::holds_deployment`, as the pass said).
    pub held: bool,
    pub operation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WakeKey {
    pub key: String,
    pub at_ms: u64,
}

impl WakeKey {
    /// Whether a read at `read_at_ms` saw the write this key announced ([`WAKE_HOLD_MS`]).
    fn spent_by(&self, read_at_ms: u64) -> bool {
        self.at_ms.saturating_add(WAKE_HOLD_MS) <= read_at_ms
    }
}

impl ActiveDeployment {
    /// Until when a pass at `now_ms` may leave this deployment's operation unread, and whether
    /// it holds the deployment: a quiet key whose time has not come (and within
    /// [`QUIET_MAX_MS`] of now, whatever a clock wrote), and no wake key.
    pub fn quiet_at(&self, now_ms: u64) -> Option<&QuietKey> {
        if self.marker_key.is_none() || !self.wakes.is_empty() {
            return None;
        }
        self.quiet
            .iter()
            .filter(|quiet| now_ms < quiet.until_ms && quiet.until_ms <= now_ms + QUIET_MAX_MS)
            .min_by_key(|quiet| quiet.until_ms)
    }

    /// The side keys a pass that read the operation at `read_at_ms` removes: every quiet key,
    /// and the wake keys old enough ([`WAKE_HOLD_MS`]).
    fn spent(&self, read_at_ms: u64) -> impl Iterator<Item = &str> {
        let quiet = self.quiet.iter().map(|quiet| quiet.key.as_str());
        let wakes = self.wakes.iter().filter(move |wake| wake.spent_by(read_at_ms));
        quiet.chain(wakes.map(|wake| wake.key.as_str()))
    }

    fn side_prefix(&self) -> String {
        side_prefix(&self.cluster_id, &self.deployment)
    }
}

fn side_prefix(cluster_id: &str, deployment: &str) -> String {
    format!("active/{cluster_id}/{deployment}.next/")
}

/// Groups the keys under `active/` by deployment, in key order. Keys of no known shape are
/// left out (and logged).
pub fn group(keys: &[String]) -> Vec<ActiveDeployment> {
    let mut deployments: Vec<ActiveDeployment> = Vec::new();
    let mut positions: HashMap<(&str, &str), usize> = HashMap::new();
    for key in keys {
        let segments: Vec<&str> = key.split('/').collect();
        let (cluster_id, deployment) = match segments.as_slice() {
            ["active", cluster, file] if file.ends_with(".json") => (*cluster, &file[..file.len() - ".json".len()]),
            ["active", cluster, dir, _] if dir.ends_with(".next") => (*cluster, &dir[..dir.len() - ".next".len()]),
            _ => {
                tracing::warn!(key, "unknown key under active/, left alone");
                continue;
            }
        };
        let at = *positions.entry((cluster_id, deployment)).or_insert_with(|| {
            deployments.push(ActiveDeployment {
                cluster_id: cluster_id.to_owned(),
                deployment: deployment.to_owned(),
                ..ActiveDeployment::default()
            });
            deployments.len() - 1
        });
        let entry = &mut deployments[at];
        match segments.as_slice() {
            [_, _, _] => entry.marker_key = Some(key.clone()),
            [_, _, _, name] => match parse_side(name) {
                Some(Side::Quiet { until_ms, held, operation_id }) => {
                    entry.quiet.push(QuietKey { key: key.clone(), until_ms, held, operation_id })
                }
                Some(Side::Wake { at_ms }) => entry.wakes.push(WakeKey { key: key.clone(), at_ms }),
                // Of no shape this version knows: read the operation, as a wake key would.
                None => entry.wakes.push(WakeKey { key: key.clone(), at_ms: u64::MAX - WAKE_HOLD_MS }),
            },
            _ => {}
        }
    }
    deployments
}

enum Side {
    Quiet { until_ms: u64, held: bool, operation_id: String },
    Wake { at_ms: u64 },
}

fn parse_side(name: &str) -> Option<Side> {
    let mut parts = name.splitn(4, '.');
    let kind = parts.next()?;
    let at_ms = parts.next()?.parse().ok()?;
    match kind {
        QUIET => {
            let held = match parts.next()? {
                HELD => true,
                FREE => false,
                _ => return None,
            };
            Some(Side::Quiet { until_ms: at_ms, held, operation_id: parts.next()?.to_owned() })
        }
        WAKE => Some(Side::Wake { at_ms }),
        _ => None,
    }
}

impl Records {
    /// Every deployment under `active/`, with its side keys: one listing.
    pub async fn active_deployments(&self) -> StoreResult<Vec<ActiveDeployment>> {
        Ok(group(&self.store.list("active/").await?))
    }

    /// The operation ids the markers of `deployments` name, read [`super::READS_AT_ONCE`] at a
    /// time, in order (`None` where a marker went meanwhile).
    pub async fn marked_operations(&self, deployments: &[&ActiveDeployment]) -> StoreResult<Vec<Option<String>>> {
        let reads: Vec<_> = deployments
            .iter()
            .map(|deployment| async move {
                let Some(key) = &deployment.marker_key else { return Ok(None) };
                Ok(self.store.get_json::<ActiveMarker>(key).await?.map(|(marker, _)| marker.operation_id))
            })
            .collect();
        super::read_many(reads).await
    }

    /// Announces a write of `operation` outside a pass; called before the write.
    pub(super) async fn wake(&self, operation: &Operation) -> StoreResult<()> {
        let prefix = side_prefix(&operation.cluster_id, operation.managed_job_id());
        let nonce = uuid::Uuid::new_v4().simple();
        let key = format!("{prefix}{WAKE}.{}.{nonce}", super::wall_clock_ms());
        super::ignore_conflict(self.store.create(&key, Bytes::new()).await)
    }

    /// After a pass read `deployment`'s operation at `read_at_ms` (and took its steps, the
    /// record now `after`, and whether it holds its deployment for the drift check): removes
    /// the side keys spent, then writes the quiet key `after` allows, if any. Failures are
    /// logged: the operation is then read again, no harm.
    pub async fn after_pass_read(
        &self,
        deployment: &ActiveDeployment,
        after: Option<(&Operation, bool)>,
        read_at_ms: u64,
        now_ms: u64,
    ) {
        let spent: Vec<&str> = deployment.spent(read_at_ms).collect();
        let removals = futures::future::join_all(spent.iter().map(|key| self.store.delete(key))).await;
        for (key, result) in spent.iter().zip(removals) {
            if let Err(error) = result {
                tracing::warn!(key, %error, "a spent side key stays; its operation is read again");
            }
        }
        let Some((operation, held)) = after else { return };
        // A pass slower than this may have read a record that a write announced since has
        // changed, its wake key spent meanwhile by a faster pass: no quiet key from it.
        if now_ms > read_at_ms + WAKE_HOLD_MS / 2 {
            return;
        }
        let Some(until_ms) = rescaler_shared::phase::quiet_until(operation, read_at_ms) else { return };
        let until_ms = until_ms.min(read_at_ms + QUIET_MAX_MS);
        // A wake key still held: the operation is read in every pass until it goes anyway.
        let woken = deployment.wakes.iter().any(|wake| !wake.spent_by(read_at_ms));
        if until_ms < read_at_ms + QUIET_MIN_MS || woken {
            return;
        }
        let held = if held { HELD } else { FREE };
        let key = format!("{}{QUIET}.{until_ms}.{held}.{}", deployment.side_prefix(), operation.id);
        if let Err(error) = super::ignore_conflict(self.store.create(&key, Bytes::new()).await) {
            tracing::warn!(key, %error, "quiet key not written; the operation is read in every pass");
        }
    }

    /// Removes the side keys of a deployment whose marker is gone.
    pub async fn remove_orphan_side_keys(&self, deployment: &ActiveDeployment, now_ms: u64) {
        if deployment.marker_key.is_none() {
            self.after_pass_read(deployment, None, now_ms, now_ms).await;
        }
    }
}

/// How long a pass may leave `deployment` unread, from `now_ms`.
pub fn quiet_for(quiet: &QuietKey, now_ms: u64) -> Duration {
    Duration::from_millis(quiet.until_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_groups_markers_and_side_keys_by_deployment() {
        let keys: Vec<String> = [
            "active/c/aa.json",
            "active/c/aa.next/quiet.5000.free.op1",
            "active/c/aa.next/wake.100.n1",
            "active/c/bb.next/quiet.7000.held.op.with.dots",
            "active/d/aa.json",
            "active/c/aa.next/odd-thing",
            "active/stray.json",
        ]
        .map(str::to_owned)
        .into();
        let grouped = group(&keys);
        assert_eq!(grouped.len(), 3, "{grouped:?}");
        let aa = &grouped[0];
        assert_eq!((aa.cluster_id.as_str(), aa.deployment.as_str()), ("c", "aa"));
        assert_eq!(aa.marker_key.as_deref(), Some("active/c/aa.json"));
        assert_eq!(aa.quiet[0].until_ms, 5000);
        assert!(!aa.quiet[0].held);
        assert_eq!(aa.wakes.len(), 2, "a wake key, and one of no known shape treated as one");
        let bb = &grouped[1];
        assert_eq!(bb.marker_key, None);
        assert_eq!(bb.quiet[0].operation_id, "op.with.dots");
        assert!(bb.quiet[0].held);
        assert_eq!(grouped[2].cluster_id, "d");
    }

    #[test]
    fn a_deployment_is_quiet_only_with_a_quiet_key_in_time_and_no_wake_key() {
        let quiet =
            |until_ms| QuietKey { key: format!("q{until_ms}"), until_ms, held: false, operation_id: "op".into() };
        let deployment = |quiet: Vec<QuietKey>, wakes: Vec<WakeKey>| ActiveDeployment {
            cluster_id: "c".into(),
            deployment: "d".into(),
            marker_key: Some("active/c/d.json".into()),
            quiet,
            wakes,
        };
        let now = 1_000_000;
        assert_eq!(deployment(vec![quiet(now + 10)], vec![]).quiet_at(now).map(|q| q.until_ms), Some(now + 10));
        assert_eq!(deployment(vec![quiet(now)], vec![]).quiet_at(now), None, "its time has come");
        assert_eq!(deployment(vec![], vec![]).quiet_at(now), None, "never found quiet");
        let wake = WakeKey { key: "w".into(), at_ms: now - 1 };
        assert_eq!(deployment(vec![quiet(now + 10)], vec![wake.clone()]).quiet_at(now), None, "woken");
        let far = now + QUIET_MAX_MS + 1;
        assert_eq!(deployment(vec![quiet(far)], vec![]).quiet_at(now), None, "beyond the longest quiet");
        let orphan = ActiveDeployment { marker_key: None, ..deployment(vec![quiet(now + 10)], vec![]) };
        assert_eq!(orphan.quiet_at(now), None);
        // A pass removes every quiet key it read past, and only the wake keys held long enough.
        let young = WakeKey { key: "young".into(), at_ms: now - WAKE_HOLD_MS + 1 };
        let old = WakeKey { key: "old".into(), at_ms: now - WAKE_HOLD_MS };
        let read = deployment(vec![quiet(now + 10)], vec![young, old]);
        assert_eq!(read.spent(now).collect::<Vec<_>>(), ["q1000010", "old"]);
    }
}
