//! Tests of the operation record: derived Flink ids, phase spans, `apply`, user actions, JSON.

mod support;

use std::collections::BTreeSet;

use rescaler_shared::flink::{JobStatus, SavepointStatus};
use rescaler_shared::operation::{
    Operation, RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE, ResolvedStrategy, STOP_TRIGGER_PURPOSE, Strategy, Target,
    derive_flink_id, event_kind, is_flink_id,
};
use rescaler_shared::phase::{Decision, Observation, Phase, PhaseName, RollbackPlan, apply, decide};
use rescaler_shared::user_action::{ActionRefused, approve, break_glass, cancel, reject};
use support::*;

// ---------------------------------------------------------------------------------------------
// derive_flink_id

#[test]
fn derived_ids_look_like_flink_ids() {
    for purpose in [STOP_TRIGGER_PURPOSE, RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE] {
        let id = derive_flink_id(OPERATION_ID, purpose);
        assert!(is_flink_id(&id), "{id}");
    }
    assert!(is_flink_id(&derive_flink_id("", "")));
}

#[test]
fn derived_ids_are_stable() {
    // Records in flight depend on these: a changed derivation would resubmit under a new id.
    assert_eq!(derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE), "70d454cc440e497f02fdbda37f41c214");
    assert_eq!(derive_flink_id(OPERATION_ID, RESTART_JOB_PURPOSE), derive_flink_id(OPERATION_ID, RESTART_JOB_PURPOSE));
}

#[test]
fn derived_ids_differ_by_purpose_and_operation() {
    let mut seen = BTreeSet::new();
    let operations = (0..200).map(|index| format!("{index:032x}"));
    for operation_id in operations {
        for purpose in [STOP_TRIGGER_PURPOSE, RESTART_JOB_PURPOSE, ROLLBACK_JOB_PURPOSE] {
            assert!(seen.insert(derive_flink_id(&operation_id, purpose)), "collision for {operation_id} {purpose}");
        }
    }
    // Length-prefixed fields: moving a character between operation id and purpose changes the id.
    assert_ne!(derive_flink_id("ab", "c"), derive_flink_id("a", "bc"));
}

#[test]
fn flink_id_shape() {
    assert!(is_flink_id("0123456789abcdef0123456789abcdef"));
    assert!(!is_flink_id("0123456789ABCDEF0123456789ABCDEF"));
    assert!(!is_flink_id("0123456789abcdef0123456789abcde"));
    assert!(!is_flink_id("01234567-89ab-cdef-0123-456789abcdef"));
}

// ---------------------------------------------------------------------------------------------
// the record

#[test]
fn a_new_operation_awaits_approval() {
    let operation = requested(Strategy::Auto);
    assert_eq!(operation.phase, Phase::AwaitingApproval);
    assert_eq!(operation.expires_at_ms, CREATED_AT_MS + APPROVAL_WINDOW_MS);
    assert_eq!(operation.phase_durations(), vec![(PhaseName::AwaitingApproval, None)]);
    assert_eq!(operation.events.len(), 1);
    assert_eq!(operation.events[0].kind, event_kind::REQUESTED);
    assert_eq!(operation.events[0].actor.as_deref(), Some(REQUESTER));
    assert!(!operation.is_active());
    assert!(!operation.is_terminal());
    assert_eq!(operation.approval_count(), 0);
    assert_eq!(operation.current_job_id(), JOB_ID);
}

#[test]
fn entering_phases_keeps_spans() {
    let mut operation = requested(Strategy::Auto);
    operation.enter(Phase::Approved, CREATED_AT_MS + 100);
    operation.enter(Phase::Applying { since_ms: CREATED_AT_MS + 150 }, CREATED_AT_MS + 150);
    // Same phase name, new data: the span goes on.
    operation.enter(Phase::Applying { since_ms: CREATED_AT_MS + 170 }, CREATED_AT_MS + 170);
    assert!(operation.is_active());
    operation.enter(Phase::Completed, CREATED_AT_MS + 400);
    assert!(operation.is_terminal());
    assert!(!operation.is_active());
    assert_eq!(
        operation.phase_durations(),
        vec![
            (PhaseName::AwaitingApproval, Some(100)),
            (PhaseName::Approved, Some(50)),
            (PhaseName::Applying, Some(250)),
            (PhaseName::Completed, Some(0)),
        ]
    );
}

/// Runs decide → apply once and returns the decision.
fn step(operation: &mut Operation, observation: &Observation) -> Decision {
    let decision = decide(operation, observation);
    apply(operation, &decision, observation.now_ms);
    decision
}

