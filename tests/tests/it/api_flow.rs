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
    let config = TestConfig::new()
        .with_console()?
        .with_cluster(rig::cluster_config(&rig.flink))
        .with_savepoint_s3(&rig.s3)
        .build();
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
    // Read through S3, where the cluster wrote it.
    assert_eq!(savepoints[0]["storage"]["state"], "complete", "{savepoints}");
    assert!(savepoints[0]["storage"]["metadata_bytes"].as_u64() > Some(0), "{savepoints}");
    // Deleted from the bucket behind Flink's back: the catalog says the savepoint is gone.
    let location = savepoints[0]["location"].as_str().unwrap_or_default();
    let below = location.rsplit_once("/savepoints/").map(|(_, below)| below).unwrap_or_default();
    rig.s3
        .client()
        .delete_object()
        .bucket(&rig.bucket)
        .key(format!("flink-savepoints/{below}/_metadata"))
        .send()
        .await?;
    let (_, savepoints) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}/savepoints"), "victor").await?;
    assert_eq!(savepoints[0]["storage"]["state"], "missing", "{savepoints}");
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

/// Linking a job decides what code the next rescale resubmits: a re-link while a request waits
/// for approval makes the request take the new artifact and lose its approvals (an event says
/// why), a re-link under an approved request is refused, and linking and deploying are
/// audited. The arguments reach admins only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relink_while_a_request_waits_clears_its_approvals_and_is_audited() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, sample) = rig.adopt_sample_job(1, &[]).await?;
    let config = TestConfig::new().with_cluster(rig::cluster_config(&rig.flink)).build();
    // No reconciler: an approved request stays awaiting approval on record until the test moves it.
    let backend = LocalBackend::start(config, rig.records.store().clone(), false).await?;
    let api = Api::new(backend.url());
    let cluster = rig::CLUSTER_ID;
    let other = rig.records.put_artifact("other-job.jar", b"PK\x03\x04other code".to_vec().into(), "admin", 1).await?;

    let request = json!({"cluster_id": cluster, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "traffic peak"});
    let (status, operation) = api.post("/rescales", "alice", request).await?;
    assert_eq!(status, 201, "{operation}");
    let id = operation["id"].as_str().expect("id").to_owned();
    assert_eq!(
        operation["artifact"]["sha256"],
        sample.sha256.as_str(),
        "the request carries what it resubmits: {operation}"
    );
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({"comment": "ok"})).await?;
    assert_eq!((status, approved["approvals"].as_array().map(Vec::len)), (200, Some(1)), "{approved}");

    // admin links the job to other code while the request waits.
    let link =
        json!({"artifact_sha256": other.sha256, "entry_class": "com.example.Other", "args": ["--token", "s3cr3t"]});
    let (status, linked) = api.post(&format!("/clusters/{cluster}/jobs/{job_id}/link"), "admin", link).await?;
    assert_eq!(status, 200, "{linked}");
    let (_, seen) = api.get(&format!("/rescales/{id}"), "bob").await?;
    assert_eq!(seen["artifact"]["sha256"], other.sha256.as_str(), "the request resubmits the new code: {seen}");
    assert_eq!(seen["artifact"]["entry_class"], "com.example.Other", "{seen}");
    assert_eq!(seen["artifact"]["args"], json!([]), "bob may not read the arguments: {seen}");
    assert_eq!(seen["approvals"], json!([]), "bob approved other code: {seen}");
    let relinked = seen["events"].as_array().and_then(|events| events.last()).cloned().unwrap_or_default();
    assert_eq!((relinked["kind"].as_str(), relinked["actor"].as_str()), (Some("relinked"), Some("admin")), "{seen}");
    let message = relinked["message"].as_str().unwrap_or_default();
    assert!(message.contains(&other.sha256) && message.contains("bob"), "says what and whose approval: {message}");
    let (_, as_admin) = api.get(&format!("/rescales/{id}"), "admin").await?;
    assert_eq!(as_admin["artifact"]["args"], json!(["--token", "s3cr3t"]), "{as_admin}");
    let (_, detail) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}"), "bob").await?;
    assert_eq!(
        (detail["link"]["artifact_sha256"].as_str(), &detail["link"]["args"]),
        (Some(other.sha256.as_str()), &json!([])),
        "{detail}"
    );
    let (_, detail) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}"), "admin").await?;
    assert_eq!(detail["link"]["args"], json!(["--token", "s3cr3t"]), "{detail}");

    // The approval starts over: bob approves what will run.
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({})).await?;
    assert_eq!((status, approved["approvals"].as_array().map(Vec::len)), (200, Some(1)), "{approved}");

    // Once approved, the request runs what was approved: no link changes it.
    let (mut stored, version) = rig.records.operation(&id).await?.expect("stored");
    stored.enter(rescaler_shared::operation::Phase::Approved, rescaler_backend::reconcile::now_ms());
    rig.records.replace_operation(&stored, &version).await?;
    let back = json!({"artifact_sha256": sample.sha256, "entry_class": harness::sample_job::ENTRY_CLASS});
    let (status, refused) = api.post(&format!("/clusters/{cluster}/jobs/{job_id}/link"), "admin", back).await?;
    assert_envelope(status, &refused, 409, "conflict");
    let (_, seen) = api.get(&format!("/rescales/{id}"), "admin").await?;
    assert_eq!(seen["artifact"]["sha256"], other.sha256.as_str(), "{seen}");
    let (_, detail) = api.get(&format!("/clusters/{cluster}/jobs/{job_id}"), "admin").await?;
    assert_eq!(detail["link"]["artifact_sha256"], other.sha256.as_str(), "the refused link is not stored: {detail}");

    // Deploying starts code: audited too.
    let deploy =
        json!({"artifact_sha256": sample.sha256, "entry_class": harness::sample_job::ENTRY_CLASS, "parallelism": 1});
    let (status, deployed) = api.post(&format!("/clusters/{cluster}/deployments"), "admin", deploy).await?;
    assert_eq!(status, 201, "{deployed}");
    let new_job = deployed["job_id"].as_str().expect("job id").to_owned();

    let (_, audit) = api.get("/audit", "victor").await?;
    let audit = audit.as_array().cloned().unwrap_or_default();
    assert!(!serde_json::to_string(&audit)?.contains("s3cr3t"), "no argument in the audit: {audit:?}");
    let find = |action: &str, job: &str| {
        audit
            .iter()
            .find(|event| event["action"] == action && event["job_id"] == job && event["actor"] == "admin")
            .cloned()
    };
    let linked = find("job_linked", &job_id).expect("the link is audited");
    let text = linked["message"].as_str().unwrap_or_default();
    assert!(
        text.contains(&other.sha256) && text.contains("other-job.jar") && text.contains("com.example.Other"),
        "{text}"
    );
    let deployed = find("job_deployed", &new_job).expect("the deployment is audited");
    assert!(deployed["message"].as_str().is_some_and(|text| text.contains(&sample.sha256)), "{deployed}");
    assert!(
        audit.iter().any(|event| event["action"] == "relinked" && event["operation_id"] == id.as_str()),
        "the cleared approvals are in the audit: {audit:?}"
    );
    Ok(())
}
