//! Faults operators meet, each on a real Flink cluster, each ending in a clear terminal phase
//! with the job running and its savepoint on record (ARCHITECTURE.md lists them by invariant):
//! - the backend is down longer than Flink keeps the stop trigger's result: the savepoint is
//!   found again in the operation's own directory and the rescale goes on;
//! - the JobManager restarts after the stop (it forgets the trigger, the job and the jar): the
//!   savepoint is found in the operation's directory, the jar uploaded again, the rescale goes on;
//! - the JobManager unreachable (a proxy that cuts the link) for longer than the polling
//!   back-off while stopping, restarting and verifying: the operation waits, then completes;
//! - Flink answering 503 for one request in three, half of them after it acted (lost answers):
//!   every step is repeated until it lands, exactly once;
//! - the S3 server unreachable from the backend while the job stops: nothing lost, it resumes;
//! - a TaskManager frozen then killed while the stop's savepoint is taken: the stop fails, Flink
//!   restarts the job from its checkpoint, the operation fails saying the job runs untouched;
//! - the restore fails (the job throws at the new parallelism): rollback from the same savepoint;
//! - the restarted job runs, then fails within the stable window: rollback;
//! - a jar planted on Flink under the product's jar name: the stored, verified bytes run;
//! - too few slots at restart time (a TaskManager gone): rollback
//!   (`rescale_engine::restart_that_cannot_succeed_rolls_back_to_the_old_parallelism`).

use std::time::{Duration, Instant};

use std::sync::Arc;

use harness::fault_proxy::FaultProxy;
use harness::rig::{CLUSTER_ID, Rig, cluster_config};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::cluster::{ClusterRegistry, StandaloneCluster};
use rescaler_backend::flink::{RestFlinkClient, RestFlinkClientConfig};
use rescaler_backend::reconcile::Engine;
use rescaler_backend::records::Records;
use rescaler_backend::store::{S3Store, S3StoreConfig, s3_client};
use rescaler_shared::flink::{JobStatus, SavepointStatus};
use rescaler_shared::operation::{
    ArtifactRef, Operation, STOP_TRIGGER_PURPOSE, Strategy, Target, derive_flink_id, event_kind, location_is_under,
    savepoint_target,
};
use rescaler_shared::phase::{Phase, SavepointSource};

/// How long the test clusters keep an asynchronous operation's result (Flink's default is 5
/// minutes): short, so that "longer than Flink remembers" fits in a test.
const STORE_DURATION: &str = "2 s";

/// A rig whose cluster runs Flink's default scheduler (rescales by savepoint).
async fn default_rig() -> anyhow::Result<Rig> {
    Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await
}

/// The sample job adopted at parallelism 1 (with `args`), counting, and an approved savepoint
/// request to take it to `target`.
struct Requested {
    job_id: String,
    artifact: ArtifactRef,
    max_before: f64,
    operation_id: String,
}

async fn request_rescale(rig: &Rig, args: &[&str], target: u32) -> anyhow::Result<Requested> {
    let (job_id, artifact) = rig.adopt_sample_job(1, args).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;
    let operation_id = rig
        .request_approved(
            &job_id,
            &artifact,
            Target::Uniform { parallelism: target },
            Strategy::Savepoint,
            Duration::from_secs(120),
        )
        .await?;
    Ok(Requested { job_id, artifact, max_before, operation_id })
}

/// Runs steps of the rig's engine until `done` holds for the operation; answers it.
async fn drive_until(
    rig: &Rig,
    operation_id: &str,
    timeout: Duration,
    done: impl Fn(&Operation) -> bool,
) -> anyhow::Result<Operation> {
    step_until(&rig.engine, rig, operation_id, timeout, done).await
}

