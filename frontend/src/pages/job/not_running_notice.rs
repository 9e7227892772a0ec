//! Why a job cannot be rescaled when it is not running, and the job a rescale replaced it with.

use leptos::prelude::*;
use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;

use crate::fetch::Fetch;
use crate::format::short_id;

/// The notice on a job that is not running.
#[component]
pub fn NotRunningNotice(
    /// The job's cluster.
    cluster_id: String,
    /// The job.
    job_id: String,
    /// The job's status, not running.
    status: JobStatus,
    /// The job's requests: a completed one that moved it to a new job id names its replacement.
    operations: Fetch<Vec<Operation>>,
) -> impl IntoView {
    let replaced_by = move || {
        operations.get().and_then(Result::ok).and_then(|operations| {
            operations.into_iter().find(|op| op.phase.name() == PhaseName::Completed && op.current_job_id() != job_id)
        })
    };
    view! {
        <div class="notice notice-warn" role="status">
            {format!("This job is {}; only a running job can be rescaled.", status.label())}
            {move || replaced_by().map(|op| {
                let new_job = op.current_job_id().to_owned();
                view! {
                    " It was rescaled into "
                    <a href=rescaler_shared::console_path::job(&cluster_id, &new_job) id="replacement-job-link">{format!("job {}", short_id(&new_job))}</a>
                    " by "<a href=format!("/rescales/{}", op.id)>{format!("request #{}", short_id(&op.id))}</a>"."
                }
            })}
        </div>
    }
}
