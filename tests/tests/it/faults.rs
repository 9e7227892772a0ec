//! Faults operators meet, each on a real Flink cluster, each ending in a clear terminal phase
//! with the job running and its savepoint on record (ARCHITECTURE.md lists them by invariant):
//! - the backend is down longer than Flink keeps the stop trigger's result: the savepoint is
//!   found again in the operation's own directory and the rescale goes on;
//! - the JobManager restarts after the stop (it forgets the trigger, the job and the jar): the
//!   savepoint is found in the operation's directory, the jar uploaded again, the rescale goes on.

use std::time::{Duration, Instant};

use harness::rig::{CLUSTER_ID, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_shared::flink::{JobStatus, SavepointStatus};
use rescaler_shared::operation::{
    Operation, STOP_TRIGGER_PURPOSE, Strategy, Target, derive_flink_id, event_kind, location_is_under, savepoint_target,
};
use rescaler_shared::phase::{Phase, SavepointSource};

/// How long the test clusters keep an asynchronous operation's result (Flink's default is 5
/// minutes): short, so that "longer than Flink remembers" fits in a test.
const STORE_DURATION: &str = "2 s";

/// Runs passes until `done` holds for the operation; answers it.
async fn drive_until(
    rig: &Rig,
    operation_id: &str,
    timeout: Duration,
    done: impl Fn(&Operation) -> bool,
) -> anyhow::Result<Operation> {
    let deadline = Instant::now() + timeout;
    loop {
        rig.engine.reconcile(operation_id).await?;
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
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;
    let operation_id = rig
        .request_approved(
            &job_id,
            &artifact,
            Target::Uniform { parallelism: 2 },
            Strategy::Savepoint,
            Duration::from_secs(120),
        )
        .await?;

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
    let recovered = operation
        .events
        .iter()
        .find(|event| event.kind == event_kind::SAVEPOINT_COMPLETED)
        .expect("savepoint event");
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
    let mut rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;
    let operation_id = rig
        .request_approved(
            &job_id,
            &artifact,
            Target::Uniform { parallelism: 3 },
            Strategy::Savepoint,
            Duration::from_secs(120),
        )
        .await?;
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
