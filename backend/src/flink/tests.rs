//! Decoding and error classification of the REST client against a fake Flink (wiremock).
//!
//! The bodies are trimmed copies of what Flink 2.3.0 and 1.20.5 answered; the real cluster is
//! exercised by `tests/tests/it/flink_client.rs` (2.3.0, 1.20.5 and 1.18.1).

use std::collections::BTreeMap;
use std::time::Duration;

use rescaler_shared::flink::{JobStatus, SavepointStatus, SchedulerKind, TaskStatus};
use rescaler_shared::history::VertexSample;
use rescaler_shared::recommend::GraphVertex;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::error::{simplify_exception_line, summarize_errors};
use super::rest::segment;
use super::*;

const JOB: &str = "00000000000000000000000000000a01";
const SOURCE: &str = "f421c7059e6771b9a595acc02e87aaef";
const COUNTER: &str = "0da08f51eaa85fc298e176a139b3649a";
const TRIGGER: &str = "33333333333333333333333333333333";

fn client(server: &MockServer) -> RestFlinkClient {
    RestFlinkClient::new(RestFlinkClientConfig::new(server.uri())).expect("client")
}

/// A Flink error body with a stack trace, as every handler writes it.
fn flink_error(lines: &[&str]) -> serde_json::Value {
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            text.push_str("Caused by: ");
        }
        text.push_str(line);
        text.push_str("\n\tat org.apache.flink.Some.method(Some.java:1)\n\t... 4 more\n");
    }
    json!({ "errors": [text] })
}

fn overview(version: &str) -> serde_json::Value {
    json!({
        "taskmanagers": 1, "slots-total": 4, "slots-available": 2, "jobs-running": 1,
        "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 0,
        "flink-version": version, "flink-commit": "c0f8d1a"
    })
}

async fn mount_overview(server: &MockServer, version: &str) {
    Mock::given(method("GET"))
        .and(path("/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(overview(version)))
        .mount(server)
        .await;
}

fn vertex(id: &str, name: &str, parallelism: u32, status: &str, tasks: serde_json::Value) -> serde_json::Value {
    json!({
        "id": id, "slotSharingGroupId": "79e1ee7b0e05745fdf228a39f829f00f", "name": name,
        "maxParallelism": 128, "parallelism": parallelism, "status": status,
        "start-time": 1795506256845_i64, "end-time": -1, "duration": 3797, "tasks": tasks,
        "metrics": {"read-bytes": 0, "accumulated-busy-time": 0.0}
    })
}

fn job_details_2_3() -> serde_json::Value {
    json!({
        "jid": JOB, "application-id": JOB, "name": "keyed-counter", "isStoppable": false,
        "state": "RUNNING", "job-type": "STREAMING", "schedulerType": "Adaptive",
        "start-time": 1795506256341_i64, "end-time": -1, "duration": 4301, "maxParallelism": 128,
        "now": 1795506260642_i64, "timestamps": {"RUNNING": 1795506256840_i64},
        "vertices": [
            vertex(SOURCE, "Source: Sequence -> Throttle", 2, "RUNNING",
                json!({"RUNNING": 2, "DEPLOYING": 0, "CANCELING": 0, "CREATED": 0})),
            vertex(COUNTER, "Counter -> Milestones -> Sink: Print", 3, "RUNNING",
                json!({"RUNNING": 2, "DEPLOYING": 1, "CANCELING": 0, "RECONCILING": 0})),
        ],
        "status-counts": {"RUNNING": 2},
        "plan": {"jid": JOB, "name": "keyed-counter", "type": "STREAMING", "nodes": []},
        "pending-operators": 0
    })
}

fn checkpoint_config(interval: i64) -> serde_json::Value {
    json!({
        "mode": "exactly_once", "interval": interval, "timeout": 600000, "min_pause": 0,
        "max_concurrent": 1, "externalization": {"enabled": false, "delete_on_cancellation": true},
        "state_backend": "HashMapStateBackend", "checkpoint_storage": "FileSystemCheckpointStorage"
    })
}

/// A job of an adaptive cluster of 2.3.0 (its detail, checkpoint configuration, JobManager
/// configuration and requirements); a 1.x detail leaves out `schedulerType`.
async fn mount_job(server: &MockServer, details: serde_json::Value, config: ResponseTemplate) {
    mount_job_config(server, &[("jobmanager.scheduler", "adaptive")], 200).await;
    mount_overview(server, "2.3.0").await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(details))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/checkpoints/config")))
        .respond_with(config)
        .mount(server)
        .await;
}

/// A job of a 1.x cluster of `version` (no `schedulerType` in its detail) with this checkpoint
/// interval; its JobManager configuration and requirements are mounted apart.
async fn mount_1x_job(server: &MockServer, version: &str, checkpoint_interval: i64) {
    mount_overview(server, version).await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(job_details_1_20()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/checkpoints/config")))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkpoint_config(checkpoint_interval)))
        .mount(server)
        .await;
}

/// The job's JobManager configuration, and the status its requirements answer with.
async fn mount_job_config(server: &MockServer, entries: &[(&str, &str)], requirements_status: u16) {
    let entries: Vec<_> = entries.iter().map(|(key, value)| json!({"key": key, "value": value})).collect();
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/jobmanager/config")))
        .respond_with(ResponseTemplate::new(200).set_body_json(entries))
        .mount(server)
        .await;
    let requirements = if requirements_status == 200 {
        ResponseTemplate::new(200).set_body_json(json!({}))
    } else {
        ResponseTemplate::new(requirements_status).set_body_json(flink_error(&["Internal server error."]))
    };
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/resource-requirements")))
        .respond_with(requirements)
        .mount(server)
        .await;
}

#[tokio::test]
async fn overview_is_decoded_and_remembers_the_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(overview("2.3.0")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);

    let cluster = client.cluster_overview().await.expect("overview");
    assert_eq!(cluster.flink_version, "2.3.0");
    assert_eq!((cluster.taskmanagers, cluster.slots_total, cluster.slots_available), (1, 4, 2));
    // Cached: no second GET /overview (the mock expects exactly one).
    let version = client.flink_version().await.expect("version");
    assert_eq!(version, FlinkVersion { major: 2, minor: 3, patch: 0 });
}

#[tokio::test]
async fn job_list_reads_statuses_including_unknown_ones() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobs": [
            {"jid": JOB, "name": "keyed-counter", "jobType": "STREAMING", "start-time": 1795506256341_i64,
             "end-time": -1, "duration": 4420, "state": "RUNNING", "last-modification": 1,
             "tasks": {"running": 4, "total": 4}},
            {"jid": "ffffffffffffffffffffffffffffffff", "name": "other", "start-time": -1,
             "end-time": -1, "duration": 0, "state": "SOMETHING_NEW", "last-modification": 1,
             "tasks": {}}
        ]})))
        .mount(&server)
        .await;

    let jobs = client(&server).list_jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].id, JOB);
    assert_eq!(jobs[0].status, JobStatus::Running);
    assert_eq!(jobs[0].start_time_ms, 1795506256341);
    assert_eq!(jobs[1].status, JobStatus::Unknown);
    assert_eq!(jobs[1].start_time_ms, 0);
    let live = jobs[0].live_tasks.as_ref().expect("the running job's task counts");
    assert_eq!((live.counts.count(TaskStatus::Running), live.counts.total(), live.last_modified_ms), (4, 4, 1));
    assert_eq!(jobs[1].live_tasks, None, "no counts to go by");
}

