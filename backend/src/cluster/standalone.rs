//! A self-run Flink cluster reached over its JobManager REST API: the savepoint path (stop with
//! a savepoint, resubmit the stored jar from it) and the in-place path (the adaptive
//! scheduler's resource requirements).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use rescaler_shared::flink::{ClusterView, JobView};
use rescaler_shared::operation::{ArtifactRef, Operation};
use rescaler_shared::phase::{Action, Needs, Observation, Seen};

use super::{Cluster, ClusterError, ClusterResult};
use crate::config::ClusterConfig;
use crate::flink::{
    FlinkClient, FlinkError, JobSummary, ParallelismBounds, RestFlinkClient, RestFlinkClientConfig, RestoreMode,
    RunJar, VertexMetrics,
};
use crate::records::Records;

/// A Flink cluster the team runs itself (standalone, session, YARN, Kubernetes session mode).
pub struct StandaloneCluster {
    config: ClusterConfig,
    client: Arc<dyn FlinkClient>,
    records: Records,
}

impl StandaloneCluster {
    pub fn new(config: ClusterConfig, client: Arc<dyn FlinkClient>, records: Records) -> Self {
        Self { config, client, records }
    }

    /// A REST client for the configured endpoint (and its extra header, if any).
    pub fn from_config(config: &ClusterConfig, records: Records) -> anyhow::Result<Self> {
        let mut client_config = RestFlinkClientConfig::new(&config.rest_url);
        if let Some((name, value)) = &config.auth_header {
            client_config = client_config.with_auth_header(name, value);
        }
        let client: Arc<dyn FlinkClient> = Arc::new(RestFlinkClient::new(client_config)?);
        Ok(Self::new(config.clone(), client, records))
    }

    /// The Flink client, for tests that look behind the boundary.
    pub fn client(&self) -> &Arc<dyn FlinkClient> {
        &self.client
    }

    /// The job, with whether an in-place restart has a completed checkpoint to restore.
    async fn job_with_checkpoint_fact(&self, job_id: &str) -> Result<Option<JobView>, FlinkError> {
        let Some(mut job) = self.client.job(job_id).await? else { return Ok(None) };
        let history = self.client.checkpoint_history(job_id).await?;
        job.has_completed_checkpoint = Some(history.is_some_and(|history| history.latest_checkpoint.is_some()));
        Ok(Some(job))
    }

    async fn read(&self, operation: &Operation, needs: &Needs, now_ms: u64) -> Result<Observation, FlinkError> {
        let client = &self.client;
        let mut observation = Observation::at(now_ms);
        observation.savepoint_directory = self.config.savepoint_dir.clone();
        if needs.job {
            // Before execution starts (the phase also needs the cluster), learn whether an
            // in-place restart has a checkpoint to restore: without one its state would be lost.
            let job = if needs.cluster {
                self.job_with_checkpoint_fact(&operation.job_id).await?
            } else {
                client.job(&operation.job_id).await?
            };
            observation.job = Some(seen(job));
        }
        if let Some(job_id) = &needs.new_job {
            observation.new_job = Some(seen(client.job(job_id).await?));
        }
        if let Some(job_id) = &needs.rollback_job {
            observation.rollback_job = Some(seen(client.job(job_id).await?));
        }
        if let Some(query) = &needs.savepoint {
            observation.savepoint = Some(client.savepoint_status(&query.job_id, &query.trigger_id).await?);
        }
        if needs.cluster {
            observation.cluster = Some(client.cluster_overview().await?);
        }
        Ok(observation)
    }

