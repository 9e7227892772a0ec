//! The local Amazon Managed Service for Apache Flink endpoint (`tests/msf-standin`) on a real
//! Flink 1.20 cluster, driven by the real `aws-sdk-kinesisanalyticsv2`: what the SDK sends is
//! accepted (SigV4 included) and what the stand-in answers parses; snapshots are savepoints on
//! disk; an update rescales the job with its state; and it refuses what MSF refuses.
//! Run under `flock /tmp/rescaler-flink.lock`.

use std::time::{Duration, Instant};

use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_kinesisanalyticsv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kinesisanalyticsv2::error::ProvideErrorMetadata;
use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationConfigurationUpdate, ApplicationDetail, ApplicationRestoreConfiguration, ApplicationRestoreType,
    ApplicationStatus, ConfigurationType, FlinkApplicationConfigurationUpdate, OperationStatus,
    ParallelismConfigurationUpdate, RunConfiguration, RunConfigurationUpdate, RuntimeEnvironment, SnapshotStatus,
};
use harness::msf::{MsfApplication, MsfOptions, MsfStandIn};
use harness::{FlinkCluster, FlinkOptions, Scheduler};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn flink() -> anyhow::Result<FlinkCluster> {
    harness::init_tracing();
    FlinkCluster::start(FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Default)).await
}

async fn describe(client: &Client, app: &str) -> anyhow::Result<ApplicationDetail> {
    let output = client.describe_application().application_name(app).send().await?;
    output.application_detail().cloned().ok_or_else(|| anyhow::anyhow!("no ApplicationDetail"))
}

async fn wait_status(client: &Client, app: &str, status: ApplicationStatus) -> anyhow::Result<ApplicationDetail> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let detail = describe(client, app).await?;
        if *detail.application_status() == status {
            return Ok(detail);
        }
        anyhow::ensure!(Instant::now() < deadline, "{app} never {status:?}: {detail:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// (Parallelism, CurrentParallelism, AutoScalingEnabled) as DescribeApplication shows them.
fn parallelism(detail: &ApplicationDetail) -> (Option<i32>, Option<i32>, Option<bool>) {
    let p = detail
        .application_configuration_description()
        .and_then(|c| c.flink_application_configuration_description())
        .and_then(|f| f.parallelism_configuration_description());
    (p.and_then(|p| p.parallelism()), p.and_then(|p| p.current_parallelism()), p.and_then(|p| p.auto_scaling_enabled()))
}

async fn wait_operation(
    client: &Client,
    app: &str,
    id: &str,
) -> anyhow::Result<aws_sdk_kinesisanalyticsv2::types::ApplicationOperationInfoDetails> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let output = client.describe_application_operation().application_name(app).operation_id(id).send().await?;
        let details = output.application_operation_info_details().cloned().expect("operation details");
        if *details.operation_status() != OperationStatus::InProgress {
            return Ok(details);
        }
        anyhow::ensure!(Instant::now() < deadline, "operation {id} still IN_PROGRESS");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn parallelism_update(parallelism: i32, autoscaling: Option<bool>) -> ApplicationConfigurationUpdate {
    let mut update = ParallelismConfigurationUpdate::builder()
        .configuration_type_update(ConfigurationType::Custom)
        .parallelism_update(parallelism);
    if let Some(autoscaling) = autoscaling {
        update = update.auto_scaling_enabled_update(autoscaling);
    }
    ApplicationConfigurationUpdate::builder()
        .flink_application_configuration_update(
            FlinkApplicationConfigurationUpdate::builder().parallelism_configuration_update(update.build()).build(),
        )
        .build()
}

fn restore_from(kind: ApplicationRestoreType, snapshot: Option<&str>) -> anyhow::Result<RunConfigurationUpdate> {
    let restore = ApplicationRestoreConfiguration::builder()
        .application_restore_type(kind)
        .set_snapshot_name(snapshot.map(Into::into));
    Ok(RunConfigurationUpdate::builder().application_restore_configuration(restore.build()?).build())
}

/// The Flink job's parallelism (its widest vertex).
async fn flink_parallelism(flink: &FlinkCluster, job_id: &str) -> anyhow::Result<u64> {
    let detail = flink.wait_job_running(job_id, Duration::from_secs(60)).await?;
    Ok(detail["vertices"].as_array().into_iter().flatten().filter_map(|v| v["parallelism"].as_u64()).max().unwrap_or(0))
}

/// Replaces the serialized request body before it is signed: what the SDK's types cannot send.
#[derive(Debug)]
struct ReplaceBody(String);

impl Intercept for ReplaceBody {
    fn name(&self) -> &'static str {
        "ReplaceBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        request.headers_mut().insert("content-length", self.0.len().to_string());
        *request.body_mut() = self.0.clone().into();
        Ok(())
    }
}

