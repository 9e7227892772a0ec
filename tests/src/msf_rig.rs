//! A rig for MSF tests: Flink 1.20, the MSF stand-in on it (`crate::msf`), and the backend
//! with an MSF cluster of the stand-in's applications beside a Flink cluster, reconciling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesisanalyticsv2::types::{ApplicationDetail, ApplicationStatus};
use rescaler_backend::config::{ClusterConfig, ClusterKind};
use rescaler_backend::store::{DirStore, Store};
use serde_json::{Value, json};

use crate::api::Api;
use crate::backend::LocalBackend;
use crate::config::TestConfig;
use crate::msf::{MsfApplication, MsfOptions, MsfStandIn};
use crate::{FlinkCluster, FlinkOptions, Scheduler, rig};

/// The MSF cluster's id.
pub const CLUSTER: &str = "msf-eu";

/// Flink 1.20, the MSF stand-in on it, and the backend (API and reconcile loop) with an MSF
/// cluster of the stand-in's applications beside a Flink cluster of the same Flink.
pub struct MsfRig {
    pub flink: FlinkCluster,
    pub standin: MsfStandIn,
    pub api: Api,
    pub backend: LocalBackend,
}

impl MsfRig {
    /// Flink 1.20, the stand-in serving `applications` (KPU limit `kpu_limit`), and the backend
    /// with an MSF cluster of them beside a Flink cluster, reconciling.
    pub async fn start(
        console: bool,
        kpu_limit: u32,
        applications: impl FnOnce(&FlinkCluster) -> anyhow::Result<Vec<MsfApplication>>,
    ) -> anyhow::Result<Self> {
        Self::start_with(console, kpu_limit, None, applications).await
    }

    /// The same, the MSF cluster managing the applications that carry `tag` (none by name).
    pub async fn start_with(
        console: bool,
        kpu_limit: u32,
        tag: Option<rescaler_backend::config::ApplicationTag>,
        applications: impl FnOnce(&FlinkCluster) -> anyhow::Result<Vec<MsfApplication>>,
    ) -> anyhow::Result<Self> {
        crate::init_tracing();
        let flink =
            FlinkCluster::start(FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Default))
                .await?;
        let applications = applications(&flink)?;
        let names: Vec<String> = applications.iter().map(|app| app.name.clone()).collect();
        let standin = MsfStandIn::start(&flink, &MsfOptions { kpu_limit, stable_ms: 3000, applications }).await?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut settings = standin.settings(&names, kpu_limit);
        if tag.is_some() {
            settings.applications.clear();
            settings.application_tag = tag;
        }
        let msf = ClusterConfig {
            id: CLUSTER.to_owned(),
            name: "MSF eu-west-1".to_owned(),
            kind: ClusterKind::Msf,
            msf: Some(settings),
            rest_url: String::new(),
            ..rig::cluster_config(&flink)
        };
        let store_dir = crate::paths::scratch_dir("store")?;
        let store: Arc<dyn Store> = Arc::new(DirStore::open(&store_dir)?);
        let config = if console { TestConfig::new().with_console()? } else { TestConfig::new() };
        let config = config
            .with_dir_store(store_dir)
            .with_clusters([rig::cluster_config(&flink), ClusterConfig { savepoint_dir: None, ..msf }])
            .build();
        let backend = LocalBackend::start(config, store, true).await?;
        let api = Api::new(backend.url());
        let rig = Self { flink, standin, api, backend };
        for name in names {
            rig.wait_status(name, ApplicationStatus::Running).await?;
        }
        Ok(rig)
    }

    pub async fn describe(&self, app: &str) -> anyhow::Result<ApplicationDetail> {
        let output = self.standin.client().describe_application().application_name(app).send().await?;
        output.application_detail().cloned().ok_or_else(|| anyhow::anyhow!("no ApplicationDetail"))
    }

    pub async fn wait_status(&self, app: &str, status: ApplicationStatus) -> anyhow::Result<ApplicationDetail> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let detail = self.describe(app).await?;
            if *detail.application_status() == status {
                return Ok(detail);
            }
            anyhow::ensure!(Instant::now() < deadline, "{app} never {status:?}:\n{}", self.standin.log_tail(30));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The job id the product lists the application under.
    pub async fn job_id(&self, app: &str) -> anyhow::Result<String> {
        let (status, jobs) = self.api.get(&format!("/clusters/{CLUSTER}/jobs"), "victor").await?;
        anyhow::ensure!(status == 200, "jobs: {jobs}");
        jobs.as_array()
            .into_iter()
            .flatten()
            .find(|job| job["name"] == app)
            .and_then(|job| job["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("{app} not listed: {jobs}"))
    }

    /// alice asks for `target`, bob approves; the request as it ends.
    pub async fn rescale(&self, job_id: &str, target: u32, extra: Value) -> anyhow::Result<Value> {
        let mut request = json!({"cluster_id": CLUSTER, "job_id": job_id, "target": {"kind": "uniform", "parallelism": target}, "reason": "traffic"});
        if let (Some(request), Some(extra)) = (request.as_object_mut(), extra.as_object()) {
            request.extend(extra.clone());
        }
        let (status, created) = self.api.post("/rescales", "alice", request).await?;
        anyhow::ensure!(status == 201, "create: {status} {created}");
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let (status, body) = self.api.post(&format!("/rescales/{id}/approve"), "bob", json!({})).await?;
        anyhow::ensure!(status == 200, "approve: {body}");
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let (_, operation) = self.api.get(&format!("/rescales/{id}"), "victor").await?;
            let phase = operation["phase"]["phase"].as_str().unwrap_or_default().to_owned();
            if ["completed", "rolled_back", "failed", "expired"].contains(&phase.as_str()) {
                return Ok(operation);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "request {id} still {phase}: {operation:#}\n{}",
                self.standin.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The application's (Parallelism, CurrentParallelism, restore snapshot name).
    pub async fn parallelism(&self, app: &str) -> anyhow::Result<(i32, i32, Option<String>)> {
        let detail = self.describe(app).await?;
        let configuration = detail.application_configuration_description();
        let parallelism = configuration
            .and_then(|c| c.flink_application_configuration_description())
            .and_then(|f| f.parallelism_configuration_description());
        let restore = configuration
            .and_then(|c| c.run_configuration_description())
            .and_then(|r| r.application_restore_configuration_description())
            .and_then(|r| r.snapshot_name())
            .map(str::to_owned);
        Ok((
            parallelism.and_then(|p| p.parallelism()).unwrap_or(0),
            parallelism.and_then(|p| p.current_parallelism()).unwrap_or(0),
            restore,
        ))
    }

    /// No request the adapter sent failed the service model's validation, and the stand-in
    /// never answered outside it.
    pub fn assert_model_clean(&self) {
        let log = self.standin.log();
        assert!(!log.contains("STAND-IN BUG"), "{log}");
        assert!(!log.contains("ValidationException"), "a request failed the service model:\n{log}");
        assert!(!log.contains("SerializationException"), "{log}");
    }
}
