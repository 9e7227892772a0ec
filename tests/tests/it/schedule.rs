//! Scheduled starts on real Flink: an approved request with a not-before 15 s ahead, and one on
//! a cluster whose maintenance window opens 15 s ahead, each left alone until then, then run.
//! One cluster for both.

use std::time::{Duration, Instant};

use harness::rig::{Rig, approved_operation, cluster_config, drive, engine_with_client};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_shared::operation::{Operation, Strategy, Target, event_kind};
use rescaler_shared::phase::Phase;
use rescaler_shared::schedule::{ClockTime, MaintenanceWindow, UtcOffset, Weekday};

const AHEAD: Duration = Duration::from_secs(15);

/// Runs passes of `engine` until `until`, checking after each that the request is still
/// approved, has not started and its job runs untouched.
async fn stays_approved(
    rig: &Rig,
    engine: &Engine,
    operation_id: &str,
    job_id: &str,
    until: Instant,
) -> anyhow::Result<()> {
    let parallelism = rig.job(job_id).await?.vertices.iter().map(|vertex| vertex.parallelism).collect::<Vec<_>>();
    let mut passes = 0;
    while Instant::now() + Duration::from_millis(500) < until {
        engine.pass().await?;
        passes += 1;
        let (operation, _) = rig.records.operation(operation_id).await?.ok_or_else(|| anyhow::anyhow!("gone"))?;
        anyhow::ensure!(operation.phase == Phase::Approved, "left approved early: {:#?}", operation.events);
        anyhow::ensure!(operation.strategy.is_none(), "execution started early");
        let job = rig.job(job_id).await?;
        let now = job.vertices.iter().map(|vertex| vertex.parallelism).collect::<Vec<_>>();
        anyhow::ensure!(now == parallelism, "the job was touched: {parallelism:?} → {now:?}");
        anyhow::ensure!(rig.running_jobs().await? == vec![job_id.to_owned()], "another job runs");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::ensure!(passes >= 5, "only {passes} passes before the time");
    Ok(())
}

/// The monotonic instant of a wall-clock time ahead.
fn instant_of(at_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(at_ms.saturating_sub(now_ms()))
}

fn started_at(operation: &Operation) -> u64 {
    operation.events.iter().find(|event| event.kind == event_kind::EXECUTION_STARTED).map_or(0, |event| event.at_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_request_waits_for_its_not_before_and_for_the_maintenance_window() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;

    // Not before 15 s from now: approved at once, nothing happens until then.
    let mut operation = approved_operation(
        &job_id,
        &artifact,
        Target::Uniform { parallelism: 2 },
        Strategy::Savepoint,
        Duration::from_secs(90),
    )?;
    let not_before_ms = now_ms() + AHEAD.as_millis() as u64;
    operation.not_before_ms = Some(not_before_ms);
    rig.records.create_operation(&operation).await?;
    stays_approved(&rig, &rig.engine, &operation.id, &job_id, instant_of(not_before_ms)).await?;
    let done = rig.drive(&operation.id, Duration::from_secs(120)).await?;
    assert_eq!(done.phase, Phase::Completed, "events: {:#?}", done.events);
    assert!(started_at(&done) >= not_before_ms, "started before its not-before");
    let new_job = done.new_job_id.clone().expect("a new job");

    // A window opening 15 s from now (every day, for ten minutes, UTC): the approved request
    // waits for it, then runs.
    let opens_ms = (now_ms() + AHEAD.as_millis() as u64) / 1000 * 1000;
    let second_of_day = ((opens_ms / 1000) % 86_400) as u32;
    let window = MaintenanceWindow {
        days: Weekday::ALL.to_vec(),
        start: ClockTime(second_of_day),
        end: ClockTime((second_of_day + 600) % 86_400),
        utc_offset: Some(UtcOffset(0)),
        time_zone: None,
    };
    let mut config = cluster_config(&rig.flink);
    config.windows = vec![window];
    let windowed = engine_with_client(&rig.records, config, rig.client.clone(), "windowed-reconciler");
    let operation = approved_operation(
        &new_job,
        &artifact,
        Target::Uniform { parallelism: 1 },
        Strategy::Savepoint,
        Duration::from_secs(90),
    )?;
    rig.records.create_operation(&operation).await?;
    stays_approved(&rig, &windowed, &operation.id, &new_job, instant_of(opens_ms)).await?;
    let done = drive(&windowed, &rig.records, &operation.id, Duration::from_secs(120)).await?;
    assert_eq!(done.phase, Phase::Completed, "events: {:#?}", done.events);
    assert!(started_at(&done) >= opens_ms, "started before the window opened");
    Ok(())
}
