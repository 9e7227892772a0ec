//! Table tests of the phase machine: every phase against every observation that matters.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::flink::{JobStatus, ParallelismBounds, RescalePacing, SavepointStatus, TaskStatus};
use rescaler_shared::operation::{
    BreakGlass, Operation, OperationEvent, RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE, ResolvedStrategy,
    STOP_TRIGGER_PURPOSE, Strategy, derive_flink_id, event_kind, location_is_under, savepoint_target,
};
use rescaler_shared::phase::{
    Action, CANCEL_ASK_AGAIN_MS, CheckpointFacts, Decision, FoundSavepoint, Needs, Observation, Phase, PhaseName,
    RollbackPlan, SavepointQuery, SavepointSearch, SavepointSource, apply, decide, needs, restore_budget_ms,
    unavailable_backoff_ms,
};
use support::*;

struct Case {
    name: &'static str,
    operation: Operation,
    observation: Observation,
    expected: &'static str,
}

fn case(name: &'static str, operation: &Operation, observation: Observation, expected: &'static str) -> Case {
    Case { name, operation: operation.clone(), observation, expected }
}

fn run_table(cases: Vec<Case>) {
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let decision = decide(&case.operation, &case.observation);
            let got = summarize(&decision);
            (got != case.expected)
                .then(|| format!("{}: expected `{}`, got `{got}` ({decision:?})", case.name, case.expected))
        })
        .collect();
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

fn unavailable(now_ms: u64) -> Observation {
    Observation { flink_unavailable: Some("connection refused".to_owned()), ..observation(now_ms) }
}

fn with_job(now_ms: u64, job: Option<rescaler_shared::phase::Seen<rescaler_shared::flink::JobView>>) -> Observation {
    Observation { job, ..observation(now_ms) }
}

fn with_new_job(
    now_ms: u64,
    new_job: Option<rescaler_shared::phase::Seen<rescaler_shared::flink::JobView>>,
) -> Observation {
    Observation { new_job, ..observation(now_ms) }
}

fn running_since(id: &str, since_ms: u64) -> rescaler_shared::flink::JobView {
    let mut view = job(id, JobStatus::Running, TARGET_PARALLELISM);
    view.running_since_ms = Some(since_ms);
    view
}

fn restoring(id: &str) -> rescaler_shared::flink::JobView {
    let mut view = job(id, JobStatus::Running, TARGET_PARALLELISM);
    view.vertices[0].status = TaskStatus::Initializing;
    view
}

fn running_mid_rescale(id: &str) -> rescaler_shared::flink::JobView {
    let mut view = job(id, JobStatus::Running, TARGET_PARALLELISM);
    view.vertices[1].status = TaskStatus::Deploying;
    view
}

#[test]
fn awaiting_approval() {
    let waiting = requested(Strategy::Savepoint);
    let mut approved = waiting.clone();
    approved.approvals.push(rescaler_shared::operation::Approval {
        by: "bob@example.com".to_owned(),
        at_ms: CREATED_AT_MS + 10,
        comment: String::new(),
    });
    let mut broken_glass = waiting.clone();
    broken_glass.break_glass =
        Some(BreakGlass { by: "carol@example.com".to_owned(), at_ms: CREATED_AT_MS + 10, reason: "outage".to_owned() });
    let expiry = waiting.expires_at_ms;
    run_table(vec![
        case("no approval yet", &waiting, observation(NOW_MS), "wait"),
        case("approved", &approved, observation(NOW_MS), "transition approved"),
        case("break-glass", &broken_glass, observation(NOW_MS), "transition approved"),
        case("expired", &waiting, observation(expiry), "transition expired"),
        case("well expired", &waiting, observation(expiry + 1), "transition expired"),
        case("approved in time, pass after expiry", &approved, observation(expiry + 1), "transition approved"),
        case("flink unavailable", &waiting, unavailable(NOW_MS), "wait"),
        case("flink unavailable does not stop expiry", &waiting, unavailable(expiry), "transition expired"),
    ]);
}

#[test]
fn awaiting_approval_wait_ends_at_expiry() {
    let waiting = requested(Strategy::Savepoint);
    let decision = decide(&waiting, &observation(waiting.expires_at_ms - 3));
    assert!(matches!(decision, Decision::Wait { requeue_after_ms: 3, .. }), "{decision:?}");
}

#[test]
fn approved() {
    let savepoint = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let mut auto = savepoint.clone();
    auto.requested_strategy = Strategy::Auto;
    let mut in_place = savepoint.clone();
    in_place.requested_strategy = Strategy::InPlace;
    let mut without_artifact = savepoint.clone();
    without_artifact.artifact = None;

    let ready = |view| Observation {
        job: present(view),
        cluster: Some(cluster(4)),
        savepoint_directory: Some("s3://flink/savepoints".to_owned()),
        ..observation(NOW_MS)
    };
    let at_old = job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM);
    run_table(vec![
        case("flink unavailable", &savepoint, unavailable(NOW_MS), "wait"),
        case("job not read", &savepoint, Observation { job: None, ..ready(at_old.clone()) }, "wait"),
        case("cluster not read", &savepoint, Observation { cluster: None, ..ready(at_old.clone()) }, "wait"),
        case("job absent", &savepoint, Observation { job: absent(), ..ready(at_old.clone()) }, "transition failed"),
        case("savepoint strategy", &savepoint, ready(at_old.clone()), "transition stopping"),
        case("auto on default scheduler", &auto, ready(at_old.clone()), "transition stopping"),
        case(
            "auto on adaptive scheduler with checkpointing",
            &auto,
            ready(adaptive(at_old.clone())),
            "transition applying",
        ),
        case(
            "explicit in-place on adaptive scheduler",
            &in_place,
            ready(adaptive(at_old.clone())),
            "transition applying",
        ),
        case("explicit in-place on default scheduler", &in_place, ready(at_old.clone()), "transition failed"),
        case(
            "job restarting",
            &savepoint,
            ready(job(JOB_ID, JobStatus::Restarting, ORIGINAL_PARALLELISM)),
            "transition failed",
        ),
        case(
            "job failed",
            &savepoint,
            ready(job(JOB_ID, JobStatus::Failed, ORIGINAL_PARALLELISM)),
            "transition failed",
        ),
        case(
            "already at target",
            &savepoint,
            ready(job(JOB_ID, JobStatus::Running, TARGET_PARALLELISM)),
            "transition failed",
        ),
        case(
            "not enough slots",
            &savepoint,
            Observation { cluster: Some(cluster(1)), ..ready(at_old.clone()) },
            "transition failed",
        ),
        case(
            "no savepoint directory",
            &savepoint,
            Observation { savepoint_directory: None, ..ready(at_old.clone()) },
            "transition failed",
        ),
        case("no artifact", &without_artifact, ready(at_old.clone()), "transition failed"),
        case(
            "timed out does not matter before execution",
            &savepoint,
            Observation { now_ms: LATE_MS, ..ready(at_old) },
            "transition stopping",
        ),
    ]);
}

