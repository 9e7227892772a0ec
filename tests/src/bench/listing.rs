//! P8: listings that scale. With 10,000 stored requests and 100,000 audit events on the S3
//! server, the first page of `GET /rescales`, the inbox badge (`GET /rescales/awaiting-me/count`)
//! and the first page of `GET /audit` (the console's 50, and the API's default 200) through the real HTTP API (the Router served on loopback,
//! its records on the S3 server): latency over many runs and the store calls of one.
//!
//! Seeding writes the objects directly, many at once, in the layout the records layer writes
//! (each record, its index entries from the backend's own key functions, the index marker); it
//! is not what is measured.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt as _;
use harness::S3Server;
use harness::backend::LocalBackend;
use harness::config::{TestConfig, unreachable_cluster};
use harness::rig::CLUSTER_ID;
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::index::{
    AWAITING_VIEW_KEY, INDEX_VERSION_KEY, audit_entry_key, audit_key, operation_entry_keys, operations_in,
};
use rescaler_backend::store::{S3Store, Store};
use rescaler_shared::api::AuditEvent;
use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::Phase;
use serde::Serialize;

use crate::instrument::{CountingStore, StoreCallCounts};
use crate::reconcile_pass::awaiting_operation;
use crate::report::{Spread, ms, percentile, round1};

/// Writes at once while seeding.
const SEED_CONCURRENCY: usize = 64;
/// Of the stored requests: how many await approval, how many are approved and running; the
/// rest ended.
const AWAITING: usize = 40;
const RUNNING: usize = 60;

/// One endpoint's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ListingLatency {
    pub endpoint: String,
    pub user: String,
    pub runs: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub spread_ms: Option<Spread>,
    /// Store calls of one request (the last run's).
    pub store_calls: u64,
    /// Items in the answer (or the count the badge shows).
    pub answered: u64,
    pub target_ms: f64,
    pub target_met: bool,
}

/// P8's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Listings {
    pub stored_operations: usize,
    pub stored_audit_events: usize,
    pub seed_seconds: f64,
    pub endpoints: Vec<ListingLatency>,
    /// Single store calls on the same bucket, alone: where a listing's fixed part goes.
    pub store_calls_alone: Vec<StoreCallLatency>,
}

/// One store call timed alone, one after another.
#[derive(Debug, Clone, Serialize)]
pub struct StoreCallLatency {
    pub call: String,
    pub runs: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// Unconditional puts straight to the bucket, under the store's prefix: the cheapest writes the
/// S3 server takes.
#[derive(Clone)]
struct Seeder {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl Seeder {
    async fn put(&self, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{PREFIX}/{key}"))
            .body(body.into())
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("seed {key}: {}", aws_sdk_s3::error::DisplayErrorContext(error)))?;
        Ok(())
    }
}

const PREFIX: &str = "rescaler";

async fn seed_operations(store: &Seeder, count: usize) -> anyhow::Result<()> {
    let now = now_ms();
    let writes = futures::stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                // One every 4 minutes back from now: a month of requests, newest awaiting.
                let created = now - 240_000 * n as u64;
                let mut operation = awaiting_operation(&uuid::Uuid::new_v4().simple().to_string(), created);
                operation.requested_by = ["alice", "dave", "erin", "frank"][n % 4].to_owned();
                if n >= AWAITING + RUNNING {
                    operation.enter(Phase::Completed, created + 60_000);
                } else if n >= AWAITING {
                    operation.enter(Phase::Approved, created + 1_000);
                }
                write_operation(&store, &operation).await
            }
        })
        .buffer_unordered(SEED_CONCURRENCY);
    drain(writes).await
}

async fn write_operation(store: &Seeder, operation: &Operation) -> anyhow::Result<()> {
    // Entries first, as the records layer writes them.
    for key in operation_entry_keys(operation) {
        store.put(&key, b"{}".to_vec()).await?;
    }
    store.put(&format!("operations/{}.json", operation.id), serde_json::to_vec(operation)?).await
}