#[tokio::test]
async fn job_detail_of_2_3_reads_scheduler_checkpointing_and_task_counts() {
    let server = MockServer::start().await;
    mount_job(&server, job_details_2_3(), ResponseTemplate::new(200).set_body_json(checkpoint_config(2000))).await;

    let detail = client(&server).job_detail(JOB).await.expect("detail").expect("known job");
    let job = &detail.job;
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.scheduler, SchedulerKind::Adaptive);
    assert!(job.checkpointing);
    assert_eq!(job.start_time_ms, 1795506256341);
    assert_eq!(job.vertices.len(), 2);
    assert_eq!(job.vertices[1].id, COUNTER);
    assert_eq!(job.vertices[1].parallelism, 3);
    assert_eq!(job.vertices[1].max_parallelism, 128);
    assert_eq!(job.vertices[1].status, TaskStatus::Running);
    let counter_tasks = &detail.tasks[COUNTER];
    assert_eq!(counter_tasks.count(TaskStatus::Running), 2);
    assert_eq!(counter_tasks.count(TaskStatus::Deploying), 1);
    assert_eq!(counter_tasks.total(), 3);
    // The vertex says RUNNING, but one task still deploys.
    assert!(!detail.all_tasks_running());
}

fn job_details_1_20() -> serde_json::Value {
    let mut details = job_details_2_3();
    let object = details.as_object_mut().expect("object");
    object.remove("schedulerType");
    object.remove("application-id");
    details
}

#[tokio::test]
async fn job_detail_of_1_20_reads_the_scheduler_from_the_job_configuration_and_max_interval_means_no_checkpointing() {
    let server = MockServer::start().await;
    // The version decides the cooldown's key.
    mount_job_config(
        &server,
        &[("jobmanager.scheduler", "adaptive"), ("jobmanager.adaptive-scheduler.scaling-interval.min", "5 s")],
        200,
    )
    .await;
    mount_1x_job(&server, "1.20.5", i64::MAX).await;

    let job = client(&server).job(JOB).await.expect("job").expect("known job");
    assert_eq!(job.scheduler, SchedulerKind::Adaptive);
    let pacing = job.rescale_pacing.expect("pacing");
    assert_eq!(pacing.cooldown_ms, 5_000);
    assert_eq!(pacing.cooldown_key.as_deref(), Some("jobmanager.adaptive-scheduler.scaling-interval.min"));
    assert!(!job.checkpointing, "interval Long.MAX_VALUE is Flink's 'off'");
}

#[tokio::test]
async fn job_detail_of_1_x_without_requirements_is_not_adaptive_and_asks_once_per_job() {
    let server = MockServer::start().await;
    // No scheduler configured, and the requirements answer 500: the default scheduler.
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/jobmanager/config")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/resource-requirements")))
        .respond_with(ResponseTemplate::new(500).set_body_json(flink_error(&["Internal server error."])))
        .expect(1)
        .mount(&server)
        .await;
    mount_1x_job(&server, "1.20.5", 2000).await;
    let client = client(&server);
    for _ in 0..3 {
        let job = client.job(JOB).await.expect("job").expect("known job");
        assert_eq!(job.scheduler, SchedulerKind::Default);
        assert!(job.rescale_pacing.is_none());
    }
}

#[tokio::test]
async fn job_detail_of_1_x_configured_adaptive_without_requirements_is_unknown_never_adaptive() {
    let server = MockServer::start().await;
    mount_job_config(&server, &[("jobmanager.scheduler", "adaptive")], 500).await;
    mount_1x_job(&server, "1.18.1", 2000).await;
    let job = client(&server).job(JOB).await.expect("job").expect("known job");
    assert_eq!(job.scheduler, SchedulerKind::Unknown);
}

