//! P7: one reconcile pass (`Engine::pass`) over many stored operations of which few are active,
//! on the S3 server: its time, its store calls (a [`CountingStore`] around the S3 store) and the
//! HTTP requests the S3 client sent (an interceptor), as stored and active operations grow.
//!
//! Terminal operations are written where the records layer keeps them (`operations/<id>.json`,
//! no `active/` marker, as after `release_job`); active ones through `Records::create_operation`.
//! The active ones await approval within their window: quiet (`records::quiet`), so the first
//! pass that reads them writes their quiet keys and the passes after it leave them unread; no
//! Flink call (the Flink client is logged to show it). The engine's clock runs
//! `records::quiet::WAKE_HOLD_MS` ahead, as if the requests had been filed that long ago (a
//! request just filed is read in every pass until then).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use harness::S3Server;
use harness::config::unreachable_cluster;
use harness::recording::{FlinkCallLog, RecordingClient};
use harness::rig::CLUSTER_ID;
use rescaler_backend::drift::DriftCheck;
use rescaler_backend::flink::{FlinkClient, RestFlinkClient, RestFlinkClientConfig};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_backend::records::Records;
use rescaler_backend::sampler::LoadSampler;
use rescaler_backend::store::{JsonStore as _, S3Store, Store};
use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
use rescaler_shared::phase::Phase;
use serde::Serialize;

use crate::instrument::{CountingStore, S3RequestCounter, StoreCallCounts, StoreCallSnapshot, counted_s3_client};
use crate::report::{Spread, ms};

/// Writes at once while seeding.
const SEED_CONCURRENCY: usize = 32;
/// Measured passes per scenario (after one unmeasured).
const PASSES: usize = 3;

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PassFigures {
    pub stored: usize,
    pub active: usize,
    pub pass_ms: Option<Spread>,
    /// Store calls of one pass (the same for every measured pass).
    pub store_calls: StoreCallSnapshot,
    pub store_calls_total: u64,
    /// HTTP requests the S3 client sent during one pass.
    pub s3_requests: u64,
    pub flink_calls: u64,
    pub operations_in_report: usize,
    /// Of those, left unread.
    pub quiet_in_report: usize,
    /// The unmeasured pass before: the first look at the requests, which writes their quiet
    /// keys (its time and store calls).
    pub first_pass_ms: f64,
    pub first_pass_store_calls: StoreCallSnapshot,
    /// The same reads without the engine, as a pass makes them: the active listing, the markers
    /// `records::READS_AT_ONCE` at a time, then every active operation at once (the store's floor).
    pub reads_alone_ms: Option<Spread>,
}

/// P7's scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcilePass {
    pub scenarios: Vec<PassFigures>,
}

/// A request awaiting approval (two approvals needed, none given) within an hour's window.
pub fn awaiting_operation(job_id: &str, now: u64) -> Operation {
    Operation::new(
        uuid::Uuid::new_v4().simple().to_string(),
        OperationRequest {
            cluster_id: CLUSTER_ID.to_owned(),
            job_id: job_id.to_owned(),
            job_name: "keyed-counter".to_owned(),
            target: Target::Uniform { parallelism: 2 },
            strategy: Strategy::Auto,
            reason: "bench".to_owned(),
            requested_by: "alice".to_owned(),
            required_approvals: 2,
            approval_window_ms: 3_600_000,
            verify_timeout_ms: 120_000,
            artifact: None,
            autoscaling: None,
        },
        now,
    )
}

fn fresh_job_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The bucket of one series: the raw store to seed, the counted records the engine reads.
struct Series {
    raw: Arc<dyn Store>,
    raw_records: Records,
    counts: Arc<StoreCallCounts>,
    requests: S3RequestCounter,
    flink_log: Arc<FlinkCallLog>,
    engine: Engine,
    stored: usize,
    active: usize,
}

impl Series {
    async fn start(s3: &S3Server) -> anyhow::Result<Self> {
        let bucket = s3.fresh_bucket().await?;
        let raw: Arc<dyn Store> = Arc::new(S3Store::new(s3.client(), bucket.clone(), "rescaler"));
        let requests = S3RequestCounter::default();
        let counted_s3: Arc<dyn Store> =
            Arc::new(S3Store::new(counted_s3_client(s3, requests.clone()), bucket, "rescaler"));
        let counts = Arc::new(StoreCallCounts::default());
        let records = Records::new(Arc::new(CountingStore::new(counted_s3, counts.clone())));
        let flink_log = Arc::new(FlinkCallLog::default());
        // Nothing listens there: a pass over operations awaiting approval never calls Flink.
        let config = unreachable_cluster(CLUSTER_ID, "Unreachable");
        let client: Arc<dyn FlinkClient> = Arc::new(RecordingClient::new(
            Arc::new(RestFlinkClient::new(RestFlinkClientConfig::new(&config.rest_url))?),
            flink_log.clone(),
        ));
        let ahead = rescaler_backend::records::quiet::WAKE_HOLD_MS + 1_000;
        let mut engine =
            harness::rig::engine_with_client(&records, config, client, "bench-p7").with_clock(move || now_ms() + ahead);
        // The drift check (every 5 s otherwise) runs in every pass, so that every measured
        // pass makes the same calls and pays for it; the load sampling (every 30 s, one job
        // list per cluster, a sample per running job: none here) only in the unmeasured one.
        engine.drift = DriftCheck::new(Duration::ZERO);
        engine.sampler = LoadSampler::new(Duration::from_secs(3_600));
        Ok(Self {
            raw_records: Records::new(raw.clone()),
            raw,
            counts,
            requests,
            flink_log,
            engine,
            stored: 0,
            active: 0,
        })
    }

