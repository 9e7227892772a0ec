//! Instruments the benchmarks put around the product's boundaries, by delegation: a store that
//! counts its calls and an S3 interceptor that counts the HTTP requests the SDK sends. (The
//! Flink client is the harness's [`harness::recording::RecordingClient`].)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use bytes::Bytes;
use rescaler_backend::store::{Store, StoreFuture, Version};

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

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        self.counts.list.fetch_add(1, Ordering::SeqCst);
        self.inner.list_page(prefix, start_after, limit)
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