#[test]
fn stopping() {
    let trigger_id = derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE);
    let stopping = operation_in(Phase::Stopping { trigger_id: trigger_id.clone() }, ResolvedStrategy::Savepoint);
    let read = |view, savepoint| Observation { job: view, savepoint, ..observation(NOW_MS) };
    let unknown = Some(SavepointStatus::Unknown);
    let in_progress = Some(SavepointStatus::InProgress);
    let failed = Some(SavepointStatus::Failed { cause: "checkpoint declined".to_owned() });
    let running = || present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM));
    let with_status = |status| present(job(JOB_ID, status, ORIGINAL_PARALLELISM));
    run_table(vec![
        case("flink unavailable", &stopping, unavailable(NOW_MS), "wait"),
        case("savepoint not read", &stopping, read(running(), None), "wait"),
        case("job not read", &stopping, read(None, unknown.clone()), "wait"),
        case(
            "unknown trigger, job running",
            &stopping,
            read(running(), unknown.clone()),
            "act stop_with_savepoint then stopping",
        ),
        case(
            "unknown trigger, job restarting",
            &stopping,
            read(with_status(JobStatus::Restarting), unknown.clone()),
            "wait",
        ),
        case(
            "unknown trigger, job finished, not searched yet",
            &stopping,
            read(with_status(JobStatus::Finished), unknown.clone()),
            "wait",
        ),
        case(
            "unknown trigger, job finished, nothing found",
            &stopping,
            searched(read(with_status(JobStatus::Finished), unknown.clone()), vec![]),
            "transition failed",
        ),
        case(
            "unknown trigger, job failed, nothing found",
            &stopping,
            searched(read(with_status(JobStatus::Failed), unknown.clone()), vec![]),
            "transition failed",
        ),
        case("unknown trigger, job absent, not searched", &stopping, read(absent(), unknown.clone()), "wait"),
        case(
            "unknown trigger, job absent, nothing found",
            &stopping,
            searched(read(absent(), unknown.clone()), vec![]),
            "transition failed",
        ),
        case("in progress", &stopping, read(running(), in_progress.clone()), "wait"),
        case(
            "in progress for long",
            &stopping,
            Observation { now_ms: LATE_MS, ..read(running(), in_progress) },
            "wait",
        ),
        case(
            "completed, job finished",
            &stopping,
            read(with_status(JobStatus::Finished), completed_savepoint()),
            "transition restarting",
        ),
        case("completed, job absent", &stopping, read(absent(), completed_savepoint()), "transition restarting"),
        case("completed, job still running", &stopping, read(running(), completed_savepoint()), "wait"),
        case("failed, job running", &stopping, read(running(), failed.clone()), "transition failed"),
        case(
            "failed, job failed",
            &stopping,
            read(with_status(JobStatus::Failed), failed.clone()),
            "transition failed",
        ),
        case("failed, job absent", &stopping, read(absent(), failed.clone()), "transition failed"),
        case(
            "failed, job restarting (a task failed during the savepoint)",
            &stopping,
            read(with_status(JobStatus::Restarting), failed.clone()),
            "wait",
        ),
        case(
            "failed, job restarting past the timeout",
            &stopping,
            Observation { now_ms: LATE_MS, ..read(with_status(JobStatus::Restarting), failed) },
            "transition failed",
        ),
    ]);
}

fn searched(observation: Observation, found: Vec<FoundSavepoint>) -> Observation {
    Observation { found_savepoints: Some(found), ..observation }
}

const SAVEPOINT_DIR: &str = "file:///data/savepoints";

fn found(location: &str, found_in: SavepointSource, taken_at_ms: u64) -> FoundSavepoint {
    FoundSavepoint { location: location.to_owned(), found_in, taken_at_ms: Some(taken_at_ms) }
}

