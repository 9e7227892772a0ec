//! The per-user write limit on the real binary: two `rescaler` processes (two API instances, as
//! several API Lambdas run at once) over one records bucket on LocalStack count one user's writes
//! together, answer the write past the limit 429 `too_many_requests` with `Retry-After`, and
//! leave other users and reads alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::S3Server;
use harness::backend::rescaler_binary;
use harness::paths::scratch_dir;
use harness::ports::free_port;
use harness::process::{ChildGuard, log_tail};
use serde_json::Value;

const LIMIT: u32 = 3;

/// One `rescaler` over the bucket, with `[limits] writes_per_minute = LIMIT`.
fn start_instance(localstack: &S3Server, bucket: &str, name: &str) -> anyhow::Result<(ChildGuard, String, PathBuf)> {
    let dir = scratch_dir(name)?;
    let port = free_port()?;
    let config = format!(
        r#"listen = "127.0.0.1:{port}"

[store]
kind = "s3"
bucket = "{bucket}"
prefix = "records/"
endpoint = "{endpoint}"
region = "{region}"
access_key_id = "{key}"
secret_access_key = "{secret}"

[limits]
writes_per_minute = {LIMIT}

[auth]
mode = "tokens"
[[auth.users]]
name = "alice"
token = "alice-token"
roles = {{ "*" = "approver" }}
[[auth.users]]
name = "bob"
token = "bob-token"
roles = {{ "*" = "approver" }}
"#,
        endpoint = localstack.endpoint(),
        region = harness::s3::REGION,
        key = harness::s3::ACCESS_KEY,
        secret = harness::s3::SECRET_KEY,
    );
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config)?;
    let mut command = Command::new(rescaler_binary()?);
    command.arg(&config_path).env("AWS_EC2_METADATA_DISABLED", "true").env("RUST_LOG", "info");
    let log = dir.join("rescaler.log");
    Ok((ChildGuard::spawn(name, command, &log)?, format!("http://127.0.0.1:{port}"), log))
}

async fn wait_healthy(url: &str, backend: &mut ChildGuard, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if reqwest::get(format!("{url}/healthz")).await.is_ok_and(|response| response.status().is_success()) {
            return Ok(());
        }
        anyhow::ensure!(!backend.has_exited(), "the backend exited:\n{}", log_tail(log, 30));
        anyhow::ensure!(Instant::now() < deadline, "the backend did not start:\n{}", log_tail(log, 30));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A write that reaches its handler (which answers 404: no such request) once counted.
async fn write(url: &str, token: &str) -> anyhow::Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(format!("{url}/api/v1/rescales/no-such-request/approve"))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await?)
}

/// Waits until at least `margin` is left in the current minute, so the writes below share one
/// window (the limit's windows are whole minutes).
async fn with_room_in_the_minute(margin: Duration) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let left = 60_000 - now % 60_000;
    if left < margin.as_millis() as u64 {
        tokio::time::sleep(Duration::from_millis(left + 100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_writes_are_limited_across_instances_and_others_are_not() -> anyhow::Result<()> {
    harness::init_tracing();
    let localstack = S3Server::start().await?;
    let bucket = localstack.fresh_bucket().await?;
    let (mut first, first_url, first_log) = start_instance(&localstack, &bucket, "write-limit-a")?;
    let (mut second, second_url, second_log) = start_instance(&localstack, &bucket, "write-limit-b")?;
    wait_healthy(&first_url, &mut first, &first_log).await?;
    wait_healthy(&second_url, &mut second, &second_log).await?;
    with_room_in_the_minute(Duration::from_secs(20)).await;

    // Alice's writes alternate between the instances: together they reach the limit.
    for index in 0..LIMIT {
        let url = if index % 2 == 0 { &first_url } else { &second_url };
        let response = write(url, "alice-token").await?;
        assert_eq!(response.status(), 404, "write {index} reaches its handler: {}", response.text().await?);
    }
    let refused = write(&second_url, "alice-token").await?;
    assert_eq!(refused.status(), 429, "{}", log_tail(&second_log, 20));
    let retry_after: u64 = refused.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    let envelope: Value = refused.json().await?;
    assert_eq!(envelope["error"]["code"], "too_many_requests", "{envelope}");
    assert!(envelope["error"]["message"].as_str().unwrap_or_default().contains("at most 3 writes"), "{envelope}");
    assert_eq!(write(&first_url, "alice-token").await?.status(), 429, "the other instance counts the same window");

    // Bob is not affected, reads are not limited, and the pre-flight (a read by POST) is not counted.
    assert_eq!(write(&first_url, "bob-token").await?.status(), 404);
    let me = reqwest::Client::new().get(format!("{first_url}/api/v1/me")).bearer_auth("alice-token").send().await?;
    assert_eq!(me.status(), 200);
    let preflight = reqwest::Client::new()
        .post(format!("{first_url}/api/v1/preflight"))
        .bearer_auth("alice-token")
        .json(&serde_json::json!({}))
        .send()
        .await?;
    assert_ne!(preflight.status(), 429, "the pre-flight is a read");
    // An unauthenticated write is the handler's 401, not a count.
    let anonymous = reqwest::Client::new().post(format!("{first_url}/api/v1/rescales")).send().await?;
    assert_eq!(anonymous.status(), 401);

    // The count is one object per user in the bucket, shared by both instances.
    let keys = localstack.client().list_objects_v2().bucket(&bucket).prefix("records/limits/").send().await?;
    let keys: Vec<&str> = keys.contents().iter().filter_map(|object| object.key()).collect();
    assert_eq!(keys, ["records/limits/users/alice.json", "records/limits/users/bob.json"], "{keys:?}");

    // A window later Alice may write again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(write(&second_url, "alice-token").await?.status(), 404);
    Ok(())
}
