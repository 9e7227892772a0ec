//! Changes made outside the product, on real Flink: the product adopts a job through a rescale
//! request, then someone rescales it through Flink's own REST API. One drift check later the
//! audit log has one out-of-band event, a signed webhook on loopback gets one `out_of_band`
//! notification linking to the job, and the job page's data shows the change; a second check
//! writes no second event and sends nothing more. The records live in a directory store (its compare-and-swap is
//! what claims a change); Flink is real.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig;
use harness::webhook_receiver::WebhookReceiver;
use harness::{FlinkCluster, FlinkOptions, Scheduler};
use rescaler_backend::config::NotificationsConfig;
use rescaler_backend::drift;
use rescaler_backend::flink::FlinkClient;
use rescaler_backend::notify::{Notifier, routing};
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::store::{DirStore, Store};
use rescaler_shared::flink::JobView;
use rescaler_shared::operation::PhaseName;
use serde_json::{Value, json};

/// The out-of-band events the audit log holds for `job_id`.
async fn out_of_band_events(api: &Api, job_id: &str) -> anyhow::Result<Vec<Value>> {
    let (status, audit) = api.get("/audit", "victor").await?;
    anyhow::ensure!(status == 200, "audit: {audit}");
    Ok(audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["action"] == "out_of_band" && event["job_id"] == job_id)
        .cloned()
        .collect())
}

/// The job as Flink shows it now.
async fn job_now(client: &dyn FlinkClient, job_id: &str) -> anyhow::Result<JobView> {
    client.job(job_id).await?.ok_or_else(|| anyhow::anyhow!("flink does not know job {job_id}"))
}