async fn seed_audit(store: &Seeder, count: usize) -> anyhow::Result<()> {
    let now = now_ms();
    let writes = futures::stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                let event = AuditEvent {
                    at_ms: now - 20_000 * n as u64,
                    actor: "alice".to_owned(),
                    action: "approved".to_owned(),
                    operation_id: None,
                    cluster_id: Some(CLUSTER_ID.to_owned()),
                    job_id: None,
                    message: format!("bench event {n}"),
                };
                let key = audit_key(event.at_ms, &format!("bench-{n:06}"));
                let entry = audit_entry_key(&key).ok_or_else(|| anyhow::anyhow!("no index entry for {key}"))?;
                store.put(&entry, b"{}".to_vec()).await?;
                store.put(&key, serde_json::to_vec(&event)?).await
            }
        })
        .buffer_unordered(SEED_CONCURRENCY);
    drain(writes).await
}

async fn drain(writes: impl futures::Stream<Item = anyhow::Result<()>>) -> anyhow::Result<()> {
    let mut writes = std::pin::pin!(writes);
    let mut done = 0usize;
    let started = Instant::now();
    while let Some(write) = writes.next().await {
        write?;
        done += 1;
        if done % 10_000 == 0 {
            eprintln!("[bench] P8 seeded {done} records ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// How one endpoint is called: as whom, and whether the badge's document is removed before
/// each call (so every call rebuilds it, as one poll in [`REBUILT_EVERY_MS`] does).
///
/// [`REBUILT_EVERY_MS`]: rescaler_backend::records::index::REBUILT_EVERY_MS
struct Endpoint<'a> {
    path: &'a str,
    user: &'a str,
    drop_document: Option<&'a dyn Store>,
}

/// Times `runs` calls of the endpoint after 3 unmeasured ones.
async fn measure(
    http: &reqwest::Client,
    base: &str,
    endpoint: &Endpoint<'_>,
    runs: usize,
    counts: &StoreCallCounts,
    target_ms: f64,
) -> anyhow::Result<ListingLatency> {
    let Endpoint { path, user, drop_document } = *endpoint;
    let call = async || -> anyhow::Result<(f64, serde_json::Value)> {
        if let Some(raw) = drop_document {
            raw.delete(AWAITING_VIEW_KEY).await?;
            counts.reset();
        }
        let started = Instant::now();
        let response = http.get(format!("{base}/api/v1{path}")).bearer_auth(format!("{user}-token")).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        let elapsed = ms(started.elapsed());
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {body}");
        Ok((elapsed, body))
    };
    for _ in 0..3 {
        call().await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut answered = 0;
    let mut store_calls = 0;
    for _ in 0..runs {
        counts.reset();
        let (elapsed, body) = call().await?;
        store_calls = counts.snapshot().total();
        times.push(elapsed);
        answered = body.as_array().map(|items| items.len() as u64).or_else(|| body["count"].as_u64()).unwrap_or(0);
    }
    let median_ms = round1(crate::report::median(&times).unwrap_or(f64::NAN));
    let p95_ms = round1(percentile(&times, 95.0).unwrap_or(f64::NAN));
    let label = if drop_document.is_some() { format!("{path} (document rebuilt)") } else { path.to_owned() };
    eprintln!(
        "[bench] P8 {label} as {user}: median {median_ms} ms, p95 {p95_ms} ms, {store_calls} store calls, {answered} answered"
    );
    Ok(ListingLatency {
        endpoint: label,
        user: user.to_owned(),
        runs,
        median_ms,
        p95_ms,
        spread_ms: Spread::of(&times),
        store_calls,
        answered,
        target_ms,
        target_met: p95_ms <= target_ms,
    })
}

/// Runs P8 with `operations` stored requests and `audit_events` audit events, `runs` calls
/// per endpoint.
pub async fn listings(s3: &S3Server, operations: usize, audit_events: usize, runs: usize) -> anyhow::Result<Listings> {
    let bucket = s3.fresh_bucket().await?;
    let raw: Arc<dyn Store> = Arc::new(S3Store::new(s3.client(), bucket.clone(), PREFIX));
    let seeder = Seeder { client: s3.client(), bucket: bucket.clone() };
    let seeding = Instant::now();
    seed_operations(&seeder, operations).await?;
    seed_audit(&seeder, audit_events).await?;
    raw.create(INDEX_VERSION_KEY, Bytes::from_static(b"{\"version\":1}")).await?;
    let seed_seconds = round1(seeding.elapsed().as_secs_f64());
    eprintln!("[bench] P8 seeded {operations} requests and {audit_events} audit events in {seed_seconds} s");

    let counts = Arc::new(StoreCallCounts::default());
    let store: Arc<dyn Store> = Arc::new(CountingStore::new(raw.clone(), counts.clone()));
    let config = TestConfig::new().with_cluster(unreachable_cluster(CLUSTER_ID, "Bench")).build();
    let backend = LocalBackend::start(config, store, false).await?;
    let base = backend.url();
    let http = reqwest::Client::new();
    let mut endpoints = Vec::new();
    let cursor_of_first_page = {
        let response = http.get(format!("{base}/api/v1/rescales")).bearer_auth("victor-token").send().await?;
        response.headers().get("x-next-cursor").and_then(|value| value.to_str().ok()).map(str::to_owned)
    };
    let second_page = format!("/rescales?cursor={}", cursor_of_first_page.unwrap_or_default());
    let badge = "/rescales/awaiting-me/count";
    for (path, user, drop_document) in [
        ("/rescales", "victor", None),
        (second_page.as_str(), "victor", None),
        (badge, "bob", None),
        (badge, "bob", Some(raw.as_ref())),
        ("/rescales?awaiting_me=true", "bob", None),
        ("/audit?limit=50", "victor", None),
        ("/audit", "victor", None),
    ] {
        let endpoint = Endpoint { path, user, drop_document };
        endpoints.push(measure(&http, &base, &endpoint, runs, &counts, 300.0).await?);
    }
    let store_calls_alone = store_calls_alone(raw.as_ref(), runs).await?;
    Ok(Listings {
        stored_operations: operations,
        stored_audit_events: audit_events,
        seed_seconds,
        endpoints,
        store_calls_alone,
    })
}

/// One listing of the awaiting group (51 keys, as a page asks) and one read of a request, each
/// alone on the seeded bucket.
async fn store_calls_alone(raw: &dyn Store, runs: usize) -> anyhow::Result<Vec<StoreCallLatency>> {
    let prefix = operations_in(PhaseGroup::AwaitingApproval);
    let first = raw.list_page(&prefix, None, 1).await?;
    let entry = first.first().and_then(|key| key.strip_prefix(prefix.as_str())).unwrap_or_default();
    let id = rescaler_backend::records::index::parse_entry_name(entry).map(|(_, id)| id.to_owned()).unwrap_or_default();
    let record = format!("operations/{id}.json");
    let mut figures = Vec::new();
    for (call, list) in [(format!("ListObjectsV2 {prefix} (51 keys)"), true), (format!("GetObject {record}"), false)] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            if list {
                raw.list_page(&prefix, None, 51).await?;
            } else {
                anyhow::ensure!(raw.get(&record).await?.is_some(), "{record} is not stored");
            }
            times.push(ms(started.elapsed()));
        }
        let median_ms = round1(crate::report::median(&times).unwrap_or(f64::NAN));
        let p95_ms = round1(percentile(&times, 95.0).unwrap_or(f64::NAN));
        eprintln!("[bench] P8 store call alone, {call}: median {median_ms} ms, p95 {p95_ms} ms");
        figures.push(StoreCallLatency { call, runs, median_ms, p95_ms });
    }
    Ok(figures)
}
