//! `request` mode on real Flink: the load-test job outgrows one Work subtask, the loop samples
//! it, and the recommender files one request (requester `recommender`, Work within ±1 of the
//! parallelism its rate and cost need, the reason with the figures) that waits for a person;
//! while it is open nothing else is filed, once it is rejected the rate limit holds, and an
//! intent left without its request (a crash between the two writes) is completed under its id.
//! On the adaptive scheduler: the request is per vertex, which Flink applies in place only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::paths::ScratchStores;
use harness::rig;
use harness::{FlinkCluster, FlinkOptions};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_backend::records::Records;
use rescaler_backend::sampler::LoadSampler;
use rescaler_backend::store::Store;
use rescaler_shared::deployment::RecommendedRequest;
use rescaler_shared::operation::{Operation, Phase, Target};
use rescaler_shared::recommend::{RECOMMENDER, RecommendationMode};

/// Records per second the source emits: 1.2 Work subtasks of capacity at [`COST_US`].
const RATE: f64 = 1200.0;
/// Microseconds of work per record.
const COST_US: f64 = 1000.0;

/// The recommender's requests, oldest first.
async fn filed(records: &Records) -> anyhow::Result<Vec<Operation>> {
    let mut filed: Vec<Operation> =
        records.all_operations().await?.into_iter().filter(|operation| operation.requested_by == RECOMMENDER).collect();
    filed.sort_by_key(|operation| operation.created_at_ms);
    Ok(filed)
}

/// Passes until `samples` more samples of the job are stored.
async fn pass_for_samples(engine: &Engine, records: &Records, job_id: &str, samples: usize) -> anyhow::Result<()> {
    let count = async || anyhow::Ok(records.load_history(rig::CLUSTER_ID, job_id, now_ms()).await?.samples.len());
    let goal = count().await? + samples;
    let deadline = Instant::now() + Duration::from_secs(30 * samples as u64 + 30);
    while count().await? < goal {
        anyhow::ensure!(Instant::now() < deadline, "{samples} more samples not stored in time");
        engine.pass().await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_mode_files_one_request_per_sustained_overload_on_real_flink() -> anyhow::Result<()> {
    harness::init_tracing();
    // The adaptive scheduler: the recommendation is per vertex, which Flink applies in place (it
    // ignores per-vertex parallelism on a resubmission from a savepoint; pre-flight says so).
    let flink = FlinkCluster::start(FlinkOptions::default()).await?;
    let stores = ScratchStores::new("load-request-mode");
    let store: Arc<dyn Store> = stores.store()?;
    let records = Records::new(store.clone());
    let client = rig::flink_client(&flink)?;
    let (rate, cost) = (RATE.to_string(), COST_US.to_string());
    let args = ["--rate", rate.as_str(), "--cost-us", cost.as_str()];
    let entry_class = harness::sample_job::LOAD_TEST_ENTRY_CLASS;
    let (job_id, _) = rig::adopt_sample_job_class(&records, client.as_ref(), &flink, entry_class, 1, &args).await?;
    let mut cluster = rig::cluster_config(&flink);
    cluster.recommendations.mode = RecommendationMode::Request;
    let policy = cluster.recommendations.policy;
    let mut engine = rig::engine_with_client(&records, cluster.clone(), client.clone(), "request-mode-test");
    engine.sampler = LoadSampler::new(Duration::from_secs(16));

    // Sample until the recommender files (Flink's rates are 60 s averages: a few minutes).
    let deadline = Instant::now() + Duration::from_secs(300);
    let request = loop {
        engine.pass().await?;
        if let Some(request) = filed(&records).await?.into_iter().next() {
            break request;
        }
        if Instant::now() > deadline {
            let cluster = engine.clusters.get(rig::CLUSTER_ID).expect("the cluster");
            let answer =
                rescaler_backend::recommendations::job_recommendation(&records, cluster.as_ref(), &job_id, now_ms());
            let answer = answer.await?;
            let approvals = rescaler_backend::config::ApprovalConfig::default();
            let filing = rescaler_backend::recommendations::filing::file_if_due(
                &records,
                cluster.as_ref(),
                &approvals,
                &job_id,
                now_ms(),
            );
            let filing = filing.await;
            anyhow::bail!("no request filed in 300 s; the recommendation: {answer:?}; filing now: {filing:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let job = client.job(&job_id).await?.expect("the job runs");
    let work = job.vertices.iter().find(|vertex| vertex.name.contains("Work")).expect("a Work vertex");
    let needed = (RATE * COST_US / 1e6 / policy.target_utilisation).ceil() as u32;
    let Target::PerVertex { parallelism } = &request.target else { panic!("per-vertex target: {request:?}") };
    let asked = parallelism.get(&work.id).copied().expect("Work is rescaled");
    assert!(asked.abs_diff(needed) <= 1, "Work {asked}, needed {needed}: {request:?}");
    assert_eq!(request.phase, Phase::AwaitingApproval, "a person approves it");
    assert_eq!(request.job_id, job_id);
    assert!(request.reason.starts_with("Filed by the recommender"), "{}", request.reason);
    assert!(request.reason.contains("busy at") && request.reason.contains("load samples"), "{}", request.reason);
    let deployment = records.deployment_of_job(rig::CLUSTER_ID, &job_id).await?.expect("adopted");
    let intent = deployment.recommended_request.clone().expect("the intent");
    assert_eq!(intent.operation_id, request.id);
    println!("filed: {} — {}", request.id, request.reason);

    // Still overloaded, the request open: nothing more.
    pass_for_samples(&engine, &records, &job_id, 3).await?;
    assert_eq!(filed(&records).await?.len(), 1, "one request while one is open");

    // Rejected: the overload goes on, the rate limit holds.
    let backend = LocalBackend::start(TestConfig::new().with_cluster(cluster).build(), store, false).await?;
    let api = Api::new(backend.url());
    let body = serde_json::json!({"comment": "not now"});
    let (status, answer) = api.post(&format!("/rescales/{}/reject", request.id), "bob", body).await?;
    assert_eq!(status, 200, "{answer}");
    pass_for_samples(&engine, &records, &job_id, 2).await?;
    assert_eq!(filed(&records).await?.len(), 1, "no second request within the interval");

    // An intent written just before a crash, its request never created: the next round files it.
    let resumed_id = "5e".repeat(16);
    let versions = records.deployments_with_versions(rig::CLUSTER_ID).await?;
    let (mut deployment, version) = versions.into_iter().find(|(d, _)| d.id == deployment.id).expect("deployment");
    deployment.recommended_request = Some(RecommendedRequest { operation_id: resumed_id.clone(), at_ms: now_ms() });
    records.replace_deployment(&deployment, &version).await?;
    pass_for_samples(&engine, &records, &job_id, 1).await?;
    let all = filed(&records).await?;
    assert_eq!(all.len(), 2, "the intent's request: {all:?}");
    assert_eq!(all[1].id, resumed_id);
    assert_eq!(all[1].phase, Phase::AwaitingApproval);
    Ok(())
}
