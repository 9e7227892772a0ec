//! One P9 trial split into phases, from the route's Flink call log and Flink's checkpoint
//! statistics of the old job.
//!
//! Savepoint restart (either route), each phase ending where the next starts, together the
//! downtime: **savepoint**, from the stop-with-savepoint call to Flink's last acknowledgement
//! of the savepoint (its `latest_ack_timestamp`, on the same clock); **submit**, from there to
//! the answer of the resubmission (`run_jar`: the new job accepted), which holds the route's
//! noticing the savepoint and its bookkeeping; **restore**, from that answer until the observer
//! saw every task RUNNING. In place: **scheduler wait**, from the `PUT resource-requirements` to
//! the first poll that saw the tasks leave RUNNING, then **restore**, until every task RUNNING.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use harness::FlinkCluster;
use harness::recording::{FlinkCall, first_call};
use serde::Serialize;
use serde_json::Value;

use super::SweepRoute;
use crate::downtime::Trial;
use crate::report::ms;

/// The phases of one trial, in milliseconds (see the module's doc); `None` where they do not
/// apply or could not be read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phases {
    pub savepoint_ms: Option<f64>,
    pub submit_ms: Option<f64>,
    pub scheduler_wait_ms: Option<f64>,
    pub restore_ms: Option<f64>,
}

/// One P9 trial.
#[derive(Debug, Clone, Serialize)]
pub struct SweepTrial {
    pub route: SweepRoute,
    pub state_mb: u32,
    pub from: u32,
    pub to: u32,
    /// From the call that takes the job down until every task RUNNING at the target.
    pub downtime_ms: f64,
    pub observed_outage_ms: Option<f64>,
    pub phases: Phases,
    /// Flink's `state_size` of the savepoint taken, or in place of the latest checkpoint before
    /// the trial (what the restart restores).
    pub snapshot_bytes: Option<u64>,
    /// The savepoint's files on disk.
    pub savepoint_disk_bytes: Option<u64>,
    /// The savepoint's location.
    pub savepoint_path: Option<String>,
    /// The trial as P1 and P2 record it.
    pub trial: Trial,
}

impl SweepTrial {
    /// One line for the progress log.
    pub fn describe(&self) -> String {
        let show = |value: Option<f64>| value.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".to_owned());
        format!(
            "{} {}→{}: {:.0} ms (savepoint {}, submit {}, wait {}, restore {}; observed {}), snapshot {} bytes",
            self.route.label(),
            self.from,
            self.to,
            self.downtime_ms,
            show(self.phases.savepoint_ms),
            show(self.phases.submit_ms),
            show(self.phases.scheduler_wait_ms),
            show(self.phases.restore_ms),
            show(self.observed_outage_ms),
            self.snapshot_bytes.map(|bytes| bytes.to_string()).unwrap_or_else(|| "–".to_owned())
        )
    }
}

/// The old job's latest completed savepoint in Flink's checkpoint history.
struct SavepointStats {
    latest_ack_epoch_ms: u64,
    state_size: Option<u64>,
    external_path: Option<String>,
}

async fn savepoint_stats(flink: &FlinkCluster, job_id: &str) -> anyhow::Result<Option<SavepointStats>> {
    let body = flink.get_json(&format!("/jobs/{job_id}/checkpoints")).await?;
    let newest = body["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["is_savepoint"] == Value::Bool(true) && entry["status"] == "COMPLETED")
        .max_by_key(|entry| entry["id"].as_u64().unwrap_or(0));
    Ok(newest.and_then(|entry| {
        Some(SavepointStats {
            latest_ack_epoch_ms: entry["latest_ack_timestamp"].as_u64()?,
            state_size: entry["state_size"].as_u64(),
            external_path: entry["external_path"].as_str().map(str::to_owned),
        })
    }))
}

/// The instant of a wall-clock time in epoch milliseconds (Flink's clock is this machine's).
fn instant_of_epoch_ms(epoch_ms: u64) -> Option<Instant> {
    let (now_instant, now_epoch) = (Instant::now(), SystemTime::now().duration_since(UNIX_EPOCH).ok()?);
    let ago = now_epoch.checked_sub(Duration::from_millis(epoch_ms))?;
    now_instant.checked_sub(ago)
}

/// The bytes of every file under `path` (a `file:` URI or a path).
fn disk_bytes(path: &str) -> Option<u64> {
    let local = path.trim_start_matches("file:");
    let local = format!("/{}", local.trim_start_matches('/'));
    fn walk(path: &Path) -> u64 {
        let Ok(meta) = std::fs::metadata(path) else { return 0 };
        if meta.is_file() {
            return meta.len();
        }
        std::fs::read_dir(path).into_iter().flatten().flatten().map(|entry| walk(&entry.path())).sum()
    }
    let path = Path::new(&local);
    path.exists().then(|| walk(path))
}

/// Splits `trial` into phases; `calls` are its route's Flink calls from before it began.
pub async fn measure(
    flink: &FlinkCluster,
    route: SweepRoute,
    state_mb: u32,
    trial: Trial,
    calls: &[FlinkCall],
    checkpoint_bytes: Option<u64>,
) -> anyhow::Result<SweepTrial> {
    let mut phases = Phases::default();
    let (mut snapshot_bytes, mut savepoint_disk_bytes, mut savepoint_path) = (None, None, None);
    if route == SweepRoute::InPlace {
        phases.restore_ms = trial.observed_outage_ms;
        phases.scheduler_wait_ms = trial.observed_outage_ms.map(|outage| (trial.downtime_ms - outage).max(0.0));
        snapshot_bytes = checkpoint_bytes;
    } else {
        let stop = first_call(calls, "stop_with_savepoint").context("the trial made no stop-with-savepoint call")?;
        let run = first_call(calls, "run_jar").context("the trial made no resubmission")?;
        let accepted = run.finished.context("the resubmission never answered")?;
        let up = stop.started + Duration::from_secs_f64(trial.downtime_ms / 1000.0);
        let stats = savepoint_stats(flink, &trial.old_job).await?;
        if let Some(stats) = &stats {
            snapshot_bytes = stats.state_size;
            savepoint_disk_bytes = stats.external_path.as_deref().and_then(disk_bytes);
            savepoint_path = stats.external_path.clone();
            if let Some(acked) = instant_of_epoch_ms(stats.latest_ack_epoch_ms) {
                // Kept within [stop, accepted]: the clocks agree to the millisecond only.
                let acked = acked.max(stop.started).min(accepted);
                phases.savepoint_ms = Some(ms(acked - stop.started));
                phases.submit_ms = Some(ms(accepted - acked));
            }
        }
        phases.restore_ms = Some(ms(up.saturating_duration_since(accepted)));
    }
    Ok(SweepTrial {
        route,
        state_mb,
        from: trial.from,
        to: trial.to,
        downtime_ms: trial.downtime_ms,
        observed_outage_ms: trial.observed_outage_ms,
        phases,
        snapshot_bytes,
        savepoint_disk_bytes,
        savepoint_path,
        trial,
    })
}
