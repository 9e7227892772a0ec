//! A rescale rig for engine tests: a real Flink cluster, the S3 store on a real S3 server, the
//! records layer and an engine, plus helpers to adopt the sample job and to drive operations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rescaler_backend::cluster::{ClusterRegistry, StandaloneCluster};
use rescaler_backend::config::ClusterConfig;
use rescaler_backend::flink::{FlinkClient, RestFlinkClient, RestFlinkClientConfig, RunJar};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_backend::records::Records;
use rescaler_backend::store::{S3Store, Store};
use rescaler_shared::api::JobLink;
use rescaler_shared::flink::JobView;
use rescaler_shared::operation::{ArtifactRef, Operation, OperationRequest, Strategy, Target};

use crate::{FlinkCluster, FlinkOptions, S3Server, sample_job};

/// The cluster id rigs use.
pub const CLUSTER_ID: &str = "local";

/// Everything an engine test needs; dropping it stops Flink and the S3 server.
pub struct Rig {
    pub flink: FlinkCluster,
    pub s3: S3Server,
    pub bucket: String,
    pub records: Records,
    pub client: Arc<dyn FlinkClient>,
    pub engine: Arc<Engine>,
}

/// The configuration of the rig's cluster.
pub fn cluster_config(flink: &FlinkCluster) -> ClusterConfig {
    ClusterConfig {
        id: CLUSTER_ID.to_owned(),
        name: "Test Flink".to_owned(),
        kind: rescaler_backend::config::ClusterKind::Flink,
        msf: None,
        rest_url: flink.rest_url().to_owned(),
        savepoint_dir: Some(flink.savepoint_dir()),
        savepoint_dir_s3: flink.savepoint_dir_s3(),
        auth_header: None,
        auth_header_ssm: None,
        required_approvals: None,
        windows: Vec::new(),
        freezes: Vec::new(),
        recommendations: Default::default(),
    }
}

/// A REST client for a cluster.
pub fn flink_client(flink: &FlinkCluster) -> anyhow::Result<Arc<dyn FlinkClient>> {
    Ok(Arc::new(RestFlinkClient::new(RestFlinkClientConfig::new(flink.rest_url()))?))
}

/// An engine on one self-run cluster reached through `client` (a recording one, say).
pub fn engine_with_client(
    records: &Records,
    config: ClusterConfig,
    client: Arc<dyn FlinkClient>,
    owner: &str,
) -> Engine {
    let cluster = StandaloneCluster::new(config, client, records.clone());
    Engine::new(records.clone(), ClusterRegistry::new([Arc::new(cluster) as _]), owner)
}

impl Rig {
    /// Starts Flink (with `options`) and the S3 server, and builds an engine owned by `owner`.
    pub async fn start(options: FlinkOptions) -> anyhow::Result<Self> {
        crate::init_tracing();
        let (mut flink, s3) = tokio::try_join!(FlinkCluster::start(options), S3Server::start())?;
        let bucket = s3.fresh_bucket().await?;
        // Savepoints go to the S3 server, as on a production cluster.
        flink.keep_savepoints_in(&s3, &bucket).await?;
        let store: Arc<dyn Store> = Arc::new(S3Store::new(s3.client(), bucket.clone(), "rescaler"));
        let records = Records::new(store);
        let client = flink_client(&flink)?;
        let engine = Arc::new(Self::engine_for(&records, &flink, client.clone(), "test-reconciler"));
        Ok(Self { flink, s3, bucket, records, client, engine })
    }

    /// Another engine on the same store and cluster, with its own owner name and client.
    pub fn engine_for(records: &Records, flink: &FlinkCluster, client: Arc<dyn FlinkClient>, owner: &str) -> Engine {
        let cluster = StandaloneCluster::new(cluster_config(flink), client, records.clone())
            .with_savepoint_storage(flink.savepoint_storage());
        Engine::new(records.clone(), ClusterRegistry::new([Arc::new(cluster) as _]), owner)
    }

    /// Stores the sample job's jar as an artifact, runs it at `parallelism` from that artifact
    /// and links the job to it, as an operator adopting a running job would.
    pub async fn adopt_sample_job(&self, parallelism: u32, args: &[&str]) -> anyhow::Result<(String, ArtifactRef)> {
        adopt_sample_job(&self.records, self.client.as_ref(), &self.flink, parallelism, args).await
    }

    /// Stores a request by `alice` and bob's approval of it; answers the operation id.
    pub async fn request_approved(
        &self,
        job_id: &str,
        artifact: &ArtifactRef,
        target: Target,
        strategy: Strategy,
        verify_timeout: Duration,
    ) -> anyhow::Result<String> {
        let operation = approved_operation(job_id, artifact, target, strategy, verify_timeout)?;
        self.records.create_operation(&operation).await?;
        Ok(operation.id)
    }

    /// Runs engine passes until the operation is terminal; answers it.
    pub async fn drive(&self, operation_id: &str, timeout: Duration) -> anyhow::Result<Operation> {
        drive(&self.engine, &self.records, operation_id, timeout).await
    }

    /// The job as Flink shows it now.
    pub async fn job(&self, job_id: &str) -> anyhow::Result<JobView> {
        self.client.job(job_id).await?.ok_or_else(|| anyhow::anyhow!("flink does not know job {job_id}"))
    }

