//! The drift check: notices changes made to managed jobs outside the product.
//!
//! Flink's Web UI can rescale, submit and cancel jobs, and anyone who reaches the REST API can
//! send new resource requirements. For every deployment with no request executing, the check
//! reads what Flink runs (one job list per cluster, then the detail of the one job that shows
//! how the deployment runs) and compares it with the deployment's record
//! (`Deployment::drift`, pure, in `shared`). A difference the product did not cause is an
//! out-of-band change: it is claimed on the deployment by compare-and-swap, then written to the
//! audit log under a key derived from the claim, then marked audited. Of two reconcilers, only
//! the one whose claim lands writes; after a crash between the claim and the event, the next
//! check writes the same key again, so each change is audited exactly once.
//!
//! Architecture Invariant: the product's own changes are never out-of-band — a deployment with
//! an operation past approval (or ended but not yet released) is not compared, and what a
//! request leaves running becomes the approved run before its marker is released
//! (`Records::follow_operation`).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rescaler_shared::api::AuditEvent;
use rescaler_shared::deployment::{Deployment, Drift};
use rescaler_shared::drift::{self, JobToRead, ListedJob, OUT_OF_BAND_ACTION};
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;

use crate::cluster::{Cluster, ClusterError, ClusterRegistry};
use crate::records::{Records, read_many};
use crate::store::{StoreError, StoreResult, Version};

#[cfg(test)]
mod tests;

/// How often the reconcile loop runs the check at most.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Why a check of one cluster or deployment failed (it is tried again at the next check).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// Deployments compared with Flink.
    pub deployments: usize,
    /// Deployments whose running job was recorded as approved for the first time.
    pub baselines: usize,
    /// Out-of-band changes this check claimed and audited.
    pub out_of_band: usize,
    /// Clusters or deployments that could not be checked.
    pub failures: usize,
}

/// The check with its own pace: the reconcile loop calls [`DriftCheck::check_if_due`] every
/// pass, and it runs at most every `interval`.
#[derive(Debug)]
pub struct DriftCheck {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Default for DriftCheck {
    fn default() -> Self {
        Self::new(CHECK_INTERVAL)
    }
}

impl DriftCheck {
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: Mutex::new(None) }
    }

    /// Runs [`check_with`] unless one ran less than the interval ago.
    pub async fn check_if_due(
        &self,
        records: &Records,
        clusters: &ClusterRegistry,
        now_ms: u64,
        busy: Option<Busy>,
    ) -> Option<DriftReport> {
        {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < self.interval) {
                return None;
            }
            *last = Some(Instant::now());
        }
        Some(check_with(records, clusters, now_ms, busy).await)
    }
}

/// `(cluster, deployment)` pairs that are not compared with Flink: see [`holds_deployment`].
pub type Busy = HashSet<(String, String)>;

/// The deployment `operation` keeps from being compared, if any: an operation past approval
/// (or ended, its marker not released yet) — what runs there is the product's doing, or about
/// to be.
pub fn holds_deployment(operation: &Operation) -> Option<(String, String)> {
    (operation.phase.name() != PhaseName::AwaitingApproval)
        .then(|| (operation.cluster_id.clone(), operation.managed_job_id().to_owned()))
}

/// Compares every idle deployment of every cluster with what Flink runs, now.
pub async fn check(records: &Records, clusters: &ClusterRegistry, now_ms: u64) -> DriftReport {
    check_with(records, clusters, now_ms, None).await
}

/// [`check`], with the busy deployments as a pass that has just read every active operation
/// saw them, if it did (they are read here otherwise). Before a change is called out of band
/// they are read again in any case: a request may have been approved since.
pub async fn check_with(records: &Records, clusters: &ClusterRegistry, now_ms: u64, busy: Option<Busy>) -> DriftReport {
    let mut report = DriftReport::default();
    let busy = match busy {
        Some(busy) => busy,
        None => match busy_deployments(records).await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::warn!(%error, "drift check: active operations unreadable");
                report.failures += 1;
                return report;
            }
        },
    };
    for cluster in clusters.iter() {
        if let Err(error) = check_cluster(records, cluster.as_ref(), &busy, now_ms, &mut report).await {
            tracing::warn!(cluster.id = %cluster.config().id, %error, "drift check failed");
            report.failures += 1;
        }
    }
    if report.out_of_band > 0 || report.failures > 0 {
        tracing::info!(?report, "drift check");
    }
    report
}

/// The deployments every active operation holds ([`holds_deployment`]), read now.
async fn busy_deployments(records: &Records) -> StoreResult<Busy> {
    let ids = records.active_operation_ids().await?;
    let reads: Vec<_> = ids.iter().map(|id| records.operation(id)).collect();
    let operations = read_many(reads).await?;
    Ok(operations.into_iter().flatten().filter_map(|(operation, _)| holds_deployment(&operation)).collect())
}

/// What became of one deployment.
enum Outcome {
    Unchanged,
    Baseline,
    OutOfBand,
}

