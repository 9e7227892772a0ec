//! The load-test job (`LoadTestJob`) on real Flink: its busy time and throughput are the ones its
//! arguments predict. At 500 records/s and 1 ms a record, one Work subtask is about half busy and
//! takes every record; raised through the rate file to 1500 records/s, Work is saturated (about
//! 1000 ms busy a second, about 1000 records/s) and the source is back-pressured with a growing
//! backlog. Flink's per-second metrics average a 60 s window, so each phase is read 65 s (the
//! overloaded one 80 s) after it began; the counters' own deltas over 60 s are checked beside them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use harness::paths::scratch_dir;
use harness::{FlinkCluster, FlinkOptions, Scheduler};
use serde_json::Value;

/// Cost of one record in Work, in microseconds.
const COST_US: f64 = 1000.0;
/// The first rate: 50 % busy at one subtask.
const LOW_RATE: f64 = 500.0;
/// The raised rate: 150 % of one subtask's capacity.
const HIGH_RATE: f64 = 1500.0;
/// How long a phase runs before it is read: Flink's metric windows are 60 s.
const SETTLE: Duration = Duration::from_secs(65);
/// The raised phase runs longer: the network buffers between Source and Work fill first.
const SETTLE_OVERLOADED: Duration = Duration::from_secs(80);
/// The span over which counter deltas are taken: longer than Flink's metric fetcher interval
/// (10 s), so that the read after it starts a new fetch round, and long enough that not knowing
/// when within a few seconds a round ran moves the rates by a few per cent only.
const DELTA_SPAN: Duration = Duration::from_secs(60);
/// Long enough for one metric fetch round on a local cluster to land.
const FETCH_ROUND: Duration = Duration::from_secs(3);

/// One vertex's figures: Flink's windowed gauges and meters, and rates from counter deltas.
#[derive(Debug)]
struct Figures {
    busy_avg: f64,
    backpressured_avg: f64,
    records_in_per_s: f64,
    records_out_per_s: f64,
    /// `numRecordsIn` (Work) or `numRecordsOut` (Source) per second between the two fetch rounds (about [`DELTA_SPAN`] and the reads apart).
    delta_records_per_s: f64,
    /// `accumulateBusyTimeMs` per second between the two rounds, averaged over subtasks.
    delta_busy_ms_per_s: f64,
}

/// The id of the job's vertex whose name contains `name`.
async fn vertex_id(cluster: &FlinkCluster, job_id: &str, name: &str) -> anyhow::Result<String> {
    let detail = cluster.get_json(&format!("/jobs/{job_id}")).await?;
    let vertex = detail["vertices"]
        .as_array()
        .and_then(|vertices| vertices.iter().find(|v| v["name"].as_str().is_some_and(|n| n.contains(name))))
        .with_context(|| format!("no vertex named like {name}: {detail}"))?;
    Ok(vertex["id"].as_str().context("vertex without id")?.to_owned())
}

/// `metric` of the vertex, aggregated over its subtasks with `agg` (`avg`, `sum`, `max`).
async fn metric(cluster: &FlinkCluster, job_id: &str, vertex: &str, metric: &str, agg: &str) -> anyhow::Result<f64> {
    let path = format!("/jobs/{job_id}/vertices/{vertex}/subtasks/metrics?get={metric}&agg={agg}");
    let answer = cluster.get_json(&path).await?;
    let value = answer.as_array().and_then(|list| list.first()).map(|entry| &entry[agg]);
    match value {
        Some(Value::Number(number)) => number.as_f64().context("not a float"),
        Some(Value::String(text)) => text.parse().with_context(|| format!("{metric}: {text}")),
        _ => anyhow::bail!("{path} answered {answer}"),
    }
}

/// The source's backlog: its operator's `pendingRecords` (the id carries the operator's name).
async fn backlog(cluster: &FlinkCluster, job_id: &str, vertex: &str) -> anyhow::Result<f64> {
    let listing = cluster.get_json(&format!("/jobs/{job_id}/vertices/{vertex}/subtasks/metrics")).await?;
    let id = listing
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["id"].as_str())
        .find(|id| id.ends_with(".pendingRecords"))
        .with_context(|| format!("the source reports no pendingRecords: {listing}"))?
        .to_owned();
    metric(cluster, job_id, vertex, &id, "sum").await
}

