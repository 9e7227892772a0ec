//! A reconcile pass leaves a request unread while it is quiet (awaiting approval, its record
//! unchanged), reads it again at once when someone acts on it through the API, and leaves no
//! side key behind once it ended. On the directory store; the P7 bench measures the same on
//! the S3 server.

mod common;

use std::sync::Arc;

use common::{JOB, TestApp};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_backend::records::quiet::{QUIET_MAX_MS, WAKE_HOLD_MS};
use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
use rescaler_shared::phase::PhaseName;

/// alice's request on `JOB`, one approval needed within two hours.
fn request(id: &str) -> Operation {
    let request = OperationRequest {
        cluster_id: "prod".into(),
        job_id: JOB.into(),
        job_name: "job".into(),
        target: Target::Uniform { parallelism: 2 },
        strategy: Strategy::Savepoint,
        reason: "more traffic".into(),
        requested_by: "alice".into(),
        required_approvals: 1,
        approval_window_ms: 2 * 3_600_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    };
    Operation::new(id.to_owned(), request, now_ms())
}

/// The app's engine on a clock `ahead_ms` ahead of the wall clock.
async fn engine_ahead(test_app: &TestApp, ahead_ms: u64) -> anyhow::Result<Engine> {
    let config = (*test_app.state.config).clone();
    let (_, engine) = rescaler_backend::boot::build(config, "quiet-test".to_owned()).await?;
    let engine = Arc::into_inner(engine).expect("nobody else holds the engine");
    Ok(engine.with_clock(move || now_ms() + ahead_ms))
}

#[tokio::test]
async fn a_quiet_request_is_left_unread_until_someone_acts_on_it() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let records = &test_app.state.records;
    let id = "a".repeat(32);
    records.create_operation(&request(&id)).await?;

    // Just created: read in every pass while the create's wake key is held.
    let now = engine_ahead(&test_app, 0).await?;
    for _ in 0..2 {
        let report = now.pass().await?;
        assert_eq!((report.operations, report.quiet), (1, 0), "{report:?}");
    }
    // Once it is old enough, a pass reads it, finds it quiet and says so; the next passes
    // leave it unread, and ask to be run again no later than its quiet time's end.
    let later = engine_ahead(&test_app, WAKE_HOLD_MS + 1_000).await?;
    let report = later.pass().await?;
    assert_eq!((report.operations, report.quiet), (1, 0), "{report:?}");
    for _ in 0..2 {
        let report = later.pass().await?;
        assert_eq!((report.operations, report.quiet), (1, 1), "{report:?}");
        let next_in = report.next_in.expect("a time to look again").as_millis() as u64;
        assert!(next_in <= QUIET_MAX_MS && next_in > QUIET_MAX_MS - 60_000, "{next_in} ms");
    }
    // Past the longest quiet time, a pass reads it again (and it is quiet once more).
    let much_later = engine_ahead(&test_app, WAKE_HOLD_MS + QUIET_MAX_MS + 2_000).await?;
    assert_eq!(much_later.pass().await?.quiet, 0);
    assert_eq!(much_later.pass().await?.quiet, 1);

    // bob approves through the API: the very next pass reads it and moves it on.
    let (status, body) = test_app.call("POST", &format!("/api/v1/rescales/{id}/approve"), Some("bob-token")).await?;
    assert_eq!(status, 200, "{body}");
    let report = much_later.pass().await?;
    assert_eq!((report.operations, report.quiet), (1, 0), "{report:?}");
    let (approved, _) = records.operation(&id).await?.expect("stored");
    assert_eq!(approved.phase.name(), PhaseName::Approved, "{:?}", approved.events);
    // Approved and waiting for Flink (which never answers here): never quiet.
    assert_eq!(much_later.pass().await?.quiet, 0);

    // Cancelled: the pass that ends it frees the job, and nothing is left under `active/`.
    let (status, body) = test_app.call("POST", &format!("/api/v1/rescales/{id}/cancel"), Some("alice-token")).await?;
    assert_eq!(status, 200, "{body}");
    let report = much_later.pass().await?;
    assert_eq!(report.operations, 1, "{report:?}");
    assert_eq!(records.store().list("active/").await?, Vec::<String>::new());
    assert_eq!(much_later.pass().await?.operations, 0);
    Ok(())
}

#[tokio::test]
async fn a_request_changed_while_a_pass_found_it_quiet_is_read_again() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let records = &test_app.state.records;
    let id = "b".repeat(32);
    records.create_operation(&request(&id)).await?;
    let later = engine_ahead(&test_app, WAKE_HOLD_MS + 1_000).await?;
    later.pass().await?;
    assert_eq!(later.pass().await?.quiet, 1);
    // The approval's wake key is written before its record: a pass between the two reads the
    // old record, and still reads it again afterwards (the wake key is held).
    let (status, _) = test_app.call("POST", &format!("/api/v1/rescales/{id}/approve"), Some("bob-token")).await?;
    assert_eq!(status, 200);
    let soon_after = engine_ahead(&test_app, WAKE_HOLD_MS + 2_000).await?;
    for _ in 0..3 {
        assert_eq!(soon_after.pass().await?.quiet, 0);
    }
    let (approved, _) = records.operation(&id).await?.expect("stored");
    assert_eq!(approved.phase.name(), PhaseName::Approved);
    Ok(())
}
