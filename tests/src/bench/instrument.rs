//! Instruments the benchmarks put around the product's boundaries, by delegation: a Flink client
//! that logs when each call started, a store that counts its calls, and an S3
//! interceptor that counts the HTTP requests the SDK sends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use bytes::Bytes;
use futures::future::BoxFuture;
use rescaler_backend::flink::{
    CheckpointHistory, FlinkClient, FlinkResult, JarInfo, JobDetail, JobSummary, ParallelismBounds, RunJar,
    VertexMetrics,
};
use rescaler_backend::store::{Store, StoreFuture, Version};
use rescaler_shared::flink::{ClusterView, JobView, SavepointStatus};

/// One call a [`LoggedFlinkClient`] passed on.
#[derive(Debug, Clone)]
pub struct FlinkCall {
    pub method: &'static str,
    pub started: Instant,
}

/// The calls of a [`LoggedFlinkClient`], oldest first.
#[derive(Debug, Default)]
pub struct FlinkCallLog {
    calls: Mutex<Vec<FlinkCall>>,
}

impl FlinkCallLog {
    fn push(&self, call: FlinkCall) {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(call);
    }

    /// How many calls are logged: a mark for [`FlinkCallLog::since`].
    pub fn len(&self) -> usize {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// The calls logged after `mark`.
    pub fn since(&self, mark: usize) -> Vec<FlinkCall> {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().skip(mark).cloned().collect()
    }

    /// Calls per method.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for call in self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            *counts.entry(call.method).or_insert(0) += 1;
        }
        counts
    }
}

/// The first call of `method` in `calls`.
pub fn first_call<'a>(calls: &'a [FlinkCall], method: &str) -> Option<&'a FlinkCall> {
    calls.iter().find(|call| call.method == method)
}

/// A [`FlinkClient`] that passes every call on and logs when it started.
pub struct LoggedFlinkClient {
    inner: Arc<dyn FlinkClient>,
    log: Arc<FlinkCallLog>,
}

impl LoggedFlinkClient {
    pub fn new(inner: Arc<dyn FlinkClient>, log: Arc<FlinkCallLog>) -> Self {
        Self { inner, log }
    }

    fn logged<'a, T: Send + 'a>(
        &'a self,
        method: &'static str,
        call: BoxFuture<'a, FlinkResult<T>>,
    ) -> BoxFuture<'a, FlinkResult<T>> {
        Box::pin(async move {
            self.log.push(FlinkCall { method, started: Instant::now() });
            call.await
        })
    }
}

impl FlinkClient for LoggedFlinkClient {
    fn cluster_overview(&self) -> BoxFuture<'_, FlinkResult<ClusterView>> {
        self.logged("cluster_overview", self.inner.cluster_overview())
    }

    fn list_jobs(&self) -> BoxFuture<'_, FlinkResult<Vec<JobSummary>>> {
        self.logged("list_jobs", self.inner.list_jobs())
    }

    fn job_detail<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobDetail>>> {
        self.logged("job_detail", self.inner.job_detail(job_id))
    }

    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<JobView>>> {
        self.logged("job", self.inner.job(job_id))
    }

    fn vertex_metrics<'a>(&'a self, job_id: &'a str, vertex_id: &'a str) -> BoxFuture<'a, FlinkResult<VertexMetrics>> {
        self.logged("vertex_metrics", self.inner.vertex_metrics(job_id, vertex_id))
    }

    fn checkpoint_history<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<Option<CheckpointHistory>>> {
        self.logged("checkpoint_history", self.inner.checkpoint_history(job_id))
    }

    fn stop_with_savepoint<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
        target_directory: Option<&'a str>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        self.logged("stop_with_savepoint", self.inner.stop_with_savepoint(job_id, trigger_id, target_directory))
    }

    fn savepoint_status<'a>(
        &'a self,
        job_id: &'a str,
        trigger_id: &'a str,
    ) -> BoxFuture<'a, FlinkResult<SavepointStatus>> {
        self.logged("savepoint_status", self.inner.savepoint_status(job_id, trigger_id))
    }

    fn upload_jar<'a>(&'a self, file_name: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, FlinkResult<String>> {
        self.logged("upload_jar", self.inner.upload_jar(file_name, bytes))
    }

    fn list_jars(&self) -> BoxFuture<'_, FlinkResult<Vec<JarInfo>>> {
        self.logged("list_jars", self.inner.list_jars())
    }

    fn run_jar<'a>(&'a self, jar_id: &'a str, run: &'a RunJar) -> BoxFuture<'a, FlinkResult<String>> {
        self.logged("run_jar", self.inner.run_jar(jar_id, run))
    }

    fn set_resource_requirements<'a>(
        &'a self,
        job_id: &'a str,
        requirements: &'a BTreeMap<String, ParallelismBounds>,
    ) -> BoxFuture<'a, FlinkResult<()>> {
        self.logged("set_resource_requirements", self.inner.set_resource_requirements(job_id, requirements))
    }

    fn cancel_job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, FlinkResult<()>> {
        self.logged("cancel_job", self.inner.cancel_job(job_id))
    }
}

