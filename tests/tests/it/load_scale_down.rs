//! Scale-down damping on real Flink: the load-test job's Work vertex runs at 2 with a tenth of
//! its capacity used, so one subtask is enough; the recommendation holds the scale-down back
//! until the lower need has held for the damping interval, then recommends Work 2 → 1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::paths::ScratchStores;
use harness::rig;
use harness::{FlinkCluster, FlinkOptions};
use rescaler_backend::cluster::StandaloneCluster;
use rescaler_backend::recommendations::job_recommendation;
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::sampler::LoadSampler;
use rescaler_backend::store::Store;
use rescaler_shared::recommend::{Policy, RecommendationSettings, Verdict};

/// 200 records/s at 1 ms each: Work is 20 % busy at one subtask, 10 % at two; at the 70 %
/// target one subtask is enough.
const ARGS: [&str; 4] = ["--rate", "200", "--cost-us", "1000"];
const DAMPING_MS: u64 = 120_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_down_is_recommended_only_after_the_damping_interval() -> anyhow::Result<()> {
    harness::init_tracing();
    let flink = FlinkCluster::start(FlinkOptions::default()).await?;
    let stores = ScratchStores::new("load-scale-down");
    let store: Arc<dyn Store> = stores.store()?;
    let records = Records::new(store);
    let client = rig::flink_client(&flink)?;
    let entry_class = harness::sample_job::LOAD_TEST_ENTRY_CLASS;
    let (job_id, _) = rig::adopt_sample_job_class(&records, client.as_ref(), &flink, entry_class, 2, &ARGS).await?;
    let mut config = rig::cluster_config(&flink);
    let policy = Policy {
        evaluation_window_ms: 60_000,
        scale_down_damping_ms: DAMPING_MS,
        min_interval_ms: 0,
        stabilisation_ms: 0,
        min_samples: 2,
        ..Policy::default()
    };
    config.recommendations = RecommendationSettings { policy, ..RecommendationSettings::default() };
    let mut engine = rig::engine_with_client(&records, config.clone(), client.clone(), "scale-down-test");
    engine.sampler = LoadSampler::new(Duration::from_secs(16));
    let cluster = StandaloneCluster::new(config, client.clone(), records.clone());

    let work_id = client.job(&job_id).await?.expect("the job runs").vertices[1].id.clone();
    let deadline = Instant::now() + Duration::from_secs(420);
    let mut held_back = Vec::new();
    let (first_sample_ms, scaled_down_at_ms, reason) = loop {
        engine.pass().await?;
        let now = now_ms();
        let answer = job_recommendation(&records, &cluster, &job_id, now).await?.expect("a known job");
        let first_sample_ms =
            records.load_history(rig::CLUSTER_ID, &job_id, now).await?.samples.first().map(|s| s.at_ms);
        if let (Some(recommendation), Some(first)) = (&answer.recommendation, first_sample_ms) {
            let work = recommendation.vertices.iter().find(|vertex| vertex.id == work_id).expect("Work");
            match work.verdict {
                Verdict::ScaleDown => break (first, now, work.reason.clone()),
                Verdict::HeldBack => held_back.push((now - first, work.reason.clone())),
                Verdict::NotEnoughData => {}
                other => panic!("Work at 10 % busy is never {other:?}: {}", work.reason),
            }
            assert_eq!(work.target, work.current, "held back means no change: {recommendation:?}");
        }
        anyhow::ensure!(Instant::now() < deadline, "no scale-down within 7 min; held back: {held_back:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    println!(
        "load_scale_down: held back {} times, then after {} s: {reason}",
        held_back.len(),
        (scaled_down_at_ms - first_sample_ms) / 1000
    );
    assert!(!held_back.is_empty(), "the scale-down was held back first");
    assert!(
        held_back.iter().all(|(_, why)| why.contains("a scale-down waits for")),
        "held back by the damping: {held_back:?}"
    );
    assert!(
        scaled_down_at_ms - first_sample_ms >= DAMPING_MS,
        "not before the damping interval after the first sample"
    );
    let answer = job_recommendation(&records, &cluster, &job_id, scaled_down_at_ms).await?.expect("job");
    let work =
        answer.recommendation.as_ref().and_then(|r| r.vertices.iter().find(|vertex| vertex.id == work_id).cloned());
    assert_eq!(work.map(|work| (work.current, work.target)), Some((2, 1)), "Work 2 → 1");
    Ok(())
}
