//! A self-run Flink cluster reached over its JobManager REST API: the savepoint path (stop with
//! a savepoint, resubmit the stored jar from it) and the in-place path (the adaptive
//! scheduler's resource requirements).

use futures::StreamExt as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rescaler_shared::flink::{ClusterView, JobView};
use rescaler_shared::history::LoadSample;
use rescaler_shared::operation::{ArtifactRef, Operation, normalize_location, savepoint_target};
use rescaler_shared::phase::{
    Action, CheckpointFacts, FoundSavepoint, Needs, Observation, SavepointSearch, SavepointSource, Seen,
};
use rescaler_shared::recommend::JobGraph;

use super::{Cluster, ClusterError, ClusterResult};
use crate::config::ClusterConfig;
use crate::flink::{
    FlinkClient, FlinkError, JobSummary, RestFlinkClient, RestFlinkClientConfig, RestoreMode, RunJar, VertexMetrics,
    freshen_views,
};
use crate::records::Records;
use crate::savepoint_storage::SavepointStorage;

/// A Flink cluster the team runs itself (standalone, session, YARN, Kubernetes session mode).
pub struct StandaloneCluster {
    config: ClusterConfig,
    client: Arc<dyn FlinkClient>,
    records: Records,
    savepoints: SavepointStorage,
    /// Jar ids this process uploaded, by artifact sha256: the only jars it runs. A jar found on
    /// the JobManager under the product's file name may have been planted by anyone who can
    /// upload to Flink.
    uploaded: Mutex<HashMap<String, String>>,
}

impl StandaloneCluster {
    /// A cluster reached through `client`; savepoints are read from the local file system
    /// only until [`StandaloneCluster::with_savepoint_storage`] says otherwise.
    pub fn new(config: ClusterConfig, client: Arc<dyn FlinkClient>, records: Records) -> Self {
        Self { config, client, records, savepoints: SavepointStorage::default(), uploaded: Mutex::default() }
    }

    /// Reads savepoints through `storage` (S3 access, say).
    pub fn with_savepoint_storage(mut self, storage: SavepointStorage) -> Self {
        self.savepoints = storage;
        self
    }

    /// A REST client for the configured endpoint (and its extra header, if any).
    pub fn from_config(config: &ClusterConfig, records: Records, storage: SavepointStorage) -> anyhow::Result<Self> {
        let mut client_config = RestFlinkClientConfig::new(&config.rest_url);
        if let Some((name, value)) = &config.auth_header {
            client_config = client_config.with_auth_header(name, value);
        }
        let client: Arc<dyn FlinkClient> = Arc::new(RestFlinkClient::new(client_config)?);
        Ok(Self::new(config.clone(), client, records).with_savepoint_storage(storage))
    }

    /// The Flink client, for tests that look behind the boundary.
    pub fn client(&self) -> &Arc<dyn FlinkClient> {
        &self.client
    }

    /// The job, with whether an in-place restart has a completed checkpoint to restore.
    async fn job_with_checkpoint_fact(&self, job_id: &str) -> Result<Option<JobView>, FlinkError> {
        Ok(self.job_and_checkpoint(job_id).await?.map(|(job, _)| job))
    }

    /// The job with its checkpoint fact, and its latest completed checkpoint's size and
    /// duration (for the restore budget).
    async fn job_and_checkpoint(&self, job_id: &str) -> Result<Option<(JobView, Option<CheckpointFacts>)>, FlinkError> {
        let Some(mut job) = self.client.job(job_id).await? else { return Ok(None) };
        let facts = self.checkpoint_facts(job_id).await?;
        job.has_completed_checkpoint = Some(facts.is_some());
        Ok(Some((job, facts)))
    }

    /// The job's latest completed checkpoint's size and duration.
    async fn checkpoint_facts(&self, job_id: &str) -> Result<Option<CheckpointFacts>, FlinkError> {
        let latest = self.client.checkpoint_history(job_id).await?.and_then(|history| history.latest_checkpoint);
        Ok(latest.map(|checkpoint| CheckpointFacts {
            size_bytes: checkpoint.state_size_bytes,
            duration_ms: checkpoint.duration_ms,
        }))
    }

