//! A Router over a fresh directory store, one cluster whose Flink never answers, and four users:
//! alice requester, bob approver, vera viewer, admin.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rescaler_backend::config::{AuthConfig, ClusterConfig, Config, StoreConfig, UserConfig};
use rescaler_backend::http::{AppState, app};
use serde_json::Value;
use tower::ServiceExt;

pub const JOB: &str = "0123456789abcdef0123456789abcdef";

pub struct TestApp {
    pub state: AppState,
    _store_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> anyhow::Result<Self> {
        let store_dir = tempfile::tempdir()?;
        let user = |name: &str, role: &str| UserConfig {
            name: name.to_owned(),
            token: format!("{name}-token"),
            roles: [("*".to_owned(), role.to_owned())].into_iter().collect(),
            email: None,
        };
        let config = Config {
            listen: "127.0.0.1:0".to_owned(),
            console_dir: None,
            store: StoreConfig::Dir { path: store_dir.path().to_owned() },
            // Nobody listens on port 9: Flink calls answer 503 at once.
            clusters: vec![ClusterConfig {
                id: "prod".to_owned(),
                name: "Prod".to_owned(),
                kind: rescaler_backend::config::ClusterKind::Flink,
                msf: None,
                rest_url: "http://127.0.0.1:9".to_owned(),
                savepoint_dir: None,
                savepoint_dir_s3: None,
                auth_header: None,
                auth_header_ssm: None,
                required_approvals: None,
                windows: Vec::new(),
                freezes: Vec::new(),
                recommendations: Default::default(),
            }],
            auth: AuthConfig::Tokens {
                users: vec![
                    user("alice", "requester"),
                    user("bob", "approver"),
                    user("vera", "viewer"),
                    user("admin", "admin"),
                ],
            },
            approvals: Default::default(),
            savepoint_s3: None,
            notifications: Default::default(),
            limits: Default::default(),
        };
        let (state, _engine) = rescaler_backend::boot::build(config, "openapi-test".to_owned()).await?;
        Ok(Self { state, _store_dir: store_dir })
    }

    pub async fn call(&self, method: &str, uri: &str, token: Option<&str>) -> anyhow::Result<(StatusCode, Value)> {
        self.send(method, uri, token, None).await
    }

    /// Sends a request with an optional JSON (or any) body; answers the status and the JSON
    /// body (`null` when the body is not JSON).
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(bytes) => {
                request = request.header("content-type", "application/json");
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = app(self.state.clone()).oneshot(request.body(body)?).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

/// The terms alice's recurring schedule `id` on `JOB` is stored with: one approval needed,
/// an hour to get it.
#[allow(dead_code)]
pub fn alices_schedule_terms(id: &str) -> rescaler_shared::recurring::ScheduleTerms {
    rescaler_shared::recurring::ScheduleTerms {
        id: id.to_owned(),
        deployment_id: JOB.into(),
        job_name: "job".into(),
        requested_by: "alice".into(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 60_000,
        stable_for_ms: 10_000,
    }
}
