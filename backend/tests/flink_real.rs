//! The REST Flink client against a real Flink cluster and the sample keyed-counter job.
//!
//! Needs `RESCALER_TEST_FLINK_URL` (the cluster's REST URL) and `RESCALER_TEST_JOB_JAR` (the
//! sample job jar); each test prints a message and passes when they are unset. The cluster must
//! run the adaptive scheduler with short cooldowns, have 4 free slots and a default savepoint
//! directory.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use rescaler_backend::flink::{
    FlinkClient, FlinkError, FlinkVersion, JobDetail, MetricAggregation, ParallelismBounds,
    RestFlinkClient, RestFlinkClientConfig, RestoreMode, RunJar, savepoint_failed_for_missing_job,
};
use rescaler_shared::flink::{JobStatus, SavepointStatus, SchedulerKind};

const SOURCE_VERTEX: &str = "f421c7059e6771b9a595acc02e87aaef";
const COUNTER_VERTEX: &str = "0da08f51eaa85fc298e176a139b3649a";
const KEYS: u32 = 64;

struct RealFlink {
    client: RestFlinkClient,
    jar_path: String,
}

/// The cluster from the environment, or `None` (and a message) when the test cannot run.
fn real_flink(test: &str) -> Option<RealFlink> {
    let url = std::env::var("RESCALER_TEST_FLINK_URL").ok();
    let jar_path = std::env::var("RESCALER_TEST_JOB_JAR").ok();
    let (Some(url), Some(jar_path)) = (url, jar_path) else {
        println!(
            "skipping {test}: set RESCALER_TEST_FLINK_URL and RESCALER_TEST_JOB_JAR to run it"
        );
        return None;
    };
    let client = RestFlinkClient::new(RestFlinkClientConfig::new(url)).expect("flink client");
    Some(RealFlink { client, jar_path })
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
    eventually(
        &format!("job {job_id} running at {parallelism:?}"),
        Duration::from_secs(60),
        || async {
            let detail = client.job_detail(job_id).await?.context("job vanished")?;
            ensure!(
                !detail.job.status.is_terminal(),
                "job {job_id} ended: {:?}",
                detail.job.status
            );
            Ok((detail.job.runs_at(parallelism) && detail.all_tasks_running()).then_some(detail))
        },
    )
    .await
}

async fn savepoint_location(
    client: &RestFlinkClient,
    job_id: &str,
    trigger_id: &str,
) -> anyhow::Result<String> {
    eventually(
        &format!("savepoint {trigger_id}"),
        Duration::from_secs(60),
        || async {
            match client.savepoint_status(job_id, trigger_id).await? {
                SavepointStatus::Completed { location } => Ok(Some(location)),
                SavepointStatus::InProgress => Ok(None),
                other => bail!("savepoint {trigger_id}: {other:?}"),
            }
        },
    )
    .await
}

/// The summed `freshKeys` counter of the Counter operator once Flink reports it at `expected`.
async fn fresh_keys_reach(
    client: &RestFlinkClient,
    job_id: &str,
    expected: f64,
) -> anyhow::Result<()> {
    // The JobManager fetches metrics every `metrics.fetcher.update-interval` (10 s by default).
    eventually(
        &format!("freshKeys = {expected}"),
        Duration::from_secs(90),
        || async {
            let fresh = client
                .operator_metric_sum(job_id, COUNTER_VERTEX, "Counter.freshKeys")
                .await?;
            Ok((fresh == Some(expected)).then_some(()))
        },
    )
    .await
}

fn uniform(parallelism: u32) -> BTreeMap<String, u32> {
    BTreeMap::from([
        (SOURCE_VERTEX.to_owned(), parallelism),
        (COUNTER_VERTEX.to_owned(), parallelism),
    ])
}

#[tokio::test]
async fn overview_reports_version_and_slots() -> anyhow::Result<()> {
    let Some(flink) = real_flink("overview_reports_version_and_slots") else {
        return Ok(());
    };

    let cluster = flink.client.cluster_overview().await?;
    let version = FlinkVersion::parse(&cluster.flink_version).context("version")?;
    println!("flink {version}: {cluster:?}");
    ensure!(cluster.taskmanagers >= 1, "no TaskManager: {cluster:?}");
    ensure!(cluster.slots_total >= 4, "fewer than 4 slots: {cluster:?}");
    ensure!(flink.client.flink_version().await? == version);
    flink.client.list_jobs().await?;
    Ok(())
}