/// Runs single steps of `engine` (errors are the faults at work: go on) until `done` holds.
async fn step_until(
    engine: &Engine,
    rig: &Rig,
    operation_id: &str,
    timeout: Duration,
    done: impl Fn(&Operation) -> bool,
) -> anyhow::Result<Operation> {
    let deadline = Instant::now() + timeout;
    loop {
        let _ = engine.reconcile(operation_id).await;
        let (operation, _) = rig.records.operation(operation_id).await?.expect("stored");
        if done(&operation) {
            return Ok(operation);
        }
        anyhow::ensure!(Instant::now() < deadline, "not there within {timeout:?}: {:#?}", operation.events);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The backend triggers the stop and goes down; the job stops with its savepoint; Flink forgets
/// the trigger's result. When the backend comes back, Flink answers "unknown trigger" for a
/// FINISHED job: the operation finds the savepoint in its own directory and completes, state
/// intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_trigger_flink_forgot_while_the_backend_was_down_is_found_again() -> anyhow::Result<()> {
    let mut options = FlinkOptions::default().with_scheduler(Scheduler::Default);
    options.extra_config.insert("rest.async.store-duration".to_owned(), STORE_DURATION.to_owned());
    let rig = Rig::start(options).await?;
    let Requested { job_id, max_before, operation_id, .. } = request_rescale(&rig, &[], 2).await?;

    // The stop is triggered and recorded; then the backend is "down": no more passes.
    drive_until(&rig, &operation_id, Duration::from_secs(30), |operation| {
        operation.events.iter().any(|event| event.kind == event_kind::STOP_TRIGGERED)
    })
    .await?;
    let trigger_id = derive_flink_id(&operation_id, STOP_TRIGGER_PURPOSE);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let finished = rig.job(&job_id).await?.status == JobStatus::Finished;
        let forgotten = rig.client.savepoint_status(&job_id, &trigger_id).await? == SavepointStatus::Unknown;
        if finished && forgotten {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "flink never forgot trigger {trigger_id} (finished: {finished})");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (stopping, _) = rig.records.operation(&operation_id).await?.expect("stored");
    assert!(matches!(stopping.phase, Phase::Stopping { .. }), "still stopping on record: {:?}", stopping.phase);
    assert!(stopping.savepoint.is_none(), "the location was never seen");

    // The backend is back.
    let operation = rig.drive(&operation_id, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "{:#?}", operation.events);
    let savepoint = operation.savepoint.clone().expect("savepoint recorded");
    let own_directory = savepoint_target(&rig.flink.savepoint_dir(), &operation_id);
    assert!(
        location_is_under(&savepoint.location, &own_directory),
        "{} is in the operation's directory {own_directory}",
        savepoint.location
    );
    let recovered =
        operation.events.iter().find(|event| event.kind == event_kind::SAVEPOINT_COMPLETED).expect("savepoint event");
    assert!(recovered.message.contains("no longer knows stop trigger"), "{}", recovered.message);
    assert!(
        recovered.message.contains(SavepointSource::SavepointDirectory.label()),
        "found by listing the operation's directory: {}",
        recovered.message
    );
    // The savepoint is in the S3 server: Flink wrote it through the mounted bucket.
    let listed = rig
        .s3
        .client()
        .list_objects_v2()
        .bucket(&rig.bucket)
        .prefix(format!("flink-savepoints/{operation_id}/"))
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|object| object.key()).collect();
    assert!(keys.iter().any(|key| key.ends_with("/_metadata")), "savepoint objects in S3: {keys:?}");
    let catalog = rig.records.savepoints(CLUSTER_ID, &job_id).await?;
    assert_eq!(catalog.iter().map(|entry| &entry.location).collect::<Vec<_>>(), vec![&savepoint.location]);
    let new_job = operation.new_job_id.clone().expect("restarted");
    assert_eq!(rig.running_jobs().await?, vec![new_job.clone()]);
    let (fresh, _) = rig.counter_after(&new_job, max_before, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "state restored from the recovered savepoint");
    Ok(())
}

