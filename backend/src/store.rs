//! Durable records: a key → JSON document store with create-only and compare-and-swap writes.
//!
//! Two implementations: [`S3Store`] (aws-sdk-s3 with `If-None-Match: *` and `If-Match: <etag>`)
//! and [`DirStore`] (a directory, the embedded default of the local binary). Both pass the same
//! contract tests (`tests/tests/it/store_contract.rs`), the S3 one against a real S3 server.
//!
//! Architecture Invariant: every write that depends on what was read is conditional. A writer
//! that lost a race gets [`StoreError::Conflict`] and must re-read; nothing is overwritten blind.

mod dir;
pub mod large;
mod s3;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use dir::DirStore;
pub use s3::{S3_OPERATION_TIMEOUT, S3Store, S3StoreConfig, aws_sdk_config, s3_client};

/// An opaque version of a stored document: the S3 ETag, or the directory store's content hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key taken, or a compare-and-swap found another version.
    #[error("conflicting write to {key}")]
    Conflict { key: String },
    #[error("invalid store key {key:?}")]
    InvalidKey { key: String },
    #[error("cannot decode {key}: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("store unavailable: {detail}")]
    Unavailable { detail: String },
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// A key → bytes store with conditional writes. Keys are `/`-separated relative paths of
/// `[A-Za-z0-9._=-]` segments.
pub trait Store: Send + Sync {
    /// The document and its version, or `None` when the key does not exist.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<(Bytes, Version)>>;
    /// Writes only if the key does not exist yet.
    fn create<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, Version>;
    /// Writes only if the stored version is still `expected`.
    fn replace<'a>(&'a self, key: &'a str, body: Bytes, expected: &'a Version) -> StoreFuture<'a, Version>;
    /// Removes a key; removing a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
    /// Every key under `prefix`, sorted.
    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>>;
    /// At most `limit` keys under `prefix` that sort after `start_after` (from the first when
    /// `None`), sorted: one page of [`Store::list`]. S3 answers it with one `ListObjectsV2` per
    /// 1000 keys; this default lists everything and cuts, for stores that cannot do better.
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut keys = self.list(prefix).await?;
            keys.retain(|key| start_after.is_none_or(|after| key.as_str() > after));
            keys.truncate(limit);
            Ok(keys)
        })
    }
    /// A short name for logs (`dir`, `s3`).
    fn kind(&self) -> &'static str;
    /// Writing and reading objects too large to hold in memory (job jars), where the store
    /// can: both the S3 and the directory store.
    fn large_objects(&self) -> Option<&dyn large::LargeObjects> {
        None
    }
}

/// Checks a key before it reaches a file system or S3.
pub fn validate_key(key: &str) -> StoreResult<()> {
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
    };
    if key.len() > 512 || !key.split('/').all(valid_segment) {
        return Err(StoreError::InvalidKey { key: key.to_owned() });
    }
    Ok(())
}

/// Typed JSON access on top of any [`Store`].
pub trait JsonStore {
    fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = StoreResult<Option<(T, Version)>>> + Send;
    fn create_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
    ) -> impl Future<Output = StoreResult<Version>> + Send;
    fn replace_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        expected: &Version,
    ) -> impl Future<Output = StoreResult<Version>> + Send;
}

impl<S: Store + ?Sized> JsonStore for S {
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<(T, Version)>> {
        let Some((body, version)) = self.get(key).await? else { return Ok(None) };
        let value = serde_json::from_slice(&body)
            .map_err(|error| StoreError::Corrupt { key: key.to_owned(), detail: error.to_string() })?;
        Ok(Some((value, version)))
    }

    async fn create_json<T: Serialize + Sync>(&self, key: &str, value: &T) -> StoreResult<Version> {
        self.create(key, encode(key, value)?).await
    }

    async fn replace_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        expected: &Version,
    ) -> StoreResult<Version> {
        self.replace(key, encode(key, value)?, expected).await
    }
}

fn encode<T: Serialize>(key: &str, value: &T) -> StoreResult<Bytes> {
    serde_json::to_vec_pretty(value)
        .map(Bytes::from)
        .map_err(|error| StoreError::Corrupt { key: key.to_owned(), detail: error.to_string() })
}