    async fn read(&self, operation: &Operation, needs: &Needs, now_ms: u64) -> ClusterResult<Observation> {
        let client = &self.client;
        let mut observation = self.config.observation(now_ms);
        // Two reads at once: the jobs' details, through Flink's cache; and the stop trigger,
        // then the live job list. The trigger before the list: a completed stop is then seen
        // together with its job having finished, in one pass.
        let live = async {
            let savepoint = match &needs.savepoint {
                Some(query) => Some(client.savepoint_status(&query.job_id, &query.trigger_id).await?),
                None => None,
            };
            let reads_jobs = needs.job || needs.new_job.is_some() || needs.rollback_job.is_some();
            let jobs = if reads_jobs { Some(client.list_jobs().await) } else { None };
            Ok::<_, FlinkError>((savepoint, jobs))
        };
        let ((savepoint, jobs), views) = futures::future::try_join(live, self.job_views(operation, needs)).await?;
        observation.savepoint = savepoint;
        observation.job = views.job;
        observation.latest_checkpoint = views.latest_checkpoint;
        observation.new_job = views.new_job;
        observation.rollback_job = views.rollback_job;
        if let Some(jobs) = jobs {
            freshen(&mut observation, jobs);
        }
        if let Some(search) = &needs.savepoint_search
            && SavepointSearch::wanted(observation.job.as_ref(), observation.savepoint.as_ref())
        {
            observation.found_savepoints = Some(self.search_savepoints(search).await?);
        }
        if needs.requirements {
            observation.requirements = match client.resource_requirements(&operation.job_id).await {
                Ok(requirements) => Some(requirements),
                // Flink answered without them: the bounds are then sent as if never set.
                Err(FlinkError::Rejected { .. } | FlinkError::NotFound { .. }) => None,
                Err(error) => return Err(error.into()),
            };
        }
        if needs.cluster {
            observation.cluster = Some(client.cluster_overview().await?);
        }
        Ok(observation)
    }

    /// The jobs `needs` names, as `GET /jobs/:id` gives them, read at once.
    async fn job_views(&self, operation: &Operation, needs: &Needs) -> Result<JobViews, FlinkError> {
        let job = async {
            if !needs.job {
                return Ok((None, None));
            }
            // Before execution starts (the phase also needs the cluster), learn whether an
            // in-place restart has a checkpoint to restore: without one its state would be lost.
            if needs.cluster {
                let read = self.job_and_checkpoint(&operation.job_id).await?;
                let facts = read.as_ref().and_then(|(_, facts)| *facts);
                return Ok((Some(seen(read.map(|(job, _)| job))), facts));
            }
            Ok((Some(seen(self.client.job(&operation.job_id).await?)), None))
        };
        let ((job, latest_checkpoint), new_job, rollback_job) = futures::future::try_join3(
            job,
            self.job_if(needs.new_job.as_deref()),
            self.job_if(needs.rollback_job.as_deref()),
        )
        .await?;
        Ok(JobViews { job, latest_checkpoint, new_job, rollback_job })
    }

    /// Job `job_id`, if there is one to read.
    async fn job_if(&self, job_id: Option<&str>) -> Result<Option<Seen<JobView>>, FlinkError> {
        match job_id {
            Some(job_id) => Ok(Some(seen(self.client.job(job_id).await?))),
            None => Ok(None),
        }
    }