/// Makes the next metric answers current. Flink's REST metric handlers answer from the
/// JobManager's metric store and only then start a fetch round in the background (at most one
/// per `metrics.fetcher.update-interval`, 10 s), so the first answer after a pause is as old as
/// the pause: ask once, and read after the round has landed.
async fn fresh_metrics(cluster: &FlinkCluster, job_id: &str, vertex: &str) -> anyhow::Result<std::time::Instant> {
    // The answer is the stale one (it may even be empty): only the request matters.
    let asked = std::time::Instant::now();
    cluster.get_json(&format!("/jobs/{job_id}/vertices/{vertex}/subtasks/metrics?get=numRecordsIn")).await?;
    tokio::time::sleep(FETCH_ROUND).await;
    // The round the request started is about this old.
    Ok(asked)
}

/// Flink's figures for the vertex now, and counter deltas over the next [`DELTA_SPAN`].
async fn figures(cluster: &FlinkCluster, job_id: &str, vertex: &str, count: &str) -> anyhow::Result<Figures> {
    let before = fresh_metrics(cluster, job_id, vertex).await?;
    let subtasks = {
        let detail = cluster.get_json(&format!("/jobs/{job_id}/vertices/{vertex}")).await?;
        detail["parallelism"].as_f64().context("vertex without parallelism")?
    };
    let busy_avg = metric(cluster, job_id, vertex, "busyTimeMsPerSecond", "avg").await?;
    let backpressured_avg = metric(cluster, job_id, vertex, "backPressuredTimeMsPerSecond", "avg").await?;
    let records_in_per_s = metric(cluster, job_id, vertex, "numRecordsInPerSecond", "sum").await?;
    let records_out_per_s = metric(cluster, job_id, vertex, "numRecordsOutPerSecond", "sum").await?;
    let records_before = metric(cluster, job_id, vertex, count, "sum").await?;
    let busy_before = metric(cluster, job_id, vertex, "accumulateBusyTimeMs", "sum").await?;
    tokio::time::sleep(DELTA_SPAN).await;
    let after = fresh_metrics(cluster, job_id, vertex).await?;
    let records_after = metric(cluster, job_id, vertex, count, "sum").await?;
    let busy_after = metric(cluster, job_id, vertex, "accumulateBusyTimeMs", "sum").await?;
    // The counters are as of the two fetch rounds, which began when each was asked for.
    let span = after.duration_since(before).as_secs_f64();
    Ok(Figures {
        busy_avg,
        backpressured_avg,
        records_in_per_s,
        records_out_per_s,
        delta_records_per_s: (records_after - records_before) / span,
        delta_busy_ms_per_s: (busy_after - busy_before) / span / subtasks,
    })
}

/// Writes the rate file whole (a rename), so the job never reads half a number.
fn write_rate(path: &std::path::Path, rate: f64) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{rate}\n"))?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

