//! The benchmarks (issue 6), on real Flink, the real S3 server and headless Chromium: prints a
//! table and writes `target/bench/results.json`. `scripts/bench.sh` sets up and runs it.
//!
//! usage: bench [p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 ...] [--quick] [--flink VERSION ...] [--state-mb N ...]
//!
//! - p1: rescale downtime through the product against a minimal direct REST sequence
//! - p2: in-place against savepoint-restart downtime (adaptive scheduler), on each Flink version
//!   given with `--flink` (by default 1.18.1, 1.20.5 and 2.3.0), one cluster after the other
//! - p3: the console's wasm size, raw and gzipped
//! - p4: time to the first job row on screen in headless Chromium
//! - p5: Lambda binary sizes and time to the first served response
//! - p6: API latency under 100 concurrent clients (S3 store)
//! - p7: one reconcile pass over many stored operations, few active: time and S3 calls
//! - p8: listings that scale: first pages of `GET /rescales` and `GET /audit` and the inbox badge
//!   with 10,000 requests and 100,000 audit events stored (S3 store)
//! - p9: downtime against keyed state size (0, 100, 500 MB, RocksDB; other sizes with
//!   `--state-mb`): savepoint restart by the direct route and the product, and in place, split
//!   into phases; writes `docs/bench/state-sweep.svg`
//! - p10: cost on AWS (issue 17): the packaged Lambda bootstraps' invocations (GB-s, S3
//!   requests) idle, with a request awaiting approval, and for one rescale, at list prices
//!
//! Without parts, all run. Parts run this time replace theirs in `results.json`; the others
//! are kept. `--quick` runs fewer repetitions (a smoke run, not figures to quote).

// A binary's modules cannot sit beside it in `src/bin/` (cargo would build each as a binary of
// its own): they live in `src/bench/`.
#[path = "../bench/api_load.rs"]
mod api_load;
#[path = "../bench/console.rs"]
mod console;
#[path = "../bench/cost/mod.rs"]
mod cost;
#[path = "../bench/downtime.rs"]
mod downtime;
#[path = "../bench/instrument.rs"]
mod instrument;
#[path = "../bench/lambda.rs"]
mod lambda;
#[path = "../bench/listing.rs"]
mod listing;
#[path = "../bench/reconcile_pass.rs"]
mod reconcile_pass;
#[path = "../bench/report.rs"]
mod report;
#[path = "../bench/state_sweep/mod.rs"]
mod state_sweep;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::S3Server;
use harness::paths::repo_root;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::report::{Machine, Row, show_bytes, show_ms};

const PARTS: [&str; 10] = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10"];
/// The Flink versions P2 runs on unless `--flink` names others.
const P2_VERSIONS: [&str; 3] = ["1.18.1", "1.20.5", "2.3.0"];

fn usage() -> String {
    format!("usage: bench [{}] [--quick] [--flink VERSION ...] [--state-mb N ...]", PARTS.join(" "))
}

/// How much of each part to run.
struct Settings {
    parts: BTreeSet<String>,
    overhead_repetitions: usize,
    in_place_repetitions: usize,
    /// The Flink versions of P2.
    p2_versions: Vec<String>,
    console_cold_loads: usize,
    console_warm_loads: usize,
    lambda_cold_starts: usize,
    api_clients: usize,
    api_max_requests: usize,
    api_max_time: Duration,
    reconcile_max_stored: usize,
    listing_operations: usize,
    listing_audit_events: usize,
    listing_runs: usize,
    /// P9: rounds per state size (each rescales 1→2 and 2→1 by every route).
    state_sweep_rounds: usize,
    /// P9: the state sizes (MB) swept; by default [`state_sweep::STATE_SIZES_MB`].
    state_sizes_mb: Vec<u32>,
    /// P10: scheduled invocations of the idle and awaiting-approval scenarios each.
    cost_invocations: usize,
}

