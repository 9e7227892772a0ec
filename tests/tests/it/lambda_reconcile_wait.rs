//! The packaged reconcile Lambda does not stay running for requests that wait: with only a
//! request awaiting approval and an approved one awaiting its maintenance window (in a named
//! time zone), an invocation ends after a pass; once the window is open, invocations carry the
//! approved request out on real Flink.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::FlinkCluster;
use harness::FlinkOptions;
use harness::lambda_runtime_api::RuntimeApi;
use harness::paths::scratch_dir;
use harness::process::ChildGuard;
use harness::rig::{adopt_sample_job, approved_operation, flink_client};
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::store::DirStore;
use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
use rescaler_shared::phase::Phase;
use rescaler_shared::schedule::{Zone, ZoneName};

const SCHEDULED: &[u8] = br#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-24T08:40:00Z","region":"eu-west-1","resources":["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/rescaler"],"detail":{}}"#;

/// The reconcile bootstrap on `store`, its one cluster `flink` open in a window of ten
/// minutes from `opens_ms`, Berlin time.
fn start(api: &RuntimeApi, store: &std::path::Path, flink: &FlinkCluster, opens_ms: u64) -> anyhow::Result<ChildGuard> {
    let berlin = Zone::Named(ZoneName::try_from("Europe/Berlin".to_owned()).map_err(anyhow::Error::msg)?);
    let local_ms = berlin.local_ms(opens_ms);
    let start = (local_ms.rem_euclid(86_400_000) / 1000) as u32;
    let clock = |second: u32| format!("{:02}:{:02}:{:02}", second / 3600, second / 60 % 60, second % 60);
    let config = format!(
        "[store]\nkind = \"dir\"\npath = \"{}\"\n\n[[clusters]]\nid = \"{}\"\nname = \"Test Flink\"\nrest_url = \"{}\"\nsavepoint_dir = \"{}\"\n\n\
         [[clusters.windows]]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nstart = \"{}\"\nend = \"{}\"\ntime_zone = \"Europe/Berlin\"\n",
        store.display(),
        harness::rig::CLUSTER_ID,
        flink.rest_url(),
        flink.savepoint_dir(),
        clock(start),
        clock((start + 600) % 86_400),
    );
    let binary = "lambda-reconcile";
    let command = api.bootstrap(binary, "test", config)?;
    ChildGuard::spawn(binary, command, &store.join(format!("{binary}.log")))
}

async fn phase(records: &Records, id: &str) -> anyhow::Result<Operation> {
    Ok(records.operation(id).await?.ok_or_else(|| anyhow::anyhow!("operation {id} vanished"))?.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_lambda_ends_while_requests_wait_and_runs_them_once_their_window_opens() -> anyhow::Result<()> {
    harness::init_tracing();
    let work = scratch_dir("lambda-reconcile-wait")?;
    let flink = FlinkCluster::start(FlinkOptions::default()).await?;
    let records = Records::new(Arc::new(DirStore::open(work.join("store"))?));
    let client = flink_client(&flink)?;
    let (job_id, artifact) = adopt_sample_job(&records, client.as_ref(), &flink, 1, &[]).await?;
    // Another job for the request that awaits approval (one active request per job).
    let (other_job, _) = adopt_sample_job(&records, client.as_ref(), &flink, 1, &[]).await?;

    let verify = Duration::from_secs(90);
    let approved =
        approved_operation(&job_id, &artifact, Target::Uniform { parallelism: 2 }, Strategy::Savepoint, verify)?;
    let request = OperationRequest {
        cluster_id: harness::rig::CLUSTER_ID.to_owned(),
        job_id: other_job,
        job_name: "keyed-counter".to_owned(),
        target: Target::Uniform { parallelism: 3 },
        strategy: Strategy::Savepoint,
        reason: "test".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: verify.as_millis() as u64,
        artifact: Some(artifact.clone()),
        autoscaling: None,
    };
    let pending = Operation::new(format!("{}-pending", approved.id), request, now_ms());
    assert_eq!(pending.phase, Phase::AwaitingApproval);
    records.create_operation(&approved).await?;
    records.create_operation(&pending).await?;
    let opens_ms = (now_ms() + 25_000) / 1000 * 1000;
    let api = RuntimeApi::start().await?;
    let _reconciler = start(&api, &work.join("store"), &flink, opens_ms)?;

    // Before the window: one pass (or a few), then the invocation ends; nothing starts.
    let asked = Instant::now();
    let answer = api.invoke(SCHEDULED, Duration::from_secs(40)).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = asked.elapsed();
    let passes = answer["passes"].as_u64().unwrap_or(u64::MAX);
    assert!(passes <= 3, "{passes} passes while both requests wait: {answer}");
    assert!(took < Duration::from_secs(10), "the invocation took {took:?} while both requests wait: {answer}");
    assert_eq!(phase(&records, &approved.id).await?.phase, Phase::Approved, "started before its window");
    assert_eq!(phase(&records, &pending.id).await?.phase, Phase::AwaitingApproval);
    println!("waiting: {passes} passes in {} ms, next in {}", took.as_millis(), answer["next_in_ms"]);
    let parallelism =
        |job: &rescaler_shared::flink::JobView| job.vertices.iter().map(|v| v.parallelism).collect::<Vec<_>>();
    let before = client.job(&job_id).await?.ok_or_else(|| anyhow::anyhow!("job gone"))?;
    assert!(parallelism(&before).iter().all(|p| *p == 1), "touched: {:?}", parallelism(&before));

    // Once the window is open, scheduled invocations carry the approved request out.
    tokio::time::sleep(Duration::from_millis(opens_ms.saturating_sub(now_ms()) + 500)).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut invocations = 0;
    let done = loop {
        let answer = api.invoke(SCHEDULED, Duration::from_secs(70)).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
        invocations += 1;
        println!("invocation {invocations}: {answer}");
        let operation = phase(&records, &approved.id).await?;
        if operation.is_terminal() {
            break operation;
        }
        anyhow::ensure!(Instant::now() < deadline, "not done after {invocations} invocations: {:#?}", operation.events);
    };
    assert_eq!(done.phase, Phase::Completed, "events: {:#?}", done.events);
    let new_job =
        client.job(done.new_job_id.as_deref().expect("a new job")).await?.ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert!(parallelism(&new_job).iter().all(|p| *p == 2), "not rescaled: {:?}", parallelism(&new_job));
    assert_eq!(phase(&records, &pending.id).await?.phase, Phase::AwaitingApproval, "the pending one still waits");
    // With only the pending request left, an invocation ends after a pass again.
    let asked = Instant::now();
    let answer = api.invoke(SCHEDULED, Duration::from_secs(40)).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(
        asked.elapsed() < Duration::from_secs(10) && answer["passes"].as_u64().unwrap_or(u64::MAX) <= 3,
        "{answer}"
    );
    Ok(())
}
