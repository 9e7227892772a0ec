//! `request` mode: the recommender files the request itself, as requester
//! [`RECOMMENDER`], through the same pre-flight and creation as a person's request
//! (`requests`); a person still approves it, it is never approved here.
//!
//! For each job the loop has just sampled on a cluster in `request` mode: when the
//! recommendation asks for a change and the job has no open request, the request's intent is
//! first written on the deployment (`Deployment::recommended_request`: its id, derived from the
//! deployment and the newest sample, and the time) by compare-and-swap, then the request is
//! created under that id. A crash between the two leaves the intent, which the next round
//! completes under the same id; two reconcilers race for the intent and one wins. The intent's
//! time, or the time the request ended if that is later, is the rate limit: no second request
//! for the deployment within `min_request_interval_ms` of either, even when the first was
//! rejected, expired or failed. Two filers of one intent create one request (the second's
//! create finds the id taken and answers the job busy). One request
//! per sustained overload, then: while it is open nothing else is filed, after it ran the
//! recommendation says "no change" if it helped, and the interval holds back a rejected one.

use rescaler_shared::api::CreateRescale;
use rescaler_shared::deployment::RecommendedRequest;
use rescaler_shared::operation::{Operation, Strategy, Target, derive_flink_id};
use rescaler_shared::recommend::{RECOMMENDER, Recommendation, RecommendationMode, Verdict};
use rescaler_shared::schedule::{UtcOffset, describe_instant};

use crate::cluster::{Cluster, ClusterResult};
use crate::config::ApprovalConfig;
use crate::records::{CreateError, Records};
use crate::requests::{self, Filed};

/// A request's reason is at most this long (as `POST /rescales` allows).
const MAX_REASON_CHARS: usize = 2000;

/// Files the recommended request for job `job_id` if one is due; answers it when filed now.
pub async fn file_if_due(
    records: &Records,
    cluster: &dyn Cluster,
    approvals: &ApprovalConfig,
    job_id: &str,
    now_ms: u64,
) -> ClusterResult<Option<Operation>> {
    let config = cluster.config();
    if config.recommendations.mode != RecommendationMode::Request {
        return Ok(None);
    }
    let Some(answer) = super::job_recommendation(records, cluster, job_id, now_ms).await? else { return Ok(None) };
    let Some(recommendation) = answer.recommendation.filter(|_| answer.open_request.is_none()) else {
        return Ok(None);
    };
    let changes = recommendation.changes();
    if recommendation.verdict == Verdict::NoChange || changes.is_empty() {
        return Ok(None);
    }
    let request = CreateRescale {
        cluster_id: config.id.clone(),
        job_id: job_id.to_owned(),
        target: Target::PerVertex { parallelism: changes },
        strategy: Strategy::Auto,
        reason: reason(&config.id, &recommendation, answer.samples, answer.from_ms, answer.to_ms),
        not_before_ms: None,
        autoscaling: None,
    };
    let Some(checked) = requests::preflight(records, cluster, &request, now_ms).await? else { return Ok(None) };
    if let Some(refusal) = checked.refusal() {
        tracing::warn!(cluster.id = %config.id, job.id = %job_id, %refusal, "recommended request not filed");
        return Ok(None);
    }
    let Some(id) = claim(records, cluster, &checked.job_name, job_id, answer.to_ms.unwrap_or(now_ms), now_ms).await?
    else {
        return Ok(None);
    };
    let filed = Filed { id: &id, by: RECOMMENDER, at_ms: now_ms };
    match requests::store_request(records, cluster, approvals, &request, checked, filed).await {
        Ok(operation) => {
            tracing::info!(cluster.id = %config.id, job.id = %job_id, operation.id = %operation.id, "recommended request filed");
            Ok(Some(operation))
        }
        Err(CreateError::JobBusy { .. }) => Ok(None),
        Err(CreateError::Store(error)) => Err(error.into()),
    }
}

/// Writes (or finds) the intent on the job's deployment; answers the id to file under, or
/// `None` when the rate limit holds, the request already exists, or another reconciler won.
async fn claim(
    records: &Records,
    cluster: &dyn Cluster,
    job_name: &str,
    job_id: &str,
    newest_sample_ms: u64,
    now_ms: u64,
) -> ClusterResult<Option<String>> {
    let cluster_id = &cluster.config().id;
    let interval_ms = cluster.config().recommendations.min_request_interval_ms;
    let adopted = records.adopt_job(cluster_id, job_id, job_name, now_ms).await?;
    let versions = records.deployments_with_versions(cluster_id).await?;
    let Some((mut deployment, version)) = versions.into_iter().find(|(deployment, _)| deployment.id == adopted.id)
    else {
        return Ok(None);
    };
    if let Some(previous) = &deployment.recommended_request {
        match records.operation(&previous.operation_id).await? {
            // An intent a crash left without its request: finish it within the interval.
            None if now_ms < previous.at_ms.saturating_add(interval_ms) => {
                return Ok(Some(previous.operation_id.clone()));
            }
            None => {}
            // Never a second request while the last one is open; after it ended (rejected,
            // expired, failed, done), not before the interval has passed since it ended.
            Some((operation, _)) if !operation.is_terminal() => return Ok(None),
            Some((operation, _)) => {
                let ended_ms = operation.phase_history.last().map_or(previous.at_ms, |span| span.started_at_ms);
                if now_ms < ended_ms.max(previous.at_ms).saturating_add(interval_ms) {
                    return Ok(None);
                }
            }
        }
    }
    let id = derive_flink_id(&deployment.id, &format!("recommendation-{newest_sample_ms}"));
    deployment.recommended_request = Some(RecommendedRequest { operation_id: id.clone(), at_ms: now_ms });
    match records.replace_deployment(&deployment, &version).await {
        Ok(_) => Ok(Some(id)),
        Err(error) if error.is_conflict() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The request's reason: who filed it and why, with the figures and the samples behind it.
fn reason(
    cluster_id: &str,
    recommendation: &Recommendation,
    samples: usize,
    from: Option<u64>,
    to: Option<u64>,
) -> String {
    let reasons: Vec<&str> = recommendation
        .vertices
        .iter()
        .filter(|vertex| vertex.target != vertex.current)
        .map(|vertex| vertex.reason.as_str())
        .collect();
    let span = match (from, to) {
        (Some(from), Some(to)) => {
            format!(", {} to {} UTC", describe_instant(from, UtcOffset(0)), describe_instant(to, UtcOffset(0)))
        }
        _ => String::new(),
    };
    let text = format!(
        "Filed by the recommender (request mode on cluster {cluster_id}): {}. {}. Based on {samples} load samples{span}.",
        recommendation.summary,
        reasons.join(". ")
    );
    text.chars().take(MAX_REASON_CHARS).collect()
}
