//! A real S3-compatible server on loopback: LocalStack 4.13.1 (pinned by `scripts/setup.sh`),
//! the server whose conditional writes hold under concurrent races; with SSM Parameter Store
//! too when a test asks ([`S3Server::start_with_ssm`]), or SES ([`S3Server::start_with_ses`],
//! which keeps the mails it was asked to send, listed at `GET /_aws/ses`).
//!
//! A test run may share one server for S3 ([`SHARED_ENDPOINT_ENV`]: `scripts/test.sh` starts it
//! with the `test-localstack` binary): every test works in buckets of its own
//! ([`S3Server::fresh_bucket`]), so none sees another's objects. SSM and SES tests start their own.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

use crate::paths::{cache_dir, scratch_dir};
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};

/// Access keys LocalStack accepts.
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";
pub const REGION: &str = "us-east-1";

/// Names the endpoint of a LocalStack (S3) that the whole test run shares; when it is set,
/// [`S3Server::start`] answers that server instead of starting one.
pub const SHARED_ENDPOINT_ENV: &str = "RESCALER_TEST_S3";

/// A running S3 server; dropping it kills the server (unless it is the run's shared one).
pub struct S3Server {
    endpoint: String,
    services: Vec<&'static str>,
    log_file: std::path::PathBuf,
    /// None for the shared server, which outlives the test.
    _server: Option<ChildGuard>,
}

/// What LocalStack logs when its gateway did not come up.
const GATEWAY_GAVE_UP: &str = "gave up waiting for gateway server";

impl S3Server {
    /// The run's shared S3 server ([`SHARED_ENDPOINT_ENV`]) if there is one, else
    /// [`S3Server::start_own`].
    pub async fn start() -> anyhow::Result<Self> {
        match std::env::var(SHARED_ENDPOINT_ENV) {
            Ok(endpoint) if !endpoint.is_empty() => {
                Ok(Self { endpoint, services: vec!["s3"], log_file: std::path::PathBuf::new(), _server: None })
            }
            _ => Self::start_own().await,
        }
    }

    /// Starts LocalStack with only S3 and waits until S3 reports running.
    pub async fn start_own() -> anyhow::Result<Self> {
        Self::start_services(vec!["s3"]).await
    }

    /// Starts LocalStack with S3 and SSM (Parameter Store), waiting until both run.
    pub async fn start_with_ssm() -> anyhow::Result<Self> {
        Self::start_services(vec!["s3", "ssm"]).await
    }

    /// Starts LocalStack with S3 and SES, waiting until both run.
    pub async fn start_with_ses() -> anyhow::Result<Self> {
        Self::start_services(vec!["s3", "ses"]).await
    }

    /// Starts LocalStack; one whose gateway did not come up on its port (taken meanwhile, or
    /// too slow on a loaded machine: LocalStack gives up on it) is started again on another.
    async fn start_services(services: Vec<&'static str>) -> anyhow::Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_once(services.clone()).await {
                Err(error) if attempt < 3 && error.to_string().contains(GATEWAY_GAVE_UP) => {
                    tracing::warn!(attempt, "LocalStack's gateway did not start; starting it again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(services: Vec<&'static str>) -> anyhow::Result<Self> {
        let venv = cache_dir().join("localstack-venv");
        let python = venv.join("bin/python");
        anyhow::ensure!(python.exists(), "LocalStack is not set up at {}: run scripts/setup.sh", venv.display());
        let port = free_port()?;
        let data_dir = scratch_dir("localstack")?;
        let log_file = data_dir.join("localstack.log");
        let mut command = Command::new(python);
        command
            .args(["-m", "localstack.runtime.main"])
            .env("GATEWAY_SERVER", "hypercorn")
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SERVICES", services.join(","))
            .env("EAGER_SERVICE_LOADING", "1")
            .env("DISABLE_EVENTS", "1")
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .env("DNS_ADDRESS", "0")
            .env("LOCALSTACK_VOLUME_DIR", &data_dir)
            .env("FILESYSTEM_ROOT", &data_dir)
            .env("LS_LOG", "warn")
            .current_dir(&data_dir);
        let server = ChildGuard::spawn("localstack", command, &log_file)?;
        let s3 = Self { endpoint: format!("http://127.0.0.1:{port}"), services, log_file, _server: Some(server) };
        s3.wait_ready(Duration::from_secs(120)).await?;
        Ok(s3)
    }

    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        loop {
            let health = http.get(format!("{}/_localstack/health", self.endpoint)).send().await;
            if let Ok(response) = health
                && let Ok(body) = response.json::<serde_json::Value>().await
                && self
                    .services
                    .iter()
                    .all(|service| matches!(body["services"][*service].as_str(), Some("running" | "available")))
            {
                return Ok(());
            }
            if Instant::now() > deadline || log_tail(&self.log_file, 30).contains(GATEWAY_GAVE_UP) {
                anyhow::bail!(
                    "LocalStack {} not ready within {timeout:?}:\n{}",
                    self.services.join("+"),
                    log_tail(&self.log_file, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An S3 client pointed at this server (path-style, static keys).
    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "harness"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An SSM client pointed at this server (after [`S3Server::start_with_ssm`]).
    pub fn ssm_client(&self) -> aws_sdk_ssm::Client {
        let config = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_ssm::config::Region::new(REGION))
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "harness"))
            .build();
        aws_sdk_ssm::Client::from_conf(config)
    }

    /// An SES (v1) client pointed at this server (after [`S3Server::start_with_ses`]).
    pub fn ses_client(&self) -> aws_sdk_ses::Client {
        let config = aws_sdk_ses::Config::builder()
            .behavior_version(aws_sdk_ses::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_ses::config::Region::new(REGION))
            .credentials_provider(aws_sdk_ses::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "harness"))
            .build();
        aws_sdk_ses::Client::from_conf(config)
    }

    /// The mails SES was asked to send (`GET /_aws/ses`): LocalStack's JSON, one object per
    /// mail (`Source`, `RawData` for raw mails, `Destination`, …).
    pub async fn sent_mails(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let body: serde_json::Value = reqwest::get(format!("{}/_aws/ses", self.endpoint)).await?.json().await?;
        Ok(body["messages"].as_array().cloned().unwrap_or_default())
    }

    /// Creates a new, empty bucket with a unique name and returns the name.
    pub async fn fresh_bucket(&self) -> anyhow::Result<String> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let sequence = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rescaler-test-{}-{sequence}", std::process::id());
        self.client().create_bucket().bucket(&name).send().await.map_err(|error| {
            anyhow::anyhow!("create bucket {name}: {}", aws_sdk_s3::error::DisplayErrorContext(error))
        })?;
        Ok(name)
    }
}
