//! API Gateway HTTP API (v2) events, kept as fixtures, go through `lambda_http`'s adapter to
//! the same Router the local binary serves, and get the same answers as direct requests.

use harness::config::TestConfig;
use harness::paths::{repo_root, scratch_dir};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context};
use lambda_runtime::LambdaEvent;
use rescaler_backend::http::app;
use serde_json::Value;
use tower::{Service, ServiceExt};

async fn router() -> anyhow::Result<axum::Router> {
    let store_dir = scratch_dir("lambda")?;
    let config = TestConfig::new().with_dir_store(store_dir).build();
    let (state, _engine) = rescaler_backend::boot::build(config, "lambda-test".to_owned()).await?;
    Ok(app(state))
}

/// The event's request, built directly as an HTTP request (what the local binary would get).
fn direct_request(event: &Value) -> anyhow::Result<axum::http::Request<axum::body::Body>> {
    let method = event["requestContext"]["http"]["method"].as_str().unwrap_or("GET");
    let query = event["rawQueryString"].as_str().unwrap_or("");
    let path = event["rawPath"].as_str().unwrap_or("/");
    let uri = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let mut builder = axum::http::Request::builder().method(method).uri(uri);
    for (name, value) in event["headers"].as_object().into_iter().flatten() {
        builder = builder.header(name, value.as_str().unwrap_or(""));
    }
    let body = match (event["body"].as_str(), event["isBase64Encoded"].as_bool()) {
        (Some(body), Some(true)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(body)?
        }
        (Some(body), _) => body.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    Ok(builder.body(axum::body::Body::from(body))?)
}

#[tokio::test]
async fn api_gateway_v2_events_get_the_same_answers_as_direct_requests() -> anyhow::Result<()> {
    let expectations = [
        ("healthz.json", 200, None),
        ("me-alice.json", 200, None),
        ("me-anonymous.json", 401, Some("unauthenticated")),
        ("rescales-awaiting-bob.json", 200, None),
        ("rescales-bad-json.json", 400, Some("bad_request")),
        ("rescales-unknown-cluster-base64.json", 404, Some("not_found")),
        ("unknown-endpoint.json", 404, Some("not_found")),
    ];
    let router = router().await?;
    for (fixture, status, code) in expectations {
        let text = std::fs::read_to_string(repo_root().join("tests/fixtures/apigw").join(fixture))?;
        let event: Value = serde_json::from_str(&text)?;
        // Through lambda_http, as `lambda_http::run` does it.
        let lambda_request: LambdaRequest = serde_json::from_str(&text)?;
        let mut adapter = Adapter::from(router.clone());
        let response = adapter.ready().await?.call(LambdaEvent::new(lambda_request, Context::default())).await?;
        let response = serde_json::to_value(&response)?;
        assert_eq!(response["statusCode"], status, "{fixture}: {response}");
        let lambda_body: Value = match response["body"].as_str() {
            Some(body) if response["isBase64Encoded"] == true => {
                use base64::Engine as _;
                serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(body)?)?
            }
            Some(body) => serde_json::from_str(body)?,
            None => Value::Null,
        };
        // Directly, as the local binary gets it.
        let direct = router.clone().oneshot(direct_request(&event)?).await?;
        assert_eq!(direct.status().as_u16(), status, "{fixture} direct");
        let bytes = axum::body::to_bytes(direct.into_body(), 1 << 20).await?;
        let direct_body: Value = serde_json::from_slice(&bytes)?;
        assert_eq!(lambda_body, direct_body, "{fixture}: same answer both ways");
        if let Some(code) = code {
            assert_eq!(lambda_body["error"]["code"], code, "{fixture}");
        }
        if fixture == "me-alice.json" {
            assert_eq!(lambda_body["name"], "alice");
        }
    }
    Ok(())
}