#[test]
fn a_savepoint_rescale_from_request_to_completion() {
    let mut operation = requested(Strategy::Savepoint);
    approve(&mut operation, "bob@example.com", "ok", CREATED_AT_MS + 10).expect("approve");
    let original_job = |status| present(job(JOB_ID, status, ORIGINAL_PARALLELISM));
    let new_job_id = derive_flink_id(OPERATION_ID, RESTART_JOB_PURPOSE);

    step(&mut operation, &observation(CREATED_AT_MS + 20));
    assert_eq!(operation.phase, Phase::Approved);

    step(
        &mut operation,
        &Observation {
            job: original_job(JobStatus::Running),
            cluster: Some(cluster(2)),
            savepoint_directory: Some("s3://flink/savepoints".to_owned()),
            ..observation(CREATED_AT_MS + 30)
        },
    );
    assert_eq!(operation.phase.name(), PhaseName::Stopping);
    assert_eq!(operation.strategy, Some(ResolvedStrategy::Savepoint));
    assert_eq!(operation.original_parallelism, parallelism(ORIGINAL_PARALLELISM));
    assert_eq!(operation.target_parallelism, parallelism(TARGET_PARALLELISM));

    let decision = step(
        &mut operation,
        &Observation {
            job: original_job(JobStatus::Running),
            savepoint: Some(SavepointStatus::Unknown),
            ..observation(CREATED_AT_MS + 40)
        },
    );
    assert!(matches!(decision, Decision::Act { .. }));
    assert_eq!(operation.phase.name(), PhaseName::Stopping);

    step(
        &mut operation,
        &Observation {
            job: original_job(JobStatus::Finished),
            savepoint: completed_savepoint(),
            ..observation(CREATED_AT_MS + 1_040)
        },
    );
    assert_eq!(operation.phase.name(), PhaseName::Restarting);
    let savepoint = operation.savepoint.clone().expect("savepoint recorded");
    assert_eq!(savepoint.location, SAVEPOINT_LOCATION);
    assert_eq!(savepoint.trigger_id, derive_flink_id(OPERATION_ID, STOP_TRIGGER_PURPOSE));
    assert_eq!(savepoint.taken_at_ms, CREATED_AT_MS + 1_040);
    assert_eq!(operation.new_job_id.as_deref(), Some(new_job_id.as_str()));

    step(
        &mut operation,
        &Observation {
            job: original_job(JobStatus::Finished),
            new_job: absent(),
            ..observation(CREATED_AT_MS + 1_050)
        },
    );
    assert_eq!(operation.phase, Phase::Verifying { job_id: new_job_id.clone(), since_ms: CREATED_AT_MS + 1_050 });

    step(
        &mut operation,
        &Observation {
            new_job: present(job(&new_job_id, JobStatus::Running, TARGET_PARALLELISM)),
            ..observation(CREATED_AT_MS + 3_050)
        },
    );
    assert_eq!(operation.phase, Phase::Completed);
    assert_eq!(operation.current_job_id(), new_job_id);
    assert_eq!(
        operation.phase_durations(),
        vec![
            (PhaseName::AwaitingApproval, Some(20)),
            (PhaseName::Approved, Some(10)),
            (PhaseName::Stopping, Some(1_010)),
            (PhaseName::Restarting, Some(10)),
            (PhaseName::Verifying, Some(2_000)),
            (PhaseName::Completed, Some(0)),
        ]
    );
    let kinds: Vec<&str> = operation.events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            event_kind::REQUESTED,
            event_kind::APPROVED,
            event_kind::APPROVAL_COMPLETE,
            event_kind::EXECUTION_STARTED,
            event_kind::STOP_TRIGGERED,
            event_kind::SAVEPOINT_COMPLETED,
            event_kind::JOB_SUBMITTED,
            event_kind::VERIFIED,
        ]
    );

    // A finished operation stays finished and `apply` of a wait or done changes nothing.
    let before = operation.clone();
    assert_eq!(step(&mut operation, &observation(CREATED_AT_MS + 9_999)), Decision::Done);
    assert_eq!(operation, before);
}

