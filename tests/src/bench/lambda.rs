//! P5: the packaged Lambda binaries (`scripts/package-lambda.sh`): their size, and the time from
//! process start to the first served response, run as Lambda runs them against a local Runtime
//! API. Every sample is a new process (a cold start), alternately with the binary evicted from
//! the page cache first (`posix_fadvise(DONTNEED)`: its pages are read from disk, as after a
//! deployment) and with it cached. Lambda's own share (fetching the zip, starting the micro-VM)
//! is not in these figures.

use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use harness::lambda_runtime_api::RuntimeApi;
use harness::paths::{repo_root, scratch_dir};
use harness::process::ChildGuard;
use serde::Serialize;

use crate::report::{Spread, ms};

/// One function's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaFigures {
    pub binary: &'static str,
    pub bootstrap_bytes: u64,
    pub zip_bytes: u64,
    /// What the first response answered to.
    pub event: &'static str,
    /// The binary's pages evicted from the page cache before each start.
    pub first_response_uncached_ms: Option<Spread>,
    /// The binary's pages in the page cache.
    pub first_response_cached_ms: Option<Spread>,
    pub uncached_samples_ms: Vec<f64>,
    pub cached_samples_ms: Vec<f64>,
}

const SCHEDULED_EVENT: &[u8] = br#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-24T08:40:00Z","region":"eu-west-1","resources":["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/rescaler"],"detail":{}}"#;

fn package_dir(binary: &str) -> PathBuf {
    repo_root().join("target/lambda").join(binary)
}

fn spawn(binary: &str, api: &RuntimeApi, work: &std::path::Path) -> anyhow::Result<ChildGuard> {
    let config = format!(
        "[store]\nkind = \"dir\"\npath = \"{}\"\n\n[auth]\nmode = \"tokens\"\n[[auth.users]]\nname = \"alice\"\ntoken = \"alice-token\"\nroles = {{ \"*\" = \"requester\" }}\n",
        work.join("store").display()
    );
    let command = api.bootstrap(binary, "bench", config)?;
    ChildGuard::spawn(binary, command, &work.join(format!("{binary}.log")))
}

/// Drops the file's pages from the page cache (clean pages of a file no process maps).
fn evict_from_page_cache(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: a plain syscall on a descriptor this function owns.
    let answer = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    anyhow::ensure!(answer == 0, "posix_fadvise({}) answered {answer}", path.display());
    Ok(())
}

/// `samples` cold starts with the binary evicted and `samples` with it cached, alternately.
async fn cold_starts(binary: &'static str, event: &[u8], samples: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let work = scratch_dir("bench-lambda")?;
    let bootstrap = package_dir(binary).join("bootstrap");
    let (mut uncached, mut cached) = (Vec::new(), Vec::new());
    for index in 0..samples * 2 {
        let evicted = index % 2 == 0;
        if evicted {
            evict_from_page_cache(&bootstrap)?;
        }
        let api = RuntimeApi::start().await?;
        let started = Instant::now();
        let mut function = spawn(binary, &api, &work)?;
        let answer = api.invoke(event, Duration::from_secs(30)).await?;
        let elapsed = started.elapsed();
        answer.map_err(|error| anyhow::anyhow!("{binary} answered with an error: {error}"))?;
        function.kill();
        if evicted { uncached.push(ms(elapsed)) } else { cached.push(ms(elapsed)) }
    }
    Ok((uncached, cached))
}

/// Runs P5 over both binaries, `samples` cold starts each.
pub async fn lambdas(samples: usize) -> anyhow::Result<Vec<LambdaFigures>> {
    let healthz = std::fs::read(repo_root().join("tests/fixtures/apigw/healthz.json"))?;
    let mut figures = Vec::new();
    for (binary, event_name, event) in [
        ("lambda-api", "API Gateway v2 GET /healthz", healthz.as_slice()),
        ("lambda-reconcile", "scheduled event, no active operation", SCHEDULED_EVENT),
    ] {
        let dir = package_dir(binary);
        let size = |name: &str| {
            std::fs::metadata(dir.join(name))
                .map(|meta| meta.len())
                .with_context(|| format!("{}/{name} is missing: run scripts/package-lambda.sh", dir.display()))
        };
        let (bootstrap_bytes, zip_bytes) = (size("bootstrap")?, size("bootstrap.zip")?);
        let (uncached_samples_ms, cached_samples_ms) = cold_starts(binary, event, samples).await?;
        eprintln!(
            "[bench] P5 {binary}: first responses {uncached_samples_ms:?} ms uncached, {cached_samples_ms:?} ms cached"
        );
        figures.push(LambdaFigures {
            binary,
            bootstrap_bytes,
            zip_bytes,
            event: event_name,
            first_response_uncached_ms: Spread::of(&uncached_samples_ms),
            first_response_cached_ms: Spread::of(&cached_samples_ms),
            uncached_samples_ms,
            cached_samples_ms,
        });
    }
    Ok(figures)
}