#[tokio::test]
async fn job_detail_treats_a_missing_checkpoint_config_as_no_checkpointing() {
    let server = MockServer::start().await;
    let not_enabled = flink_error(&[
        "org.apache.flink.runtime.rest.handler.RestHandlerException: Checkpointing is not enabled for this job (x).",
    ]);
    mount_job(&server, job_details_2_3(), ResponseTemplate::new(404).set_body_json(not_enabled)).await;

    let job = client(&server).job(JOB).await.expect("job").expect("known job");
    assert!(!job.checkpointing);
}

#[tokio::test]
async fn unknown_job_is_none_and_unknown_checkpoints_are_none() {
    let server = MockServer::start().await;
    let not_found = flink_error(&[&format!("org.apache.flink.runtime.rest.NotFoundException: Job {JOB} not found")]);
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(404).set_body_json(not_found)).mount(&server).await;
    let client = client(&server);

    assert_eq!(client.job(JOB).await.expect("job"), None);
    assert_eq!(client.checkpoint_config(JOB).await.expect("config"), None);
    assert_eq!(client.checkpoint_history(JOB).await.expect("history"), None);
}

#[tokio::test]
async fn server_error_is_rejected_with_flinks_message_and_no_stack_trace() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(500).set_body_json(flink_error(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not retrieve the job list.",
            "java.lang.IllegalStateException: something broke",
        ])))
        .mount(&server)
        .await;

    let error = client(&server).list_jobs().await.expect_err("500");
    let FlinkError::Rejected { status, message } = &error else { panic!("not rejected: {error:?}") };
    assert_eq!(*status, 500);
    assert_eq!(
        message,
        "RestHandlerException: Could not retrieve the job list. (caused by IllegalStateException: something broke)"
    );
    assert!(!message.contains("\tat"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn garbage_body_is_undecodable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy login</html>"))
        .mount(&server)
        .await;

    let error = client(&server).cluster_overview().await.expect_err("garbage");
    assert!(matches!(error, FlinkError::Undecodable { .. }), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_unavailable_and_retryable() {
    // Bind, learn the port, close: nothing listens there now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = RestFlinkClient::new(RestFlinkClientConfig::new(format!("http://127.0.0.1:{port}"))).expect("client");

    let error = client.cluster_overview().await.expect_err("refused");
    assert!(matches!(error, FlinkError::Unavailable { .. }), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn timeout_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(overview("2.3.0")).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let mut config = RestFlinkClientConfig::new(server.uri());
    config.request_timeout = Duration::from_millis(200);
    let client = RestFlinkClient::new(config).expect("client");

    let error = client.cluster_overview().await.expect_err("timeout");
    let FlinkError::Unavailable { message } = &error else { panic!("{error:?}") };
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn gateway_errors_are_unavailable_and_job_not_found_500_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/overview"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"errors": [
            "Service temporarily unavailable due to an ongoing leader election. Please refresh."
        ]})))
        .mount(&server)
        .await;
    // What 2.3 answers for the resource requirements of an unknown job.
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/resource-requirements")))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"errors": [
            "Internal server error.",
            format!("<Exception on server side:\norg.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job ({JOB})\n\tat x.y(Z.java:1)\n\nEnd of exception on server side>")
        ]})))
        .mount(&server)
        .await;
    let client = client(&server);

    let error = client.cluster_overview().await.expect_err("503");
    assert!(error.is_retryable(), "{error:?}");
    let error = client.resource_requirements(JOB).await.expect_err("unknown job");
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test]
async fn savepoint_status_reads_every_outcome() {
    let server = MockServer::start().await;
    let status_path = |trigger: &str| path(format!("/jobs/{JOB}/savepoints/{trigger}"));
    Mock::given(method("GET"))
        .and(status_path("11111111111111111111111111111111"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": {"id": "IN_PROGRESS"}, "operation": null})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(status_path("22222222222222222222222222222222"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": {"id": "COMPLETED"},
            "operation": {"location": "file:/tmp/sp/savepoint-000000-0010a57e584a"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(status_path("44444444444444444444444444444444"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": {"id": "COMPLETED"},
            "operation": {"failure-cause": {
                "class": "java.util.concurrent.CompletionException",
                "stack-trace": format!("java.util.concurrent.CompletionException: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job ({JOB})\n\tat java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:332)\nCaused by: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job ({JOB})\n\t... 40 more\n"),
                "serialized-throwable": "rO0ABXNy"
            }}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(status_path("55555555555555555555555555555555"))
        .respond_with(ResponseTemplate::new(404).set_body_json(flink_error(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: There is no savepoint operation with triggerId=55555555555555555555555555555555 for job x.",
        ])))
        .mount(&server)
        .await;
    let client = client(&server);

    let status = |trigger: &'static str| client.savepoint_status(JOB, trigger);
    assert_eq!(status("11111111111111111111111111111111").await.expect("in progress"), SavepointStatus::InProgress);
    assert_eq!(
        status("22222222222222222222222222222222").await.expect("completed"),
        SavepointStatus::Completed { location: "file:/tmp/sp/savepoint-000000-0010a57e584a".to_owned() }
    );
    let failed = status("44444444444444444444444444444444").await.expect("failed");
    assert_eq!(
        failed,
        SavepointStatus::Failed {
            cause: format!("CompletionException: FlinkJobNotFoundException: Could not find Flink job ({JOB})")
        }
    );
    assert!(savepoint_failed_for_missing_job(&failed));
    assert_eq!(status("55555555555555555555555555555555").await.expect("unknown"), SavepointStatus::Unknown);
}

#[tokio::test]
async fn stop_and_savepoint_send_their_differently_cased_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{JOB}/stop")))
        .and(body_json(json!({"triggerId": TRIGGER, "targetDirectory": "file:///tmp/sp", "drain": false})))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{JOB}/savepoints")))
        .and(body_json(json!({"triggerId": TRIGGER, "target-directory": "file:///tmp/sp", "cancel-job": false})))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);

    client.stop_with_savepoint(JOB, TRIGGER, Some("file:///tmp/sp")).await.expect("stop");
    // Flink answers a repeated trigger id with 202 and the same id: not an error.
    client.stop_with_savepoint(JOB, TRIGGER, Some("file:///tmp/sp")).await.expect("stop again");
    client.trigger_savepoint(JOB, TRIGGER, Some("file:///tmp/sp")).await.expect("savepoint");
}

#[tokio::test]
async fn a_trigger_answered_with_another_request_id_is_undecodable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{JOB}/stop")))
        .and(body_json(json!({"triggerId": TRIGGER, "drain": false})))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(json!({"request-id": "99999999999999999999999999999999"})),
        )
        .mount(&server)
        .await;

    let error = client(&server).stop_with_savepoint(JOB, TRIGGER, None).await.expect_err("other id");
    assert!(matches!(error, FlinkError::Undecodable { .. }), "{error:?}");
}