#[test]
fn a_savepoint_rollback_records_the_rollback_job() {
    let mut operation = operation_in(
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        ResolvedStrategy::Savepoint,
    );
    let rollback_job_id = derive_flink_id(OPERATION_ID, ROLLBACK_JOB_PURPOSE);
    step(
        &mut operation,
        &Observation {
            new_job: present(job(NEW_JOB_ID, JobStatus::Failed, TARGET_PARALLELISM)),
            ..observation(NOW_MS)
        },
    );
    assert_eq!(operation.phase.name(), PhaseName::RollingBack);
    assert_eq!(operation.rollback_job_id.as_deref(), Some(rollback_job_id.as_str()));

    step(
        &mut operation,
        &Observation {
            new_job: present(job(NEW_JOB_ID, JobStatus::Failed, TARGET_PARALLELISM)),
            rollback_job: absent(),
            ..observation(NOW_MS + 100)
        },
    );
    let Phase::RollingBack { rollback: RollbackPlan::Resubmit { submitted_at_ms, .. }, .. } = &operation.phase else {
        panic!("expected a resubmit rollback, got {:?}", operation.phase);
    };
    assert_eq!(*submitted_at_ms, Some(NOW_MS + 100));

    step(
        &mut operation,
        &Observation {
            new_job: present(job(NEW_JOB_ID, JobStatus::Failed, TARGET_PARALLELISM)),
            rollback_job: present(job(&rollback_job_id, JobStatus::Running, ORIGINAL_PARALLELISM)),
            ..observation(NOW_MS + 900)
        },
    );
    let Phase::RolledBack { reason } = &operation.phase else {
        panic!("expected rolled back, got {:?}", operation.phase);
    };
    assert!(reason.contains("FAILED"), "{reason}");
    assert_eq!(operation.current_job_id(), rollback_job_id);
    assert_eq!(
        operation.phase_durations(),
        vec![
            (PhaseName::AwaitingApproval, Some(PHASE_START_MS - CREATED_AT_MS)),
            (PhaseName::Verifying, Some(NOW_MS - PHASE_START_MS)),
            (PhaseName::RollingBack, Some(900)),
            (PhaseName::RolledBack, Some(0)),
        ]
    );
}

#[test]
fn failure_reasons_name_the_savepoint() {
    let operation = operation_in(
        Phase::RollingBack {
            reason: "new job failed".to_owned(),
            rollback: RollbackPlan::Resubmit {
                failed_job_id: NEW_JOB_ID.to_owned(),
                savepoint_location: SAVEPOINT_LOCATION.to_owned(),
                rollback_job_id: ROLLBACK_JOB_ID.to_owned(),
                since_ms: PHASE_START_MS,
                submitted_at_ms: Some(PHASE_START_MS),
            },
        },
        ResolvedStrategy::Savepoint,
    );
    let decision = decide(
        &operation,
        &Observation {
            new_job: absent(),
            rollback_job: present(job(ROLLBACK_JOB_ID, JobStatus::Failed, 2)),
            ..observation(NOW_MS)
        },
    );
    let Decision::Transition { to: Phase::Failed { reason }, .. } = decision else {
        panic!("expected failed, got {decision:?}");
    };
    assert!(reason.contains(SAVEPOINT_LOCATION), "{reason}");
    assert!(reason.contains("new job failed"), "{reason}");
}

#[test]
fn a_failed_savepoint_leaves_a_running_job_untouched() {
    let operation = operation_in(Phase::Stopping { trigger_id: "t".to_owned() }, ResolvedStrategy::Savepoint);
    let decision = decide(
        &operation,
        &Observation {
            job: present(job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)),
            savepoint: Some(SavepointStatus::Failed { cause: "checkpoint expired".to_owned() }),
            ..observation(NOW_MS)
        },
    );
    let Decision::Transition { to: Phase::Failed { reason }, event, .. } = decision else {
        panic!("expected failed, got {decision:?}");
    };
    assert_eq!(reason, format!("savepoint failed: checkpoint expired; job {JOB_ID} is still RUNNING, untouched"));
    assert_eq!(event.kind, event_kind::FAILED);
    assert_eq!(event.actor, None);
}

// ---------------------------------------------------------------------------------------------
// user actions

#[test]
fn approvals() {
    let mut operation = requested(Strategy::Auto);
    operation.required_approvals = 2;
    assert_eq!(approve(&mut operation, REQUESTER, "", NOW_MS), Err(ActionRefused::OwnRequest));
    assert_eq!(approve(&mut operation, " ALICE@example.com ", "", NOW_MS), Err(ActionRefused::OwnRequest));
    assert_eq!(approve(&mut operation, "  ", "", NOW_MS), Err(ActionRefused::MissingActor));
    approve(&mut operation, "bob@example.com", "lgtm", NOW_MS).expect("first approval");
    assert_eq!(
        approve(&mut operation, "Bob@example.com", "", NOW_MS),
        Err(ActionRefused::AlreadyApproved { by: "bob@example.com".to_owned() })
    );
    assert_eq!(operation.approval_count(), 1);
    assert!(!operation.is_approved());
    assert!(matches!(decide(&operation, &observation(NOW_MS)), Decision::Wait { .. }));

    approve(&mut operation, "carol@example.com", "", NOW_MS + 1).expect("second approval");
    assert!(operation.is_approved());
    assert_eq!(operation.approvals[0].comment, "lgtm");
    let last = operation.events.last().expect("an event");
    assert_eq!(last.kind, event_kind::APPROVED);
    assert_eq!(last.actor.as_deref(), Some("carol@example.com"));
    // Approving does not move the phase by itself: the phase machine does.
    assert_eq!(operation.phase, Phase::AwaitingApproval);
}

