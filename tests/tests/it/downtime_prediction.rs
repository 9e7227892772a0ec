//! Predicted downtime on real Flink: pre-flight predicts an outage per strategy it allows, a
//! filed request keeps the prediction its approvers saw, a completed rescale records the
//! outage it caused, and the next request learns from the earlier ones.

use std::time::{Duration, Instant};

use harness::FlinkOptions;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use rescaler_shared::downtime::{EarlierOutage, predict, relative_error};
use rescaler_shared::operation::{Operation, OutagePrediction, PhaseName, ResolvedStrategy, event_kind};
use rescaler_shared::phase::CheckpointFacts;
use serde_json::json;

/// Files and approves a rescale of `job_id` to `parallelism`, waits until it completed.
async fn rescale(api: &Api, job_id: &str, parallelism: u32, strategy: &str) -> anyhow::Result<Operation> {
    let request = json!({"cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": parallelism}, "strategy": strategy, "reason": "downtime"});
    let (status, filed) = api.post("/rescales", "alice", request).await?;
    anyhow::ensure!(status == 201, "filing answered {status}: {filed}");
    let id = filed["id"].as_str().unwrap_or_default().to_owned();
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({})).await?;
    anyhow::ensure!(status == 200, "approval answered {status}: {approved}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, record) = api.get(&format!("/rescales/{id}"), "victor").await?;
        let phase = record["phase"]["phase"].as_str().unwrap_or_default().to_owned();
        if phase == "completed" {
            return Ok(serde_json::from_value(record)?);
        }
        anyhow::ensure!(Instant::now() < deadline && phase != "failed" && phase != "rolled_back", "{record:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What the prediction assumed of the job's state, as the pure rule takes it.
fn assumed_checkpoint(prediction: &OutagePrediction) -> Option<CheckpointFacts> {
    Some(CheckpointFacts {
        size_bytes: prediction.state_bytes?,
        duration_ms: prediction.checkpoint_duration_ms.unwrap_or(0),
    })
}

/// The record's outage: from the step that could stop the job to the first sight at the target.
fn check_outage(operation: &Operation, strategy: ResolvedStrategy) -> u64 {
    let outage = operation.outage.unwrap_or_else(|| panic!("no outage recorded: {operation:#?}"));
    assert_eq!(outage.strategy, strategy);
    let first_sight = operation
        .events
        .iter()
        .find(|event| event.kind == event_kind::RUNS_AT_TARGET || event.kind == event_kind::VERIFIED)
        .map(|event| event.at_ms);
    assert_eq!(Some(outage.to_ms), first_sight, "the outage ends at the first sight at the target");
    if strategy == ResolvedStrategy::Savepoint {
        let stopping = operation.phase_history.iter().find(|span| span.phase == PhaseName::Stopping);
        assert_eq!(Some(outage.from_ms), stopping.map(|span| span.started_at_ms), "from the stop");
    }
    let duration_ms = outage.duration_ms();
    assert!((20..60_000).contains(&duration_ms), "an outage of {duration_ms} ms");
    duration_ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_learn_from_the_jobs_earlier_rescales_per_strategy() -> anyhow::Result<()> {
    // Flink 2.3's adaptive scheduler: both strategies are possible.
    let rig = Rig::start(FlinkOptions::default()).await?;
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let config = TestConfig::new().with_cluster(rig::cluster_config(&rig.flink)).build();
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());

    // Pre-flight: one prediction per strategy, the requested one first, from defaults alone.
    rig.wait_for_checkpoint(&job_id).await?;
    let request = json!({"cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "x"});
    let (status, preflight) = api.post("/preflight", "alice", request).await?;
    assert_eq!(status, 200, "{preflight}");
    let downtime: Vec<OutagePrediction> = serde_json::from_value(preflight["downtime"].clone())?;
    let strategies: Vec<ResolvedStrategy> = downtime.iter().map(|prediction| prediction.strategy).collect();
    assert_eq!(strategies, [ResolvedStrategy::Savepoint, ResolvedStrategy::InPlace], "{preflight}");
    assert!(downtime.iter().all(|prediction| prediction.from_rescales == 0 && prediction.state_bytes.is_some()));

    // Savepoint rescales, each predicted from the ones before (the job id changes each time).
    let mut current_job = job_id.clone();
    let mut earlier: Vec<EarlierOutage> = Vec::new();
    let mut errors = Vec::new();
    for (round, parallelism) in [2, 1, 2, 1].into_iter().enumerate() {
        let done = rescale(&api, &current_job, parallelism, "savepoint").await?;
        let prediction = done.predicted_outage.clone().expect("the request keeps its prediction");
        assert_eq!(prediction.strategy, ResolvedStrategy::Savepoint);
        // Rounds 1→2, 2→1, 1→2, 2→1: the first of each direction learns from every earlier
        // rescale, later ones from those in their direction.
        let learned_from = if round < 2 { round } else { round / 2 };
        assert_eq!(prediction.from_rescales as usize, learned_from, "{prediction:?}");
        // The stored prediction is the pure rule's over the earlier records read from the store.
        assert_eq!(
            prediction,
            predict(
                ResolvedStrategy::Savepoint,
                &earlier,
                assumed_checkpoint(&prediction).as_ref(),
                Some(parallelism == 2)
            )
        );
        let measured_ms = check_outage(&done, ResolvedStrategy::Savepoint);
        let outage = done.outage.expect("outage");
        errors.push(relative_error(&prediction, &outage));
        println!(
            "downtime_prediction: savepoint round {round}: predicted {} ms ({}–{}), measured {measured_ms} ms",
            prediction.expected_ms, prediction.low_ms, prediction.high_ms
        );
        earlier.push(EarlierOutage::of(&done).expect("an earlier rescale"));
        current_job = done.new_job_id.clone().expect("the restarted job");
        rig.wait_for_checkpoint(&current_job).await?;
    }
    println!("downtime_prediction: relative errors {errors:.2?}");

    // In place: its own history (none yet), and its outage recorded the same way.
    let done = rescale(&api, &current_job, 2, "in_place").await?;
    let prediction = done.predicted_outage.clone().expect("prediction");
    assert_eq!((prediction.strategy, prediction.from_rescales), (ResolvedStrategy::InPlace, 0));
    let measured_ms = check_outage(&done, ResolvedStrategy::InPlace);
    println!("downtime_prediction: in place: predicted {} ms, measured {measured_ms} ms", prediction.expected_ms);
    let (_, listed) = api.get("/rescales?limit=10", "victor").await?;
    let with_outage = listed.as_array().map(|ops| ops.iter().filter(|op| op["outage"].is_object()).count());
    assert_eq!(with_outage, Some(5), "every completed request lists its outage: {listed}");
    Ok(())
}