fn within(value: f64, expected: f64, tolerance: f64) -> bool {
    (value - expected).abs() <= expected * tolerance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_test_job_is_as_busy_as_its_rate_and_cost_predict_on_real_flink() -> anyhow::Result<()> {
    harness::init_tracing();
    // 4 KiB network buffers instead of 32 KiB: with 32 KiB the buffers between Source and Work
    // hold about 40 s of the overload (measured) before the source feels any back-pressure.
    let options = FlinkOptions {
        extra_config: BTreeMap::from([("taskmanager.memory.segment-size".to_owned(), "4kb".to_owned())]),
        ..FlinkOptions::default().with_scheduler(Scheduler::Default)
    };
    let cluster = FlinkCluster::start(options).await?;
    let rate_file = scratch_dir("load-test-rate")?.join("rate");
    write_rate(&rate_file, LOW_RATE)?;
    let rate_path = rate_file.display().to_string();
    let cost = COST_US.to_string();
    // --rate differs from the file's: the file must win.
    let args = ["--rate", "100", "--rate-file", rate_path.as_str(), "--cost-us", cost.as_str()];
    let job_id = cluster.submit_load_test_job(1, &args).await?;
    let detail = cluster.wait_job_running(&job_id, Duration::from_secs(60)).await?;
    let vertices = detail["vertices"].as_array().cloned().unwrap_or_default();
    assert_eq!(vertices.len(), 2, "the source, and Work chained with the sink: {detail}");
    let work = vertex_id(&cluster, &job_id, "Work").await?;
    let source = vertex_id(&cluster, &job_id, "Source").await?;
    assert_ne!(work, source);

    // Phase 1: 500 records/s at 1 ms each on one subtask: 500 ms busy a second.
    tokio::time::sleep(SETTLE).await;
    let (low_work, low_source) = tokio::try_join!(
        figures(&cluster, &job_id, &work, "numRecordsIn"),
        figures(&cluster, &job_id, &source, "numRecordsOut")
    )?;
    println!("rate {LOW_RATE}/s, cost {COST_US} us, p=1: Work {low_work:?}; Source {low_source:?}");
    let expected_busy = LOW_RATE * COST_US / 1e3;
    assert!(within(low_work.busy_avg, expected_busy, 0.2), "Work busy {low_work:?}, expected {expected_busy}");
    assert!(within(low_work.delta_busy_ms_per_s, expected_busy, 0.2), "Work busy delta {low_work:?}");
    assert!(within(low_work.records_in_per_s, LOW_RATE, 0.15), "Work records in {low_work:?}");
    assert!(within(low_work.delta_records_per_s, LOW_RATE, 0.15), "Work records delta {low_work:?}");
    assert!(within(low_source.records_out_per_s, LOW_RATE, 0.15), "Source records out {low_source:?}");
    // The source waits between records as idle time, and nothing holds it back.
    assert!(low_source.busy_avg < 200.0, "the throttled source is mostly idle: {low_source:?}");
    assert!(low_source.backpressured_avg < 100.0, "no back-pressure at 50 % busy: {low_source:?}");
    let low_backlog = backlog(&cluster, &job_id, &source).await?;
    assert!(low_backlog < LOW_RATE, "no backlog builds at 50 % busy: {low_backlog}");

    // Phase 2: 1500 records/s, half again what one subtask takes: Work saturates, the source
    // is back-pressured and a backlog grows.
    write_rate(&rate_file, HIGH_RATE)?;
    tokio::time::sleep(SETTLE_OVERLOADED).await;
    let backlog_before = backlog(&cluster, &job_id, &source).await?;
    let backlog_since = std::time::Instant::now();
    let (high_work, high_source) = tokio::try_join!(
        figures(&cluster, &job_id, &work, "numRecordsIn"),
        figures(&cluster, &job_id, &source, "numRecordsOut")
    )?;
    let backlog_after = backlog(&cluster, &job_id, &source).await?;
    let backlog_span = backlog_since.elapsed().as_secs_f64();
    println!(
        "rate {HIGH_RATE}/s, cost {COST_US} us, p=1: Work {high_work:?}; Source {high_source:?}; \
         backlog {backlog_before} -> {backlog_after}"
    );
    let capacity = 1e6 / COST_US;
    assert!(high_work.busy_avg >= 900.0, "Work saturated: {high_work:?}");
    assert!(high_work.delta_busy_ms_per_s >= 900.0, "Work saturated, by delta: {high_work:?}");
    assert!(within(high_work.records_in_per_s, capacity, 0.15), "Work takes what it can: {high_work:?}");
    assert!(high_work.delta_records_per_s < HIGH_RATE * 0.8, "Work cannot keep up: {high_work:?}");
    assert!(high_source.backpressured_avg > 500.0, "the source is back-pressured: {high_source:?}");
    // Half the raised rate is left over each second: the backlog grows by about 500 a second.
    let growth = (backlog_after - backlog_before) / backlog_span;
    assert!(growth > (HIGH_RATE - capacity) * 0.5, "backlog grows {growth}/s: {backlog_before} -> {backlog_after}");
    Ok(())
}
