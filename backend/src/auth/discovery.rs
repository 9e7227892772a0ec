//! The console's sign-in settings: the configured `[auth.console]` client, with the endpoints it
//! leaves out read from the issuer's OpenID Provider metadata
//! (`<issuer>/.well-known/openid-configuration`, OpenID Connect Discovery 1.0).
//!
//! The metadata is fetched on first need and kept once it was read; a failed fetch is tried
//! again on the next request. The metadata must name the configured issuer exactly (Discovery
//! §4.3), and every endpoint must be an http(s) URL.

use std::time::Duration;

use rescaler_shared::api::{OidcSignIn, SignInSettings};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::config::{ConsoleSignIn, origin};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the console's sign-in settings cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the identity provider's metadata cannot be read: {0}")]
    Unreachable(String),
    #[error("the identity provider's metadata is not usable: {0}")]
    Invalid(String),
}

/// The provider metadata members the console needs.
#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

pub(super) struct ConsoleClient {
    issuer: String,
    settings: ConsoleSignIn,
    http_client: reqwest::Client,
    metadata: OnceCell<ProviderMetadata>,
}

impl ConsoleClient {
    pub(super) fn new(issuer: String, settings: ConsoleSignIn, http_client: reqwest::Client) -> Self {
        Self { issuer, settings, http_client, metadata: OnceCell::new() }
    }

    pub(super) async fn settings(&self) -> Result<SignInSettings, DiscoveryError> {
        let configured = &self.settings;
        let discovered = if [
            &configured.authorization_endpoint,
            &configured.token_endpoint,
            &configured.end_session_endpoint,
            &configured.revocation_endpoint,
        ]
        .iter()
        .any(|endpoint| endpoint.is_none())
        {
            Some(self.metadata.get_or_try_init(|| self.fetch()).await?)
        } else {
            None
        };
        let pick = |own: &Option<String>, theirs: fn(&ProviderMetadata) -> &Option<String>| {
            own.clone().or_else(|| discovered.and_then(|metadata| theirs(metadata).clone()))
        };
        let required = |value: Option<String>, name: &str| {
            value.ok_or_else(|| DiscoveryError::Invalid(format!("it names no {name}")))
        };
        let mut client = OidcSignIn {
            issuer: self.issuer.clone(),
            client_id: configured.client_id.clone(),
            scopes: configured.scopes.clone(),
            authorization_endpoint: required(
                pick(&configured.authorization_endpoint, |m| &m.authorization_endpoint),
                "authorization_endpoint",
            )?,
            token_endpoint: required(pick(&configured.token_endpoint, |m| &m.token_endpoint), "token_endpoint")?,
            end_session_endpoint: pick(&configured.end_session_endpoint, |m| &m.end_session_endpoint),
            revocation_endpoint: pick(&configured.revocation_endpoint, |m| &m.revocation_endpoint),
        };
        self.check_endpoints(&mut client)?;
        Ok(SignInSettings { mode: "oidc".to_owned(), oidc: Some(client) })
    }

    /// Every endpoint is https (http only on loopback, for tests); the ones the page calls
    /// (token, revocation) are on origins its Content-Security-Policy allows — the issuer's and
    /// the configured endpoints' (`AuthConfig::browser_origins`). A discovered token endpoint
    /// elsewhere is an error that says what to configure; a discovered revocation endpoint
    /// elsewhere is left out (signing out then only ends the session).
    fn check_endpoints(&self, client: &mut OidcSignIn) -> Result<(), DiscoveryError> {
        for url in [&client.authorization_endpoint, &client.token_endpoint]
            .into_iter()
            .chain(&client.end_session_endpoint)
            .chain(&client.revocation_endpoint)
        {
            if !secure_enough(url) {
                return Err(DiscoveryError::Invalid(format!("{url:?} is not an https URL")));
            }
        }
        let configured = &self.settings;
        let allowed: Vec<String> =
            [Some(&self.issuer), configured.token_endpoint.as_ref(), configured.revocation_endpoint.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|url| origin(url))
                .collect();
        let allowed_url = |url: &str| origin(url).is_some_and(|origin| allowed.contains(&origin));
        if !allowed_url(&client.token_endpoint) {
            return Err(DiscoveryError::Invalid(format!(
                "its token endpoint {} is on another origin than the issuer: name it as [auth.console] \
                 token_endpoint (RESCALER_OIDC_TOKEN_ENDPOINT), so that the page may call it",
                client.token_endpoint
            )));
        }
        if client.revocation_endpoint.as_deref().is_some_and(|url| !allowed_url(url)) {
            tracing::warn!(auth.revocation_endpoint = ?client.revocation_endpoint, "revocation endpoint on another origin left out: configure it to use it");
            client.revocation_endpoint = None;
        }
        Ok(())
    }