/// The JobManager is restarted (no high availability) after the job stopped with its savepoint
/// and before the backend saw the result: Flink no longer knows the trigger, the job or the
/// jar. The operation finds the savepoint in its own directory in S3, uploads the jar again and
/// completes, state intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobmanager_restart_after_the_stop_forgets_the_job_but_the_savepoint_is_found() -> anyhow::Result<()> {
    let mut rig = default_rig().await?;
    let Requested { job_id, max_before, operation_id, .. } = request_rescale(&rig, &[], 3).await?;
    drive_until(&rig, &operation_id, Duration::from_secs(30), |operation| {
        operation.events.iter().any(|event| event.kind == event_kind::STOP_TRIGGERED)
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig.job(&job_id).await?.status != JobStatus::Finished {
        anyhow::ensure!(Instant::now() < deadline, "job {job_id} never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rig.flink.restart_jobmanager().await?;
    assert!(rig.client.job(&job_id).await?.is_none(), "the new JobManager does not know job {job_id}");

    let operation = rig.drive(&operation_id, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "{:#?}", operation.events);
    let savepoint = operation.savepoint.clone().expect("savepoint recorded");
    let own_directory = savepoint_target(&rig.flink.savepoint_dir(), &operation_id);
    assert!(location_is_under(&savepoint.location, &own_directory), "{}", savepoint.location);
    let new_job = operation.new_job_id.clone().expect("restarted");
    assert_eq!(rig.running_jobs().await?, vec![new_job.clone()]);
    assert_eq!(rig.job(&new_job).await?.vertices.iter().map(|vertex| vertex.parallelism).max(), Some(3));
    let (fresh, _) = rig.counter_after(&new_job, max_before, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "state restored from the savepoint found in S3");
    Ok(())
}

/// An engine that reaches Flink through `flink` and, when given, the S3 store through `s3`,
/// with short Flink timeouts (a cut link shows within seconds).
async fn engine_through(rig: &Rig, flink: &FaultProxy, s3: Option<&FaultProxy>) -> anyhow::Result<(Engine, Records)> {
    let mut config = cluster_config(&rig.flink);
    config.rest_url = flink.url();
    let client_config = RestFlinkClientConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        ..RestFlinkClientConfig::new(flink.url())
    };
    let client = Arc::new(RestFlinkClient::new(client_config)?);
    let records = match s3 {
        Some(proxy) => {
            let store_config = S3StoreConfig {
                bucket: rig.bucket.clone(),
                prefix: "rescaler".to_owned(),
                endpoint: Some(proxy.url()),
                region: Some(harness::s3::REGION.to_owned()),
                access_key_id: Some(harness::s3::ACCESS_KEY.to_owned()),
                secret_access_key: Some(harness::s3::SECRET_KEY.to_owned()),
            };
            Records::new(Arc::new(S3Store::new(s3_client(&store_config).await, rig.bucket.clone(), "rescaler")))
        }
        None => rig.records.clone(),
    };
    let cluster =
        StandaloneCluster::new(config, client, records.clone()).with_savepoint_storage(rig.flink.savepoint_storage());
    Ok((Engine::new(records.clone(), ClusterRegistry::new([Arc::new(cluster) as _]), "faults-reconciler"), records))
}

/// Runs passes of `engine` for `duration` (the operation cannot move: its link is cut).
async fn passes_for(engine: &Engine, duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        let _ = engine.pass().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs passes of `engine` until the operation is terminal.
async fn drive_engine(engine: &Engine, rig: &Rig, operation_id: &str, timeout: Duration) -> anyhow::Result<Operation> {
    harness::rig::drive(engine, &rig.records, operation_id, timeout).await
}

/// The operation completed at `parallelism`, its savepoint on record and in the catalog once,
/// exactly one job running, with the state of the old one.
async fn assert_completed_with_state(
    rig: &Rig,
    job_id: &str,
    operation: &Operation,
    max_before: f64,
) -> anyhow::Result<()> {
    assert_eq!(operation.phase, Phase::Completed, "{:#?}", operation.events);
    let savepoint = operation.savepoint.clone().expect("savepoint recorded");
    let catalog = rig.records.savepoints(CLUSTER_ID, job_id).await?;
    assert_eq!(catalog.iter().map(|entry| &entry.location).collect::<Vec<_>>(), vec![&savepoint.location]);
    let new_job = operation.new_job_id.clone().expect("restarted");
    assert_eq!(rig.running_jobs().await?, vec![new_job.clone()], "exactly one job runs");
    let (fresh, _) = rig.counter_after(&new_job, max_before, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "state kept");
    Ok(())
}

fn has_event(operation: &Operation, kind: &str) -> bool {
    operation.events.iter().any(|event| event.kind == kind)
}

/// The link to the JobManager is cut for 12 s (past the 1 s, 2 s, 4 s, 8 s back-off) right
/// after the stop is triggered, right after the restart is decided, and while verifying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobmanager_unreachable_while_stopping_restarting_and_verifying_only_delays_the_rescale()
-> anyhow::Result<()> {
    let rig = default_rig().await?;
    let proxy = FaultProxy::start(rig.flink.rest_url()).await?;
    let (engine, _) = engine_through(&rig, &proxy, None).await?;
    let Requested { job_id, max_before, operation_id, .. } = request_rescale(&rig, &[], 2).await?;
    let outage = Duration::from_secs(12);
    let checkpoints: [(&str, fn(&Operation) -> bool); 3] = [
        ("stopping", |operation| has_event(operation, event_kind::STOP_TRIGGERED)),
        ("restarting", |operation| matches!(operation.phase, Phase::Restarting { .. })),
        ("verifying", |operation| matches!(operation.phase, Phase::Verifying { .. })),
    ];
    for (phase, reached) in checkpoints {
        let before = step_until(&engine, &rig, &operation_id, Duration::from_secs(60), reached).await?;
        proxy.cut();
        passes_for(&engine, outage).await;
        let (during, _) = rig.records.operation(&operation_id).await?.expect("stored");
        assert_eq!(during.phase.name(), before.phase.name(), "nothing moved while {phase} and cut off");
        assert!(!during.is_terminal());
        proxy.heal();
    }
    let operation = drive_engine(&engine, &rig, &operation_id, Duration::from_secs(120)).await?;
    assert_completed_with_state(&rig, &job_id, &operation, max_before).await
}

/// One request to Flink in three answers 503; every other one of those after Flink acted on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_answering_503_intermittently_leaves_every_step_done_exactly_once() -> anyhow::Result<()> {
    let rig = default_rig().await?;
    let proxy = FaultProxy::start(rig.flink.rest_url()).await?;
    let (engine, _) = engine_through(&rig, &proxy, None).await?;
    let Requested { job_id, max_before, operation_id, .. } = request_rescale(&rig, &[], 2).await?;
    proxy.fail_every(3);
    let operation = drive_engine(&engine, &rig, &operation_id, Duration::from_secs(180)).await?;
    proxy.fail_every(0);
    assert!(proxy.injected() >= 4, "faults were injected: {}", proxy.injected());
    assert_completed_with_state(&rig, &job_id, &operation, max_before).await
}

/// The backend cannot reach the S3 server for 25 s while the job stops: the savepoint is
/// recorded once the store is back, and the rescale completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_unreachable_while_the_job_stops_loses_nothing() -> anyhow::Result<()> {
    let rig = default_rig().await?;
    let flink = FaultProxy::start(rig.flink.rest_url()).await?;
    let s3 = FaultProxy::start(rig.s3.endpoint()).await?;
    let (engine, _) = engine_through(&rig, &flink, Some(&s3)).await?;
    let Requested { job_id, max_before, operation_id, .. } = request_rescale(&rig, &[], 2).await?;
    step_until(&engine, &rig, &operation_id, Duration::from_secs(60), |operation| {
        has_event(operation, event_kind::STOP_TRIGGERED)
    })
    .await?;
    s3.cut();
    passes_for(&engine, Duration::from_secs(25)).await;
    assert_eq!(rig.job(&job_id).await?.status, JobStatus::Finished, "the job stopped meanwhile");
    let (during, _) = rig.records.operation(&operation_id).await?.expect("stored");
    assert!(matches!(during.phase, Phase::Stopping { .. }), "{:?}", during.phase);
    s3.heal();
    let operation = drive_engine(&engine, &rig, &operation_id, Duration::from_secs(120)).await?;
    assert_completed_with_state(&rig, &job_id, &operation, max_before).await
}

/// One TaskManager, frozen before the stop and killed while the stop waits for it: the
/// savepoint fails; a new TaskManager lets Flink restart the job from its checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taskmanager_lost_during_the_savepoint_fails_the_stop_and_the_job_keeps_running() -> anyhow::Result<()> {
    let mut rig = default_rig().await?;
    let Requested { job_id, operation_id, .. } = request_rescale(&rig, &[], 2).await?;
    drive_until(&rig, &operation_id, Duration::from_secs(30), |operation| {
        matches!(operation.phase, Phase::Stopping { .. })
    })
    .await?;
    rig.flink.signal_taskmanager(0, libc::SIGSTOP);
    drive_until(&rig, &operation_id, Duration::from_secs(30), |operation| {
        has_event(operation, event_kind::STOP_TRIGGERED)
    })
    .await?;
    rig.flink.kill_taskmanager(0);
    rig.flink.add_taskmanager()?;
    let operation = rig.drive(&operation_id, Duration::from_secs(180)).await?;
    let Phase::Failed { reason } = &operation.phase else {
        panic!("expected failed, got {:?}: {:#?}", operation.phase, operation.events);
    };
    assert!(reason.contains("savepoint failed") && reason.contains("still RUNNING, untouched"), "{reason}");
    assert!(operation.savepoint.is_none(), "no savepoint was taken");
    assert!(!has_event(&operation, event_kind::JOB_SUBMITTED), "nothing was submitted");
    assert_eq!(rig.running_jobs().await?, vec![job_id.clone()], "the original job runs again");
    Ok(())
}

