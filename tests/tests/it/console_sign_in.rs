//! Signing in to the console through a real OpenID Provider (`oidc-provider` on loopback):
//! headless Chromium goes through the provider's login page (Authorization Code + PKCE), sees
//! the user's roles from the provider's groups, survives a reload, keeps working after its first
//! access token expired (renewed with the refresh token), and signs out at the provider too.
//! The backend checks every call's RS256 access token against the provider's JWKS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use harness::Browser;
use harness::backend::LocalBackend;
use harness::browser::{CONSOLE_TEST, PAGE_TIMEOUT, element, texts_until};
use harness::config::{TestConfig, unreachable_cluster};
use harness::oidc_provider::{OidcOptions, OidcProvider, OidcUser};
use harness::paths::scratch_dir;
use harness::ports::free_port;
use rescaler_backend::store::{DirStore, Store};
use serde_json::Value;

/// Short, so that the test sees tokens expire: the console renews at three quarters of it.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(10);
/// The backend accepts a token this long past its `exp` (clock skew).
const BACKEND_LEEWAY: Duration = Duration::from_secs(30);

/// Every `sessionStorage` and `localStorage` entry, as `[storage, key, value]`.
const STORED: &str = "return [['local', localStorage], ['session', sessionStorage]].flatMap(([name, storage]) => \
                      Object.keys(storage).map((key) => [name, key, storage.getItem(key)]));";

async fn stored(client: &Client) -> anyhow::Result<Vec<(String, String, String)>> {
    let entries: Vec<(String, String, String)> = serde_json::from_value(client.execute(STORED, vec![]).await?)?;
    Ok(entries)
}

/// The `typ` of a JWT's header, if `value` is a JWT.
fn jwt_typ(value: &str) -> Option<String> {
    use base64::Engine;
    let header = value.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    Some(header.get("typ").and_then(Value::as_str).unwrap_or("JWT").to_owned())
}

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|event| event.starts_with(prefix)).count()
}