/// Flink forgot the stop trigger (5 minutes after it, or a JobManager restart) while the job
/// stopped: the savepoint is found again where the stop wrote it, and only the stop's own.
#[test]
fn stopping_with_a_forgotten_trigger_finds_the_savepoint_again() {
    let trigger_id = derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE);
    let stopping = operation_in(Phase::Stopping { trigger_id }, ResolvedStrategy::Savepoint);
    let own_dir = savepoint_target(SAVEPOINT_DIR, OPERATION_ID);
    // Flink reports file locations with one slash.
    let own = format!("file:/data/savepoints/{OPERATION_ID}/savepoint-a0a0a0-111111111111");
    let own_later = format!("{own_dir}/savepoint-a0a0a0-222222222222");
    let elsewhere = "file:/data/savepoints/savepoint-a0a0a0-333333333333".to_owned();
    let forgotten = |job, found: Vec<FoundSavepoint>, directory: Option<&str>| Observation {
        job,
        savepoint: Some(SavepointStatus::Unknown),
        savepoint_directory: directory.map(str::to_owned),
        found_savepoints: Some(found),
        ..observation(NOW_MS)
    };
    let finished = || present(job(JOB_ID, JobStatus::Finished, ORIGINAL_PARALLELISM));
    use SavepointSource::{CheckpointHistory, SavepointDirectory};
    let cases: Vec<(&str, Observation, Option<String>)> = vec![
        (
            "in its directory",
            forgotten(finished(), vec![found(&own, SavepointDirectory, NOW_MS)], Some(SAVEPOINT_DIR)),
            Some(own.clone()),
        ),
        (
            "job gone (jobmanager restarted)",
            forgotten(absent(), vec![found(&own, SavepointDirectory, NOW_MS)], Some(SAVEPOINT_DIR)),
            Some(own.clone()),
        ),
        (
            "the newest of two in its directory",
            forgotten(
                finished(),
                vec![found(&own_later, SavepointDirectory, NOW_MS), found(&own, SavepointDirectory, NOW_MS - 10)],
                Some(SAVEPOINT_DIR),
            ),
            Some(own_later.clone()),
        ),
        (
            "in the checkpoint history, under its directory",
            forgotten(finished(), vec![found(&own, CheckpointHistory, NOW_MS)], Some(SAVEPOINT_DIR)),
            Some(own.clone()),
        ),
        (
            "the directory before the history",
            forgotten(
                finished(),
                vec![found(&own, CheckpointHistory, NOW_MS), found(&own_later, SavepointDirectory, NOW_MS - 10)],
                Some(SAVEPOINT_DIR),
            ),
            Some(own_later.clone()),
        ),
        (
            "someone else's savepoint in the history",
            forgotten(finished(), vec![found(&elsewhere, CheckpointHistory, NOW_MS)], Some(SAVEPOINT_DIR)),
            None,
        ),
        (
            "no directory: history after the stop began",
            forgotten(finished(), vec![found(&elsewhere, CheckpointHistory, PHASE_START_MS)], None),
            Some(elsewhere.clone()),
        ),
        (
            "no directory: history before the stop began",
            forgotten(finished(), vec![found(&elsewhere, CheckpointHistory, PHASE_START_MS - 1)], None),
            None,
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, observation, expected) in cases {
        let decision = decide(&stopping, &observation);
        let got = match &decision {
            Decision::Transition { to: Phase::Restarting { savepoint_location, .. }, .. } => {
                Some(savepoint_location.clone())
            }
            Decision::Transition { to: Phase::Failed { .. }, .. } => None,
            other => panic!("{name}: neither restarting nor failed: {other:?}"),
        };
        if got != expected {
            mismatches.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // A job still running is stopped again, into the operation's own directory, and nothing
    // is searched for.
    let running = Observation {
        job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
        savepoint: Some(SavepointStatus::Unknown),
        savepoint_directory: Some(SAVEPOINT_DIR.to_owned()),
        ..observation(NOW_MS)
    };
    let Decision::Act { action: Action::StopWithSavepoint { target_directory, .. }, .. } = decide(&stopping, &running)
    else {
        panic!("a running job is stopped");
    };
    assert_eq!(target_directory.as_deref(), Some(own_dir.as_str()));
    assert!(!SavepointSearch::wanted(running.job.as_ref(), running.savepoint.as_ref()));
    let finished_unknown = forgotten(finished(), vec![], None);
    assert!(SavepointSearch::wanted(finished_unknown.job.as_ref(), finished_unknown.savepoint.as_ref()));
    let completed = Some(SavepointStatus::Completed { location: own.clone() });
    assert!(!SavepointSearch::wanted(finished_unknown.job.as_ref(), completed.as_ref()), "the trigger answered");
}

#[test]
fn savepoint_locations_compare_whatever_the_slashes() {
    assert!(location_is_under("file:/data/sp/op/savepoint-1", "file:///data/sp/op"));
    assert!(location_is_under("file:///data/sp/op/savepoint-1/", "file:/data/sp/op/"));
    assert!(location_is_under("s3://bucket/sp/op/savepoint-1", "s3://bucket/sp/op"));
    assert!(!location_is_under("s3://bucket/sp/op-2/savepoint-1", "s3://bucket/sp/op"));
    assert!(!location_is_under("s3://other/sp/op/savepoint-1", "s3://bucket/sp/op"));
    assert_eq!(savepoint_target("s3://bucket/sp/", OPERATION_ID), format!("s3://bucket/sp/{OPERATION_ID}"));
}

#[test]
fn restarting() {
    let restarting = operation_in(
        Phase::Restarting {
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            new_job_id: NEW_JOB_ID.to_owned(),
            since_ms: PHASE_START_MS,
        },
        ResolvedStrategy::Savepoint,
    );
    let read = |now_ms, original, new| Observation { job: original, new_job: new, ..observation(now_ms) };
    let finished = || present(job(JOB_ID, JobStatus::Finished, ORIGINAL_PARALLELISM));
    run_table(vec![
        case("flink unavailable", &restarting, unavailable(NOW_MS), "wait"),
        case("new job not read", &restarting, read(NOW_MS, finished(), None), "wait"),
        case("original job not read", &restarting, read(NOW_MS, None, absent()), "wait"),
        case("new job absent", &restarting, read(NOW_MS, finished(), absent()), "act submit_job then verifying"),
        case(
            "new job absent, original job gone",
            &restarting,
            read(NOW_MS, absent(), absent()),
            "act submit_job then verifying",
        ),
        case(
            "new job already submitted",
            &restarting,
            read(NOW_MS, finished(), present(job(NEW_JOB_ID, JobStatus::Initializing, TARGET_PARALLELISM))),
            "transition verifying",
        ),
        case(
            "new job already failed",
            &restarting,
            read(NOW_MS, finished(), present(job(NEW_JOB_ID, JobStatus::Failed, TARGET_PARALLELISM))),
            "transition verifying",
        ),
        case(
            "original job running again",
            &restarting,
            read(NOW_MS, present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)), absent()),
            "transition failed",
        ),
        case("submission timed out", &restarting, read(LATE_MS, finished(), absent()), "transition rolling_back"),
        case("flink unavailable past timeout", &restarting, unavailable(LATE_MS), "wait"),
    ]);
}

#[test]
fn applying() {
    let applying = operation_in(Phase::Applying { since_ms: PHASE_START_MS }, ResolvedStrategy::InPlace);
    let with_status = |now_ms, status| with_job(now_ms, present(adaptive(job(JOB_ID, status, ORIGINAL_PARALLELISM))));
    run_table(vec![
        case("flink unavailable", &applying, unavailable(NOW_MS), "wait"),
        case("job not read", &applying, observation(NOW_MS), "wait"),
        case(
            "job running at old",
            &applying,
            with_status(NOW_MS, JobStatus::Running),
            "act put_resource_requirements then verifying",
        ),
        case(
            "job restarting (requirements sent before a crash)",
            &applying,
            with_status(NOW_MS, JobStatus::Restarting),
            "act put_resource_requirements then verifying",
        ),
        case(
            "job running at target (requirements sent before a crash)",
            &applying,
            with_job(NOW_MS, present(adaptive(job(JOB_ID, JobStatus::Running, TARGET_PARALLELISM)))),
            "act put_resource_requirements then verifying",
        ),
        case("job absent", &applying, with_job(NOW_MS, absent()), "transition failed"),
        case("job failed", &applying, with_status(NOW_MS, JobStatus::Failed), "transition failed"),
        case(
            "requirements not sent in time",
            &applying,
            with_status(LATE_MS, JobStatus::Running),
            "transition rolling_back",
        ),
    ]);
}

