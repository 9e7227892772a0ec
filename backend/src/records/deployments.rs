//! Deployments: a managed job's one identity across resubmits, and the index from every Flink
//! job id it has had back to it.
//!
//! | key | what |
//! |---|---|
//! | `deployments/<cluster>/<deployment>.json` | a [`Deployment`], rewritten by compare-and-swap |
//! | `deployment-of/<cluster>/<job>.json` | which deployment a Flink job id belongs to (create-only) |

use rescaler_shared::deployment::Deployment;
use rescaler_shared::operation::Operation;
use serde::{Deserialize, Serialize};

use super::{Records, ignore_conflict};
use crate::store::{JsonStore, StoreError, StoreResult, Version};

/// What the `deployment-of/` index entry of a job holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DeploymentOf {
    deployment_id: String,
}

fn deployment_key(cluster_id: &str, deployment_id: &str) -> String {
    format!("deployments/{cluster_id}/{deployment_id}.json")
}

fn index_key(cluster_id: &str, job_id: &str) -> String {
    format!("deployment-of/{cluster_id}/{job_id}.json")
}

/// Compare-and-swap attempts before a deployment write gives up for this pass.
const WRITE_ATTEMPTS: usize = 5;

impl Records {
    pub async fn deployment(&self, cluster_id: &str, deployment_id: &str) -> StoreResult<Option<Deployment>> {
        Ok(self.store.get_json(&deployment_key(cluster_id, deployment_id)).await?.map(|(d, _)| d))
    }

    /// The deployment a Flink job id belongs to, if the product manages it.
    pub async fn deployment_of_job(&self, cluster_id: &str, job_id: &str) -> StoreResult<Option<Deployment>> {
        let Some((index, _)) = self.store.get_json::<DeploymentOf>(&index_key(cluster_id, job_id)).await? else {
            return Ok(None);
        };
        Ok(self.store.get_json(&deployment_key(cluster_id, &index.deployment_id)).await?.map(|(d, _)| d))
    }

    /// The job's deployment; a job the product does not manage yet becomes a deployment of its
    /// own (idempotent: two callers adopting at once get the same one).
    pub async fn adopt_job(&self, cluster_id: &str, job_id: &str, name: &str, now_ms: u64) -> StoreResult<Deployment> {
        if let Some(deployment) = self.deployment_of_job(cluster_id, job_id).await? {
            return Ok(deployment);
        }
        let deployment = Deployment::adopt(cluster_id, job_id, name, now_ms);
        // The deployment before its index entry: the index never points at nothing.
        ignore_conflict(self.store.create_json(&deployment_key(cluster_id, &deployment.id), &deployment).await)?;
        let index = DeploymentOf { deployment_id: deployment.id.clone() };
        ignore_conflict(self.store.create_json(&index_key(cluster_id, job_id), &index).await)?;
        self.deployment_of_job(cluster_id, job_id).await?.ok_or_else(|| StoreError::Corrupt {
            key: index_key(cluster_id, job_id),
            detail: "the deployment it names is missing".to_owned(),
        })
    }

