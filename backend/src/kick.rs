//! Waking the reconciler the moment a request is created or acted on, so no rescale and no
//! notification (the approvers' `requested` above all) waits for a tick.
//!
//! Locally the reconcile loop waits on a `Notify`. On Lambda the API function invokes the
//! reconcile function asynchronously (`InvocationType: Event`, through `aws-sdk-lambda`); the
//! schedule remains the fallback if that invoke fails.

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// How the API wakes the reconciler.
#[derive(Clone)]
pub enum Kicker {
    /// The local binary's reconcile loop.
    Local(Arc<tokio::sync::Notify>),
    /// An asynchronous invoke of the reconcile Lambda.
    Lambda(Arc<LambdaInvoker>),
}

impl Kicker {
    pub fn local() -> Self {
        Self::Local(Arc::new(tokio::sync::Notify::new()))
    }

    /// The `Notify` the local loop waits on.
    pub fn notify(&self) -> Option<Arc<tokio::sync::Notify>> {
        match self {
            Self::Local(notify) => Some(notify.clone()),
            Self::Lambda(_) => None,
        }
    }

    /// Wakes the reconciler. Failing to is logged, not an error: the schedule still runs.
    pub async fn kick(&self) {
        match self {
            Self::Local(notify) => notify.notify_one(),
            Self::Lambda(invoker) => {
                if let Err(error) = invoker.invoke_async().await {
                    tracing::warn!(%error, "could not invoke the reconcile function; the schedule will pick the request up");
                }
            }
        }
    }
}

/// Invokes one Lambda function asynchronously (`InvocationType: Event`) through the AWS SDK.
pub struct LambdaInvoker {
    function_name: String,
    lambda: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    /// The invoker for `function_name` with the default credential chain (the function's role)
    /// and the environment's region (`us-east-1` when none is set).
    pub async fn from_env(function_name: String) -> anyhow::Result<Self> {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        anyhow::ensure!(shared.credentials_provider().is_some(), "no AWS credentials");
        let mut config = aws_sdk_lambda::config::Builder::from(&shared);
        if shared.region().is_none() {
            config = config.region(aws_sdk_lambda::config::Region::from_static("us-east-1"));
        }
        Ok(Self { function_name, lambda: aws_sdk_lambda::Client::from_conf(config.build()) })
    }

    async fn invoke_async(&self) -> anyhow::Result<()> {
        let answer = self
            .lambda
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(&br#"{"source":"rescaler.approval"}"#[..]))
            .send()
            .await?;
        anyhow::ensure!(answer.status_code() == 202, "lambda answered {}", answer.status_code());
        Ok(())
    }
}
