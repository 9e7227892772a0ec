//! Job links — which artifact, entry class and arguments a job runs, so that a savepoint
//! rescale can resubmit it — and what a new link does: it is audited, and the request waiting
//! for approval on the job takes the new artifact and must be approved again.
//!
//! Audit messages and operation events name the artifact, the entry class and how many program
//! arguments there are, never the arguments themselves: every viewer reads the audit log.

use rescaler_shared::api::{Artifact, AuditEvent, JobLink};
use rescaler_shared::operation::{ArtifactRef, Operation};
use rescaler_shared::user_action;

use super::Records;
use crate::store::{JsonStore, StoreError, StoreResult, Version};

/// Why a link could not be applied to the request on its job.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The request on the job is approved or running: it resubmits what was approved.
    #[error(
        "rescale request {operation_id} on this job is approved and resubmits the code it was approved with; link again once it ended"
    )]
    RequestApproved { operation_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Compare-and-swap attempts on the waiting request before giving up.
const WRITE_ATTEMPTS: usize = 5;

fn link_key(cluster_id: &str, job_id: &str) -> String {
    format!("links/{cluster_id}/{job_id}.json")
}

/// What a request on a linked job resubmits.
pub fn link_artifact(link: &JobLink) -> ArtifactRef {
    ArtifactRef {
        artifact_id: link.artifact_sha256.clone(),
        sha256: link.artifact_sha256.clone(),
        entry_class: link.entry_class.clone(),
        args: link.args.clone(),
    }
}

/// The code a link names, in words, without the arguments.
fn describe(link: &JobLink, artifact: Option<&Artifact>) -> String {
    let file = artifact.map_or_else(|| "an unknown file".to_owned(), |artifact| artifact.file_name.clone());
    let entry_class = link.entry_class.as_deref().unwrap_or("from the jar's manifest");
    let arguments = match link.args.len() {
        1 => "1 program argument".to_owned(),
        count => format!("{count} program arguments"),
    };
    format!("artifact {} ({file}), entry class {entry_class}, {arguments}", link.artifact_sha256)
}

impl Records {
    /// Links a job to the artifact that runs it; a later link replaces an earlier one.
    pub async fn put_job_link(&self, link: &JobLink) -> StoreResult<()> {
        let key = link_key(&link.cluster_id, &link.job_id);
        match self.store.get_json::<JobLink>(&key).await? {
            None => super::ignore_conflict(self.store.create_json(&key, link).await),
            Some((existing, _)) if existing == *link => Ok(()),
            Some((_, version)) => self.store.replace_json(&key, link, &version).await.map(|_| ()),
        }
    }

    pub async fn job_link(&self, cluster_id: &str, job_id: &str) -> StoreResult<Option<JobLink>> {
        Ok(self.store.get_json(&link_key(cluster_id, job_id)).await?.map(|(link, _)| link))
    }

    /// The non-terminal request naming this job (the one its deployment may have), if any.
    pub async fn request_on_job(&self, cluster_id: &str, job_id: &str) -> StoreResult<Option<(Operation, Version)>> {
        let managed_job_id = match self.deployment_of_job(cluster_id, job_id).await? {
            Some(deployment) => deployment.id,
            None => job_id.to_owned(),
        };
        let Some(operation_id) = self.active_operation_for(cluster_id, &managed_job_id).await? else {
            return Ok(None);
        };
        Ok(self
            .operation(&operation_id)
            .await?
            .filter(|(operation, _)| !operation.is_terminal() && operation.job_id == job_id))
    }

    /// Refuses a link that would change what an approved or running request on the job
    /// resubmits.
    pub async fn check_relink(&self, link: &JobLink) -> Result<(), LinkError> {
        match self.request_on_job(&link.cluster_id, &link.job_id).await? {
            Some((operation, _)) if operation.is_active() && operation.artifact != Some(link_artifact(link)) => {
                Err(LinkError::RequestApproved { operation_id: operation.id })
            }
            _ => Ok(()),
        }
    }

    /// The request waiting for approval on the link's job takes the link's artifact, loses its
    /// approvals and says why in an event (audited). Answers the request as written, when it
    /// changed.
    pub async fn apply_link(&self, link: &JobLink, now_ms: u64) -> Result<Option<Operation>, LinkError> {
        let artifact = link_artifact(link);
        let described = describe(link, self.artifact(&link.artifact_sha256).await?.as_ref());
        for _ in 0..WRITE_ATTEMPTS {
            let Some((mut operation, version)) = self.request_on_job(&link.cluster_id, &link.job_id).await? else {
                return Ok(None);
            };
            if operation.is_active() && operation.artifact.as_ref() != Some(&artifact) {
                return Err(LinkError::RequestApproved { operation_id: operation.id });
            }
            let events_before = operation.events.len();
            if !user_action::take_new_artifact(&mut operation, artifact.clone(), &link.linked_by, &described, now_ms) {
                return Ok(None);
            }
            match self.replace_operation(&operation, &version).await {
                Ok(_) => {
                    self.audit_operation_events(&operation, events_before).await?;
                    return Ok(Some(operation));
                }
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Conflict { key: link_key(&link.cluster_id, &link.job_id) }.into())
    }

    /// Audits a person deciding what code a job runs: `action` is `job_linked` or
    /// `job_deployed`, `detail` what else to say (the parallelism of a deployment).
    pub async fn audit_job_link(&self, action: &str, link: &JobLink, detail: &str) -> StoreResult<()> {
        let described = describe(link, self.artifact(&link.artifact_sha256).await?.as_ref());
        let what = if action == JOB_DEPLOYED {
            format!("deployed job {} from", link.job_id)
        } else {
            format!("linked job {} to", link.job_id)
        };
        let event = AuditEvent {
            at_ms: link.linked_at_ms,
            actor: link.linked_by.clone(),
            action: action.to_owned(),
            operation_id: None,
            cluster_id: Some(link.cluster_id.clone()),
            job_id: Some(link.job_id.clone()),
            message: format!("{} {what} {described}{detail}", link.linked_by),
        };
        self.audit(&event, &format!("{action}-{}-{}", link.cluster_id, link.job_id)).await
    }
}

/// The audit action of linking a running job to the code it runs.
pub const JOB_LINKED: &str = "job_linked";
/// The audit action of starting a job from an artifact.
pub const JOB_DEPLOYED: &str = "job_deployed";