/// The job throws at the target parallelism (at once, then 4 s after its first record): the
/// rescale rolls back from the same savepoint to the old parallelism, state kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_fails_and_a_job_that_fails_soon_after_both_roll_back() -> anyhow::Result<()> {
    let rig = default_rig().await?;
    for (round, fail_after_ms) in ["0", "4000"].into_iter().enumerate() {
        let args = ["--fail-at-parallelism", "2", "--fail-after-ms", fail_after_ms];
        let Requested { max_before, operation_id: id, .. } = request_rescale(&rig, &args, 2).await?;
        // The stable window (longer than 4 s) catches the late failure.
        let mut operation = rig.records.operation(&id).await?.expect("stored").0;
        let (_, version) = rig.records.operation(&id).await?.expect("stored");
        operation.stable_for_ms = 15_000;
        rig.records.replace_operation(&operation, &version).await?;
        let operation = rig.drive(&id, Duration::from_secs(180)).await?;
        let Phase::RolledBack { reason } = &operation.phase else {
            panic!("round {round}: expected rolled_back, got {:?}: {:#?}", operation.phase, operation.events);
        };
        assert!(reason.contains("failing") || reason.contains("FAILED"), "round {round}: {reason}");
        let rollback_job = operation.rollback_job_id.clone().expect("a rollback job");
        assert_eq!(rig.running_jobs().await?, vec![rollback_job.clone()], "round {round}: exactly one job runs");
        let rolled_back = rig.job(&rollback_job).await?;
        assert!(rolled_back.vertices.iter().all(|vertex| vertex.parallelism == 1), "round {round}: old parallelism");
        let restored = rig.client.checkpoint_history(&rollback_job).await?.and_then(|history| history.restored);
        let savepoint = operation.savepoint.clone().expect("savepoint recorded").location;
        let restored_from = restored.and_then(|restored| restored.external_path).unwrap_or_default();
        assert!(location_is_under(&restored_from, &savepoint), "round {round}: {restored_from} is {savepoint}");
        let (fresh, _) = rig.counter_after(&rollback_job, max_before, Duration::from_secs(60)).await?;
        assert_eq!(fresh, 0.0, "round {round}: rolled back with the state of the savepoint");
        rig.client.cancel_job(&rollback_job).await?;
    }
    Ok(())
}

