//! Amazon Managed Service for Apache Flink applications through `aws-sdk-kinesisanalyticsv2`:
//! each configured application is a job (its id derived from its ARN); a rescale is a snapshot
//! named after the request, then `UpdateApplication` restoring from it under the application's
//! conditional token (`phase/msf.rs` decides; this module only reads and sends).
//!
//! Credentials come from the AWS default chain (the Lambda's role), or from a role assumed
//! with it (`role_arn`, another account's applications); `endpoint_url` and static keys are
//! for VPC endpoints and the tests' stand-in.

use std::time::Duration;

use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationConfigurationUpdate, ApplicationDetail, ApplicationRestoreConfiguration, ApplicationRestoreType,
    ConfigurationType, FlinkApplicationConfigurationUpdate, ParallelismConfigurationUpdate, RunConfigurationUpdate,
};
use futures::future::BoxFuture;
use rescaler_shared::flink::msf::{
    MsfApplication, MsfOperation, MsfOperationStatus, MsfRestore, MsfSnapshotStatus, MsfStatus, UPDATE_OPERATION,
};
use rescaler_shared::flink::{ClusterView, JobView, WebUiActions};
use rescaler_shared::flink_rescales::{ExecutionWindow, FlinkRescaleAccount};
use rescaler_shared::operation::{ArtifactRef, Operation, msf_application_job_id};
use rescaler_shared::phase::{Action, MsfOperationQuery, Needs, Observation};

use super::{Cluster, ClusterError, ClusterResult, Performed};
use crate::config::{ClusterConfig, MsfSettings};
use crate::flink::{JobSummary, VertexMetrics};

mod sdk;

/// A failed exchange with MSF. Its text reaches viewers (API errors, events): it carries MSF's
/// error code and message, never credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsfError {
    #[error("MSF does not know {what}")]
    NotFound { what: String },
    /// MSF could not be reached, throttled, or failed: worth retrying.
    #[error("MSF is unavailable: {message}")]
    Unavailable { message: String },
    /// MSF refused the request (a stale conditional token, an application busy, a limit).
    #[error("MSF refused the request ({code}): {message}")]
    Rejected { code: String, message: String },
}

/// Applications of one account and region.
pub struct MsfCluster {
    config: ClusterConfig,
    settings: MsfSettings,
    client: Client,
}

/// How many of an application's snapshots its job shows.
const LATEST_SNAPSHOTS: usize = 5;

/// How long one MSF call may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

impl MsfCluster {
    pub async fn from_config(config: &ClusterConfig, settings: &MsfSettings) -> anyhow::Result<Self> {
        let client = sdk::client(settings, OPERATION_TIMEOUT).await?;
        Ok(Self { config: config.clone(), settings: settings.clone(), client })
    }

    /// The configured application names; with a tag filter, every application of the account
    /// carrying the tag.
    async fn application_names(&self) -> ClusterResult<Vec<String>> {
        if let Some(tag) = &self.settings.application_tag {
            let mut names = Vec::new();
            for summary in sdk::list_applications(&self.client).await? {
                if sdk::has_tag(&self.client, &summary.arn, &tag.key, &tag.value).await? {
                    names.push(summary.name);
                }
            }
            names.sort();
            return Ok(names);
        }
        Ok(self.settings.applications.clone())
    }

    /// The managed application whose derived job id is `job_id`.
    async fn application_of(&self, job_id: &str) -> ClusterResult<Option<MsfApplication>> {
        for name in self.application_names().await? {
            if let Some(application) = self.describe(&name).await?
                && msf_application_job_id(&application.arn) == job_id
            {
                return Ok(Some(application));
            }
        }
        Ok(None)
    }

    async fn describe(&self, name: &str) -> ClusterResult<Option<MsfApplication>> {
        let detail = sdk::describe_application(&self.client, name).await?;
        Ok(detail.map(|detail| self.application(&detail)))
    }

    fn application(&self, detail: &ApplicationDetail) -> MsfApplication {
        sdk::application(detail, self.settings.kpu_limit)
    }

    /// One application's job, with its newest snapshots (the job page shows them).
    async fn job_of(&self, job_id: &str) -> ClusterResult<Option<JobView>> {
        let Some(mut application) = self.application_of(job_id).await? else { return Ok(None) };
        let mut snapshots = sdk::list_snapshots(&self.client, &application.name).await?;
        snapshots.truncate(LATEST_SNAPSHOTS);
        application.latest_snapshots = snapshots;
        Ok(Some(job_view(application)))
    }

    /// The application of the operation: looked up by name (the record keeps it), checked
    /// against the job id.
    async fn operation_job(&self, operation: &Operation) -> ClusterResult<Option<JobView>> {
        match self.describe(&operation.job_name).await? {
            Some(application) if msf_application_job_id(&application.arn) == operation.job_id => {
                Ok(Some(job_view(application)))
            }
            Some(_) | None => self.job_of(&operation.job_id).await,
        }
    }

