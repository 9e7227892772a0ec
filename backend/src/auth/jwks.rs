//! The issuer's signing keys: a JWKS fetched over HTTP, cached by `kid`, refetched when a token
//! names an unknown `kid` (at most once per interval, one fetch at a time).

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
    cache: RwLock<KeyCache>,
    /// Held while fetching, so concurrent misses cause one fetch.
    fetching: Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<DecodingKey>>,
    last_fetch: Option<FetchAttempt>,
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
    pub(super) fn new(url: String, http_client: reqwest::Client) -> Self {
        Self {
            url,
            http_client,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            cache: RwLock::new(KeyCache::default()),
            fetching: Mutex::new(()),
        }
    }

    pub(super) fn set_refetch_interval(&mut self, interval: Duration) {
        self.refetch_interval = interval;
    }

    /// The key named `kid`, fetching the JWKS if it is not cached and the last fetch is old
    /// enough.
    pub(super) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.cache.read().await.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        let _fetching = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let last_fetch = {
            let cache = self.cache.read().await;
            if let Some(key) = cache.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
            cache.last_fetch
        };
        if let Some(attempt) = last_fetch {
            let wait =
                if attempt.succeeded { self.refetch_interval } else { RETRY_AFTER_FAILURE.min(self.refetch_interval) };
            if attempt.at.elapsed() < wait {
                return Err(if attempt.succeeded { AuthError::UnknownKey } else { AuthError::JwksUnavailable });
            }
        }
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
                cache.keys = keys;
                cache.last_fetch = Some(FetchAttempt { at: Instant::now(), succeeded: true });
                cache.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(jwks.url = %self.url, error = %error, "cannot fetch JWKS");
                // Keys fetched earlier stay usable.
                cache.last_fetch = Some(FetchAttempt { at: Instant::now(), succeeded: false });
                Err(AuthError::JwksUnavailable)
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
}