    /// Ids of the jobs Flink shows RUNNING.
    pub async fn running_jobs(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .client
            .list_jobs()
            .await?
            .into_iter()
            .filter(|job| job.status == rescaler_shared::flink::JobStatus::Running)
            .map(|job| job.id)
            .collect())
    }

    /// Waits until `job_id` has completed a checkpoint of its own (in place restores from it;
    /// pre-flight refuses in place without one and `auto` picks the savepoint strategy).
    pub async fn wait_for_checkpoint(&self, job_id: &str) -> anyhow::Result<()> {
        wait_for_checkpoint(self.client.as_ref(), job_id).await
    }

    /// Waits until the sample job's counter has gone past `above` and answers (freshKeys, maxCount).
    pub async fn counter_after(&self, job_id: &str, above: f64, timeout: Duration) -> anyhow::Result<(f64, f64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let fresh = self.flink.counter_metric(job_id, "freshKeys").await?;
            let max = self.flink.counter_metric(job_id, "maxCount").await?;
            if let (Some(_), Some(max)) = (fresh, max)
                && max > above
            {
                // One more fetch cycle (1 s in the harness) so no value is from before a
                // restart, then read both again.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let fresh = self.flink.counter_metric(job_id, "freshKeys").await?;
                let max = self.flink.counter_metric(job_id, "maxCount").await?;
                if let (Some(fresh), Some(max)) = (fresh, max) {
                    return Ok((fresh, max));
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "counter of {job_id} never passed {above}: fresh {fresh:?} max {max:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Stores the sample job's jar as an artifact, runs it at `parallelism` from that artifact
/// and links the job to it (cluster [`CLUSTER_ID`]), as an operator adopting a job would.
pub async fn adopt_sample_job(
    records: &Records,
    client: &dyn FlinkClient,
    flink: &FlinkCluster,
    parallelism: u32,
    args: &[&str],
) -> anyhow::Result<(String, ArtifactRef)> {
    adopt_sample_job_class(records, client, flink, sample_job::ENTRY_CLASS, parallelism, args).await
}

/// [`adopt_sample_job`] for another main class of the sample jar (the load-test job:
/// [`sample_job::LOAD_TEST_ENTRY_CLASS`]).
pub async fn adopt_sample_job_class(
    records: &Records,
    client: &dyn FlinkClient,
    flink: &FlinkCluster,
    entry_class: &str,
    parallelism: u32,
    args: &[&str],
) -> anyhow::Result<(String, ArtifactRef)> {
    let jar = flink.sample_job_jar()?;
    let bytes = Bytes::from(std::fs::read(&jar)?);
    let artifact = records.put_artifact("keyed-counter.jar", bytes.clone(), "test", now_ms()).await?;
    let jar_id = client.upload_jar(&format!("rescaler-{}.jar", artifact.sha256), bytes.to_vec().into()).await?;
    let run = RunJar {
        entry_class: Some(entry_class.to_owned()),
        program_args: args.iter().map(|a| (*a).to_owned()).collect(),
        parallelism: Some(parallelism),
        ..RunJar::default()
    };
    let job_id = client.run_jar(&jar_id, &run).await?;
    flink.wait_job_running(&job_id, Duration::from_secs(60)).await?;
    let link = JobLink {
        cluster_id: CLUSTER_ID.to_owned(),
        job_id: job_id.clone(),
        artifact_sha256: artifact.sha256.clone(),
        entry_class: run.entry_class.clone(),
        args: run.program_args.clone(),
        linked_by: "test".to_owned(),
        linked_at_ms: now_ms(),
    };
    records.put_job_link(&link).await?;
    let artifact_ref = ArtifactRef {
        artifact_id: artifact.sha256.clone(),
        sha256: artifact.sha256,
        entry_class: run.entry_class,
        args: run.program_args,
    };
    Ok((job_id, artifact_ref))
}

/// Waits until `job_id` has completed a checkpoint, for at most 60 s.
pub async fn wait_for_checkpoint(client: &dyn FlinkClient, job_id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.checkpoint_history(job_id).await?.and_then(|history| history.latest_checkpoint).is_none() {
        anyhow::ensure!(Instant::now() < deadline, "job {job_id} completed no checkpoint within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// A request by alice, approved by bob.
pub fn approved_operation(
    job_id: &str,
    artifact: &ArtifactRef,
    target: Target,
    strategy: Strategy,
    verify_timeout: Duration,
) -> anyhow::Result<Operation> {
    let now = now_ms();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut operation = Operation::new(
        id,
        OperationRequest {
            cluster_id: CLUSTER_ID.to_owned(),
            job_id: job_id.to_owned(),
            job_name: "keyed-counter".to_owned(),
            target,
            strategy,
            reason: "test".to_owned(),
            requested_by: "alice".to_owned(),
            required_approvals: 1,
            approval_window_ms: 3_600_000,
            verify_timeout_ms: verify_timeout.as_millis() as u64,
            artifact: Some(artifact.clone()),
            autoscaling: None,
        },
        now,
    );
    // A short stable window keeps the suite quick; the faults tests check the window.
    operation.stable_for_ms = 3_000;
    rescaler_shared::user_action::approve(&mut operation, "bob", "ok", now)
        .map_err(|refused| anyhow::anyhow!("{refused}"))?;
    Ok(operation)
}

/// Runs passes of `engine` until the operation is terminal.
pub async fn drive(
    engine: &Engine,
    records: &Records,
    operation_id: &str,
    timeout: Duration,
) -> anyhow::Result<Operation> {
    let deadline = Instant::now() + timeout;
    loop {
        let report = engine.pass().await?;
        let (operation, _) =
            records.operation(operation_id).await?.ok_or_else(|| anyhow::anyhow!("operation vanished"))?;
        if operation.is_terminal() {
            return Ok(operation);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "operation {operation_id} not terminal within {timeout:?}: phase {:?}, events {:#?}",
            operation.phase,
            operation.events
        );
        tokio::time::sleep(report.next_in.unwrap_or(Duration::from_millis(250)).min(Duration::from_millis(250))).await;
    }
}
