//! The OpenAPI document at `/api/openapi.json`: it parses, it lists exactly the Router's routes,
//! and real responses (tagged enums included) validate against the schemas it documents.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::{JOB, TestApp};
use rescaler_shared::api::AuditEvent;
use rescaler_shared::operation::{Operation, OperationRequest, ResolvedStrategy, Strategy, Target};
use rescaler_shared::phase::{Phase, RollbackPlan};
use serde_json::Value;

/// Every route the Router serves, as (method, path template). A route added to `http::app`
/// belongs here and in the document.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/v1/auth/config"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/clusters/{cluster}/jobs"),
    ("GET", "/api/v1/clusters/{cluster}/jobs/{job}"),
    ("GET", "/api/v1/clusters/{cluster}/jobs/{job}/savepoints"),
    ("GET", "/api/v1/clusters/{cluster}/jobs/{job}/metrics"),
    ("GET", "/api/v1/clusters/{cluster}/jobs/{job}/history"),
    ("GET", "/api/v1/clusters/{cluster}/jobs/{job}/recommendation"),
    ("POST", "/api/v1/clusters/{cluster}/jobs/{job}/link"),
    ("POST", "/api/v1/clusters/{cluster}/deployments"),
    ("GET", "/api/v1/artifacts"),
    ("POST", "/api/v1/artifacts"),
    ("POST", "/api/v1/artifacts/uploads"),
    ("PUT", "/api/v1/artifacts/uploads/{id}/parts/{part}"),
    ("POST", "/api/v1/artifacts/uploads/{id}/complete"),
    ("POST", "/api/v1/preflight"),
    ("GET", "/api/v1/rescales"),
    ("POST", "/api/v1/rescales"),
    ("GET", "/api/v1/rescales/awaiting-me/count"),
    ("GET", "/api/v1/rescales/{id}"),
    ("GET", "/api/v1/rescales/{id}/flink-rescales"),
    ("GET", "/api/v1/rescales/{id}/deliveries"),
    ("POST", "/api/v1/rescales/{id}/approve"),
    ("POST", "/api/v1/rescales/{id}/reject"),
    ("POST", "/api/v1/rescales/{id}/cancel"),
    ("POST", "/api/v1/rescales/{id}/break-glass"),
    ("GET", "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/{id}"),
    ("POST", "/api/v1/schedules/{id}/approve"),
    ("POST", "/api/v1/schedules/{id}/reject"),
    ("POST", "/api/v1/schedules/{id}/cancel"),
    ("GET", "/api/v1/audit"),
];

/// The document as the Router serves it.
async fn document(test_app: &TestApp) -> anyhow::Result<Value> {
    let (status, document) = test_app.call("GET", "/api/openapi.json", None).await?;
    anyhow::ensure!(status == StatusCode::OK, "the document answered {status}");
    Ok(document)
}

#[tokio::test]
async fn the_document_is_served_without_auth_and_parses_as_openapi_3() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let document = document(&test_app).await?;
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(document.clone())?;
    assert!(document["openapi"].as_str().is_some_and(|version| version.starts_with("3.")), "{}", document["openapi"]);
    assert!(!parsed.paths.paths.is_empty());
    // Bearer auth everywhere, except health and the document itself.
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(document["security"], serde_json::json!([{ "bearer": [] }]));
    for open in ["/healthz", "/api/openapi.json", "/api/v1/auth/config"] {
        assert_eq!(document["paths"][open]["get"]["security"], serde_json::json!([{}]), "{open}");
    }
    Ok(())
}

