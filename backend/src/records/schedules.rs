//! Recurring schedules and the markers of the live ones.
//!
//! | key | what |
//! |---|---|
//! | `schedules/<id>.json` | a [`RecurringSchedule`], rewritten by compare-and-swap |
//! | `live-schedules/<id>.json` | present while the schedule awaits approval or is active |
//!
//! The marker is written before the schedule and removed after it ended, so a reconcile pass
//! lists `live-schedules/` only: its cost grows with live schedules, not with stored ones. A
//! marker whose schedule is missing or ended is removed by the pass that finds it.

use rescaler_shared::api::AuditEvent;
use rescaler_shared::recurring::RecurringSchedule;
use serde::{Deserialize, Serialize};

use super::{Records, ignore_conflict};
use crate::store::{JsonStore, StoreResult, Version};

const SCHEDULES: &str = "schedules/";
const LIVE: &str = "live-schedules/";

fn schedule_key(id: &str) -> String {
    format!("{SCHEDULES}{id}.json")
}

fn live_key(id: &str) -> String {
    format!("{LIVE}{id}.json")
}

/// What a `live-schedules/` marker holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LiveSchedule {
    cluster_id: String,
}

impl Records {
    /// Stores a new schedule (create-only), its marker first.
    pub async fn create_schedule(&self, schedule: &RecurringSchedule) -> StoreResult<Version> {
        let marker = LiveSchedule { cluster_id: schedule.cluster_id.clone() };
        ignore_conflict(self.store.create_json(&live_key(&schedule.id), &marker).await)?;
        self.store.create_json(&schedule_key(&schedule.id), schedule).await
    }

    pub async fn schedule(&self, id: &str) -> StoreResult<Option<(RecurringSchedule, Version)>> {
        self.store.get_json(&schedule_key(id)).await
    }

    /// Compare-and-swap write of a schedule.
    pub async fn replace_schedule(&self, schedule: &RecurringSchedule, expected: &Version) -> StoreResult<Version> {
        self.store.replace_json(&schedule_key(&schedule.id), schedule, expected).await
    }

    /// Every stored schedule, newest first (for listings).
    pub async fn all_schedules(&self) -> StoreResult<Vec<RecurringSchedule>> {
        let mut schedules = Vec::new();
        for key in self.store.list(SCHEDULES).await? {
            if let Some((schedule, _)) = self.store.get_json::<RecurringSchedule>(&key).await? {
                schedules.push(schedule);
            }
        }
        schedules.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then_with(|| a.id.cmp(&b.id)));
        Ok(schedules)
    }

    /// Ids of the schedules awaiting approval or active (their markers).
    pub async fn live_schedule_ids(&self) -> StoreResult<Vec<String>> {
        let keys = self.store.list(LIVE).await?;
        Ok(keys.iter().filter_map(|key| key.strip_prefix(LIVE)?.strip_suffix(".json").map(str::to_owned)).collect())
    }

    /// Removes the marker of a schedule that ended (idempotent).
    pub async fn release_schedule(&self, id: &str) -> StoreResult<()> {
        match self.store.delete(&live_key(id)).await {
            Err(error) if !error.is_conflict() && self.store.get(&live_key(id)).await?.is_some() => Err(error),
            _ => Ok(()),
        }
    }

    /// Audits the schedule's events from index `from` on; the key derives from the schedule,
    /// the event's time and kind, so a retried write writes each once.
    pub async fn audit_schedule_events(&self, schedule: &RecurringSchedule, from: usize) -> StoreResult<()> {
        let writes = schedule.events.iter().skip(from).map(|event| {
            let audit = AuditEvent {
                at_ms: event.at_ms,
                actor: event.actor.clone().unwrap_or_else(|| "system".to_owned()),
                action: format!("schedule_{}", event.kind.trim_start_matches("schedule_")),
                operation_id: None,
                cluster_id: Some(schedule.cluster_id.clone()),
                job_id: Some(schedule.job_id.clone()),
                message: format!("schedule {}: {}", schedule.id, event.message),
            };
            let dedup = format!("schedule-{}-{}", schedule.id, event.kind);
            async move { self.audit(&audit, &dedup).await }
        });
        futures::future::try_join_all(writes).await?;
        // Then the events that notify go to the outbox, as idempotently, due from the latest
        // event's time (at once).
        let now_ms = schedule.events.last().map_or(0, |event| event.at_ms);
        self.enqueue_schedule_notifications(schedule, from, now_ms).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rescaler_shared::recurring::{CreateSchedule, RecurringSchedule, ScheduleTerms};

    use crate::records::Records;
    use crate::store::DirStore;

    fn schedule(id: &str) -> RecurringSchedule {
        let request =
            CreateSchedule { cluster_id: "c".into(), job_id: "j".into(), steps: Vec::new(), reason: "r".into() };
        let terms = ScheduleTerms {
            id: id.into(),
            deployment_id: "j".into(),
            job_name: "job".into(),
            requested_by: "alice".into(),
            required_approvals: 1,
            approval_window_ms: 1000,
            verify_timeout_ms: 1000,
            stable_for_ms: 1000,
        };
        RecurringSchedule::new(request, terms, 1)
    }

    #[tokio::test]
    async fn live_markers_list_only_the_schedules_not_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
        records.create_schedule(&schedule("s1")).await.expect("s1");
        records.create_schedule(&schedule("s2")).await.expect("s2");
        assert!(records.create_schedule(&schedule("s1")).await.is_err(), "create-only");
        records.release_schedule("s1").await.expect("release");
        records.release_schedule("s1").await.expect("release again");
        assert_eq!(records.live_schedule_ids().await.expect("list"), ["s2"]);
        assert_eq!(records.all_schedules().await.expect("all").len(), 2);
    }
}