impl Settings {
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut parts = BTreeSet::new();
        let mut quick = false;
        let mut p2_versions = Vec::new();
        let mut state_sizes_mb = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--flink" => {
                    let version = args.next().ok_or_else(|| anyhow::anyhow!("--flink needs a version; {}", usage()))?;
                    p2_versions.push(version);
                }
                "--state-mb" => {
                    let size = args.next().and_then(|size| size.parse().ok());
                    let size =
                        size.ok_or_else(|| anyhow::anyhow!("--state-mb needs a whole number of MB; {}", usage()))?;
                    state_sizes_mb.push(size);
                }
                "-h" | "--help" => {
                    println!("{}", usage());
                    std::process::exit(0);
                }
                part if PARTS.contains(&part) => {
                    parts.insert(part.to_owned());
                }
                other => anyhow::bail!("unknown argument {other:?}; {}", usage()),
            }
        }
        if parts.is_empty() {
            parts = PARTS.iter().map(|part| (*part).to_owned()).collect();
        }
        if p2_versions.is_empty() {
            p2_versions = P2_VERSIONS.iter().map(|version| (*version).to_owned()).collect();
        }
        if state_sizes_mb.is_empty() {
            state_sizes_mb = state_sweep::STATE_SIZES_MB.to_vec();
        }
        Ok(Self {
            parts,
            overhead_repetitions: if quick { 1 } else { 5 },
            in_place_repetitions: if quick { 1 } else { 3 },
            p2_versions,
            console_cold_loads: if quick { 1 } else { 3 },
            console_warm_loads: if quick { 1 } else { 5 },
            lambda_cold_starts: if quick { 2 } else { 7 },
            api_clients: 100,
            api_max_requests: if quick { 300 } else { 3000 },
            api_max_time: Duration::from_secs(if quick { 10 } else { 30 }),
            reconcile_max_stored: if quick { 1000 } else { 5000 },
            listing_operations: if quick { 1_000 } else { 10_000 },
            listing_audit_events: if quick { 5_000 } else { 100_000 },
            listing_runs: if quick { 10 } else { 50 },
            state_sweep_rounds: if quick { 1 } else { 2 },
            state_sizes_mb,
            cost_invocations: if quick { 3 } else { 10 },
        })
    }

    fn wants(&self, part: &str) -> bool {
        self.parts.contains(part)
    }
}

/// The results file: earlier parts kept, this run's replaced.
struct Results {
    path: std::path::PathBuf,
    parts: Map<String, Value>,
    machine: Machine,
    rows: Vec<Row>,
    failures: Vec<String>,
}

impl Results {
    fn open(machine: Machine) -> Self {
        let path = repo_root().join("target/bench/results.json");
        let parts = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|value| value.get("parts").and_then(Value::as_object).cloned())
            .unwrap_or_default();
        Self { path, parts, machine, rows: Vec::new(), failures: Vec::new() }
    }

    /// Records a part's figures (or its failure) and writes the file at once.
    fn record<T: Serialize>(&mut self, part: &str, outcome: anyhow::Result<T>, rows: impl FnOnce(&T) -> Vec<Row>) {
        let entry = match outcome {
            Ok(figures) => {
                self.rows.extend(rows(&figures));
                json!({ "measured_at": self.machine.date_utc, "machine": self.machine, "figures": figures })
            }
            Err(error) => {
                eprintln!("[bench] {part} failed: {error:#}");
                self.failures.push(format!("{part}: {error:#}"));
                self.rows.push(Row::new(
                    part,
                    "FAILED",
                    format!("{error:#}").chars().take(100).collect::<String>(),
                    "",
                ));
                json!({ "measured_at": self.machine.date_utc, "machine": self.machine, "error": format!("{error:#}") })
            }
        };
        self.parts.insert(part.to_owned(), entry);
        if let Err(error) = self.write() {
            eprintln!("[bench] cannot write {}: {error:#}", self.path.display());
        }
    }

    fn write(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let document = json!({
            "about": "scripts/bench.sh; see BENCHMARKS.md",
            "last_run": self.machine,
            "parts": self.parts,
        });
        std::fs::write(&self.path, serde_json::to_string_pretty(&document)? + "\n")?;
        Ok(())
    }
}

fn opt_ms(value: Option<f64>) -> String {
    value.map(show_ms).unwrap_or_else(|| "–".to_owned())
}

