//! Amazon Managed Service for Apache Flink applications rescaled by the product, against the
//! local MSF endpoint (`tests/msf-standin`: the real wire protocol, every request validated
//! against botocore's service model) on a real Flink 1.20 cluster. The backend reaches it with
//! `aws-sdk-kinesisanalyticsv2` as it would reach MSF; the requests go through the API and the
//! reconcile loop, as on a laptop. Run under `flock /tmp/rescaler-flink.lock`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationConfigurationUpdate, ApplicationStatus, ConfigurationType, FlinkApplicationConfigurationUpdate,
    OperationStatus, ParallelismConfigurationUpdate,
};
use harness::msf::{MsfApplication, MsfOptions, MsfStandIn, counter_after};
use harness::{FlinkCluster, FlinkOptions, Scheduler, rig};
use rescaler_backend::store::DirStore;
use serde_json::{Value, json};

use harness::msf_rig::{CLUSTER, MsfRig};

fn event_kinds(operation: &Value) -> Vec<String> {
    operation["events"].as_array().into_iter().flatten().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_msf_application_is_rescaled_through_approval_a_snapshot_and_an_update_with_its_state() -> anyhow::Result<()>
{
    let rig = MsfRig::start(false, 4, |flink| Ok(vec![MsfApplication::sample_job(flink, "orders", 1)?])).await?;
    let api = &rig.api;

    // Side by side: the Flink cluster and the MSF applications, the application as a job.
    let (status, clusters) = api.get("/clusters", "victor").await?;
    assert_eq!(status, 200, "{clusters}");
    let ids: Vec<&str> = clusters.as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.contains(&CLUSTER) && ids.contains(&rig::CLUSTER_ID), "{clusters}");
    let job_id = rig.job_id("orders").await?;
    let (status, jobs) = api.get(&format!("/clusters/{CLUSTER}/jobs"), "victor").await?;
    assert_eq!(status, 200);
    let listed = &jobs[0]["application"];
    assert_eq!((listed["status"].as_str(), listed["parallelism"].as_u64()), (Some("RUNNING"), Some(1)), "{jobs:#}");
    assert_eq!((listed["runtime"].as_str(), listed["kpu_limit"].as_u64()), (Some("FLINK-1_20"), Some(4)), "{jobs:#}");
    let (status, detail) = api.get(&format!("/clusters/{CLUSTER}/jobs/{job_id}"), "victor").await?;
    assert_eq!(status, 200, "{detail}");
    let in_place = detail["strategies"].as_array().into_iter().flatten().find(|s| s["strategy"] == "in_place");
    assert!(in_place.is_some_and(|s| s["possible"] == false), "{detail:#}");

    // Pre-flight: what MSF cannot do is refused with the reason.
    let preflight = |target: Value| json!({"cluster_id": CLUSTER, "job_id": job_id, "target": target, "reason": "r"});
    let codes = |answer: &Value| -> Vec<String> {
        answer["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["code"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, answer) =
        api.post("/preflight", "alice", preflight(json!({"kind": "per_vertex", "parallelism": {"a": 2}}))).await?;
    assert_eq!(codes(&answer), ["msf_per_vertex"], "{answer}");
    let (_, answer) = api.post("/preflight", "alice", preflight(json!({"kind": "uniform", "parallelism": 5}))).await?;
    assert_eq!(codes(&answer), ["msf_kpu_limit"], "{answer}");
    assert!(answer["failures"][0]["message"].as_str().unwrap_or_default().contains("at most 4"), "{answer}");

    // The request: approved, a snapshot named after it, the update from it, verified.
    let first_job = rig.standin.job_id("orders").await?;
    let (_, max_before) = counter_after(&rig.flink, &first_job, 2.0).await?;
    let operation = rig.rescale(&job_id, 2, json!({})).await?;
    let id = operation["id"].as_str().unwrap_or_default();
    assert_eq!(operation["phase"]["phase"], "completed", "{operation:#}");
    assert_eq!(operation["strategy"], "msf_update", "{operation:#}");
    let snapshot = format!("rescaler-{id}");
    assert_eq!(operation["savepoint"]["location"], format!("msf://orders/{snapshot}"), "{operation:#}");
    let kinds = event_kinds(&operation);
    for kind in ["execution_started", "snapshot_requested", "savepoint_completed", "application_updated", "verified"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} event: {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "application_updated").count(), 1, "{kinds:?}");

    // MSF: one update, at 2, restoring from the request's snapshot; its operation succeeded.
    assert_eq!(rig.parallelism("orders").await?, (2, 2, Some(snapshot.clone())));
    let client = rig.standin.client();
    let msf_operation = operation["msf_operation_id"].as_str().expect("the MSF operation id recorded");
    let described =
        client.describe_application_operation().application_name("orders").operation_id(msf_operation).send().await?;
    let details = described.application_operation_info_details().expect("details");
    assert_eq!(*details.operation_status(), OperationStatus::Successful);
    assert_eq!(rig.standin.update_operations("orders").await?, 1);

    // Flink runs the application's new job at 2, with the state it had.
    let new_job = rig.standin.job_id("orders").await?;
    assert_ne!(new_job, first_job);
    let (fresh, _) = counter_after(&rig.flink, &new_job, max_before).await?;
    assert_eq!(fresh, 0.0, "keys started from zero: the state was lost");

    // The job page's data lists it among the application's latest snapshots.
    let (_, detail) = api.get(&format!("/clusters/{CLUSTER}/jobs/{job_id}"), "victor").await?;
    let latest = &detail["job"]["application"]["latest_snapshots"];
    let ours = latest.as_array().into_iter().flatten().find(|s| s["name"] == snapshot.as_str());
    assert!(ours.is_some_and(|s| s["status"] == "READY"), "{latest:#}");

    // The savepoint catalog lists the snapshot, READY in MSF.
    let (status, savepoints) = api.get(&format!("/clusters/{CLUSTER}/jobs/{job_id}/savepoints"), "victor").await?;
    assert_eq!(status, 200, "{savepoints}");
    assert_eq!(savepoints[0]["location"], format!("msf://orders/{snapshot}"), "{savepoints:#}");
    assert_eq!(savepoints[0]["storage"]["state"], "complete", "{savepoints:#}");

    // Someone updates the application in MSF directly: the drift check audits it once.
    let token = rig.describe("orders").await?.conditional_token().unwrap_or_default().to_owned();
    let parallelism = ParallelismConfigurationUpdate::builder()
        .configuration_type_update(ConfigurationType::Custom)
        .parallelism_update(3)
        .build();
    client
        .update_application()
        .application_name("orders")
        .conditional_token(token)
        .application_configuration_update(
            ApplicationConfigurationUpdate::builder()
                .flink_application_configuration_update(
                    FlinkApplicationConfigurationUpdate::builder()
                        .parallelism_configuration_update(parallelism)
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    rig.wait_status("orders", ApplicationStatus::Running).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let out_of_band = loop {
        let (_, audit) = api.get("/audit", "victor").await?;
        let found: Vec<Value> = audit
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["action"] == "out_of_band" && event["job_id"] == job_id.as_str())
            .cloned()
            .collect();
        if !found.is_empty() {
            break found;
        }
        anyhow::ensure!(Instant::now() < deadline, "no out_of_band event: {audit:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(out_of_band.len(), 1, "{out_of_band:#?}");
    assert!(out_of_band[0].to_string().contains("was rescaled: parallelism 2 → 3"), "{out_of_band:#?}");
    rig.assert_model_clean();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_by_tag_a_change_made_meanwhile_refused_by_the_token_and_autoscaling_the_requesters_call()
-> anyhow::Result<()> {
    // Managed by tag: `orders` carries it, `ledger` does not and is not the product's.
    let tag = rescaler_backend::config::ApplicationTag { key: "team".to_owned(), value: "payments".to_owned() };
    let rig = MsfRig::start_with(false, 8, Some(tag), |flink| {
        let mut orders = MsfApplication::sample_job(flink, "orders", 1)?;
        orders.autoscaling = true;
        orders.tags.insert("team".to_owned(), "payments".to_owned());
        let mut ledger = MsfApplication::sample_job(flink, "ledger", 1)?;
        ledger.tags.insert("team".to_owned(), "finance".to_owned());
        Ok(vec![orders, ledger])
    })
    .await?;
    let (_, jobs) = rig.api.get(&format!("/clusters/{CLUSTER}/jobs"), "victor").await?;
    let listed: Vec<&str> = jobs.as_array().into_iter().flatten().filter_map(|job| job["name"].as_str()).collect();
    assert_eq!(listed, ["orders"], "only the tagged application: {jobs}");
    let job_id = rig.job_id("orders").await?;
    let first_job = rig.standin.job_id("orders").await?;

    // Autoscaling on: pre-flight asks whether to turn it off; the request is refused without.
    let request = json!({"cluster_id": CLUSTER, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "reason": "r"});
    let (status, refused) = rig.api.post("/rescales", "alice", request.clone()).await?;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("autoscaling is on"), "{refused}");

    // Someone changes the application between the product's read and its update: MSF refuses
    // the update (stale token), the product sees the new token and stops, nothing updated.
    rig.standin.bump_token_before_next_update("orders").await?;
    let operation = rig.rescale(&job_id, 2, json!({"autoscaling": "turn_off"})).await?;
    assert_eq!(operation["phase"]["phase"], "failed", "{operation:#}");
    let reason = operation["phase"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("changed outside the product") && reason.contains("is kept"), "{reason}");
    assert!(!event_kinds(&operation).contains(&"application_updated".to_owned()), "{operation:#}");
    assert!(rig.standin.log().contains("ConcurrentModificationException"), "{}", rig.standin.log_tail(40));
    assert_eq!(rig.parallelism("orders").await?.0, 1);
    assert_eq!(rig.standin.job_id("orders").await?, first_job, "the job was restarted");
    assert_eq!(rig.standin.update_operations("orders").await?, 0, "an update went through");

    // Asked again against the application as it is: autoscaling off in the same update.
    let operation = rig.rescale(&job_id, 2, json!({"autoscaling": "turn_off"})).await?;
    assert_eq!(operation["phase"]["phase"], "completed", "{operation:#}");
    let detail = rig.describe("orders").await?;
    let autoscaling = detail
        .application_configuration_description()
        .and_then(|c| c.flink_application_configuration_description())
        .and_then(|f| f.parallelism_configuration_description())
        .and_then(|p| p.auto_scaling_enabled());
    assert_eq!(autoscaling, Some(false));
    assert_eq!(rig.parallelism("orders").await?.0, 2);

    // The job page shows it.
    let (_, detail) = rig.api.get(&format!("/clusters/{CLUSTER}/jobs/{job_id}"), "victor").await?;
    assert_eq!(detail["job"]["application"]["autoscaling"], false, "{detail:#}");
    rig.assert_model_clean();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_is_rolled_back_by_msf_or_else_by_the_product_from_its_snapshot() -> anyhow::Result<()> {
    let rig = MsfRig::start(false, 8, |flink| {
        let orders = MsfApplication::sample_job(flink, "orders", 1)?;
        let payments = MsfApplication { rollback_enabled: false, ..MsfApplication::sample_job(flink, "payments", 1)? };
        Ok(vec![orders, payments])
    })
    .await?;

    for (app, system_rollback) in [("orders", true), ("payments", false)] {
        let job_id = rig.job_id(app).await?;
        let (_, max_before) = counter_after(&rig.flink, &rig.standin.job_id(app).await?, 2.0).await?;
        rig.standin.fail_next_restore(app).await?;
        let operation = rig.rescale(&job_id, 2, json!({})).await?;
        assert_eq!(operation["phase"]["phase"], "rolled_back", "{app}: {operation:#}");
        let kinds = event_kinds(&operation);
        let snapshot = format!("rescaler-{}", operation["id"].as_str().unwrap_or_default());
        let (parallelism, current, restore) = rig.parallelism(app).await?;
        assert_eq!((parallelism, current), (1, 1), "{app}");
        if system_rollback {
            // MSF's own rollback brought the previous version back: the product sent nothing more.
            assert!(!kinds.contains(&"rollback_update_sent".to_owned()), "{app}: {kinds:?}");
            assert!(operation["phase"]["reason"].as_str().unwrap_or_default().contains("failed"), "{operation:#}");
        } else {
            // No system rollback: the product updated it back, from the request's snapshot.
            assert_eq!(kinds.iter().filter(|k| *k == "rollback_update_sent").count(), 1, "{app}: {kinds:?}");
            assert_eq!(restore.as_deref(), Some(snapshot.as_str()), "{app}");
        }
        let (fresh, _) = counter_after(&rig.flink, &rig.standin.job_id(app).await?, max_before).await?;
        assert_eq!(fresh, 0.0, "{app}: the state was lost on the way back");
    }
    rig.assert_model_clean();
    Ok(())
}

/// The local binary's configuration: a directory store, the MSF cluster of `orders`.
fn crash_config(
    standin: &MsfStandIn,
    store_dir: &std::path::Path,
    dir: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    let settings = standin.settings(&["orders"], 8);
    let config = format!(
        r#"listen = "127.0.0.1:{port}"

[store]
kind = "dir"
path = "{store}"

[[clusters]]
id = "{CLUSTER}"
name = "MSF crash test"
kind = "msf"

[clusters.msf]
region = "{region}"
applications = ["orders"]
kpu_limit = 8
endpoint_url = "{endpoint}"
access_key_id = "{key}"
secret_access_key = "{secret}"
"#,
        port = harness::ports::free_port()?,
        store = store_dir.display(),
        region = settings.region,
        endpoint = standin.endpoint_url(),
        key = settings.access_key_id.unwrap_or_default(),
        secret = settings.secret_access_key.unwrap_or_default(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

fn start_binary(
    config: &std::path::Path,
    crash_after: Option<&str>,
    log: &std::path::Path,
) -> anyhow::Result<harness::process::ChildGuard> {
    let mut command = std::process::Command::new(harness::backend::rescaler_binary()?);
    command.arg(config).env("RESCALER_INSTANCE_ID", "msf-crash-test").env("RUST_LOG", "info,rescaler_backend=debug");
    if let Some(point) = crash_after {
        command.env("RESCALER_CRASH_AFTER", point);
    }
    harness::process::ChildGuard::spawn("rescaler", command, log)
}

/// An approved request to rescale the application to `target`, stored as the API would.
async fn store_approved_request(
    records: &rescaler_backend::records::Records,
    job_id: &str,
    target: u32,
) -> anyhow::Result<String> {
    use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
    let now = rescaler_backend::reconcile::now_ms();
    let request = OperationRequest {
        cluster_id: CLUSTER.to_owned(),
        job_id: job_id.to_owned(),
        job_name: "orders".to_owned(),
        target: Target::Uniform { parallelism: target },
        strategy: Strategy::Auto,
        reason: "crash test".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 120_000,
        artifact: None,
        autoscaling: None,
    };
    let mut operation = Operation::new(uuid::Uuid::new_v4().simple().to_string(), request, now);
    operation.stable_for_ms = 3_000;
    operation.deployment_id = records.adopt_job(CLUSTER, job_id, "orders", now).await?.id;
    rescaler_shared::user_action::approve(&mut operation, "bob", "ok", now)
        .map_err(|refused| anyhow::anyhow!("{refused}"))?;
    records.create_operation(&operation).await?;
    Ok(operation.id)
}

/// The backend is killed with SIGKILL right after the snapshot was asked for, then right after
/// the update was sent; started again, it finishes each request without a second snapshot or
/// update, and the application keeps its state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_each_msf_side_effect_the_backend_resumes_without_a_second_update() -> anyhow::Result<()> {
    use std::os::unix::process::ExitStatusExt;
    harness::init_tracing();
    let flink =
        FlinkCluster::start(FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Default)).await?;
    let app = MsfApplication::sample_job(&flink, "orders", 1)?;
    let standin =
        MsfStandIn::start(&flink, &MsfOptions { kpu_limit: 8, stable_ms: 3000, applications: vec![app] }).await?;
    let client = standin.client();
    let work = harness::paths::scratch_dir("msf-crash")?;
    let store_dir = work.join("store");
    std::fs::create_dir_all(&store_dir)?;
    let records = rescaler_backend::records::Records::new(Arc::new(DirStore::open(&store_dir)?));
    let config = crash_config(&standin, &store_dir, &work)?;
    let detail = loop {
        let detail = client.describe_application().application_name("orders").send().await?;
        let detail = detail.application_detail().cloned().expect("detail");
        if *detail.application_status() == ApplicationStatus::Running {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let job_id = rescaler_shared::operation::msf_application_job_id(detail.application_arn());
    counter_after(&flink, &standin.job_id("orders").await?, 2.0).await?;

    for (round, (point, target)) in [("snapshot_requested", 2), ("application_updated", 3)].into_iter().enumerate() {
        let operation_id = store_approved_request(&records, &job_id, target).await?;
        let log = work.join(format!("rescaler-{round}.log"));
        let mut crashing = start_binary(&config, Some(point), &log)?;
        let status = crashing.wait_exit(Duration::from_secs(120)).ok_or_else(|| {
            anyhow::anyhow!("the backend never reached {point}:\n{}", harness::process::log_tail(&log, 30))
        })?;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL at {point}: {status:?}");
        let (operation, _) = records.operation(&operation_id).await?.expect("stored");
        assert!(
            !operation.is_terminal() && operation.lease.is_some(),
            "the intent was on record at {point}: {operation:?}"
        );

        let resumed_log = work.join(format!("rescaler-{round}-resumed.log"));
        let _resumed = start_binary(&config, None, &resumed_log)?;
        let deadline = Instant::now() + Duration::from_secs(180);
        let operation = loop {
            let (operation, _) = records.operation(&operation_id).await?.expect("stored");
            if operation.is_terminal() {
                break operation;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "not resumed after {point}: {:?}\n{}",
                operation.phase,
                harness::process::log_tail(&resumed_log, 30)
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert_eq!(operation.phase, rescaler_shared::phase::Phase::Completed, "after {point}: {:#?}", operation.events);
        // One snapshot of the request, one update per request so far, at the target.
        let snapshot = format!("rescaler-{operation_id}");
        let snapshots = client.list_application_snapshots().application_name("orders").send().await?;
        let named = snapshots.snapshot_summaries().iter().filter(|s| s.snapshot_name() == snapshot).count();
        assert_eq!(named, 1, "after {point}: {snapshots:?}");
        let updates = standin.update_operations("orders").await?;
        assert_eq!(updates, round + 1, "one update per request after {point}");
        let updated = operation.events.iter().filter(|event| event.kind == "application_updated").count();
        assert!(updated <= 1, "after {point}: {:#?}", operation.events);
        let catalog = records.savepoints(CLUSTER, &job_id).await?;
        assert_eq!(catalog.iter().filter(|s| s.operation_id == operation_id).count(), 1, "after {point}: {catalog:?}");
        let running = standin.job_id("orders").await?;
        let detail = flink.wait_job_running(&running, Duration::from_secs(60)).await?;
        let widest =
            detail["vertices"].as_array().into_iter().flatten().filter_map(|v| v["parallelism"].as_u64()).max();
        assert_eq!(widest, Some(u64::from(target)), "after {point}");
        // The snapshot was taken before the update's stop, so the counts rewind a little: any
        // record processed since the restore met its key's stored count (none is fresh).
        let (fresh, _) = counter_after(&flink, &running, 0.0).await?;
        assert_eq!(fresh, 0.0, "state lost after {point}");
        drop(_resumed);
    }
    let log = standin.log();
    assert!(!log.contains("STAND-IN BUG") && !log.contains("ValidationException"), "{log}");
    Ok(())
}