/// Store calls by kind.
#[derive(Debug, Default)]
pub struct StoreCallCounts {
    pub get: AtomicU64,
    pub create: AtomicU64,
    pub replace: AtomicU64,
    pub delete: AtomicU64,
    pub list: AtomicU64,
}

impl StoreCallCounts {
    pub fn reset(&self) {
        for counter in [&self.get, &self.create, &self.replace, &self.delete, &self.list] {
            counter.store(0, Ordering::SeqCst);
        }
    }

    /// (get, create, replace, delete, list) now.
    pub fn snapshot(&self) -> StoreCallSnapshot {
        StoreCallSnapshot {
            get: self.get.load(Ordering::SeqCst),
            create: self.create.load(Ordering::SeqCst),
            replace: self.replace.load(Ordering::SeqCst),
            delete: self.delete.load(Ordering::SeqCst),
            list: self.list.load(Ordering::SeqCst),
        }
    }
}

/// Store calls counted over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCallSnapshot {
    pub get: u64,
    pub create: u64,
    pub replace: u64,
    pub delete: u64,
    pub list: u64,
}

impl StoreCallSnapshot {
    pub fn total(&self) -> u64 {
        self.get + self.create + self.replace + self.delete + self.list
    }
}

/// A [`Store`] that passes every call on and counts it.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: Arc<StoreCallCounts>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>, counts: Arc<StoreCallCounts>) -> Self {
        Self { inner, counts }
    }
}

impl Store for CountingStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<(Bytes, Version)>> {
        self.counts.get.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key)
    }

    fn create<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, Version> {
        self.counts.create.fetch_add(1, Ordering::SeqCst);
        self.inner.create(key, body)
    }

    fn replace<'a>(&'a self, key: &'a str, body: Bytes, expected: &'a Version) -> StoreFuture<'a, Version> {
        self.counts.replace.fetch_add(1, Ordering::SeqCst);
        self.inner.replace(key, body, expected)
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.counts.delete.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.counts.list.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

/// Counts the HTTP requests an S3 client sends (every attempt, list pages included).
#[derive(Debug, Clone, Default)]
pub struct S3RequestCounter(Arc<AtomicU64>);

impl S3RequestCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

impl Intercept for S3RequestCounter {
    fn name(&self) -> &'static str {
        "bench-s3-request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// An S3 client for the harness's server, like [`harness::S3Server::client`], counting its requests.
pub fn counted_s3_client(s3: &harness::S3Server, counter: S3RequestCounter) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(s3.endpoint())
        .force_path_style(true)
        .region(Region::new(harness::s3::REGION))
        .credentials_provider(Credentials::new(harness::s3::ACCESS_KEY, harness::s3::SECRET_KEY, None, None, "bench"))
        .interceptor(counter)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