/// Someone who can upload to Flink plants a different jar under the product's jar name (and
/// removes the real one): the approved rescale runs the stored, verified bytes all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jar_planted_under_the_products_jar_name_is_never_run() -> anyhow::Result<()> {
    use rescaler_backend::flink::{FlinkClient, FlinkClientExt};
    let rig = default_rig().await?;
    let Requested { job_id, artifact, max_before, operation_id } = request_rescale(&rig, &[], 2).await?;
    let direct = RestFlinkClient::new(RestFlinkClientConfig::new(rig.flink.rest_url()))?;
    let name = format!("rescaler-{}.jar", artifact.sha256);
    for jar in direct.list_jars().await? {
        direct.delete_jar(&jar.id).await?;
    }
    let work = harness::paths::scratch_dir("planted-jar")?;
    std::fs::write(work.join("README"), "not the approved job")?;
    let status = std::process::Command::new("jar")
        .arg("cf")
        .arg(work.join("planted.jar"))
        .arg("-C")
        .arg(&work)
        .arg("README")
        .status()?;
    anyhow::ensure!(status.success(), "jar cf failed");
    let planted = direct.upload_jar(&name, std::fs::read(work.join("planted.jar"))?.into()).await?;
    let operation = rig.drive(&operation_id, Duration::from_secs(120)).await?;
    assert_completed_with_state(&rig, &job_id, &operation, max_before).await?;
    let same_name: Vec<String> =
        direct.list_jars().await?.into_iter().filter(|jar| jar.name == name).map(|jar| jar.id).collect();
    assert!(
        same_name.contains(&planted) && same_name.len() == 2,
        "the verified bytes went up beside it: {same_name:?}"
    );
    Ok(())
}