    async fn fetch(&self) -> Result<ProviderMetadata, DiscoveryError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let response = self
            .http_client
            .get(&url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| DiscoveryError::Unreachable(format!("{url}: {error}")))?;
        let metadata: ProviderMetadata =
            response.json().await.map_err(|error| DiscoveryError::Invalid(format!("{url}: {error}")))?;
        if metadata.issuer != self.issuer {
            return Err(DiscoveryError::Invalid(format!(
                "it names the issuer {:?}, not the configured {:?}",
                metadata.issuer, self.issuer
            )));
        }
        Ok(metadata)
    }
}

/// https, or http to a loopback address (the tests' provider).
fn secure_enough(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(host, _)| host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn console(token_endpoint: Option<&str>) -> ConsoleSignIn {
        ConsoleSignIn {
            client_id: "console".to_owned(),
            scopes: vec!["openid".to_owned()],
            authorization_endpoint: None,
            token_endpoint: token_endpoint.map(str::to_owned),
            end_session_endpoint: None,
            revocation_endpoint: None,
        }
    }

    async fn provider(issuer_in_metadata: Option<&str>) -> MockServer {
        let server = MockServer::start().await;
        let issuer = issuer_in_metadata.map_or_else(|| server.uri(), str::to_owned);
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{}/auth", server.uri()),
                "token_endpoint": format!("{}/token", server.uri()),
                "end_session_endpoint": format!("{}/session/end", server.uri()),
            })))
            .expect(1)
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn endpoints_come_from_the_configuration_else_the_metadata_read_once() {
        let server = provider(None).await;
        let client =
            ConsoleClient::new(server.uri(), console(Some("https://proxy.example/token")), reqwest::Client::new());
        for _ in 0..2 {
            let oidc = client.settings().await.expect("settings").oidc.expect("oidc client");
            assert_eq!(oidc.authorization_endpoint, format!("{}/auth", server.uri()));
            assert_eq!(oidc.token_endpoint, "https://proxy.example/token");
            assert_eq!(oidc.end_session_endpoint, Some(format!("{}/session/end", server.uri())));
            assert_eq!(oidc.client_id, "console");
        }
        // `expect(1)`: the metadata was fetched once for both answers.
    }

    #[test]
    fn endpoints_are_https_but_on_loopback() {
        assert!(secure_enough("https://idp.example.com/token"));
        assert!(secure_enough("http://127.0.0.1:4011/token"));
        assert!(secure_enough("http://localhost/token"));
        assert!(!secure_enough("http://idp.example.com/token"));
        assert!(!secure_enough("http://127.0.0.1.evil.example/token"));
        assert!(!secure_enough("ftp://127.0.0.1/token"));
    }

    #[tokio::test]
    async fn a_discovered_token_endpoint_on_another_origin_must_be_configured() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": server.uri(),
                "authorization_endpoint": "https://login.example.com/authorize",
                "token_endpoint": "https://login.example.com/token",
                "revocation_endpoint": "https://login.example.com/revoke",
            })))
            .mount(&server)
            .await;
        let client = ConsoleClient::new(server.uri(), console(None), reqwest::Client::new());
        let error = client.settings().await.expect_err("token endpoint elsewhere");
        assert!(error.to_string().contains("RESCALER_OIDC_TOKEN_ENDPOINT"), "{error}");
        let client =
            ConsoleClient::new(server.uri(), console(Some("https://login.example.com/token")), reqwest::Client::new());
        let oidc = client.settings().await.expect("configured").oidc.expect("oidc");
        // Revocation is on the configured token endpoint's origin: kept.
        assert_eq!(oidc.revocation_endpoint.as_deref(), Some("https://login.example.com/revoke"));
    }

    #[tokio::test]
    async fn metadata_naming_another_issuer_is_refused() {
        let server = provider(Some("https://impostor.example")).await;
        let client = ConsoleClient::new(server.uri(), console(None), reqwest::Client::new());
        let error = client.settings().await.expect_err("wrong issuer");
        assert!(matches!(&error, DiscoveryError::Invalid(message) if message.contains("impostor")), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_a_clear_error_tried_again_next_time() {
        let client = ConsoleClient::new("http://127.0.0.1:9".to_owned(), console(None), reqwest::Client::new());
        assert!(matches!(client.settings().await, Err(DiscoveryError::Unreachable(_))));
        assert!(matches!(client.settings().await, Err(DiscoveryError::Unreachable(_))));
    }
}