    /// The completed savepoints below the operation's own directory, and the job's latest
    /// savepoint in its checkpoint history (while the JobManager remembers the job).
    async fn search_savepoints(&self, search: &SavepointSearch) -> ClusterResult<Vec<FoundSavepoint>> {
        let mut found = Vec::new();
        if let Some(directory) = &self.config.savepoint_dir {
            let target = savepoint_target(directory, &search.operation_id);
            let readable = self.readable_location(&target);
            for mut savepoint in self.savepoints.completed_below(&readable).await? {
                savepoint.location = self.flink_location(&savepoint.location);
                found.push(savepoint);
            }
        }
        let history = self.client.checkpoint_history(&search.job_id).await?;
        if let Some(latest) = history.and_then(|history| history.latest_savepoint)
            && !latest.discarded
            && let Some(location) = latest.external_path
        {
            let taken_at_ms = Some(latest.timestamp_ms);
            found.push(FoundSavepoint { location, found_in: SavepointSource::CheckpointHistory, taken_at_ms });
        }
        tracing::info!(operation.id = %search.operation_id, ?found, "searched for the stop's savepoint");
        Ok(found)
    }

    /// A location as Flink names it, as the backend reads it (`savepoint_dir_s3`).
    fn readable_location(&self, location: &str) -> String {
        match (&self.config.savepoint_dir, &self.config.savepoint_dir_s3) {
            (Some(flink_dir), Some(s3_dir)) => replace_prefix(location, flink_dir, s3_dir),
            _ => location.to_owned(),
        }
    }

    /// A location as the backend reads it, as Flink names it.
    fn flink_location(&self, location: &str) -> String {
        match (&self.config.savepoint_dir, &self.config.savepoint_dir_s3) {
            (Some(flink_dir), Some(s3_dir)) => replace_prefix(location, s3_dir, flink_dir),
            _ => location.to_owned(),
        }
    }

