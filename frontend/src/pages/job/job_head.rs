//! The job page's heading: the job's name, status, id, scheduler, checkpointing, start and
//! linked artifact.

use leptos::prelude::*;
use rescaler_shared::api::JobLink;
use rescaler_shared::flink::JobView;

use crate::format::{self, job_status_tone};

/// The heading of the job page.
#[component]
pub fn JobHead(
    /// The job as Flink reports it.
    job: JobView,
    /// The artifact the job was linked to, if any.
    link: Option<JobLink>,
) -> impl IntoView {
    let link = match (&link, &job.application) {
        (_, Some(application)) => format!("MSF application, {}", application.runtime),
        (Some(link), None) => format!("artifact {}", &link.artifact_sha256[..link.artifact_sha256.len().min(12)]),
        (None, None) => "no artifact linked (savepoint rescales need one)".to_owned(),
    };
    let flink_facts = job.application.is_none().then(|| {
        view! {
            <span>{format!("{} scheduler", job.scheduler.label())}</span>
            <span>{if job.checkpointing { "checkpointing on" } else { "checkpointing off" }}</span>
            <span>{format!("started {}", format::time(job.start_time_ms))}</span>
        }
    });
    view! {
        <div class="page-head">
            <div>
                <h1 id="job-title">{job.name.clone()}</h1>
                <p class="meta">
                    <span class=format!("pill tone-{}", job_status_tone(job.status)) id="job-status">{job.status.label()}</span>
                    <span class="mono">{job.id.clone()}</span>
                    {flink_facts}
                    <span>{link}</span>
                </p>
            </div>
        </div>
    }
}