    /// Records in the operation's deployment the jobs it submitted (idempotent). Nothing to do
    /// for an operation that submitted none.
    ///
    /// Once the operation has ended after executing, what it left running becomes the
    /// deployment's approved run (see `Deployment::settle`), which the drift check compares
    /// Flink with.
    pub async fn follow_operation(&self, operation: &Operation, now_ms: u64) -> StoreResult<()> {
        if rescaler_shared::deployment::submitted_job_ids(operation).is_empty()
            && !rescaler_shared::deployment::settles(operation)
        {
            return Ok(());
        }
        let deployment_id = self.deployment_id_of(operation, now_ms).await?;
        let key = deployment_key(&operation.cluster_id, &deployment_id);
        for _ in 0..WRITE_ATTEMPTS {
            let Some((mut deployment, version)) = self.store.get_json::<Deployment>(&key).await? else {
                return Err(StoreError::Corrupt { key, detail: "deployment disappeared".to_owned() });
            };
            // Already followed: the index entries were written before the lineage named them.
            let followed = deployment.follow(operation, now_ms);
            let settled = deployment.settle(operation, now_ms);
            if !followed && !settled {
                return Ok(());
            }
            // Index entries before the lineage (normally written before the submit already):
            // once the deployment names a job, the job leads back to it.
            for job_id in rescaler_shared::deployment::submitted_job_ids(operation) {
                self.index_job(&operation.cluster_id, job_id, &deployment.id).await?;
            }
            match self.store.replace_json(&key, &deployment, &version).await {
                Ok(_) => return Ok(()),
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Conflict { key })
    }

    /// Before a job is submitted under `job_id`: its index entry names the operation's
    /// deployment, so that the job leads back to the deployment from the moment it exists (a
    /// request on it joins the same deployment, and waits for this operation to end).
    pub async fn reserve_job_id(&self, operation: &Operation, job_id: &str, now_ms: u64) -> StoreResult<()> {
        let deployment_id = self.deployment_id_of(operation, now_ms).await?;
        self.index_job(&operation.cluster_id, job_id, &deployment_id).await
    }

    /// The operation's deployment: the one it names, or (records from before deployments) its
    /// job's.
    async fn deployment_id_of(&self, operation: &Operation, now_ms: u64) -> StoreResult<String> {
        if !operation.deployment_id.is_empty() {
            return Ok(operation.deployment_id.clone());
        }
        let deployment = self.adopt_job(&operation.cluster_id, &operation.job_id, &operation.job_name, now_ms).await?;
        Ok(deployment.id)
    }

    /// Points `job_id` at a deployment (create-only). An entry naming another deployment is
    /// left as it is and reported: the index never moves a job between deployments.
    async fn index_job(&self, cluster_id: &str, job_id: &str, deployment_id: &str) -> StoreResult<()> {
        let key = index_key(cluster_id, job_id);
        let entry = DeploymentOf { deployment_id: deployment_id.to_owned() };
        match self.store.create_json(&key, &entry).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_conflict() => {
                if let Some((existing, _)) = self.store.get_json::<DeploymentOf>(&key).await?
                    && existing != entry
                {
                    tracing::error!(
                        cluster.id = cluster_id,
                        job.id = job_id,
                        deployment.id = deployment_id,
                        deployment.indexed = %existing.deployment_id,
                        "job already belongs to another deployment"
                    );
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Every deployment of a cluster.
    pub async fn deployments(&self, cluster_id: &str) -> StoreResult<Vec<Deployment>> {
        Ok(self.deployments_with_versions(cluster_id).await?.into_iter().map(|(deployment, _)| deployment).collect())
    }

    /// Every deployment of a cluster, with the version to compare-and-swap it from.
    pub async fn deployments_with_versions(&self, cluster_id: &str) -> StoreResult<Vec<(Deployment, Version)>> {
        let mut deployments = Vec::new();
        for key in self.store.list(&format!("deployments/{cluster_id}/")).await? {
            if let Some(entry) = self.store.get_json::<Deployment>(&key).await? {
                deployments.push(entry);
            }
        }
        Ok(deployments)
    }

    /// Compare-and-swap write of a deployment (the drift check claims a change with it).
    pub async fn replace_deployment(&self, deployment: &Deployment, expected: &Version) -> StoreResult<Version> {
        self.store.replace_json(&deployment_key(&deployment.cluster_id, &deployment.id), deployment, expected).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rescaler_shared::operation::{Operation, OperationEvent, event_kind};

    use crate::records::{CreateError, Records};
    use crate::store::DirStore;

    const FIRST_JOB: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const NEW_JOB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn records() -> (tempfile::TempDir, Records) {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
        (dir, records)
    }

    fn request(id: &str, job_id: &str, deployment_id: &str) -> Operation {
        let mut operation = crate::records::tests::request(id, job_id);
        operation.deployment_id = deployment_id.to_owned();
        operation
    }

    #[tokio::test]
    async fn a_job_submitted_for_a_deployment_leads_back_to_it_before_and_after_it_runs() {
        let (_dir, records) = records();
        let deployment = records.adopt_job("c", FIRST_JOB, "counter", 1).await.expect("adopt");
        let mut operation = request("op1", FIRST_JOB, &deployment.id);
        // Reserved before the submit: a request on the new job joins the same deployment.
        records.reserve_job_id(&operation, NEW_JOB, 2).await.expect("reserve");
        assert_eq!(records.adopt_job("c", NEW_JOB, "counter", 3).await.expect("adopt").id, FIRST_JOB);
        // Once submitted, the lineage follows and the new job is current.
        operation.new_job_id = Some(NEW_JOB.to_owned());
        operation.record(OperationEvent::by_system(4, event_kind::JOB_SUBMITTED, "submitted"));
        records.follow_operation(&operation, 4).await.expect("follow");
        records.follow_operation(&operation, 5).await.expect("follow again");
        let deployment = records.deployment_of_job("c", NEW_JOB).await.expect("read").expect("deployment");
        assert_eq!(deployment.current_job_id, NEW_JOB);
        assert_eq!(deployment.job_ids().collect::<Vec<_>>(), [FIRST_JOB, NEW_JOB]);
        assert_eq!(records.deployments("c").await.expect("list").len(), 1, "no second deployment");
    }

    #[tokio::test]
    async fn one_active_request_per_deployment_whichever_job_id_it_names() {
        let (_dir, records) = records();
        let first = request("op1", FIRST_JOB, FIRST_JOB);
        records.create_operation(&first).await.expect("first request");
        // The first request's new job is being verified; a request on it must wait.
        let refused = records.create_operation(&request("op2", NEW_JOB, FIRST_JOB)).await;
        assert!(
            matches!(&refused, Err(CreateError::JobBusy { operation_id, .. }) if operation_id == "op1"),
            "{refused:?}"
        );
        assert_eq!(records.active_operation_for("c", FIRST_JOB).await.expect("read").as_deref(), Some("op1"));
        // Records from before deployments keep one marker per job.
        records.create_operation(&request("op3", "cccccccccccccccccccccccccccccccc", "")).await.expect("legacy");
    }
}
