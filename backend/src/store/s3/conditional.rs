//! Conditional puts that survive their own retries.
//!
//! A conditional `PutObject` whose answer is lost (an attempt timeout, a dropped connection, a
//! 5xx after the write) may still have landed. Retried blindly, the second attempt then fails its
//! own condition: `If-None-Match: *` finds the object the first attempt created, `If-Match` finds
//! the version the first attempt wrote, and the caller would read "lost the race" for a write
//! that won. So the SDK does not retry these puts; this loop does, and after an ambiguous attempt
//! a failed condition is settled by reading the key: holding exactly the bytes we sent, the write
//! landed and its version is returned. (Another writer storing the very same bytes in that window
//! is indistinguishable, and harmless: the stored state is what this writer asked for.)

use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse as Response;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{S3_OPERATION_TIMEOUT, S3Store, classify, etag};
use crate::store::{Store, StoreError, StoreResult, Version};

/// Attempts of one conditional put, the first included (the SDK's standard mode makes three).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The condition of a put.
#[derive(Debug, Clone, Copy)]
pub(super) enum Condition<'a> {
    /// Create only: `If-None-Match: *`.
    Absent,
    /// Compare-and-swap: `If-Match: <etag>`.
    Matches(&'a Version),
}

impl S3Store {
    /// Puts `body` at `key` under `condition`, retrying transient failures itself (see the
    /// module documentation), within [`S3_OPERATION_TIMEOUT`] in all.
    pub(super) async fn put_conditional(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition<'_>,
    ) -> StoreResult<Version> {
        let object_key = self.object_key(key)?;
        let started = Instant::now();
        let mut ambiguous = false;
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let error = match self.put_once(&object_key, body.clone(), condition).await {
                Ok(output) => return etag(output.e_tag(), key),
                Err(error) => error,
            };
            let lost_condition = is_lost_condition(&error, condition);
            if lost_condition && ambiguous {
                return self.settle(key, &body).await;
            }
            if lost_condition {
                return Err(StoreError::Conflict { key: key.to_owned() });
            }
            let retry =
                is_transient(&error) && attempt < ATTEMPTS && started.elapsed() + backoff < S3_OPERATION_TIMEOUT;
            if !retry {
                return Err(classify(key, error));
            }
            tracing::debug!(store.key = key, attempt, error = %aws_sdk_s3::error::DisplayErrorContext(&error), "conditional put failed; trying again");
            ambiguous = true;
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        unreachable!("the last attempt returns")
    }

    async fn put_once(
        &self,
        object_key: &str,
        body: Bytes,
        condition: Condition<'_>,
    ) -> Result<PutObjectOutput, SdkError<PutObjectError, Response>> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Matches(version) => request.if_match(&version.0),
        };
        request
            .customize()
            .config_override(aws_sdk_s3::config::Builder::new().retry_config(RetryConfig::disabled()))
            .send()
            .await
    }

    /// After an ambiguous attempt and a failed condition: did our write land?
    async fn settle(&self, key: &str, body: &Bytes) -> StoreResult<Version> {
        match self.get(key).await? {
            Some((stored, version)) if stored == *body => {
                tracing::info!(store.key = key, "a retried conditional put found its own earlier attempt stored");
                Ok(version)
            }
            _ => Err(StoreError::Conflict { key: key.to_owned() }),
        }
    }
}

/// The put's condition failed: 412, S3's 409 for a concurrent conditional write, or (for
/// `If-Match`) 404, the key being gone.
fn is_lost_condition(error: &SdkError<PutObjectError, Response>, condition: Condition<'_>) -> bool {
    let SdkError::ServiceError(service) = error else { return false };
    if matches!(service.err().code(), Some("PreconditionFailed" | "ConditionalRequestConflict")) {
        return true;
    }
    matches!(condition, Condition::Matches(_)) && service.raw().status().as_u16() == 404
}

/// Worth another attempt: no answer, a cut-off answer, a server error or throttling.
fn is_transient(error: &SdkError<PutObjectError, Response>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(service.err().code(), Some("SlowDown" | "Throttling" | "RequestTimeout"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::store::s3::{S3StoreConfig, s3_client};

    const PRECONDITION_FAILED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>";

    async fn store_on(server: &MockServer) -> S3Store {
        let config = S3StoreConfig {
            bucket: "records".to_owned(),
            endpoint: Some(server.uri()),
            access_key_id: Some("test".to_owned()),
            secret_access_key: Some("test".to_owned()),
            ..S3StoreConfig::default()
        };
        S3Store::new(s3_client(&config).await, "records", "")
    }

    /// The first put answers 500 (its write landed nonetheless), the retry 412.
    async fn ambiguous_then_lost(server: &MockServer) {
        Mock::given(method("PUT"))
            .and(path("/records/k.json"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(1)
            .mount(server)
            .await;
        Mock::given(method("PUT"))
            .and(path("/records/k.json"))
            .respond_with(ResponseTemplate::new(412).set_body_string(PRECONDITION_FAILED))
            .mount(server)
            .await;
    }

    fn stored(body: &'static str) -> ResponseTemplate {
        ResponseTemplate::new(200).insert_header("ETag", "\"v1\"").set_body_string(body)
    }

    #[tokio::test]
    async fn a_retried_create_that_finds_its_own_bytes_succeeds() {
        let server = MockServer::start().await;
        ambiguous_then_lost(&server).await;
        Mock::given(method("GET")).and(path("/records/k.json")).respond_with(stored("{\"n\":1}")).mount(&server).await;
        let store = store_on(&server).await;
        let version = store.create("k.json", Bytes::from_static(b"{\"n\":1}")).await.expect("our write landed");
        assert_eq!(version, Version("\"v1\"".to_owned()));
    }

    #[tokio::test]
    async fn a_retried_replace_that_finds_other_bytes_lost_the_race() {
        let server = MockServer::start().await;
        ambiguous_then_lost(&server).await;
        Mock::given(method("GET")).and(path("/records/k.json")).respond_with(stored("{\"n\":2}")).mount(&server).await;
        let store = store_on(&server).await;
        let result = store.replace("k.json", Bytes::from_static(b"{\"n\":1}"), &Version("\"v0\"".to_owned())).await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn a_first_attempt_that_loses_its_condition_is_a_conflict_without_a_read() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(header("If-None-Match", "*"))
            .respond_with(ResponseTemplate::new(412).set_body_string(PRECONDITION_FAILED))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET")).respond_with(stored("{\"n\":1}")).expect(0).mount(&server).await;
        let store = store_on(&server).await;
        let result = store.create("k.json", Bytes::from_static(b"{\"n\":1}")).await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn a_client_error_is_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("PUT")).respond_with(ResponseTemplate::new(403)).expect(1).mount(&server).await;
        let store = store_on(&server).await;
        let result = store.create("k.json", Bytes::from_static(b"{}")).await;
        assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
    }
}
