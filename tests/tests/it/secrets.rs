//! A cluster's auth header kept in SSM Parameter Store: the `rescaler` binary reads the
//! SecureString from a real LocalStack at start and sends it to the cluster's REST endpoint (a
//! loopback listener standing in for Flink, which records the headers it is sent); a
//! parameter that does not exist stops the start with its name.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ssm::types::ParameterType;
use axum::http::HeaderMap;
use harness::S3Server;
use harness::backend::rescaler_binary;
use harness::paths::scratch_dir;
use harness::ports::free_port;
use harness::process::{ChildGuard, log_tail};

const HEADER: &str = "x-flink-gateway-token";
const TOKEN: &str = "alice-token";

/// A stand-in for Flink's REST port that keeps the value of `HEADER` of every request.
async fn recording_endpoint() -> anyhow::Result<(String, Arc<Mutex<Vec<String>>>)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let router = axum::Router::new().fallback(move |headers: HeaderMap| {
        let record = Arc::clone(&record);
        async move {
            let value = headers.get(HEADER).and_then(|value| value.to_str().ok()).unwrap_or("<none>");
            record.lock().expect("headers lock").push(value.to_owned());
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "{\"errors\":[\"stand-in\"]}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, seen))
}

/// The local binary over a directory store, one cluster whose header value is in SSM, AWS
/// calls to LocalStack.
/// Answers the process, its URL and its log file.
fn start_rescaler(
    localstack: &S3Server,
    flink_url: &str,
    parameter: &str,
) -> anyhow::Result<(ChildGuard, String, PathBuf)> {
    let dir = scratch_dir("secrets")?;
    let port = free_port()?;
    let config = format!(
        r#"listen = "127.0.0.1:{port}"

[store]
kind = "dir"
path = "{store}"

[[clusters]]
id = "prod"
name = "Prod"
rest_url = "{flink_url}"
auth_header_ssm = ["{HEADER}", "{parameter}"]

[auth]
mode = "tokens"
[[auth.users]]
name = "alice"
token = "{TOKEN}"
roles = {{ "*" = "viewer" }}
"#,
        store = dir.join("store").display(),
    );
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config)?;
    let mut command = Command::new(rescaler_binary()?);
    command
        .arg(&config_path)
        .env("AWS_ENDPOINT_URL_SSM", localstack.endpoint())
        .env("AWS_REGION", harness::s3::REGION)
        .env("AWS_ACCESS_KEY_ID", harness::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", harness::s3::SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info");
    let log = dir.join("rescaler.log");
    Ok((ChildGuard::spawn("rescaler", command, &log)?, format!("http://127.0.0.1:{port}"), log))
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

#[tokio::test]
async fn the_auth_header_is_read_from_an_ssm_securestring_at_start_and_sent_to_flink() -> anyhow::Result<()> {
    harness::init_tracing();
    let localstack = S3Server::start_with_ssm().await?;
    let secret = format!("Bearer {}", uuid::Uuid::new_v4());
    let parameter = "/rescaler/test/prod/flink-auth";
    localstack
        .ssm_client()
        .put_parameter()
        .name(parameter)
        .value(&secret)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("put parameter: {}", aws_sdk_ssm::error::DisplayErrorContext(error)))?;
    let (flink_url, seen) = recording_endpoint().await?;

    let (mut backend, url, log) = start_rescaler(&localstack, &flink_url, parameter)?;
    wait_healthy(&url, &mut backend, &log).await?;
    let clusters =
        reqwest::Client::new().get(format!("{url}/api/v1/clusters")).bearer_auth(TOKEN).send().await?.text().await?;
    let seen = seen.lock().expect("headers lock").clone();
    assert!(!seen.is_empty(), "the backend never called the cluster");
    assert!(seen.iter().all(|value| *value == secret), "headers sent: {seen:?}");
    assert!(!clusters.contains(&secret), "the secret reached a viewer: {clusters}");
    assert!(!std::fs::read_to_string(&log)?.contains(&secret), "the secret is in the log");
    Ok(())
}

#[tokio::test]
async fn a_missing_ssm_parameter_stops_the_start_naming_it() -> anyhow::Result<()> {
    harness::init_tracing();
    let localstack = S3Server::start_with_ssm().await?;
    let (flink_url, seen) = recording_endpoint().await?;
    let (mut backend, _url, log) = start_rescaler(&localstack, &flink_url, "/rescaler/test/no-such-parameter")?;
    let status = backend.wait_exit(Duration::from_secs(60));
    let log = std::fs::read_to_string(&log)?;
    assert!(status.is_some_and(|status| !status.success()), "the backend started without its secret: {log}");
    assert!(log.contains("cluster prod: cannot read SSM parameter /rescaler/test/no-such-parameter"), "{log}");
    assert!(seen.lock().expect("headers lock").is_empty(), "no call reaches the cluster");
    Ok(())
}
