//! Program arguments, which often carry credentials, leave the API only for callers who may link
//! jobs on the cluster (the shared rule, `user_action::may_link_jobs`); everyone else gets them
//! empty, and the console, asking the same rule, shows them hidden.

use rescaler_shared::api::JobLink;
use rescaler_shared::operation::Operation;
use rescaler_shared::user_action::may_link_jobs;

use crate::auth::Identity;

/// The operation as `identity` may read it: without the arguments it resubmits the job with.
pub(super) fn operation(mut operation: Operation, identity: &Identity) -> Operation {
    if !may_link_jobs(identity, &operation.cluster_id)
        && let Some(artifact) = &mut operation.artifact
    {
        artifact.args.clear();
    }
    operation
}

/// The job link as `identity` may read it: without the job's arguments.
pub(super) fn link(mut link: JobLink, identity: &Identity) -> JobLink {
    if !may_link_jobs(identity, &link.cluster_id) {
        link.args.clear();
    }
    link
}