/// Every vertex of the job at `parallelism` in `detail`'s map of vertex id to parallelism.
fn all_at(map: &Value, parallelism: u64) -> bool {
    map.as_object().is_some_and(|map| !map.is_empty() && map.values().all(|value| value.as_u64() == Some(parallelism)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescale_through_flinks_own_rest_api_is_audited_once_and_shown_on_the_job_page() -> anyhow::Result<()> {
    harness::init_tracing();
    let flink = FlinkCluster::start(FlinkOptions::default().with_scheduler(Scheduler::Adaptive)).await?;
    let store: Arc<dyn Store> = Arc::new(DirStore::open(harness::paths::scratch_dir("store")?)?);
    let receiver = WebhookReceiver::start("oob-secret").await?;
    let notifications: NotificationsConfig = serde_json::from_value(json!({
        "console_url": "http://console.test",
        "channels": [{"id": "ops-hook", "kind": "webhook", "url": receiver.url(), "secret": "oob-secret"}],
        "routes": [{"clusters": ["*"], "events": ["out_of_band"], "channels": ["ops-hook"]}],
    }))?;
    let records = Records::new(store.clone()).with_routing(routing(&notifications));
    let notifier = Notifier::new(records.clone(), &notifications);
    let client = rig::flink_client(&flink)?;
    let engine = rig::engine_with_client(&records, rig::cluster_config(&flink), client.clone(), "test-reconciler");
    let (job_id, _) = rig::adopt_sample_job(&records, client.as_ref(), &flink, 1, &[]).await?;
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&flink)).build();
    let backend = LocalBackend::start(config, store, false).await?;
    let api = Api::new(backend.url());
    let cluster = rig::CLUSTER_ID;
    let job_path = format!("/clusters/{cluster}/jobs/{job_id}");

    // In place restores from the latest checkpoint: pre-flight waits for the first one.
    harness::rig::wait_for_checkpoint(client.as_ref(), &job_id).await?;

    // The product adopts the job: alice asks for 2 in place, bob approves, the engine does it.
    let request = json!({"cluster_id": cluster, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "in_place", "reason": "adopt and grow"});
    let (status, operation) = api.post("/rescales", "alice", request).await?;
    assert_eq!(status, 201, "{operation}");
    let operation_id = operation["id"].as_str().expect("id").to_owned();
    let (status, body) = api.post(&format!("/rescales/{operation_id}/approve"), "bob", json!({})).await?;
    assert_eq!(status, 200, "{body}");
    let done = rig::drive(&engine, &records, &operation_id, Duration::from_secs(120)).await?;
    assert_eq!(done.phase.name(), PhaseName::Completed, "{done:#?}");

    // The deployment records what the product approved; Flink runs exactly that.
    let (status, detail) = api.get(&job_path, "victor").await?;
    assert_eq!(status, 200, "{detail}");
    let approved = &detail["deployment"]["approved"];
    assert!(all_at(&approved["parallelism"], 2), "{detail:#}");
    assert_eq!(approved["operation_id"], operation_id.as_str(), "{detail:#}");
    assert!(detail["deployment"]["out_of_band"].is_null(), "{detail:#}");
    let quiet = drift::check(&records, &engine.clusters, now_ms()).await;
    assert_eq!((quiet.deployments, quiet.out_of_band, quiet.failures), (1, 0, 0), "{quiet:?}");

    // Someone rescales the job to 3 through Flink's own REST API, not through the product.
    let job = job_now(client.as_ref(), &job_id).await?;
    let requirements: serde_json::Map<String, Value> = job
        .vertices
        .iter()
        .map(|vertex| (vertex.id.clone(), json!({"parallelism": {"lowerBound": 3, "upperBound": 3}})))
        .collect();
    let url = format!("{}/jobs/{job_id}/resource-requirements", flink.rest_url());
    let response = reqwest::Client::new().put(&url).json(&requirements).send().await?;
    assert!(response.status().is_success(), "PUT {url}: {}", response.text().await?);
    let target = job.vertices.iter().map(|vertex| (vertex.id.clone(), 3)).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !job_now(client.as_ref(), &job_id).await?.runs_at(&target) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "flink never ran the job at 3: {:?}",
            job_now(client.as_ref(), &job_id).await?
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // One check: one out-of-band event, and the job page shows the change.
    let report = drift::check(&records, &engine.clusters, now_ms()).await;
    assert_eq!((report.out_of_band, report.failures), (1, 0), "{report:?}");
    let events = out_of_band_events(&api, &job_id).await?;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["cluster_id"], cluster);
    let message = events[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("changed outside the product") && message.contains("2 → 3"), "{message}");
    notifier.deliver_due("test-reconciler").await;
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one out_of_band notification: {received:#?}");
    let hook = &received[0];
    assert!(hook.signature_valid && hook.answered == 204, "{hook:#?}");
    assert_eq!((hook.event.as_str(), &hook.body["event"]), ("out_of_band", &json!("out_of_band")));
    assert_eq!(hook.body["job_id"], job_id.as_str());
    assert_eq!(hook.body["target"], "parallelism 3", "{}", hook.body);
    assert!(hook.body["message"].as_str().is_some_and(|text| text.contains("2 → 3")), "{}", hook.body);
    assert_eq!(hook.body["console_url"], format!("http://console.test/clusters/{cluster}/jobs/{job_id}"));
    assert!(hook.body.get("operation_id").is_none(), "no request's: {}", hook.body);
    let (_, detail) = api.get(&job_path, "victor").await?;
    let out_of_band = &detail["deployment"]["out_of_band"];
    assert!(all_at(&out_of_band["seen"]["parallelism"], 3), "{detail:#}");
    assert_eq!((out_of_band["audited"].as_bool(), out_of_band["message"].as_str().is_some()), (Some(true), true));
    assert!(all_at(&detail["deployment"]["approved"]["parallelism"], 2), "what was approved stays: {detail:#}");
    let (_, jobs) = api.get(&format!("/clusters/{cluster}/jobs"), "victor").await?;
    let listed = jobs.as_array().and_then(|jobs| jobs.iter().find(|entry| entry["id"] == job_id.as_str())).cloned();
    assert!(listed.is_some_and(|entry| all_at(&entry["out_of_band"]["seen"]["parallelism"], 3)), "{jobs:#}");

    // A second check (and a pass of the engine, which runs one) writes no second event.
    let again = drift::check(&records, &engine.clusters, now_ms()).await;
    assert_eq!((again.out_of_band, again.failures), (0, 0), "{again:?}");
    engine.pass().await?;
    assert_eq!(out_of_band_events(&api, &job_id).await?.len(), 1);
    notifier.deliver_due("test-reconciler").await;
    assert_eq!(receiver.received().len(), 1, "nothing sent again: {:#?}", receiver.received());

    // The cluster page's data says what Flink's own UI allows: on this cluster, everything
    // (Flink's defaults), as Flink's dashboard configuration says too.
    let (_, clusters) = api.get("/clusters", "victor").await?;
    let web_ui = &clusters[0]["web_ui"];
    assert_eq!(
        (web_ui["rescale"].as_bool(), web_ui["submit"].as_bool(), web_ui["cancel"].as_bool()),
        (Some(true), Some(true), Some(true)),
        "{clusters:#}"
    );
    let dashboard = flink.get_json("/config").await?;
    for (ours, flinks) in [("rescale", "web-rescale"), ("submit", "web-submit"), ("cancel", "web-cancel")] {
        if let Some(flag) = dashboard["features"][flinks].as_bool() {
            assert_eq!(web_ui[ours].as_bool(), Some(flag), "{ours} vs {dashboard}");
        }
    }
    Ok(())
}