#[tokio::test]
async fn the_document_lists_every_route_of_the_router_and_no_other() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let document = document(&test_app).await?;
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            documented.insert((method.to_uppercase(), path.clone()));
            let operation_id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(operation_ids.insert(operation_id.clone()), "operationId {operation_id:?} twice");
        }
    }
    let listed: BTreeSet<_> = ROUTES.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    assert_eq!(documented, listed, "the document and the route list differ");

    // Each listed route is served: neither the API's 404 fallback nor 405.
    for (method, path) in ROUTES {
        let uri = path.replace("{cluster}", "prod").replace("{job}", JOB).replace("{id}", JOB).replace("{part}", "1");
        let (status, body) = test_app.call(method, &uri, Some("admin-token")).await?;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: {body}");
        assert_ne!(body["error"]["message"], "no such API endpoint", "{method} {uri} is not routed");
        let documented = &document["paths"][*path][method.to_lowercase()]["responses"][status.as_str()];
        assert!(documented.is_object(), "{method} {path} answered {status}, which the document does not list: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn real_responses_validate_against_their_documented_schemas() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let document = document(&test_app).await?;

    // Records with tagged enums in several variants: a uniform target awaiting approval, a
    // per-vertex target rolling back (a phase with a nested tagged plan).
    let request = |job_id: &str, target: Target| OperationRequest {
        cluster_id: "prod".to_owned(),
        job_id: job_id.to_owned(),
        job_name: "counter".to_owned(),
        target,
        strategy: Strategy::Savepoint,
        reason: "peak".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 1,
        approval_window_ms: 60_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    };
    let waiting = Operation::new("a".repeat(32), request(JOB, Target::Uniform { parallelism: 2 }), 1_000);
    let mut rolling_back = Operation::new(
        "b".repeat(32),
        request(&"c".repeat(32), Target::PerVertex { parallelism: BTreeMap::from([("v".repeat(32), 3)]) }),
        2_000,
    );
    rolling_back.enter(
        Phase::RollingBack {
            reason: "verification timed out".to_owned(),
            rollback: RollbackPlan::Resubmit {
                failed_job_id: "d".repeat(32),
                savepoint_location: "file:///tmp/sp".to_owned(),
                rollback_job_id: "e".repeat(32),
                since_ms: 3_000,
                submitted_at_ms: None,
            },
        },
        3_000,
    );
    // In place, its requirements sent: Flink's account is asked of an unreachable cluster.
    let mut in_place =
        Operation::new("f".repeat(32), request(&"9".repeat(32), Target::Uniform { parallelism: 2 }), 4_000);
    in_place.strategy = Some(ResolvedStrategy::InPlace);
    in_place.enter(Phase::Applying { since_ms: 5_000 }, 5_000);
    for operation in [&waiting, &rolling_back, &in_place] {
        test_app.state.records.create_operation(operation).await.map_err(|error| anyhow::anyhow!("{error:?}"))?;
    }
    let event = AuditEvent {
        at_ms: 1_000,
        actor: "alice".to_owned(),
        action: "requested".to_owned(),
        operation_id: Some(waiting.id.clone()),
        cluster_id: Some("prod".to_owned()),
        job_id: Some(JOB.to_owned()),
        message: "alice requested".to_owned(),
    };
    test_app.state.records.audit(&event, "one").await?;

    let bad_id = "z".repeat(32);
    let cases: Vec<(&str, String, &str, Option<&str>, StatusCode)> = vec![
        ("GET", "/healthz".into(), "/healthz", None, StatusCode::OK),
        ("GET", "/api/v1/me".into(), "/api/v1/me", Some("alice-token"), StatusCode::OK),
        ("GET", "/api/v1/clusters".into(), "/api/v1/clusters", Some("alice-token"), StatusCode::OK),
        ("GET", "/api/v1/rescales".into(), "/api/v1/rescales", Some("alice-token"), StatusCode::OK),
        (
            "GET",
            format!("/api/v1/rescales/{}", rolling_back.id),
            "/api/v1/rescales/{id}",
            Some("alice-token"),
            StatusCode::OK,
        ),
        ("GET", "/api/v1/audit".into(), "/api/v1/audit", Some("alice-token"), StatusCode::OK),
        ("GET", "/api/v1/artifacts".into(), "/api/v1/artifacts", Some("alice-token"), StatusCode::OK),
        ("GET", "/api/v1/me".into(), "/api/v1/me", None, StatusCode::UNAUTHORIZED),
        (
            "GET",
            format!("/api/v1/rescales/{bad_id}"),
            "/api/v1/rescales/{id}",
            Some("alice-token"),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            format!("/api/v1/rescales/{}/flink-rescales", waiting.id),
            "/api/v1/rescales/{id}/flink-rescales",
            Some("alice-token"),
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/api/v1/rescales/{bad_id}/flink-rescales"),
            "/api/v1/rescales/{id}/flink-rescales",
            Some("alice-token"),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            format!("/api/v1/rescales/{}/flink-rescales", in_place.id),
            "/api/v1/rescales/{id}/flink-rescales",
            Some("alice-token"),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "GET",
            format!("/api/v1/rescales/{}/deliveries", waiting.id),
            "/api/v1/rescales/{id}/deliveries",
            Some("alice-token"),
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/api/v1/rescales/{bad_id}/deliveries"),
            "/api/v1/rescales/{id}/deliveries",
            Some("alice-token"),
            StatusCode::NOT_FOUND,
        ),
        ("GET", "/api/v1/rescales?phase=nope".into(), "/api/v1/rescales", Some("alice-token"), StatusCode::BAD_REQUEST),
        (
            "GET",
            "/api/v1/clusters/prod/jobs".into(),
            "/api/v1/clusters/{cluster}/jobs",
            Some("alice-token"),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "POST",
            format!("/api/v1/rescales/{}/approve", waiting.id),
            "/api/v1/rescales/{id}/approve",
            Some("alice-token"),
            StatusCode::FORBIDDEN,
        ),
    ];
    let schemas = DocumentSchemas { document: &document };
    for (method, uri, template, token, expected) in cases {
        let (status, body) = test_app.call(method, &uri, token).await?;
        assert_eq!(status, expected, "{method} {uri}: {body}");
        let schema = &document["paths"][template][method.to_lowercase()]["responses"][status.as_str()]["content"]["application/json"]
            ["schema"];
        assert!(schema.is_object(), "{method} {template} documents no JSON body for {status}");
        if let Err(error) = schemas.check(schema, &body) {
            panic!("{method} {uri} ({status}) does not match its schema: {error}\n{body:#}");
        }
    }
    // The tagged enums really were exercised.
    let (_, listed) = test_app.call("GET", "/api/v1/rescales", Some("alice-token")).await?;
    let phases: BTreeSet<_> =
        listed.as_array().into_iter().flatten().filter_map(|op| op["phase"]["phase"].as_str()).collect();
    assert_eq!(phases, BTreeSet::from(["applying", "awaiting_approval", "rolling_back"]), "{listed}");
    // A request that is not in place has no account, and says why without asking Flink.
    let (_, account) =
        test_app.call("GET", &format!("/api/v1/rescales/{}/flink-rescales", waiting.id), Some("alice-token")).await?;
    assert_eq!(account["status"], "not_in_place", "{account}");
    // An unreachable Flink is named by its cluster.
    let (_, unreachable) =
        test_app.call("GET", &format!("/api/v1/rescales/{}/flink-rescales", in_place.id), Some("alice-token")).await?;
    let message = unreachable["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("cluster prod: flink is unavailable") && !message.contains("127.0.0.1"),
        "{unreachable}"
    );
    Ok(())
}

#[tokio::test]
async fn the_validator_refuses_what_a_schema_forbids() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let document = document(&test_app).await?;
    let schemas = DocumentSchemas { document: &document };
    let operation = serde_json::json!({"$ref": "#/components/schemas/Operation"});
    let target = serde_json::json!({"$ref": "#/components/schemas/Target"});
    assert!(schemas.check(&target, &serde_json::json!({"kind": "uniform", "parallelism": 2})).is_ok());
    assert!(schemas.check(&target, &serde_json::json!({"kind": "uniform"})).is_err(), "required field");
    assert!(schemas.check(&target, &serde_json::json!({"kind": "Uniform", "parallelism": 2})).is_err(), "tag spelling");
    assert!(schemas.check(&target, &serde_json::json!({"kind": "uniform", "parallelism": -1})).is_err(), "minimum");
    assert!(schemas.check(&operation, &serde_json::json!([])).is_err(), "type");
    Ok(())
}

