//! P9 (issue 17): rescale downtime against the size of the job's keyed state.
//!
//! For each state size the sample job runs with `--state-mb N` (each key padded with random
//! bytes, [`STATE_SIZES_MB`]) on a cluster of its own: Flink's default version, the adaptive
//! scheduler (so that one cluster serves all three routes, as in P2), RocksDB with full
//! checkpoints ([`sweep_options`]). Once a checkpoint shows the state filled, the job is rescaled
//! 1→2 and 2→1 by each route in turn — the direct REST sequence and the product's local loop
//! (savepoint strategy), and the product in place — `rounds` times, each round starting one route
//! later. Downtime is P1's and P2's (the same [`Scene`] and observer); [`phases`] splits it.

mod phases;
mod plot;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use harness::paths::repo_root;
use harness::{FlinkOptions, S3Server, Scheduler};
use rescaler_shared::operation::Strategy;
use serde::Serialize;

use crate::downtime::{Route, Scene};
use crate::report::{Row, Spread, median, round1, show_ms};

pub use phases::SweepTrial;

/// The state sizes swept, in MB (10^6 bytes) of padding.
pub const STATE_SIZES_MB: [u32; 3] = [0, 100, 500];
/// Where the plot goes, from the repository's root.
pub const PLOT_PATH: &str = "docs/bench/state-sweep.svg";
/// How long the job may take to fill its state and checkpoint it.
const FILL_TIMEOUT: Duration = Duration::from_secs(240);
/// How long a job may take to complete a checkpoint after a trial.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);

/// The sweep cluster's keys on top of the harness's: RocksDB (in flink-dist) with full
/// checkpoints and no local recovery, so that an in-place restart restores as much as a
/// savepoint holds; at least 15 s between checkpoints, so that none is still being written when
/// a trial starts (each trial waits for a fresh one first). Both key spellings (2.x, 1.x).
pub fn sweep_options() -> FlinkOptions {
    let mut options = FlinkOptions::default().with_scheduler(Scheduler::Adaptive);
    for (key, value) in [
        ("state.backend.type", "rocksdb"),
        ("execution.checkpointing.incremental", "false"),
        ("state.backend.incremental", "false"),
        ("execution.checkpointing.local-recovery", "false"),
        ("state.backend.local-recovery", "false"),
        ("execution.checkpointing.min-pause", "15 s"),
    ] {
        options = options.with_config(key, value);
    }
    options
}

/// How a trial rescales the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepRoute {
    /// Stop with savepoint and resubmit, by the direct REST sequence.
    Direct,
    /// The same through the product's engine (local binary loop), savepoint strategy.
    Product,
    /// The product's in-place rescale (adaptive scheduler).
    InPlace,
}

impl SweepRoute {
    pub const ALL: [Self; 3] = [Self::Direct, Self::Product, Self::InPlace];

    pub fn label(self) -> &'static str {
        match self {
            Self::Direct => "savepoint, direct REST",
            Self::Product => "savepoint, product",
            Self::InPlace => "in place, product",
        }
    }
}

/// One route's trials at one state size: medians.
#[derive(Debug, Clone, Serialize)]
pub struct RouteAtSize {
    pub route: SweepRoute,
    /// From the call that takes the job down until every task RUNNING at the target.
    pub downtime_ms: Option<Spread>,
    /// From the first poll without every task RUNNING until every task RUNNING.
    pub observed_outage_ms: Option<f64>,
    pub savepoint_ms: Option<f64>,
    pub submit_ms: Option<f64>,
    pub scheduler_wait_ms: Option<f64>,
    pub restore_ms: Option<f64>,
    /// Flink's size of what the trials restored from (the savepoint, or in place the checkpoint).
    pub snapshot_bytes: Option<f64>,
    /// The savepoints' files on disk.
    pub savepoint_disk_bytes: Option<f64>,
}

