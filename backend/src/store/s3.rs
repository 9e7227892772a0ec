//! [`S3Store`]: the store in an S3 bucket, using conditional writes.
//!
//! `If-None-Match: *` makes a put create-only and `If-Match: <etag>` makes it a compare-and-swap.
//! A failed condition is a 412 `PreconditionFailed`; real S3 may also answer a concurrent
//! conditional write with 409 `ConditionalRequestConflict`. Both mean "lost the race", unless
//! our own earlier attempt of the same put landed (see [`conditional`]).

mod conditional;
mod large;

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use bytes::Bytes;

use super::{Store, StoreError, StoreFuture, StoreResult, Version, validate_key};

/// Where the store lives.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct S3StoreConfig {
    /// Empty only where no bucket is used (`savepoint_s3`).
    #[serde(default)]
    pub bucket: String,
    /// Prepended to every key, e.g. `rescaler/`.
    #[serde(default)]
    pub prefix: String,
    /// An S3-compatible endpoint (LocalStack, MinIO); unset for AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Static keys, for S3-compatible servers; unset to use the default AWS credential chain.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

/// How long one S3 request may take, retries included: well under the engine's lease, so a
/// pass that holds a lease never waits on S3 past it.
pub const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one attempt of an S3 request may take.
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The AWS SDK configuration `config` describes: static keys and a custom endpoint when given,
/// else the AWS default chain (what Lambda provides); with timeouts on every request. The S3
/// client's, and that of any other AWS client configured the same way (the SES mailer).
pub async fn aws_sdk_config(config: &S3StoreConfig) -> aws_config::SdkConfig {
    let region = Region::new(config.region.clone().unwrap_or_else(|| "us-east-1".to_owned()));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(S3_CONNECT_TIMEOUT)
        .operation_attempt_timeout(S3_ATTEMPT_TIMEOUT)
        .operation_timeout(S3_OPERATION_TIMEOUT)
        .build();
    let shared = match (&config.access_key_id, &config.secret_access_key) {
        (Some(key), Some(secret)) => aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                key,
                secret,
                None,
                None,
                "rescaler-config",
            )))
            .build(),
        _ => aws_config::defaults(BehaviorVersion::latest()).region(region).load().await,
    };
    let mut builder = shared.into_builder().timeout_config(timeouts);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

/// An S3 client for `config` (see [`aws_sdk_config`]), path-style on a custom endpoint.
pub async fn s3_client(config: &S3StoreConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(&aws_sdk_config(config).await);
    if config.endpoint.is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// A store in one bucket under one prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { client, bucket: bucket.into(), prefix }
    }

    /// Builds the client from configuration (see [`s3_client`]).
    pub async fn from_config(config: &S3StoreConfig) -> Self {
        Self::new(s3_client(config).await, config.bucket.clone(), config.prefix.clone())
    }

    /// The client, to reach the same S3 server for other buckets (savepoints).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn object_key(&self, key: &str) -> StoreResult<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

/// Maps an SDK error: lost conditions become [`StoreError::Conflict`], the rest unavailable.
fn classify<E, R>(key: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &error
        && matches!(service.err().code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
    {
        return StoreError::Conflict { key: key.to_owned() };
    }
    StoreError::Unavailable { detail: DisplayErrorContext(error).to_string() }
}

fn etag(etag: Option<&str>, key: &str) -> StoreResult<Version> {
    etag.map(|tag| Version(tag.to_owned()))
        .ok_or_else(|| StoreError::Unavailable { detail: format!("no ETag returned for {key}") })
}

impl Store for S3Store {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<(Bytes, Version)>> {
        Box::pin(async move {
            let object_key = self.object_key(key)?;
            // A body cut off mid-stream (seen when an object is rewritten while read) is
            // transient: read again, a few times.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let output = match self.client.get_object().bucket(&self.bucket).key(&object_key).send().await {
                    Ok(output) => output,
                    Err(SdkError::ServiceError(service)) if service.err().is_no_such_key() => return Ok(None),
                    Err(error) => return Err(classify(key, error)),
                };
                let version = etag(output.e_tag(), key)?;
                match output.body.collect().await {
                    Ok(body) => return Ok(Some((body.into_bytes(), version))),
                    Err(error) if attempt < 4 => {
                        tracing::debug!(store.key = key, %error, "object body cut off; reading again");
                    }
                    Err(error) => return Err(StoreError::Unavailable { detail: error.to_string() }),
                }
            }
        })
    }

    fn create<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, Version> {
        Box::pin(self.put_conditional(key, body, conditional::Condition::Absent))
    }

    fn replace<'a>(&'a self, key: &'a str, body: Bytes, expected: &'a Version) -> StoreFuture<'a, Version> {
        Box::pin(self.put_conditional(key, body, conditional::Condition::Matches(expected)))
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(self.object_key(key)?)
                .send()
                .await
                .map_err(|error| classify(key, error))?;
            Ok(())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let full_prefix = format!("{}{prefix}", self.prefix);
            let mut keys = Vec::new();
            let mut pages =
                self.client.list_objects_v2().bucket(&self.bucket).prefix(&full_prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| classify(prefix, error))?;
                for object in page.contents() {
                    if let Some(key) = object.key().and_then(|key| key.strip_prefix(&self.prefix)) {
                        keys.push(key.to_owned());
                    }
                }
            }
            keys.sort();
            Ok(keys)
        })
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let full_prefix = format!("{}{prefix}", self.prefix);
            let mut after = start_after.map(|key| format!("{}{key}", self.prefix));
            let mut keys = Vec::new();
            // S3 lists in UTF-8 binary order, the order of `str`: a page continues where the
            // last key left off.
            while keys.len() < limit {
                let max_keys = i32::try_from((limit - keys.len()).min(1000)).unwrap_or(1000);
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(&full_prefix)
                    .set_start_after(after.clone())
                    .max_keys(max_keys)
                    .send()
                    .await
                    .map_err(|error| classify(prefix, error))?;
                let before = keys.len();
                for object in page.contents() {
                    if let Some(key) = object.key() {
                        after = Some(key.to_owned());
                        if let Some(relative) = key.strip_prefix(&self.prefix) {
                            keys.push(relative.to_owned());
                        }
                    }
                }
                if keys.len() == before || !page.is_truncated().unwrap_or(false) {
                    break;
                }
            }
            keys.truncate(limit);
            Ok(keys)
        })
    }

    fn large_objects(&self) -> Option<&dyn super::large::LargeObjects> {
        Some(self)
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}