#[tokio::test]
async fn a_cluster_schedule_is_documented_as_its_wire_strings() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let document = document(&test_app).await?;
    let schemas = DocumentSchemas { document: &document };
    let schedule_ref = serde_json::json!({"$ref": "#/components/schemas/Schedule"});
    let schedule = rescaler_shared::schedule::Schedule {
        windows: vec![serde_json::from_value(serde_json::json!(
            {"days": ["mon", "sat"], "start": "22:00", "end": "06:00:30", "utc_offset": "+01:00"}
        ))?],
        freezes: vec![serde_json::from_value(serde_json::json!(
            {"from": "2026-12-20T00:00:00Z", "until": "2027-01-03T00:00:00Z", "reason": "holidays"}
        ))?],
    };
    let wire = serde_json::to_value(&schedule)?;
    assert_eq!(wire["windows"][0]["end"], "06:00:30");
    schemas.check(&schedule_ref, &wire).map_err(anyhow::Error::msg)?;
    let wrong = serde_json::json!({"windows": [{"days": ["mon"], "start": 1320, "end": "06:00"}], "freezes": []});
    assert!(schemas.check(&schedule_ref, &wrong).is_err(), "a time of day is a string");
    Ok(())
}

/// The keywords of JSON Schema 2020-12 (what the `jsonschema` crate validates), and OpenAPI's
/// `example` annotation. A schema keyword outside this list fails the check, so a schema is never
/// passed by the validator skipping a keyword it does not know.
#[rustfmt::skip]
const KNOWN_KEYWORDS: &[&str] = &[
    // Core.
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    // Applicators.
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items", "contains",
    "properties", "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties",
    // Validation.
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
    "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "maxProperties",
    "minProperties", "required", "dependentRequired",
    // Annotations.
    "format", "contentEncoding", "contentMediaType", "contentSchema", "title", "description", "default", "deprecated",
    "readOnly", "writeOnly", "examples", "example",
];

