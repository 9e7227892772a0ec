//! Load history (`records/history.rs`) on the directory store and on LocalStack: three simulated
//! hours of samples every 30 s read back at full resolution for the last two hours and in
//! five-minute points before, nothing older than a day later on; a rescale inside a bucket not
//! averaged across; a retried sample stored once; two writers at once losing no sample; a writer
//! stopped between the day write and the recent trim showing no sample twice; documents that do
//! not parse refused with an error, documents out of time order repaired on read.

use std::sync::Arc;

use harness::S3Server;
use rescaler_backend::records::Records;
use rescaler_backend::store::{JsonStore, S3Store, Store, StoreError};
use rescaler_shared::history::{self, BUCKET_MS, DAY_MS, LoadHistory, LoadSample, RECENT_MS, VertexSample};

const CLUSTER: &str = "history";
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const STEP: u64 = 30_000;
/// A simulated start, on a bucket boundary.
const START: u64 = 500_000 * HOUR;

fn day_key(deployment_id: &str) -> String {
    format!("history/{CLUSTER}/{deployment_id}/day.json")
}

fn recent_key(deployment_id: &str) -> String {
    format!("history/{CLUSTER}/{deployment_id}/recent.json")
}

/// The map's busy time at `at_ms`: varies from sample to sample, so that a mean is checkable.
fn busy_at(at_ms: u64) -> f64 {
    ((at_ms - START) / STEP % 7) as f64 * 100.0 + 50.0
}

/// A source at parallelism 1 and `map` at `parallelism`, busy `busy` ms a second.
fn sample(at_ms: u64, job_id: &str, parallelism: u32, busy: f64) -> LoadSample {
    let vertex = |id: &str, parallelism: u32, busy: f64| VertexSample {
        id: id.to_owned(),
        name: format!("{id} operator"),
        parallelism,
        busy_ms_per_s_avg: Some(busy),
        busy_ms_per_s_max: Some(busy + 10.0),
        backpressured_ms_per_s_avg: Some(0.0),
        backpressured_ms_per_s_max: Some(0.0),
        records_in_per_s: Some(busy * 4.0),
        records_out_per_s: Some(busy * 4.0),
        pending_records: (id == "source").then_some(busy * 100.0),
    };
    LoadSample {
        at_ms,
        job_id: job_id.to_owned(),
        folded: 1,
        vertices: vec![vertex("source", 1, 5.0), vertex("map", parallelism, busy)],
    }
}

/// The usual sample of job1 at 2 subtasks at `at_ms`.
fn sample_at(at_ms: u64) -> LoadSample {
    sample(at_ms, "job1", 2, busy_at(at_ms))
}

fn map_busy(sample: &LoadSample) -> Option<f64> {
    sample.vertices.iter().find(|vertex| vertex.id == "map").and_then(|vertex| vertex.busy_ms_per_s_avg)
}

fn times(history: &LoadHistory) -> Vec<u64> {
    history.samples.iter().map(|sample| sample.at_ms).collect()
}

/// Ordered, and no time twice.
fn assert_strictly_ordered(history: &LoadHistory) {
    let times = times(history);
    assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "not strictly ordered: {times:?}");
}

async fn three_hours_then_a_day(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    let deployment = "three-hours";
    let (mut day_writes, mut day_version) = (0, None);
    let end = START + 3 * HOUR;
    for at_ms in (START..end).step_by(STEP as usize) {
        records.record_load_sample(CLUSTER, deployment, &sample(at_ms, "job1", 2, busy_at(at_ms)), at_ms).await?;
        let version = store.get(&day_key(deployment)).await?.map(|(_, version)| version);
        if version != day_version {
            day_writes += 1;
            day_version = version;
        }
    }
    let now_ms = end - STEP;
    // One day write per bucket that left the window (the 11 before START + 55 min), not one per sample.
    assert_eq!(day_writes, 11);
    let history = records.load_history(CLUSTER, deployment, now_ms).await?;
    assert_strictly_ordered(&history);
    assert_eq!(history.name_of("map"), "map operator");
    let (points, taken): (Vec<&LoadSample>, Vec<&LoadSample>) =
        history.samples.iter().partition(|sample| sample.folded > 1);
    // Every sample of the last two hours as taken, and those of the bucket not ended yet.
    let expected_taken: Vec<u64> = (START + 55 * MINUTE..end).step_by(STEP as usize).collect();
    assert_eq!(taken.iter().map(|sample| sample.at_ms).collect::<Vec<_>>(), expected_taken);
    assert!(taken.iter().all(|sample| map_busy(sample) == Some(busy_at(sample.at_ms))));
    assert!(expected_taken[0] <= now_ms - RECENT_MS);
    // Before them, one point per five minutes, the mean of its ten samples.
    assert_eq!(points.len(), 11);
    for (index, point) in points.iter().enumerate() {
        let bucket_start = START + index as u64 * BUCKET_MS;
        assert_eq!((point.at_ms, point.folded), (bucket_start + BUCKET_MS - STEP, 10));
        let mean = (bucket_start..bucket_start + BUCKET_MS).step_by(STEP as usize).map(busy_at).sum::<f64>() / 10.0;
        assert!((map_busy(point).unwrap_or(f64::NAN) - mean).abs() < 0.001, "point {index}: {point:?} vs {mean}");
    }
    assert_eq!(history.resolution_ms, BUCKET_MS);

    // A day later (the job sampled again after a pause): nothing older than 24 h.
    let later_ms = START + 26 * HOUR;
    records.record_load_sample(CLUSTER, deployment, &sample(later_ms, "job1", 2, 100.0), later_ms).await?;
    let history = records.load_history(CLUSTER, deployment, later_ms).await?;
    assert_strictly_ordered(&history);
    assert!(history.samples.iter().all(|sample| sample.at_ms >= later_ms - DAY_MS), "{:?}", times(&history));
    // The points of the third hour (its 12 buckets), then the new sample.
    assert_eq!(history.samples.len(), 12 + 1, "{:?}", times(&history));
    assert_eq!(history.newest_ms(), Some(later_ms));
    // Read without a new sample, later still: readers drop what the documents still hold.
    let history = records.load_history(CLUSTER, deployment, START + 28 * HOUR).await?;
    assert_eq!(times(&history), [later_ms]);
    Ok(())
}

