//! Filing a rescale request: the one path from "rescale this job to that target" to a stored
//! request awaiting approval, for a person (`POST /api/v1/rescales`) and for the recommender in
//! `request` mode (`recommendations::filing`). Both run the same pre-flight against the cluster
//! as it is now, take the same approval terms from the configuration, adopt the job as a
//! deployment and create the request under the one-open-request-per-job rule.

use rescaler_shared::api::{CreateRescale, PreflightResponse};
use rescaler_shared::downtime::scales_up;
use rescaler_shared::operation::{ArtifactRef, Operation, OperationRequest, Strategy};
use rescaler_shared::preflight;

use crate::cluster::{Cluster, ClusterResult};
use crate::config::ApprovalConfig;
use crate::downtime;
use crate::records::{CreateError, Records, link_artifact};

/// Pre-flight of a request against the job and cluster as they are now.
#[derive(Debug, Clone)]
pub struct Checked {
    pub response: PreflightResponse,
    /// What the request would resubmit: the artifact the job is linked to, if any.
    pub artifact: Option<ArtifactRef>,
    pub job_name: String,
}

impl Checked {
    /// Every reason pre-flight refused, in one sentence; `None` when it passed.
    pub fn refusal(&self) -> Option<String> {
        let reasons: Vec<&str> = self.response.failures.iter().map(|failure| failure.message.as_str()).collect();
        (!self.response.ok).then(|| format!("pre-flight failed: {}", reasons.join("; ")))
    }
}

/// Pre-flight against live Flink, as at execution time; `Ok(None)` when the cluster does not
/// know the job.
pub async fn preflight(
    records: &Records,
    cluster: &dyn Cluster,
    request: &CreateRescale,
    now_ms: u64,
) -> ClusterResult<Option<Checked>> {
    let Some(job) = cluster.job(&request.job_id).await? else { return Ok(None) };
    let cluster_view = cluster.overview().await?;
    let link = records.job_link(&request.cluster_id, &request.job_id).await?;
    let artifact = link.as_ref().map(link_artifact);
    let check = |strategy: Strategy| {
        preflight::check(
            &request.target,
            strategy,
            &job,
            &cluster_view,
            cluster.config().savepoint_dir.as_deref(),
            artifact.is_some(),
            request.autoscaling,
        )
    };
    let response = match check(request.strategy) {
        Ok(plan) => {
            // The requested strategy's outage first, then the other strategies pre-flight allows.
            let mut strategies = vec![plan.strategy];
            for other in [Strategy::Savepoint, Strategy::InPlace] {
                if let Ok(other) = check(other)
                    && !strategies.contains(&other.strategy)
                {
                    strategies.push(other.strategy);
                }
            }
            let scale_up = scales_up(&plan.original, &plan.target);
            let deployment = records.deployment_of_job(&request.cluster_id, &request.job_id).await?;
            let deployment_id = deployment.as_ref().map(|deployment| deployment.id.as_str());
            let downtime =
                downtime::predictions(records, cluster, deployment_id, &request.job_id, &strategies, scale_up, now_ms)
                    .await?;
            PreflightResponse { ok: true, plan: Some(plan), failures: Vec::new(), downtime }
        }
        Err(failures) => PreflightResponse { ok: false, plan: None, failures, downtime: Vec::new() },
    };
    Ok(Some(Checked { response, artifact, job_name: job.name }))
}

/// Stores request `id` (pre-flight passed: `checked`) by `requested_by`, on the cluster's and the
/// configuration's approval terms: the job is adopted as a deployment first (idempotent), then
/// the request is created, which refuses a second open request on the job; its `requested`
/// event is audited (a failed audit write is backfilled by the reconciler).
pub async fn store_request(
    records: &Records,
    cluster: &dyn Cluster,
    approvals: &ApprovalConfig,
    request: &CreateRescale,
    checked: Checked,
    filed: Filed<'_>,
) -> Result<Operation, CreateError> {
    let operation = Operation::new(
        filed.id.to_owned(),
        OperationRequest {
            cluster_id: request.cluster_id.clone(),
            job_id: request.job_id.clone(),
            job_name: checked.job_name,
            target: request.target.clone(),
            strategy: request.strategy,
            reason: request.reason.trim().to_owned(),
            requested_by: filed.by.to_owned(),
            required_approvals: cluster.config().required_approvals.unwrap_or(approvals.default_required).max(1),
            approval_window_ms: approvals.expire_after_secs.saturating_mul(1000),
            verify_timeout_ms: approvals.verify_timeout_secs.saturating_mul(1000),
            artifact: checked.artifact,
            autoscaling: request.autoscaling,
        },
        filed.at_ms,
    );
    let deployment = records.adopt_job(&request.cluster_id, &request.job_id, &operation.job_name, filed.at_ms).await?;
    let plan_strategy = checked.response.plan.as_ref().map(|plan| plan.strategy);
    let operation = Operation {
        predicted_outage: checked.response.downtime.iter().find(|p| Some(p.strategy) == plan_strategy).cloned(),
        deployment_id: deployment.id,
        stable_for_ms: approvals.stable_for_secs.saturating_mul(1000),
        not_before_ms: request.not_before_ms,
        ..operation
    };
    records.create_operation(&operation).await?;
    if let Err(error) = records.audit_operation_events(&operation, 0).await {
        tracing::warn!(operation.id = %operation.id, %error, "audit write failed");
    }
    Ok(operation)
}

/// Who files a request, when, under which id.
#[derive(Debug, Clone, Copy)]
pub struct Filed<'a> {
    pub id: &'a str,
    pub by: &'a str,
    pub at_ms: u64,
}