fn restore_run() -> RunJar {
    RunJar {
        job_id: Some(JOB.to_owned()),
        program_args: vec!["--keys".to_owned(), "512".to_owned()],
        parallelism: Some(2),
        vertex_parallelism: BTreeMap::from([(COUNTER.to_owned(), 3), (SOURCE.to_owned(), 1)]),
        savepoint_path: Some("file:/tmp/sp/savepoint-1".to_owned()),
        ..RunJar::default()
    }
}

#[tokio::test]
async fn run_on_2_x_sends_claim_mode_and_vertex_overrides() {
    let server = MockServer::start().await;
    mount_overview(&server, "2.3.0").await;
    Mock::given(method("POST"))
        .and(path("/jars/abc_job.jar/run"))
        .and(body_json(json!({
            "jobId": JOB,
            "programArgsList": ["--keys", "512"],
            "parallelism": 2,
            "savepointPath": "file:/tmp/sp/savepoint-1",
            "allowNonRestoredState": false,
            "claimMode": "NO_CLAIM",
            "flinkConfiguration": {
                "pipeline.jobvertex-parallelism-overrides": format!("{COUNTER}:3,{SOURCE}:1")
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobid": JOB, "applicationId": JOB})))
        .mount(&server)
        .await;

    let job_id = client(&server).run_jar("abc_job.jar", &restore_run()).await.expect("run");
    assert_eq!(job_id, JOB);
}

#[tokio::test]
async fn run_on_1_x_sends_restore_mode() {
    let server = MockServer::start().await;
    mount_overview(&server, "1.20.5").await;
    Mock::given(method("POST"))
        .and(path("/jars/abc_job.jar/run"))
        .and(body_json(json!({
            "jobId": JOB,
            "programArgsList": ["--keys", "512"],
            "parallelism": 2,
            "savepointPath": "file:/tmp/sp/savepoint-1",
            "allowNonRestoredState": false,
            "restoreMode": "NO_CLAIM",
            "flinkConfiguration": {
                "pipeline.jobvertex-parallelism-overrides": format!("{COUNTER}:3,{SOURCE}:1")
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobid": JOB})))
        .mount(&server)
        .await;

    let job_id = client(&server).run_jar("abc_job.jar", &restore_run()).await.expect("run");
    assert_eq!(job_id, JOB);
}

#[tokio::test]
async fn a_fresh_run_does_not_need_the_version() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jars/abc_job.jar/run"))
        .and(body_json(json!({"jobId": JOB, "parallelism": 2, "allowNonRestoredState": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobid": JOB})))
        .mount(&server)
        .await;
    let run = RunJar { job_id: Some(JOB.to_owned()), parallelism: Some(2), ..RunJar::default() };

    assert_eq!(client(&server).run_jar("abc_job.jar", &run).await.expect("run"), JOB);
}

#[tokio::test]
async fn a_duplicate_job_id_is_classified_on_both_versions() {
    for exception in [
        "org.apache.flink.runtime.client.DuplicateJobSubmissionException: Job has already been submitted.",
        "org.apache.flink.runtime.client.DuplicateApplicationSubmissionException: Application has already been submitted.",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/jars/abc_job.jar/run"))
            .respond_with(ResponseTemplate::new(400).set_body_json(flink_error(&[
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.",
                "org.apache.flink.util.FlinkException: Failed to execute job 'keyed-counter'.",
                exception,
            ])))
            .mount(&server)
            .await;
        let run = RunJar { job_id: Some(JOB.to_owned()), ..RunJar::default() };

        let error = client(&server).run_jar("abc_job.jar", &run).await.expect_err("duplicate");
        assert_eq!(error, FlinkError::DuplicateJob { job_id: JOB.to_owned() });
    }
}

#[tokio::test]
async fn running_an_unknown_jar_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jars/nope.jar/run"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"errors": [
            "Internal server error.",
            "<Exception on server side:\njava.util.concurrent.CompletionException: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /tmp/flink-web/nope.jar does not exist\n\tat a.b(C.java:1)\n\nEnd of exception on server side>"
        ]})))
        .mount(&server)
        .await;

    let error = client(&server).run_jar("nope.jar", &RunJar::default()).await.expect_err("no jar");
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test]
async fn jars_are_uploaded_listed_and_deleted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jars/upload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "filename": "/tmp/flink-web-e61a/flink-web-upload/82579b48-7e16_job.jar", "status": "success"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"address": "http://x", "files": [
            {"id": "82579b48-7e16_job.jar", "name": "job.jar", "uploaded": 1795506253158_i64,
             "entry": [{"name": "rescaler.sample.KeyedCounterJob", "description": null}]}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/jars/82579b48-7e16_job.jar"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/jars/gone.jar"))
        .respond_with(ResponseTemplate::new(400).set_body_json(flink_error(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: File gone.jar does not exist in /tmp/flink-web-upload.",
        ])))
        .mount(&server)
        .await;
    let client = client(&server);

    let jar_id = client.upload_jar("job.jar", b"PK\x03\x04".to_vec().into()).await.expect("upload");
    assert_eq!(jar_id, "82579b48-7e16_job.jar");
    let jars = client.list_jars().await.expect("list");
    assert_eq!(
        jars,
        vec![JarInfo {
            id: jar_id.clone(),
            name: "job.jar".to_owned(),
            uploaded_ms: 1795506253158,
            entry_classes: vec!["rescaler.sample.KeyedCounterJob".to_owned()],
        }]
    );
    client.delete_jar(&jar_id).await.expect("delete");
    assert!(client.delete_jar("gone.jar").await.expect_err("gone").is_not_found());
}

#[tokio::test]
async fn cancel_is_harmless_on_terminal_jobs_and_not_found_on_unknown_ones() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/jobs/{JOB}")))
        .and(query_param("mode", "cancel"))
        .respond_with(ResponseTemplate::new(409).set_body_json(flink_error(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Job cancellation failed because the job has already reached another terminal state (FINISHED).",
        ])))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/jobs/ffffffffffffffffffffffffffffffff"))
        .respond_with(ResponseTemplate::new(404).set_body_json(flink_error(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Job could not be found.",
        ])))
        .mount(&server)
        .await;
    let client = client(&server);

    client.cancel_job(JOB).await.expect("terminal job");
    let error = client.cancel_job("ffffffffffffffffffffffffffffffff").await.expect_err("unknown");
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test]
async fn resource_requirements_round_trip() {
    let server = MockServer::start().await;
    let wire = json!({
        COUNTER: {"parallelism": {"lowerBound": 1, "upperBound": 3}},
        SOURCE: {"parallelism": {"lowerBound": 1, "upperBound": 1}}
    });
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/resource-requirements")))
        .respond_with(ResponseTemplate::new(200).set_body_json(wire.clone()))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/jobs/{JOB}/resource-requirements")))
        .and(body_json(wire))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);

    let requirements = client.resource_requirements(JOB).await.expect("get");
    assert_eq!(requirements[COUNTER], ParallelismBounds { lower: 1, upper: 3 });
    assert_eq!(requirements[SOURCE], ParallelismBounds::up_to(1));
    client.set_resource_requirements(JOB, &requirements).await.expect("put");
}

