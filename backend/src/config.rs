//! The configuration file (TOML) and the environment variables that override it on Lambda.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use rescaler_shared::phase::Observation;
use rescaler_shared::recommend::RecommendationSettings;
use rescaler_shared::schedule::{Freeze, MaintenanceWindow, Schedule};

use crate::store::S3StoreConfig;

mod auth;
mod limits;
mod msf;
mod notifications;

pub use auth::{AuthConfig, ConsoleSignIn, UserConfig, origin};
pub use limits::LimitsConfig;
pub use msf::{ApplicationTag, ClusterKind, MsfSettings};
pub use notifications::{ChannelConfig, ChannelKind, EmailTransport, NotificationsConfig};

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
    /// How the backend reaches S3 to read savepoints (`s3://` savepoint directories,
    /// `savepoint_dir_s3`) when that is not the store's S3 server: endpoint, region and keys as
    /// in `[store]`, no bucket. Unset: the store's client when the store is in S3, else the AWS
    /// default chain.
    #[serde(default)]
    pub savepoint_s3: Option<S3StoreConfig>,
    /// Where operation events are sent (`[[notifications.channels]]`, `[[notifications.routes]]`).
    #[serde(default)]
    pub notifications: NotificationsConfig,
    /// Per-user limits (`[limits] writes_per_minute`).
    #[serde(default)]
    pub limits: LimitsConfig,
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
    /// A Flink cluster (the default) or Amazon Managed Service for Apache Flink applications.
    #[serde(default)]
    pub kind: ClusterKind,
    /// Flink's REST endpoint, e.g. `http://jobmanager:8081` (a Flink cluster's, required).
    #[serde(default)]
    pub rest_url: String,
    /// `kind = "msf"`: the region and applications.
    #[serde(default)]
    pub msf: Option<MsfSettings>,
    /// Where savepoints go, e.g. `s3://bucket/savepoints`; unset = the cluster's default. Each
    /// rescale stops its job into its own directory below it, `<savepoint_dir>/<operation id>`.
    #[serde(default)]
    pub savepoint_dir: Option<String>,
    /// The same directory as the backend reads it through S3, when Flink names it otherwise
    /// (Flink writes to a mount of the bucket, `file:///mnt/bucket/savepoints`, and the backend
    /// reads `s3://bucket/savepoints`). Unset: the backend reads `savepoint_dir` itself.
    #[serde(default)]
    pub savepoint_dir_s3: Option<String>,
    /// Extra header sent to Flink (a gateway's auth), as name and value.
    #[serde(default)]
    pub auth_header: Option<(String, String)>,
    /// The same header with its value kept in SSM Parameter Store, as header name and the name
    /// of a SecureString parameter; read once at start into `auth_header` (`secrets.rs`), so
    /// the value is in neither the configuration nor the environment.
    #[serde(default)]
    pub auth_header_ssm: Option<(String, String)>,
    /// Approvals a request on this cluster needs (default: `approvals.default_required`).
    #[serde(default)]
    pub required_approvals: Option<u32>,
    /// Weekly maintenance windows: an approved request starts only inside one (none: any
    /// time), e.g. `days = ["sat", "sun"], start = "22:00", end = "06:00", utc_offset = "+01:00"`,
    /// or `time_zone = "Europe/Berlin"` instead of `utc_offset` (local times follow its daylight
    /// saving time; an unknown name is refused at load; neither is UTC); or `cron = "0 22 * * 1-5"`
    /// with `duration = "8h"` instead of `days`, `start` and `end`.
    #[serde(default)]
    pub windows: Vec<MaintenanceWindow>,
    /// Ranges in which no request starts, e.g. `from = "2026-12-20T00:00:00Z", until =
    /// "2027-01-03T00:00:00Z", reason = "holidays"`.
    #[serde(default)]
    pub freezes: Vec<Freeze>,
    /// What the product does with recommendations for this cluster's jobs: `mode = "off"`,
    /// `"recommend"` (the default: shown on the job page) or `"request"` (filed as requests a
    /// person approves), with `[clusters.recommendations.policy]` overrides (target
    /// utilisation, band, intervals in milliseconds; see `rescaler_shared::recommend::Policy`).
    #[serde(default)]
    pub recommendations: RecommendationSettings,
}

