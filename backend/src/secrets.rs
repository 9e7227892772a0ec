//! Secrets the configuration names instead of holding: a cluster's `auth_header_ssm` names an
//! SSM Parameter Store SecureString, read once at start (`GetParameter` with decryption) into
//! the `auth_header` the cluster's Flink client sends. The value is never in the TOML, the
//! deployment template's parameters or the Lambda environment, and never logged.

use aws_sdk_ssm::config::BehaviorVersion;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::config::Config;

/// Reads SSM parameters.
#[derive(Debug, Clone)]
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
}

/// A named secret that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cluster {cluster_id}: cannot read SSM parameter {parameter}: {detail}")]
pub struct SecretError {
    pub cluster_id: String,
    pub parameter: String,
    pub detail: String,
}

impl SsmSecrets {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Self { client }
    }

    /// A client from the AWS default chain: the Lambda's role and region, or the environment
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL_SSM`, …) elsewhere.
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(aws_sdk_ssm::Client::new(&shared))
    }

    /// The decrypted value of the parameter `name`.
    pub async fn parameter(&self, name: &str) -> Result<String, String> {
        let output =
            self.client.get_parameter().name(name).with_decryption(true).send().await.map_err(|error| {
                match (error.code(), error.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    _ => DisplayErrorContext(error).to_string(),
                }
            })?;
        output
            .parameter()
            .and_then(|parameter| parameter.value())
            .map(str::to_owned)
            .ok_or_else(|| "the parameter has no value".to_owned())
    }
}

/// Whether any cluster names a secret to read.
pub fn names_secrets(config: &Config) -> bool {
    config.clusters.iter().any(|cluster| cluster.auth_header_ssm.is_some())
        || config.notifications.channels.iter().any(|channel| channel.secret_ssm.is_some())
}

/// Reads every cluster's `auth_header_ssm` into its `auth_header`; afterwards no cluster names
/// a secret any more.
pub async fn resolve(config: &mut Config, ssm: &SsmSecrets) -> Result<(), SecretError> {
    for cluster in &mut config.clusters {
        let Some((header, parameter)) = cluster.auth_header_ssm.take() else {
            continue;
        };
        let value = ssm.parameter(&parameter).await.map_err(|detail| SecretError {
            cluster_id: cluster.id.clone(),
            parameter: parameter.clone(),
            detail,
        })?;
        tracing::info!(cluster.id = %cluster.id, ssm.parameter = %parameter, "read the cluster's auth header from SSM");
        cluster.auth_header = Some((header, value));
    }
    for channel in &mut config.notifications.channels {
        let Some(parameter) = channel.secret_ssm.take() else { continue };
        let value = ssm.parameter(&parameter).await.map_err(|detail| SecretError {
            cluster_id: format!("(notification channel {})", channel.id),
            parameter: parameter.clone(),
            detail,
        })?;
        tracing::info!(channel.id = %channel.id, ssm.parameter = %parameter, "read the channel's secret from SSM");
        channel.secret = Some(value);
    }
    Ok(())
}

/// `config` with its named secrets read through the AWS default chain (no AWS call when it
/// names none).
pub async fn resolved(mut config: Config) -> Result<Config, SecretError> {
    if names_secrets(&config) {
        resolve(&mut config, &SsmSecrets::from_env().await).await?;
    }
    Ok(config)
}
