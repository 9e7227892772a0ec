//! The console end to end in two headless Chromium sessions, against the local backend (API and
//! reconcile loop) and a real Flink: alice requests a rescale of the sample job, bob sees it in
//! his inbox and approves it, both pages follow it live to completed, and the new job's page
//! shows the new parallelism; bob's request page shows the delivery log of the notifications a
//! real webhook receiver on loopback got (requested, approved, started, completed). The downtime
//! pre-flight predicts is shown in the form, the inbox, the approval confirmation and the request
//! page, and the measured one beside it once the job ran at its target. Each step
//! leaves a screenshot under
//! `target/test-artifacts/screenshots/console-e2e-*.png`.

use std::time::{Duration, Instant};

use anyhow::Context;
use fantoccini::{Client, Locator};
use harness::Browser;
use harness::backend::LocalBackend;
use harness::browser::{PAGE_TIMEOUT, element, texts_until};
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::webhook_receiver::WebhookReceiver;
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::config::NotificationsConfig;
use rescaler_shared::downtime::{describe, seconds};
use rescaler_shared::operation::{Operation, ResolvedStrategy};

/// How long the approved rescale may take to complete on real Flink.
const RESCALE_TIMEOUT: Duration = Duration::from_secs(180);
/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";
/// The webhook's signing key.
const HOOK_SECRET: &str = "console-e2e-hook-secret";

/// Every event of every cluster to one signed webhook at `url` (read as the configuration file
/// would say it).
fn every_event_to(url: &str) -> anyhow::Result<NotificationsConfig> {
    Ok(serde_json::from_value(serde_json::json!({
        "channels": [{"id": "ops-hook", "kind": "webhook", "url": url, "secret": HOOK_SECRET}],
        "routes": [{"clusters": ["*"], "events": ["*"], "channels": ["ops-hook"]}],
    }))?)
}

/// The request as the backend stored it.
async fn stored(rig: &Rig, operation_id: &str) -> anyhow::Result<Operation> {
    let (operation, _) = rig.records.operation(operation_id).await?.context("the request is stored")?;
    Ok(operation)
}

async fn screenshot(browser: &Browser, step: &str) -> anyhow::Result<()> {
    browser.screenshot(&format!("console-e2e-{step}")).await?;
    Ok(())
}

/// Scrolls the element matching `css` to the middle of the window (screenshots show the window).
pub(crate) async fn scroll_to(client: &Client, css: &str) -> anyhow::Result<()> {
    client
        .execute("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", vec![serde_json::json!(css)])
        .await?;
    Ok(())
}

/// The phase the request page shows (`data-phase` of its badge).
pub(crate) async fn shown_phase(client: &Client) -> Option<String> {
    let badge = client.find(Locator::Css("#operation-phase [data-phase]")).await.ok()?;
    badge.attr("data-phase").await.ok().flatten()
}

