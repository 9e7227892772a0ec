//! A job's load history and recommendation as the API answers them, computed in one place for
//! the job page and for the `request` mode that files them (`rescaler_shared::recommend` is the
//! pure rule; this module gathers its input: the cluster's settings, the job graph from the
//! cluster, the history from the store).

use rescaler_shared::api::{JobLoadHistory, JobRecommendation};
use rescaler_shared::deployment::Deployment;
use rescaler_shared::history::{self, LoadHistory};
use rescaler_shared::recommend::{self, JobGraph, RecommendationInput, RecommendationMode};

use crate::cluster::{Cluster, ClusterError, ClusterResult};
use crate::records::Records;
use crate::sampler::SAMPLE_INTERVAL;

pub mod filing;

/// Whose history job `job_id` has, and the deployment when the product manages the job.
async fn owner_of(records: &Records, cluster_id: &str, job_id: &str) -> ClusterResult<(String, Option<String>)> {
    let deployments: Vec<Deployment> = records.deployments(cluster_id).await?;
    let owner = history::owner(&deployments, job_id).to_owned();
    let managed = deployments.iter().any(|deployment| deployment.id == owner);
    Ok((owner.clone(), managed.then_some(owner)))
}

/// The job's stored load history at `now_ms`, with the rescales it shows.
pub async fn job_history(
    records: &Records,
    cluster: &dyn Cluster,
    job_id: &str,
    now_ms: u64,
) -> ClusterResult<JobLoadHistory> {
    let cluster_id = &cluster.config().id;
    let (owner, deployment_id) = owner_of(records, cluster_id, job_id).await?;
    let history = records.load_history(cluster_id, &owner, now_ms).await?;
    let stabilisation_ms = cluster.config().recommendations.policy.stabilisation_ms;
    Ok(JobLoadHistory {
        deployment_id,
        sample_interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
        rescales: history.rescales(stabilisation_ms),
        history,
    })
}

/// The recommendation for job `job_id` at `now_ms` under its cluster's settings. `Ok(None)`
/// when the cluster does not know the job.
pub async fn job_recommendation(
    records: &Records,
    cluster: &dyn Cluster,
    job_id: &str,
    now_ms: u64,
) -> ClusterResult<Option<JobRecommendation>> {
    let config = cluster.config();
    let settings = config.recommendations;
    let (owner, deployment_id) = owner_of(records, &config.id, job_id).await?;
    let mut answer = JobRecommendation {
        mode: settings.mode,
        deployment_id: deployment_id.clone(),
        recommendation: None,
        reason: String::new(),
        samples: 0,
        from_ms: None,
        to_ms: None,
        open_request: None,
        policy: settings.policy,
    };
    if settings.mode == RecommendationMode::Off {
        answer.reason = format!("recommendations are off for cluster {}", config.id);
        return Ok(Some(answer));
    }
    let (graph, history, open_request) =
        futures::future::join3(cluster.job_graph(job_id), records.load_history(&config.id, &owner, now_ms), async {
            match &deployment_id {
                Some(deployment) => records.active_operation_for(&config.id, deployment).await,
                None => Ok(None),
            }
        })
        .await;
    let graph = match graph {
        Ok(Some(graph)) => graph,
        Ok(None) => return Ok(None),
        Err(ClusterError::Unsupported(why)) => {
            answer.reason = format!("no recommendation: {why}");
            return Ok(Some(answer));
        }
        Err(error) => return Err(error),
    };
    if graph.vertices.is_empty() {
        answer.reason = format!(
            "no recommendation yet: Flink has not planned job {job_id} (a job still waiting for its task slots has no plan)"
        );
        return Ok(Some(answer));
    }
    let history = history?;
    answer.open_request = open_request?;
    answer.recommendation = Some(recommend_from(&graph, &history, &settings.policy, now_ms, &mut answer));
    Ok(Some(answer))
}

/// Runs the pure rule on the job's graph and history; notes the samples it read in `answer`.
fn recommend_from(
    graph: &JobGraph,
    history: &LoadHistory,
    policy: &recommend::Policy,
    now_ms: u64,
    answer: &mut JobRecommendation,
) -> recommend::Recommendation {
    let from_ms = now_ms.saturating_sub(policy.evaluation_window_ms);
    let in_window: Vec<u64> =
        history.samples.iter().map(|sample| sample.at_ms).filter(|at| (from_ms..=now_ms).contains(at)).collect();
    answer.samples = in_window.len();
    answer.from_ms = in_window.first().copied();
    answer.to_ms = in_window.last().copied();
    let input = RecommendationInput {
        now_ms,
        graph: graph.clone(),
        window: history.window(),
        history: history.rescales(policy.stabilisation_ms),
        policy: *policy,
    };
    recommend::recommend(&input)
}
