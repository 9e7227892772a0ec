//! Predicted downtime for a request: the pure prediction (`rescaler_shared::downtime`) fed with
//! the job's earlier rescales from the store and its latest checkpoint from the cluster.

use rescaler_shared::downtime::{EarlierOutage, predict};
use rescaler_shared::operation::{OutagePrediction, ResolvedStrategy};

use crate::cluster::{Cluster, ClusterResult};
use crate::records::{OperationSource, Records};

/// The newest requests of a deployment a prediction looks through for earlier outages.
const EARLIER_REQUESTS_READ: usize = 20;

/// The outage predicted for each of `strategies` (the requested one first; a scale-up or not:
/// `scale_up`) for job `job_id`
/// of deployment `deployment_id` (`None`: a job the product does not manage yet, with no
/// earlier rescales).
pub async fn predictions(
    records: &Records,
    cluster: &dyn Cluster,
    deployment_id: Option<&str>,
    job_id: &str,
    strategies: &[ResolvedStrategy],
    scale_up: Option<bool>,
    now_ms: u64,
) -> ClusterResult<Vec<OutagePrediction>> {
    if strategies.is_empty() {
        return Ok(Vec::new());
    }
    let cluster_id = cluster.config().id.as_str();
    let (earlier, checkpoint) = futures::future::join(
        earlier_outages(records, cluster_id, deployment_id, now_ms),
        cluster.latest_checkpoint(job_id),
    )
    .await;
    let (earlier, checkpoint) = (earlier?, checkpoint?);
    Ok(strategies.iter().map(|strategy| predict(*strategy, &earlier, checkpoint.as_ref(), scale_up)).collect())
}

/// The outages of the deployment's newest requests that recorded one.
async fn earlier_outages(
    records: &Records,
    cluster_id: &str,
    deployment_id: Option<&str>,
    now_ms: u64,
) -> ClusterResult<Vec<EarlierOutage>> {
    let Some(deployment_id) = deployment_id else { return Ok(Vec::new()) };
    let source = OperationSource::Deployment {
        cluster_id: cluster_id.to_owned(),
        deployment_id: deployment_id.to_owned(),
        job_ids: Vec::new(),
    };
    let page = records
        .operations_page(&source, None, EARLIER_REQUESTS_READ, &|operation| operation.outage.is_some(), now_ms)
        .await?;
    Ok(page.items.iter().filter_map(EarlierOutage::of).collect())
}
