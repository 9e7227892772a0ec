//! The schedule routes with bad input and under the one schedule rule: every refusal a 4xx in
//! the envelope (the requests that reach Flink are in `tests/tests/it/recurring.rs`).

mod common;

use axum::http::StatusCode;
use common::{JOB, TestApp};
use rescaler_shared::recurring::{CreateSchedule, RecurringSchedule, Step};
use serde_json::{Value, json};

fn assert_envelope(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
}

fn step(days: Value, at: &str) -> Value {
    json!({"days": days, "at": at, "target": {"kind": "uniform", "parallelism": 2}})
}

fn body(cluster: &str, steps: Value, reason: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"cluster_id": cluster, "job_id": JOB, "steps": steps, "reason": reason})).expect("json")
}

#[tokio::test]
async fn a_bad_schedule_request_is_a_4xx_in_the_envelope() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let post = |body: Vec<u8>, token: Option<&'static str>| {
        let test_app = &test_app;
        async move { test_app.send("POST", "/api/v1/schedules", token, Some(body)).await }
    };
    let good_steps = json!([step(json!(["mon", "fri"]), "22:00:30")]);
    let (status, reply) = post(body("prod", good_steps.clone(), "night"), None).await?;
    assert_envelope(status, &reply, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, reply) = post(body("nope", good_steps.clone(), "night"), Some("alice-token")).await?;
    assert_envelope(status, &reply, StatusCode::NOT_FOUND, "not_found");
    let rows: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("not json", b"{steps".to_vec(), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "no steps field",
            br#"{"cluster_id": "prod", "job_id": "x", "reason": "r"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("24:00", body("prod", json!([step(json!(["mon"]), "24:00")]), "r"), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "a day named funday",
            body("prod", json!([step(json!(["funday"]), "07:00")]), "r"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "an unknown step field",
            body(
                "prod",
                json!([{"days": ["mon"], "at": "07:00", "target": {"kind": "uniform", "parallelism": 2}, "every": 3}]),
                "r",
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("empty steps", body("prod", json!([]), "night"), StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        (
            "a step without days",
            body("prod", json!([step(json!(["mon"]), "07:00"), step(json!([]), "08:00")]), "night"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        ("no reason", body("prod", good_steps.clone(), "  "), StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        (
            "two zones",
            body(
                "prod",
                json!([{"days": ["mon"], "at": "07:00", "utc_offset": "+01:00", "time_zone": "Europe/Berlin", "target": {"kind": "uniform", "parallelism": 2}}]),
                "r",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            "an unknown zone",
            body(
                "prod",
                json!([{"days": ["mon"], "at": "07:00", "time_zone": "Mars/Olympus", "target": {"kind": "uniform", "parallelism": 2}}]),
                "r",
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        // Valid: its steps are checked against the job, and this cluster's Flink never answers.
        ("Flink unreachable", body("prod", good_steps, "night"), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    ];
    for (what, request, expected, code) in rows {
        let (status, reply) = post(request, Some("alice-token")).await?;
        assert_eq!(status, expected, "{what}: {reply}");
        assert_envelope(status, &reply, expected, code);
    }
    let (status, reply) = test_app.call("GET", "/api/v1/schedules/not-an-id", Some("alice-token")).await?;
    assert_envelope(status, &reply, StatusCode::NOT_FOUND, "not_found");
    let unknown = format!("/api/v1/schedules/{}/approve", "f".repeat(32));
    let (status, reply) = test_app.call("POST", &unknown, Some("admin-token")).await?;
    assert_envelope(status, &reply, StatusCode::NOT_FOUND, "not_found");
    let (status, reply) = test_app.call("GET", "/api/v1/schedules", Some("alice-token")).await?;
    assert_eq!((status, reply), (StatusCode::OK, json!([])));
    Ok(())
}

/// A schedule of alice's awaiting one approval, in the store as the API writes it.
async fn alices_schedule(test_app: &TestApp, id: &str) -> anyhow::Result<RecurringSchedule> {
    let step: Step = serde_json::from_value(step(json!(["mon"]), "07:00"))?;
    let request =
        CreateSchedule { cluster_id: "prod".into(), job_id: JOB.into(), steps: vec![step], reason: "r".into() };
    let terms = common::alices_schedule_terms(id);
    let schedule = RecurringSchedule::new(request, terms, rescaler_backend::reconcile::now_ms());
    test_app.state.records.create_schedule(&schedule).await?;
    Ok(schedule)
}

/// The ids `GET /api/v1/schedules?awaiting_me=true` answers `token`'s user.
async fn awaiting(test_app: &TestApp, token: &str) -> anyhow::Result<Vec<String>> {
    let (status, reply) = test_app.call("GET", "/api/v1/schedules?awaiting_me=true", Some(token)).await?;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let ids = reply.as_array().into_iter().flatten().filter_map(|s| s["id"].as_str()).map(str::to_owned).collect();
    Ok(ids)
}

#[tokio::test]
async fn awaiting_me_lists_the_schedules_the_caller_could_approve() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let first = alices_schedule(&test_app, &"a".repeat(32)).await?;
    let second = alices_schedule(&test_app, &"b".repeat(32)).await?;
    let both = {
        let mut ids = vec![first.id.clone(), second.id.clone()];
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert!(awaiting(&test_app, "alice-token").await?.is_empty(), "the requester cannot approve her own");
    assert!(awaiting(&test_app, "vera-token").await?.is_empty(), "a viewer cannot approve");
    assert_eq!(sorted(awaiting(&test_app, "bob-token").await?), both);
    assert_eq!(sorted(awaiting(&test_app, "admin-token").await?), both);
    // Without the filter everyone who may view sees both.
    let (status, reply) = test_app.call("GET", "/api/v1/schedules", Some("vera-token")).await?;
    assert_eq!((status, reply.as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{reply}");
    let approve = format!("/api/v1/schedules/{}/approve", first.id);
    let (status, reply) = test_app.call("POST", &approve, Some("bob-token")).await?;
    assert_eq!((status, reply["state"].as_str()), (StatusCode::OK, Some("active")), "{reply}");
    assert_eq!(
        awaiting(&test_app, "bob-token").await?,
        std::slice::from_ref(&second.id),
        "an approved one no longer awaits"
    );
    assert_eq!(awaiting(&test_app, "admin-token").await?, std::slice::from_ref(&second.id));
    for query in ["awaiting_me=maybe", "awaiting_me=true&mine=true", "phase=approved"] {
        let (status, reply) = test_app.call("GET", &format!("/api/v1/schedules?{query}"), Some("bob-token")).await?;
        assert_envelope(status, &reply, StatusCode::BAD_REQUEST, "bad_request");
    }
    Ok(())
}

#[tokio::test]
async fn schedule_actions_follow_the_one_rule() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let schedule = alices_schedule(&test_app, &"a".repeat(32)).await?;
    let path = |action: &str| format!("/api/v1/schedules/{}/{action}", schedule.id);
    let (status, reply) = test_app.call("POST", &path("approve"), Some("alice-token")).await?;
    assert_envelope(status, &reply, StatusCode::FORBIDDEN, "forbidden");
    let (status, reply) = test_app.send("POST", &path("approve"), Some("admin-token"), Some(b"{bad".to_vec())).await?;
    assert_envelope(status, &reply, StatusCode::BAD_REQUEST, "bad_request");
    let (status, reply) =
        test_app.send("POST", &path("approve"), Some("admin-token"), Some(br#"{"comment": "ok"}"#.to_vec())).await?;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["state"], "active", "{reply}");
    let (status, reply) = test_app.call("POST", &path("reject"), Some("admin-token")).await?;
    assert_envelope(status, &reply, StatusCode::CONFLICT, "conflict");
    assert_eq!(test_app.state.records.live_schedule_ids().await?, std::slice::from_ref(&schedule.id));
    let (status, reply) = test_app.call("POST", &path("cancel"), Some("alice-token")).await?;
    assert_eq!((status, reply["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{reply}");
    assert!(test_app.state.records.live_schedule_ids().await?.is_empty(), "an ended schedule is no longer live");
    let (status, reply) = test_app.call("POST", &path("cancel"), Some("admin-token")).await?;
    assert_envelope(status, &reply, StatusCode::CONFLICT, "conflict");
    let (status, reply) =
        test_app.call("GET", &format!("/api/v1/schedules/{}", schedule.id), Some("alice-token")).await?;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> =
        reply["events"].as_array().into_iter().flatten().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["requested", "approved", "schedule_activated", "cancelled"], "{reply}");
    Ok(())
}
