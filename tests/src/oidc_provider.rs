//! A real, certified OpenID Provider on loopback: the npm package `oidc-provider` (9.x,
//! installed by `scripts/setup.sh` into the cache) running `tests/oidc-provider/provider.mjs`
//! with one public console client and users in groups. It signs RS256 JWT access tokens for the
//! API's resource, serves its login page, discovery document and JWKS, and logs one
//! `oidc-event …` line per token it issues or refuses ([`OidcProvider::events`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rescaler_backend::config::{AuthConfig, ConsoleSignIn};
use serde_json::json;

use crate::paths::{cache_dir, repo_root, scratch_dir};
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};

/// The console's client id at the provider.
pub const CLIENT_ID: &str = "rescaler-console";
/// The API's resource indicator: the audience of the access tokens.
pub const RESOURCE: &str = "urn:rescaler:api";

/// One user who can sign in (the provider's development login page takes any password).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OidcUser {
    pub groups: Vec<String>,
    pub email: String,
}

/// How to start the provider.
#[derive(Debug, Clone)]
pub struct OidcOptions {
    /// The console's origin (`http://127.0.0.1:<port>`): its `/auth/callback` and `/` are the
    /// client's redirect and post-sign-out URIs.
    pub console_origin: String,
    pub access_token_ttl: Duration,
    pub users: BTreeMap<String, OidcUser>,
}

/// A running provider; dropping it kills the process.
pub struct OidcProvider {
    issuer: String,
    log_file: PathBuf,
    _process: ChildGuard,
}

/// Where `scripts/setup.sh` installs the package.
fn install_dir() -> PathBuf {
    cache_dir().join("oidc")
}

impl OidcProvider {
    pub async fn start(options: &OidcOptions) -> anyhow::Result<Self> {
        let install = install_dir();
        anyhow::ensure!(
            install.join("node_modules/oidc-provider/package.json").exists(),
            "oidc-provider is not installed at {}: run `scripts/setup.sh`",
            install.display()
        );
        // ESM resolves packages from the script's directory: run a copy beside node_modules.
        let script = install.join("provider.mjs");
        std::fs::copy(repo_root().join("tests/oidc-provider/provider.mjs"), &script).context("copying provider.mjs")?;
        let dir = scratch_dir("oidc-provider")?;
        let port = free_port()?;
        let settings = json!({
            "port": port,
            "client_id": CLIENT_ID,
            "redirect_uris": [format!("{}/auth/callback", options.console_origin)],
            "post_logout_redirect_uris": [format!("{}/", options.console_origin)],
            "resource": RESOURCE,
            "access_token_ttl_secs": options.access_token_ttl.as_secs().max(1),
            "users": options.users,
        });
        let settings_file = dir.join("settings.json");
        std::fs::write(&settings_file, serde_json::to_vec_pretty(&settings)?)?;
        let log_file = dir.join("provider.log");
        let mut command = Command::new("node");
        command.arg(&script).arg(&settings_file).current_dir(&install);
        let process = ChildGuard::spawn("oidc-provider", command, &log_file)?;
        let provider = Self { issuer: format!("http://127.0.0.1:{port}"), log_file, _process: process };
        provider.wait_ready(Duration::from_secs(30)).await?;
        Ok(provider)
    }

    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::new();
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        while !http.get(&discovery).send().await.is_ok_and(|response| response.status().is_success()) {
            anyhow::ensure!(Instant::now() < deadline, "oidc-provider not answering:\n{}", self.log_tail(40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The `[auth]` of a backend that trusts this provider and lets the console sign in
    /// through it (its endpoints discovered by the backend).
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig::Oidc {
            jwks_url: self.jwks_url(),
            issuer: self.issuer.clone(),
            audience: RESOURCE.to_owned(),
            roles_claim: "groups".to_owned(),
            username_claim: "username".to_owned(),
            jwks_refresh_secs: 300,
            console: Some(ConsoleSignIn {
                client_id: CLIENT_ID.to_owned(),
                scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
                authorization_endpoint: None,
                token_endpoint: None,
                end_session_endpoint: None,
                revocation_endpoint: None,
            }),
        }
    }

    /// The provider's `oidc-event` lines so far (`grant.success authorization_code`, …).
    pub fn events(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.strip_prefix("oidc-event "))
            .map(str::to_owned)
            .collect()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_file, lines)
    }
}
