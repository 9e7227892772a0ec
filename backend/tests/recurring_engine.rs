//! The engine's occurrences on one store, without Flink: two reconcilers passing at once make
//! one request per occurrence; a reconciler that crashed after creating the request (its
//! pending intent left behind) is finished by the next without a second one; a job with an
//! open request skips the occurrence, and says why.

mod common;

use std::sync::Arc;

use common::{JOB, TestApp};
use rescaler_backend::reconcile::{Engine, now_ms};
use rescaler_shared::recurring::{
    CreateSchedule, OccurrenceJob, PendingOccurrence, RecurringSchedule, ScheduleState, Step, occurrence_operation,
    occurrence_operation_id,
};
use rescaler_shared::schedule::{ClockTime, Weekday};

/// An active schedule of alice's, approved by bob, with one step every day at `at_ms`'s second.
fn due_at(id: &str, at_ms: u64) -> RecurringSchedule {
    let step = Step {
        days: Weekday::ALL.to_vec(),
        at: ClockTime(((at_ms / 1000) % 86_400) as u32),
        utc_offset: None,
        time_zone: None,
        target: rescaler_shared::operation::Target::Uniform { parallelism: 2 },
        strategy: rescaler_shared::operation::Strategy::Savepoint,
    };
    let request =
        CreateSchedule { cluster_id: "prod".into(), job_id: JOB.into(), steps: vec![step], reason: "r".into() };
    let terms = common::alices_schedule_terms(id);
    let mut schedule = RecurringSchedule::new(request, terms, at_ms - 120_000);
    schedule.approvals.push(rescaler_shared::operation::Approval {
        by: "bob".into(),
        at_ms: at_ms - 60_000,
        comment: String::new(),
    });
    schedule.state = ScheduleState::Active;
    schedule.active_since_ms = Some(at_ms - 60_000);
    schedule
}

/// Two reconcilers on the app's store.
async fn engines(test_app: &TestApp) -> anyhow::Result<(Arc<Engine>, Arc<Engine>)> {
    let config = (*test_app.state.config).clone();
    let (_, first) = rescaler_backend::boot::build(config.clone(), "reconciler-1".to_owned()).await?;
    let (_, second) = rescaler_backend::boot::build(config, "reconciler-2".to_owned()).await?;
    Ok((first, second))
}

#[tokio::test]
async fn two_reconcilers_make_one_request_per_occurrence_and_a_busy_job_skips_it() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let records = &test_app.state.records;
    let (first, second) = engines(&test_app).await?;
    let at_ms = now_ms() / 1000 * 1000 - 2_000;
    let schedule = due_at(&"a".repeat(32), at_ms);
    records.create_schedule(&schedule).await?;
    let (one, two) = tokio::join!(first.pass(), second.pass());
    one?;
    two?;
    let (stored, _) = records.schedule(&schedule.id).await?.expect("stored");
    let operation_id = occurrence_operation_id(&schedule.id, at_ms);
    assert_eq!(stored.last_occurrence_ms, Some(at_ms), "{:#?}", stored.events);
    assert_eq!(stored.occurrences.len(), 1, "{:#?}", stored.occurrences);
    assert_eq!(stored.occurrences[0].operation_id.as_deref(), Some(operation_id.as_str()));
    let operations = records.all_operations().await?;
    assert_eq!(operations.iter().map(|op| op.id.as_str()).collect::<Vec<_>>(), [operation_id.as_str()]);
    let operation = &operations[0];
    assert_eq!(operation.schedule_id.as_deref(), Some(schedule.id.as_str()));
    assert_eq!((operation.requested_by.as_str(), operation.not_before_ms), ("alice", Some(at_ms)));
    // Passes later change nothing for the occurrence.
    first.pass().await?;
    assert_eq!(records.schedule(&schedule.id).await?.expect("stored").0.occurrences.len(), 1);

    // Another schedule of the same job, due now, while the request above is open: skipped.
    let busy = due_at(&"b".repeat(32), at_ms);
    records.create_schedule(&busy).await?;
    second.pass().await?;
    let (busy, _) = records.schedule(&busy.id).await?.expect("stored");
    let skipped = busy.occurrences[0].skipped.clone().unwrap_or_default();
    assert!(skipped.contains("already has an open rescale request") && skipped.contains(&operation_id), "{skipped}");
    assert!(busy.events.iter().any(|event| event.kind == "occurrence_skipped"), "{:#?}", busy.events);
    assert_eq!(records.all_operations().await?.len(), 1, "no request for a skipped occurrence");
    let (status, answered) =
        test_app.call("GET", &format!("/api/v1/schedules/{}", busy.id), Some("alice-token")).await?;
    assert_eq!(status, 200);
    assert_eq!(answered["occurrences"][0]["skipped"].as_str(), Some(skipped.as_str()), "{answered}");
    Ok(())
}