#[tokio::test]
async fn vertex_metrics_pick_max_load_and_summed_input() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/vertices/{COUNTER}/subtasks/metrics")))
        .and(query_param("get", LOAD_QUERY))
        .and(query_param("agg", "avg,max,sum"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "busyTimeMsPerSecond", "avg": 600.0, "max": 800.0, "sum": 1200.0},
            {"id": "backPressuredTimeMsPerSecond", "avg": "NaN", "max": "NaN", "sum": "NaN"},
            {"id": "numRecordsInPerSecond", "avg": 500.25, "max": 500.0, "sum": 1000.5},
            {"id": "numRecordsOutPerSecond", "avg": 20.0, "max": 30.0, "sum": 40.0}
        ])))
        .mount(&server)
        .await;

    let metrics = client(&server).vertex_metrics(JOB, COUNTER).await.expect("metrics");
    assert_eq!(
        metrics,
        VertexMetrics {
            busy_time_ms_per_second: Some(800.0),
            backpressured_time_ms_per_second: None,
            num_records_in_per_second: Some(1000.5),
        }
    );
}

#[tokio::test]
async fn operator_metric_sum_finds_the_metric_by_suffix() {
    let server = MockServer::start().await;
    let metrics_path = format!("/jobs/{JOB}/vertices/{COUNTER}/subtasks/metrics");
    Mock::given(method("GET"))
        .and(path(metrics_path.clone()))
        .and(query_param("get", "Counter.freshKeys"))
        .and(query_param("agg", "sum"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": "Counter.freshKeys", "sum": 512.0}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(metrics_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "Counter.maxCount"}, {"id": "Counter.freshKeys"}, {"id": "busyTimeMsPerSecond"},
            {"id": "Sink__Print.numRecordsIn"}
        ])))
        .mount(&server)
        .await;
    let client = client(&server);

    assert_eq!(client.operator_metric_sum(JOB, COUNTER, "freshKeys").await.expect("sum"), Some(512.0));
    assert_eq!(client.operator_metric_sum(JOB, COUNTER, "noSuchMetric").await.expect("none"), None);
}

