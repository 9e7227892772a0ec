//! The job graph and load samples of a self-run cluster (`Cluster::job_graph`,
//! `Cluster::load_sample` of `StandaloneCluster`) on a real Flink 2.3 running the sample job.
//!
//! The sample job's source subtasks are throttled to `--rate` records a second each, so the
//! source vertex's records out is known in advance: rate × parallelism. Flink's per-second rates
//! are meters over a 60 s window that start at zero, so they reach the true rate only once the
//! job has run about a minute: the test samples until they do (or a deadline passes).

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use harness::paths::ScratchStores;
use harness::rig::{cluster_config, flink_client};
use harness::{FlinkCluster, FlinkOptions};
use rescaler_backend::cluster::{Cluster, StandaloneCluster};
use rescaler_backend::records::Records;
use rescaler_shared::history::{LoadSample, VertexSample};
use rescaler_shared::recommend::GraphVertex;

/// Records a second per source subtask.
const RATE: f64 = 150.0;
const PARALLELISM: u32 = 2;
/// How far a measured rate may be from the expected one.
const TOLERANCE: f64 = 0.1;
const UNKNOWN_JOB: &str = "00000000000000000000000000000bad";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_job_shows_its_graph_and_its_known_load() -> anyhow::Result<()> {
    harness::init_tracing();
    let flink = FlinkCluster::start(FlinkOptions::default()).await?;
    let stores = ScratchStores::new("load-sample");
    let cluster = StandaloneCluster::new(cluster_config(&flink), flink_client(&flink)?, Records::new(stores.store()?));
    let outcome = scenario(&flink, &cluster).await;
    if let Err(error) = outcome {
        anyhow::bail!("{error:#}\njobmanager log tail:\n{}", flink.jobmanager_log_tail(25));
    }
    Ok(())
}

async fn scenario(flink: &FlinkCluster, cluster: &StandaloneCluster) -> anyhow::Result<()> {
    ensure!(cluster.job_graph(UNKNOWN_JOB).await?.is_none(), "a graph for an unknown job");
    ensure!(cluster.load_sample(UNKNOWN_JOB, 1).await?.is_none(), "a sample of an unknown job");

    let rate = RATE.to_string();
    let job_id = flink.submit_sample_job(PARALLELISM, &["--rate", &rate, "--keys", "256"]).await?;
    flink.wait_job_running(&job_id, Duration::from_secs(60)).await?;
    let plan = flink.get_json(&format!("/jobs/{job_id}")).await?["plan"].clone();
    println!("flink's plan: {plan}");

    let graph = cluster.job_graph(&job_id).await?.context("no graph for the running job")?;
    println!("job graph: {graph:#?}");
    ensure!(graph.vertices.len() == 2, "two chains expected: {graph:?}");
    let source = vertex_named(&graph.vertices, "Sequence")?;
    let counter = vertex_named(&graph.vertices, "Counter")?;
    ensure!(graph.vertices[0].id == source.id, "the source comes first: {graph:?}");
    ensure!(source.source && source.inputs.is_empty() && !source.keyed, "source vertex: {source:?}");
    ensure!(counter.keyed && !counter.source, "the counter reads a keyBy: {counter:?}");
    ensure!(counter.inputs == vec![source.id.clone()], "the counter reads the source: {counter:?}");
    ensure!(counter.max_parallelism == 128 && counter.parallelism == PARALLELISM, "counter: {counter:?}");

    let sample = sample_at_rate(cluster, &job_id, &source.id, &counter.id).await?;
    let source_sample = sample.vertices.iter().find(|vertex| vertex.id == source.id).context("no source")?;
    ensure!(source_sample.name == source.name && source_sample.parallelism == PARALLELISM, "{source_sample:?}");
    for vertex in &sample.vertices {
        for busy in [vertex.busy_ms_per_s_avg, vertex.busy_ms_per_s_max] {
            let busy = busy.with_context(|| format!("no busy time for {}", vertex.name))?;
            ensure!((0.0..=1000.0).contains(&busy), "busy {busy} out of range: {vertex:?}");
        }
        let (average, busiest) = (vertex.busy_ms_per_s_avg, vertex.busy_ms_per_s_max);
        ensure!(average <= busiest, "average busy above the busiest subtask's: {vertex:?}");
        let backpressured = vertex.backpressured_ms_per_s_max.context("no back-pressure figure")?;
        ensure!((0.0..=1000.0).contains(&backpressured), "back-pressure {backpressured}: {vertex:?}");
    }

    // A job that is no longer running has no load to sample (the JobManager may show the
    // cancel a moment late: its job details are cached for `web.refresh-interval`).
    cluster.client().cancel_job(&job_id).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.load_sample(&job_id, now_ms()).await?.is_some() {
        ensure!(Instant::now() < deadline, "still sampled 20 s after the cancel");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(cluster.job_graph(&job_id).await?.is_some(), "a cancelled job still has its graph");
    Ok(())
}

fn vertex_named<'a>(vertices: &'a [GraphVertex], part: &str) -> anyhow::Result<&'a GraphVertex> {
    vertices.iter().find(|vertex| vertex.name.contains(part)).with_context(|| format!("no vertex named *{part}*"))
}

/// Samples every 5 s until the source sends rate × parallelism and the counter receives as much
/// (both within the tolerance); every sample is printed.
async fn sample_at_rate(
    cluster: &StandaloneCluster,
    job_id: &str,
    source_id: &str,
    counter_id: &str,
) -> anyhow::Result<LoadSample> {
    let expected = RATE * f64::from(PARALLELISM);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(150);
    loop {
        // None until the job has run Flink's 60 s metric window (`METRICS_SETTLED_AFTER_MS`).
        let Some(sample) = cluster.load_sample(job_id, now_ms()).await? else {
            ensure!(Instant::now() < deadline, "no sample of the running job in 150 s");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        };
        ensure!(sample.job_id == job_id && sample.vertices.len() == 2, "{sample:?}");
        let find = |id: &str| sample.vertices.iter().find(|vertex| vertex.id == id).cloned();
        let (source, counter) = (find(source_id).context("no source")?, find(counter_id).context("no counter")?);
        println!("after {:>5.1} s: {}", started.elapsed().as_secs_f64(), describe(&[&source, &counter]));
        let sent = source.records_out_per_s.unwrap_or(0.0);
        let received = counter.records_in_per_s.unwrap_or(0.0);
        if near(sent, expected) && near(received, sent) {
            println!("source sends {sent:.1}/s (expected {expected}), counter receives {received:.1}/s");
            return Ok(sample);
        }
        ensure!(
            Instant::now() < deadline,
            "the rates never reached {expected}/s: source out {sent}, counter in {received}"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

fn near(measured: f64, expected: f64) -> bool {
    (measured - expected).abs() <= expected * TOLERANCE
}

fn describe(vertices: &[&VertexSample]) -> String {
    let figure = |value: Option<f64>| value.map_or("-".to_owned(), |value| format!("{value:.1}"));
    vertices
        .iter()
        .map(|vertex| {
            format!(
                "{} (p{}): busy avg {} max {}, back-pressured avg {} max {}, in {}/s, out {}/s, pending {}",
                vertex.name,
                vertex.parallelism,
                figure(vertex.busy_ms_per_s_avg),
                figure(vertex.busy_ms_per_s_max),
                figure(vertex.backpressured_ms_per_s_avg),
                figure(vertex.backpressured_ms_per_s_max),
                figure(vertex.records_in_per_s),
                figure(vertex.records_out_per_s),
                figure(vertex.pending_records),
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
