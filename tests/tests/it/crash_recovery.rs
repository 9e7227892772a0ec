//! The `rescaler` process is killed with SIGKILL right after each side effect on Flink, and
//! started again: the operation completes, exactly one job runs, the savepoint is on record.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::backend::rescaler_binary;
use harness::process::ChildGuard;
use harness::rig::{CLUSTER_ID, Rig};
use harness::{FlinkOptions, Scheduler, s3};
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::phase::Phase;

fn write_config(rig: &Rig, dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let port = harness::ports::free_port()?;
    let config = format!(
        r#"listen = "127.0.0.1:{port}"

[store]
kind = "s3"
bucket = "{bucket}"
prefix = "rescaler"
endpoint = "{endpoint}"
region = "{region}"
access_key_id = "{key}"
secret_access_key = "{secret}"

[[clusters]]
id = "{CLUSTER_ID}"
name = "crash test"
rest_url = "{rest}"
savepoint_dir = "{savepoints}"
"#,
        bucket = rig.bucket,
        endpoint = rig.s3.endpoint(),
        region = s3::REGION,
        key = s3::ACCESS_KEY,
        secret = s3::SECRET_KEY,
        rest = rig.flink.rest_url(),
        savepoints = rig.flink.savepoint_dir(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

fn start_backend(
    config: &std::path::Path,
    crash_after: Option<&str>,
    log: &std::path::Path,
) -> anyhow::Result<ChildGuard> {
    let mut command = Command::new(rescaler_binary()?);
    command
        .arg(config)
        .env("RESCALER_INSTANCE_ID", "crash-test-instance")
        .env("RUST_LOG", "info,rescaler_backend=debug");
    if let Some(point) = crash_after {
        command.env("RESCALER_CRASH_AFTER", point);
    }
    ChildGuard::spawn("rescaler", command, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_each_side_effect_the_backend_resumes_and_completes() -> anyhow::Result<()> {
    killed_after_each_side_effect(FlinkOptions::default().with_scheduler(Scheduler::Default), SAVEPOINT_ROUNDS).await
}

/// Savepoint rounds 1→2→3→2, the backend killed after a different side effect in each.
const SAVEPOINT_ROUNDS: &[(&str, u32, Strategy)] = &[
    ("stop_triggered", 2, Strategy::Savepoint),
    ("savepoint_completed", 3, Strategy::Savepoint),
    ("job_submitted", 2, Strategy::Savepoint),
];

/// The same on a 1.x version, on the adaptive scheduler, and then in place, killed right after
/// the resource requirements were sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_each_side_effect_on_1_20_adaptive_the_backend_resumes_and_completes() -> anyhow::Result<()> {
    let rounds = [SAVEPOINT_ROUNDS, &[("requirements_sent", 3, Strategy::InPlace)]].concat();
    let options = FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Adaptive);
    killed_after_each_side_effect(options, &rounds).await
}

/// `rounds` (crash point, target, strategy) on one cluster of `options`, from parallelism 1.
async fn killed_after_each_side_effect(options: FlinkOptions, rounds: &[(&str, u32, Strategy)]) -> anyhow::Result<()> {
    let rig = Rig::start(options).await?;
    let work = harness::paths::scratch_dir("crash")?;
    let config = write_config(&rig, &work)?;
    let (mut job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, mut max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;

    for (round, &(point, target, strategy)) in rounds.iter().enumerate() {
        if strategy == Strategy::InPlace {
            // In place restores from the latest checkpoint: pre-flight wants one.
            rig.wait_for_checkpoint(&job_id).await?;
        }
        let operation_id = rig
            .request_approved(
                &job_id,
                &artifact,
                Target::Uniform { parallelism: target },
                strategy,
                Duration::from_secs(90),
            )
            .await?;
        let log = work.join(format!("rescaler-{round}.log"));
        let mut crashing = start_backend(&config, Some(point), &log)?;
        let status = crashing.wait_exit(Duration::from_secs(90)).ok_or_else(|| {
            anyhow::anyhow!("the backend never reached {point}:\n{}", harness::process::log_tail(&log, 30))
        })?;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL at {point}: {status:?}");
        let (operation, _) = rig.records.operation(&operation_id).await?.expect("stored");
        assert!(!operation.is_terminal(), "crashed mid-way at {point}: {:?}", operation.phase);
        if point == "savepoint_completed" {
            // Killed after seeing the savepoint done, before recording it: still stopping.
            assert!(matches!(operation.phase, Phase::Stopping { .. }), "{:?}", operation.phase);
            assert!(operation.savepoint.is_none());
        } else {
            assert!(operation.lease.is_some(), "the intent was on record before the side effect");
        }

        let resumed_log = work.join(format!("rescaler-{round}-resumed.log"));
        let _resumed = start_backend(&config, None, &resumed_log)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let operation = loop {
            let (operation, _) = rig.records.operation(&operation_id).await?.expect("stored");
            if operation.is_terminal() {
                break operation;
            }
            assert!(
                Instant::now() < deadline,
                "not resumed after {point}: {:?}\n{}",
                operation.phase,
                harness::process::log_tail(&resumed_log, 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(operation.phase, Phase::Completed, "after {point}: {:#?}", operation.events);
        let new_job = if strategy == Strategy::InPlace {
            assert!(operation.new_job_id.is_none() && operation.savepoint.is_none(), "in place: {operation:?}");
            let sent = operation.events.iter().filter(|event| event.kind == "requirements_sent").count();
            assert_eq!(sent, 1, "the requirements are recorded as sent once after {point}");
            job_id.clone()
        } else {
            let catalog = rig.records.savepoints(CLUSTER_ID, &job_id).await?;
            assert_eq!(catalog.len(), 1, "the savepoint is recorded once after {point}");
            assert_eq!(Some(&catalog[0].location), operation.savepoint.as_ref().map(|s| &s.location));
            operation.new_job_id.clone().expect("new job")
        };
        assert_eq!(rig.running_jobs().await?, vec![new_job.clone()], "exactly one job runs after {point}");
        let job = rig.job(&new_job).await?;
        assert!(job.vertices.iter().all(|vertex| vertex.parallelism == target), "at {target} after {point}: {job:?}");
        let (fresh, max_after) = rig.counter_after(&new_job, max_before, Duration::from_secs(60)).await?;
        assert_eq!(fresh, 0.0, "state lost after {point}");
        job_id = new_job;
        max_before = max_after;
        // Let the resumed backend go before the next round starts a crashing one.
        drop(_resumed);
    }
    Ok(())
}
