//! Load history and recommendations on real Flink: the reconcile loop samples a running job
//! into the store, the job page's endpoints answer the stored history and a recommendation
//! computed from it and from the job graph Flink reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::paths::ScratchStores;
use harness::rig;
use harness::{FlinkCluster, FlinkOptions};
use rescaler_backend::records::Records;
use rescaler_backend::sampler::LoadSampler;
use rescaler_backend::store::Store;
use serde_json::Value;

/// Records per second the load-test job's source emits.
const RATE: f64 = 200.0;
/// Microseconds of work per record in its Work vertex: 20 % busy at one subtask.
const COST_US: &str = "1000";
/// Flink's rate window (60 s), one sample interval for its metric fetch to follow, and slack.
const METRIC_WINDOW_MS: u64 = 60_000 + 16_000 + 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_samples_a_running_job_and_the_job_page_reads_history_and_recommendation() -> anyhow::Result<()> {
    harness::init_tracing();
    let flink = FlinkCluster::start(FlinkOptions::default()).await?;
    let stores = ScratchStores::new("load-recommendation");
    let store: Arc<dyn Store> = stores.store()?;
    let records = Records::new(store.clone());
    let client = rig::flink_client(&flink)?;
    let args = ["--rate", "200", "--cost-us", COST_US];
    let entry_class = harness::sample_job::LOAD_TEST_ENTRY_CLASS;
    let (job_id, _) = rig::adopt_sample_job_class(&records, client.as_ref(), &flink, entry_class, 1, &args).await?;
    let mut engine = rig::engine_with_client(&records, rig::cluster_config(&flink), client.clone(), "sampler-test");
    // The history keeps samples 15 s apart at the least; sample as often as it keeps them.
    engine.sampler = LoadSampler::new(Duration::from_secs(16));

    // Flink's rates are averages over a 60 s window, and its REST API answers metrics from its
    // latest fetch round: pass (at the loop's own pace) until three samples are stored and the
    // newest was taken a full window and a fetch round after the job started running.
    let job = client.job(&job_id).await?.expect("the job runs");
    let running_since = job.running_since_ms.unwrap_or(job.start_time_ms);
    let settled = running_since + METRIC_WINDOW_MS;
    let deadline = Instant::now() + Duration::from_secs(180);
    let history = loop {
        engine.pass().await?;
        let history = records.load_history(rig::CLUSTER_ID, &job_id, rescaler_backend::reconcile::now_ms()).await?;
        if history.samples.len() >= 3 && history.samples.last().is_some_and(|sample| sample.at_ms >= settled) {
            break history;
        }
        anyhow::ensure!(Instant::now() < deadline, "three settled samples not stored in 180 s: {history:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for sample in &history.samples {
        assert_eq!(sample.job_id, job_id);
        let ids: Vec<&str> = sample.vertices.iter().map(|vertex| vertex.id.as_str()).collect();
        let expected: Vec<&str> = job.vertices.iter().map(|vertex| vertex.id.as_str()).collect();
        assert_eq!(ids, expected, "every vertex, in the job's order");
        assert!(sample.vertices.iter().all(|vertex| vertex.parallelism == 1));
    }

    let config = TestConfig::new().with_cluster(rig::cluster_config(&flink)).build();
    let backend = LocalBackend::start(config, store, false).await?;
    let api = Api::new(backend.url());
    let job_path = format!("/clusters/{}/jobs/{job_id}", rig::CLUSTER_ID);

    let (status, answer) = api.get(&format!("{job_path}/history"), "victor").await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["deployment_id"], Value::Null, "an adopted-by-link job is no deployment yet");
    let samples = answer["history"]["samples"].as_array().expect("samples");
    assert!(samples.len() >= 3, "{answer}");
    let source = &job.vertices[0];
    assert_eq!(answer["history"]["names"][&source.id], source.name.as_str());
    let newest = samples.last().expect("a sample");
    let emitted = newest["v"][0]["o"].as_f64().expect("the source's records out");
    assert!((emitted - RATE).abs() < RATE * 0.4, "the source emits about {RATE}/s: {newest}");
    assert_eq!(answer["rescales"], serde_json::json!([]));

    let (status, answer) = api.get(&format!("{job_path}/recommendation"), "victor").await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["mode"], "recommend");
    assert!(answer["samples"].as_u64().is_some_and(|count| count >= 3), "{answer}");
    let recommendation = &answer["recommendation"];
    // Work 20 % busy and an idle source at parallelism 1 cannot go lower: no change anywhere.
    assert_eq!(recommendation["verdict"], "no_change", "{answer}");
    for vertex in recommendation["vertices"].as_array().expect("vertices") {
        assert_eq!(vertex["target"], 1, "{vertex}");
        assert!(!vertex["reason"].as_str().unwrap_or_default().is_empty(), "{vertex}");
    }
    println!("recommendation: {}", serde_json::to_string_pretty(&answer)?);

    let (status, answer) =
        api.get(&format!("/clusters/{}/jobs/{}/recommendation", rig::CLUSTER_ID, "0".repeat(32)), "victor").await?;
    assert_eq!(status, 404, "an unknown job: {answer}");
    Ok(())
}