    async fn act(&self, operation: &Operation, action: &Action) -> ClusterResult<()> {
        let client = &self.client;
        match action {
            Action::StopWithSavepoint { job_id, trigger_id } => {
                client.stop_with_savepoint(job_id, trigger_id, self.config.savepoint_dir.as_deref()).await?;
            }
            Action::SubmitJob { job_id, savepoint_location, parallelism } => {
                let artifact = operation
                    .artifact
                    .as_ref()
                    .ok_or_else(|| ClusterError::Artifact("no artifact linked".to_owned()))?;
                let jar_id = self.jar_on_cluster(&artifact.sha256).await?;
                let uniform = parallelism.values().all(|p| Some(p) == parallelism.values().next());
                let run = RunJar {
                    job_id: Some(job_id.clone()),
                    entry_class: artifact.entry_class.clone(),
                    program_args: artifact.args.clone(),
                    parallelism: parallelism.values().copied().max(),
                    vertex_parallelism: if uniform { BTreeMap::new() } else { parallelism.clone() },
                    savepoint_path: Some(savepoint_location.clone()),
                    allow_non_restored_state: false,
                    restore_mode: RestoreMode::NoClaim,
                    flink_configuration: BTreeMap::new(),
                };
                match client.run_jar(&jar_id, &run).await {
                    Ok(_) | Err(FlinkError::DuplicateJob { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Action::PutResourceRequirements { job_id, parallelism } => {
                let requirements: BTreeMap<String, ParallelismBounds> = parallelism
                    .iter()
                    .map(|(vertex, p)| (vertex.clone(), ParallelismBounds { lower: *p, upper: *p }))
                    .collect();
                client.set_resource_requirements(job_id, &requirements).await?;
            }
            Action::CancelJob { job_id } => match client.cancel_job(job_id).await {
                Ok(()) | Err(FlinkError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            },
        }
        Ok(())
    }

    /// A stored artifact's jar id on the JobManager: found by its stored name, else uploaded
    /// again from the store (a JobManager restart forgets uploaded jars).
    async fn jar_on_cluster(&self, sha256: &str) -> ClusterResult<String> {
        let file_name = format!("rescaler-{sha256}.jar");
        let jars = self.client.list_jars().await?;
        if let Some(jar) = jars.iter().find(|jar| jar.name == file_name) {
            return Ok(jar.id.clone());
        }
        let bytes = self
            .records
            .artifact_bytes(sha256)
            .await?
            .ok_or_else(|| ClusterError::Artifact(format!("artifact {sha256} is not in the store")))?;
        Ok(self.client.upload_jar(&file_name, bytes.to_vec()).await?)
    }
}

impl Cluster for StandaloneCluster {
    fn config(&self) -> &ClusterConfig {
        &self.config
    }

    fn overview(&self) -> BoxFuture<'_, ClusterResult<ClusterView>> {
        Box::pin(async move { Ok(self.client.cluster_overview().await?) })
    }

    fn jobs(&self) -> BoxFuture<'_, ClusterResult<Vec<JobSummary>>> {
        Box::pin(async move { Ok(self.client.list_jobs().await?) })
    }

    fn web_ui(&self) -> BoxFuture<'_, ClusterResult<rescaler_shared::flink::WebUiActions>> {
        Box::pin(async move { Ok(self.client.web_ui_actions().await?) })
    }

    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobView>>> {
        Box::pin(async move { Ok(self.job_with_checkpoint_fact(job_id).await?) })
    }

    fn vertex_metrics<'a>(
        &'a self,
        job_id: &'a str,
        vertex_id: &'a str,
    ) -> BoxFuture<'a, ClusterResult<VertexMetrics>> {
        Box::pin(async move { Ok(self.client.vertex_metrics(job_id, vertex_id).await?) })
    }

    fn observe<'a>(
        &'a self,
        operation: &'a Operation,
        needs: &'a Needs,
        now_ms: u64,
    ) -> BoxFuture<'a, ClusterResult<Observation>> {
        Box::pin(async move { Ok(self.read(operation, needs, now_ms).await?) })
    }

    fn perform<'a>(&'a self, operation: &'a Operation, action: &'a Action) -> BoxFuture<'a, ClusterResult<()>> {
        Box::pin(self.act(operation, action))
    }

    fn start_job<'a>(&'a self, artifact: &'a ArtifactRef, parallelism: u32) -> BoxFuture<'a, ClusterResult<String>> {
        Box::pin(async move {
            let jar_id = self.jar_on_cluster(&artifact.sha256).await?;
            let run = RunJar {
                entry_class: artifact.entry_class.clone(),
                program_args: artifact.args.clone(),
                parallelism: Some(parallelism),
                ..RunJar::default()
            };
            Ok(self.client.run_jar(&jar_id, &run).await?)
        })
    }
}

fn seen<T>(value: Option<T>) -> Seen<T> {
    match value {
        Some(value) => Seen::Present(value),
        None => Seen::Absent,
    }
}
