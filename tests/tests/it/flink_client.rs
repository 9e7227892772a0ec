//! The REST Flink client (`RestFlinkClient`) against real Flink clusters of every supported
//! version, running the sample keyed-counter job on the adaptive scheduler.
//!
//! One test per version, all running the same scenario: overview; upload and run under a job id
//! of our choosing; job detail; duplicate job ids; metrics; savepoints and stop-with-savepoint
//! under caller-chosen trigger ids (triggered again harmlessly); a run from the savepoint;
//! resource requirements read and changed in place; cancel; unknown jobs; a bad savepoint path.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use harness::{FlinkCluster, FlinkOptions, Scheduler};
use rescaler_backend::flink::{
    FlinkClient, FlinkClientExt, FlinkError, FlinkVersion, JobDetail, MetricAggregation, ParallelismBounds,
    RestFlinkClient, RestFlinkClientConfig, RestoreMode, RunJar, savepoint_failed_for_missing_job,
};
use rescaler_shared::flink::{JobStatus, SavepointStatus, SchedulerKind};

/// The sample job's vertex ids (Flink derives them from the operator uids, on every version).
const SOURCE_VERTEX: &str = "f421c7059e6771b9a595acc02e87aaef";
const COUNTER_VERTEX: &str = "0da08f51eaa85fc298e176a139b3649a";
const KEYS: u32 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_client_speaks_to_flink_2_3() -> anyhow::Result<()> {
    client_scenario("2.3.0").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_client_speaks_to_flink_1_20() -> anyhow::Result<()> {
    client_scenario("1.20.5").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_client_speaks_to_flink_1_18() -> anyhow::Result<()> {
    client_scenario("1.18.1").await
}

/// Starts a cluster of `version` (adaptive scheduler, one TaskManager with 4 slots) and runs
/// every part of the scenario on it; failures carry the JobManager's log tail.
async fn client_scenario(version: &str) -> anyhow::Result<()> {
    harness::init_tracing();
    let started = Instant::now();
    let cluster = FlinkCluster::start(FlinkOptions {
        version: version.to_owned(),
        scheduler: Scheduler::Adaptive,
        taskmanagers: 1,
        slots_per_taskmanager: 4,
        extra_config: BTreeMap::new(),
    })
    .await?;
    let cluster_up = started.elapsed();
    let client = RestFlinkClient::new(RestFlinkClientConfig::new(cluster.rest_url()))?;
    let outcome = async {
        overview(&client, version).await?;
        unknown_job(&client).await?;
        job_lifecycle(&client, &cluster).await?;
        bad_savepoint_path(&client, &cluster).await
    }
    .await;
    if let Err(error) = outcome {
        bail!("on Flink {version}: {error:#}\njobmanager log tail:\n{}", cluster.jobmanager_log_tail(25));
    }
    println!("flink {version}: cluster up in {cluster_up:?}, whole scenario {:?}", started.elapsed());
    Ok(())
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Polls `probe` every 250 ms until it answers `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if started.elapsed() > limit {
            bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn running_at(
    client: &RestFlinkClient,
    job_id: &str,
    parallelism: &BTreeMap<String, u32>,
) -> anyhow::Result<JobDetail> {
    let last = Mutex::new(None);
    let result = eventually(&format!("job {job_id} running at {parallelism:?}"), Duration::from_secs(90), || async {
        let detail = client.job_detail(job_id).await?.context("job vanished")?;
        ensure!(!detail.job.status.is_terminal(), "job {job_id} ended: {:?}", detail.job.status);
        let ready = detail.job.runs_at(parallelism) && detail.all_tasks_running();
        *last.lock().unwrap() = Some(detail.job.parallelism_by_vertex());
        Ok(ready.then_some(detail))
    })
    .await;
    result.with_context(|| format!("last seen at {:?}", last.lock().unwrap()))
}

async fn savepoint_location(client: &RestFlinkClient, job_id: &str, trigger_id: &str) -> anyhow::Result<String> {
    eventually(&format!("savepoint {trigger_id}"), Duration::from_secs(60), || async {
        match client.savepoint_status(job_id, trigger_id).await? {
            SavepointStatus::Completed { location } => Ok(Some(location)),
            SavepointStatus::InProgress => Ok(None),
            other => bail!("savepoint {trigger_id}: {other:?}"),
        }
    })
    .await
}

/// Waits until a trigger's status is settled (anything but in progress).
async fn settled_status(client: &RestFlinkClient, job_id: &str, trigger_id: &str) -> anyhow::Result<SavepointStatus> {
    eventually(&format!("the status of trigger {trigger_id}"), Duration::from_secs(30), || async {
        let status = client.savepoint_status(job_id, trigger_id).await?;
        Ok((status != SavepointStatus::InProgress).then_some(status))
    })
    .await
}

/// The summed `freshKeys` counter of the Counter operator once Flink reports it at `expected`.
async fn fresh_keys_reach(client: &RestFlinkClient, job_id: &str, expected: f64) -> anyhow::Result<()> {
    let last = Mutex::new(None);
    let result = eventually(&format!("freshKeys = {expected}"), Duration::from_secs(90), || async {
        let fresh = client.operator_metric_sum(job_id, COUNTER_VERTEX, "Counter.freshKeys").await?;
        *last.lock().unwrap() = fresh;
        Ok((fresh == Some(expected)).then_some(()))
    })
    .await;
    result.with_context(|| format!("last freshKeys {:?}", last.lock().unwrap()))
}

fn uniform(parallelism: u32) -> BTreeMap<String, u32> {
    BTreeMap::from([(SOURCE_VERTEX.to_owned(), parallelism), (COUNTER_VERTEX.to_owned(), parallelism)])
}

/// A local path of a `file://` target.
fn local_path(target: &str) -> anyhow::Result<PathBuf> {
    let path = target.strip_prefix("file://").with_context(|| format!("{target} is not a file:// target"))?;
    Ok(PathBuf::from(path))
}

async fn overview(client: &RestFlinkClient, version: &str) -> anyhow::Result<()> {
    let cluster = client.cluster_overview().await?;
    ensure!(cluster.flink_version == version, "{cluster:?}");
    let parsed = FlinkVersion::parse(&cluster.flink_version).context("version")?;
    ensure!(parsed.to_string() == version, "{parsed}");
    ensure!(client.flink_version().await? == parsed);
    ensure!(cluster.taskmanagers == 1, "{cluster:?}");
    ensure!(cluster.slots_total == 4 && cluster.slots_available == 4, "{cluster:?}");
    ensure!(client.list_jobs().await?.is_empty(), "a fresh cluster runs no job");
    ensure!(client.list_jars().await?.is_empty(), "a fresh cluster has no jar");
    Ok(())
}

async fn unknown_job(client: &RestFlinkClient) -> anyhow::Result<()> {
    let job_id = fresh_id();
    ensure!(client.job(&job_id).await?.is_none());
    ensure!(client.job_detail(&job_id).await?.is_none());
    ensure!(client.checkpoint_config(&job_id).await?.is_none());
    ensure!(client.checkpoint_history(&job_id).await?.is_none());
    let error = client.cancel_job(&job_id).await.expect_err("cancel of an unknown job");
    ensure!(error.is_not_found(), "cancel: {error:?}");
    let error = client.resource_requirements(&job_id).await.expect_err("requirements of an unknown job");
    ensure!(error.is_not_found(), "resource requirements: {error:?}");
    ensure!(client.savepoint_status(&job_id, &fresh_id()).await? == SavepointStatus::Unknown);

    // Flink accepts the stop (202); the missing job shows in the status only.
    let trigger_id = fresh_id();
    client.stop_with_savepoint(&job_id, &trigger_id, None).await?;
    let status = settled_status(client, &job_id, &trigger_id).await?;
    ensure!(savepoint_failed_for_missing_job(&status), "stop on an unknown job: {status:?}");
    Ok(())
}

/// Upload, run, duplicate, metrics, savepoints, stop, restore, in-place rescale, cancel.
async fn job_lifecycle(client: &RestFlinkClient, cluster: &FlinkCluster) -> anyhow::Result<()> {
    let version = client.flink_version().await?;

    // Upload.
    let jar_path = cluster.sample_job_jar()?;
    let bytes = std::fs::read(&jar_path).with_context(|| format!("reading {}", jar_path.display()))?;
    let jar_id = client.upload_jar("keyed-counter.jar", bytes.into()).await?;
    let jars = client.list_jars().await?;
    let jar = jars.iter().find(|jar| jar.id == jar_id).context("uploaded jar not listed")?;
    ensure!(jar.name == "keyed-counter.jar", "{jar:?}");
    ensure!(jar.entry_classes == ["rescaler.sample.KeyedCounterJob"], "{jar:?}");

    // Run at parallelism 2 under a job id of our choosing.
    let first_job = fresh_id();
    let first_run = RunJar {
        job_id: Some(first_job.clone()),
        program_args: vec!["--keys".into(), KEYS.to_string(), "--rate".into(), "200".into()],
        parallelism: Some(2),
        ..RunJar::default()
    };
    ensure!(client.run_jar(&jar_id, &first_run).await? == first_job);
    let detail = running_at(client, &first_job, &uniform(2)).await?;
    let job = &detail.job;
    ensure!(job.name == "keyed-counter", "{job:?}");
    ensure!(job.status == JobStatus::Running, "{job:?}");
    ensure!(job.checkpointing, "the sample job checkpoints: {job:?}");
    ensure!(job.vertices.len() == 2, "{job:?}");
    ensure!(job.vertices.iter().all(|vertex| vertex.max_parallelism == 128), "{job:?}");
    // Only 2.x reports the scheduler in the job detail; on 1.x the job's configuration and its
    // resource requirements tell.
    ensure!(job.scheduler == SchedulerKind::Adaptive, "scheduler {:?} on {version}", job.scheduler);
    // The harness sets the cooldown to 1 s where the version has one (1.19 on).
    let pacing = job.rescale_pacing.as_ref().context("the adaptive scheduler's pacing")?;
    let expected_key = match (version.major, version.minor) {
        (1, ..=18) => None,
        (1, _) => Some("jobmanager.adaptive-scheduler.scaling-interval.min"),
        _ => Some("jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling"),
    };
    ensure!(pacing.cooldown_key.as_deref() == expected_key, "{pacing:?} on {version}");
    ensure!(pacing.cooldown_ms == if expected_key.is_some() { 1_000 } else { 0 }, "{pacing:?} on {version}");
    ensure!(detail.tasks[COUNTER_VERTEX].total() == 2, "{detail:?}");
    ensure!(
        client.list_jobs().await?.iter().any(|summary| summary.id == first_job && summary.status == JobStatus::Running)
    );

    // The same job id again: recognisably a duplicate, and the running job is untouched.
    let error = client.run_jar(&jar_id, &first_run).await.expect_err("duplicate run");
    ensure!(error == FlinkError::DuplicateJob { job_id: first_job.clone() }, "{error:?}");
    ensure!(client.job(&first_job).await?.context("job")?.status == JobStatus::Running);

    // Metrics.
    fresh_keys_reach(client, &first_job, f64::from(KEYS)).await?;
    let metrics = eventually("vertex metrics", Duration::from_secs(30), || async {
        let metrics = client.vertex_metrics(&first_job, COUNTER_VERTEX).await?;
        let complete = metrics.busy_time_ms_per_second.is_some()
            && metrics.backpressured_time_ms_per_second.is_some()
            && metrics.num_records_in_per_second.is_some();
        Ok(complete.then_some(metrics))
    })
    .await?;
    ensure!(metrics.busy_time_ms_per_second.is_some_and(|busy| (0.0..=1000.0).contains(&busy)), "{metrics:?}");
    let max_count_before = eventually("maxCount reported", Duration::from_secs(30), || async {
        Ok(client
            .vertex_metric(&first_job, COUNTER_VERTEX, "Counter.maxCount", MetricAggregation::Max)
            .await?
            .filter(|count| *count > 0.0))
    })
    .await?;

    // A savepoint that keeps the job running; the same trigger id again starts nothing new.
    let kept_running_dir = local_path(&cluster.savepoint_dir())?.join(format!("kept-running-{}", fresh_id()));
    let target = format!("file://{}", kept_running_dir.display());
    let savepoint_trigger = fresh_id();
    client.trigger_savepoint(&first_job, &savepoint_trigger, Some(&target)).await?;
    let kept_running_location = savepoint_location(client, &first_job, &savepoint_trigger).await?;
    ensure!(kept_running_location.contains(&*kept_running_dir.to_string_lossy()), "{kept_running_location}");
    client.trigger_savepoint(&first_job, &savepoint_trigger, Some(&target)).await?;
    ensure!(savepoint_location(client, &first_job, &savepoint_trigger).await? == kept_running_location);
    let savepoints_on_disk = std::fs::read_dir(&kept_running_dir)?.count();
    ensure!(savepoints_on_disk == 1, "{savepoints_on_disk} savepoints for one trigger id");
    ensure!(client.job(&first_job).await?.context("job")?.status == JobStatus::Running);

    // Stop with a savepoint, to the cluster's default directory; trigger it again while it
    // runs and after it completed.
    let stop_trigger = fresh_id();
    client.stop_with_savepoint(&first_job, &stop_trigger, None).await?;
    client.stop_with_savepoint(&first_job, &stop_trigger, None).await?;
    let location = savepoint_location(client, &first_job, &stop_trigger).await?;
    ensure!(location.contains(&*local_path(&cluster.savepoint_dir())?.to_string_lossy()), "{location}");
    client.stop_with_savepoint(&first_job, &stop_trigger, None).await?;
    ensure!(savepoint_location(client, &first_job, &stop_trigger).await? == location);
    eventually("the stopped job FINISHED", Duration::from_secs(30), || async {
        let job = client.job(&first_job).await?.context("job")?;
        Ok((job.status == JobStatus::Finished).then_some(()))
    })
    .await?;
    let history = client.checkpoint_history(&first_job).await?.context("history")?;
    let latest_savepoint = history.latest_savepoint.as_ref().context("no savepoint in the history")?;
    ensure!(latest_savepoint.external_path.as_deref() == Some(location.as_str()), "{history:?}");
    // A finished job's id is taken for good.
    let error = client.run_jar(&jar_id, &first_run).await.expect_err("finished job's id");
    ensure!(matches!(error, FlinkError::DuplicateJob { .. }), "{error:?}");
    // A stop with a new trigger on the finished job fails in the status, like an unknown job.
    let late_trigger = fresh_id();
    client.stop_with_savepoint(&first_job, &late_trigger, None).await?;
    let late = settled_status(client, &first_job, &late_trigger).await?;
    ensure!(savepoint_failed_for_missing_job(&late), "{late:?}");

    // Resubmit from the savepoint with per-vertex parallelism.
    let second_job = fresh_id();
    let targets = BTreeMap::from([(SOURCE_VERTEX.to_owned(), 1), (COUNTER_VERTEX.to_owned(), 3)]);
    let second_run = RunJar {
        job_id: Some(second_job.clone()),
        parallelism: Some(2),
        vertex_parallelism: targets.clone(),
        savepoint_path: Some(location.clone()),
        restore_mode: RestoreMode::NoClaim,
        ..first_run.clone()
    };
    ensure!(client.run_jar(&jar_id, &second_run).await? == second_job);
    let started_at = if version.applies_vertex_overrides_on_jar_run() { targets.clone() } else { uniform(2) };
    running_at(client, &second_job, &started_at).await?;
    let restored = eventually("the restore in the checkpoint history", Duration::from_secs(30), || async {
        Ok(client.checkpoint_history(&second_job).await?.context("history")?.restored)
    })
    .await?;
    ensure!(restored.is_savepoint && restored.external_path.as_deref() == Some(location.as_str()), "{restored:?}");
    fresh_keys_reach(client, &second_job, 0.0).await?;

    // In place with the adaptive scheduler: every vertex listed; Flink rescales asynchronously.
    let requirements = client.resource_requirements(&second_job).await?;
    ensure!(requirements.keys().eq(targets.keys()), "{requirements:?}");
    let over_max = targets.keys().map(|vertex| (vertex.clone(), ParallelismBounds::up_to(129))).collect();
    let error = client.set_resource_requirements(&second_job, &over_max).await.expect_err("above max parallelism");
    ensure!(matches!(error, FlinkError::Rejected { status: 400, .. }), "{error:?}");
    let partial = BTreeMap::from([(COUNTER_VERTEX.to_owned(), ParallelismBounds::up_to(2))]);
    let error = client.set_resource_requirements(&second_job, &partial).await.expect_err("a vertex missing");
    ensure!(matches!(error, FlinkError::Rejected { status: 400, .. }), "{error:?}");
    let in_place = BTreeMap::from([(SOURCE_VERTEX.to_owned(), 2), (COUNTER_VERTEX.to_owned(), 1)]);
    let bounds =
        in_place.iter().map(|(vertex, parallelism)| (vertex.clone(), ParallelismBounds::up_to(*parallelism))).collect();
    client.set_resource_requirements(&second_job, &bounds).await?;
    running_at(client, &second_job, &in_place).await?;
    ensure!(client.resource_requirements(&second_job).await? == bounds);
    // State survived both restarts: no fresh keys, and counts kept rising.
    fresh_keys_reach(client, &second_job, 0.0).await?;
    let max_count_after = eventually("maxCount above the first run's", Duration::from_secs(60), || async {
        Ok(client
            .vertex_metric(&second_job, COUNTER_VERTEX, "Counter.maxCount", MetricAggregation::Max)
            .await?
            .filter(|count| *count > max_count_before))
    })
    .await
    .with_context(|| format!("counts restarted: the first run had reached {max_count_before}"))?;
    println!("flink {version}: maxCount {max_count_before} before the stop, {max_count_after} after two restores");

    // Cancel; cancelling again is harmless.
    client.cancel_job(&second_job).await?;
    eventually("the cancelled job CANCELED", Duration::from_secs(30), || async {
        let job = client.job(&second_job).await?.context("job")?;
        Ok((job.status == JobStatus::Canceled).then_some(()))
    })
    .await?;
    client.cancel_job(&second_job).await?;

    client.delete_jar(&jar_id).await?;
    ensure!(client.delete_jar(&jar_id).await.expect_err("deleted twice").is_not_found());
    Ok(())
}

/// A savepoint path Flink cannot read leaves a FAILED job (or a refused submission).
async fn bad_savepoint_path(client: &RestFlinkClient, cluster: &FlinkCluster) -> anyhow::Result<()> {
    let bytes = std::fs::read(cluster.sample_job_jar()?)?;
    let jar_id = client.upload_jar("keyed-counter.jar", bytes.into()).await?;
    let job_id = fresh_id();
    let missing = local_path(&cluster.savepoint_dir())?.join(format!("no-such-savepoint-{}", fresh_id()));
    let run = RunJar {
        job_id: Some(job_id.clone()),
        parallelism: Some(1),
        savepoint_path: Some(format!("file://{}", missing.display())),
        ..RunJar::default()
    };
    // The versions seen so far accept the submission and the job then fails; a 400 at once is
    // fine too, as long as no job runs.
    match client.run_jar(&jar_id, &run).await {
        Ok(started) => {
            ensure!(started == job_id, "{started}");
            let status = eventually("the job with a bad savepoint ended", Duration::from_secs(30), || async {
                Ok(client.job(&job_id).await?.map(|job| job.status).filter(|status| status.is_terminal()))
            })
            .await?;
            ensure!(status == JobStatus::Failed, "{status:?}");
        }
        Err(FlinkError::Rejected { status: 400, message }) => {
            println!("bad savepoint path refused at once: {message}");
            ensure!(client.job(&job_id).await?.is_none_or(|job| job.status.is_terminal()));
        }
        Err(error) => bail!("bad savepoint path: {error:?}"),
    }
    client.delete_jar(&jar_id).await?;
    Ok(())
}
