//! One job, one history: after two savepoint rescales through the API on real Flink, the job
//! has three Flink job ids, and the console in headless Chromium shows it once — one row on the
//! clusters page, one page with its lineage, both requests and both savepoints — whichever of
//! its job ids, requests or savepoints the user starts from.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use harness::Browser;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::browser::{PAGE_TIMEOUT, element, texts_until};
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use serde_json::{Value, json};

const RESCALE_TIMEOUT: Duration = Duration::from_secs(180);

/// alice requests a savepoint rescale of `job_id`, bob approves it; answers the request once
/// it completed.
async fn rescale(api: &Api, job_id: &str, parallelism: u32) -> anyhow::Result<Value> {
    let request = json!({
        "cluster_id": rig::CLUSTER_ID, "job_id": job_id, "strategy": "savepoint",
        "target": {"kind": "uniform", "parallelism": parallelism}, "reason": "more traffic",
    });
    let (status, created) = api.post("/rescales", "alice", request).await?;
    anyhow::ensure!(status == 201, "request refused: {created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({})).await?;
    anyhow::ensure!(status == 200, "approval refused: {approved}");
    let deadline = Instant::now() + RESCALE_TIMEOUT;
    loop {
        let (_, operation) = api.get(&format!("/rescales/{id}"), "victor").await?;
        match operation["phase"]["phase"].as_str() {
            Some("completed") => return Ok(operation),
            Some(phase @ ("failed" | "rolled_back")) => anyhow::bail!("the rescale ended {phase}: {operation}"),
            _ => {}
        }
        anyhow::ensure!(Instant::now() < deadline, "no completion within {RESCALE_TIMEOUT:?}: {operation}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_savepoint_rescales_leave_one_job_with_one_history() -> anyhow::Result<()> {
    let _one_console_test = harness::browser::CONSOLE_TEST.lock().await;
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (first_job, _) = rig.adopt_sample_job(1, &[]).await?;
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());

    let first = rescale(&api, &first_job, 2).await?;
    let second_job = text(&first["new_job_id"]);
    let second = rescale(&api, &second_job, 3).await?;
    let third_job = text(&second["new_job_id"]);
    let lineage = [first_job.clone(), second_job.clone(), third_job.clone()];
    assert_eq!(first["deployment_id"], second["deployment_id"], "both requests belong to one deployment");
    assert_eq!(text(&first["deployment_id"]), first_job, "the deployment is named after the first job id");

    // The API: every job id leads to the same deployment, its current job the newest.
    let cluster = rig::CLUSTER_ID;
    for job_id in &lineage {
        let (status, detail) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}"), "victor").await?;
        assert_eq!(status, 200, "{detail}");
        let deployment = &detail["deployment"];
        assert_eq!(text(&deployment["current_job_id"]), third_job, "{detail}");
        let ids: Vec<String> =
            deployment["lineage"].as_array().into_iter().flatten().map(|e| text(&e["job_id"])).collect();
        assert_eq!(ids, lineage, "{detail}");
        let (_, savepoints) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}/savepoints"), "victor").await?;
        assert_eq!(savepoints.as_array().map(Vec::len), Some(2), "the deployment's savepoints: {savepoints}");
    }
    let (_, history) = api.get(&format!("/rescales?deployment={first_job}"), "victor").await?;
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
    let (_, jobs) = api.get(&format!("/clusters/{cluster}/jobs"), "victor").await?;
    let current: Vec<&Value> =
        jobs.as_array().into_iter().flatten().filter(|job| job["superseded_by"].is_null()).collect();
    assert_eq!(current.len(), 1, "one current job: {jobs}");
    assert_eq!(text(&current[0]["id"]), third_job);

    // The console: one row, one page, from whichever id the user starts.
    let browser = Browser::start().await?;
    let client = &browser.client;
    client.goto(&backend.url()).await?;
    element(client, "#token-input").await?.send_keys("victor-token").await?;
    element(client, "#sign-in-button").await?.click().await?;
    element(client, &format!("a[data-job-id='{third_job}']")).await?;
    for earlier in [&first_job, &second_job] {
        assert!(
            client.find(Locator::Css(&format!("tr[data-job-row='{earlier}']"))).await.is_err(),
            "earlier job id {earlier} has a row of its own"
        );
    }
    if let Ok(show_ended) = client.find(Locator::Css("button[aria-expanded]")).await {
        show_ended.click().await?;
        assert!(client.find(Locator::Css(&format!("tr[data-job-row='{first_job}']"))).await.is_err());
    }
    browser.screenshot("console-deployment-01-clusters").await?;

    client.goto(&format!("{}/clusters/{cluster}/jobs/{first_job}", backend.url())).await?;
    let shown = texts_until(client, "#deployment-lineage li", PAGE_TIMEOUT, |items| items.len() == 3).await?;
    assert!(shown[2].contains(&third_job) && shown[2].contains("current"), "{shown:?}");
    let url = client.current_url().await?;
    assert!(url.path().ends_with(&third_job), "the first job id leads to the current job: {url}");
    let rows = texts_until(client, "#job-requests-title ~ * tbody tr", PAGE_TIMEOUT, |rows| rows.len() == 2).await?;
    assert_eq!(rows.len(), 2, "one history with both requests: {rows:?}");
    let savepoints =
        texts_until(client, "#job-savepoints-title ~ * tbody tr", PAGE_TIMEOUT, |rows| rows.len() == 2).await?;
    assert_eq!(savepoints.len(), 2, "{savepoints:?}");
    browser.screenshot("console-deployment-02-job").await?;

    // From the first request, the job link leads to the job as it runs now.
    client.goto(&format!("{}/rescales/{}", backend.url(), text(&first["id"]))).await?;
    element(client, "#current-job-link").await?.click().await?;
    texts_until(client, "#deployment-lineage li[data-current='true']", PAGE_TIMEOUT, |items| {
        items.len() == 1 && items[0].contains(&third_job)
    })
    .await?;
    let url = client.current_url().await?;
    assert!(url.path().ends_with(&third_job), "{url}");
    browser.screenshot("console-deployment-03-from-a-request").await?;
    browser.close().await?;
    Ok(())
}
