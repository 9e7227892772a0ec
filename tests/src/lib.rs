//! The real-parts test harness: a real Flink cluster, a real S3-compatible server, headless
//! Chromium over WebDriver and the sample stateful job, all on loopback and on free ports.
//!
//! Every process the harness starts is put in its own process group, is sent SIGKILL by the
//! kernel if the test process dies (`PR_SET_PDEATHSIG`), is killed by its guard's `Drop` when a
//! test ends or panics, and is recorded in a PID file so that the next run reaps anything a
//! crashed run left behind.

pub mod api;
pub mod backend;
pub mod browser;
pub mod config;
pub mod fault_proxy;
pub mod flink;
pub mod lambda_runtime_api;
pub mod msf;
pub mod msf_rig;
pub mod oidc_provider;
pub mod paths;
pub mod ports;
pub mod process;
pub mod recording;
pub mod rig;
pub mod s3;
pub mod s3fs;
pub mod sample_job;
pub mod smtp_receiver;
pub mod webhook_receiver;

pub use browser::Browser;
pub use flink::{FlinkCluster, FlinkOptions, Scheduler};
pub use s3::S3Server;

/// Starts `tracing` output for a test, once; honours `RUST_LOG`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws=warn,hyper=warn".into()),
        )
        .with_test_writer()
        .try_init();
}