#[tokio::test]
async fn the_auth_header_goes_with_every_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/overview"))
        .and(header("x-proxy-token", "s3cret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(overview("2.3.0")))
        .mount(&server)
        .await;
    let config = RestFlinkClientConfig::new(format!("{}/", server.uri())).with_auth_header("x-proxy-token", "s3cret");
    let client = RestFlinkClient::new(config).expect("client");

    client.cluster_overview().await.expect("overview with header");
}

#[test]
fn the_client_is_usable_as_a_trait_object() {
    fn assert_dyn(_: std::sync::Arc<dyn FlinkClient>) {}
    let client = RestFlinkClient::new(RestFlinkClientConfig::new("http://127.0.0.1:1")).expect("client");
    assert_dyn(std::sync::Arc::new(client));
}

#[test]
fn a_bad_base_url_or_header_is_refused() {
    assert!(RestFlinkClient::new(RestFlinkClientConfig::new("127.0.0.1:8081")).is_err());
    let config = RestFlinkClientConfig::new("http://x").with_auth_header("bad header", "v");
    assert!(RestFlinkClient::new(config).is_err());
}

#[test]
fn error_summaries_drop_stack_traces_and_shorten_class_names() {
    assert_eq!(
        simplify_exception_line("java.util.concurrent.CompletionException: org.apache.flink.X$Inner: a b: c.d"),
        "CompletionException: X$Inner: a b: c.d"
    );
    assert_eq!(summarize_errors(&[]), "no error message");
    assert_eq!(
        summarize_errors(&["Unable to load requested file /nonexistent/path.".to_owned()]),
        "Unable to load requested file /nonexistent/path."
    );
    assert_eq!(
        summarize_errors(&[
            "org.apache.flink.runtime.rest.handler.RestHandlerException: The newly requested parallelism 300 for the job vertex 0da0 exceeds its maximum parallelism 128.\n\tat org.apache.flink.runtime.dispatcher.Dispatcher.validateMaxParallelism(Dispatcher.java:2130)\n".to_owned()
        ]),
        "RestHandlerException: The newly requested parallelism 300 for the job vertex 0da0 exceeds its maximum parallelism 128."
    );
}

#[test]
fn versions_parse_and_decide_the_wire_fields() {
    let v2 = FlinkVersion::parse("2.3.0").expect("2.3.0");
    let v1 = FlinkVersion::parse("1.20.5").expect("1.20.5");
    assert!(v2.uses_claim_mode());
    assert!(!v1.uses_claim_mode());
    assert!(!v2.applies_vertex_overrides_on_jar_run());
    assert!(v1.applies_vertex_overrides_on_jar_run());
    let v1_18 = FlinkVersion::parse("1.18.1").expect("1.18.1");
    assert!(!v1_18.uses_claim_mode());
    assert!(!v1_18.applies_vertex_overrides_on_jar_run());
    assert!(FlinkVersion::parse("1.19.2").expect("1.19.2").applies_vertex_overrides_on_jar_run());
    assert!(FlinkVersion::parse("2.4.0").expect("2.4.0").applies_vertex_overrides_on_jar_run());
    assert_eq!(FlinkVersion::parse("2.1-SNAPSHOT"), Some(FlinkVersion { major: 2, minor: 1, patch: 0 }));
    assert_eq!(FlinkVersion::parse("<unknown>"), None);
    assert!(v1 < v2);
}

#[test]
fn path_segments_are_percent_encoded() {
    assert_eq!(segment("82579b48-7e16_job.jar"), "82579b48-7e16_job.jar");
    assert_eq!(segment("../a b"), "..%2Fa%20b");
}

/// The one `subtasks/metrics` query of a vertex's load.
const LOAD_QUERY: &str =
    "busyTimeMsPerSecond,backPressuredTimeMsPerSecond,numRecordsInPerSecond,numRecordsOutPerSecond";
const WINDOW: &str = "5b7e2e5a1a0f4c4b9a4f4e1c2d3b4a50";
const ENRICH: &str = "ab8f2b4c7d6e5f4a3b2c1d0e9f8a7b61";
const CLICKS: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const SINK: &str = "dddddddddddddddddddddddddddddddd";

/// A plan input edge as Flink writes it.
fn plan_input(id: &str, ship_strategy: &str) -> serde_json::Value {
    json!({"num": 0, "id": id, "ship_strategy": ship_strategy, "exchange": "pipelined_bounded"})
}

/// A plan node; a source's has no `inputs` at all, as 2.3.0 writes it.
fn plan_node(id: &str, inputs: &[serde_json::Value]) -> serde_json::Value {
    let mut node = json!({
        "id": id, "parallelism": 2, "operator": "", "operator_strategy": "",
        "description": "an operator<br/>", "optimizer_properties": {}
    });
    if !inputs.is_empty() {
        node["inputs"] = json!(inputs);
    }
    node
}

/// Two sources (events, clicks) joined by key (fan-in), then enriched through a rebalance that
/// Flink lists twice, then sunk through a forward edge: listed upstream first, as Flink does,
/// with the plan's nodes in another order.
fn fan_in_job(state: &str, statuses: [&str; 5]) -> serde_json::Value {
    let mut window = vertex(WINDOW, "Window(join)", 4, statuses[2], json!({"RUNNING": 4}));
    window["maxParallelism"] = json!(256);
    let mut details = job_details_2_3();
    details["state"] = json!(state);
    details["vertices"] = json!([
        vertex(SOURCE, "Source: events", 2, statuses[0], json!({"RUNNING": 2})),
        vertex(CLICKS, "Source: clicks", 1, statuses[1], json!({"RUNNING": 1})),
        window,
        vertex(ENRICH, "Enrich", 3, statuses[3], json!({"RUNNING": 3})),
        vertex(SINK, "Sink: out", 1, statuses[4], json!({"RUNNING": 1})),
    ]);
    details["plan"]["nodes"] = json!([
        plan_node(SINK, &[plan_input(ENRICH, "FORWARD")]),
        plan_node(WINDOW, &[plan_input(SOURCE, "HASH"), plan_input(CLICKS, "HASH")]),
        plan_node(SOURCE, &[]),
        plan_node(ENRICH, &[plan_input(WINDOW, "REBALANCE"), plan_input(WINDOW, "REBALANCE")]),
        plan_node(CLICKS, &[]),
    ]);
    details
}

const ALL_RUNNING: [&str; 5] = ["RUNNING"; 5];

async fn mount_details(server: &MockServer, details: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(details))
        .mount(server)
        .await;
}

fn graph_vertex(id: &str, name: &str, parallelism: u32, inputs: &[&str], keyed: bool) -> GraphVertex {
    GraphVertex {
        id: id.to_owned(),
        name: name.to_owned(),
        parallelism,
        max_parallelism: if id == WINDOW { 256 } else { 128 },
        inputs: inputs.iter().map(|input| (*input).to_owned()).collect(),
        keyed,
        source: inputs.is_empty(),
    }
}