#[test]
fn verifying_savepoint_strategy() {
    let verifying = operation_in(
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        ResolvedStrategy::Savepoint,
    );
    let mut without_savepoint = verifying.clone();
    without_savepoint.savepoint = None;
    let new_job = |status, uniform| present(job(NEW_JOB_ID, status, uniform));
    run_table(vec![
        case("flink unavailable", &verifying, unavailable(NOW_MS), "wait"),
        case("flink unavailable past timeout", &verifying, unavailable(LATE_MS), "wait"),
        case("new job not read", &verifying, with_job(NOW_MS, absent()), "wait"),
        case(
            "running at target",
            &verifying,
            with_new_job(NOW_MS, new_job(JobStatus::Running, TARGET_PARALLELISM)),
            "transition completed",
        ),
        case(
            "running at target past timeout",
            &verifying,
            with_new_job(LATE_MS, new_job(JobStatus::Running, TARGET_PARALLELISM)),
            "transition completed",
        ),
        case(
            "running at old",
            &verifying,
            with_new_job(NOW_MS, new_job(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "wait",
        ),
        case(
            "restarting: the restored job failed",
            &verifying,
            with_new_job(NOW_MS, new_job(JobStatus::Restarting, TARGET_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "failing",
            &verifying,
            with_new_job(NOW_MS, new_job(JobStatus::Failing, TARGET_PARALLELISM)),
            "transition rolling_back",
        ),
        case("restoring state", &verifying, with_new_job(NOW_MS, present(restoring(NEW_JOB_ID))), "wait"),
        case(
            "at target, running for less than the stable window",
            &verifying,
            with_new_job(NOW_MS, present(running_since(NEW_JOB_ID, NOW_MS - verifying.stable_for_ms + 1))),
            "wait",
        ),
        case(
            "at target, running for the stable window",
            &verifying,
            with_new_job(NOW_MS, present(running_since(NEW_JOB_ID, NOW_MS - verifying.stable_for_ms))),
            "transition completed",
        ),
        case(
            "still restoring past the budget",
            &verifying,
            with_new_job(LATE_MS, present(restoring(NEW_JOB_ID))),
            "transition rolling_back",
        ),
        case(
            "vertices still deploying",
            &verifying,
            with_new_job(NOW_MS, present(running_mid_rescale(NEW_JOB_ID))),
            "wait",
        ),
        case(
            "failed",
            &verifying,
            with_new_job(NOW_MS, new_job(JobStatus::Failed, TARGET_PARALLELISM)),
            "transition rolling_back",
        ),
        case("absent", &verifying, with_new_job(NOW_MS, absent()), "transition rolling_back"),
        case(
            "timed out at old",
            &verifying,
            with_new_job(LATE_MS, new_job(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "timed out restarting",
            &verifying,
            with_new_job(LATE_MS, new_job(JobStatus::Restarting, TARGET_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "failed with no savepoint recorded",
            &without_savepoint,
            with_new_job(NOW_MS, new_job(JobStatus::Failed, TARGET_PARALLELISM)),
            "transition failed",
        ),
    ]);
}

#[test]
fn verifying_in_place() {
    let verifying = operation_in(
        Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        ResolvedStrategy::InPlace,
    );
    let original = |status, uniform| present(adaptive(job(JOB_ID, status, uniform)));
    run_table(vec![
        case("flink unavailable", &verifying, unavailable(NOW_MS), "wait"),
        case("flink unavailable past timeout", &verifying, unavailable(LATE_MS), "wait"),
        case("job not read", &verifying, with_new_job(NOW_MS, absent()), "wait"),
        case(
            "running at target",
            &verifying,
            with_job(NOW_MS, original(JobStatus::Running, TARGET_PARALLELISM)),
            "transition completed",
        ),
        case(
            "running at old",
            &verifying,
            with_job(NOW_MS, original(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "wait",
        ),
        case("restarting", &verifying, with_job(NOW_MS, original(JobStatus::Restarting, TARGET_PARALLELISM)), "wait"),
        case(
            "vertices still deploying",
            &verifying,
            with_job(NOW_MS, present(adaptive(running_mid_rescale(JOB_ID)))),
            "wait",
        ),
        case(
            "timed out at old",
            &verifying,
            with_job(LATE_MS, original(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "timed out restarting",
            &verifying,
            with_job(LATE_MS, original(JobStatus::Restarting, ORIGINAL_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "failed: nothing to roll back in place",
            &verifying,
            with_job(NOW_MS, original(JobStatus::Failed, TARGET_PARALLELISM)),
            "transition failed",
        ),
        case("absent", &verifying, with_job(NOW_MS, absent()), "transition failed"),
    ]);
}

fn resubmit_rollback(submitted_at_ms: Option<u64>) -> Operation {
    operation_in(
        Phase::RollingBack {
            reason: "new job failed".to_owned(),
            rollback: RollbackPlan::Resubmit {
                failed_job_id: NEW_JOB_ID.to_owned(),
                savepoint_location: SAVEPOINT_LOCATION.to_owned(),
                rollback_job_id: ROLLBACK_JOB_ID.to_owned(),
                since_ms: PHASE_START_MS,
                submitted_at_ms,
            },
        },
        ResolvedStrategy::Savepoint,
    )
}

#[test]
fn rolling_back_by_resubmit_before_submission() {
    let rolling_back = resubmit_rollback(None);
    let mut cancel_asked = resubmit_rollback(None);
    cancel_asked.events.push(OperationEvent::by_system(NOW_MS - 1, event_kind::CANCEL_REQUESTED, "cancelling"));
    let read =
        |now_ms, failed, rollback| Observation { new_job: failed, rollback_job: rollback, ..observation(now_ms) };
    let failed_job = |status| present(job(NEW_JOB_ID, status, TARGET_PARALLELISM));
    let rollback_job = |status, uniform| present(job(ROLLBACK_JOB_ID, status, uniform));
    run_table(vec![
        case("flink unavailable", &rolling_back, unavailable(NOW_MS), "wait"),
        case("flink unavailable past timeout", &rolling_back, unavailable(LATE_MS), "wait"),
        case("rollback job not read", &rolling_back, read(NOW_MS, failed_job(JobStatus::Canceled), None), "wait"),
        case("failed job not read", &rolling_back, read(NOW_MS, None, absent()), "wait"),
        case(
            "failed job running",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Running), absent()),
            "act cancel_job then rolling_back",
        ),
        case(
            "failed job restarting",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Restarting), absent()),
            "act cancel_job then rolling_back",
        ),
        case("failed job cancelling", &rolling_back, read(NOW_MS, failed_job(JobStatus::Cancelling), absent()), "wait"),
        // Asked a moment ago and still shown restarting: wait, not a second cancel and event.
        case(
            "failed job still restarting after the cancel",
            &cancel_asked,
            read(NOW_MS, failed_job(JobStatus::Restarting), absent()),
            "wait",
        ),
        case(
            "failed job still restarting long after the cancel",
            &cancel_asked,
            read(NOW_MS + CANCEL_ASK_AGAIN_MS, failed_job(JobStatus::Restarting), absent()),
            "act cancel_job then rolling_back",
        ),
        case(
            "failed job canceled",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Canceled), absent()),
            "act submit_job then rolling_back",
        ),
        case(
            "failed job failed",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Failed), absent()),
            "act submit_job then rolling_back",
        ),
        case("failed job absent", &rolling_back, read(NOW_MS, absent(), absent()), "act submit_job then rolling_back"),
        case(
            "failed job does not stop in time",
            &rolling_back,
            read(LATE_MS, failed_job(JobStatus::Running), absent()),
            "transition failed",
        ),
        case(
            "rollback job not submitted in time",
            &rolling_back,
            read(LATE_MS, failed_job(JobStatus::Canceled), absent()),
            "transition failed",
        ),
        case(
            "rollback job found running at original (submitted before a crash)",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Canceled), rollback_job(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "transition rolled_back",
        ),
        case(
            "rollback job found starting (submitted before a crash)",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Canceled), rollback_job(JobStatus::Initializing, ORIGINAL_PARALLELISM)),
            "transition rolling_back",
        ),
        case(
            "rollback job found failed",
            &rolling_back,
            read(NOW_MS, failed_job(JobStatus::Canceled), rollback_job(JobStatus::Failed, ORIGINAL_PARALLELISM)),
            "transition failed",
        ),
    ]);
}

#[test]
fn rolling_back_by_resubmit_after_submission() {
    let submitted_at_ms = PHASE_START_MS + 1_000;
    let rolling_back = resubmit_rollback(Some(submitted_at_ms));
    let after_timeout = submitted_at_ms + VERIFY_TIMEOUT_MS + 1;
    let read = |now_ms, rollback| Observation {
        new_job: present(job(NEW_JOB_ID, JobStatus::Canceled, TARGET_PARALLELISM)),
        rollback_job: rollback,
        ..observation(now_ms)
    };
    let rollback_job = |status, uniform| present(job(ROLLBACK_JOB_ID, status, uniform));
    run_table(vec![
        case("flink unavailable", &rolling_back, unavailable(NOW_MS), "wait"),
        case("rollback job not read", &rolling_back, read(NOW_MS, None), "wait"),
        case(
            "running at original",
            &rolling_back,
            read(NOW_MS, rollback_job(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "transition rolled_back",
        ),
        case(
            "running at target",
            &rolling_back,
            read(NOW_MS, rollback_job(JobStatus::Running, TARGET_PARALLELISM)),
            "wait",
        ),
        case(
            "restarting",
            &rolling_back,
            read(NOW_MS, rollback_job(JobStatus::Restarting, ORIGINAL_PARALLELISM)),
            "wait",
        ),
        case(
            "failed",
            &rolling_back,
            read(NOW_MS, rollback_job(JobStatus::Failed, ORIGINAL_PARALLELISM)),
            "transition failed",
        ),
        case("absent", &rolling_back, read(NOW_MS, absent()), "transition failed"),
        case(
            "the rollback clock starts at submission",
            &rolling_back,
            read(LATE_MS, rollback_job(JobStatus::Restarting, ORIGINAL_PARALLELISM)),
            "wait",
        ),
        case(
            "timed out",
            &rolling_back,
            read(after_timeout, rollback_job(JobStatus::Restarting, ORIGINAL_PARALLELISM)),
            "transition failed",
        ),
        case(
            "running at original past timeout",
            &rolling_back,
            read(after_timeout, rollback_job(JobStatus::Running, ORIGINAL_PARALLELISM)),
            "transition rolled_back",
        ),
    ]);
}

fn in_place_rollback(requirements_sent_at_ms: Option<u64>) -> Operation {
    operation_in(
        Phase::RollingBack {
            reason: "job did not rescale".to_owned(),
            rollback: RollbackPlan::InPlace { since_ms: PHASE_START_MS, requirements_sent_at_ms },
        },
        ResolvedStrategy::InPlace,
    )
}

#[test]
fn rolling_back_in_place() {
    let sent_at_ms = PHASE_START_MS + 1_000;
    let not_sent = in_place_rollback(None);
    let sent = in_place_rollback(Some(sent_at_ms));
    let after_timeout = sent_at_ms + VERIFY_TIMEOUT_MS + 1;
    let original = |now_ms, status, uniform| with_job(now_ms, present(adaptive(job(JOB_ID, status, uniform))));
    run_table(vec![
        case("not sent, flink unavailable", &not_sent, unavailable(NOW_MS), "wait"),
        case("not sent, job not read", &not_sent, observation(NOW_MS), "wait"),
        case(
            "not sent, job at target",
            &not_sent,
            original(NOW_MS, JobStatus::Running, TARGET_PARALLELISM),
            "act put_resource_requirements then rolling_back",
        ),
        case(
            "not sent, job restarting",
            &not_sent,
            original(NOW_MS, JobStatus::Restarting, TARGET_PARALLELISM),
            "act put_resource_requirements then rolling_back",
        ),
        case(
            "not sent, job already at original: requirements still reset",
            &not_sent,
            original(NOW_MS, JobStatus::Running, ORIGINAL_PARALLELISM),
            "act put_resource_requirements then rolling_back",
        ),
        case(
            "not sent in time",
            &not_sent,
            original(LATE_MS, JobStatus::Running, TARGET_PARALLELISM),
            "transition failed",
        ),
        case("not sent, job absent", &not_sent, with_job(NOW_MS, absent()), "transition failed"),
        case(
            "not sent, job failed",
            &not_sent,
            original(NOW_MS, JobStatus::Failed, TARGET_PARALLELISM),
            "transition failed",
        ),
        case("sent, flink unavailable", &sent, unavailable(after_timeout), "wait"),
        case(
            "sent, job at original",
            &sent,
            original(NOW_MS, JobStatus::Running, ORIGINAL_PARALLELISM),
            "transition rolled_back",
        ),
        case("sent, job still at target", &sent, original(NOW_MS, JobStatus::Running, TARGET_PARALLELISM), "wait"),
        case("sent, job restarting", &sent, original(NOW_MS, JobStatus::Restarting, ORIGINAL_PARALLELISM), "wait"),
        case(
            "sent, the clock starts at sending",
            &sent,
            original(LATE_MS, JobStatus::Restarting, ORIGINAL_PARALLELISM),
            "wait",
        ),
        case(
            "sent, timed out",
            &sent,
            original(after_timeout, JobStatus::Running, TARGET_PARALLELISM),
            "transition failed",
        ),
        case("sent, job absent", &sent, with_job(NOW_MS, absent()), "transition failed"),
        case("sent, job failed", &sent, original(NOW_MS, JobStatus::Failed, ORIGINAL_PARALLELISM), "transition failed"),
    ]);
}

#[test]
fn terminal_phases_are_done() {
    let terminal_phases = [
        Phase::Completed,
        Phase::RolledBack { reason: "r".to_owned() },
        Phase::Failed { reason: "r".to_owned() },
        Phase::Rejected { by: "bob".to_owned(), comment: String::new() },
        Phase::Cancelled { by: "alice".to_owned(), comment: String::new() },
        Phase::Expired,
    ];
    let mut cases = Vec::new();
    for phase in terminal_phases {
        let operation = operation_in(phase, ResolvedStrategy::Savepoint);
        cases.push(case("terminal", &operation, observation(NOW_MS), "done"));
        cases.push(case("terminal, flink unavailable", &operation, unavailable(LATE_MS), "done"));
        cases.push(case(
            "terminal, job failed",
            &operation,
            with_job(NOW_MS, present(job(JOB_ID, JobStatus::Failed, 2))),
            "done",
        ));
    }
    run_table(cases);
}

#[test]
fn flink_unavailable_never_moves_an_active_phase() {
    let active_phases = [
        Phase::Approved,
        Phase::Stopping { trigger_id: "t".to_owned() },
        Phase::Restarting {
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            new_job_id: NEW_JOB_ID.to_owned(),
            since_ms: PHASE_START_MS,
        },
        Phase::Applying { since_ms: PHASE_START_MS },
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        resubmit_rollback(None).phase,
        in_place_rollback(None).phase,
    ];
    for phase in active_phases {
        let name = phase.name();
        let operation = operation_in(phase, ResolvedStrategy::Savepoint);
        assert!(operation.is_active(), "{name}");
        let observation = Observation {
            // Even with every observation present and long past every timeout.
            job: present(job(JOB_ID, JobStatus::Failed, 2)),
            new_job: absent(),
            rollback_job: absent(),
            savepoint: Some(SavepointStatus::Unknown),
            cluster: Some(cluster(8)),
            flink_unavailable: Some("502 bad gateway".to_owned()),
            unavailable_streak: 3,
            ..observation(LATE_MS * 10)
        };
        let decision = decide(&operation, &observation);
        assert_eq!(
            decision,
            Decision::Wait { requeue_after_ms: 8_000, why: "flink is unavailable: 502 bad gateway".to_owned() },
            "{name}"
        );
    }
}

#[test]
fn unavailable_backoff_doubles_up_to_a_minute() {
    assert_eq!(unavailable_backoff_ms(0), 1_000);
    assert_eq!(unavailable_backoff_ms(1), 2_000);
    assert_eq!(unavailable_backoff_ms(5), 32_000);
    assert_eq!(unavailable_backoff_ms(6), 60_000);
    assert_eq!(unavailable_backoff_ms(u32::MAX), 60_000);
}

#[test]
fn actions_carry_derived_ids_and_the_right_parallelism() {
    let trigger_id = derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE);
    let restart_job_id = derive_flink_id(OPERATION_ID, RESTART_JOB_PURPOSE);
    let rollback_job_id = derive_flink_id(OPERATION_ID, ROLLBACK_JOB_PURPOSE);

    // Approved → Stopping picks the derived trigger id and carries the plan.
    let approved = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let decision = decide(
        &approved,
        &Observation {
            job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
            cluster: Some(cluster(4)),
            savepoint_directory: Some("s3://flink/savepoints".to_owned()),
            ..observation(NOW_MS)
        },
    );
    let Decision::Transition { to, plan, .. } = decision else {
        panic!("expected a transition, got {decision:?}");
    };
    assert_eq!(to, Phase::Stopping { trigger_id: trigger_id.clone() });
    let plan = plan.expect("a plan when execution starts");
    assert_eq!(plan.strategy, ResolvedStrategy::Savepoint);
    assert_eq!(plan.original, parallelism(ORIGINAL_PARALLELISM));
    assert_eq!(plan.target, parallelism(TARGET_PARALLELISM));

    // Stopping → the stop call uses the recorded trigger id on the original job.
    let stopping = operation_in(Phase::Stopping { trigger_id: trigger_id.clone() }, ResolvedStrategy::Savepoint);
    let decision = decide(
        &stopping,
        &Observation {
            job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
            savepoint: Some(SavepointStatus::Unknown),
            ..observation(NOW_MS)
        },
    );
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    assert_eq!(
        action,
        Action::StopWithSavepoint { job_id: JOB_ID.to_owned(), trigger_id: trigger_id.clone(), target_directory: None }
    );
    assert_eq!(then, stopping.phase);

    // Stopping → Restarting under the derived restart job id.
    let decision = decide(
        &stopping,
        &Observation {
            job: present(job(JOB_ID, JobStatus::Finished, ORIGINAL_PARALLELISM)),
            savepoint: completed_savepoint(),
            ..observation(NOW_MS)
        },
    );
    let Decision::Transition { to, .. } = decision else {
        panic!("expected a transition, got {decision:?}");
    };
    assert_eq!(
        to,
        Phase::Restarting {
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            new_job_id: restart_job_id.clone(),
            since_ms: NOW_MS
        }
    );

    // Restarting → submit at the target parallelism from the savepoint.
    let restarting = operation_in(to, ResolvedStrategy::Savepoint);
    let decision = decide(
        &restarting,
        &Observation {
            job: present(job(JOB_ID, JobStatus::Finished, ORIGINAL_PARALLELISM)),
            new_job: absent(),
            ..observation(NOW_MS)
        },
    );
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    assert_eq!(
        action,
        Action::SubmitJob {
            job_id: restart_job_id.clone(),
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            parallelism: parallelism(TARGET_PARALLELISM)
        }
    );
    assert_eq!(then, Phase::Verifying { job_id: restart_job_id.clone(), since_ms: NOW_MS });

    // Verifying fails → the rollback resubmits under the derived rollback job id.
    let verifying = operation_in(then, ResolvedStrategy::Savepoint);
    let decision = decide(
        &verifying,
        &Observation {
            new_job: present(job(&restart_job_id, JobStatus::Failed, TARGET_PARALLELISM)),
            ..observation(NOW_MS)
        },
    );
    let Decision::Transition { to: Phase::RollingBack { rollback, .. }, .. } = decision else {
        panic!("expected a rollback, got {decision:?}");
    };
    assert_eq!(
        rollback,
        RollbackPlan::Resubmit {
            failed_job_id: restart_job_id.clone(),
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            rollback_job_id: rollback_job_id.clone(),
            since_ms: NOW_MS,
            submitted_at_ms: None
        }
    );

    // The failed job is alive: cancel it first.
    let rolling_back = operation_in(
        Phase::RollingBack { reason: "r".to_owned(), rollback: rollback.clone() },
        ResolvedStrategy::Savepoint,
    );
    let decision = decide(
        &rolling_back,
        &Observation {
            new_job: present(job(&restart_job_id, JobStatus::Restarting, TARGET_PARALLELISM)),
            rollback_job: absent(),
            ..observation(NOW_MS)
        },
    );
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    assert_eq!(action, Action::CancelJob { job_id: restart_job_id.clone() });
    assert_eq!(then, rolling_back.phase);

    // The failed job stopped: submit the rollback job at the original parallelism.
    let decision = decide(
        &rolling_back,
        &Observation {
            new_job: present(job(&restart_job_id, JobStatus::Canceled, TARGET_PARALLELISM)),
            rollback_job: absent(),
            ..observation(NOW_MS + 7)
        },
    );
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    assert_eq!(
        action,
        Action::SubmitJob {
            job_id: rollback_job_id.clone(),
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            parallelism: parallelism(ORIGINAL_PARALLELISM)
        }
    );
    let Phase::RollingBack { rollback: RollbackPlan::Resubmit { submitted_at_ms, .. }, .. } = then else {
        panic!("expected a resubmit rollback, got {then:?}");
    };
    assert_eq!(submitted_at_ms, Some(NOW_MS + 7));
}

fn up_to(upper: u32) -> BTreeMap<String, ParallelismBounds> {
    parallelism(upper).into_iter().map(|(vertex, upper)| (vertex, ParallelismBounds::up_to(upper))).collect()
}

#[test]
fn in_place_keeps_the_lower_bound_and_waits_for_flinks_cooldown() {
    let applying = operation_in(Phase::Applying { since_ms: PHASE_START_MS }, ResolvedStrategy::InPlace);
    let mut paced = adaptive(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM));
    paced.running_since_ms = Some(NOW_MS - 10_000);
    paced.rescale_pacing = Some(RescalePacing {
        cooldown_ms: 30_000,
        cooldown_key: Some("jobmanager.adaptive-scheduler.scaling-interval.min".to_owned()),
        stabilization_ms: None,
    });
    let mut observation = with_job(NOW_MS, present(paced));
    // A lower bound set above the target is lowered to it; one below it stays.
    observation.requirements = Some(BTreeMap::from([
        (SOURCE_VERTEX.to_owned(), ParallelismBounds { lower: 2, upper: 2 }),
        (SINK_VERTEX.to_owned(), ParallelismBounds { lower: 6, upper: 6 }),
    ]));
    let Decision::Act { action, then, event } = decide(&applying, &observation) else {
        panic!("expected an action");
    };
    let bounds = BTreeMap::from([
        (SOURCE_VERTEX.to_owned(), ParallelismBounds { lower: 2, upper: TARGET_PARALLELISM }),
        (SINK_VERTEX.to_owned(), ParallelismBounds { lower: TARGET_PARALLELISM, upper: TARGET_PARALLELISM }),
    ]);
    assert_eq!(action, Action::PutResourceRequirements { job_id: JOB_ID.to_owned(), bounds });
    // The verification's clock starts when Flink's cooldown ends, 20 s from now.
    assert_eq!(then, Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: NOW_MS + 20_000 });
    assert!(event.message.contains("[2, 4]") && event.message.contains("in about 20 s"), "{}", event.message);

    let verifying = operation_in(then, ResolvedStrategy::InPlace);
    let still_old = with_job(NOW_MS + 1_000, present(adaptive(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM))));
    let Decision::Wait { why, .. } = decide(&verifying, &still_old) else {
        panic!("expected a wait");
    };
    assert!(why.contains("cooldown, in about 19 s"), "{why}");
    // Past the cooldown the usual verification timeout applies, counted from there.
    let late = with_job(
        NOW_MS + 20_000 + VERIFY_TIMEOUT_MS + 1,
        present(adaptive(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM))),
    );
    assert!(matches!(decide(&verifying, &late), Decision::Transition { to: Phase::RollingBack { .. }, .. }));
}

#[test]
fn in_place_actions_put_target_then_original_requirements() {
    let applying = operation_in(Phase::Applying { since_ms: PHASE_START_MS }, ResolvedStrategy::InPlace);
    let decision = decide(&applying, &with_job(NOW_MS, present(adaptive(job(JOB_ID, JobStatus::Running, 2)))));
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    // Bounds not read: lower bound 1 (FLINK-34311), upper bound the target.
    assert_eq!(
        action,
        Action::PutResourceRequirements { job_id: JOB_ID.to_owned(), bounds: up_to(TARGET_PARALLELISM) }
    );
    assert_eq!(then, Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: NOW_MS });

    let rolling_back = in_place_rollback(None);
    let decision = decide(&rolling_back, &with_job(NOW_MS, present(adaptive(job(JOB_ID, JobStatus::Running, 4)))));
    let Decision::Act { action, then, .. } = decision else {
        panic!("expected an action, got {decision:?}");
    };
    assert_eq!(
        action,
        Action::PutResourceRequirements { job_id: JOB_ID.to_owned(), bounds: up_to(ORIGINAL_PARALLELISM) }
    );
    assert_eq!(
        then,
        Phase::RollingBack {
            reason: "job did not rescale".to_owned(),
            rollback: RollbackPlan::InPlace { since_ms: PHASE_START_MS, requirements_sent_at_ms: Some(NOW_MS) }
        }
    );
}

