//! The HTTP plumbing of [`RestFlinkClient`]: requests against the base URL, answers read whole
//! and decoded, path segments percent-encoded.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::RestFlinkClient;
use crate::flink::{FlinkError, FlinkResult};

impl RestFlinkClient {
    pub(super) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base_url))
    }

    /// Sends and reads the whole answer; transport failures become `Unavailable`.
    pub(super) async fn exchange(&self, what: &str, request: RequestBuilder) -> FlinkResult<(StatusCode, String)> {
        let response = request.send().await.map_err(|error| self.transport_error(what, error))?;
        let status = response.status();
        let body = response.text().await.map_err(|error| self.transport_error(what, error))?;
        tracing::debug!(flink.what = what, http.status = status.as_u16(), "flink answered");
        Ok((status, body))
    }

    /// A transport failure, logged in full here; its text leaves without the URL or the host.
    pub(super) fn transport_error(&self, what: &str, error: reqwest::Error) -> FlinkError {
        tracing::debug!(flink.url = %self.base_url, flink.what = what, error = ?error, "flink request failed");
        FlinkError::from_transport(what, error).without_host(&self.base_url)
    }

    /// A GET whose 404 means "no such thing".
    pub(super) async fn get_optional<T: DeserializeOwned>(&self, what: &str, path: &str) -> FlinkResult<Option<T>> {
        let (status, body) = self.exchange(what, self.request(Method::GET, path)).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        decode(what, status, &body).map(Some)
    }

    pub(super) async fn get<T: DeserializeOwned>(&self, what: &str, path: &str) -> FlinkResult<T> {
        let (status, body) = self.exchange(what, self.request(Method::GET, path)).await?;
        decode(what, status, &body)
    }
}

/// A successful answer decoded as `T`, or the error the status means.
pub(super) fn decode<T: DeserializeOwned>(what: &str, status: StatusCode, body: &str) -> FlinkResult<T> {
    if !status.is_success() {
        return Err(FlinkError::from_status(what, status, body));
    }
    serde_json::from_str(body).map_err(|error| FlinkError::undecodable(what, error))
}

/// A Flink timestamp (milliseconds since the epoch) as a `u64`; a negative one becomes 0.
pub(super) fn millis(timestamp: i64) -> u64 {
    u64::try_from(timestamp).unwrap_or(0)
}

/// A path segment or query value, percent-encoded outside the unreserved characters.
pub(in crate::flink) fn segment(text: &str) -> String {
    if text == "." || text == ".." {
        return text.replace('.', "%2E");
    }
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
