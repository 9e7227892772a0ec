//! The run command's engine: a local Flink with the sample job, and the `rescaler` binary with
//! its embedded store and the console, until Ctrl-C stops everything it started.
//!
//! usage: devstack RESCALER_BINARY [PORT]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use harness::process::ChildGuard;
use harness::{FlinkCluster, FlinkOptions};
use rescaler_backend::records::Records;
use rescaler_backend::store::DirStore;
use std::sync::Arc;

const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("alice", "alice-demo-token", "requester"),
    ("bob", "bob-demo-token", "approver"),
    ("admin", "admin-demo-token", "admin"),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    harness::init_tracing();
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().context("usage: devstack RESCALER_BINARY [PORT]")?);
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(8080);

    eprintln!("starting a local Flink {} (adaptive scheduler)…", FlinkOptions::default().version);
    let cluster = FlinkCluster::start(FlinkOptions::default()).await?;
    let run_dir = harness::paths::repo_root().join(".rescaler-run");
    // A fresh embedded store each run: the previous run's jobs are gone with its cluster.
    let _ = std::fs::remove_dir_all(run_dir.join("store"));
    std::fs::create_dir_all(&run_dir)?;
    // The sample job runs from an artifact in the store and is linked to it, so the savepoint
    // strategy can resubmit it.
    let records = Records::new(Arc::new(DirStore::open(run_dir.join("store"))?));
    let client = harness::rig::flink_client(&cluster)?;
    let (job_id, _) = harness::rig::adopt_sample_job(&records, client.as_ref(), &cluster, 2, &[]).await?;
    eprintln!("sample job {job_id} is RUNNING at parallelism 2 on {}", cluster.rest_url());

    let config_path = run_dir.join("config.toml");
    std::fs::write(&config_path, demo_config(&run_dir, port, &cluster))?;
    let mut command = Command::new(&binary);
    command.arg(&config_path).env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let log_file = run_dir.join("rescaler.log");
    let mut backend = ChildGuard::spawn("rescaler", command, &log_file)?;
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url, &mut backend, &log_file).await?;

    println!();
    println!("  Console:    {url}");
    println!("  Flink UI:   {}", cluster.rest_url());
    println!("  Sample job: {job_id}");
    println!("  Demo users (sign in with the token):");
    for (name, token, role) in DEMO_USERS {
        println!("    {name:<6} {role:<10} {token}");
    }
    println!("  Logs: {}", run_dir.display());
    println!("  Ctrl-C stops everything.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("stopping…"),
        _ = watch(&mut backend) => eprintln!("the backend exited; see {}", log_file.display()),
    }
    drop(backend);
    drop(cluster);
    Ok(())
}

async fn watch(backend: &mut ChildGuard) {
    while !backend.has_exited() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_healthy(url: &str, backend: &mut ChildGuard, log_file: &std::path::Path) -> anyhow::Result<()> {
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        anyhow::ensure!(
            !backend.has_exited(),
            "the backend exited at start:\n{}",
            harness::process::log_tail(log_file, 20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the backend did not answer /healthz at {url}")
}

fn demo_config(run_dir: &std::path::Path, port: u16, cluster: &FlinkCluster) -> String {
    let mut users = String::new();
    for (name, token, role) in DEMO_USERS {
        users.push_str(&format!(
            "\n[[auth.users]]\nname = \"{name}\"\ntoken = \"{token}\"\nroles = {{ \"*\" = \"{role}\" }}\n"
        ));
    }
    format!(
        r#"# Written by the run command (devstack) for this run only.
listen = "127.0.0.1:{port}"
console_dir = "{console}"

[store]
kind = "dir"
path = "{store}"

[[clusters]]
id = "{cluster_id}"
name = "Local Flink {version}"
rest_url = "{rest}"
savepoint_dir = "{savepoints}"

[auth]
mode = "tokens"
{users}"#,
        cluster_id = harness::rig::CLUSTER_ID,
        console = harness::paths::repo_root().join("frontend/dist").display(),
        store = run_dir.join("store").display(),
        version = cluster.options.version,
        rest = cluster.rest_url(),
        savepoints = cluster.savepoint_dir(),
    )
}