#[tokio::test]
async fn job_graph_reads_sources_keyed_fan_in_and_edges_in_the_jobs_order() {
    let server = MockServer::start().await;
    mount_details(&server, fan_in_job("RUNNING", ALL_RUNNING)).await;

    let graph = client(&server).job_graph(JOB).await.expect("graph").expect("known job");
    let expected = vec![
        graph_vertex(SOURCE, "Source: events", 2, &[], false),
        graph_vertex(CLICKS, "Source: clicks", 1, &[], false),
        graph_vertex(WINDOW, "Window(join)", 4, &[SOURCE, CLICKS], true),
        graph_vertex(ENRICH, "Enrich", 3, &[WINDOW], false),
        graph_vertex(SINK, "Sink: out", 1, &[ENRICH], false),
    ];
    assert_eq!(graph.vertices, expected);
    assert_eq!(server.received_requests().await.expect("recorded").len(), 1, "one call");
}

#[tokio::test]
async fn job_graph_reads_a_plan_sent_as_a_string_and_answers_none_for_an_unknown_job() {
    let server = MockServer::start().await;
    let mut details = fan_in_job("FINISHED", ["FINISHED"; 5]);
    details["plan"] = json!(details["plan"].to_string());
    mount_details(&server, details).await;
    let client = client(&server);

    let graph = client.job_graph(JOB).await.expect("graph").expect("known job");
    assert_eq!(graph.vertices.len(), 5);
    assert!(graph.vertices[2].keyed && graph.vertices[2].inputs == [SOURCE, CLICKS]);
    assert_eq!(client.job_graph("00000000000000000000000000000bad").await.expect("answer"), None);
}

#[tokio::test]
async fn a_plan_that_misses_a_vertex_is_undecodable_rather_than_a_source() {
    let server = MockServer::start().await;
    let mut details = fan_in_job("RUNNING", ALL_RUNNING);
    details["plan"]["nodes"].as_array_mut().expect("nodes").remove(1);
    mount_details(&server, details).await;

    let error = client(&server).job_graph(JOB).await.expect_err("a vertex without a plan node");
    assert!(matches!(&error, FlinkError::Undecodable { detail, .. } if detail.contains(WINDOW)), "{error}");
}

#[tokio::test]
async fn a_job_waiting_for_slots_has_an_empty_graph_and_a_running_job_without_a_plan_is_undecodable() {
    // What Flink 2.3's adaptive scheduler answers for a job waiting for resources: state and
    // vertices CREATED, a plan with no nodes.
    let server = MockServer::start().await;
    let mut details = fan_in_job("CREATED", ["CREATED"; 5]);
    details["plan"] = json!({"jid": "", "name": "", "type": "", "nodes": []});
    mount_details(&server, details.clone()).await;
    let graph = client(&server).job_graph(JOB).await.expect("graph").expect("known job");
    assert!(graph.vertices.is_empty(), "{graph:?}");

    let server = MockServer::start().await;
    details["state"] = json!("RUNNING");
    mount_details(&server, details).await;
    let error = client(&server).job_graph(JOB).await.expect_err("a running job without a plan");
    assert!(matches!(&error, FlinkError::Undecodable { .. }), "{error}");
}

