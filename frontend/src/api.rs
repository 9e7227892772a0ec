//! Typed calls to the backend's HTTP API; errors decode the API's JSON envelope.

use rescaler_shared::api::{ErrorEnvelope, Health};
use serde::de::DeserializeOwned;

/// What a failed call tells the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiFailure> {
    let response = gloo_net::http::Request::get(path)
        .send()
        .await
        .map_err(|error| ApiFailure { message: format!("cannot reach the server: {error}") })?;
    if !response.ok() {
        let status = response.status();
        return Err(match response.json::<ErrorEnvelope>().await {
            Ok(envelope) => ApiFailure { message: envelope.error.message },
            Err(_) => ApiFailure { message: format!("the server answered {status}") },
        });
    }
    response
        .json::<T>()
        .await
        .map_err(|error| ApiFailure { message: format!("unexpected answer from the server: {error}") })
}

/// `GET /healthz`.
pub async fn health() -> Result<Health, ApiFailure> {
    get_json("/healthz").await
}
