//! Backend configurations for tests: the demo users, and a [`TestConfig`] builder for what
//! differs between tests (the console, the store, the clusters).

use std::path::PathBuf;

use rescaler_backend::config::{
    ApprovalConfig, AuthConfig, ClusterConfig, Config, LimitsConfig, StoreConfig, UserConfig,
};

use crate::paths::console_dir;

/// The demo users of the run command, by role: alice requests, bob and carol approve, admin,
/// and victor only views.
pub fn demo_users() -> AuthConfig {
    let user = |name: &str, role: &str| UserConfig {
        name: name.to_owned(),
        token: format!("{name}-token"),
        roles: [("*".to_owned(), role.to_owned())].into_iter().collect(),
        email: None,
    };
    AuthConfig::Tokens {
        users: vec![
            user("alice", "requester"),
            user("bob", "approver"),
            user("carol", "approver"),
            user("admin", "admin"),
            user("victor", "viewer"),
        ],
    }
}

/// A cluster nobody listens for (port 9): past the role check, its Flink calls fail at once.
pub fn unreachable_cluster(id: &str, name: &str) -> ClusterConfig {
    ClusterConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: rescaler_backend::config::ClusterKind::Flink,
        msf: None,
        rest_url: "http://127.0.0.1:9".to_owned(),
        savepoint_dir: None,
        savepoint_dir_s3: None,
        auth_header: None,
        auth_header_ssm: None,
        required_approvals: None,
        windows: Vec::new(),
        freezes: Vec::new(),
        recommendations: Default::default(),
    }
}

/// A backend [`Config`] for a test: the demo users, default approval rules, port 0, no console,
/// no cluster, and a directory store at a path nobody uses (for tests that hand their own store
/// to [`crate::backend::LocalBackend::start`]).
#[derive(Debug, Clone)]
pub struct TestConfig {
    config: Config,
}

impl Default for TestConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TestConfig {
    pub fn new() -> Self {
        Self {
            config: Config {
                listen: "127.0.0.1:0".to_owned(),
                console_dir: None,
                store: StoreConfig::Dir { path: "/nonexistent-unused".into() },
                clusters: Vec::new(),
                auth: demo_users(),
                // A short stable window keeps the suite quick; the faults tests check the window.
                approvals: ApprovalConfig { stable_for_secs: 3, ..Default::default() },
                savepoint_s3: None,
                notifications: Default::default(),
                // Counted on every write, never reached: the fuzzer and the role matrix write
                // far more than a person does (`write_limit.rs` sets its own).
                limits: LimitsConfig { writes_per_minute: 100_000 },
            },
        }
    }

    /// Serves the built console (fails when it is not built).
    pub fn with_console(mut self) -> anyhow::Result<Self> {
        self.config.console_dir = Some(console_dir()?);
        Ok(self)
    }

    /// Callers identified this way instead of the demo users.
    pub fn with_auth(mut self, auth: AuthConfig) -> Self {
        self.config.auth = auth;
        self
    }

    /// Serves on this address (`127.0.0.1:0`, a free port, unless set).
    pub fn with_listen(mut self, listen: impl Into<String>) -> Self {
        self.config.listen = listen.into();
        self
    }

    /// Records in a directory store at `path`.
    pub fn with_dir_store(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.store = StoreConfig::Dir { path: path.into() };
        self
    }

    /// Adds a cluster.
    pub fn with_cluster(mut self, cluster: ClusterConfig) -> Self {
        self.config.clusters.push(cluster);
        self
    }

    /// Adds clusters.
    pub fn with_clusters(mut self, clusters: impl IntoIterator<Item = ClusterConfig>) -> Self {
        self.config.clusters.extend(clusters);
        self
    }

    /// Savepoints in `s3://` are read from this S3 server (the rig's, where its cluster keeps
    /// them).
    pub fn with_savepoint_s3(mut self, server: &crate::S3Server) -> Self {
        self.config.savepoint_s3 = Some(rescaler_backend::store::S3StoreConfig {
            endpoint: Some(server.endpoint().to_owned()),
            region: Some(crate::s3::REGION.to_owned()),
            access_key_id: Some(crate::s3::ACCESS_KEY.to_owned()),
            secret_access_key: Some(crate::s3::SECRET_KEY.to_owned()),
            ..Default::default()
        });
        self
    }

    pub fn build(self) -> Config {
        self.config
    }
}