async fn check_cluster(
    records: &Records,
    cluster: &dyn Cluster,
    busy: &HashSet<(String, String)>,
    now_ms: u64,
    report: &mut DriftReport,
) -> Result<(), DriftError> {
    let cluster_id = cluster.config().id.clone();
    let deployments = records.deployments_with_versions(&cluster_id).await?;
    let idle: Vec<&(Deployment, Version)> = deployments
        .iter()
        .filter(|(deployment, _)| !busy.contains(&(cluster_id.clone(), deployment.id.clone())))
        .collect();
    if idle.is_empty() {
        return Ok(());
    }
    // One job list per cluster and check, whatever the number of deployments.
    let jobs = cluster.jobs().await?;
    let listing: Vec<ListedJob<'_>> = jobs
        .iter()
        .map(|job| ListedJob { id: &job.id, name: &job.name, status: job.status, start_time_ms: job.start_time_ms })
        .collect();
    // A job some deployment knows (in its lineage, or seen replacing its job) is nobody's resubmit.
    let known = |job_id: &str| {
        deployments.iter().any(|(deployment, _)| {
            deployment.has_job(job_id) || deployment.out_of_band.as_ref().is_some_and(|seen| seen.seen.job_id == job_id)
        })
    };
    for (deployment, version) in idle {
        report.deployments += 1;
        match check_deployment(records, cluster, deployment, version, &listing, &known, now_ms).await {
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Baseline) => report.baselines += 1,
            Ok(Outcome::OutOfBand) => report.out_of_band += 1,
            Err(error) => {
                tracing::warn!(cluster.id = %cluster_id, deployment.id = %deployment.id, %error, "drift check failed");
                report.failures += 1;
            }
        }
    }
    Ok(())
}

async fn check_deployment(
    records: &Records,
    cluster: &dyn Cluster,
    deployment: &Deployment,
    version: &Version,
    listing: &[ListedJob<'_>],
    known: &(dyn Fn(&str) -> bool + Sync),
    now_ms: u64,
) -> Result<Outcome, DriftError> {
    if deployment.out_of_band.as_ref().is_some_and(|out_of_band| !out_of_band.audited) {
        // Claimed, but the claimer stopped before its event was written: write it now.
        audit_claimed(records, deployment, version, now_ms).await?;
        return Ok(Outcome::Unchanged);
    }
    let seen = match drift::job_to_read(deployment.watched_job_id(), &deployment.name, listing, known) {
        JobToRead::Known(run) => run,
        JobToRead::Detail(job_id) => {
            let job = cluster.job(&job_id).await?;
            match drift::settled(&job_id, job.as_ref()) {
                Some(run) => run,
                // Mid-transition: look again at the next check.
                None => return Ok(Outcome::Unchanged),
            }
        }
    };
    let mut claimed = deployment.clone();
    match deployment.drift(&seen, now_ms) {
        Drift::Unchanged => Ok(Outcome::Unchanged),
        Drift::Baseline(approved) => {
            claimed.approved = Some(approved);
            Ok(match claim(records, &claimed, version).await? {
                Some(_) => Outcome::Baseline,
                None => Outcome::Unchanged,
            })
        }
        Drift::OutOfBand(out_of_band) => {
            // A request approved since the check began may be what changed the job.
            if busy_deployments(records).await?.contains(&(deployment.cluster_id.clone(), deployment.id.clone())) {
                return Ok(Outcome::Unchanged);
            }
            claimed.out_of_band = Some(out_of_band);
            let Some(version) = claim(records, &claimed, version).await? else {
                // Another reconciler claimed this change (or the deployment moved on).
                return Ok(Outcome::Unchanged);
            };
            audit_claimed(records, &claimed, &version, now_ms).await?;
            tracing::warn!(
                cluster.id = %claimed.cluster_id,
                deployment.id = %claimed.id,
                message = claimed.out_of_band.as_ref().map_or("", |change| change.message.as_str()),
                "out-of-band change"
            );
            Ok(Outcome::OutOfBand)
        }
    }
}

/// Writes the deployment from `version`; `None` when someone else wrote it first.
async fn claim(records: &Records, deployment: &Deployment, version: &Version) -> StoreResult<Option<Version>> {
    match records.replace_deployment(deployment, version).await {
        Ok(version) => Ok(Some(version)),
        Err(error) if error.is_conflict() => Ok(None),
        Err(error) => Err(error),
    }
}

/// The audit event of the deployment's claimed change (its key derives from the claim, so it
/// is written once) and its notifications (each created only if absent), then the claim
/// marked audited.
async fn audit_claimed(records: &Records, deployment: &Deployment, version: &Version, now_ms: u64) -> StoreResult<()> {
    let Some(out_of_band) = &deployment.out_of_band else { return Ok(()) };
    let event = AuditEvent {
        at_ms: out_of_band.at_ms,
        actor: "system".to_owned(),
        action: OUT_OF_BAND_ACTION.to_owned(),
        operation_id: None,
        cluster_id: Some(deployment.cluster_id.clone()),
        job_id: Some(out_of_band.seen.job_id.clone()),
        message: format!("{}: {}", deployment.name, out_of_band.message),
    };
    records.audit(&event, &format!("out-of-band-{}", deployment.id)).await?;
    records.enqueue_out_of_band(deployment, out_of_band, now_ms).await?;
    let mut audited = deployment.clone();
    if let Some(out_of_band) = &mut audited.out_of_band {
        out_of_band.audited = true;
    }
    claim(records, &audited, version).await.map(|_| ())
}
