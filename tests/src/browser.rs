//! Headless Chromium driven over WebDriver (chromedriver + fantoccini).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::paths::scratch_dir;
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};

/// A chromedriver process and one browser session on it; dropping it ends both.
pub struct Browser {
    pub client: fantoccini::Client,
    profile_dir: PathBuf,
    _driver: ChildGuard,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium session with its own profile.
    pub async fn start() -> anyhow::Result<Self> {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            anyhow::ensure!(Path::new(tool).exists(), "{tool} is missing: run scripts/setup.sh");
        }
        // Both ring and aws-lc are linked in (reqwest, aws-sdk): pick one for fantoccini.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port()?;
        let work_dir = scratch_dir("chromium")?;
        let log_file = work_dir.join("chromedriver.log");
        let mut command = Command::new("/usr/bin/chromedriver");
        command.arg(format!("--port={port}")).arg("--allowed-ips=127.0.0.1");
        let driver = ChildGuard::spawn("chromedriver", command, &log_file)?;
        let profile_dir = work_dir.join("profile");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile_dir.display()),
                ]
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match fantoccini::ClientBuilder::rustls()?
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "chromedriver not ready yet");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => anyhow::bail!("cannot start a Chromium session: {error}\n{}", log_tail(&log_file, 20)),
            }
        };
        Ok(Self { client, profile_dir, _driver: driver })
    }

    /// Saves a PNG screenshot under `target/screenshots/<name>.png` (kept as a test artifact).
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    pub fn profile_dir(&self) -> &Path {
        &self.profile_dir
    }

    /// Ends the WebDriver session (the driver is killed on drop).
    pub async fn close(self) -> anyhow::Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// Where screenshots are kept: `$RESCALER_ARTIFACTS` or `<repo>/target/test-artifacts/screenshots`.
pub fn screenshots_dir() -> PathBuf {
    std::env::var_os("RESCALER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::paths::repo_root().join("target/test-artifacts"))
        .join("screenshots")
}

/// Held for the whole of a console end-to-end test (Flink, the backend and Chromium at once):
/// two of them side by side on a two-core machine make each other's pages miss their timeouts.
/// Under `cargo test`. nextest runs each test in a process of its own, where the `console` test
/// group of `.config/nextest.toml` does this: every test with "console" in its name, so a test
/// that takes this lock says "console" in its name.
pub static CONSOLE_TEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a page may take to show what a test waits for.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The element matching `css`, once the page shows it (within [`PAGE_TIMEOUT`]).
pub async fn element(client: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .map_err(|error| anyhow::anyhow!("no {css} within {PAGE_TIMEOUT:?}: {error}"))
}

/// Waits until every element matching `css` exists and `accept` holds for the texts of all of them.
pub async fn texts_until(
    client: &Client,
    css: &str,
    timeout: Duration,
    accept: impl Fn(&[String]) -> bool,
) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + timeout;
    let mut last = Vec::new();
    loop {
        if let Ok(elements) = client.find_all(Locator::Css(css)).await {
            let mut texts = Vec::with_capacity(elements.len());
            let mut replaced = false;
            for element in elements {
                // An element replaced while reading (its text an error, not "") makes the whole
                // round read again on the next one.
                match element.text().await {
                    Ok(text) => texts.push(text.trim().to_owned()),
                    Err(_) => replaced = true,
                }
            }
            if !replaced && !texts.is_empty() && accept(&texts) {
                return Ok(texts);
            }
            last = texts;
        }
        anyhow::ensure!(Instant::now() < deadline, "{css} never matched within {timeout:?}; last texts: {last:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
