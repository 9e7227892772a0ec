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
use crate::store::{JsonStore, StoreError, StoreResult};

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
    pub async fn follow_operation(&self, operation: &Operation, now_ms: u64) -> StoreResult<()> {
        if rescaler_shared::deployment::submitted_job_ids(operation).is_empty() {
            return Ok(());
        }
        let deployment = self.adopt_job(&operation.cluster_id, &operation.job_id, &operation.job_name, now_ms).await?;
        let key = deployment_key(&operation.cluster_id, &deployment.id);
        for _ in 0..WRITE_ATTEMPTS {
            let Some((mut deployment, version)) = self.store.get_json::<Deployment>(&key).await? else {
                return Err(StoreError::Corrupt { key, detail: "deployment disappeared".to_owned() });
            };
            // Index entries first: once the deployment names a job, the job leads back to it.
            let index = DeploymentOf { deployment_id: deployment.id.clone() };
            for job_id in rescaler_shared::deployment::submitted_job_ids(operation) {
                ignore_conflict(self.store.create_json(&index_key(&operation.cluster_id, job_id), &index).await)?;
            }
            if !deployment.follow(operation, now_ms) {
                return Ok(());
            }
            match self.store.replace_json(&key, &deployment, &version).await {
                Ok(_) => return Ok(()),
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Conflict { key })
    }

    /// Every deployment of a cluster.
    pub async fn deployments(&self, cluster_id: &str) -> StoreResult<Vec<Deployment>> {
        let mut deployments = Vec::new();
        for key in self.store.list(&format!("deployments/{cluster_id}/")).await? {
            if let Some((deployment, _)) = self.store.get_json::<Deployment>(&key).await? {
                deployments.push(deployment);
            }
        }
        Ok(deployments)
    }
}
