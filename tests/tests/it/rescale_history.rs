//! Flink 2.3's own account of an in-place rescale, on a real cluster that keeps a rescale
//! history (`web.adaptive-scheduler.rescale-history.size: 10`): after an approved in-place
//! request from 1 to 3, the API names Flink's rescale — triggered by the new requirements,
//! completed, every vertex from 1 to 3 — and answers clear 404s for ids it does not know.

use std::collections::BTreeMap;
use std::time::Duration;

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::paths::scratch_dir;
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_shared::operation::{ResolvedStrategy, Strategy, Target};
use rescaler_shared::phase::Phase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_rescale_shows_flinks_own_account_of_it() -> anyhow::Result<()> {
    let options = FlinkOptions {
        extra_config: BTreeMap::from([("web.adaptive-scheduler.rescale-history.size".to_owned(), "10".to_owned())]),
        ..FlinkOptions::default().with_scheduler(Scheduler::Adaptive)
    };
    let rig = Rig::start(options).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    // In place restores from the latest checkpoint: wait for the first one.
    rig.wait_for_checkpoint(&job_id).await?;
    let target = Target::Uniform { parallelism: 3 };
    let id =
        rig.request_approved(&job_id, &artifact, target.clone(), Strategy::InPlace, Duration::from_secs(90)).await?;
    let operation = rig.drive(&id, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    assert_eq!(operation.strategy, Some(ResolvedStrategy::InPlace));

    // The API over the rig's store and cluster; the rig drives, the backend only answers.
    let mut config = TestConfig::new().with_cluster(rig::cluster_config(&rig.flink)).build();
    config.console_dir = Some(scratch_dir("no-console")?);
    let backend = LocalBackend::start(config, rig.records.store().clone(), false).await?;
    let api = Api::new(backend.url());

    let (status, account) = api.get(&format!("/rescales/{id}/flink-rescales"), "victor").await?;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["status"], "recorded", "{account}");
    let rescales = account["rescales"].as_array().cloned().unwrap_or_default();
    let ours: Vec<_> = rescales.iter().filter(|rescale| rescale["trigger"] == "UPDATE_REQUIREMENT").collect();
    assert_eq!(ours.len(), 1, "one rescale for the new requirements, not the first schedule: {account:#}");
    let rescale = ours[0];
    assert_eq!(rescale["outcome"], "COMPLETED", "{rescale:#}");
    assert_eq!(rescale["terminated_reason"], "SUCCEEDED", "{rescale:#}");
    let started = rescale["started_at_ms"].as_u64().unwrap_or_default();
    assert!(rescale["ended_at_ms"].as_u64().is_some_and(|ended| ended >= started && started > 0), "{rescale:#}");
    let vertices = rescale["vertices"].as_array().cloned().unwrap_or_default();
    assert_eq!(vertices.len(), 2, "every vertex, read from the details: {rescale:#}");
    for vertex in &vertices {
        assert_eq!((vertex["before"].as_u64(), vertex["after"].as_u64()), (Some(1), Some(3)), "{vertex}");
    }
    let states: Vec<&str> = rescale["scheduler_states"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|span| span["state"].as_str())
        .collect();
    assert!(states.contains(&"Restarting") && states.last() == Some(&"Executing"), "{states:?}");

    // A request not started yet has nothing in Flink's account, and says so.
    let waiting = rig
        .request_approved(
            &job_id,
            &artifact,
            Target::Uniform { parallelism: 2 },
            Strategy::InPlace,
            Duration::from_secs(90),
        )
        .await?;
    let (status, account) = api.get(&format!("/rescales/{waiting}/flink-rescales"), "victor").await?;
    assert_eq!((status, account["status"].as_str()), (200, Some("not_sent")), "{account}");
    assert!(account["reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{account}");

    // Ids it does not know: 404 in the envelope, never a 500.
    for unknown in ["nonsense", "00000000000000000000000000000000"] {
        let (status, body) = api.get(&format!("/rescales/{unknown}/flink-rescales"), "victor").await?;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{unknown}: {body}");
    }
    Ok(())
}