impl ClusterConfig {
    /// An observation at `now_ms` with what the configuration says of the cluster (its
    /// savepoint directory, its maintenance windows and freezes) and nothing read from Flink:
    /// every observation starts from it, whether Flink answers or not.
    pub fn observation(&self, now_ms: u64) -> Observation {
        let mut observation = Observation::at(now_ms);
        observation.savepoint_directory = self.savepoint_dir.clone();
        observation.schedule = self.schedule();
        observation
    }

    /// What is wrong with the cluster's kind and its settings, if anything.
    fn kind_problem(&self) -> Option<String> {
        match (self.kind, &self.msf) {
            (ClusterKind::Flink, None) if self.rest_url.trim().is_empty() => Some("rest_url is missing".to_owned()),
            (ClusterKind::Flink, None) => None,
            (ClusterKind::Flink, Some(_)) => Some("an [clusters.msf] table needs kind = \"msf\"".to_owned()),
            (ClusterKind::Msf, None) => Some("kind = \"msf\" needs a [clusters.msf] table".to_owned()),
            (ClusterKind::Msf, Some(settings)) => settings.problem(),
        }
    }

    /// The cluster's maintenance windows and freezes.
    pub fn schedule(&self) -> Schedule {
        Schedule { windows: self.windows.clone(), freezes: self.freezes.clone() }
    }
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
    /// How long a rescaled job must keep running at its target before the rescale is done (a
    /// failure inside this window rolls back).
    #[serde(default = "stable_for")]
    pub stable_for_secs: u64,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            default_required: one(),
            expire_after_secs: day(),
            verify_timeout_secs: verify_timeout(),
            stable_for_secs: stable_for(),
        }
    }
}