#[test]
fn a_repeated_pass_decides_the_same_action() {
    // A crash between the action and the write leaves the record as it was: the next pass
    // must ask Flink for exactly the same thing.
    let stopping = operation_in(
        Phase::Stopping { trigger_id: derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE) },
        ResolvedStrategy::Savepoint,
    );
    let observation = Observation {
        job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
        savepoint: Some(SavepointStatus::Unknown),
        ..observation(NOW_MS)
    };
    let first = decide(&stopping, &observation);
    let retry = decide(&stopping, &Observation { now_ms: NOW_MS + 30_000, ..observation });
    let action = |decision: &Decision| match decision {
        Decision::Act { action, .. } => Some(action.clone()),
        _ => None,
    };
    assert!(action(&first).is_some());
    assert_eq!(action(&first), action(&retry));
}

#[test]
fn needs_follow_the_phase() {
    let trigger_id = derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE);
    let job_only = Needs { job: true, ..Needs::default() };
    let expectations = [
        (requested(Strategy::Auto), Needs::default()),
        (
            operation_in(Phase::Approved, ResolvedStrategy::Savepoint),
            Needs { job: true, cluster: true, ..Needs::default() },
        ),
        (
            operation_in(Phase::Stopping { trigger_id: trigger_id.clone() }, ResolvedStrategy::Savepoint),
            Needs {
                job: true,
                savepoint: Some(SavepointQuery { job_id: JOB_ID.to_owned(), trigger_id }),
                savepoint_search: Some(SavepointSearch {
                    job_id: JOB_ID.to_owned(),
                    operation_id: OPERATION_ID.to_owned(),
                }),
                ..Needs::default()
            },
        ),
        (
            operation_in(
                Phase::Restarting {
                    savepoint_location: SAVEPOINT_LOCATION.to_owned(),
                    new_job_id: NEW_JOB_ID.to_owned(),
                    since_ms: 0,
                },
                ResolvedStrategy::Savepoint,
            ),
            Needs { job: true, new_job: Some(NEW_JOB_ID.to_owned()), ..Needs::default() },
        ),
        (
            operation_in(Phase::Applying { since_ms: 0 }, ResolvedStrategy::InPlace),
            Needs { job: true, requirements: true, ..Needs::default() },
        ),
        (
            operation_in(Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: 0 }, ResolvedStrategy::Savepoint),
            Needs { new_job: Some(NEW_JOB_ID.to_owned()), ..Needs::default() },
        ),
        (
            operation_in(Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: 0 }, ResolvedStrategy::InPlace),
            job_only.clone(),
        ),
        (
            resubmit_rollback(None),
            Needs {
                new_job: Some(NEW_JOB_ID.to_owned()),
                rollback_job: Some(ROLLBACK_JOB_ID.to_owned()),
                ..Needs::default()
            },
        ),
        (in_place_rollback(None), Needs { job: true, requirements: true, ..Needs::default() }),
        (in_place_rollback(Some(1)), job_only),
        (operation_in(Phase::Completed, ResolvedStrategy::Savepoint), Needs::default()),
        (operation_in(Phase::Expired, ResolvedStrategy::Savepoint), Needs::default()),
    ];
    for (operation, expected) in expectations {
        assert_eq!(needs(&operation), expected, "{}", operation.phase.name());
    }
    assert!(needs(&requested(Strategy::Auto)).is_nothing());
}

