//! The local binary: the API, the console's static files and the reconcile timer in one process.
//!
//! usage: rescaler CONFIG.toml (or RESCALER_CONFIG / RESCALER_CONFIG_TOML)

use anyhow::Context as _;
use rescaler_backend::boot;
use rescaler_backend::config::Config;
use rescaler_backend::http::{app, app_with_console};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    boot::init_tracing();
    let mut config = match std::env::args_os().nth(1) {
        Some(path) => Config::load(std::path::Path::new(&path))?,
        None => Config::from_env().context("usage: rescaler CONFIG.toml (or RESCALER_CONFIG)")?,
    };
    config.apply_env(|name| std::env::var(name).ok())?;
    // The reconciler's name in leases: unique to this process, or set to resume at once after
    // a crash of the same instance.
    let owner = std::env::var("RESCALER_INSTANCE_ID").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("local-{}-{}", host.trim(), std::process::id())
    });
    let listen = config.listen.clone();
    let console_dir = config.console_dir.clone();
    let (state, engine) = boot::build(config, owner).await?;
    let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
    let kick = state.kick.notify().unwrap_or_default();
    let engine_task = tokio::spawn(engine.run(kick, async {
        let _ = engine_stopped.await;
    }));
    let router = match &console_dir {
        Some(dir) => app_with_console(state, dir),
        None => app(state),
    };
    let listener =
        tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
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