#[tokio::test]
async fn an_unknown_job_is_not_found_and_a_stop_on_it_fails_in_the_status() -> anyhow::Result<()> {
    let Some(flink) =
        real_flink("an_unknown_job_is_not_found_and_a_stop_on_it_fails_in_the_status")
    else {
        return Ok(());
    };
    let client = &flink.client;
    let job_id = fresh_id();

    ensure!(client.job(&job_id).await?.is_none());
    ensure!(client.checkpoint_config(&job_id).await?.is_none());
    ensure!(client.checkpoint_history(&job_id).await?.is_none());
    let error = client
        .cancel_job(&job_id)
        .await
        .expect_err("cancel of an unknown job");
    ensure!(error.is_not_found(), "cancel: {error:?}");
    let error = client
        .resource_requirements(&job_id)
        .await
        .expect_err("requirements of an unknown job");
    ensure!(error.is_not_found(), "resource requirements: {error:?}");
    ensure!(client.savepoint_status(&job_id, &fresh_id()).await? == SavepointStatus::Unknown);

    // Flink accepts the stop (202); the missing job shows in the status only.
    let trigger_id = fresh_id();
    client
        .stop_with_savepoint(&job_id, &trigger_id, None)
        .await?;
    let status = eventually("the failed stop", Duration::from_secs(30), || async {
        let status = client.savepoint_status(&job_id, &trigger_id).await?;
        Ok((status != SavepointStatus::InProgress).then_some(status))
    })
    .await?;
    println!("stop on an unknown job: {status:?}");
    ensure!(savepoint_failed_for_missing_job(&status), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn a_job_runs_stops_with_a_savepoint_restores_and_rescales_in_place() -> anyhow::Result<()> {
    let Some(flink) =
        real_flink("a_job_runs_stops_with_a_savepoint_restores_and_rescales_in_place")
    else {
        return Ok(());
    };
    let client = &flink.client;
    let version = client.flink_version().await?;
    let savepoint_dir = std::env::temp_dir().join(format!("rescaler-flink-real-{}", fresh_id()));

    // Upload.
    let bytes =
        std::fs::read(&flink.jar_path).with_context(|| format!("reading {}", flink.jar_path))?;
    let jar_id = client.upload_jar("keyed-counter.jar", bytes).await?;
    let jars = client.list_jars().await?;
    let jar = jars
        .iter()
        .find(|jar| jar.id == jar_id)
        .context("uploaded jar not listed")?;
    ensure!(jar.name == "keyed-counter.jar", "{jar:?}");
    ensure!(
        jar.entry_classes == ["rescaler.sample.KeyedCounterJob"],
        "{jar:?}"
    );

    // Run at parallelism 2 under a job id of our choosing.
    let first_job = fresh_id();
    let first_run = RunJar {
        job_id: Some(first_job.clone()),
        program_args: vec![
            "--keys".into(),
            KEYS.to_string(),
            "--rate".into(),
            "200".into(),
        ],
        parallelism: Some(2),
        ..RunJar::default()
    };
    ensure!(client.run_jar(&jar_id, &first_run).await? == first_job);
    let detail = running_at(client, &first_job, &uniform(2)).await?;
    let job = &detail.job;
    println!("running: {job:?}");
    ensure!(job.name == "keyed-counter");
    ensure!(job.checkpointing, "the sample job checkpoints");
    ensure!(
        job.vertices
            .iter()
            .all(|vertex| vertex.max_parallelism == 128),
        "{job:?}"
    );
    let expected_scheduler = if version.major >= 2 {
        SchedulerKind::Adaptive
    } else {
        SchedulerKind::Unknown
    };
    ensure!(
        job.scheduler == expected_scheduler,
        "scheduler {:?} on {version}",
        job.scheduler
    );
    ensure!(detail.tasks[COUNTER_VERTEX].total() == 2);
    ensure!(
        client
            .list_jobs()
            .await?
            .iter()
            .any(|summary| summary.id == first_job && summary.status == JobStatus::Running)
    );

    // The same job id again: recognisably a duplicate, and the running job is untouched.
    let error = client
        .run_jar(&jar_id, &first_run)
        .await
        .expect_err("duplicate run");
    ensure!(
        error
            == FlinkError::DuplicateJob {
                job_id: first_job.clone()
            },
        "{error:?}"
    );
    ensure!(client.job(&first_job).await?.context("job")?.status == JobStatus::Running);

    // Metrics.
    fresh_keys_reach(client, &first_job, f64::from(KEYS)).await?;
    let metrics = client.vertex_metrics(&first_job, COUNTER_VERTEX).await?;
    println!("counter vertex metrics: {metrics:?}");
    ensure!(metrics.busy_time_ms_per_second.is_some(), "{metrics:?}");
    ensure!(
        metrics.backpressured_time_ms_per_second.is_some(),
        "{metrics:?}"
    );
    let max_count_before = client
        .vertex_metric(
            &first_job,
            COUNTER_VERTEX,
            "Counter.maxCount",
            MetricAggregation::Max,
        )
        .await?
        .context("maxCount")?;

    // A savepoint that keeps the job running; the same trigger id again starts nothing new.
    let savepoint_trigger = fresh_id();
    let target = format!("file://{}", savepoint_dir.display());
    client
        .trigger_savepoint(&first_job, &savepoint_trigger, Some(&target))
        .await?;
    let kept_running_location = savepoint_location(client, &first_job, &savepoint_trigger).await?;
    ensure!(
        kept_running_location.contains(&*savepoint_dir.to_string_lossy()),
        "{kept_running_location}"
    );
    client
        .trigger_savepoint(&first_job, &savepoint_trigger, Some(&target))
        .await?;
    ensure!(
        savepoint_location(client, &first_job, &savepoint_trigger).await? == kept_running_location
    );
    let savepoints_on_disk = std::fs::read_dir(&savepoint_dir)?.count();
    ensure!(
        savepoints_on_disk == 1,
        "{savepoints_on_disk} savepoints for one trigger id"
    );

    // Stop with a savepoint, to the cluster's default directory; trigger it twice.
    let stop_trigger = fresh_id();
    client
        .stop_with_savepoint(&first_job, &stop_trigger, None)
        .await?;
    client
        .stop_with_savepoint(&first_job, &stop_trigger, None)
        .await?;
    let location = savepoint_location(client, &first_job, &stop_trigger).await?;
    println!("stopped with savepoint {location}");
    client
        .stop_with_savepoint(&first_job, &stop_trigger, None)
        .await?;
    ensure!(savepoint_location(client, &first_job, &stop_trigger).await? == location);
    eventually(
        "the stopped job FINISHED",
        Duration::from_secs(30),
        || async {
            let job = client.job(&first_job).await?.context("job")?;
            Ok((job.status == JobStatus::Finished).then_some(()))
        },
    )
    .await?;
    let history = client
        .checkpoint_history(&first_job)
        .await?
        .context("history")?;
    let latest_savepoint = history
        .latest_savepoint
        .as_ref()
        .context("no savepoint in the history")?;
    ensure!(
        latest_savepoint.external_path.as_deref() == Some(location.as_str()),
        "{history:?}"
    );
    // A finished job's id is taken for good.
    let error = client
        .run_jar(&jar_id, &first_run)
        .await
        .expect_err("finished job's id");
    ensure!(
        matches!(error, FlinkError::DuplicateJob { .. }),
        "{error:?}"
    );
    // A stop with a new trigger on the finished job fails in the status, like an unknown job.
    let late_trigger = fresh_id();
    client
        .stop_with_savepoint(&first_job, &late_trigger, None)
        .await?;
    let late = eventually("the late stop", Duration::from_secs(30), || async {
        let status = client.savepoint_status(&first_job, &late_trigger).await?;
        Ok((status != SavepointStatus::InProgress).then_some(status))
    })
    .await?;
    ensure!(savepoint_failed_for_missing_job(&late), "{late:?}");

    // Resubmit from the savepoint with per-vertex parallelism.
    let second_job = fresh_id();
    let targets = BTreeMap::from([
        (SOURCE_VERTEX.to_owned(), 1),
        (COUNTER_VERTEX.to_owned(), 3),
    ]);
    let second_run = RunJar {
        job_id: Some(second_job.clone()),
        parallelism: Some(2),
        vertex_parallelism: targets.clone(),
        savepoint_path: Some(location.clone()),
        restore_mode: RestoreMode::NoClaim,
        ..first_run.clone()
    };
    ensure!(client.run_jar(&jar_id, &second_run).await? == second_job);
    let started_at = if version.applies_vertex_overrides_on_jar_run() {
        targets.clone()
    } else {
        uniform(2)
    };
    let detail = running_at(client, &second_job, &started_at).await?;
    println!(
        "restored on {version} at {:?}",
        detail.job.parallelism_by_vertex()
    );
    let restored = client
        .checkpoint_history(&second_job)
        .await?
        .context("history")?
        .restored
        .context("restored")?;
    ensure!(
        restored.is_savepoint && restored.external_path.as_deref() == Some(location.as_str()),
        "{restored:?}"
    );
    fresh_keys_reach(client, &second_job, 0.0).await?;

    // In place with the adaptive scheduler: every vertex listed; Flink rescales asynchronously.
    let requirements = client.resource_requirements(&second_job).await?;
    ensure!(requirements.keys().eq(targets.keys()), "{requirements:?}");
    let over_max = targets
        .keys()
        .map(|vertex| (vertex.clone(), ParallelismBounds::up_to(129)))
        .collect();
    let error = client
        .set_resource_requirements(&second_job, &over_max)
        .await
        .expect_err("above max parallelism");
    ensure!(
        matches!(error, FlinkError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    let partial = BTreeMap::from([(COUNTER_VERTEX.to_owned(), ParallelismBounds::up_to(2))]);
    let error = client
        .set_resource_requirements(&second_job, &partial)
        .await
        .expect_err("a vertex missing");
    ensure!(
        matches!(error, FlinkError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    let in_place = BTreeMap::from([
        (SOURCE_VERTEX.to_owned(), 2),
        (COUNTER_VERTEX.to_owned(), 1),
    ]);
    let bounds = in_place
        .iter()
        .map(|(vertex, parallelism)| (vertex.clone(), ParallelismBounds::up_to(*parallelism)))
        .collect();
    client
        .set_resource_requirements(&second_job, &bounds)
        .await?;
    running_at(client, &second_job, &in_place).await?;
    ensure!(client.resource_requirements(&second_job).await? == bounds);
    // State survived both restarts: no fresh keys, and counts kept rising.
    fresh_keys_reach(client, &second_job, 0.0).await?;
    let max_count_after = eventually("maxCount reported", Duration::from_secs(60), || async {
        Ok(client
            .vertex_metric(
                &second_job,
                COUNTER_VERTEX,
                "Counter.maxCount",
                MetricAggregation::Max,
            )
            .await?
            .filter(|count| *count > 0.0))
    })
    .await?;
    println!("maxCount before the stop {max_count_before}, after two restores {max_count_after}");
    ensure!(
        max_count_after > max_count_before,
        "counts restarted: {max_count_after}"
    );

    // Cancel; cancelling again is harmless.
    client.cancel_job(&second_job).await?;
    eventually(
        "the cancelled job CANCELED",
        Duration::from_secs(30),
        || async {
            let job = client.job(&second_job).await?.context("job")?;
            Ok((job.status == JobStatus::Canceled).then_some(()))
        },
    )
    .await?;
    client.cancel_job(&second_job).await?;

    client.delete_jar(&jar_id).await?;
    ensure!(
        client
            .delete_jar(&jar_id)
            .await
            .expect_err("deleted twice")
            .is_not_found()
    );
    std::fs::remove_dir_all(&savepoint_dir).ok();
    Ok(())
}

#[tokio::test]
async fn a_bad_savepoint_path_leaves_a_failed_job() -> anyhow::Result<()> {
    let Some(flink) = real_flink("a_bad_savepoint_path_leaves_a_failed_job") else {
        return Ok(());
    };
    let client = &flink.client;
    let bytes = std::fs::read(&flink.jar_path)?;
    let jar_id = client.upload_jar("keyed-counter.jar", bytes).await?;
    let job_id = fresh_id();
    let run = RunJar {
        job_id: Some(job_id.clone()),
        parallelism: Some(1),
        savepoint_path: Some(format!(
            "file:///tmp/rescaler-no-such-savepoint-{}",
            fresh_id()
        )),
        ..RunJar::default()
    };

    // 1.20.5 and 2.3.0 both accept the submission and the job then fails; an earlier
    // observation saw a 400. Either way a job id may be left behind in FAILED.
    match client.run_jar(&jar_id, &run).await {
        Ok(started) => ensure!(started == job_id),
        Err(error) => println!("bad savepoint path refused at once: {error}"),
    }
    let status = eventually(
        "the job with a bad savepoint FAILED",
        Duration::from_secs(30),
        || async {
            Ok(client
                .job(&job_id)
                .await?
                .map(|job| job.status)
                .filter(|status| status.is_terminal()))
        },
    )
    .await?;
    ensure!(status == JobStatus::Failed, "{status:?}");
    client.delete_jar(&jar_id).await?;
    Ok(())
}
