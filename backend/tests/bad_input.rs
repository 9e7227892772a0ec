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