fn overhead_rows(figures: &downtime::Overhead) -> Vec<Row> {
    use downtime::Route;
    let spread = |summary: &downtime::RouteSummary| {
        summary
            .downtime_ms
            .map(|s| format!("{} (min {}, max {})", show_ms(s.median), show_ms(s.min), show_ms(s.max)))
            .unwrap_or_default()
    };
    let summaries = [
        (Route::ProductLocalLoop, &figures.product_local_loop),
        (Route::ProductLambdaLoop, &figures.product_lambda_loop),
        (Route::Direct, &figures.direct),
    ];
    let mut rows = Vec::new();
    for (route, summary) in summaries {
        rows.push(Row::new(
            "P1",
            &format!("downtime, {}, median of {}", route.label(), figures.repetitions),
            spread(summary),
            "",
        ));
    }
    for comparison in &figures.comparisons {
        rows.push(Row::new(
            "P1",
            &format!("overhead of the {}: difference, ratio", comparison.route.label()),
            format!("{:+.0} ms, {:.3}", comparison.difference_ms, comparison.ratio),
            &format!(
                "≤ +{} ms: {}",
                downtime::OVERHEAD_TARGET_MS,
                if comparison.target_met { "met" } else { "MISSED" }
            ),
        ));
    }
    for (route, summary) in summaries {
        rows.push(Row::new(
            "P1",
            &format!("{}: stop → resubmit; resubmit → running", route.label()),
            format!("{}; {}", opt_ms(summary.stop_to_submit_ms), opt_ms(summary.submit_to_running_ms)),
            "",
        ));
    }
    for (route, summary) in &summaries[..2] {
        rows.push(Row::new(
            "P1",
            &format!("{}: approval → stop; running → shown running; → completed", route.label()),
            format!(
                "{}; {}; {}",
                opt_ms(summary.approval_to_trigger_ms),
                opt_ms(summary.running_to_shown_ms),
                opt_ms(summary.running_to_completed_ms)
            ),
            "shown ≤ ~100 ms; completed = shown + the stable window (3 s here)",
        ));
    }
    rows
}

fn in_place_rows(figures: &downtime::InPlaceVsSavepoint) -> Vec<Row> {
    let times = |summary: &downtime::RouteSummary| {
        format!(
            "{} from the trigger, {} observed",
            opt_ms(summary.downtime_ms.map(|s| s.median)),
            opt_ms(summary.observed_outage_ms)
        )
    };
    let version = &figures.flink_version;
    vec![
        Row::new(
            "P2",
            &format!("{version}: in place, median of {}", figures.repetitions),
            times(&figures.in_place),
            "",
        ),
        Row::new(
            "P2",
            &format!("{version}: savepoint-restart (product), median of {}", figures.repetitions),
            times(&figures.savepoint),
            "",
        ),
        Row::new(
            "P2",
            &format!("{version}: savepoint-restart (direct REST), median of {}", figures.repetitions),
            times(&figures.savepoint_direct),
            "",
        ),
        Row::new(
            "P2",
            &format!("{version}: outage ratio in place / savepoint-restart"),
            format!(
                "{:.3} vs product, {:.3} vs direct (in place observed; savepoint from the stop)",
                figures.outage_ratio, figures.outage_ratio_vs_direct
            ),
            "",
        ),
        Row::new(
            "P2",
            &format!("{version}: same ratio (product), both from trigger / both observed"),
            format!(
                "{:.3} / {}",
                figures.from_trigger_ratio,
                figures.observed_ratio.map(|ratio| format!("{ratio:.3}")).unwrap_or_else(|| "–".to_owned())
            ),
            "",
        ),
    ]
}

fn console_size_rows(size: &console::ConsoleSize) -> Vec<Row> {
    let stale = if size.dist_older_than_sources { " (dist older than sources)" } else { "" };
    vec![
        Row::new("P3", "console wasm, raw", format!("{}{stale}", show_bytes(size.wasm_raw_bytes)), ""),
        Row::new("P3", "console wasm, gzipped", show_bytes(size.wasm_gzip_bytes), ""),
    ]
}

