//! The calls the MSF cluster makes through `aws-sdk-kinesisanalyticsv2`, each answering the
//! product's own types (`rescaler_shared::flink::msf`) or an [`MsfError`].

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_kinesisanalyticsv2::types::{ApplicationConfigurationUpdate, ApplicationDetail, RunConfigurationUpdate};
use rescaler_shared::flink::msf::{MsfApplication, MsfOperation, MsfSnapshot};

use super::{MsfError, classify, operation_status, restore_of, snapshot_status, status_of};
use crate::config::MsfSettings;

/// A client for the settings' region: static keys when given (the tests' stand-in), else the
/// AWS default chain, through `role_arn` when set; `endpoint_url` when set.
pub(super) async fn client(settings: &MsfSettings, timeout: Duration) -> anyhow::Result<Client> {
    let region = Region::new(settings.region.clone());
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(8))
        .operation_timeout(timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region.clone()).timeout_config(timeouts);
    if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
        loader = loader.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key,
            secret,
            None,
            None,
            "rescaler-config",
        )));
    }
    let mut shared = loader.load().await;
    if let Some(role_arn) = &settings.role_arn {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("flink-rescaler")
            .region(region)
            .configure(&shared)
            .build()
            .await;
        shared = shared.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
    }
    let mut builder = aws_sdk_kinesisanalyticsv2::config::Builder::from(&shared);
    if let Some(endpoint) = &settings.endpoint_url {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(builder.build()))
}

fn millis(time: Option<&aws_sdk_kinesisanalyticsv2::primitives::DateTime>) -> Option<u64> {
    time.and_then(|time| u64::try_from(time.to_millis().ok()?).ok())
}

fn count(value: Option<i32>) -> u32 {
    value.and_then(|value| u32::try_from(value).ok()).unwrap_or(0)
}

/// An application as one `DescribeApplication` showed it.
pub(super) fn application(detail: &ApplicationDetail, kpu_limit: u32) -> MsfApplication {
    let configuration = detail.application_configuration_description();
    let parallelism = configuration
        .and_then(|configuration| configuration.flink_application_configuration_description())
        .and_then(|flink| flink.parallelism_configuration_description());
    let restore = configuration
        .and_then(|configuration| configuration.run_configuration_description())
        .and_then(|run| run.application_restore_configuration_description());
    MsfApplication {
        name: detail.application_name().to_owned(),
        arn: detail.application_arn().to_owned(),
        status: status_of(detail.application_status().as_str()),
        runtime: detail.runtime_environment().as_str().to_owned(),
        version_id: u64::try_from(detail.application_version_id()).unwrap_or(0),
        conditional_token: detail.conditional_token().map(str::to_owned),
        parallelism: count(parallelism.and_then(|p| p.parallelism())),
        parallelism_per_kpu: count(parallelism.and_then(|p| p.parallelism_per_kpu())).max(1),
        current_parallelism: count(parallelism.and_then(|p| p.current_parallelism())),
        autoscaling: parallelism.and_then(|p| p.auto_scaling_enabled()).unwrap_or(false),
        custom_configuration: parallelism
            .and_then(|p| p.configuration_type())
            .is_some_and(|kind| kind.as_str() == "CUSTOM"),
        snapshots_enabled: configuration
            .and_then(|configuration| configuration.application_snapshot_configuration_description())
            .is_some_and(|snapshots| snapshots.snapshots_enabled()),
        system_rollback: configuration
            .and_then(|configuration| configuration.application_system_rollback_configuration_description())
            .is_some_and(|rollback| rollback.rollback_enabled()),
        restore: restore_of(
            restore.map(|restore| restore.application_restore_type().as_str()),
            restore.and_then(|restore| restore.snapshot_name()),
        ),
        kpu_limit,
        latest_snapshots: Vec::new(),
    }
}