/// Every route at one state size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    pub state_mb: u32,
    /// The first checkpoint that held the whole state: its size, and how long after the job's
    /// submission it completed.
    pub filled_checkpoint_bytes: u64,
    pub filled_after_ms: f64,
    pub routes: Vec<RouteAtSize>,
    /// Median product downtime minus median direct downtime (savepoint strategy, both).
    pub product_overhead_ms: Option<f64>,
    pub trials: Vec<SweepTrial>,
    /// The trial that failed and ended this size's trials (the ones before it are kept).
    pub stopped_by: Option<String>,
}

/// P9's figures.
#[derive(Debug, Clone, Serialize)]
pub struct StateSweep {
    pub flink_version: String,
    pub scheduler: &'static str,
    /// The cluster's keys on top of the harness's.
    pub cluster_config: std::collections::BTreeMap<String, String>,
    /// Rounds per size; each round rescales 1→2 and 2→1 by every route.
    pub rounds: usize,
    pub sizes: Vec<SizeFigures>,
    /// The sizes that failed, with why (the others are still measured and plotted).
    pub failed: Vec<(u32, String)>,
    /// The plot, from the repository's root.
    pub plot: String,
}

/// Runs P9: every size of `sizes_mb` (by default [`STATE_SIZES_MB`]), one cluster after the
/// other; writes the plot.
pub async fn state_sweep(s3: &S3Server, sizes_mb: &[u32], rounds: usize) -> anyhow::Result<StateSweep> {
    let options = sweep_options();
    let mut sizes = Vec::new();
    let mut failed = Vec::new();
    for &state_mb in sizes_mb {
        match sweep_size(s3, options.clone(), state_mb, rounds).await {
            Ok(figures) => sizes.push(figures),
            Err(error) => {
                eprintln!("[bench] P9 {state_mb} MB failed: {error:#}");
                failed.push((state_mb, format!("{error:#}")));
            }
        }
    }
    anyhow::ensure!(!sizes.is_empty(), "every state size failed: {failed:?}");
    let path = repo_root().join(PLOT_PATH);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, plot::svg(&sizes, &options.version))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(StateSweep {
        flink_version: options.version.clone(),
        scheduler: "adaptive",
        cluster_config: options.extra_config.clone(),
        rounds,
        sizes,
        failed,
        plot: PLOT_PATH.to_owned(),
    })
}

/// Folders removed when dropped: the cluster's savepoints and checkpoints (500 MB each at the
/// largest size; its logs stay).
struct RemoveDirs(Vec<PathBuf>);

impl Drop for RemoveDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One state size on a fresh cluster.
async fn sweep_size(s3: &S3Server, options: FlinkOptions, state_mb: u32, rounds: usize) -> anyhow::Result<SizeFigures> {
    let state_arg = state_mb.to_string();
    // Size 0 runs the job exactly as the other benches do, without the argument.
    let args: Vec<&str> = if state_mb > 0 { vec!["--state-mb", &state_arg] } else { Vec::new() };
    let submitted = Instant::now();
    let mut scene = Scene::start_with_args(s3, options, &args).await?;
    let savepoints = PathBuf::from(scene.flink.savepoint_dir().trim_start_matches("file://"));
    let checkpoints = savepoints.with_file_name("checkpoints");
    let snapshots = RemoveDirs(vec![savepoints, checkpoints]);
    let (filled_checkpoint_bytes, filled_at) = wait_filled(&scene, state_mb).await?;
    let filled_after_ms = crate::report::ms(filled_at.saturating_duration_since(submitted));
    eprintln!(
        "[bench] P9 {state_mb} MB: state filled, checkpoint of {} bytes {:.1} s after the start",
        filled_checkpoint_bytes,
        filled_after_ms / 1000.0
    );
    let mut trials = Vec::new();
    let mut last_checkpoints = None;
    let mut stopped_by = None;
    'rounds: for round in 0..rounds {
        for index in 0..SweepRoute::ALL.len() {
            let route = SweepRoute::ALL[(round + index) % SweepRoute::ALL.len()];
            // 1→2, then 2→1: every route rescales both ways each round.
            for _ in 0..2 {
                let from = scene.parallelism;
                let settled = settle(&scene, last_checkpoints.take()).await;
                let trial = match settled {
                    Ok(()) => run_trial(&mut scene, route, state_mb).await,
                    Err(error) => Err(error),
                };
                match trial {
                    Ok(trial) => {
                        eprintln!("[bench] P9 {state_mb} MB {}", trial.describe());
                        trials.push(trial);
                    }
                    // The job's state is unknown after a failed trial: the ones before it are
                    // kept, the size's trials end here.
                    Err(error) => {
                        let failure = format!("{} from {from}: {error:#}", route.label());
                        eprintln!("[bench] P9 {state_mb} MB trial failed: {failure}");
                        stopped_by = Some(failure);
                        break 'rounds;
                    }
                }
                last_checkpoints = Some((scene.job_id.clone(), completed_checkpoints(&scene).await?));
            }
        }
    }
    anyhow::ensure!(!trials.is_empty(), "no trial ran: {}", stopped_by.unwrap_or_default());
    // The cluster stops first, then its snapshots go (on an error, in the other order).
    drop(scene);
    drop(snapshots);
    let routes: Vec<RouteAtSize> = SweepRoute::ALL.iter().map(|route| summarize(*route, &trials)).collect();
    let total = |route: SweepRoute| {
        routes.iter().find(|figures| figures.route == route).and_then(|figures| figures.downtime_ms).map(|s| s.median)
    };
    let product_overhead_ms = total(SweepRoute::Product).zip(total(SweepRoute::Direct)).map(|(p, d)| round1(p - d));
    Ok(SizeFigures {
        state_mb,
        filled_checkpoint_bytes,
        filled_after_ms,
        routes,
        product_overhead_ms,
        trials,
        stopped_by,
    })
}

