//! Building the running parts from a configuration: its named secrets first, then store,
//! records, engine, authenticator, and the HTTP state. Shared by the local binary and the Lambda binaries.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::cluster::ClusterRegistry;
use crate::config::{Config, StoreConfig};
use crate::http::AppState;
use crate::kick::{Kicker, LambdaInvoker};
use crate::reconcile::Engine;
use crate::records::Records;
use crate::savepoint_storage::{SavepointStorage, is_s3_location};
use crate::store::{DirStore, S3Store, S3StoreConfig, Store, s3_client};

/// Opens the configured store; with it, its S3 client when it is in S3 (reused for savepoints).
pub async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Option<aws_sdk_s3::Client>)> {
    Ok(match &config.store {
        StoreConfig::Dir { path } => (Arc::new(DirStore::open(path)?), None),
        StoreConfig::S3(s3) => {
            anyhow::ensure!(!s3.bucket.is_empty(), "no store configured: set [store] or RESCALER_STORE_BUCKET");
            let store = S3Store::from_config(s3).await;
            let client = store.client().clone();
            (Arc::new(store), Some(client))
        }
    })
}

/// The HTTP state and the engine for `config`; `owner` names this reconciler in leases.
pub async fn build(config: Config, owner: String) -> anyhow::Result<(AppState, Arc<Engine>)> {
    // Read once, before anything is built from the configuration.
    let config = crate::secrets::resolved(config).await?;
    let (store, store_client) = open_store(&config).await?;
    let records = Records::new(store)
        .with_routing(crate::notify::routing_with_people(&config.notifications, &config.auth));
    let savepoints = savepoint_storage(&config, store_client).await;
    let clusters = ClusterRegistry::from_config(&config, &records, &savepoints).await?;
    let mut engine = Engine::new(records.clone(), clusters.clone(), owner);
    engine.notifier = Some(Arc::new(crate::notify::Notifier::new(records.clone(), &config.notifications)));
    engine.approvals = config.approvals.clone();
    let engine = Arc::new(engine);
    let auth = Arc::new(Authenticator::new(&config.auth, reqwest::Client::new())?);
    let state = AppState {
        config: Arc::new(config),
        records,
        clusters,
        auth,
        kick: match std::env::var("RESCALER_RECONCILE_FUNCTION") {
            Ok(function) if !function.is_empty() => Kicker::Lambda(Arc::new(LambdaInvoker::from_env(function).await?)),
            _ => Kicker::local(),
        },
    };
    Ok((state, engine))
}

/// Where the backend reads savepoints: the local file system, and S3 — through
/// `[savepoint_s3]` when configured, else the store's client (`store_client`) when the store is
/// in S3, else the AWS default chain when a cluster keeps its savepoints in S3.
pub async fn savepoint_storage(config: &Config, store_client: Option<aws_sdk_s3::Client>) -> SavepointStorage {
    let in_s3 = config.clusters.iter().any(|cluster| {
        cluster.savepoint_dir_s3.is_some() || cluster.savepoint_dir.as_deref().is_some_and(is_s3_location)
    });
    if let Some(endpoint) = &config.savepoint_s3 {
        return SavepointStorage::new(Some(s3_client(endpoint).await));
    }
    match store_client {
        Some(client) => SavepointStorage::new(Some(client)),
        None if in_s3 => SavepointStorage::new(Some(s3_client(&S3StoreConfig::default()).await)),
        None => SavepointStorage::default(),
    }
}

/// Starts `tracing` output: JSON when `RESCALER_LOG_FORMAT=json` (Lambda), text otherwise.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("RESCALER_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}