#[test]
fn approval_window() {
    let mut operation = requested(Strategy::Auto);
    let expiry = operation.expires_at_ms;
    assert_eq!(approve(&mut operation, "bob@example.com", "", expiry), Err(ActionRefused::ApprovalWindowClosed));
    assert_eq!(
        break_glass(&mut operation, "bob@example.com", "outage", expiry),
        Err(ActionRefused::ApprovalWindowClosed)
    );
    approve(&mut operation, "bob@example.com", "", expiry - 1).expect("just in time");
}

#[test]
fn approving_outside_awaiting_approval_is_refused() {
    for phase in [
        Phase::Approved,
        Phase::Completed,
        Phase::Expired,
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: 0 },
    ] {
        let name = phase.name();
        let mut operation = operation_in(phase, ResolvedStrategy::Savepoint);
        assert_eq!(
            approve(&mut operation, "dave@example.com", "", NOW_MS),
            Err(ActionRefused::NotAwaitingApproval { phase: name })
        );
        assert_eq!(
            reject(&mut operation, "dave@example.com", "", NOW_MS),
            Err(ActionRefused::NotAwaitingApproval { phase: name })
        );
        assert_eq!(
            break_glass(&mut operation, "dave@example.com", "outage", NOW_MS),
            Err(ActionRefused::NotAwaitingApproval { phase: name })
        );
    }
}

#[test]
fn rejecting() {
    let mut operation = requested(Strategy::Auto);
    reject(&mut operation, "bob@example.com", "not during peak", NOW_MS).expect("reject");
    assert_eq!(
        operation.phase,
        Phase::Rejected { by: "bob@example.com".to_owned(), comment: "not during peak".to_owned() }
    );
    assert!(operation.is_terminal());
    assert_eq!(operation.events.last().map(|event| event.kind.as_str()), Some("rejected"));
    assert_eq!(decide(&operation, &observation(NOW_MS)), Decision::Done);
}

#[test]
fn cancelling_only_before_flink_is_touched() {
    let mut waiting = requested(Strategy::Auto);
    cancel(&mut waiting, REQUESTER, "wrong job", NOW_MS).expect("cancel while awaiting");
    assert_eq!(waiting.phase.name(), PhaseName::Cancelled);

    let mut approved = operation_in(Phase::Approved, ResolvedStrategy::Savepoint);
    cancel(&mut approved, REQUESTER, "", NOW_MS).expect("cancel while approved");
    assert_eq!(approved.phase, Phase::Cancelled { by: REQUESTER.to_owned(), comment: String::new() });

    for phase in [
        Phase::Stopping { trigger_id: "t".to_owned() },
        Phase::Applying { since_ms: 0 },
        Phase::Completed,
        Phase::Cancelled { by: REQUESTER.to_owned(), comment: String::new() },
    ] {
        let name = phase.name();
        let mut operation = operation_in(phase, ResolvedStrategy::Savepoint);
        let before = operation.clone();
        assert_eq!(cancel(&mut operation, REQUESTER, "", NOW_MS), Err(ActionRefused::NotCancellable { phase: name }));
        assert_eq!(operation, before);
    }
}

#[test]
fn breaking_the_glass() {
    let mut operation = requested(Strategy::Auto);
    operation.required_approvals = 3;
    assert_eq!(break_glass(&mut operation, "oncall@example.com", "  ", NOW_MS), Err(ActionRefused::ReasonRequired));
    // The requester may break the glass: who may is a role, checked by the API.
    break_glass(&mut operation, REQUESTER, "backlog growing, pager storm", NOW_MS).expect("break glass");
    assert!(operation.is_approved());
    assert_eq!(
        break_glass(&mut operation, "oncall@example.com", "again", NOW_MS),
        Err(ActionRefused::AlreadyBrokenGlass { by: REQUESTER.to_owned() })
    );
    let decision = decide(&operation, &observation(NOW_MS));
    assert!(matches!(&decision, Decision::Transition { to: Phase::Approved, .. }), "{decision:?}");
}