/// Signs in at the provider's login page as `user` (it takes any password).
async fn log_in_at_provider(client: &Client, issuer: &str, user: &str) -> anyhow::Result<()> {
    element(client, "input[name=login]").await?.send_keys(user).await?;
    let url = client.current_url().await?;
    anyhow::ensure!(url.as_str().starts_with(issuer), "the login page is not the provider's: {url}");
    element(client, "input[name=password]").await?.send_keys("any password").await?;
    element(client, "button[type=submit]").await?.click().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_signs_in_renews_and_signs_out_through_a_real_openid_provider() -> anyhow::Result<()> {
    harness::init_tracing();
    let _console = CONSOLE_TEST.lock().await;
    let port = free_port()?;
    let console_origin = format!("http://127.0.0.1:{port}");
    let users = BTreeMap::from([(
        "alice".to_owned(),
        OidcUser { groups: vec!["requester".into(), "demo:approver".into()], email: "alice@example.com".into() },
    )]);
    let provider = OidcProvider::start(&OidcOptions {
        console_origin: console_origin.clone(),
        access_token_ttl: ACCESS_TOKEN_TTL,
        users,
    })
    .await?;
    let store_dir = scratch_dir("store")?;
    let store: Arc<dyn Store> = Arc::new(DirStore::open(&store_dir)?);
    let config = TestConfig::new()
        .with_console()?
        .with_dir_store(store_dir)
        .with_cluster(unreachable_cluster("demo", "Demo"))
        .with_auth(provider.auth_config())
        .with_listen(format!("127.0.0.1:{port}"))
        .build();
    let backend = LocalBackend::start(config, store, false).await?;
    assert_eq!(backend.url(), console_origin);

    // The API takes no ID token and no unsigned guess; the sign-in settings need no token.
    let settings: Value = reqwest::get(format!("{console_origin}/api/v1/auth/config")).await?.json().await?;
    assert_eq!(settings["mode"], "oidc");
    assert_eq!(settings["oidc"]["token_endpoint"], format!("{}/token", provider.issuer()));
    assert_eq!(reqwest::get(format!("{console_origin}/api/v1/me")).await?.status(), 401);

    let browser = Browser::start().await?;
    let client = &browser.client;
    // A deep link: after signing in the console comes back to it.
    client.goto(&format!("{console_origin}/rescales")).await?;
    element(client, "#sign-in-provider").await?.click().await?;
    log_in_at_provider(client, provider.issuer(), "alice").await?;
    texts_until(client, "#signed-in-user", PAGE_TIMEOUT, |names| names == ["alice"]).await?;
    let roles = texts_until(client, ".who-roles", PAGE_TIMEOUT, |roles| !roles[0].is_empty()).await?;
    assert_eq!(roles, ["requester, approver on demo"], "roles from the provider's groups");
    let url = client.current_url().await?;
    assert_eq!(url.path(), "/rescales", "back at the deep link, the callback's code gone from the address");
    assert!(url.query().is_none(), "{url}");
    let events = provider.events();
    assert_eq!(count(&events, "grant.success authorization_code"), 1, "{events:?}");

    // No token in localStorage; no access token anywhere in storage (it stays in memory).
    let entries = stored(client).await?;
    assert!(entries.iter().all(|(storage, ..)| storage == "session"), "localStorage holds {entries:?}");
    assert!(
        entries.iter().all(|(_, _, value)| jwt_typ(value).is_none_or(|typ| !typ.eq_ignore_ascii_case("at+jwt"))),
        "an access token is stored: {entries:?}"
    );
    assert!(
        entries.iter().any(|(_, key, _)| key.contains("refresh")),
        "no refresh token kept for reloads: {entries:?}"
    );

    // A reload stays signed in: the kept refresh token buys a new access token.
    let refreshes_before = count(&provider.events(), "grant.success refresh_token");
    client.refresh().await?;
    texts_until(client, "#signed-in-user", PAGE_TIMEOUT, |names| names == ["alice"]).await?;
    element(client, "#main h1").await?;
    let events = provider.events();
    assert!(count(&events, "grant.success refresh_token") > refreshes_before, "{events:?}");
    assert_eq!(count(&events, "grant.success authorization_code"), 1, "a reload must not sign in again: {events:?}");

    // Outlive the access token by more than the backend's leeway: the console renews it before
    // it expires, so calls keep working without signing in again.
    let signed_in_at = Instant::now();
    tokio::time::sleep(ACCESS_TOKEN_TTL + BACKEND_LEEWAY + Duration::from_secs(5)).await;
    client.find(Locator::Css("nav a[href='/']")).await?.click().await?;
    // The cluster list came from the API with the current access token.
    element(client, "section.cluster[data-cluster-id=demo]").await?;
    client.find(Locator::Css("#nav-inbox")).await?.click().await?;
    texts_until(client, "#main h1", PAGE_TIMEOUT, |titles| titles[0] == "Awaiting your approval").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        client.find(Locator::Css("#sign-in-provider")).await.is_err(),
        "signed out after {:?}",
        signed_in_at.elapsed()
    );
    let notices = client.find_all(Locator::Css("#main .notice-error")).await?;
    assert!(notices.is_empty(), "an error shows after renewal");
    let events = provider.events();
    let renewals = count(&events, "grant.success refresh_token") - refreshes_before;
    assert!(renewals >= 3, "expected renewals every ~7.5 s over 45 s: {events:?}");
    assert_eq!(count(&events, "grant.error"), 0, "{events:?}");
    browser.screenshot("console-signed-in-oidc").await?;

    // Sign out: the refresh token is revoked and the provider's session ends too, so signing in
    // again asks for the login.
    let kept = stored(client).await?;
    let refresh_token = kept.iter().find(|(_, key, _)| key.contains("refresh")).map(|(_, _, value)| value.clone());
    client.find(Locator::Css("#sign-out")).await?.click().await?;
    let confirm = element(client, "button[name=logout][value=yes]").await?;
    confirm.click().await?;
    element(client, "#sign-in-provider").await?;
    assert_eq!(client.current_url().await?.origin().ascii_serialization(), console_origin);
    let entries = stored(client).await?;
    assert!(entries.iter().all(|(_, key, _)| !key.contains("refresh") && !key.contains("id-token")), "{entries:?}");
    assert!(count(&provider.events(), "end_session.success") >= 1, "{:?}", provider.events());
    assert_eq!(count(&provider.events(), "revocation 200"), 1, "{:?}", provider.events());
    let renewed = reqwest::Client::new()
        .post(format!("{}/token", provider.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_deref().unwrap_or_default()),
            ("client_id", harness::oidc_provider::CLIENT_ID),
        ])
        .send()
        .await?;
    assert_eq!(renewed.status(), 400, "the signed-out refresh token still works");
    element(client, "#sign-in-provider").await?.click().await?;
    element(client, "input[name=login]").await?;
    browser.screenshot("console-provider-login-after-sign-out").await?;
    browser.close().await?;
    drop(backend);
    Ok(())
}