    async fn read(&self, operation: &Operation, needs: &Needs, now_ms: u64) -> ClusterResult<Observation> {
        let mut observation = self.config.observation(now_ms);
        if needs.job {
            observation.job = Some(super::standalone::seen(self.operation_job(operation).await?));
        }
        if let Some(snapshot_name) = &needs.snapshot {
            let snapshot = sdk::describe_snapshot(&self.client, &operation.job_name, snapshot_name).await?;
            observation.snapshot = Some(super::standalone::seen(snapshot));
        }
        if let Some(query) = &needs.msf_operation {
            let found = self.update_operation(&operation.job_name, query).await?;
            observation.msf_operation = Some(super::standalone::seen(found));
        }
        if needs.cluster {
            observation.cluster = Some(self.cluster_view().await?);
        }
        Ok(observation)
    }

    /// The request's update operation: by id, or the newest `UpdateApplication` started since
    /// the update was decided (a crash lost MSF's answer; a minute of clock skew allowed).
    async fn update_operation(
        &self,
        application: &str,
        query: &MsfOperationQuery,
    ) -> ClusterResult<Option<MsfOperation>> {
        let id = match &query.id {
            Some(id) => id.clone(),
            None => {
                let listed = sdk::list_operations(&self.client, application).await?;
                let since = query.since_ms.saturating_sub(60_000);
                let newest = listed
                    .into_iter()
                    .filter(|operation| operation.kind == UPDATE_OPERATION)
                    .filter(|operation| operation.started_at_ms.is_some_and(|started| started >= since))
                    .max_by_key(|operation| operation.started_at_ms);
                match newest {
                    Some(operation) => operation.id,
                    None => return Ok(None),
                }
            }
        };
        Ok(sdk::describe_operation(&self.client, application, &id).await?)
    }

    async fn cluster_view(&self) -> ClusterResult<ClusterView> {
        // MSF has no slots to count: pre-flight checks KPUs on the application instead.
        let mut version = None;
        for name in self.application_names().await? {
            if let Some(application) = self.describe(&name).await? {
                version = Some(application.flink_version());
                break;
            }
        }
        Ok(ClusterView {
            flink_version: version.unwrap_or_else(|| "MSF".to_owned()),
            taskmanagers: 0,
            slots_total: 0,
            slots_available: 0,
        })
    }

    async fn act(&self, action: &Action) -> ClusterResult<Performed> {
        match action {
            Action::CreateSnapshot { application, snapshot_name } => {
                // Idempotent: a snapshot of this name (the request's) already asked for is it.
                if sdk::describe_snapshot(&self.client, application, snapshot_name).await?.is_none() {
                    sdk::create_snapshot(&self.client, application, snapshot_name).await?;
                }
                Ok(Performed::default())
            }
            Action::UpdateApplication { application, parallelism, snapshot_name, conditional_token, autoscaling } => {
                let mut parallelism_update = ParallelismConfigurationUpdate::builder()
                    .configuration_type_update(ConfigurationType::Custom)
                    .parallelism_update(i32::try_from(*parallelism).unwrap_or(i32::MAX));
                if let Some(enabled) = autoscaling {
                    parallelism_update = parallelism_update.auto_scaling_enabled_update(*enabled);
                }
                let configuration = ApplicationConfigurationUpdate::builder()
                    .flink_application_configuration_update(
                        FlinkApplicationConfigurationUpdate::builder()
                            .parallelism_configuration_update(parallelism_update.build())
                            .build(),
                    )
                    .build();
                let restore = ApplicationRestoreConfiguration::builder()
                    .application_restore_type(ApplicationRestoreType::RestoreFromCustomSnapshot)
                    .snapshot_name(snapshot_name)
                    .build()
                    .map_err(|error| MsfError::Rejected { code: "Build".to_owned(), message: error.to_string() })?;
                let run = RunConfigurationUpdate::builder().application_restore_configuration(restore).build();
                let id = sdk::update(&self.client, application, conditional_token, configuration, run).await?;
                Ok(Performed { msf_operation_id: id })
            }
            other => Err(ClusterError::Unsupported(format!(
                "cluster {} runs MSF applications, which take snapshots and updates, not {other:?}",
                self.config.id
            ))),
        }
    }
}

/// An application as the console and pre-flight see a job, under the id derived from its ARN.
fn job_view(application: MsfApplication) -> JobView {
    JobView::of_application(msf_application_job_id(&application.arn), application)
}

impl Cluster for MsfCluster {
    fn config(&self) -> &ClusterConfig {
        &self.config
    }

