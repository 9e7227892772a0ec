//! A small client of the backend's HTTP API for tests: calls as one of the demo users
//! (`<name>-token`), answers the status and the JSON body.

use serde_json::Value;

/// The API of one served backend.
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// The API under `base` (the backend's URL, without `/api/v1`).
    pub fn new(base: String) -> Self {
        Self { http: reqwest::Client::new(), base }
    }

    /// One call, as `user` (or without a token), with an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base));
        if let Some(user) = user {
            request = request.bearer_auth(format!("{user}-token"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// A request builder for `path` under `/api/v1`, for bodies the JSON helpers cannot send.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}/api/v1{path}", self.base))
    }

    pub async fn get(&self, path: &str, user: &str) -> anyhow::Result<(u16, Value)> {
        self.call(reqwest::Method::GET, path, Some(user), None).await
    }

    pub async fn post(&self, path: &str, user: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.call(reqwest::Method::POST, path, Some(user), Some(body)).await
    }
}