#[test]
fn every_phase_name_is_covered() {
    // The tables above (and `msf_path.rs` for snapshotting and updating) cover every phase; keep this list in step with PhaseName::ALL.
    let covered = [
        PhaseName::AwaitingApproval,
        PhaseName::Approved,
        PhaseName::Stopping,
        PhaseName::Restarting,
        PhaseName::Applying,
        PhaseName::Snapshotting,
        PhaseName::Updating,
        PhaseName::Verifying,
        PhaseName::RollingBack,
        PhaseName::Completed,
        PhaseName::RolledBack,
        PhaseName::Failed,
        PhaseName::Rejected,
        PhaseName::Cancelled,
        PhaseName::Expired,
    ];
    assert_eq!(covered, PhaseName::ALL);
}

/// Execution starts with a wait sized to the job's state: a large checkpoint gives the
/// restarted job longer than the configured timeout, a small one keeps it.
#[test]
fn the_verify_timeout_grows_with_the_latest_checkpoint() {
    let approved = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    let start = |checkpoint| Observation {
        job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
        cluster: Some(cluster(4)),
        savepoint_directory: Some("s3://flink/savepoints".to_owned()),
        latest_checkpoint: checkpoint,
        ..observation(NOW_MS)
    };
    let large = CheckpointFacts { size_bytes: 20 * 1024 * 1024 * 1024, duration_ms: 90_000 };
    for (checkpoint, expected) in [
        (None, VERIFY_TIMEOUT_MS),
        // A minute of start-up, three checkpoint durations, and the state read at 25 MiB/s.
        (Some(CheckpointFacts { size_bytes: 1_000, duration_ms: 50 }), 60_000 + 150),
        (Some(large), 60_000 + 270_000 + 819_200),
    ] {
        let decision = decide(&approved, &start(checkpoint));
        let mut operation = approved.clone();
        apply(&mut operation, &decision, NOW_MS);
        assert_eq!(operation.verify_timeout_ms, expected, "{checkpoint:?}: {:?}", operation.events.last());
    }
    assert!(restore_budget_ms(VERIFY_TIMEOUT_MS, Some(&large)) > 10 * VERIFY_TIMEOUT_MS);
}
