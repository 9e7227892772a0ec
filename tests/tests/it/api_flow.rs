//! The HTTP API end to end on real Flink and the real S3 server: one person asks, another
//! approves, the rescale runs, and the audit shows every step. Plus the error envelope.

use std::time::{Duration, Instant};

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use serde_json::{Value, json};

fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_requests_bob_approves_and_the_audit_shows_each_step() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());
    let cluster = rig::CLUSTER_ID;

    // Who am I, what is there.
    let (status, me) = api.get("/me", "alice").await?;
    assert_eq!((status, me["name"].as_str()), (200, Some("alice")));
    let (status, clusters) = api.get("/clusters", "bob").await?;
    assert_eq!(status, 200);
    assert_eq!(clusters[0]["reachable"], true, "{clusters}");
    let (status, jobs) = api.get(&format!("/clusters/{cluster}/jobs"), "victor").await?;
    assert_eq!(status, 200);
    assert!(jobs.as_array().is_some_and(|jobs| jobs.iter().any(|j| j["id"] == job_id.as_str())), "{jobs}");
    let (status, detail) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}"), "alice").await?;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["limits"]["vertices"].as_array().map(Vec::len), Some(2), "{detail}");

    // Errors come in the envelope.
    let (status, body) = api.call(reqwest::Method::GET, "/me", None, None).await?;
    assert_envelope(status, &body, 401, "unauthenticated");
    let (status, body) = api.get("/me", "mallory").await?;
    assert_envelope(status, &body, 401, "unauthenticated");
    let request = json!({"cluster_id": cluster, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "traffic peak"});
    let (status, body) = api.post("/rescales", "victor", request.clone()).await?;
    assert_envelope(status, &body, 403, "forbidden");
    let (status, body) = api.post("/rescales", "alice", json!({"cluster_id": cluster, "job_id": 7})).await?;
    assert_envelope(status, &body, 400, "bad_request");
    let raw = api
        .request(reqwest::Method::POST, "/rescales")
        .bearer_auth("alice-token")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    let status = raw.status().as_u16();
    assert_envelope(status, &raw.json().await?, 400, "bad_request");
    let (status, body) = api.post("/rescales", "alice", json!({"cluster_id": "nope", "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "reason": "x"})).await?;
    assert_envelope(status, &body, 404, "not_found");
    let (status, body) = api.post("/rescales", "alice", json!({"cluster_id": cluster, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 500}, "reason": "x"})).await?;
    assert_envelope(status, &body, 422, "unprocessable");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("128")), "names the max parallelism: {body}");

    // alice asks; a second request for the same job is refused.
    let (status, operation) = api.post("/rescales", "alice", request.clone()).await?;
    assert_eq!(status, 201, "{operation}");
    let id = operation["id"].as_str().expect("id").to_owned();
    assert_eq!(operation["phase"]["phase"], "awaiting_approval");
    let (status, body) = api.post("/rescales", "alice", request).await?;
    assert_envelope(status, &body, 409, "conflict");

    // bob sees it in his inbox; alice cannot approve her own request.
    let (_, inbox) = api.get("/rescales?awaiting_me=true", "bob").await?;
    assert!(inbox.as_array().is_some_and(|ops| ops.iter().any(|op| op["id"] == id.as_str())), "{inbox}");
    let (_, alice_inbox) = api.get("/rescales?awaiting_me=true", "alice").await?;
    assert_eq!(alice_inbox.as_array().map(Vec::len), Some(0), "{alice_inbox}");
    let (status, body) = api.post(&format!("/rescales/{id}/approve"), "alice", json!({"comment": "me"})).await?;
    assert_envelope(status, &body, 403, "forbidden");
    let (status, body) = api.post(&format!("/rescales/{id}/approve"), "victor", json!({})).await?;
    assert_envelope(status, &body, 403, "forbidden");
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({"comment": "go"})).await?;
    assert_eq!(status, 200, "{approved}");

    // The local reconcile loop carries it out.
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (_, operation) = api.get(&format!("/rescales/{id}"), "victor").await?;
        if operation["phase"]["phase"] == "completed" {
            break operation;
        }
        assert!(Instant::now() < deadline && operation["phase"]["phase"] != "failed", "{operation:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let new_job = done["new_job_id"].as_str().expect("new job").to_owned();
    assert!(rig.job(&new_job).await?.vertices.iter().all(|v| v.parallelism == 2));
    let (_, savepoints) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}/savepoints"), "victor").await?;
    assert_eq!(savepoints.as_array().map(Vec::len), Some(1), "{savepoints}");
    let (status, body) = api.post(&format!("/rescales/{id}/cancel"), "alice", json!({})).await?;
    assert_envelope(status, &body, 409, "conflict");

    let (_, audit) = api.get("/audit", "victor").await?;
    let steps: Vec<(String, String)> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter(|event| event["operation_id"] == id.as_str())
        .map(|event| {
            (event["actor"].as_str().unwrap_or("").to_owned(), event["action"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    for (actor, action) in [
        ("alice", "requested"),
        ("bob", "approved"),
        ("system", "stop_triggered"),
        ("system", "savepoint_completed"),
        ("system", "job_submitted"),
        ("system", "verified"),
    ] {
        let count = steps.iter().filter(|(a, b)| a == actor && b == action).count();
        assert_eq!(count, 1, "audit has {actor} {action} {count} times: {steps:?}");
    }
    Ok(())
}
