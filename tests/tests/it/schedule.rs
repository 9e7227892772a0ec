//! Scheduled starts on real Flink: an approved request with a not-before 15 s ahead, and one on
//! a cluster whose maintenance window opens 15 s ahead, each left alone until then, then run
//! (one cluster for both); and on another cluster, a request whose expiry comes before the only
//! window expires untouched, and a window in a named time zone holds and then releases one.

use std::time::{Duration, Instant};

use harness::rig::{Rig, approved_operation, cluster_config, drive, engine_with_client};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_shared::operation::{Operation, Strategy, Target, event_kind};
use rescaler_shared::phase::Phase;
use rescaler_shared::schedule::{ClockTime, MaintenanceWindow, UtcOffset, Weekday, Zone, ZoneName};

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
        cron: None,
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

/// A window of `minutes` opening at `opens_ms` in `zone`, on that local day only.
fn window_in(zone: &ZoneName, opens_ms: u64, minutes: u32) -> MaintenanceWindow {
    let local_ms = Zone::Named(zone.clone()).local_ms(opens_ms);
    let second_of_day = (local_ms.rem_euclid(86_400_000) / 1000) as u32;
    let day = Weekday::ALL[(local_ms.div_euclid(86_400_000) + 3).rem_euclid(7) as usize];
    MaintenanceWindow {
        days: vec![day],
        start: ClockTime(second_of_day),
        end: ClockTime((second_of_day + minutes * 60) % 86_400),
        utc_offset: None,
        time_zone: Some(zone.clone()),
        cron: None,
    }
}

/// The objects under the savepoint directory's prefix in the rig's bucket (not the mount's
/// directory markers).
async fn savepoint_objects(rig: &Rig) -> anyhow::Result<Vec<String>> {
    let listed = rig.s3.client().list_objects_v2().bucket(&rig.bucket).prefix("flink-savepoints/").send().await?;
    let keys = listed.contents().iter().filter_map(|object| object.key());
    Ok(keys.filter(|key| !key.ends_with('/')).map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_expires_before_a_later_window_and_a_named_zone_window_holds_then_releases() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    // Australia/Sydney keeps daylight saving time in December (UTC+11:00, not its +10:00).
    let sydney = ZoneName::try_from("Australia/Sydney".to_owned()).map_err(anyhow::Error::msg)?;

    // The only window opens in two minutes; the request expires in one: it expires, untouched.
    let late_ms = (now_ms() + 120_000) / 1000 * 1000;
    let mut config = cluster_config(&rig.flink);
    config.windows = vec![window_in(&sydney, late_ms, 10)];
    let late = engine_with_client(&rig.records, config, rig.client.clone(), "late-window-reconciler");
    let mut operation = approved_operation(
        &job_id,
        &artifact,
        Target::Uniform { parallelism: 2 },
        Strategy::Savepoint,
        Duration::from_secs(90),
    )?;
    operation.expires_at_ms = now_ms() + 60_000;
    rig.records.create_operation(&operation).await?;
    let done = drive(&late, &rig.records, &operation.id, Duration::from_secs(30)).await?;
    assert_eq!(done.phase, Phase::Expired, "events: {:#?}", done.events);
    let expired = done.events.iter().find(|event| event.kind == event_kind::EXPIRED).expect("an expired event");
    let opens = Zone::Named(sydney.clone()).describe(late_ms);
    assert!(opens.contains("(Australia/Sydney, UTC+11:00)"), "{opens}");
    assert!(
        expired.message.contains(&format!("the next maintenance window opens at {opens}"))
            && expired.message.contains("nothing was changed"),
        "{}",
        expired.message
    );
    assert!(done.strategy.is_none() && done.savepoint.is_none(), "execution started: {:#?}", done.events);
    let job = rig.job(&job_id).await?;
    assert!(job.vertices.iter().all(|vertex| vertex.parallelism == 1), "the job was rescaled: {:?}", job.vertices);
    assert_eq!(rig.running_jobs().await?, vec![job_id.clone()], "the job was resubmitted");
    assert_eq!(savepoint_objects(&rig).await?, Vec::<String>::new(), "a savepoint was taken");

    // A window in Sydney opening 15 s from now: the request waits for it, then runs.
    let opens_ms = (now_ms() + AHEAD.as_millis() as u64) / 1000 * 1000;
    let mut config = cluster_config(&rig.flink);
    config.windows = vec![window_in(&sydney, opens_ms, 10)];
    let windowed = engine_with_client(&rig.records, config, rig.client.clone(), "sydney-reconciler");
    let operation = approved_operation(
        &job_id,
        &artifact,
        Target::Uniform { parallelism: 2 },
        Strategy::Savepoint,
        Duration::from_secs(90),
    )?;
    rig.records.create_operation(&operation).await?;
    stays_approved(&rig, &windowed, &operation.id, &job_id, instant_of(opens_ms)).await?;
    let done = drive(&windowed, &rig.records, &operation.id, Duration::from_secs(120)).await?;
    assert_eq!(done.phase, Phase::Completed, "events: {:#?}", done.events);
    assert!(started_at(&done) >= opens_ms, "started before the window opened");
    let job = rig.job(done.new_job_id.as_deref().expect("a new job")).await?;
    assert!(job.vertices.iter().all(|vertex| vertex.parallelism == 2), "not rescaled: {:?}", job.vertices);
    Ok(())
}