/// Changes the body after it was signed: the signature no longer matches.
#[derive(Debug)]
struct TamperAfterSigning;

impl Intercept for TamperAfterSigning {
    fn name(&self) -> &'static str {
        "TamperAfterSigning"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = r#"{"ApplicationName":"someone-else"}"#;
        let request = context.request_mut();
        request.headers_mut().insert("content-length", body.len().to_string());
        *request.body_mut() = body.to_owned().into();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_the_stand_in_can_give_validates_against_the_service_model() -> anyhow::Result<()> {
    let report = harness::msf::run_selfcheck()?;
    assert!(report.contains(" 0 invalid"), "{report}");
    let rendered: u32 = report
        .split_whitespace()
        .skip_while(|word| *word != "selfcheck:")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(rendered > 100, "the self-check rendered too few answers: {report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_a_savepoint_and_an_update_rescales_from_it_with_the_state() -> anyhow::Result<()> {
    let flink = flink().await?;
    let app = MsfApplication::sample_job(&flink, "orders", 1)?;
    let standin =
        MsfStandIn::start(&flink, &MsfOptions { kpu_limit: 4, stable_ms: 3000, applications: vec![app] }).await?;
    let client = standin.client();

    let detail = wait_status(&client, "orders", ApplicationStatus::Running).await?;
    assert_eq!(parallelism(&detail), (Some(1), Some(1), Some(false)));
    assert_eq!(*detail.runtime_environment(), RuntimeEnvironment::Flink120);
    assert_eq!(detail.application_version_id(), 1);
    let token = detail.conditional_token().expect("a conditional token").to_owned();
    let first_job = standin.job_id("orders").await?;
    assert_eq!(flink_parallelism(&flink, &first_job).await?, 1);
    let (_, max_before) = harness::msf::counter_after(&flink, &first_job, 2.0).await?;

    // CreateApplicationSnapshot: CREATING, then READY with a real savepoint on disk.
    client.create_application_snapshot().application_name("orders").snapshot_name("before-rescale").send().await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let output = client
            .describe_application_snapshot()
            .application_name("orders")
            .snapshot_name("before-rescale")
            .send()
            .await?;
        let status = output.snapshot_details().expect("snapshot details").snapshot_status().clone();
        if status == SnapshotStatus::Ready {
            break;
        }
        assert_eq!(status, SnapshotStatus::Creating);
        assert!(Instant::now() < deadline, "snapshot never READY:\n{}", standin.log_tail(30));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let path = standin.snapshot_path("orders", "before-rescale").await?;
    let on_disk = std::path::PathBuf::from(path.trim_start_matches("file:"));
    assert!(on_disk.join("_metadata").exists(), "savepoint {path} not on disk");
    let listed = client.list_application_snapshots().application_name("orders").send().await?;
    assert!(listed.snapshot_summaries().iter().any(|s| s.snapshot_name() == "before-rescale"));

    // A stale ConditionalToken: the SDK's typed ConcurrentModificationException.
    let stale = client
        .update_application()
        .application_name("orders")
        .conditional_token("a-token-from-yesterday")
        .application_configuration_update(parallelism_update(2, None))
        .send()
        .await
        .expect_err("a stale token is refused");
    assert!(stale.into_service_error().is_concurrent_modification_exception());

    // What the model forbids: parallelism 0, an enum value it does not list, an unknown member.
    let zero = client
        .update_application()
        .application_name("orders")
        .conditional_token(&token)
        .application_configuration_update(parallelism_update(0, None))
        .send()
        .await
        .expect_err("parallelism 0 is refused");
    assert_eq!(zero.code(), Some("ValidationException"), "{zero:?}");
    assert!(zero.message().unwrap_or_default().contains("ParallelismUpdate"), "{zero:?}");
    let bogus_enum = client
        .update_application()
        .application_name("orders")
        .conditional_token(&token)
        .application_configuration_update(
            ApplicationConfigurationUpdate::builder()
                .flink_application_configuration_update(
                    FlinkApplicationConfigurationUpdate::builder()
                        .parallelism_configuration_update(
                            ParallelismConfigurationUpdate::builder()
                                .configuration_type_update(ConfigurationType::from("SOMETIMES"))
                                .parallelism_update(2)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("an enum value outside the model is refused");
    assert_eq!(bogus_enum.code(), Some("ValidationException"), "{bogus_enum:?}");
    let unknown_member = client
        .describe_application()
        .application_name("orders")
        .customize()
        .interceptor(ReplaceBody(r#"{"ApplicationName":"orders","Verbose":true}"#.to_owned()))
        .send()
        .await
        .expect_err("an unknown member is refused");
    assert_eq!(unknown_member.code(), Some("ValidationException"), "{unknown_member:?}");
    let not_json = client
        .describe_application()
        .application_name("orders")
        .customize()
        .interceptor(ReplaceBody("{not json".to_owned()))
        .send()
        .await
        .expect_err("a body that is not JSON is refused");
    assert_eq!(not_json.code(), Some("SerializationException"), "{not_json:?}");
    // The signature covers the body: changed after signing, it is refused.
    let tampered = client
        .describe_application()
        .application_name("orders")
        .customize()
        .interceptor(TamperAfterSigning)
        .send()
        .await
        .expect_err("a tampered request is refused");
    assert_eq!(tampered.code(), Some("InvalidSignatureException"), "{tampered:?}");

    // MSF's own rules: CUSTOM is needed to change parallelism; the KPU limit (4 here).
    let not_custom = client
        .update_application()
        .application_name("orders")
        .conditional_token(&token)
        .application_configuration_update(
            ApplicationConfigurationUpdate::builder()
                .flink_application_configuration_update(
                    FlinkApplicationConfigurationUpdate::builder()
                        .parallelism_configuration_update(
                            ParallelismConfigurationUpdate::builder().parallelism_update(2).build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("a parallelism change without CUSTOM is refused");
    assert!(not_custom.into_service_error().is_invalid_argument_exception());
    let too_big = client
        .update_application()
        .application_name("orders")
        .conditional_token(&token)
        .application_configuration_update(parallelism_update(5, None))
        .send()
        .await
        .expect_err("5 KPUs over a limit of 4 are refused");
    assert!(too_big.into_service_error().is_limit_exceeded_exception());
    let unchanged = describe(&client, "orders").await?;
    assert_eq!((unchanged.application_version_id(), unchanged.conditional_token()), (1, Some(token.as_str())));

    // The rescale: from the snapshot, at 2, guarded by the token.
    let updated = client
        .update_application()
        .application_name("orders")
        .conditional_token(&token)
        .application_configuration_update(parallelism_update(2, None))
        .run_configuration_update(restore_from(
            ApplicationRestoreType::RestoreFromCustomSnapshot,
            Some("before-rescale"),
        )?)
        .send()
        .await?;
    let operation_id = updated.operation_id().expect("an OperationId").to_owned();
    let answered = updated.application_detail().expect("ApplicationDetail");
    assert_eq!(answered.application_version_id(), 2);
    assert_eq!(*answered.application_status(), ApplicationStatus::Updating);
    let operation = wait_operation(&client, "orders", &operation_id).await?;
    assert_eq!(*operation.operation_status(), OperationStatus::Successful, "{operation:?}\n{}", standin.log_tail(40));
    let detail = wait_status(&client, "orders", ApplicationStatus::Running).await?;
    assert_eq!(parallelism(&detail), (Some(2), Some(2), Some(false)));
    assert_eq!(detail.application_version_id(), 2);
    assert_ne!(detail.conditional_token(), Some(token.as_str()), "the token changes on each update");

    let second_job = standin.job_id("orders").await?;
    assert_ne!(second_job, first_job);
    assert_eq!(flink_parallelism(&flink, &second_job).await?, 2);
    let (fresh, max_after) = harness::msf::counter_after(&flink, &second_job, max_before).await?;
    assert_eq!(fresh, 0.0, "keys started from zero after the update: the snapshot's state was lost");
    assert!(max_after > max_before);
    // The update took a snapshot of its own (snapshots are enabled), listed beside ours.
    let listed = client.list_application_snapshots().application_name("orders").send().await?;
    assert_eq!(listed.snapshot_summaries().len(), 2, "{listed:?}");
    let operations = client.list_application_operations().application_name("orders").send().await?;
    assert!(
        operations.application_operation_info_list().iter().any(|o| o.operation_id() == Some(operation_id.as_str()))
    );

    // DeleteApplicationSnapshot names the snapshot by name and creation time.
    let ours = listed.snapshot_summaries().iter().find(|s| s.snapshot_name() == "before-rescale").expect("ours");
    client
        .delete_application_snapshot()
        .application_name("orders")
        .snapshot_name("before-rescale")
        .set_snapshot_creation_timestamp(ours.snapshot_creation_timestamp().cloned())
        .send()
        .await?;
    let listed = client.list_application_snapshots().application_name("orders").send().await?;
    assert!(listed.snapshot_summaries().iter().all(|s| s.snapshot_name() != "before-rescale"), "{listed:?}");

    // StopApplication takes a snapshot (READY, no job); StartApplication restores from it.
    let stop = client.stop_application().application_name("orders").send().await?;
    let stopped = wait_operation(&client, "orders", stop.operation_id().expect("id")).await?;
    assert_eq!(*stopped.operation_status(), OperationStatus::Successful, "{stopped:?}");
    wait_status(&client, "orders", ApplicationStatus::Ready).await?;
    assert!(standin.internal("orders").await?["job_id"].is_null());
    // The application still names the deleted snapshot as its restore point: refused, never a
    // silent start without state; the latest snapshot (the stop's) is asked for explicitly.
    let refused = client.start_application().application_name("orders").send().await.expect_err("snapshot deleted");
    assert!(refused.into_service_error().is_invalid_argument_exception());
    let latest = ApplicationRestoreConfiguration::builder()
        .application_restore_type(ApplicationRestoreType::RestoreFromLatestSnapshot);
    let start = client
        .start_application()
        .application_name("orders")
        .run_configuration(RunConfiguration::builder().application_restore_configuration(latest.build()?).build())
        .send()
        .await?;
    let started = wait_operation(&client, "orders", start.operation_id().expect("id")).await?;
    assert_eq!(*started.operation_status(), OperationStatus::Successful, "{started:?}");
    let third_job = standin.job_id("orders").await?;
    assert_eq!(flink_parallelism(&flink, &third_job).await?, 2);
    let (fresh, max_after) = harness::msf::counter_after(&flink, &third_job, max_after).await?;
    assert_eq!(fresh, 0.0, "the start did not restore the stop's snapshot");

    // RollbackApplication: back to version 1's parallelism, from a snapshot it takes first.
    let rollback =
        client.rollback_application().application_name("orders").current_application_version_id(2).send().await?;
    let rolled = wait_operation(&client, "orders", rollback.operation_id().expect("id")).await?;
    assert_eq!(*rolled.operation_status(), OperationStatus::Successful, "{rolled:?}\n{}", standin.log_tail(30));
    let detail = wait_status(&client, "orders", ApplicationStatus::Running).await?;
    assert_eq!(parallelism(&detail), (Some(1), Some(1), Some(false)));
    assert_eq!(
        (
            detail.application_version_id(),
            detail.application_version_rolled_back_from(),
            detail.application_version_rolled_back_to()
        ),
        (3, Some(2), Some(1))
    );
    let rolled_back_job = standin.job_id("orders").await?;
    assert_eq!(flink_parallelism(&flink, &rolled_back_job).await?, 1);
    let (fresh, _) = harness::msf::counter_after(&flink, &rolled_back_job, max_after).await?;
    assert_eq!(fresh, 0.0, "the rollback lost the state");
    assert!(!standin.log().contains("STAND-IN BUG"), "{}", standin.log());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaling_refuses_updates_and_a_failed_restore_rolls_back() -> anyhow::Result<()> {
    let flink = flink().await?;
    let mut app = MsfApplication::sample_job(&flink, "payments", 1)?;
    app.autoscaling = true;
    let standin =
        MsfStandIn::start(&flink, &MsfOptions { kpu_limit: 64, stable_ms: 3000, applications: vec![app] }).await?;
    let client = standin.client();
    let detail = wait_status(&client, "payments", ApplicationStatus::Running).await?;
    let token = detail.conditional_token().expect("token").to_owned();
    let (_, max_before) = harness::msf::counter_after(&flink, &standin.job_id("payments").await?, 2.0).await?;

    // AUTOSCALING (CurrentParallelism doubled): an update is refused meanwhile.
    standin.inject_autoscaling("payments", 20).await?;
    let scaling = describe(&client, "payments").await?;
    assert_eq!(*scaling.application_status(), ApplicationStatus::Autoscaling);
    let refused = client
        .update_application()
        .application_name("payments")
        .conditional_token(&token)
        .application_configuration_update(parallelism_update(3, Some(false)))
        .send()
        .await
        .expect_err("no update while AUTOSCALING");
    assert!(refused.into_service_error().is_resource_in_use_exception());
    let detail = wait_status(&client, "payments", ApplicationStatus::Running).await?;
    assert_eq!(parallelism(&detail), (Some(1), Some(2), Some(true)));
    assert_eq!(flink_parallelism(&flink, &standin.job_id("payments").await?).await?, 2);

    // Changed behind the client's back: the token it read is stale.
    standin.bump_token("payments").await?;
    let stale = client
        .update_application()
        .application_name("payments")
        .conditional_token(&token)
        .application_configuration_update(parallelism_update(3, Some(false)))
        .send()
        .await
        .expect_err("the token changed behind the client's back");
    assert!(stale.into_service_error().is_concurrent_modification_exception());

    // A restore that fails at once: the operation FAILED, the system rollback restores version
    // and parallelism.
    let before = describe(&client, "payments").await?;
    standin.fail_next_restore("payments").await?;
    let updated = client
        .update_application()
        .application_name("payments")
        .conditional_token(before.conditional_token().expect("token"))
        .application_configuration_update(parallelism_update(3, Some(false)))
        .run_configuration_update(restore_from(ApplicationRestoreType::RestoreFromLatestSnapshot, None)?)
        .send()
        .await?;
    let operation = wait_operation(&client, "payments", updated.operation_id().expect("id")).await?;
    assert_eq!(*operation.operation_status(), OperationStatus::Failed, "{operation:?}");
    let failure = operation.operation_failure_details().expect("failure details");
    assert!(failure.error_info().and_then(|e| e.error_string()).is_some_and(|e| e.contains("fail")), "{failure:?}");
    let rollback_id = failure.rollback_operation_id().expect("a rollback operation").to_owned();
    let rollback = wait_operation(&client, "payments", &rollback_id).await?;
    assert_eq!(*rollback.operation_status(), OperationStatus::Successful, "{rollback:?}\n{}", standin.log_tail(40));
    let detail = wait_status(&client, "payments", ApplicationStatus::Running).await?;
    assert_eq!(parallelism(&detail), (Some(1), Some(2), Some(true)), "back at the old parallelism");
    assert_eq!(detail.application_version_rolled_back_to(), Some(before.application_version_id()));
    assert!(detail.application_version_id() > before.application_version_id() + 1);
    let job = standin.job_id("payments").await?;
    assert_eq!(flink_parallelism(&flink, &job).await?, 2);
    let (fresh, _) = harness::msf::counter_after(&flink, &job, max_before).await?;
    assert_eq!(fresh, 0.0, "the rollback lost the state");
    assert!(!standin.log().contains("STAND-IN BUG"), "{}", standin.log());
    Ok(())
}