/// One rescale of the current job to the other parallelism, by `route`.
async fn run_trial(scene: &mut Scene, route: SweepRoute, state_mb: u32) -> anyhow::Result<SweepTrial> {
    let to = scene.next_parallelism();
    let engine_mark = scene.engine_log().len();
    let direct_mark = scene.direct_log().len();
    let checkpoint_bytes = latest_checkpoint_bytes(scene).await?;
    let trial = match route {
        SweepRoute::Direct => scene.direct(to).await?,
        SweepRoute::Product => scene.product(Route::ProductLocalLoop, to, Strategy::Savepoint).await?,
        SweepRoute::InPlace => scene.product(Route::ProductLocalLoop, to, Strategy::InPlace).await?,
    };
    let calls = match route {
        SweepRoute::Direct => scene.direct_log().since(direct_mark),
        _ => scene.engine_log().since(engine_mark),
    };
    phases::measure(&scene.flink, route, state_mb, trial, &calls, checkpoint_bytes).await
}

/// The job's `/jobs/:id/checkpoints`.
async fn checkpoints(scene: &Scene) -> anyhow::Result<serde_json::Value> {
    scene.flink.get_json(&format!("/jobs/{}/checkpoints", scene.job_id)).await
}

async fn completed_checkpoints(scene: &Scene) -> anyhow::Result<u64> {
    Ok(checkpoints(scene).await?["counts"]["completed"].as_u64().unwrap_or(0))
}

/// The size Flink gives the job's latest completed checkpoint, if it has one.
async fn latest_checkpoint_bytes(scene: &Scene) -> anyhow::Result<Option<u64>> {
    Ok(checkpoints(scene).await?["latest"]["completed"]["state_size"].as_u64())
}