    fn overview(&self) -> BoxFuture<'_, ClusterResult<ClusterView>> {
        Box::pin(self.cluster_view())
    }

    fn jobs(&self) -> BoxFuture<'_, ClusterResult<Vec<JobSummary>>> {
        Box::pin(async move {
            let mut jobs = Vec::new();
            for name in self.application_names().await? {
                if let Some(application) = self.describe(&name).await? {
                    jobs.push(JobSummary {
                        id: msf_application_job_id(&application.arn),
                        name: application.name.clone(),
                        status: application.status.job_status(),
                        start_time_ms: 0,
                        application: Some(application),
                        live_tasks: None,
                    });
                }
            }
            Ok(jobs)
        })
    }

    fn web_ui(&self) -> BoxFuture<'_, ClusterResult<WebUiActions>> {
        // The AWS console and API can change an application outside the product; the drift
        // check says so when it happens. There is no Flink Web UI to submit or cancel through.
        Box::pin(async { Ok(WebUiActions { rescale: false, submit: false, cancel: false }) })
    }

    fn job<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, ClusterResult<Option<JobView>>> {
        Box::pin(self.job_of(job_id))
    }

    fn vertex_metrics<'a>(
        &'a self,
        _job_id: &'a str,
        _vertex_id: &'a str,
    ) -> BoxFuture<'a, ClusterResult<VertexMetrics>> {
        Box::pin(async move {
            Err(ClusterError::Unsupported(
                "MSF shows an application's metrics in CloudWatch, not per vertex to the product".to_owned(),
            ))
        })
    }

    fn observe<'a>(
        &'a self,
        operation: &'a Operation,
        needs: &'a Needs,
        now_ms: u64,
    ) -> BoxFuture<'a, ClusterResult<Observation>> {
        Box::pin(self.read(operation, needs, now_ms))
    }

    fn perform<'a>(&'a self, _operation: &'a Operation, action: &'a Action) -> BoxFuture<'a, ClusterResult<Performed>> {
        Box::pin(self.act(action))
    }

    fn savepoint_metadata<'a>(&'a self, location: &'a str) -> BoxFuture<'a, ClusterResult<Option<u64>>> {
        Box::pin(async move {
            // `msf://<application>/<snapshot>`: READY is complete (MSF gives no size).
            let Some((application, snapshot)) = location.strip_prefix("msf://").and_then(|rest| rest.split_once('/'))
            else {
                return Ok(None);
            };
            let found = sdk::describe_snapshot(&self.client, application, snapshot).await?;
            Ok(found.filter(|snapshot| snapshot.status == MsfSnapshotStatus::Ready).map(|_| 0))
        })
    }

    fn flink_rescales<'a>(
        &'a self,
        job_id: &'a str,
        window: ExecutionWindow,
    ) -> BoxFuture<'a, ClusterResult<FlinkRescaleAccount>> {
        Box::pin(async move { Ok(FlinkRescaleAccount::not_kept(window, &format!("MSF application {job_id}"))) })
    }

    fn start_job<'a>(&'a self, _artifact: &'a ArtifactRef, _parallelism: u32) -> BoxFuture<'a, ClusterResult<String>> {
        Box::pin(async move {
            Err(ClusterError::Unsupported(
                "an MSF application is created in MSF (CreateApplication), not deployed through the product".to_owned(),
            ))
        })
    }
}

/// An SDK error as an [`MsfError`]: not found, refused (a client error MSF names) or
/// unavailable (transport, throttling, a service error).
pub(super) fn classify<E>(what: &str, error: aws_sdk_kinesisanalyticsv2::error::SdkError<E>) -> MsfError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = error.code().map(str::to_owned);
    let message = error.message().map(str::to_owned);
    match (code.as_deref(), message) {
        (Some("ResourceNotFoundException"), _) => MsfError::NotFound { what: what.to_owned() },
        (Some(code), message) if !matches!(code, "ThrottlingException" | "ServiceUnavailable" | "InternalFailure") => {
            MsfError::Rejected { code: code.to_owned(), message: message.unwrap_or_default() }
        }
        _ => {
            tracing::warn!(msf.error = %DisplayErrorContext(&error), "{what}");
            MsfError::Unavailable { message: format!("{what}: {}", code.unwrap_or_else(|| "no answer".to_owned())) }
        }
    }
}

pub(super) fn status_of(text: &str) -> MsfStatus {
    MsfStatus::parse(text)
}

pub(super) fn operation_status(text: &str) -> MsfOperationStatus {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(MsfOperationStatus::Unknown)
}

pub(super) fn snapshot_status(text: &str) -> MsfSnapshotStatus {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(MsfSnapshotStatus::Unknown)
}

pub(super) fn restore_of(kind: Option<&str>, snapshot: Option<&str>) -> MsfRestore {
    match (kind, snapshot) {
        (Some("RESTORE_FROM_CUSTOM_SNAPSHOT"), Some(name)) => {
            MsfRestore::RestoreFromCustomSnapshot { snapshot_name: name.to_owned() }
        }
        (Some("SKIP_RESTORE_FROM_SNAPSHOT"), _) => MsfRestore::SkipRestoreFromSnapshot,
        _ => MsfRestore::RestoreFromLatestSnapshot,
    }
}
