//! The configuration file (TOML) and the environment variables that override it on Lambda.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::S3StoreConfig;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the local binary listens on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Folder of the built console served at `/` by the local binary.
    #[serde(default)]
    pub console_dir: Option<PathBuf>,
    pub store: StoreConfig,
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub approvals: ApprovalConfig,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

/// Where records live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// The embedded directory store.
    Dir { path: PathBuf },
    /// An S3 bucket (or an S3-compatible server).
    S3(S3StoreConfig),
}

/// A Flink cluster the console manages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub id: String,
    pub name: String,
    /// Flink's REST endpoint, e.g. `http://jobmanager:8081`.
    pub rest_url: String,
    /// Where savepoints go, e.g. `s3://bucket/savepoints`; unset = the cluster's default.
    #[serde(default)]
    pub savepoint_dir: Option<String>,
    /// Extra header sent to Flink (a gateway's auth), as name and value.
    #[serde(default)]
    pub auth_header: Option<(String, String)>,
    /// Approvals a request on this cluster needs (default: `approvals.default_required`).
    #[serde(default)]
    pub required_approvals: Option<u32>,
}

/// How callers are identified.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// Users, tokens and roles in this file.
    Tokens { users: Vec<UserConfig> },
    /// RS256 JWTs checked against a JWKS.
    Oidc {
        jwks_url: String,
        issuer: String,
        audience: String,
        #[serde(default = "default_roles_claim")]
        roles_claim: String,
        #[serde(default = "default_username_claim")]
        username_claim: String,
    },
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self::Tokens { users: Vec::new() }
    }
}

fn default_roles_claim() -> String {
    "cognito:groups".to_owned()
}

fn default_username_claim() -> String {
    "username".to_owned()
}

/// One user in `tokens` mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub token: String,
    /// Role by cluster id; `*` applies to every cluster.
    pub roles: BTreeMap<String, String>,
}

/// Approval rules.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    #[serde(default = "one")]
    pub default_required: u32,
    /// A request not approved within this many seconds expires.
    #[serde(default = "day")]
    pub expire_after_secs: u64,
    /// How long a restarted job may take to reach its target before rollback.
    #[serde(default = "verify_timeout")]
    pub verify_timeout_secs: u64,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self { default_required: one(), expire_after_secs: day(), verify_timeout_secs: verify_timeout() }
    }
}

fn one() -> u32 {
    1
}

fn day() -> u64 {
    24 * 3600
}

fn verify_timeout() -> u64 {
    120
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| ConfigError::Invalid(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::BTreeSet::new();
        for cluster in &self.clusters {
            if !ids.insert(cluster.id.as_str()) {
                return Err(ConfigError::Invalid(format!("cluster id {} appears twice", cluster.id)));
            }
            if !cluster.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') || cluster.id.is_empty() {
                return Err(ConfigError::Invalid(format!("cluster id {:?} must be letters, digits, - or _", cluster.id)));
            }
        }
        Ok(())
    }

    pub fn cluster(&self, id: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|cluster| cluster.id == id)
    }
}
