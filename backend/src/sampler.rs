//! The load sampler: the vertex metrics of every running job of every cluster, sampled on a
//! schedule into its deployment's load history (`Records::record_load_sample`; a job the product
//! does not manage yet keeps its own, see `history::owner`), for the job page's charts and the
//! recommendations.
//!
//! The reconcile loop calls [`LoadSampler::sample_if_due`] on every pass (locally on its timer,
//! on AWS in the scheduled reconcile Lambda); it samples at most every [`SAMPLE_INTERVAL`]. Each
//! sample reads what the job runs now through the cluster seam (`Cluster::load_sample`, one
//! metrics call per vertex) and appends it to the deployment's history by compare-and-swap. A
//! job that is not running (stopped for a rescale, restarting) gives no sample; a kind of cluster
//! that shows no per-vertex load (MSF) is skipped. Two reconcilers sampling the same moment store
//! one sample: the history keeps samples at least `history::MIN_SPACING_MS` apart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rescaler_shared::flink::JobStatus;
use rescaler_shared::history;

use crate::cluster::{Cluster, ClusterError, ClusterRegistry};
use crate::records::Records;

/// How often the loop samples at most: 24 h of history at this pace is 2,880 samples, of which
/// the last two hours are kept as taken.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(30);
/// Jobs of one cluster sampled at once.
const CONCURRENT_JOBS: usize = 8;

/// What one round of sampling did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleReport {
    /// Samples taken and handed to the history.
    pub sampled: usize,
    /// Jobs listed as running that were no longer running when sampled.
    pub not_running: usize,
    /// Clusters or jobs that could not be sampled (tried again next round).
    pub failures: usize,
    /// The jobs sampled, as (cluster id, job id): what `request` mode looks at next.
    pub jobs: Vec<(String, String)>,
}

/// The sampler with its own pace (see the module documentation).
#[derive(Debug)]
pub struct LoadSampler {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Default for LoadSampler {
    fn default() -> Self {
        Self::new(SAMPLE_INTERVAL)
    }
}

impl LoadSampler {
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: Mutex::new(None) }
    }

    /// Runs [`sample`] unless a round began less than the interval ago.
    pub async fn sample_if_due(
        &self,
        records: &Records,
        clusters: &ClusterRegistry,
        now_ms: u64,
    ) -> Option<SampleReport> {
        {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < self.interval) {
                return None;
            }
            *last = Some(Instant::now());
        }
        Some(sample(records, clusters, now_ms).await)
    }
}

/// Samples every running job of every cluster now: one job list per cluster, then one sample
/// per job.
pub async fn sample(records: &Records, clusters: &ClusterRegistry, now_ms: u64) -> SampleReport {
    let mut report = SampleReport::default();
    for cluster in clusters.iter() {
        sample_cluster(records, cluster.as_ref(), now_ms, &mut report).await;
    }
    if report.failures > 0 {
        tracing::info!(?report, "load sampling");
    }
    report
}

/// What became of one deployment's sample.
enum Outcome {
    Sampled,
    NotRunning,
    /// The cluster shows no per-vertex load: none of its deployments can be sampled.
    Unsupported,
    Failed,
}

async fn sample_cluster(records: &Records, cluster: &dyn Cluster, now_ms: u64, report: &mut SampleReport) {
    let cluster_id = &cluster.config().id;
    let (deployments, jobs) = match futures::future::try_join(
        async { records.deployments(cluster_id).await.map_err(ClusterError::from) },
        cluster.jobs(),
    )
    .await
    {
        Ok(both) => both,
        Err(ClusterError::Unsupported(_)) => return,
        Err(error) => {
            tracing::warn!(cluster.id = %cluster_id, %error, "load sampling: jobs or deployments unreadable");
            report.failures += 1;
            return;
        }
    };
    let running: Vec<(String, String)> = jobs
        .iter()
        .filter(|job| job.status == JobStatus::Running)
        .map(|job| (job.id.clone(), history::owner(&deployments, &job.id).to_owned()))
        .collect();
    // Each future owns its strings: futures over borrowed items trip the compiler's
    // higher-ranked `Send` check in the engine's spawned loop.
    let samples = running.into_iter().map(|(job_id, owner)| sample_job(records, cluster, job_id, owner, now_ms));
    let mut outcomes = futures::stream::iter(samples).buffer_unordered(CONCURRENT_JOBS);
    while let Some((job_id, outcome)) = outcomes.next().await {
        match outcome {
            Outcome::Sampled => {
                report.sampled += 1;
                report.jobs.push((cluster_id.clone(), job_id));
            }
            Outcome::NotRunning => report.not_running += 1,
            Outcome::Unsupported => return,
            Outcome::Failed => report.failures += 1,
        }
    }
}

/// Samples job `job_id` into the history of `owner` (see `history::owner`).
async fn sample_job(
    records: &Records,
    cluster: &dyn Cluster,
    job_id: String,
    owner: String,
    now_ms: u64,
) -> (String, Outcome) {
    let outcome = sample_job_into(records, cluster, &job_id, &owner, now_ms).await;
    (job_id, outcome)
}

async fn sample_job_into(records: &Records, cluster: &dyn Cluster, job_id: &str, owner: &str, now_ms: u64) -> Outcome {
    let cluster_id = &cluster.config().id;
    let sample = match cluster.load_sample(job_id, now_ms).await {
        Ok(Some(sample)) => sample,
        Ok(None) => return Outcome::NotRunning,
        Err(ClusterError::Unsupported(_)) => return Outcome::Unsupported,
        Err(error) => {
            tracing::debug!(cluster.id = %cluster_id, job.id = %job_id, %error, "load sample failed");
            return Outcome::Failed;
        }
    };
    match records.record_load_sample(cluster_id, owner, &sample, now_ms).await {
        Ok(()) => Outcome::Sampled,
        Err(error) => {
            tracing::warn!(cluster.id = %cluster_id, job.id = %job_id, history.owner = %owner, %error, "load sample not stored");
            Outcome::Failed
        }
    }
}