/// The document's schemas, for validating values with the `jsonschema` crate; `$ref`s to
/// `#/components/schemas/...` resolve because every schema is checked with the document's
/// `components` embedded at its root.
struct DocumentSchemas<'a> {
    document: &'a Value,
}

impl DocumentSchemas<'_> {
    fn check(&self, schema: &Value, value: &Value) -> Result<(), String> {
        let mut unknown = Vec::new();
        unknown_keywords(schema, "$", &mut unknown);
        for (name, component) in self.document["components"]["schemas"].as_object().into_iter().flatten() {
            unknown_keywords(component, &format!("#/components/schemas/{name}"), &mut unknown);
        }
        if !unknown.is_empty() {
            return Err(format!("keywords the validator does not know: {unknown:?}"));
        }
        let mut root = schema.as_object().cloned().ok_or(format!("schema is not an object: {schema}"))?;
        root.insert("components".to_owned(), self.document["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&Value::Object(root))
            .map_err(|error| format!("the schema does not build: {error}"))?;
        let errors: Vec<String> =
            validator.iter_errors(value).map(|error| format!("{}: {error}", error.instance_path())).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }
}

/// Pushes `<where>: <keyword>` for every keyword of `schema` and its subschemas that is not in
/// [`KNOWN_KEYWORDS`].
fn unknown_keywords(schema: &Value, at: &str, unknown: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else { return };
    for (keyword, rule) in keywords {
        if !KNOWN_KEYWORDS.contains(&keyword.as_str()) {
            unknown.push(format!("{at}: {keyword}"));
        }
        match keyword.as_str() {
            "properties" | "patternProperties" | "dependentSchemas" | "$defs" => {
                for (name, subschema) in rule.as_object().into_iter().flatten() {
                    unknown_keywords(subschema, &format!("{at}.{name}"), unknown);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                for (index, subschema) in rule.as_array().into_iter().flatten().enumerate() {
                    unknown_keywords(subschema, &format!("{at}.{keyword}[{index}]"), unknown);
                }
            }
            "not"
            | "if"
            | "then"
            | "else"
            | "items"
            | "contains"
            | "additionalProperties"
            | "propertyNames"
            | "unevaluatedItems"
            | "unevaluatedProperties"
            | "contentSchema" => {
                unknown_keywords(rule, &format!("{at}.{keyword}"), unknown);
            }
            _ => {}
        }
    }
}
