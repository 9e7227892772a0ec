//! The harness starts a real Flink cluster and the sample job runs on it.

use std::time::Duration;

use harness::{FlinkCluster, FlinkOptions, Scheduler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_job_submitted_over_rest_runs_and_counts_on_real_flink() -> anyhow::Result<()> {
    harness::init_tracing();
    let cluster = FlinkCluster::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let overview = cluster.get_json("/overview").await?;
    assert_eq!(overview["slots-total"], 4);
    assert!(overview["flink-version"].as_str().is_some_and(|v| cluster.options.version.starts_with(v)));

    let job_id = cluster.submit_sample_job(2, &[]).await?;
    let detail = cluster.wait_job_running(&job_id, Duration::from_secs(60)).await?;
    let vertices = detail["vertices"].as_array().expect("vertices");
    assert_eq!(vertices.len(), 2, "source chain and counter chain: {detail}");
    assert!(vertices.iter().all(|vertex| vertex["parallelism"] == 2), "{detail}");

    // The counter really counts: it meets every key fresh on a first run, and counts rise.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let fresh = cluster.counter_metric(&job_id, "freshKeys").await?;
        let max = cluster.counter_metric(&job_id, "maxCount").await?;
        if fresh == Some(512.0) && max.is_some_and(|m| m >= 2.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "counter metrics never settled: fresh {fresh:?}, max {max:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
