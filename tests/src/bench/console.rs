//! P3 and P4: the console's wasm size (as `scripts/build-console.sh` reports it), and the time
//! from navigation start to the first job row on screen in headless Chromium, against the local
//! backend (Router in-process, S3 store) and a real Flink running the sample job.
//!
//! The time is read in the page: after WebDriver's navigation returns (at the load event), a
//! script waits with a `MutationObserver` for the first visible element showing a job, then for
//! the next animation frame (the paint), and answers `performance.now()` — milliseconds since
//! navigation start. If the row was already there when the script started, the figure is an
//! upper bound and is flagged `already_visible`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use harness::Browser;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::paths::repo_root;
use harness::rig;
use serde::Serialize;
use serde_json::{Value, json};

use crate::downtime::Scene;
use crate::report::{Spread, round1};

/// What shows a job in the console: the selector agreed with the console, then the row and link
/// attributes the console's job table uses today.
pub const JOB_ROW_SELECTOR: &str = "[data-test=\"job-row\"], tr[data-job-row], [data-job-id]";

/// P3: the built console's size.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleSize {
    pub wasm_raw_bytes: u64,
    pub wasm_gzip_bytes: u64,
    /// `frontend/dist` is older than a file under `frontend/src`: rebuild for current figures.
    pub dist_older_than_sources: bool,
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let mtime = if path.is_dir() { newest_mtime(&path) } else { entry.metadata().ok()?.modified().ok() };
        newest = newest.max(mtime);
    }
    newest
}

/// Reads `frontend/dist/size.json`.
pub fn size() -> anyhow::Result<ConsoleSize> {
    let dist = repo_root().join("frontend/dist");
    let size_file = dist.join("size.json");
    let text = std::fs::read_to_string(&size_file)
        .with_context(|| format!("{} is missing: run scripts/build-console.sh", size_file.display()))?;
    let size: Value = serde_json::from_str(&text)?;
    let built = std::fs::metadata(dist.join("rescaler_console_bg.wasm"))?.modified()?;
    let sources = newest_mtime(&repo_root().join("frontend/src"));
    Ok(ConsoleSize {
        wasm_raw_bytes: size["wasm_raw_bytes"].as_u64().context("size.json lacks wasm_raw_bytes")?,
        wasm_gzip_bytes: size["wasm_gzip_bytes"].as_u64().context("size.json lacks wasm_gzip_bytes")?,
        dist_older_than_sources: sources.is_some_and(|sources| sources > built),
    })
}

/// One page load.
#[derive(Debug, Clone, Serialize)]
pub struct PageLoad {
    /// First load in a fresh browser profile (nothing cached), or a reload.
    pub cold: bool,
    /// Navigation start → the frame after the first job row became visible.
    pub first_row_ms: f64,
    /// Navigation start → the row was inserted and visible (before the paint).
    pub row_inserted_ms: f64,
    pub already_visible: bool,
    pub dom_content_loaded_ms: Option<f64>,
    pub load_event_end_ms: Option<f64>,
    /// The wasm's response end (none when served from memory cache).
    pub wasm_loaded_ms: Option<f64>,
    /// The response end of the cluster's job list (`GET /api/v1/clusters/<c>/jobs`).
    pub jobs_list_loaded_ms: Option<f64>,
}

/// P4: time to first data on screen.
#[derive(Debug, Clone, Serialize)]
pub struct FirstData {
    pub selector: &'static str,
    pub cold_ms: Option<Spread>,
    pub warm_ms: Option<Spread>,
    pub loads: Vec<PageLoad>,
}

const WAIT_FOR_ROW: &str = r#"
const done = arguments[arguments.length - 1];
const selector = arguments[0];
const visible = () => Array.from(document.querySelectorAll(selector))
  .some((element) => element.checkVisibility ? element.checkVisibility() : element.getClientRects().length > 0);
