//! Flink's own account of an in-place rescale, read through the one Flink boundary: the rescale
//! history (Flink 2.3 and later), the details of each rescale within the request's window, or
//! why there is none (the job gone, or no history kept, told apart by the job and the version).

use rescaler_shared::flink_rescales::{ExecutionWindow, FlinkRescaleAccount};

use super::ClusterResult;
use crate::flink::FlinkClient;

/// At most this many rescales of one request are read in detail (the history keeps at most
/// `web.adaptive-scheduler.rescale-history.size` of them).
const MAX_DETAILED: usize = 10;

/// The rescales Flink recorded for `job_id` within `window`, each with its scheduler states
/// and vertices, or why Flink has none.
pub(super) async fn account(
    client: &dyn FlinkClient,
    job_id: &str,
    window: ExecutionWindow,
) -> ClusterResult<FlinkRescaleAccount> {
    let Some(history) = client.rescale_history(job_id).await? else {
        if client.job(job_id).await?.is_none() {
            return Ok(FlinkRescaleAccount::job_gone(window, job_id));
        }
        let cluster = client.cluster_overview().await?;
        return Ok(FlinkRescaleAccount::not_kept(window, &cluster.flink_version));
    };
    let summaries = FlinkRescaleAccount::recorded(window, history);
    let mut rescales = Vec::with_capacity(summaries.rescales.len());
    for (index, summary) in summaries.rescales.into_iter().enumerate() {
        // The list leaves out vertices and scheduler states; a rescale Flink dropped from its
        // history since is shown as listed.
        let detail = if index < MAX_DETAILED { client.rescale_details(job_id, &summary.id).await? } else { None };
        rescales.push(detail.unwrap_or(summary));
    }
    Ok(FlinkRescaleAccount::recorded(window, rescales))
}