fn stable_for() -> u64 {
    rescaler_shared::operation::DEFAULT_STABLE_FOR_MS / 1000
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
    /// The origins other than its own that the console's page calls (the CSP's `connect-src`):
    /// the identity provider's ([`AuthConfig::browser_origins`]), and the records bucket's,
    /// where the browser puts jar parts by presigned URL (`https://<bucket>.s3.<region>.amazonaws.com`
    /// on AWS, the endpoint's origin on an S3-compatible server). `region` is the store's, else
    /// the environment's (`AWS_REGION` on Lambda).
    pub fn browser_origins(&self, region: Option<&str>) -> Vec<String> {
        let mut origins = self.auth.browser_origins();
        if let StoreConfig::S3(store) = &self.store {
            let bucket_origin = match (&store.endpoint, store.region.as_deref().or(region)) {
                (Some(endpoint), _) => auth::origin(endpoint),
                (None, Some(region)) => Some(format!("https://{}.s3.{region}.amazonaws.com", store.bucket)),
                (None, None) => None,
            };
            origins.extend(bucket_origin.filter(|origin| !origins.contains(origin)));
        }
        origins
    }

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
            if !cluster.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') || cluster.id.is_empty()
            {
                return Err(ConfigError::Invalid(format!(
                    "cluster id {:?} must be letters, digits, - or _",
                    cluster.id
                )));
            }
            if cluster.auth_header.is_some() && cluster.auth_header_ssm.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "cluster {} has both auth_header and auth_header_ssm: give one",
                    cluster.id
                )));
            }
            if let Some(problem) = cluster.kind_problem() {
                return Err(ConfigError::Invalid(format!("cluster {}: {problem}", cluster.id)));
            }
            if let Some(problem) = cluster.observation(0).schedule.problem() {
                return Err(ConfigError::Invalid(format!("cluster {}: {problem}", cluster.id)));
            }
        }
        self.notifications.validate()
    }

    /// The configuration of a process that has no file at hand (Lambda): the TOML text in
    /// `RESCALER_CONFIG_TOML`, else the file named by `RESCALER_CONFIG`, then the overrides of
    /// [`Config::apply_env`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any variable source (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = match (var("RESCALER_CONFIG_TOML"), var("RESCALER_CONFIG")) {
            (Some(text), _) => {
                toml::from_str::<Self>(&text).map_err(|error| ConfigError::Invalid(error.to_string()))?
            }
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                toml::from_str::<Self>(&text).map_err(|error| ConfigError::Invalid(error.to_string()))?
            }
            (None, None) => Self {
                listen: default_listen(),
                console_dir: None,
                store: StoreConfig::S3(S3StoreConfig::default()),
                clusters: Vec::new(),
                auth: AuthConfig::default(),
                approvals: ApprovalConfig::default(),
                savepoint_s3: None,
                notifications: NotificationsConfig::default(),
                limits: LimitsConfig::default(),
            },
        };
        config.apply_env(var)?;
        config.validate()?;
        Ok(config)
    }

    /// Environment overrides (what the deployment template sets):
    ///
    /// | variable | overrides |
    /// |---|---|
    /// | `RESCALER_STORE_BUCKET`, `RESCALER_STORE_PREFIX` | an S3 store in that bucket |
    /// | `RESCALER_CLUSTERS_JSON` | the clusters, as a JSON array of cluster tables |
    /// | `RESCALER_OIDC_JWKS_URL`, `RESCALER_OIDC_ISSUER`, `RESCALER_OIDC_AUDIENCE` | `oidc` auth |
    /// | `RESCALER_OIDC_ROLES_CLAIM` | the roles claim (default `cognito:groups`) |
    /// | `RESCALER_OIDC_JWKS_REFRESH_SECS` | `jwks_refresh_secs` of `oidc` auth (default 300) |
    /// | `RESCALER_DEFAULT_REQUIRED_APPROVALS`, `RESCALER_EXPIRE_AFTER_SECS`, `RESCALER_VERIFY_TIMEOUT_SECS`, `RESCALER_STABLE_FOR_SECS` | approvals |
    /// | `RESCALER_WRITES_PER_MINUTE` | `[limits] writes_per_minute` |
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(bucket) = var("RESCALER_STORE_BUCKET") {
            self.store = StoreConfig::S3(S3StoreConfig {
                bucket,
                prefix: var("RESCALER_STORE_PREFIX").unwrap_or_default(),
                ..S3StoreConfig::default()
            });
        }
        if let Some(json) = var("RESCALER_CLUSTERS_JSON") {
            self.clusters = serde_json::from_str(&json)
                .map_err(|error| ConfigError::Invalid(format!("RESCALER_CLUSTERS_JSON: {error}")))?;
        }
        if let Some(auth) = AuthConfig::from_env(&var) {
            self.auth = auth;
        }
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            var(name)
                .map(|text| {
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::Invalid(format!("{name} must be a whole number")))
                })
                .transpose()
        };
        if let (Some(secs), AuthConfig::Oidc { jwks_refresh_secs, .. }) =
            (number("RESCALER_OIDC_JWKS_REFRESH_SECS")?, &mut self.auth)
        {
            *jwks_refresh_secs = secs;
        }
        if let Some(required) = number("RESCALER_DEFAULT_REQUIRED_APPROVALS")? {
            self.approvals.default_required = u32::try_from(required).unwrap_or(u32::MAX).max(1);
        }
        if let Some(secs) = number("RESCALER_EXPIRE_AFTER_SECS")? {
            self.approvals.expire_after_secs = secs;
        }
        if let Some(secs) = number("RESCALER_VERIFY_TIMEOUT_SECS")? {
            self.approvals.verify_timeout_secs = secs;
        }
        if let Some(secs) = number("RESCALER_STABLE_FOR_SECS")? {
            self.approvals.stable_for_secs = secs;
        }
        if let Some(writes) = number("RESCALER_WRITES_PER_MINUTE")? {
            self.limits.writes_per_minute = u32::try_from(writes).unwrap_or(u32::MAX);
        }
        Ok(())
    }

    pub fn cluster(&self, id: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|cluster| cluster.id == id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{AuthConfig, Config, StoreConfig};

    #[test]
    fn the_page_may_call_the_records_bucket_it_puts_jar_parts_in() {
        let origins = |toml: &str, region: Option<&str>| Config::parse(toml).expect("valid").browser_origins(region);
        let aws = "[store]\nkind = \"s3\"\nbucket = \"team-records\"\n";
        assert_eq!(origins(aws, Some("eu-west-1")), ["https://team-records.s3.eu-west-1.amazonaws.com"]);
        assert!(origins(aws, None).is_empty());
        let compatible = "[store]\nkind = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:4566/\"\n";
        assert_eq!(origins(compatible, Some("eu-west-1")), ["http://127.0.0.1:4566"]);
        assert!(origins("[store]\nkind = \"dir\"\npath = \"/tmp/x\"\n", Some("eu-west-1")).is_empty());
    }

    #[test]
    fn environment_overrides_the_toml() {
        let vars = BTreeMap::from([
            ("RESCALER_CONFIG_TOML", "[store]\nkind = \"dir\"\npath = \"/tmp/x\"\n"),
            ("RESCALER_STORE_BUCKET", "records"),
            ("RESCALER_STORE_PREFIX", "prod/"),
            ("RESCALER_CLUSTERS_JSON", r#"[{"id":"prod","name":"Prod","rest_url":"http://jm:8081"}]"#),
            ("RESCALER_OIDC_JWKS_URL", "https://idp/jwks.json"),
            ("RESCALER_OIDC_ISSUER", "https://idp"),
            ("RESCALER_OIDC_AUDIENCE", "client"),
            ("RESCALER_DEFAULT_REQUIRED_APPROVALS", "2"),
            ("RESCALER_OIDC_JWKS_REFRESH_SECS", "60"),
        ]);
        let config = Config::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid");
        assert!(matches!(&config.store, StoreConfig::S3(s3) if s3.bucket == "records" && s3.prefix == "prod/"));
        assert_eq!(config.clusters[0].id, "prod");
        assert!(matches!(&config.auth, AuthConfig::Oidc { roles_claim, .. } if roles_claim == "cognito:groups"));
        assert!(matches!(&config.auth, AuthConfig::Oidc { jwks_refresh_secs: 60, .. }));
        assert_eq!(config.approvals.default_required, 2);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let bad = |name: &'static str, value: &'static str| {
            Config::from_vars(|n| (n == name).then(|| value.to_owned())).expect_err("invalid").to_string()
        };
        assert!(bad("RESCALER_CLUSTERS_JSON", "[{").contains("RESCALER_CLUSTERS_JSON"));
        assert!(bad("RESCALER_VERIFY_TIMEOUT_SECS", "soon").contains("whole number"));
        assert!(bad("RESCALER_CONFIG_TOML", "store = 3").contains("invalid configuration"));
        let duplicate = r#"[{"id":"a","name":"A","rest_url":"u"},{"id":"a","name":"B","rest_url":"v"}]"#;
        assert!(bad("RESCALER_CLUSTERS_JSON", duplicate).contains("twice"));
        let both = r#"[{"id":"a","name":"A","rest_url":"u","auth_header":["x","v"],"auth_header_ssm":["x","/p"]}]"#;
        assert!(bad("RESCALER_CLUSTERS_JSON", both).contains("give one"));
    }

    #[test]
    fn maintenance_windows_and_freezes_are_read_and_checked() {
        use rescaler_shared::schedule::{UtcOffset, Zone};
        let cluster = |schedule: &str| {
            format!(
                "[store]\nkind = \"dir\"\npath = \"/tmp/x\"\n[[clusters]]\nid = \"prod\"\nname = \"Prod\"\nrest_url = \"u\"\n{schedule}"
            )
        };
        let good = cluster(
            "[[clusters.windows]]\ndays = [\"mon\", \"fri\"]\nstart = \"22:00\"\nend = \"06:00\"\nutc_offset = \"+01:00\"\n\
             [[clusters.freezes]]\nfrom = \"2026-12-20T00:00:00Z\"\nuntil = \"2027-01-03T00:00:00Z\"\nreason = \"holidays\"\n",
        );
        let config = Config::parse(&good).expect("valid");
        let schedule = config.clusters[0].observation(0).schedule;
        assert_eq!(schedule.windows[0].start.0, 22 * 3_600);
        assert_eq!(schedule.windows[0].zone(), Zone::Fixed(UtcOffset(60)));
        assert_eq!(schedule.freezes[0].reason, "holidays");
        let named = cluster(
            "[[clusters.windows]]\ndays = [\"sat\"]\nstart = \"22:00\"\nend = \"06:00\"\ntime_zone = \"Europe/Berlin\"\n",
        );
        let config = Config::parse(&named).expect("valid");
        assert_eq!(config.clusters[0].schedule().windows[0].zone().to_string(), "Europe/Berlin");
        let error = |schedule: &str| Config::parse(&cluster(schedule)).expect_err("invalid").to_string();
        let unknown = error(&named.replace("Europe/Berlin", "Europe/Berlln").replace(&cluster(""), ""));
        assert!(unknown.contains("\"Europe/Berlln\" is not a known IANA time zone"), "{unknown}");
        let both = error(
            "[[clusters.windows]]\ndays = [\"sat\"]\nstart = \"22:00\"\nend = \"06:00\"\ntime_zone = \"UTC\"\nutc_offset = \"Z\"\n",
        );
        assert!(both.contains("both utc_offset and time_zone"), "{both}");
        assert!(error("[[clusters.windows]]\ndays = []\nstart = \"22:00\"\nend = \"06:00\"\n").contains("no days"));
        assert!(error("[[clusters.windows]]\ndays = [\"mon\"]\nstart = \"22h\"\nend = \"06:00\"\n").contains("HH:MM"));
        let backwards = "[[clusters.freezes]]\nfrom = \"2027-01-03T00:00:00Z\"\nuntil = \"2026-12-20T00:00:00Z\"\n";
        assert!(error(backwards).contains("ends before it begins"));
    }

    #[test]
    fn notification_routes_name_known_channels_and_events() {
        let base = "[store]\nkind = \"dir\"\npath = \"/tmp/x\"\n[[notifications.channels]]\nid = \"ops-hook\"\nkind = \"webhook\"\nurl = \"http://h\"\nsecret = \"s\"\n";
        let route = |events: &str, channels: &str| {
            format!("{base}[[notifications.routes]]\nclusters = [\"*\"]\nevents = {events}\nchannels = {channels}\n")
        };
        let config = Config::parse(&route("[\"requested\", \"failed\"]", "[\"ops-hook\"]")).expect("valid");
        assert_eq!(config.notifications.retry_delays_secs, [5, 30, 120, 600]);
        assert_eq!(config.notifications.channels[0].kind, super::ChannelKind::Webhook);
        let error = |text: &str| Config::parse(text).expect_err("invalid").to_string();
        assert!(error(&route("[\"done\"]", "[\"ops-hook\"]")).contains("unknown event \"done\""));
        assert!(error(&route("[\"*\"]", "[\"pager\"]")).contains("unknown channel \"pager\""));
        assert!(error(&format!("{base}secret_ssm = \"/p\"\n")).contains("both secret and secret_ssm"));
        assert!(error(&base.replace("ops-hook", "ops hook")).contains("channel id"));
    }
}