/// Waits until a completed checkpoint holds the whole padding (95 % of `state_mb` MB; any
/// checkpoint for 0); answers its size and when it was seen.
async fn wait_filled(scene: &Scene, state_mb: u32) -> anyhow::Result<(u64, Instant)> {
    let wanted = u64::from(state_mb) * 950_000;
    let deadline = Instant::now() + FILL_TIMEOUT;
    loop {
        if let Some(bytes) = latest_checkpoint_bytes(scene).await?
            && bytes >= wanted
        {
            return Ok((bytes, Instant::now()));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no checkpoint of job {} held {state_mb} MB within {FILL_TIMEOUT:?}",
            scene.job_id
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the current job has completed a checkpoint since the last trial (`last`: the
/// job and its count of completed checkpoints then), so that no periodic checkpoint is being
/// written while the next trial runs; then the scene's own settling (1 s).
async fn settle(scene: &Scene, last: Option<(String, u64)>) -> anyhow::Result<()> {
    let baseline = match last {
        Some((job, count)) if job == scene.job_id => count,
        _ => 0,
    };
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while completed_checkpoints(scene).await? <= baseline {
        anyhow::ensure!(Instant::now() < deadline, "job {} completed no checkpoint after the trial", scene.job_id);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    scene.settle().await
}

fn median_of(trials: &[&SweepTrial], pick: impl Fn(&SweepTrial) -> Option<f64>) -> Option<f64> {
    median(&trials.iter().filter_map(|trial| pick(trial)).collect::<Vec<_>>()).map(round1)
}

fn summarize(route: SweepRoute, trials: &[SweepTrial]) -> RouteAtSize {
    let of_route: Vec<&SweepTrial> = trials.iter().filter(|trial| trial.route == route).collect();
    RouteAtSize {
        route,
        downtime_ms: Spread::of(&of_route.iter().map(|trial| trial.downtime_ms).collect::<Vec<_>>()),
        observed_outage_ms: median_of(&of_route, |trial| trial.observed_outage_ms),
        savepoint_ms: median_of(&of_route, |trial| trial.phases.savepoint_ms),
        submit_ms: median_of(&of_route, |trial| trial.phases.submit_ms),
        scheduler_wait_ms: median_of(&of_route, |trial| trial.phases.scheduler_wait_ms),
        restore_ms: median_of(&of_route, |trial| trial.phases.restore_ms),
        snapshot_bytes: median_of(&of_route, |trial| trial.snapshot_bytes.map(|bytes| bytes as f64)),
        savepoint_disk_bytes: median_of(&of_route, |trial| trial.savepoint_disk_bytes.map(|bytes| bytes as f64)),
    }
}

fn opt_ms(value: Option<f64>) -> String {
    value.map(show_ms).unwrap_or_else(|| "–".to_owned())
}

/// Megabytes (10^6 bytes), one decimal.
pub fn show_mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_000_000.0)
}

/// The printed table's rows: one per route and size, and the product's overhead per size.
pub fn rows(figures: &StateSweep) -> Vec<Row> {
    let mut rows = Vec::new();
    for size in &figures.sizes {
        for route in &size.routes {
            let spread = route
                .downtime_ms
                .map(|s| format!("{} ({}–{}, n {})", show_ms(s.median), show_ms(s.min), show_ms(s.max), s.n))
                .unwrap_or_else(|| "–".to_owned());
            let phases = match route.route {
                SweepRoute::InPlace => {
                    format!("wait {}, restore {}", opt_ms(route.scheduler_wait_ms), opt_ms(route.restore_ms))
                }
                _ => format!(
                    "savepoint {}, submit {}, restore {}",
                    opt_ms(route.savepoint_ms),
                    opt_ms(route.submit_ms),
                    opt_ms(route.restore_ms)
                ),
            };
            rows.push(Row::new(
                "P9",
                &format!("{} MB: {}", size.state_mb, route.route.label()),
                format!(
                    "{spread}; {phases}; observed {}; snapshot {}",
                    opt_ms(route.observed_outage_ms),
                    route.snapshot_bytes.map(show_mb).unwrap_or_else(|| "–".to_owned())
                ),
                "",
            ));
        }
        rows.push(Row::new(
            "P9",
            &format!("{} MB: product overhead (median product − median direct)", size.state_mb),
            size.product_overhead_ms.map(|ms| format!("{ms:+.0} ms")).unwrap_or_else(|| "–".to_owned()),
            "flat across sizes",
        ));
        if let Some(failure) = &size.stopped_by {
            let failure = failure.chars().take(100).collect::<String>();
            rows.push(Row::new("P9", &format!("{} MB: trials ended by a FAILED one", size.state_mb), failure, ""));
        }
    }
    for (state_mb, error) in &figures.failed {
        rows.push(Row::new("P9", &format!("{state_mb} MB: FAILED"), error.chars().take(100).collect::<String>(), ""));
    }
    rows.push(Row::new("P9", "plot", figures.plot.clone(), ""));
    rows
}