    async fn act(&self, operation: &Operation, action: &Action) -> ClusterResult<()> {
        let client = &self.client;
        match action {
            Action::StopWithSavepoint { job_id, trigger_id, target_directory } => {
                // The verified jar goes up before the job stops, not while it is down.
                if let Some(artifact) = &operation.artifact {
                    self.verified_jar(&artifact.sha256).await?;
                }
                client.stop_with_savepoint(job_id, trigger_id, target_directory.as_deref()).await?;
            }
            Action::SubmitJob { job_id, savepoint_location, parallelism } => {
                let artifact = operation
                    .artifact
                    .as_ref()
                    .ok_or_else(|| ClusterError::Artifact("no artifact linked".to_owned()))?;
                let jar_id = self.verified_jar(&artifact.sha256).await?;
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
            Action::PutResourceRequirements { job_id, bounds } => {
                client.set_resource_requirements(job_id, bounds).await?;
            }
            Action::CancelJob { job_id } => match client.cancel_job(job_id).await {
                Ok(()) | Err(FlinkError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            },
            Action::CreateSnapshot { .. } | Action::UpdateApplication { .. } => {
                return Err(ClusterError::Unsupported(format!(
                    "cluster {} is a Flink cluster, and {} is an MSF action",
                    self.config.id,
                    action_name(action)
                )));
            }
        }
        Ok(())
    }

    /// The JobManager's id of a jar holding exactly the stored artifact's bytes: one this
    /// process uploaded and the JobManager still has, else the store's bytes (checked against
    /// their sha256) uploaded now. A jar of the same name that someone else uploaded is never
    /// used, and a JobManager restart (which forgets uploaded jars) costs one upload.
    async fn verified_jar(&self, sha256: &str) -> ClusterResult<String> {
        let known = self.uploaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(sha256).cloned();
        if let Some(jar_id) = known
            && self.client.list_jars().await?.iter().any(|jar| jar.id == jar_id)
        {
            return Ok(jar_id);
        }
        // Streamed from the store to Flink: the jar is never held whole (they run to 300 MB).
        let object = self
            .records
            .artifact_stream(sha256)
            .await
            .map_err(|error| ClusterError::Artifact(format!("artifact {sha256}: {error}")))?
            .ok_or_else(|| ClusterError::Artifact(format!("artifact {sha256} is not in the store")))?;
        let stream = object.body.map(|chunk| chunk.map_err(std::io::Error::other)).boxed();
        let jar = crate::flink::JarBody { len: object.len, stream };
        let jar_id = self.client.upload_jar(&format!("rescaler-{sha256}.jar"), jar).await?;
        self.uploaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(sha256.to_owned(), jar_id.clone());
        Ok(jar_id)
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

    fn latest_checkpoint<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<CheckpointFacts>>> {
        Box::pin(async move { Ok(self.checkpoint_facts(job_id).await?) })
    }

    fn job_graph<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobGraph>>> {
        Box::pin(async move { Ok(self.client.job_graph(job_id).await?) })
    }

    fn load_sample<'a>(&'a self, job_id: &'a str, now_ms: u64) -> BoxFuture<'a, ClusterResult<Option<LoadSample>>> {
        Box::pin(async move { Ok(self.client.load_sample(job_id, now_ms).await?) })
    }

    fn observe<'a>(
        &'a self,
        operation: &'a Operation,
        needs: &'a Needs,
        now_ms: u64,
    ) -> BoxFuture<'a, ClusterResult<Observation>> {
        Box::pin(self.read(operation, needs, now_ms))
    }

    fn perform<'a>(
        &'a self,
        operation: &'a Operation,
        action: &'a Action,
    ) -> BoxFuture<'a, ClusterResult<super::Performed>> {
        Box::pin(async move {
            self.act(operation, action).await?;
            Ok(super::Performed::default())
        })
    }

    fn savepoint_metadata<'a>(&'a self, location: &'a str) -> BoxFuture<'a, ClusterResult<Option<u64>>> {
        Box::pin(async move { Ok(self.savepoints.metadata_size(&self.readable_location(location)).await?) })
    }

    fn flink_rescales<'a>(
        &'a self,
        job_id: &'a str,
        window: rescaler_shared::flink_rescales::ExecutionWindow,
    ) -> BoxFuture<'a, ClusterResult<rescaler_shared::flink_rescales::FlinkRescaleAccount>> {
        Box::pin(super::flink_account::account(self.client.as_ref(), job_id, window))
    }

    fn start_job<'a>(&'a self, artifact: &'a ArtifactRef, parallelism: u32) -> BoxFuture<'a, ClusterResult<String>> {
        Box::pin(async move {
            let jar_id = self.verified_jar(&artifact.sha256).await?;
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

/// `location` with its `from` prefix replaced by `to` (both compared normalized); unchanged
/// when it is not below `from`.
fn replace_prefix(location: &str, from: &str, to: &str) -> String {
    let location = normalize_location(location);
    let from = normalize_location(from);
    match location.strip_prefix(&from) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", normalize_location(to)),
        _ => location,
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::CreateSnapshot { .. } => "CreateApplicationSnapshot",
        Action::UpdateApplication { .. } => "UpdateApplication",
        _ => "a Flink action",
    }
}

/// The view of a job that was seen.
/// The jobs one observation reads through `GET /jobs/:id`.
struct JobViews {
    job: Option<Seen<JobView>>,
    latest_checkpoint: Option<CheckpointFacts>,
    new_job: Option<Seen<JobView>>,
    rollback_job: Option<Seen<JobView>>,
}

/// The observed jobs as the JobManager sees them now (`jobs`, the live job list), not as
/// Flink's cache of `GET /jobs/:id` last saw them (see [`crate::flink::LiveTasks`]); as read
/// should the list have failed.
fn freshen(observation: &mut Observation, jobs: Result<Vec<JobSummary>, FlinkError>) {
    let views =
        [&mut observation.job, &mut observation.new_job, &mut observation.rollback_job].into_iter().filter_map(present);
    match jobs {
        Ok(jobs) => _ = freshen_views(&jobs, views),
        Err(error) => tracing::warn!(error = %error, "job list not read: job views as Flink's cache gave them"),
    }
}

fn present(seen: &mut Option<Seen<JobView>>) -> Option<&mut JobView> {
    match seen {
        Some(Seen::Present(view)) => Some(view),
        _ => None,
    }
}

pub(super) fn seen<T>(value: Option<T>) -> Seen<T> {
    match value {
        Some(value) => Seen::Present(value),
        None => Seen::Absent,
    }
}
