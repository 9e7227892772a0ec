//! The local binary: the API, the console's static files and the reconcile timer in one process.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use rescaler_backend::auth::Authenticator;
use rescaler_backend::config::{Config, StoreConfig};
use rescaler_backend::http::{app, app_with_console, AppState};
use rescaler_backend::reconcile::{clusters_from_config, Engine};
use rescaler_backend::records::Records;
use rescaler_backend::store::{DirStore, S3Store, Store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws=warn".into()),
        )
        .init();
    let config_path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("RESCALER_CONFIG").map(PathBuf::from))
        .context("usage: rescaler CONFIG.toml (or RESCALER_CONFIG)")?;
    let config = Config::load(&config_path)?;
    let store: Arc<dyn Store> = match &config.store {
        StoreConfig::Dir { path } => Arc::new(DirStore::open(path)?),
        StoreConfig::S3(s3) => Arc::new(S3Store::from_config(s3).await),
    };
    // The reconciler's name in leases: stable for one process, or set to resume at once after
    // a crash of the same instance.
    let owner = std::env::var("RESCALER_INSTANCE_ID").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("local-{}-{}", host.trim(), std::process::id())
    });
    let records = Records::new(store.clone());
    let engine = Arc::new(Engine::new(records.clone(), clusters_from_config(&config)?, owner));
    let auth = Arc::new(Authenticator::new(&config.auth, reqwest::Client::new())?);
    let kick = Arc::new(tokio::sync::Notify::new());
    let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
    let engine_task = tokio::spawn(engine.clone().run(kick.clone(), async {
        let _ = engine_stopped.await;
    }));
    let listen = config.listen.clone();
    let console_dir = config.console_dir.clone();
    let state = AppState { config: Arc::new(config), records, engine: engine.clone(), auth, kick: kick.clone() };
    let router = match &console_dir {
        Some(dir) => app_with_console(state, dir),
        None => app(state),
    };
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(listen.address = %listener.local_addr()?, "serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let _ = stop_engine.send(());
    let _ = engine_task.await;
    Ok(())
}
