//! Roles × endpoints, cell by cell, through the Router (`oneshot`): anonymous callers get 401,
//! callers without the role 403, callers with it get past the check; and program arguments for
//! the roles that may link jobs only.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::config::{TestConfig, unreachable_cluster};
use harness::paths::scratch_dir;
use rescaler_backend::config::ClusterConfig;
use rescaler_backend::http::app;
use rescaler_shared::operation::{ArtifactRef, Operation, OperationRequest, Strategy, Target};
use tower::ServiceExt;

const JOB: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Copy, Debug)]
enum Needs {
    /// Anyone signed in with a role somewhere.
    AnyRole,
    Viewer,
    Requester,
    Approver,
    Admin,
}

fn rank(user: &str) -> u8 {
    match user {
        "victor" => 1,
        "alice" => 2,
        "bob" => 3,
        "admin" => 4,
        _ => 0,
    }
}

fn allowed(user: &str, needs: Needs) -> bool {
    let needed = match needs {
        Needs::AnyRole | Needs::Viewer => 1,
        Needs::Requester => 2,
        Needs::Approver => 3,
        Needs::Admin => 4,
    };
    rank(user) >= needed
}

#[tokio::test]
async fn every_role_on_every_endpoint() -> anyhow::Result<()> {
    // A cluster nobody listens for: past the role check, Flink calls answer 503.
    let cluster =
        ClusterConfig { savepoint_dir: Some("file:///tmp/sp".to_owned()), ..unreachable_cluster("prod", "Prod") };
    let config = TestConfig::new().with_dir_store(scratch_dir("roles")?).with_cluster(cluster).build();
    let (state, _engine) = rescaler_backend::boot::build(config, "roles-test".to_owned()).await?;
    let router = app(state.clone());

    let sha = "a".repeat(64);
    let body_rescale = format!(
        r#"{{"cluster_id":"prod","job_id":"{JOB}","target":{{"kind":"uniform","parallelism":2}},"strategy":"auto","reason":"peak"}}"#
    );
    let cells: Vec<(&str, String, String, Needs)> = vec![
        ("GET", "/api/v1/me".into(), String::new(), Needs::AnyRole),
        ("GET", "/api/v1/clusters".into(), String::new(), Needs::AnyRole),
        ("GET", "/api/v1/clusters/prod/jobs".into(), String::new(), Needs::Viewer),
        ("GET", format!("/api/v1/clusters/prod/jobs/{JOB}"), String::new(), Needs::Viewer),
        ("GET", format!("/api/v1/clusters/prod/jobs/{JOB}/savepoints"), String::new(), Needs::Viewer),
        ("GET", format!("/api/v1/clusters/prod/jobs/{JOB}/metrics"), String::new(), Needs::Viewer),
        ("GET", format!("/api/v1/clusters/prod/jobs/{JOB}/history"), String::new(), Needs::Viewer),
        ("GET", format!("/api/v1/clusters/prod/jobs/{JOB}/recommendation"), String::new(), Needs::Viewer),
        ("POST", "/api/v1/preflight".into(), body_rescale.clone(), Needs::Viewer),
        ("POST", "/api/v1/rescales".into(), body_rescale.clone(), Needs::Requester),
        ("GET", "/api/v1/rescales".into(), String::new(), Needs::AnyRole),
        ("GET", "/api/v1/audit".into(), String::new(), Needs::AnyRole),
        ("GET", "/api/v1/artifacts".into(), String::new(), Needs::AnyRole),
        (
            "POST",
            format!("/api/v1/clusters/prod/jobs/{JOB}/link"),
            format!(r#"{{"artifact_sha256":"{sha}"}}"#),
            Needs::Admin,
        ),
        (
            "POST",
            "/api/v1/clusters/prod/deployments".into(),
            format!(r#"{{"artifact_sha256":"{sha}","parallelism":1}}"#),
            Needs::Admin,
        ),
        ("POST", "/api/v1/rescales/{op}/approve".into(), "{}".into(), Needs::Approver),
        ("POST", "/api/v1/rescales/{op}/reject".into(), "{}".into(), Needs::Approver),
        ("POST", "/api/v1/rescales/{op}/cancel".into(), "{}".into(), Needs::Approver),
        ("POST", "/api/v1/rescales/{op}/break-glass".into(), r#"{"reason":"outage"}"#.into(), Needs::Admin),
        ("GET", "/api/v1/rescales/{op}".into(), String::new(), Needs::Viewer),
        ("GET", "/api/v1/rescales/{op}/flink-rescales".into(), String::new(), Needs::Viewer),
        ("GET", "/api/v1/rescales/{op}/deliveries".into(), String::new(), Needs::Viewer),
    ];
    let mut checked = 0;
    for (method, path, body, needs) in &cells {
        for user in ["", "victor", "alice", "bob", "admin"] {
            // A fresh request by someone else for each cell that acts on one.
            let path = if path.contains("{op}") {
                let mut operation = Operation::new(
                    uuid::Uuid::new_v4().simple().to_string(),
                    OperationRequest {
                        cluster_id: "prod".into(),
                        job_id: format!("{:032x}", checked),
                        job_name: "j".into(),
                        target: Target::Uniform { parallelism: 2 },
                        strategy: Strategy::Auto,
                        reason: "r".into(),
                        requested_by: "carol".into(),
                        required_approvals: 1,
                        approval_window_ms: 3_600_000,
                        verify_timeout_ms: 60_000,
                        artifact: None,
                        autoscaling: None,
                    },
                    rescaler_backend::reconcile::now_ms(),
                );
                operation.job_name = "matrix".into();
                state.records.create_operation(&operation).await?;
                path.replace("{op}", &operation.id)
            } else {
                path.clone()
            };
            let mut request = Request::builder().method(*method).uri(&path).header("content-type", "application/json");
            if !user.is_empty() {
                request = request.header("authorization", format!("Bearer {user}-token"));
            }
            let response = router.clone().oneshot(request.body(Body::from(body.clone()))?).await?;
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
            let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            let cell =
                format!("{method} {path} as {:?}: {status} {answer}", if user.is_empty() { "anonymous" } else { user });
            assert!(
                status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE,
                "no 5xx but 503 from Flink: {cell}"
            );
            if user.is_empty() {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{cell}");
            } else if allowed(user, *needs) {
                assert!(status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED, "{cell}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{cell}");
            }
            if !status.is_success() {
                assert!(answer["error"]["code"].is_string(), "envelope: {cell}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cells.len() * 5);
    Ok(())
}

/// Program arguments (they often carry credentials) reach only the roles that may link jobs:
/// every answer carrying a request's artifact has them empty for the others.
#[tokio::test]
async fn program_arguments_reach_only_the_roles_that_may_link_jobs() -> anyhow::Result<()> {
    let cluster = unreachable_cluster("prod", "Prod");
    let config = TestConfig::new().with_dir_store(scratch_dir("roles-args")?).with_cluster(cluster).build();
    let (state, _engine) = rescaler_backend::boot::build(config, "roles-args-test".to_owned()).await?;
    let router = app(state.clone());
    let secret = vec!["--db-password".to_owned(), "hunter2".to_owned()];
    let new_request = |job: &str| {
        Operation::new(
            uuid::Uuid::new_v4().simple().to_string(),
            OperationRequest {
                cluster_id: "prod".into(),
                job_id: job.into(),
                job_name: "j".into(),
                target: Target::Uniform { parallelism: 2 },
                strategy: Strategy::Savepoint,
                reason: "r".into(),
                requested_by: "carol".into(),
                required_approvals: 2,
                approval_window_ms: 3_600_000,
                verify_timeout_ms: 60_000,
                artifact: Some(ArtifactRef {
                    artifact_id: "b".repeat(64),
                    sha256: "b".repeat(64),
                    entry_class: Some("com.example.Job".into()),
                    args: secret.clone(),
                }),
                autoscaling: None,
            },
            rescaler_backend::reconcile::now_ms(),
        )
    };
    let call = |method: &'static str, path: String, user: &'static str| {
        let router = router.clone();
        async move {
            let request = Request::builder()
                .method(method)
                .uri(&path)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {user}-token"))
                .body(Body::from("{}"))?;
            let response = router.oneshot(request).await?;
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
            anyhow::Ok((status, serde_json::from_slice::<serde_json::Value>(&bytes)?))
        }
    };
    for (index, (user, sees)) in
        [("victor", false), ("alice", false), ("bob", false), ("admin", true)].into_iter().enumerate()
    {
        let operation = new_request(&format!("{index:032x}"));
        state.records.create_operation(&operation).await?;
        let expected = if sees { serde_json::json!(secret) } else { serde_json::json!([]) };
        let (status, one) = call("GET", format!("/api/v1/rescales/{}", operation.id), user).await?;
        assert_eq!(status, StatusCode::OK, "{one}");
        assert_eq!(one["artifact"]["args"], expected, "{user} reads the request: {one}");
        assert_eq!(one["artifact"]["sha256"], "b".repeat(64), "{user} sees which artifact: {one}");
        let (status, listing) = call("GET", "/api/v1/rescales".into(), user).await?;
        assert_eq!(status, StatusCode::OK, "{listing}");
        let listed = listing.as_array().into_iter().flatten().find(|op| op["id"] == operation.id.as_str());
        assert_eq!(listed.map(|op| op["artifact"]["args"].clone()), Some(expected.clone()), "{user} lists: {listing}");
        if user == "bob" || user == "admin" {
            // The answer to an action carries the request too.
            let (status, approved) = call("POST", format!("/api/v1/rescales/{}/approve", operation.id), user).await?;
            assert_eq!(status, StatusCode::OK, "{approved}");
            assert_eq!(approved["artifact"]["args"], expected, "{user} approves: {approved}");
        }
        assert!(!listing.to_string().contains("hunter2") || sees, "{user} never gets the secret: {listing}");
    }
    Ok(())
}
