//! One LocalStack (S3) for a whole test run: `scripts/test.sh` starts it, reads its endpoint from
//! ENDPOINT_FILE once it answers, and hands it to the tests as `RESCALER_TEST_S3`
//! (`harness::s3::SHARED_ENDPOINT_ENV`). It stops LocalStack on SIGTERM or Ctrl-C, or when the
//! process that started it is gone.
//!
//! usage: test-localstack ENDPOINT_FILE

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use harness::S3Server;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    harness::init_tracing();
    let file = PathBuf::from(std::env::args().nth(1).context("usage: test-localstack ENDPOINT_FILE")?);
    let parent = std::os::unix::process::parent_id();
    // Started on the main thread, which lives until the end: PR_SET_PDEATHSIG follows the thread.
    let server = S3Server::start_own().await?;
    let partial = file.with_extension("partial");
    std::fs::write(&partial, server.endpoint())?;
    std::fs::rename(&partial, &file)?;
    eprintln!("[test-localstack] S3 on {}", server.endpoint());
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut orphan_check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = orphan_check.tick() => {
                if std::os::unix::process::parent_id() != parent {
                    break;
                }
            }
        }
    }
    drop(server);
    Ok(())
}
