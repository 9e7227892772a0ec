//! Schemathesis (from PyPI, installed by `scripts/setup.sh`) fuzzes the running backend from its
//! own OpenAPI document, with the job routes on a real Flink cluster: no answer may be a 5xx,
//! and every answer must be one the document declares, in the schema it declares.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use harness::FlinkOptions;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::paths::{cache_dir, scratch_dir};
use harness::process::{ChildGuard, log_tail};
use harness::rig::{self, Rig};
use serde_json::{Value, json};

/// Test cases per operation and phase, and the fuzzer's own time budget: with Flink's start,
/// the whole test stays under three minutes.
const MAX_EXAMPLES: u32 = 25;
const FUZZ_SECONDS: u32 = 75;

/// The checks: no server error, and the document tells the truth about every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_against_real_flink() -> anyhow::Result<()> {
    let started = Instant::now();
    let schemathesis = cache_dir().join("schemathesis-venv/bin/schemathesis");
    anyhow::ensure!(
        schemathesis.exists(),
        "schemathesis is not set up at {}: run scripts/setup.sh",
        schemathesis.display()
    );

    let rig = Rig::start(FlinkOptions::default()).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    // No reconcile loop: an approval or break glass the fuzzer sends stays a record and never
    // stops the job under test.
    let backend = LocalBackend::start(config, rig.records.store().clone(), false).await?;
    let ready_after = started.elapsed();

    // One real request awaiting approval, so the `{id}` routes reach a record.
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/rescales", backend.url()))
        .bearer_auth("alice-token")
        .json(&json!({"cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "reason": "fuzz"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let operation_id = created["id"].as_str().ok_or_else(|| anyhow::anyhow!("no id in {created}"))?;

    // Real identifiers, which the fuzzer uses for about half of the values it generates: without
    // them nearly every call would stop at "no such cluster".
    let work_dir = scratch_dir("schemathesis")?;
    let config_file = work_dir.join("schemathesis.toml");
    std::fs::write(&config_file, fuzz_config(rig::CLUSTER_ID, &job_id, operation_id, &artifact.sha256))?;
    let log_file = work_dir.join("schemathesis.log");
    let har_file = work_dir.join("requests.har");
    let mut command = std::process::Command::new(&schemathesis);
    command
        .current_dir(&work_dir)
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(format!("{}/api/openapi.json", backend.url()))
        .args(["--header", "Authorization: Bearer admin-token"])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--max-time", &FUZZ_SECONDS.to_string()])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .args(["--report", "har", "--report-har-path"])
        .arg(&har_file);
    let mut fuzzer = ChildGuard::spawn("schemathesis", command, &log_file)?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(FUZZ_SECONDS) + 60);
    let exit = loop {
        if let Some(status) = fuzzer.wait_exit(Duration::ZERO) {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    drop(fuzzer);
    let output = std::fs::read_to_string(&log_file).unwrap_or_default();
    println!("{output}");
    println!("api_fuzz: backend and Flink ready after {:.0?}, whole test {:.0?}", ready_after, started.elapsed());
    let Some(exit) = exit else {
        anyhow::bail!("schemathesis did not finish in time:\n{}", log_tail(&log_file, 40));
    };
    anyhow::ensure!(
        exit.success(),
        "schemathesis reported failures ({exit}); every request is in {}:\n{}",
        har_file.display(),
        log_tail(&log_file, 80)
    );

    // What the fuzzer sent, by answer: it must have reached the real job through Flink.
    let har: Value = serde_json::from_slice(&std::fs::read(&har_file)?)?;
    let entries = har["log"]["entries"].as_array().cloned().unwrap_or_default();
    let mut by_status = std::collections::BTreeMap::<u64, usize>::new();
    for entry in &entries {
        *by_status.entry(entry["response"]["status"].as_u64().unwrap_or(0)).or_default() += 1;
    }
    println!("api_fuzz: {} requests, by status: {by_status:?}", entries.len());
    let job_read = format!("/api/v1/clusters/{}/jobs/{job_id}", rig::CLUSTER_ID);
    let job_reads_ok = entries
        .iter()
        .filter(|entry| {
            entry["response"]["status"] == 200
                && entry["request"]["url"].as_str().is_some_and(|url| url.contains(&job_read))
        })
        .count();
    assert!(job_reads_ok > 0, "no request read the real job through Flink: the fuzz never got past the ids");
    // Some megabytes; kept only when the fuzz failed.
    let _ = std::fs::remove_file(&har_file);
    // Nothing the fuzzer sent stopped the adopted job.
    assert!(rig.running_jobs().await?.contains(&job_id), "the adopted job stopped");
    Ok(())
}

/// A schemathesis configuration that feeds the real identifiers to the parameters and body
/// fields that name them.
fn fuzz_config(cluster_id: &str, job_id: &str, operation_id: &str, artifact_sha256: &str) -> String {
    let mut config = String::new();
    for (dictionary, value) in
        [("cluster", cluster_id), ("job", job_id), ("rescale", operation_id), ("artifact", artifact_sha256)]
    {
        let _ = writeln!(config, "[dictionaries.{dictionary}]\nvalues = [\"{value}\"]\n");
    }
    config.push_str("[parameters]\n");
    for (parameter, dictionary, probability) in [
        ("path.cluster", "cluster", 0.6),
        ("path.job", "job", 0.5),
        ("path.id", "rescale", 0.5),
        ("query.cluster", "cluster", 0.5),
        ("query.job", "job", 0.5),
        ("body.cluster_id", "cluster", 0.6),
        ("body.job_id", "job", 0.5),
        // With the real artifact a deployment starts one more job on the cluster (schemathesis
        // also finds the hash in `GET /artifacts`): about a hundred per run, which Flink takes.
        ("body.artifact_sha256", "artifact", 0.3),
    ] {
        let _ = writeln!(config, "\"{parameter}\" = {{ dictionary = \"{dictionary}\", probability = {probability} }}");
    }
    config
}
