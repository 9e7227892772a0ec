//! A deployment's lineage follows the jobs its rescales submit, once each, the last current.

mod support;

use rescaler_shared::deployment::{Deployment, submitted_job_ids};
use rescaler_shared::operation::{OperationEvent, ResolvedStrategy, event_kind};
use rescaler_shared::phase::Phase;
use support::*;

fn with_event(
    mut operation: rescaler_shared::operation::Operation,
    kind: &str,
) -> rescaler_shared::operation::Operation {
    operation.record(OperationEvent::by_system(NOW_MS, kind, "x"));
    operation
}

#[test]
fn an_adopted_job_is_its_own_deployment() {
    let deployment = Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5);
    assert_eq!(deployment.id, JOB_ID);
    assert_eq!(deployment.current_job_id, JOB_ID);
    assert_eq!(deployment.job_ids().collect::<Vec<_>>(), [JOB_ID]);
    assert_eq!(deployment.lineage[0].operation_id, None);
}

#[test]
fn nothing_submitted_changes_nothing() {
    let mut deployment = Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5);
    let stopping = operation_in(Phase::Stopping { trigger_id: "t".to_owned() }, ResolvedStrategy::Savepoint);
    assert!(submitted_job_ids(&stopping).is_empty());
    assert!(!deployment.follow(&stopping, NOW_MS));
    // A new job id is known from Restarting on, but only a submission puts it in the lineage.
    let restarting = operation_in(
        Phase::Restarting {
            savepoint_location: SAVEPOINT_LOCATION.to_owned(),
            new_job_id: NEW_JOB_ID.to_owned(),
            since_ms: NOW_MS,
        },
        ResolvedStrategy::Savepoint,
    );
    assert!(!deployment.follow(&restarting, NOW_MS));
    assert_eq!(deployment.current_job_id, JOB_ID);
}

#[test]
fn a_submitted_job_becomes_current_once() {
    let mut deployment = Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5);
    let verifying = with_event(
        operation_in(Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: NOW_MS }, ResolvedStrategy::Savepoint),
        event_kind::JOB_SUBMITTED,
    );
    assert!(deployment.follow(&verifying, NOW_MS));
    assert_eq!(deployment.current_job_id, NEW_JOB_ID);
    assert_eq!(deployment.lineage[1].operation_id.as_deref(), Some(OPERATION_ID));
    assert!(!deployment.follow(&verifying, NOW_MS + 1), "following again writes nothing");
    assert_eq!(deployment.job_ids().collect::<Vec<_>>(), [JOB_ID, NEW_JOB_ID]);
}

#[test]
fn a_rollback_job_follows_the_failed_one() {
    let mut deployment = Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5);
    let mut rolled_back = operation_in(Phase::RolledBack { reason: "x".to_owned() }, ResolvedStrategy::Savepoint);
    rolled_back.rollback_job_id = Some(ROLLBACK_JOB_ID.to_owned());
    let rolled_back = with_event(with_event(rolled_back, event_kind::JOB_FOUND), event_kind::ROLLBACK_SUBMITTED);
    assert_eq!(submitted_job_ids(&rolled_back), [NEW_JOB_ID, ROLLBACK_JOB_ID]);
    assert!(deployment.follow(&rolled_back, NOW_MS));
    assert_eq!(deployment.current_job_id, ROLLBACK_JOB_ID);
    assert_eq!(deployment.job_ids().collect::<Vec<_>>(), [JOB_ID, NEW_JOB_ID, ROLLBACK_JOB_ID]);
}

#[test]
fn an_in_place_rescale_keeps_the_job_id() {
    let mut deployment = Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5);
    let completed =
        with_event(operation_in(Phase::Completed, ResolvedStrategy::InPlace), event_kind::REQUIREMENTS_SENT);
    assert!(!deployment.follow(&completed, NOW_MS));
    assert_eq!(deployment.current_job_id, JOB_ID);
}
