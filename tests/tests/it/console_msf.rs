//! The console with an Amazon Managed Service for Apache Flink application beside a Flink
//! cluster, in two headless Chromium sessions: alice sees both clusters, opens the application
//! (MSF's facts, KPUs, no per-vertex target), requests a rescale turning autoscaling off with
//! pre-flight passing live; bob approves it from his inbox; both pages follow it through
//! snapshotting and updating to completed, and the application's page shows the new
//! parallelism. The MSF endpoint is the stand-in on real Flink (`tests/msf-standin`).
//! Screenshots: `target/test-artifacts/screenshots/console-e2e-msf-*.png`.

use std::time::{Duration, Instant};

use harness::Browser;
use harness::browser::{PAGE_TIMEOUT, element, texts_until};
use harness::msf::MsfApplication;
use harness::msf_rig::{CLUSTER, MsfRig};

use crate::console_e2e::{scroll_to, shown_phase, sign_in, wait_for_phase};

const RESCALE_TIMEOUT: Duration = Duration::from_secs(180);

async fn shot(browser: &Browser, step: &str) -> anyhow::Result<()> {
    browser.screenshot(&format!("console-e2e-msf-{step}")).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_msf_application_is_requested_approved_and_watched_to_completion_in_two_browsers() -> anyhow::Result<()> {
    let _one_console_test = harness::browser::CONSOLE_TEST.lock().await;
    let rig = MsfRig::start(true, 4, |flink| {
        Ok(vec![MsfApplication { autoscaling: true, ..MsfApplication::sample_job(flink, "orders", 1)? }])
    })
    .await?;
    let job_id = rig.job_id("orders").await?;
    let base = rig.backend.url();
    let (alice, bob) = tokio::try_join!(Browser::start(), Browser::start())?;

    // Side by side: the Flink cluster and the MSF applications.
    sign_in(&alice, &base, "alice", true).await?;
    let facts = element(&alice.client, &format!("section[data-cluster-id='{CLUSTER}'] p")).await?.text().await?;
    assert!(facts.contains("Managed Service for Apache Flink"), "{facts}");
    element(&alice.client, &format!("section[data-cluster-id='{}']", harness::rig::CLUSTER_ID)).await?;
    texts_until(&alice.client, &format!("tr[data-job-row='{job_id}'] .chip"), PAGE_TIMEOUT, |chips| chips[0] == "1")
        .await?;
    let row = element(&alice.client, &format!("tr[data-job-row='{job_id}']")).await?.text().await?;
    assert!(row.contains("of 4 KPUs") && row.contains("FLINK-1_20"), "{row}");
    shot(&alice, "alice-01-clusters").await?;

    // The application's page: MSF's facts, a uniform target bounded by KPUs, the autoscaling choice.
    element(&alice.client, &format!("a[data-job-id='{job_id}']")).await?.click().await?;
    let panel = element(&alice.client, "#msf-panel").await?.text().await?;
    assert!(panel.contains("RUNNING") && panel.contains("1 configured") && panel.contains("of 4"), "{panel}");
    assert!(
        alice.client.find(fantoccini::Locator::Css("#target-kind-per-vertex")).await.is_err(),
        "no per-vertex target"
    );
    let hint = element(&alice.client, "#uniform-hint").await?.text().await?;
    assert!(hint.contains("4 KPUs"), "{hint}");
    let parallelism = element(&alice.client, "#uniform-parallelism").await?;
    parallelism.clear().await?;
    parallelism.send_keys("2").await?;
    element(&alice.client, "#rescale-reason").await?.send_keys("Orders lag after the launch").await?;
    // Autoscaling on: pre-flight asks for the decision first.
    element(&alice.client, "#preflight-result[data-state='failed'] [data-code='msf_autoscaling_on']").await?;
    element(&alice.client, "#autoscaling-turn-off").await?.click().await?;
    element(&alice.client, "#preflight-result[data-state='ok']").await?;
    let plan = element(&alice.client, "#preflight-result").await?.text().await?;
    assert!(plan.contains("msf update") && plan.contains("1 → 2"), "{plan}");
    scroll_to(&alice.client, "#preflight-result").await?;
    shot(&alice, "alice-02-application-and-form").await?;
    element(&alice.client, "#submit-rescale:not([disabled])").await?.click().await?;
    wait_for_phase(&alice.client, "awaiting_approval", PAGE_TIMEOUT).await?;
    let url = alice.client.current_url().await?;
    let operation_id = url.path().trim_start_matches("/rescales/").to_owned();

    // bob approves from his inbox; both pages follow it live.
    sign_in(&bob, &base, "bob", true).await?;
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "1").await?;
    element(&bob.client, "#nav-inbox").await?.click().await?;
    element(&bob.client, &format!("a[data-operation-id='{operation_id}']")).await?.click().await?;
    element(&bob.client, "#action-comment").await?.send_keys("KPUs are there: go").await?;
    element(&bob.client, "#approve-button").await?.click().await?;
    // The confirmation: MSF's update from a snapshot, no savepoint directory.
    element(&bob.client, "#decision-confirm #preflight-result[data-state='ok']").await?;
    let confirmation = element(&bob.client, "#decision-confirm").await?.text().await?;
    assert!(confirmation.contains("msf update strategy"), "{confirmation:?}");
    element(&bob.client, "#confirm-decision:not([disabled])").await?.click().await?;
    let deadline = Instant::now() + RESCALE_TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let phase = shown_phase(&bob.client).await;
        if let Some(phase) = &phase
            && seen.last() != Some(phase)
        {
            seen.push(phase.clone());
            if phase == "updating" || phase == "snapshotting" {
                shot(&bob, &format!("bob-01-{phase}")).await?;
            }
        }
        if phase.as_deref() == Some("completed") {
            break;
        }
        anyhow::ensure!(!matches!(phase.as_deref(), Some("failed" | "rolled_back")), "ended {phase:?}: {seen:?}");
        anyhow::ensure!(Instant::now() < deadline, "no completion within {RESCALE_TIMEOUT:?}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen.iter().any(|phase| phase == "verifying"), "bob's page did not follow live: {seen:?}");
    let location = element(&bob.client, "#savepoint-location").await?.text().await?;
    assert_eq!(location.trim(), format!("msf://orders/rescaler-{operation_id}"));
    shot(&bob, "bob-02-completed").await?;
    wait_for_phase(&alice.client, "completed", PAGE_TIMEOUT).await?;

    // The application's page shows the new parallelism and autoscaling off.
    alice.client.goto(&format!("{base}{}", rescaler_shared::console_path::job(CLUSTER, &job_id))).await?;
    let panel =
        texts_until(&alice.client, "#msf-panel", PAGE_TIMEOUT, |texts| texts[0].contains("2 configured")).await?;
    assert!(panel[0].contains("Autoscaling off"), "{panel:?}");
    element(&alice.client, &format!("#msf-snapshots tr[data-snapshot='rescaler-{operation_id}']")).await?;
    shot(&alice, "alice-03-application-after").await?;
    rig.assert_model_clean();
    alice.close().await?;
    bob.close().await?;
    Ok(())
}
