//! The issuer's signing keys: a JWKS fetched over HTTP, cached by `kid`, refetched when a token
//! names an unknown `kid` (at most once per interval, one fetch at a time) and when the cached
//! set is older than the refresh interval.
//!
//! A key the issuer withdrew stops being trusted within the refresh interval (`oidc` auth's
//! `jwks_refresh_secs`, 300 s by default): the first token checked after that time
//! fetches the set again, and a set without the key replaces the cached one. Only when that
//! fetch fails are the cached keys kept, for one more interval at most (an issuer outage does
//! not sign everyone out at once); past twice the interval no cached key is trusted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

/// Default time after a successful fetch before an unknown `kid` may trigger another.
pub(super) const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Time after a failed fetch before the next attempt (capped by the refetch interval).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Limit on one fetch, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS is a few kilobytes; anything much larger is not one.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The RS256 verification keys of one JWKS URL.
pub(super) struct KeySet {
    url: String,
    http_client: reqwest::Client,
    refetch_interval: Duration,
    refresh_interval: Duration,
    cache: RwLock<KeyCache>,
    /// Held while fetching, so concurrent misses cause one fetch.
    fetching: Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When `keys` were fetched.
    keys_fetched_at: Option<Instant>,
    last_fetch: Option<FetchAttempt>,
}

impl KeyCache {
    /// The key named `kid`, if the set it is in was fetched less than `max_age` ago.
    fn key_younger_than(&self, kid: &str, max_age: Duration) -> Option<Arc<DecodingKey>> {
        let fresh = self.keys_fetched_at.is_some_and(|at| at.elapsed() < max_age);
        if fresh { self.keys.get(kid).cloned() } else { None }
    }
}

#[derive(Clone, Copy)]
struct FetchAttempt {
    at: Instant,
    succeeded: bool,
}

/// Why a JWKS fetch failed; logged, then answered as `AuthError::JwksUnavailable`.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("document is not a JWKS: {0}")]
    Json(#[from] serde_json::Error),
}

/// A JWKS read entry by entry: one entry `jsonwebtoken::jwk::JwkSet` cannot read (another kind
/// of key, a newer member) would reject the whole set, and with it the issuer's usable keys.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    pub(super) fn new(url: String, http_client: reqwest::Client, refresh_interval: Duration) -> Self {
        Self {
            url,
            http_client,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            refresh_interval,
            cache: RwLock::new(KeyCache::default()),
            fetching: Mutex::new(()),
        }
    }

    pub(super) fn set_refetch_interval(&mut self, interval: Duration) {
        self.refetch_interval = interval;
    }

    pub(super) fn set_refresh_interval(&mut self, interval: Duration) {
        self.refresh_interval = interval;
    }

    /// The key named `kid`: from the cache while the set is younger than the refresh interval,
    /// else from a new fetch (unless the last one is too recent to ask again).
    pub(super) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.cache.read().await.key_younger_than(kid, self.refresh_interval) {
            return Ok(key);
        }
        let _fetching = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let (stale_key, last_fetch) = {
            let cache = self.cache.read().await;
            if let Some(key) = cache.key_younger_than(kid, self.refresh_interval) {
                return Ok(key);
            }
            (cache.key_younger_than(kid, self.refresh_interval * 2), cache.last_fetch)
        };
        if let Some(attempt) = last_fetch
            && attempt.at.elapsed() < self.wait_after(attempt)
        {
            return match (stale_key, attempt.succeeded) {
                (Some(key), _) => Ok(key),
                (None, true) => Err(AuthError::UnknownKey),
                (None, false) => Err(AuthError::JwksUnavailable),
            };
        }
        match self.refresh().await {
            Some(keys) => keys.get(kid).cloned().ok_or(AuthError::UnknownKey),
            None => {
                if stale_key.is_some() {
                    tracing::warn!(jwks.url = %self.url, jwk.kid = %kid, "trusting a cached key the JWKS could not confirm");
                }
                stale_key.ok_or(AuthError::JwksUnavailable)
            }
        }
    }

    /// How long after `attempt` the next fetch may start.
    fn wait_after(&self, attempt: FetchAttempt) -> Duration {
        let wait =
            if attempt.succeeded { self.refetch_interval } else { RETRY_AFTER_FAILURE.min(self.refetch_interval) };
        wait.min(self.refresh_interval)
    }

    /// Fetches the set and, when that works, replaces the cached keys with it.
    async fn refresh(&self) -> Option<HashMap<String, Arc<DecodingKey>>> {
        let started = Instant::now();
        let fetched = self.fetch().await;
        let mut cache = self.cache.write().await;
        match fetched {
            Ok(keys) => {
                tracing::info!(
                    jwks.url = %self.url,
                    jwks.keys = keys.len(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    "fetched JWKS"
                );
                let now = Instant::now();
                cache.keys = keys.clone();
                cache.keys_fetched_at = Some(now);
                cache.last_fetch = Some(FetchAttempt { at: now, succeeded: true });
                Some(keys)
            }
            Err(error) => {
                tracing::warn!(jwks.url = %self.url, error = %error, "cannot fetch JWKS");
                cache.last_fetch = Some(FetchAttempt { at: Instant::now(), succeeded: false });
                None
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
        let response = self.http_client.get(&self.url).timeout(FETCH_TIMEOUT).send().await?.error_for_status()?;
        if response.content_length().is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64) {
            return Err(FetchError::TooLarge);
        }
        let body = response.bytes().await?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooLarge);
        }
        let document: JwksDocument = serde_json::from_slice(&body)?;
        Ok(rs256_keys(document.keys))
    }
}