    async fn add(&mut self, terminal: usize, active: usize) -> anyhow::Result<()> {
        let now = now_ms();
        let raw = self.raw.clone();
        let terminal_writes = futures::stream::iter(0..terminal)
            .map(|_| {
                let raw = raw.clone();
                async move {
                    let mut operation = awaiting_operation(&fresh_job_id(), now - 86_400_000);
                    operation.enter(Phase::Completed, now - 86_000_000);
                    raw.create_json(&format!("operations/{}.json", operation.id), &operation).await
                }
            })
            .buffer_unordered(SEED_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for write in terminal_writes {
            write?;
        }
        let records = self.raw_records.clone();
        let active_writes = futures::stream::iter(0..active)
            .map(|_| {
                let records = records.clone();
                async move { records.create_operation(&awaiting_operation(&fresh_job_id(), now)).await }
            })
            .buffer_unordered(SEED_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for write in active_writes {
            write?;
        }
        self.stored += terminal + active;
        self.active += active;
        Ok(())
    }

    async fn measure(&self) -> anyhow::Result<PassFigures> {
        self.counts.reset();
        let started = Instant::now();
        self.engine.pass().await?;
        let first_pass_ms = ms(started.elapsed());
        let first_pass_store_calls = self.counts.snapshot();
        let mut times = Vec::new();
        let mut calls = Vec::new();
        let mut requests = Vec::new();
        let mut operations = 0;
        let mut quiet = 0;
        let flink_before: u64 = self.flink_log.counts().values().sum();
        for _ in 0..PASSES {
            self.counts.reset();
            self.requests.reset();
            let started = Instant::now();
            let report = self.engine.pass().await?;
            times.push(ms(started.elapsed()));
            calls.push(self.counts.snapshot());
            requests.push(self.requests.get());
            operations = report.operations;
            quiet = report.quiet;
        }
        anyhow::ensure!(
            calls.windows(2).all(|pair| pair[0] == pair[1]),
            "passes made different store calls: {calls:?}"
        );
        let flink_calls = self.flink_log.counts().values().sum::<u64>() - flink_before;
        let mut reads_alone = Vec::new();
        for _ in 0..PASSES {
            let started = Instant::now();
            let ids = self.raw_records.active_operation_ids().await?;
            let read = futures::future::join_all(ids.iter().map(|id| self.raw_records.operation(id))).await;
            anyhow::ensure!(read.iter().all(Result::is_ok), "an active operation was unreadable");
            reads_alone.push(ms(started.elapsed()));
        }
        let figures = PassFigures {
            stored: self.stored,
            active: self.active,
            pass_ms: Spread::of(&times),
            store_calls: calls[0],
            store_calls_total: calls[0].total(),
            s3_requests: requests.iter().copied().max().unwrap_or(0),
            flink_calls,
            operations_in_report: operations,
            quiet_in_report: quiet,
            first_pass_ms,
            first_pass_store_calls,
            reads_alone_ms: Spread::of(&reads_alone),
        };
        eprintln!(
            "[bench] P7 {} stored, {} active ({} quiet): pass {:.1} ms, {} store calls, {} S3 requests, {} Flink calls; \
             the reads alone {:.1} ms; the first pass {:.1} ms, {} store calls",
            figures.stored,
            figures.active,
            figures.quiet_in_report,
            figures.pass_ms.map(|spread| spread.median).unwrap_or(f64::NAN),
            figures.store_calls_total,
            figures.s3_requests,
            figures.flink_calls,
            figures.reads_alone_ms.map(|spread| spread.median).unwrap_or(f64::NAN),
            figures.first_pass_ms,
            figures.first_pass_store_calls.total(),
        );
        Ok(figures)
    }
}

/// Runs P7: 10 active among 100, 1,000 and `max_stored` stored; then 100 and 1,000 active
/// beside 990 terminal ones.
pub async fn reconcile_pass(s3: &S3Server, max_stored: usize) -> anyhow::Result<ReconcilePass> {
    let mut scenarios = Vec::new();
    let mut by_stored = Series::start(s3).await?;
    by_stored.add(90, 10).await?;
    scenarios.push(by_stored.measure().await?);
    by_stored.add(900, 0).await?;
    scenarios.push(by_stored.measure().await?);
    if max_stored > 1000 {
        by_stored.add(max_stored - 1000, 0).await?;
        scenarios.push(by_stored.measure().await?);
    }
    let mut by_active = Series::start(s3).await?;
    by_active.add(990, 100).await?;
    scenarios.push(by_active.measure().await?);
    by_active.add(0, 900).await?;
    scenarios.push(by_active.measure().await?);
    // The seeding is not what is measured; keep the scenarios in a readable order.
    scenarios.sort_by_key(|figures| (figures.active, figures.stored));
    Ok(ReconcilePass { scenarios })
}
