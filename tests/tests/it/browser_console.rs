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

/// A WebDriver command of chromedriver's: a Chrome DevTools Protocol call.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({"cmd": self.command, "params": self.params});
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Recorded in every document before its own scripts run (DevTools scripts are not subject to
/// the page's policy): each Content-Security-Policy violation the page reports.
const RECORD_VIOLATIONS: &str = "window.__cspViolations = [];\
    document.addEventListener('securitypolicyviolation', (e) => \
    window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));";

async fn violations(browser: &Browser) -> anyhow::Result<Vec<String>> {
    let seen = browser.client.execute("return window.__cspViolations || null", vec![]).await?;
    anyhow::ensure!(!seen.is_null(), "the violation recorder did not run in this document");
    Ok(serde_json::from_value(seen)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_boots_under_its_content_security_policy_with_no_violation() -> anyhow::Result<()> {
    use harness::browser::{PAGE_TIMEOUT, element, texts_until};

    harness::init_tracing();
    let backend = LocalBackend::start_with_dir_store(Vec::new()).await?;
    let page = reqwest::get(backend.url()).await?;
    let policy =
        page.headers().get("content-security-policy").map(|value| value.to_str().unwrap_or_default().to_owned());
    assert_eq!(policy.as_deref(), Some(rescaler_backend::http::headers::content_security_policy(&[]).as_str()));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let browser = Browser::start().await?;
    let script = DevTools {
        command: "Page.addScriptToEvaluateOnNewDocument",
        params: serde_json::json!({"source": RECORD_VIOLATIONS}),
    };
    browser.client.issue_cmd(script).await?;

    // The wasm boots (boot.js, the module script, the WebAssembly compile) and calls the API.
    browser.client.goto(&backend.url()).await?;
    element(&browser.client, "#backend-status .ok").await?;
    assert_eq!(violations(&browser).await?, Vec::<String>::new());

    // Signed in, the schedule form's rows are laid out by the stylesheet, not style= attributes.
    element(&browser.client, "#token-input").await?.send_keys("alice-token").await?;
    element(&browser.client, "#sign-in-button").await?.click().await?;
    texts_until(&browser.client, "#signed-in-user", PAGE_TIMEOUT, |texts| texts[0] == "alice").await?;
    browser.client.goto(&format!("{}/schedules", backend.url())).await?;
    element(&browser.client, "#propose-schedule").await?.click().await?;
    element(&browser.client, ".step-row").await?;
    let display =
        browser.client.execute("return getComputedStyle(document.querySelector('.step-row')).display", vec![]).await?;
    assert_eq!(display, "flex");
    browser.screenshot("console-under-csp").await?;
    assert_eq!(violations(&browser).await?, Vec::<String>::new());

    // The recorder sees what the policy refuses: an injected inline script does not run.
    let injected = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const script = document.createElement('script');\
             script.textContent = 'window.__injectedRan = true';\
             document.head.appendChild(script);\
             setTimeout(() => done(window.__injectedRan === true), 300);",
            vec![],
        )
        .await?;
    assert_eq!(injected, false, "an inline script ran under the policy");
    let seen = violations(&browser).await?;
    assert!(seen.iter().any(|violation| violation.starts_with("script-src")), "{seen:?}");
    browser.close().await?;
    Ok(())
}
