//! Headless Chromium loads the console from the local binary's router and reads what it shows.

use std::time::Duration;

use fantoccini::Locator;
use harness::Browser;
use harness::backend::LocalBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_page_loads_in_headless_chromium_and_shows_backend_health() -> anyhow::Result<()> {
    harness::init_tracing();
    let backend = LocalBackend::start_with_dir_store(Vec::new()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&backend.url()).await?;
    let status =
        browser.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#backend-status .ok")).await?;
    let text = status.text().await?;
    assert!(text.contains(env!("CARGO_PKG_VERSION")) && text.contains("ok"), "status line: {text:?}");
    assert_eq!(browser.client.title().await?, "Flink Rescaler");
    // A client-side route that no file matches still loads the console, and /api/ stays JSON.
    browser.client.goto(&format!("{}/jobs/some-cluster", backend.url())).await?;
    browser.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#backend-status .ok")).await?;
    browser.screenshot("console-home").await?;
    let api_404 = reqwest::get(format!("{}/api/v1/nothing-here", backend.url())).await?;
    assert_eq!(api_404.status(), 404);
    let envelope: serde_json::Value = api_404.json().await?;
    assert_eq!(envelope["error"]["code"], "not_found");
    browser.close().await?;
    Ok(())
}