pub(super) async fn describe_application(client: &Client, name: &str) -> Result<Option<ApplicationDetail>, MsfError> {
    match client.describe_application().application_name(name).send().await {
        Ok(output) => Ok(output.application_detail().cloned()),
        Err(error) => match classify(&format!("application {name}"), error) {
            MsfError::NotFound { .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// One entry of `ListApplications`.
pub(super) struct Summary {
    pub name: String,
    pub arn: String,
}

pub(super) async fn list_applications(client: &Client) -> Result<Vec<Summary>, MsfError> {
    let mut summaries = Vec::new();
    let mut next = None;
    loop {
        let output = client
            .list_applications()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|error| classify("the application list", error))?;
        summaries.extend(output.application_summaries().iter().map(|summary| Summary {
            name: summary.application_name().to_owned(),
            arn: summary.application_arn().to_owned(),
        }));
        match output.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => return Ok(summaries),
        }
    }
}

pub(super) async fn has_tag(client: &Client, arn: &str, key: &str, value: &str) -> Result<bool, MsfError> {
    let output = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|error| classify(&format!("the tags of {arn}"), error))?;
    Ok(output.tags().iter().any(|tag| tag.key() == key && tag.value() == Some(value)))
}

pub(super) async fn describe_snapshot(
    client: &Client,
    application: &str,
    snapshot: &str,
) -> Result<Option<MsfSnapshot>, MsfError> {
    let answer =
        client.describe_application_snapshot().application_name(application).snapshot_name(snapshot).send().await;
    match answer {
        Ok(output) => Ok(output.snapshot_details().map(|details| MsfSnapshot {
            name: details.snapshot_name().to_owned(),
            status: snapshot_status(details.snapshot_status().as_str()),
            version_id: u64::try_from(details.application_version_id()).unwrap_or(0),
            created_at_ms: millis(details.snapshot_creation_timestamp()),
        })),
        Err(error) => match classify(&format!("snapshot {snapshot} of {application}"), error) {
            MsfError::NotFound { .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// The application's snapshots, newest first (one page).
pub(super) async fn list_snapshots(client: &Client, application: &str) -> Result<Vec<MsfSnapshot>, MsfError> {
    let output = client
        .list_application_snapshots()
        .application_name(application)
        .limit(50)
        .send()
        .await
        .map_err(|error| classify(&format!("the snapshots of {application}"), error))?;
    let mut snapshots: Vec<MsfSnapshot> = output
        .snapshot_summaries()
        .iter()
        .map(|details| MsfSnapshot {
            name: details.snapshot_name().to_owned(),
            status: snapshot_status(details.snapshot_status().as_str()),
            version_id: u64::try_from(details.application_version_id()).unwrap_or(0),
            created_at_ms: millis(details.snapshot_creation_timestamp()),
        })
        .collect();
    snapshots.sort_by_key(|snapshot| std::cmp::Reverse(snapshot.created_at_ms));
    Ok(snapshots)
}

pub(super) async fn create_snapshot(client: &Client, application: &str, snapshot: &str) -> Result<(), MsfError> {
    client
        .create_application_snapshot()
        .application_name(application)
        .snapshot_name(snapshot)
        .send()
        .await
        .map(drop)
        .map_err(|error| classify(&format!("the snapshot {snapshot} of {application}"), error))
}

/// `UpdateApplication`; answers MSF's operation id.
pub(super) async fn update(
    client: &Client,
    application: &str,
    conditional_token: &str,
    configuration: ApplicationConfigurationUpdate,
    run: RunConfigurationUpdate,
) -> Result<Option<String>, MsfError> {
    let output = client
        .update_application()
        .application_name(application)
        .conditional_token(conditional_token)
        .application_configuration_update(configuration)
        .run_configuration_update(run)
        .send()
        .await
        .map_err(|error| classify(&format!("the update of {application}"), error))?;
    Ok(output.operation_id().map(str::to_owned))
}

/// The newest operations of the application (one page).
pub(super) async fn list_operations(client: &Client, application: &str) -> Result<Vec<MsfOperation>, MsfError> {
    let output = client
        .list_application_operations()
        .application_name(application)
        .limit(50)
        .send()
        .await
        .map_err(|error| classify(&format!("the operations of {application}"), error))?;
    Ok(output
        .application_operation_info_list()
        .iter()
        .map(|info| MsfOperation {
            id: info.operation_id().unwrap_or_default().to_owned(),
            kind: info.operation().unwrap_or_default().to_owned(),
            status: info
                .operation_status()
                .map_or(rescaler_shared::flink::msf::MsfOperationStatus::Unknown, |status| {
                    operation_status(status.as_str())
                }),
            started_at_ms: millis(info.start_time()),
            error: None,
            rollback_operation_id: None,
        })
        .collect())
}

pub(super) async fn describe_operation(
    client: &Client,
    application: &str,
    id: &str,
) -> Result<Option<MsfOperation>, MsfError> {
    let answer = client.describe_application_operation().application_name(application).operation_id(id).send().await;
    let output = match answer {
        Ok(output) => output,
        Err(error) => {
            return match classify(&format!("operation {id} of {application}"), error) {
                MsfError::NotFound { .. } => Ok(None),
                other => Err(other),
            };
        }
    };
    Ok(output.application_operation_info_details().map(|details| {
        let failure = details.operation_failure_details();
        MsfOperation {
            id: id.to_owned(),
            kind: details.operation().to_owned(),
            status: operation_status(details.operation_status().as_str()),
            started_at_ms: millis(Some(details.start_time())),
            error: failure
                .and_then(|failure| failure.error_info())
                .and_then(|info| info.error_string())
                .map(str::to_owned),
            rollback_operation_id: failure.and_then(|failure| failure.rollback_operation_id()).map(str::to_owned),
        }
    }))
}
