//! Bad input the API fuzz found answered outside the envelope: each now gets a 4xx in it.

mod common;

use axum::http::StatusCode;
use common::{JOB, TestApp};
use serde_json::{Value, json};

fn assert_envelope(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_in_the_envelope() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    for (method, uri) in
        [("DELETE", "/api/v1/me"), ("POST", "/healthz"), ("PUT", "/api/v1/rescales"), ("GET", "/api/v1/preflight")]
    {
        let (status, body) = test_app.call(method, uri, Some("admin-token")).await?;
        assert_envelope(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    Ok(())
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_a_400_in_the_envelope() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    for uri in [
        "/api/v1/clusters/%FF/jobs",
        "/api/v1/rescales/%FF%FE",
        &format!("/api/v1/clusters/prod/jobs/{JOB}%C0/metrics"),
    ] {
        let (status, body) = test_app.call("GET", uri, Some("admin-token")).await?;
        assert_envelope(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    Ok(())
}

#[tokio::test]
async fn an_oversized_comment_body_is_a_400_in_the_envelope() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let huge = vec![b' '; 3 * 1024 * 1024];
    let (status, body) =
        test_app.send("POST", &format!("/api/v1/rescales/{JOB}/approve"), Some("admin-token"), Some(huge)).await?;
    assert_envelope(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    Ok(())
}

#[tokio::test]
async fn a_null_comment_body_means_no_comment() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    // Past the body: the request id is unknown.
    let (status, body) = test_app
        .send("POST", &format!("/api/v1/rescales/{JOB}/approve"), Some("admin-token"), Some(b"null".to_vec()))
        .await?;
    assert_envelope(status, &body, StatusCode::NOT_FOUND, "not_found");
    Ok(())
}

#[tokio::test]
async fn a_reason_is_measured_in_characters_not_bytes() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let request = |reason: String| {
        serde_json::to_vec(
            &json!({"cluster_id": "prod", "job_id": JOB, "target": {"kind": "uniform", "parallelism": 2}, "reason": reason}),
        )
    };
    // 2000 two-byte characters pass validation (and reach Flink, which does not answer).
    let (status, body) =
        test_app.send("POST", "/api/v1/rescales", Some("alice-token"), Some(request("é".repeat(2000))?)).await?;
    assert_envelope(status, &body, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let (status, body) =
        test_app.send("POST", "/api/v1/rescales", Some("alice-token"), Some(request("é".repeat(2001))?)).await?;
    assert_envelope(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_flink_is_named_by_its_cluster_never_by_its_address() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let rescale = serde_json::to_vec(
        &json!({"cluster_id": "prod", "job_id": JOB, "target": {"kind": "uniform", "parallelism": 2}, "reason": "load"}),
    )?;
    let answers = [
        test_app.call("GET", "/api/v1/clusters/prod/jobs", Some("alice-token")).await?,
        test_app.call("GET", &format!("/api/v1/clusters/prod/jobs/{JOB}"), Some("alice-token")).await?,
        test_app.send("POST", "/api/v1/preflight", Some("alice-token"), Some(rescale.clone())).await?,
        test_app.send("POST", "/api/v1/rescales", Some("alice-token"), Some(rescale)).await?,
    ];
    for (status, body) in answers {
        assert_envelope(status, &body, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("cluster prod: flink is unavailable"), "{body}");
        assert!(!message.contains("127.0.0.1") && !message.contains(":9") && !message.contains("http"), "{body}");
    }
    // The cluster list says why a cluster is unreachable, in the same words.
    let (status, body) = test_app.call("GET", "/api/v1/clusters", Some("alice-token")).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let error = body[0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("flink is unavailable") && !error.contains("127.0.0.1"), "{body}");
    Ok(())
}

#[tokio::test]
async fn a_not_before_in_the_past_or_after_expiry_is_refused_before_flink_is_asked() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let now_ms = u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?;
    let request = |not_before_ms: u64| {
        serde_json::to_vec(&json!({
            "cluster_id": "prod", "job_id": JOB, "target": {"kind": "uniform", "parallelism": 2},
            "reason": "load", "not_before_ms": not_before_ms,
        }))
    };
    let year_ms = 365 * 24 * 3_600_000;
    for (not_before_ms, expected) in
        [(now_ms - 120_000, "in the past"), (now_ms + year_ms, "after the request expires")]
    {
        let (status, body) =
            test_app.send("POST", "/api/v1/rescales", Some("alice-token"), Some(request(not_before_ms)?)).await?;
        assert_envelope(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains(expected), "{body}");
    }
    // A time ahead within the approval window passes validation (and reaches Flink, which does
    // not answer).
    let (status, body) =
        test_app.send("POST", "/api/v1/rescales", Some("alice-token"), Some(request(now_ms + 60_000)?)).await?;
    assert_envelope(status, &body, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    Ok(())
}
