//! P6: API latency under 100 concurrent clients, on the local server (the Router in-process on a
//! loopback port) with its records on the S3 server and a real Flink behind the jobs list.
//!
//! Each client has its own HTTP connection pool and sends one request after another (a closed
//! loop: with 100 clients, latency ≈ 100 / throughput); all of them stop after a bounded number
//! of requests or a bounded time, whichever comes first. For scale, the same load is also sent
//! to what each endpoint calls behind it (Flink's `/jobs/overview`; an S3 `GetObject` of the
//! operation's record) and to `/healthz`, which calls nothing. The load generator runs in the
//! same process and on the same cores as the server, the S3 server and Flink.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harness::S3Server;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig;
use serde::Serialize;

use crate::downtime::Scene;
use crate::report::{ms, percentile, round1};

/// Latency of one endpoint under load.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointLatency {
    pub endpoint: String,
    /// What is measured: the product's API, or what an endpoint calls behind it.
    pub role: &'static str,
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub duration_ms: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// P6's settings and figures.
#[derive(Debug, Clone, Serialize)]
pub struct ApiLatency {
    pub clients: usize,
    pub max_requests_per_endpoint: usize,
    pub max_seconds_per_endpoint: u64,
    pub endpoints: Vec<EndpointLatency>,
}

/// Bounds of one load run.
#[derive(Debug, Clone, Copy)]
pub struct LoadBounds {
    pub clients: usize,
    pub max_requests: usize,
    pub max_time: Duration,
}

/// Runs `request(client)` from `bounds.clients` closed-loop clients; `request` answers whether
/// the call succeeded.
async fn load<F, Fut>(
    endpoint: String,
    role: &'static str,
    bounds: LoadBounds,
    request: F,
) -> anyhow::Result<EndpointLatency>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    // One request per client first, unmeasured: connections open, caches warm.
    let warmups = futures::future::join_all((0..bounds.clients).map(|client| request(client))).await;
    anyhow::ensure!(warmups.iter().all(|ok| *ok), "{endpoint} failed while warming up");
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + bounds.max_time;
    let workers = (0..bounds.clients).map(|client| {
        let (issued, request) = (issued.clone(), request.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while issued.fetch_add(1, Ordering::SeqCst) < bounds.max_requests && Instant::now() < deadline {
                let sent = Instant::now();
                let ok = request(client).await;
                latencies.push(ms(sent.elapsed()));
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in futures::future::join_all(workers).await {
        let (worker_latencies, worker_errors) = worker?;
        latencies.extend(worker_latencies);
        errors += worker_errors;
    }
    let duration = started.elapsed();
    let at = |p: f64| round1(percentile(&latencies, p).unwrap_or(f64::NAN));
    let figures = EndpointLatency {
        endpoint,
        role,
        clients: bounds.clients,
        requests: latencies.len(),
        errors,
        duration_ms: round1(ms(duration)),
        requests_per_second: round1(latencies.len() as f64 / duration.as_secs_f64()),
        p50_ms: at(50.0),
        p90_ms: at(90.0),
        p99_ms: at(99.0),
        max_ms: at(100.0),
    };
    eprintln!(
        "[bench] P6 {} ({}): {} requests, p50 {} ms, p99 {} ms, {} req/s, {} errors",
        figures.endpoint,
        figures.role,
        figures.requests,
        figures.p50_ms,
        figures.p99_ms,
        figures.requests_per_second,
        figures.errors
    );
    Ok(figures)
}

/// GETs `url` from per-client connection pools, with alice's token.
async fn load_http(
    endpoint: String,
    role: &'static str,
    url: String,
    bounds: LoadBounds,
) -> anyhow::Result<EndpointLatency> {
    let mut pools = Vec::with_capacity(bounds.clients);
    for _ in 0..bounds.clients {
        pools.push(reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?);
    }
    let pools = Arc::new(pools);
    let url = Arc::new(url);
    load(endpoint, role, bounds, move |client| {
        let (pools, url) = (pools.clone(), url.clone());
        async move {
            match pools[client].get(url.as_str()).bearer_auth("alice-token").send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// Runs P6 against the scene's Flink and store: the jobs list and one request's detail, each
/// beside what it calls, then `/healthz`.
pub async fn api_latency(scene: &Scene, s3: &S3Server, bounds: LoadBounds) -> anyhow::Result<ApiLatency> {
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&scene.flink)).build();
    let backend = LocalBackend::start(config, scene.records.store().clone(), false).await?;
    // A request that ran: its record carries the full history a detail page shows.
    let operation_id = match scene.operation_ids.last() {
        Some(id) => id.clone(),
        None => {
            // Awaiting approval: the scene's engine loop leaves it alone.
            let operation =
                crate::reconcile_pass::awaiting_operation(&scene.job_id, rescaler_backend::reconcile::now_ms());
            scene.records.create_operation(&operation).await?;
            operation.id
        }
    };
    let base = backend.url();
    let mut endpoints = Vec::new();
    endpoints.push(
        load_http(
            format!("GET /api/v1/clusters/{}/jobs", rig::CLUSTER_ID),
            "api",
            format!("{base}/api/v1/clusters/{}/jobs", rig::CLUSTER_ID),
            bounds,
        )
        .await?,
    );
    endpoints.push(
        load_http(
            "GET flink /jobs/overview".to_owned(),
            "behind the jobs list",
            format!("{}/jobs/overview", scene.flink.rest_url()),
            bounds,
        )
        .await?,
    );
    endpoints.push(
        load_http(
            "GET /api/v1/rescales/{id}".to_owned(),
            "api",
            format!("{base}/api/v1/rescales/{operation_id}"),
            bounds,
        )
        .await?,
    );
    let s3_client = s3.client();
    let bucket = Arc::new(scene.bucket.clone());
    let key = Arc::new(format!("rescaler/operations/{operation_id}.json"));
    endpoints.push(
        load("S3 GetObject operations/{id}.json".to_owned(), "behind the request detail", bounds, move |_| {
            let (s3_client, bucket, key) = (s3_client.clone(), bucket.clone(), key.clone());
            async move {
                match s3_client.get_object().bucket(bucket.as_str()).key(key.as_str()).send().await {
                    Ok(object) => object.body.collect().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await?,
    );
    endpoints
        .push(load_http("GET /healthz".to_owned(), "api, no backend call", format!("{base}/healthz"), bounds).await?);
    Ok(ApiLatency {
        clients: bounds.clients,
        max_requests_per_endpoint: bounds.max_requests,
        max_seconds_per_endpoint: bounds.max_time.as_secs(),
        endpoints,
    })
}