async fn a_rescale_inside_a_bucket_is_not_averaged_across(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store);
    let deployment = "rescaled";
    // Four samples of job1 at 2 subtasks, busy 900; the rescale resubmits it as job2 at 4, busy 300.
    for n in 0..10u64 {
        let at_ms = START + n * STEP;
        let sample = if n < 4 { sample(at_ms, "job1", 2, 900.0) } else { sample(at_ms, "job2", 4, 300.0) };
        records.record_load_sample(CLUSTER, deployment, &sample, at_ms).await?;
    }
    let now_ms = START + RECENT_MS + BUCKET_MS;
    records.record_load_sample(CLUSTER, deployment, &sample(now_ms, "job2", 4, 300.0), now_ms).await?;
    let history = records.load_history(CLUSTER, deployment, now_ms).await?;
    assert_strictly_ordered(&history);
    let points: Vec<(String, u32, u32, Option<f64>)> = history.samples[..2]
        .iter()
        .map(|point| (point.job_id.clone(), point.folded, point.vertices[1].parallelism, map_busy(point)))
        .collect();
    assert_eq!(points, [("job1".to_owned(), 4, 2, Some(900.0)), ("job2".to_owned(), 6, 4, Some(300.0))]);
    assert_eq!(history.samples.len(), 3);
    let rescales = history.rescales(0);
    assert_eq!(rescales.len(), 1);
    assert_eq!((rescales[0].vertices["map"].before, rescales[0].vertices["map"].after), (2, 4));
    Ok(())
}

async fn a_retried_sample_is_stored_once(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    let deployment = "retried";
    let first = sample(START, "job1", 2, 500.0);
    records.record_load_sample(CLUSTER, deployment, &first, START).await?;
    let version = store.get(&recent_key(deployment)).await?.map(|(_, version)| version);
    records.record_load_sample(CLUSTER, deployment, &first, START + 1_000).await?;
    assert_eq!(store.get(&recent_key(deployment)).await?.map(|(_, version)| version), version, "not rewritten");
    records.record_load_sample(CLUSTER, deployment, &sample(START + STEP, "job1", 2, 600.0), START + STEP).await?;
    // Retried again after a later sample was stored.
    records.record_load_sample(CLUSTER, deployment, &first, START + STEP + 1_000).await?;
    let history = records.load_history(CLUSTER, deployment, START + STEP + 1_000).await?;
    assert_eq!(times(&history), [START, START + STEP]);
    Ok(())
}

async fn two_writers_at_once_lose_no_sample(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (first, second) = (Records::new(store.clone()), Records::new(store));
    let deployment = "two-writers";
    // Each writer samples every minute, half a minute apart; they start together.
    let writer = |records: Records, offset_ms: u64| async move {
        for n in 0..40u64 {
            let at_ms = START + n * 2 * STEP + offset_ms;
            records.record_load_sample(CLUSTER, deployment, &sample(at_ms, "job1", 2, busy_at(at_ms)), at_ms).await?;
        }
        anyhow::Ok(())
    };
    let (a, b) = tokio::join!(tokio::spawn(writer(first.clone(), 0)), tokio::spawn(writer(second, STEP)));
    a??;
    b??;
    let history = first.load_history(CLUSTER, deployment, START + 80 * STEP).await?;
    let expected: Vec<u64> = (0..80u64).map(|n| START + n * STEP).collect();
    assert_eq!(times(&history), expected);
    Ok(())
}

