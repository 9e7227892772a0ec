//! The backend's router served in-process on a free loopback port, for API and browser tests.

use std::path::PathBuf;
use std::sync::Arc;

use rescaler_backend::auth::Authenticator;
use rescaler_backend::cluster::ClusterRegistry;
use rescaler_backend::config::{ClusterConfig, Config};
use rescaler_backend::http::{AppState, app_with_console};
use rescaler_backend::reconcile::Engine;
use rescaler_backend::records::Records;
use rescaler_backend::store::{DirStore, Store};

use crate::config::TestConfig;
use crate::paths::{console_dir, repo_root, scratch_dir};

/// A served backend; dropping it stops the server.
pub struct LocalBackend {
    address: std::net::SocketAddr,
    pub state: AppState,
    server: tokio::task::JoinHandle<()>,
    reconciler: Option<tokio::task::JoinHandle<()>>,
}

impl LocalBackend {
    /// Serves the backend with a fresh directory store and the given clusters.
    pub async fn start_with_dir_store(clusters: Vec<ClusterConfig>) -> anyhow::Result<Self> {
        let store_dir = scratch_dir("store")?;
        let store: Arc<dyn Store> = Arc::new(DirStore::open(&store_dir)?);
        let config = TestConfig::new().with_console()?.with_dir_store(store_dir).with_clusters(clusters).build();
        Self::start(config, store, false).await
    }

    /// Serves the backend with this configuration and store; with `reconcile`, also runs the
    /// reconcile loop as the local binary does.
    pub async fn start(config: Config, store: Arc<dyn Store>, reconcile: bool) -> anyhow::Result<Self> {
        let console = config.console_dir.clone().unwrap_or(console_dir()?);
        let routing = rescaler_backend::notify::routing_with_people(&config.notifications, &config.auth);
        let records = Records::new(store).with_routing(routing);
        let clusters = ClusterRegistry::from_config(
            &config,
            &records,
            &rescaler_backend::boot::savepoint_storage(&config, None).await,
        )
        .await?;
        let mut engine = Engine::new(records.clone(), clusters.clone(), "test-backend");
        engine.notifier =
            Some(Arc::new(rescaler_backend::notify::Notifier::new(records.clone(), &config.notifications)));
        engine.approvals = config.approvals.clone();
        let engine = Arc::new(engine);
        let auth = Arc::new(Authenticator::new(&config.auth, reqwest::Client::new())?);
        let kick = rescaler_backend::kick::Kicker::local();
        let notify = kick.notify().unwrap_or_default();
        let reconciler = reconcile.then(|| tokio::spawn(engine.clone().run(notify, std::future::pending())));
        let state = AppState { config: Arc::new(config), records, clusters, auth, kick };
        let router = app_with_console(state.clone(), &console);
        let listener = tokio::net::TcpListener::bind(&state.config.listen).await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "test backend stopped");
            }
        });
        Ok(Self { address, state, server, reconciler })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(reconciler) = &self.reconciler {
            reconciler.abort();
        }
    }
}

/// What cargo sets in the environment of a test it runs (names, or their beginnings), beside
/// what a user sets for cargo itself (`CARGO_HOME`, `CARGO_TARGET_DIR`, which stay).
const CARGO_RUN_VARS: [&str; 7] = [
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// The `rescaler` binary, built if needed (tests of other packages cannot rely on cargo
/// having built it). Built as `scripts/test.sh` builds it, with the default members' tests:
/// cargo resolves the dependencies' features per build, and `-p rescaler-backend` alone would
/// resolve other ones than the test build did and build every dependency again. Without the
/// variables cargo sets for a test process ([`CARGO_RUN_VARS`]): build scripts that watch them
/// (`rerun-if-env-changed`) would run again, and every crate above them be rebuilt.
pub fn rescaler_binary() -> anyhow::Result<PathBuf> {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILD.lock().map_err(|_| anyhow::anyhow!("build lock poisoned"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if CARGO_RUN_VARS.iter().any(|prefix| key.starts_with(prefix)) {
            command.env_remove(key.as_ref());
        }
    }
    let status = command.args(["build", "-q", "--bin", "rescaler", "--tests"]).current_dir(repo_root()).status()?;
    anyhow::ensure!(status.success(), "cannot build the rescaler binary");
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
    Ok(target_dir.join("debug/rescaler"))
}