fn first_data_rows(figures: &console::FirstData) -> Vec<Row> {
    let spread = |spread: Option<report::Spread>| {
        spread.map(|s| format!("{} (n {}, max {})", show_ms(s.median), s.n, show_ms(s.max))).unwrap_or_default()
    };
    vec![
        Row::new("P4", "first job row on screen, cold load", spread(figures.cold_ms), ""),
        Row::new("P4", "first job row on screen, reload", spread(figures.warm_ms), ""),
    ]
}

fn lambda_rows(figures: &[lambda::LambdaFigures]) -> Vec<Row> {
    figures
        .iter()
        .flat_map(|lambda| {
            [
                Row::new(
                    "P5",
                    &format!("{} bootstrap / zip", lambda.binary),
                    format!("{} / {}", show_bytes(lambda.bootstrap_bytes), show_bytes(lambda.zip_bytes)),
                    "",
                ),
                Row::new(
                    "P5",
                    &format!("{} start → first response, uncached / cached", lambda.binary),
                    format!(
                        "{} / {} (medians of {})",
                        opt_ms(lambda.first_response_uncached_ms.map(|s| s.median)),
                        opt_ms(lambda.first_response_cached_ms.map(|s| s.median)),
                        lambda.cached_samples_ms.len()
                    ),
                    "",
                ),
            ]
        })
        .collect()
}

