//! Waking the reconciler the moment a request is approved, so no rescale waits for a tick.
//!
//! Locally the reconcile loop waits on a `Notify`. On Lambda the API function invokes the
//! reconcile function asynchronously (`InvocationType: Event`) with a SigV4-signed request; the
//! schedule remains the fallback if that invoke fails.

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

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

/// Invokes one Lambda function asynchronously through the Lambda REST API.
pub struct LambdaInvoker {
    function_name: String,
    region: String,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    http: reqwest::Client,
}

impl LambdaInvoker {
    /// The invoker for `function_name` with the default credential chain (the function's role).
    pub async fn from_env(function_name: String) -> anyhow::Result<Self> {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let region = shared.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".to_owned());
        let credentials = shared.credentials_provider().ok_or_else(|| anyhow::anyhow!("no AWS credentials"))?;
        Ok(Self { function_name, region, credentials, http: reqwest::Client::new() })
    }

    async fn invoke_async(&self) -> anyhow::Result<()> {
        let url = format!(
            "https://lambda.{}.amazonaws.com/2015-03-31/functions/{}/invocations",
            self.region, self.function_name
        );
        let body = br#"{"source":"rescaler.approval"}"#;
        let identity = self.credentials.provide_credentials().await?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers = [("x-amz-invocation-type", "Event"), ("content-type", "application/json")];
        let signable = SignableRequest::new("POST", url.clone(), headers.into_iter(), SignableBody::Bytes(body))?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = self.http.post(&url).body(body.as_slice());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        anyhow::ensure!(response.status().as_u16() == 202, "lambda answered {}", response.status());
        Ok(())
    }
}