pub(crate) async fn wait_for_phase(client: &Client, phase: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let shown = shown_phase(client).await;
        if shown.as_deref() == Some(phase) {
            return Ok(());
        }
        anyhow::ensure!(
            shown.as_deref() != Some("failed") && shown.as_deref() != Some("rolled_back"),
            "the request ended {shown:?}"
        );
        anyhow::ensure!(
            Instant::now() < deadline,
            "the page never showed {phase} within {timeout:?}; it shows {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn sign_in(browser: &Browser, base: &str, user: &str, press_enter: bool) -> anyhow::Result<()> {
    let client = &browser.client;
    client.goto(base).await?;
    let token = element(client, "#token-input").await?;
    if !press_enter {
        // A token the server refuses: the API's message, not a network error.
        token.send_keys("not-a-token").await?;
        element(client, "#sign-in-button").await?.click().await?;
        let refusal = element(client, "#sign-in-form [data-failure='api']").await?.text().await?;
        assert!(refusal.contains("not valid"), "sign-in refusal: {refusal:?}");
        screenshot(browser, &format!("{user}-00-refused-token")).await?;
        token.clear().await?;
    }
    screenshot(browser, &format!("{user}-01-sign-in")).await?;
    if press_enter {
        // Keyboard only: type the token and press Enter in the field.
        token.send_keys(&format!("{user}-token{ENTER}")).await?;
    } else {
        token.send_keys(&format!("{user}-token")).await?;
        element(client, "#sign-in-button").await?.click().await?;
    }
    texts_until(client, "#signed-in-user", PAGE_TIMEOUT, |texts| texts[0] == user).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_requests_in_the_console_bob_approves_in_his_inbox_and_both_watch_it_complete() -> anyhow::Result<()> {
    let _one_console_test = harness::browser::CONSOLE_TEST.lock().await;
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let receiver = WebhookReceiver::start(HOOK_SECRET).await?;
    let mut config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    config.notifications = every_event_to(&receiver.url())?;
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let base = backend.url();
    let (alice, bob) = tokio::try_join!(Browser::start(), Browser::start())?;

    // alice signs in with the keyboard and opens the job from the clusters page.
    sign_in(&alice, &base, "alice", true).await?;
    let job_link = element(&alice.client, &format!("a[data-job-id='{job_id}']")).await?;
    texts_until(&alice.client, &format!("tr[data-job-row='{job_id}'] .chip"), PAGE_TIMEOUT, |chips| {
        chips.iter().all(|chip| chip == "1")
    })
    .await?;
    screenshot(&alice, "alice-02-clusters").await?;
    job_link.click().await?;
    let before = texts_until(&alice.client, "#vertices-table [data-vertex-parallelism]", PAGE_TIMEOUT, |cells| {
        cells.iter().all(|cell| cell == "1")
    })
    .await?;
    assert_eq!(before.len(), 2, "the sample job has two vertices: {before:?}");

    // The rescale form: uniform 2, savepoint strategy, a reason; pre-flight passes live.
    let parallelism = element(&alice.client, "#uniform-parallelism").await?;
    parallelism.clear().await?;
    parallelism.send_keys("2").await?;
    element(&alice.client, "#strategy-savepoint").await?.click().await?;
    element(&alice.client, "#rescale-reason").await?.send_keys("Lag is growing after the 09:00 traffic peak").await?;
    element(&alice.client, "#preflight-result[data-state='ok']").await?;
    let plan = element(&alice.client, "#preflight-result").await?.text().await?;
    assert!(plan.contains("savepoint") && plan.contains("1 → 2"), "pre-flight plan: {plan:?}");
    element(&alice.client, "#preflight-result [data-test='downtime-prediction'][data-strategy='savepoint'][data-runs]")
        .await?;
    scroll_to(&alice.client, "#preflight-result").await?;
    screenshot(&alice, "alice-03-job-and-rescale-form").await?;
    element(&alice.client, "#submit-rescale:not([disabled])").await?.click().await?;

    // The request page: awaiting approval, no approve button for the requester.
    wait_for_phase(&alice.client, "awaiting_approval", PAGE_TIMEOUT).await?;
    let url = alice.client.current_url().await?;
    let operation_id = url.path().trim_start_matches("/rescales/").to_owned();
    assert_eq!(operation_id.len(), 32, "request page address: {url}");
    assert!(
        alice.client.find(Locator::Css("#approve-button")).await.is_err(),
        "alice must not be offered to approve her own request"
    );
    element(&alice.client, "#cancel-button").await?;
    // The request keeps the downtime pre-flight predicted when it was filed, and shows it.
    let predicted = stored(&rig, &operation_id).await?.predicted_outage.context("the request keeps a prediction")?;
    assert_eq!(predicted.strategy, ResolvedStrategy::Savepoint, "{predicted:?}");
    assert!(
        predicted.low_ms <= predicted.expected_ms
            && predicted.expected_ms <= predicted.high_ms
            && predicted.expected_ms > 0,
        "a range around a positive figure: {predicted:?}"
    );
    let shown = texts_until(&alice.client, "[data-test='request-predicted-downtime']", PAGE_TIMEOUT, |_| true).await?;
    assert_eq!(shown, [describe(&predicted)], "the request page shows the stored prediction");
    screenshot(&alice, "alice-04-request-awaiting-approval").await?;

    // bob, in his own browser, sees one request in his inbox badge and opens it from the inbox.
    sign_in(&bob, &base, "bob", false).await?;
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "1").await?;
    screenshot(&bob, "bob-02-inbox-badge").await?;
    element(&bob.client, "#nav-inbox").await?.click().await?;
    let inbox_link = element(&bob.client, &format!("a[data-operation-id='{operation_id}']")).await?;
    let inbox_downtime =
        element(&bob.client, &format!("[data-inbox-operation='{operation_id}'] [data-test='inbox-downtime']"))
            .await?
            .text()
            .await?;
    assert!(
        inbox_downtime.starts_with("downtime ≈") && inbox_downtime.contains(&seconds(predicted.expected_ms)),
        "the inbox shows the predicted downtime {predicted:?}: {inbox_downtime:?}"
    );
    screenshot(&bob, "bob-03-inbox").await?;
    inbox_link.click().await?;

    // bob approves with a comment.
    let approve = element(&bob.client, "#approve-button").await?;
    element(&bob.client, "#action-comment")
        .await?
        .send_keys("Checked the slots and the savepoint directory: go")
        .await?;
    screenshot(&bob, "bob-04-request-before-approval").await?;
    approve.click().await?;
    // Approving asks first, showing what will run: the plan from a pre-flight run now, where the
    // savepoint goes, and the artifact; nothing is sent until bob confirms.
    element(&bob.client, "#decision-confirm #preflight-result[data-state='ok']").await?;
    let confirmation = element(&bob.client, "#decision-confirm").await?.text().await?;
    let savepoint_dir = rig::cluster_config(&rig.flink).savepoint_dir.unwrap_or_default();
    assert!(
        confirmation.contains("1 → 2")
            && confirmation.contains("savepoint strategy")
            && confirmation.contains(&savepoint_dir),
        "the confirmation shows the plan and the savepoint directory {savepoint_dir}: {confirmation:?}"
    );
    // The confirmation's pre-flight predicts the downtime again, the plan's strategy first.
    let predictions =
        texts_until(&bob.client, "#decision-confirm [data-test='downtime-prediction']", PAGE_TIMEOUT, |texts| {
            texts.iter().all(|text| !text.is_empty())
        })
        .await?;
    element(&bob.client, "#decision-confirm [data-test='downtime-prediction'][data-strategy='savepoint'][data-runs]")
        .await?;
    assert!(
        predictions[0].starts_with("savepoint")
            && predictions[0].contains("this one runs")
            && predictions[0].contains("about "),
        "the confirmation shows the savepoint strategy's downtime first: {predictions:?}"
    );
    let sha = element(&bob.client, "#decision-confirm #artifact-sha256").await?.text().await?;
    assert_eq!(sha.trim().len(), 64, "the artifact's sha256 is shown: {sha:?}");
    assert_eq!(shown_phase(&bob.client).await.as_deref(), Some("awaiting_approval"), "nothing sent before confirming");
    scroll_to(&bob.client, "#decision-confirm").await?;
    screenshot(&bob, "bob-04b-approval-confirmation").await?;
    element(&bob.client, "#confirm-decision:not([disabled])").await?.click().await?;

    // Both pages follow the execution live, without reloading.
    let deadline = Instant::now() + RESCALE_TIMEOUT;
    let mut seen_running = false;
    loop {
        let phase = shown_phase(&bob.client).await;
        if !seen_running && matches!(phase.as_deref(), Some("stopping" | "restarting" | "verifying")) {
            screenshot(&bob, "bob-05-request-in-progress").await?;
            seen_running = true;
        }
        if phase.as_deref() == Some("completed") {
            break;
        }
        anyhow::ensure!(!matches!(phase.as_deref(), Some("failed" | "rolled_back")), "the rescale ended {phase:?}");
        anyhow::ensure!(
            Instant::now() < deadline,
            "no completion within {RESCALE_TIMEOUT:?}; bob's page shows {phase:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen_running, "bob's page never showed an execution phase: it did not update live");
    // The measured downtime, recorded when the job was first seen at its target, beside the
    // prediction.
    let outage = stored(&rig, &operation_id).await?.outage.context("the completed request measured its downtime")?;
    let measured = texts_until(&bob.client, "[data-test='request-measured-downtime']", PAGE_TIMEOUT, |_| true).await?;
    let shown_seconds: f64 = measured[0]
        .split_once(" s")
        .and_then(|(number, _)| number.parse().ok())
        .with_context(|| format!("a number of seconds: {measured:?}"))?;
    assert!(
        shown_seconds > 0.0
            && (shown_seconds - outage.duration_ms() as f64 / 1000.0).abs() <= 0.051
            && measured[0].contains("% off"),
        "the measured downtime {outage:?} in seconds, with the prediction's error: {measured:?}"
    );
    element(&bob.client, "[data-test='request-predicted-downtime']").await?;
    let location = element(&bob.client, "#savepoint-location").await?.text().await?;
    assert!(!location.trim().is_empty(), "the savepoint location is shown");
    let events = element(&bob.client, "#events-timeline").await?.text().await?;
    assert!(events.contains("Checked the slots"), "bob's comment is in the timeline: {events}");
    screenshot(&bob, "bob-06-request-completed").await?;
    // The delivery log on bob's page: each event delivered to the receiver, which got each once.
    let log =
        texts_until(&bob.client, "#deliveries li.delivery[data-status='delivered'] strong", PAGE_TIMEOUT, |rows| {
            rows.len() == 4
        })
        .await?;
    assert_eq!(
        log,
        ["requested → ops-hook", "approved → ops-hook", "started → ops-hook", "completed → ops-hook"],
        "delivery log, in event order"
    );
    let mut delivered: Vec<_> = receiver.accepted().into_iter().map(|received| received.delivery_id).collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!((delivered.len(), receiver.received().len()), (4, 4), "each event once: {delivered:?}");
    scroll_to(&bob.client, "#notifications").await?;
    screenshot(&bob, "bob-07-delivery-log").await?;
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "0").await?;
    wait_for_phase(&alice.client, "completed", PAGE_TIMEOUT).await?;
    screenshot(&alice, "alice-05-request-completed").await?;

    // The new job's page shows parallelism 2 on every vertex.
    element(&alice.client, "#current-job-link").await?.click().await?;
    let after = texts_until(&alice.client, "#vertices-table [data-vertex-parallelism]", PAGE_TIMEOUT, |cells| {
        cells.iter().all(|cell| cell == "2")
    })
    .await?;
    assert_eq!(after.len(), 2, "{after:?}");
    let new_job_url = alice.client.current_url().await?;
    assert!(
        !new_job_url.path().ends_with(&job_id),
        "the link leads to the new job, not the stopped one: {new_job_url}"
    );
    screenshot(&alice, "alice-06-new-job").await?;

    // Per vertex: no change yet, then an uneven target that Flink 2.3 cannot resubmit, refused live.
    element(&alice.client, "#target-kind-per-vertex").await?.click().await?;
    element(&alice.client, "#preflight-result[data-state='incomplete']").await?;
    let first_vertex = element(&alice.client, "#vertex-parallelism-0").await?;
    first_vertex.clear().await?;
    first_vertex.send_keys("3").await?;
    element(&alice.client, "#preflight-result[data-state='failed'] [data-code='per_vertex_needs_in_place']").await?;
    assert!(
        element(&alice.client, "#submit-rescale").await?.attr("disabled").await?.is_some(),
        "a failed pre-flight blocks submitting"
    );
    scroll_to(&alice.client, "#preflight-result").await?;
    screenshot(&alice, "alice-07-per-vertex-preflight-failed").await?;

    // The lists: requests, savepoints, audit.
    alice.client.find(Locator::LinkText("Requests")).await?.click().await?;
    element(&alice.client, &format!("a[data-operation-id='{operation_id}']")).await?;
    screenshot(&alice, "alice-08-requests").await?;
    alice.client.find(Locator::LinkText("Savepoints")).await?.click().await?;
    texts_until(&alice.client, "#savepoints-table tbody td.mono", PAGE_TIMEOUT, |cells| cells[0] == location.trim())
        .await?;
    screenshot(&alice, "alice-09-savepoints").await?;
    alice.client.find(Locator::LinkText("Audit")).await?.click().await?;
    let audit = element(&alice.client, "#audit-table").await?.text().await?;
    assert!(audit.contains("bob") && audit.contains("approved"), "audit table: {audit}");
    screenshot(&alice, "alice-10-audit").await?;

    alice.close().await?;
    bob.close().await?;
    Ok(())
}