/// `/api/v1/rescales/<32 hex>` → `/api/v1/rescales/{id}`, for the table.
fn shorten_ids(endpoint: &str) -> String {
    endpoint
        .split('/')
        .map(|segment| if rescaler_shared::operation::is_flink_id(segment) { "{id}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

fn api_rows(figures: &api_load::ApiLatency) -> Vec<Row> {
    figures
        .endpoints
        .iter()
        .map(|endpoint| {
            Row::new(
                "P6",
                &format!("{} ({}), {} clients", shorten_ids(&endpoint.endpoint), endpoint.role, endpoint.clients),
                format!(
                    "p50 {} ms, p99 {} ms ({} req, {:.0} req/s, {} errors)",
                    endpoint.p50_ms, endpoint.p99_ms, endpoint.requests, endpoint.requests_per_second, endpoint.errors
                ),
                "",
            )
        })
        .collect()
}

fn listing_rows(figures: &listing::Listings) -> Vec<Row> {
    figures
        .endpoints
        .iter()
        .map(|endpoint| {
            let path = endpoint.endpoint.split("cursor=").next().map_or(endpoint.endpoint.clone(), |head| {
                if head.len() < endpoint.endpoint.len() { format!("{head}cursor=…") } else { head.to_owned() }
            });
            Row::new(
                "P8",
                &format!(
                    "{path} as {}, {} requests / {} audit events stored",
                    endpoint.user, figures.stored_operations, figures.stored_audit_events
                ),
                format!(
                    "median {} ms, p95 {} ms ({} runs), {} store calls, {} answered",
                    endpoint.median_ms, endpoint.p95_ms, endpoint.runs, endpoint.store_calls, endpoint.answered
                ),
                if endpoint.target_met { "p95 ≤ 300 ms: met" } else { "p95 ≤ 300 ms: MISSED" },
            )
        })
        .chain(figures.store_calls_alone.iter().map(|alone| {
            Row::new(
                "P8",
                &format!("store call alone: {}", alone.call),
                format!("median {} ms, p95 {} ms ({} runs)", alone.median_ms, alone.p95_ms, alone.runs),
                "",
            )
        }))
        .collect()
}

fn pass_rows(figures: &reconcile_pass::ReconcilePass) -> Vec<Row> {
    figures
        .scenarios
        .iter()
        .map(|scenario| {
            Row::new(
                "P7",
                &format!("one pass, {} stored / {} active", scenario.stored, scenario.active),
                format!(
                    "{}, {} store calls, {} S3 requests, {} Flink calls, {} of {} quiet; the reads alone {}; \
                     the first look {}, {} store calls",
                    opt_ms(scenario.pass_ms.map(|s| s.median)),
                    scenario.store_calls_total,
                    scenario.s3_requests,
                    scenario.flink_calls,
                    scenario.quiet_in_report,
                    scenario.operations_in_report,
                    opt_ms(scenario.reads_alone_ms.map(|s| s.median)),
                    opt_ms(Some(scenario.first_pass_ms)),
                    scenario.first_pass_store_calls.total(),
                ),
                if scenario.active >= 1000 { "≤ 1 s at 1,000 active" } else { "" },
            )
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,aws=error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // Both ring and aws-lc are linked in (reqwest, aws-sdk): pick one, as the harness does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = Settings::parse(std::env::args().skip(1))?;
    let machine = Machine::now();
    eprintln!(
        "[bench] {} on {} × {} ({}), load {}; profile {}; parts {:?}",
        machine.date_utc,
        machine.cpus,
        machine.cpu_model,
        machine.memory_total,
        machine.load_average_at_start,
        machine.profile,
        settings.parts
    );
    let mut results = Results::open(machine);

    if settings.wants("p3") {
        results.record("p3", console::size(), console_size_rows);
    }
    if settings.wants("p5") {
        results.record("p5", lambda::lambdas(settings.lambda_cold_starts).await, |figures| lambda_rows(figures));
    }

    let needs_s3 = ["p1", "p2", "p4", "p6", "p7", "p8", "p9", "p10"].iter().any(|part| settings.wants(part));
    let s3 = if needs_s3 { Some(S3Server::start().await?) } else { None };
    if let Some(s3) = &s3 {
        if settings.wants("p7") {
            results.record("p7", reconcile_pass::reconcile_pass(s3, settings.reconcile_max_stored).await, pass_rows);
        }
        if settings.wants("p8") {
            let figures = listing::listings(
                s3,
                settings.listing_operations,
                settings.listing_audit_events,
                settings.listing_runs,
            )
            .await;
            results.record("p8", figures, listing_rows);
        }
        if ["p1", "p4", "p6"].iter().any(|part| settings.wants(part)) {
            let scene = if settings.wants("p1") {
                match downtime::overhead(s3, settings.overhead_repetitions).await {
                    Ok((figures, scene)) => {
                        results.record("p1", Ok(figures), overhead_rows);
                        Some(scene)
                    }
                    Err(error) => {
                        results.record("p1", Err::<downtime::Overhead, _>(error), overhead_rows);
                        None
                    }
                }
            } else {
                None
            };
            let scene = match scene {
                Some(scene) => Some(scene),
                None => match downtime::Scene::start(s3, harness::Scheduler::Default).await {
                    Ok(scene) => Some(scene),
                    Err(error) => {
                        eprintln!("[bench] cannot start Flink for p4/p6: {error:#}");
                        None
                    }
                },
            };
            if let Some(scene) = scene {
                if settings.wants("p4") {
                    let figures =
                        console::first_data(&scene, settings.console_cold_loads, settings.console_warm_loads).await;
                    results.record("p4", figures, first_data_rows);
                }
                if settings.wants("p6") {
                    let bounds = api_load::LoadBounds {
                        clients: settings.api_clients,
                        max_requests: settings.api_max_requests,
                        max_time: settings.api_max_time,
                    };
                    let figures = api_load::api_latency(&scene, s3, bounds).await;
                    results.record("p6", figures, api_rows);
                }
            }
        }
        if settings.wants("p2") {
            // One part per version (`p2 <version>`), so that one version failing keeps the others.
            results.parts.remove("p2");
            for version in &settings.p2_versions {
                let figures = downtime::in_place_vs_savepoint(s3, settings.in_place_repetitions, version).await;
                results.record(&format!("p2 {version}"), figures, in_place_rows);
            }
        }
        if settings.wants("p9") {
            let figures = state_sweep::state_sweep(s3, &settings.state_sizes_mb, settings.state_sweep_rounds).await;
            results.record("p9", figures, state_sweep::rows);
        }
        if settings.wants("p10") {
            results.record("p10", cost::cost(s3, settings.cost_invocations).await, cost::rows);
        }
    }

    println!();
    print!("{}", report::table(&results.rows));
    println!("\nwritten: {}", results.path.display());
    if !results.failures.is_empty() {
        anyhow::bail!("{} part(s) failed:\n{}", results.failures.len(), results.failures.join("\n"));
    }
    Ok(())
}