#[test]
fn refusals_read_well() {
    assert_eq!(
        ActionRefused::NotCancellable { phase: PhaseName::Verifying }.to_string(),
        "the operation is verifying; it can only be cancelled before it touches flink"
    );
    assert_eq!(ActionRefused::OwnRequest.to_string(), "nobody may approve their own request");
}

// ---------------------------------------------------------------------------------------------
// JSON

#[test]
fn phases_are_internally_tagged() {
    let stopping = Phase::Stopping { trigger_id: "abc".to_owned() };
    assert_eq!(
        serde_json::to_value(&stopping).expect("serialize"),
        serde_json::json!({"phase": "stopping", "trigger_id": "abc"})
    );
    assert_eq!(
        serde_json::to_value(Phase::AwaitingApproval).expect("serialize"),
        serde_json::json!({"phase": "awaiting_approval"})
    );
    let rolling_back = Phase::RollingBack {
        reason: "r".to_owned(),
        rollback: RollbackPlan::InPlace { since_ms: 5, requirements_sent_at_ms: None },
    };
    assert_eq!(
        serde_json::to_value(&rolling_back).expect("serialize"),
        serde_json::json!({
            "phase": "rolling_back",
            "reason": "r",
            "rollback": {"kind": "in_place", "since_ms": 5, "requirements_sent_at_ms": null}
        })
    );
    assert_eq!(serde_json::to_value(PhaseName::RolledBack).expect("serialize"), serde_json::json!("rolled_back"));
}

#[test]
fn strategies_and_targets_in_json() {
    assert_eq!(
        serde_json::to_value([Strategy::Auto, Strategy::Savepoint, Strategy::InPlace]).expect("serialize"),
        serde_json::json!(["auto", "savepoint", "in_place"])
    );
    assert_eq!(
        serde_json::to_value(Target::Uniform { parallelism: 3 }).expect("serialize"),
        serde_json::json!({"kind": "uniform", "parallelism": 3})
    );
    let per_vertex: Target = serde_json::from_value(serde_json::json!({
        "kind": "per_vertex",
        "parallelism": {SOURCE_VERTEX: 6}
    }))
    .expect("deserialize");
    let resolved = per_vertex.resolve(&job(JOB_ID, JobStatus::Running, 2));
    assert_eq!(resolved.get(SOURCE_VERTEX), Some(&6));
    assert_eq!(resolved.get(SINK_VERTEX), Some(&2));
}

#[test]
fn operations_round_trip_through_json() {
    let mut operation = operation_in(
        Phase::RollingBack {
            reason: "r".to_owned(),
            rollback: RollbackPlan::Resubmit {
                failed_job_id: NEW_JOB_ID.to_owned(),
                savepoint_location: SAVEPOINT_LOCATION.to_owned(),
                rollback_job_id: ROLLBACK_JOB_ID.to_owned(),
                since_ms: 1,
                submitted_at_ms: Some(2),
            },
        },
        ResolvedStrategy::Savepoint,
    );
    operation.rollback_job_id = Some(ROLLBACK_JOB_ID.to_owned());
    let json = serde_json::to_string(&operation).expect("serialize");
    let back: Operation = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, operation);
}

#[test]
fn a_minimal_record_reads_with_defaults() {
    let json = serde_json::json!({
        "id": OPERATION_ID,
        "cluster_id": "prod-eu",
        "job_id": JOB_ID,
        "target": {"kind": "uniform", "parallelism": 4},
        "requested_by": REQUESTER,
        "created_at_ms": 1,
        "expires_at_ms": 2,
        "phase": {"phase": "awaiting_approval"}
    });
    let operation: Operation = serde_json::from_value(json).expect("deserialize");
    assert_eq!(operation.requested_strategy, Strategy::Auto);
    assert_eq!(operation.required_approvals, 1);
    assert_eq!(operation.verify_timeout_ms, 600_000);
    assert!(operation.approvals.is_empty());
    assert!(operation.phase_history.is_empty());
    assert_eq!(operation.phase_durations(), Vec::new());
}

#[test]
fn decisions_serialize_for_logs() {
    let decision = Decision::Wait { requeue_after_ms: 5, why: "w".to_owned() };
    assert_eq!(
        serde_json::to_value(&decision).expect("serialize"),
        serde_json::json!({"decision": "wait", "requeue_after_ms": 5, "why": "w"})
    );
    assert_eq!(decision.requeue_after_ms(), Some(5));
    assert_eq!(Decision::Done.requeue_after_ms(), None);
}