/// Each vertex's answer to the load query; the events source's busy time is NaN (a legacy
/// source), the clicks source reports no back-pressure at all.
async fn mount_vertex_loads(server: &MockServer, delay: Duration) {
    let loads = [
        (
            SOURCE,
            json!([
                {"id": "busyTimeMsPerSecond", "avg": "NaN", "max": "NaN", "sum": "NaN"},
                {"id": "backPressuredTimeMsPerSecond", "avg": 12.5, "max": 25.0, "sum": 25.0},
                {"id": "numRecordsInPerSecond", "avg": 0.0, "max": 0.0, "sum": 0.0},
                {"id": "numRecordsOutPerSecond", "avg": 150.0, "max": 160.0, "sum": 300.0}
            ]),
        ),
        (
            CLICKS,
            json!([
                {"id": "busyTimeMsPerSecond", "avg": 10.0, "max": 10.0, "sum": 10.0},
                {"id": "numRecordsOutPerSecond", "avg": 5.0, "max": 5.0, "sum": 5.0}
            ]),
        ),
        (
            WINDOW,
            json!([
                {"id": "busyTimeMsPerSecond", "avg": 700.0, "max": 910.0, "sum": 2800.0},
                {"id": "backPressuredTimeMsPerSecond", "avg": 0.0, "max": 0.0, "sum": 0.0},
                {"id": "numRecordsInPerSecond", "avg": 76.25, "max": 90.0, "sum": 305.0},
                {"id": "numRecordsOutPerSecond", "avg": 10.0, "max": 12.0, "sum": 40.0}
            ]),
        ),
        (ENRICH, json!([])),
        (SINK, json!([{"id": "numRecordsInPerSecond", "avg": 40.0, "max": 40.0, "sum": 40.0}])),
    ];
    for (vertex_id, body) in loads {
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{JOB}/vertices/{vertex_id}/subtasks/metrics")))
            .and(query_param("get", LOAD_QUERY))
            .and(query_param("agg", "avg,max,sum"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body).set_delay(delay))
            .mount(server)
            .await;
    }
    // The events source reports its backlog under its operator's name; the clicks source none.
    let events_metrics = format!("/jobs/{JOB}/vertices/{SOURCE}/subtasks/metrics");
    Mock::given(method("GET"))
        .and(path(events_metrics.clone()))
        .and(query_param("get", "Source__events.pendingRecords"))
        .and(query_param("agg", "sum"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "Source__events.pendingRecords", "sum": 1234.0}
        ])))
        .mount(server)
        .await;
    for (vertex_id, listing) in [
        (SOURCE, json!([{"id": "busyTimeMsPerSecond"}, {"id": "Source__events.pendingRecords"}])),
        (CLICKS, json!([{"id": "busyTimeMsPerSecond"}, {"id": "numRecordsOutPerSecond"}])),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{JOB}/vertices/{vertex_id}/subtasks/metrics")))
            .respond_with(ResponseTemplate::new(200).set_body_json(listing))
            .with_priority(10)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn a_load_sample_maps_every_figure_and_reads_backlog_for_sources_only() {
    let server = MockServer::start().await;
    mount_details(&server, fan_in_job("RUNNING", ALL_RUNNING)).await;
    mount_vertex_loads(&server, Duration::ZERO).await;

    let sample = client(&server).load_sample(JOB, SETTLED_AT).await.expect("sample").expect("running");
    assert_eq!((sample.at_ms, sample.job_id.as_str(), sample.folded), (SETTLED_AT, JOB, 1));
    let ids: Vec<_> = sample.vertices.iter().map(|vertex| vertex.id.as_str()).collect();
    assert_eq!(ids, [SOURCE, CLICKS, WINDOW, ENRICH, SINK], "the graph's order");
    let events = &sample.vertices[0];
    assert_eq!((events.name.as_str(), events.parallelism), ("Source: events", 2));
    assert_eq!((events.busy_ms_per_s_avg, events.busy_ms_per_s_max), (None, None), "NaN is no value");
    assert_eq!((events.backpressured_ms_per_s_avg, events.backpressured_ms_per_s_max), (Some(12.5), Some(25.0)));
    assert_eq!((events.records_in_per_s, events.records_out_per_s), (Some(0.0), Some(300.0)), "sums");
    assert_eq!(events.pending_records, Some(1234.0));
    let clicks = &sample.vertices[1];
    assert_eq!((clicks.busy_ms_per_s_avg, clicks.backpressured_ms_per_s_max), (Some(10.0), None));
    assert_eq!((clicks.records_out_per_s, clicks.pending_records), (Some(5.0), None), "no backlog reported");
    let window = &sample.vertices[2];
    assert_eq!(
        *window,
        VertexSample {
            id: WINDOW.to_owned(),
            name: "Window(join)".to_owned(),
            parallelism: 4,
            busy_ms_per_s_avg: Some(700.0),
            busy_ms_per_s_max: Some(910.0),
            backpressured_ms_per_s_avg: Some(0.0),
            backpressured_ms_per_s_max: Some(0.0),
            records_in_per_s: Some(305.0),
            records_out_per_s: Some(40.0),
            pending_records: None,
        }
    );
    assert_eq!(
        sample.vertices[3],
        VertexSample { id: ENRICH.to_owned(), name: "Enrich".to_owned(), parallelism: 3, ..VertexSample::default() }
    );
    assert_eq!(sample.vertices[4].records_in_per_s, Some(40.0));

    // One call for the detail, one per vertex, two more per source.
    let requests = server.received_requests().await.expect("recorded");
    let to = |vertex_id: &str| requests.iter().filter(|request| request.url.path().contains(vertex_id)).count();
    assert_eq!((to(SOURCE), to(CLICKS), to(WINDOW), to(ENRICH), to(SINK)), (3, 2, 1, 1, 1));
    assert_eq!(requests.len(), 1 + 8);
}

#[tokio::test]
async fn the_vertices_of_a_sample_are_read_at_once() {
    let server = MockServer::start().await;
    mount_details(&server, fan_in_job("RUNNING", ALL_RUNNING)).await;
    let delay = Duration::from_millis(400);
    mount_vertex_loads(&server, delay).await;

    let started = std::time::Instant::now();
    let sample = client(&server).load_sample(JOB, SETTLED_AT).await.expect("sample").expect("running");
    let elapsed = started.elapsed();
    assert_eq!(sample.vertices.len(), 5);
    // One after the other, five delayed answers would take five times the delay.
    assert!(elapsed < delay * 3, "took {elapsed:?} for five vertices answering after {delay:?} each");
}

/// When the job of `job_details_2_3` has run long enough for its rates to be Flink's own.
const SETTLED_AT: u64 = 1_795_506_256_840 + rescaler_shared::flink::METRICS_SETTLED_AFTER_MS;

#[tokio::test]
async fn no_sample_of_a_job_whose_rates_still_count_the_time_before_it_ran() {
    let server = MockServer::start().await;
    mount_details(&server, fan_in_job("RUNNING", ALL_RUNNING)).await;
    mount_vertex_loads(&server, Duration::ZERO).await;
    let client = client(&server);
    assert_eq!(client.load_sample(JOB, SETTLED_AT - 1).await.expect("answer"), None, "just short of settled");
    assert!(client.load_sample(JOB, SETTLED_AT).await.expect("answer").is_some(), "settled");
}

#[tokio::test]
async fn no_sample_of_a_job_that_is_not_running_or_unknown() {
    let not_running = [
        fan_in_job("RESTARTING", ALL_RUNNING),
        fan_in_job("CANCELED", ["CANCELED"; 5]),
        fan_in_job("RUNNING", ["RUNNING", "RUNNING", "DEPLOYING", "RUNNING", "CREATED"]),
    ];
    for details in not_running {
        let server = MockServer::start().await;
        let state = details["state"].clone();
        mount_details(&server, details).await;
        let sample = client(&server).load_sample(JOB, 1).await.expect("answer");
        assert_eq!(sample, None, "job {state}");
        assert_eq!(server.received_requests().await.expect("recorded").len(), 1, "no metrics read");
    }
    let server = MockServer::start().await;
    assert_eq!(client(&server).load_sample(JOB, 1).await.expect("answer"), None, "an unknown job (404)");
}