const timings = (extra) => {
  const navigation = performance.getEntriesByType('navigation')[0] || {};
  const resources = performance.getEntriesByType('resource')
    .map((entry) => ({ name: entry.name, end: entry.responseEnd }));
  return Object.assign({
    dom_content_loaded: navigation.domContentLoadedEventEnd,
    load_event_end: navigation.loadEventEnd,
    resources,
  }, extra);
};
if (visible()) {
  const now = performance.now();
  done(timings({ shown: now, inserted: now, already: true }));
} else {
  const observer = new MutationObserver(() => {
    if (!visible()) return;
    observer.disconnect();
    const inserted = performance.now();
    requestAnimationFrame(() => done(timings({ shown: performance.now(), inserted, already: false })));
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  setTimeout(() => {
    observer.disconnect();
    done({ timeout: true, text: document.body ? document.body.innerText.slice(0, 400) : '' });
  }, 25000);
}
"#;

async fn measure(browser: &Browser, base: &str, cold: bool) -> anyhow::Result<PageLoad> {
    browser.client.goto(&format!("{base}/")).await?;
    let answer = browser.client.execute_async(WAIT_FOR_ROW, vec![json!(JOB_ROW_SELECTOR)]).await?;
    anyhow::ensure!(
        answer["timeout"] != true,
        "no job row ({JOB_ROW_SELECTOR}) within 25 s; the page shows: {:?}",
        answer["text"]
    );
    let resource_end = |matches: &dyn Fn(&str) -> bool| {
        answer["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["name"].as_str().is_some_and(matches))
            .filter_map(|entry| entry["end"].as_f64())
            .filter(|end| *end > 0.0)
            .reduce(f64::max)
            .map(round1)
    };
    Ok(PageLoad {
        cold,
        first_row_ms: round1(answer["shown"].as_f64().context("no time in the page's answer")?),
        row_inserted_ms: round1(answer["inserted"].as_f64().unwrap_or(f64::NAN)),
        already_visible: answer["already"] == true,
        dom_content_loaded_ms: answer["dom_content_loaded"].as_f64().map(round1),
        load_event_end_ms: answer["load_event_end"].as_f64().map(round1),
        wasm_loaded_ms: resource_end(&|name| name.ends_with(".wasm")),
        jobs_list_loaded_ms: resource_end(&|name| name.contains("/api/v1/clusters/") && name.ends_with("/jobs")),
    })
}

/// Signs `alice` in the way the console remembers a token, without loading the console.
async fn store_token(browser: &Browser, base: &str) -> anyhow::Result<()> {
    browser.client.goto(&format!("{base}/healthz")).await?;
    browser.client.execute("localStorage.setItem('rescaler.token', 'alice-token');", vec![]).await?;
    Ok(())
}

/// Runs P4: `cold` first loads, each in a fresh browser, then `warm` reloads in the last one.
pub async fn first_data(scene: &Scene, cold: usize, warm: usize) -> anyhow::Result<FirstData> {
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&scene.flink)).build();
    let backend = LocalBackend::start(config, scene.records.store().clone(), false).await?;
    let base = backend.url();
    let mut loads = Vec::new();
    for index in 0..cold.max(1) {
        let browser = Browser::start().await?;
        store_token(&browser, &base).await?;
        let load = measure(&browser, &base, true).await?;
        eprintln!("[bench] P4 cold load: first job row at {:.0} ms", load.first_row_ms);
        loads.push(load);
        if index + 1 == cold.max(1) {
            for _ in 0..warm {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let load = measure(&browser, &base, false).await?;
                eprintln!("[bench] P4 warm load: first job row at {:.0} ms", load.first_row_ms);
                loads.push(load);
            }
        }
        browser.close().await?;
    }
    let pick =
        |cold: bool| loads.iter().filter(|load| load.cold == cold).map(|load| load.first_row_ms).collect::<Vec<_>>();
    Ok(FirstData {
        selector: JOB_ROW_SELECTOR,
        cold_ms: Spread::of(&pick(true)),
        warm_ms: Spread::of(&pick(false)),
        loads,
    })
}