#[tokio::test]
async fn a_pending_occurrence_whose_request_exists_is_finished_without_a_second() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let records = &test_app.state.records;
    let (_, second) = engines(&test_app).await?;
    let at_ms = now_ms() / 1000 * 1000 - 2_000;
    let mut schedule = due_at(&"c".repeat(32), at_ms);
    let pending = PendingOccurrence {
        at_ms,
        step: 0,
        operation_id: occurrence_operation_id(&schedule.id, at_ms),
        owner: "reconciler-1".into(),
        until_ms: now_ms() + 60_000,
    };
    // reconciler-1 wrote its intent, created the request, then died before recording it.
    schedule.pending = Some(pending.clone());
    let job = OccurrenceJob { job_id: JOB.into(), job_name: "job".into(), artifact: None };
    records.create_operation(&occurrence_operation(&schedule, &pending, job, now_ms())).await?;
    records.create_schedule(&schedule).await?;
    second.pass().await?;
    let (held, version) = records.schedule(&schedule.id).await?.expect("stored");
    assert!(held.pending.is_some() && held.occurrences.is_empty(), "a live lease of another is left alone");
    // Its lease runs out: reconciler-2 takes the intent over and finds the request there.
    let mut expired = held;
    expired.pending = Some(PendingOccurrence { until_ms: now_ms() - 1, ..pending.clone() });
    records.replace_schedule(&expired, &version).await?;
    second.pass().await?;
    let (done, _) = records.schedule(&schedule.id).await?.expect("stored");
    assert!(done.pending.is_none(), "{:#?}", done.events);
    assert_eq!(done.occurrences.len(), 1, "{:#?}", done.occurrences);
    assert_eq!(done.occurrences[0].operation_id.as_deref(), Some(pending.operation_id.as_str()));
    assert_eq!(done.last_occurrence_ms, Some(at_ms));
    assert_eq!(records.all_operations().await?.len(), 1, "the existing request is not made twice");
    Ok(())
}

#[tokio::test]
async fn an_occurrence_missed_by_more_than_the_grace_is_reported_and_not_run() -> anyhow::Result<()> {
    let test_app = TestApp::spawn().await?;
    let records = &test_app.state.records;
    let (first, _) = engines(&test_app).await?;
    // Due 30 minutes ago, active since before it: the reconciler was down through its grace.
    let at_ms = now_ms() / 1000 * 1000 - 30 * 60_000;
    let schedule = due_at(&"e".repeat(32), at_ms);
    records.create_schedule(&schedule).await?;
    first.pass().await?;
    let (stored, _) = records.schedule(&schedule.id).await?.expect("stored");
    assert_eq!(stored.last_occurrence_ms, Some(at_ms), "{:#?}", stored.events);
    let missed = stored.occurrences[0].skipped.clone().unwrap_or_default();
    assert!(missed.contains("missed by more than the grace") && missed.contains("not run late"), "{missed}");
    assert!(stored.events.iter().any(|event| event.kind == "occurrence_missed"));
    assert!(records.all_operations().await?.is_empty(), "no request for a missed occurrence");
    first.pass().await?;
    assert_eq!(records.schedule(&schedule.id).await?.expect("stored").0.occurrences.len(), 1, "reported once");
    Ok(())
}