/// The RS256 signing keys of a JWKS, by `kid`; other keys (EC, encryption, no `kid`) and
/// entries that are not JWKs are skipped.
fn rs256_keys(keys: Vec<serde_json::Value>) -> HashMap<String, Arc<DecodingKey>> {
    let mut usable = HashMap::new();
    for value in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::debug!("skipping a JWK without the members of a key");
            continue;
        };
        let common = &jwk.common;
        let is_rs256_signing = matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
            && common.public_key_use.as_ref().is_none_or(|usage| *usage == PublicKeyUse::Signature)
            && common.key_algorithm.is_none_or(|alg| alg == KeyAlgorithm::RS256);
        let (Some(kid), true) = (common.key_id.clone(), is_rs256_signing) else {
            tracing::debug!(jwk.kid = ?common.key_id, "skipping a JWK that is not an RS256 signing key with a kid");
            continue;
        };
        match DecodingKey::from_jwk(&jwk) {
            Ok(key) => {
                usable.insert(kid, Arc::new(key));
            }
            Err(error) => tracing::debug!(jwk.kid = %kid, error = %error, "skipping an unreadable RSA JWK"),
        }
    }
    usable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_signing_keys_with_a_kid_are_kept() {
        let keys = serde_json::json!([
            { "kty": "RSA", "kid": "plain", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "kid": "labelled", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "kid": "encryption", "use": "enc", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "kid": "pss", "alg": "PS256", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "n": "sXch", "e": "AQAB" },
            { "kty": "EC", "kid": "curve", "crv": "P-256", "x": "AA", "y": "AA" },
            { "kty": "RSA", "kid": "bad-base64", "n": "!!", "e": "AQAB" },
            "not an object"
        ]);
        let serde_json::Value::Array(keys) = keys else { unreachable!() };
        let mut kids: Vec<String> = rs256_keys(keys).into_keys().collect();
        kids.sort();
        assert_eq!(kids, ["labelled", "plain"]);
    }

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// Makes `server` answer the JWKS with these keys (or with `status` and no JWKS).
    async fn issuer_serves(server: &MockServer, status: u16, kids: &[&str]) {
        server.reset().await;
        let keys: Vec<_> =
            kids.iter().map(|kid| serde_json::json!({ "kty": "RSA", "kid": kid, "n": "sXch", "e": "AQAB" })).collect();
        Mock::given(method("GET"))
            .and(path("/jwks.json"))
            .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({ "keys": keys })))
            .mount(server)
            .await;
    }

    fn fetches(requests: Option<Vec<wiremock::Request>>) -> usize {
        requests.map_or(0, |requests| requests.len())
    }

    #[tokio::test]
    async fn a_withdrawn_key_is_refused_once_the_refresh_interval_has_passed() {
        let server = MockServer::start().await;
        issuer_serves(&server, 200, &["old", "new"]).await;
        let refresh = Duration::from_millis(1500);
        let keys = KeySet::new(format!("{}/jwks.json", server.uri()), reqwest::Client::new(), refresh);
        assert!(keys.key("old").await.is_ok());
        issuer_serves(&server, 200, &["new"]).await;
        // Within the interval the cached set is trusted without asking the issuer.
        assert!(keys.key("old").await.is_ok());
        assert_eq!(fetches(server.received_requests().await), 0);
        tokio::time::sleep(refresh).await;
        assert!(matches!(keys.key("old").await, Err(AuthError::UnknownKey)));
        assert!(keys.key("new").await.is_ok());
        assert_eq!(fetches(server.received_requests().await), 1, "one fetch refreshed the set");
    }

    #[tokio::test]
    async fn cached_keys_outlive_a_failed_refresh_by_one_interval_only() {
        let server = MockServer::start().await;
        issuer_serves(&server, 200, &["kept"]).await;
        let refresh = Duration::from_millis(800);
        let keys = KeySet::new(format!("{}/jwks.json", server.uri()), reqwest::Client::new(), refresh);
        assert!(keys.key("kept").await.is_ok());
        issuer_serves(&server, 503, &[]).await;
        tokio::time::sleep(refresh).await;
        assert!(keys.key("kept").await.is_ok(), "the issuer is down: the cached key is kept");
        assert_eq!(fetches(server.received_requests().await), 1, "the refresh was tried");
        tokio::time::sleep(refresh).await;
        assert!(matches!(keys.key("kept").await, Err(AuthError::JwksUnavailable)));
    }
}