async fn a_stop_between_the_day_write_and_the_trim_shows_no_sample_twice(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    let deployment = "stopped";
    let fold_at_ms = START + RECENT_MS + BUCKET_MS;
    for at_ms in (START..fold_at_ms).step_by(STEP as usize) {
        records.record_load_sample(CLUSTER, deployment, &sample(at_ms, "job1", 2, busy_at(at_ms)), at_ms).await?;
    }
    assert!(store.get(&day_key(deployment)).await?.is_none(), "nothing folded yet");
    // A writer at fold_at_ms wrote the day document, then stopped before trimming the recent one.
    let Some((mut recent, _)) = store.get_json::<LoadHistory>(&recent_key(deployment)).await? else {
        anyhow::bail!("no recent document");
    };
    let leaving = history::fold_out(&mut recent, fold_at_ms);
    assert_eq!(leaving.samples.len(), 10);
    let mut day = LoadHistory::day();
    assert!(history::fold_into(&mut day, &leaving, fold_at_ms));
    store.create_json(&day_key(deployment), &day).await?;
    let seen = records.load_history(CLUSTER, deployment, fold_at_ms).await?;
    assert_strictly_ordered(&seen);
    assert_eq!(seen.samples.len(), 1 + 240);
    // The next pass folds nothing twice and trims the recent document.
    let day_version = store.get(&day_key(deployment)).await?.map(|(_, version)| version);
    records.record_load_sample(CLUSTER, deployment, &sample(fold_at_ms, "job1", 2, 100.0), fold_at_ms).await?;
    assert_eq!(store.get(&day_key(deployment)).await?.map(|(_, version)| version), day_version);
    let Some((trimmed, _)) = store.get_json::<LoadHistory>(&recent_key(deployment)).await? else {
        anyhow::bail!("no recent document");
    };
    assert_eq!(trimmed.samples.len(), 241);
    let seen = records.load_history(CLUSTER, deployment, fold_at_ms).await?;
    assert_strictly_ordered(&seen);
    assert_eq!((seen.samples.len(), seen.samples[0].folded), (1 + 241, 10));
    Ok(())
}

async fn corrupt_documents_are_an_error(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    store.create(&recent_key("corrupt"), bytes::Bytes::from_static(b"{\"samples\": 7}")).await?;
    let sample = sample(START, "job1", 2, 1.0);
    let written = records.record_load_sample(CLUSTER, "corrupt", &sample, START).await;
    assert!(matches!(written, Err(StoreError::Corrupt { .. })), "{written:?}");
    let read = records.load_history(CLUSTER, "corrupt", START).await;
    assert!(matches!(read, Err(StoreError::Corrupt { .. })), "{read:?}");
    // Well-formed JSON whose samples are out of order (and one twice) is put in order on read,
    // and the deployment's history carries on.
    let mut unordered = LoadHistory::recent();
    let older = LoadSample { at_ms: START - BUCKET_MS, ..sample.clone() };
    unordered.samples = vec![sample.clone(), older.clone(), sample.clone()];
    store.create_json(&recent_key("unordered"), &unordered).await?;
    let read = records.load_history(CLUSTER, "unordered", START).await?;
    assert_eq!(times(&read), [START - BUCKET_MS, START]);
    let later = sample_at(START + STEP);
    records.record_load_sample(CLUSTER, "unordered", &later, START + STEP).await?;
    let read = records.load_history(CLUSTER, "unordered", START + STEP).await?;
    assert_eq!(times(&read), [START - BUCKET_MS, START, START + STEP]);
    let Some((stored, _)) = store.get_json::<LoadHistory>(&recent_key("unordered")).await? else {
        anyhow::bail!("no recent document");
    };
    assert_eq!(times(&stored), [START - BUCKET_MS, START, START + STEP], "stored in order by the next write");
    Ok(())
}

async fn every_scenario(make_store: impl AsyncFn() -> anyhow::Result<Arc<dyn Store>>) -> anyhow::Result<()> {
    three_hours_then_a_day(make_store().await?).await?;
    a_rescale_inside_a_bucket_is_not_averaged_across(make_store().await?).await?;
    a_retried_sample_is_stored_once(make_store().await?).await?;
    two_writers_at_once_lose_no_sample(make_store().await?).await?;
    a_stop_between_the_day_write_and_the_trim_shows_no_sample_twice(make_store().await?).await?;
    corrupt_documents_are_an_error(make_store().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_history_on_the_directory_store() -> anyhow::Result<()> {
    let dirs = harness::paths::ScratchStores::new("history");
    every_scenario(async || dirs.store()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_history_on_localstack() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = S3Server::start().await?;
    every_scenario(async || {
        let bucket = server.fresh_bucket().await?;
        Ok(Arc::new(S3Store::new(server.client(), bucket, "records")) as Arc<dyn Store>)
    })
    .await
}
