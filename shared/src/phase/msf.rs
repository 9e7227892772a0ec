//! The MSF path (Amazon Managed Service for Apache Flink): take the request's own snapshot of
//! the application while it runs, update the application to the target parallelism restoring
//! from that snapshot under the conditional token read when execution started, verify through
//! MSF's operation and the application, and roll back by updating to the original parallelism
//! from the same snapshot — unless MSF's system rollback already did.
//!
//! Every step is decided from what the application shows, so a crash anywhere resumes without a
//! second update: an application that restores from the request's snapshot (its name derives
//! from the request's id) was updated by this request; one whose conditional token changed was
//! changed elsewhere, and nothing is sent.

mod rollback;

pub(super) use rollback::decide_rolling_back;

use std::collections::BTreeMap;

use super::decision::{Action, Decision, fail, transition, wait_for_observation};
use super::messages::describe_duration;
use super::observation::{MsfOperationQuery, Needs, Observation, Seen};
use crate::flink::msf::{
    APPLICATION_KEY, AutoscalingChoice, MsfApplication, MsfOperation, MsfOperationStatus, MsfSnapshotStatus, MsfStatus,
};
use crate::operation::{Operation, OperationEvent, Phase, RollbackPlan, event_kind, msf_snapshot_location};

/// Requeue while MSF works (a snapshot, an update): its control plane is rate limited, and its
/// steps take seconds to minutes.
pub const MSF_POLL_MS: u64 = 1_000;

/// Snapshotting and updating: the application; snapshotting, the snapshot too.
pub(super) fn needs_snapshotting(snapshot_name: &str) -> Needs {
    Needs { job: true, snapshot: Some(snapshot_name.to_owned()), ..Needs::default() }
}

pub(super) fn needs_application() -> Needs {
    Needs { job: true, ..Needs::default() }
}

/// Verifying: the application and the update operation.
pub(super) fn needs_verifying(op: &Operation, since_ms: u64) -> Needs {
    Needs {
        job: true,
        msf_operation: Some(MsfOperationQuery { id: op.msf_operation_id.clone(), since_ms }),
        ..Needs::default()
    }
}

fn parallelism(map: &BTreeMap<String, u32>) -> Option<u32> {
    map.get(APPLICATION_KEY).copied()
}

/// The application as this pass read it, or the decision when it was not read or is gone.
fn application<'a>(op: &Operation, obs: &'a Observation, gone: &str) -> Result<&'a MsfApplication, Box<Decision>> {
    match &obs.job {
        None => Err(Box::new(wait_for_observation(&format!("application {}", op.job_name)))),
        Some(Seen::Absent) => {
            Err(Box::new(fail(obs.now_ms, format!("application {} no longer exists; {gone}", op.job_name))))
        }
        Some(Seen::Present(job)) => match &job.application {
            Some(application) => Ok(application),
            None => Err(Box::new(fail(obs.now_ms, format!("job {} is not an MSF application; {gone}", op.job_id)))),
        },
    }
}

/// The application's token is not the one execution started with: someone changed it.
fn changed_elsewhere(application: &MsfApplication, token: &str) -> bool {
    application.conditional_token.as_deref().is_some_and(|current| current != token)
}

pub(super) fn decide_snapshotting(
    op: &Operation,
    obs: &Observation,
    snapshot_name: &str,
    token: &str,
    since_ms: u64,
) -> Decision {
    let now_ms = obs.now_ms;
    let untouched = "nothing was changed";
    let application = match application(op, obs, untouched) {
        Ok(application) => application,
        Err(decision) => return *decision,
    };
    let Some(snapshot) = &obs.snapshot else {
        return wait_for_observation(&format!("snapshot {snapshot_name}"));
    };
    let name = &application.name;
    match snapshot {
        Seen::Present(snapshot) => match snapshot.status {
            MsfSnapshotStatus::Ready => transition(
                Phase::Updating {
                    snapshot_name: snapshot_name.to_owned(),
                    conditional_token: token.to_owned(),
                    since_ms: now_ms,
                },
                OperationEvent::by_system(
                    now_ms,
                    event_kind::SAVEPOINT_COMPLETED,
                    format!(
                        "snapshot {snapshot_name} of application {name} is ready ({})",
                        msf_snapshot_location(name, snapshot_name)
                    ),
                ),
            ),
            MsfSnapshotStatus::Creating if !op.timed_out(since_ms, now_ms) => Decision::Wait {
                requeue_after_ms: MSF_POLL_MS,
                why: format!("snapshot {snapshot_name} of application {name} is being created"),
            },
            status => fail(
                now_ms,
                format!(
                    "snapshot {snapshot_name} of application {name} is {status:?}{}; the application \
                     still runs at parallelism {}, {untouched}",
                    if status == MsfSnapshotStatus::Creating {
                        format!(" after {}", describe_duration(op.verify_timeout_ms))
                    } else {
                        String::new()
                    },
                    application.parallelism
                ),
            ),
        },
        Seen::Absent if changed_elsewhere(application, token) => fail(now_ms, changed_reason(application, untouched)),
        Seen::Absent if application.status == MsfStatus::Running => Decision::Act {
            action: Action::CreateSnapshot { application: name.clone(), snapshot_name: snapshot_name.to_owned() },
            then: Phase::Snapshotting {
                snapshot_name: snapshot_name.to_owned(),
                conditional_token: token.to_owned(),
                since_ms,
            },
            event: OperationEvent::by_system(
                now_ms,
                event_kind::SNAPSHOT_REQUESTED,
                format!("snapshot {snapshot_name} of application {name} requested; the application keeps running"),
            ),
        },
        Seen::Absent => not_running(op, application, since_ms, now_ms, untouched),
    }
}

/// The application is busy (autoscaling, an update, a rollback) or stopped before the
/// request's update: wait for it, up to the timeout.
fn not_running(op: &Operation, application: &MsfApplication, since_ms: u64, now_ms: u64, outcome: &str) -> Decision {
    if op.timed_out(since_ms, now_ms) || application.status == MsfStatus::Ready {
        return fail(
            now_ms,
            format!(
                "application {} is {}, not RUNNING, after {}; {outcome}",
                application.name,
                application.status.label(),
                describe_duration(now_ms.saturating_sub(since_ms))
            ),
        );
    }
    Decision::Wait {
        requeue_after_ms: MSF_POLL_MS,
        why: format!("application {} is {}; waiting for it to run", application.name, application.status.label()),
    }
}

fn changed_reason(application: &MsfApplication, outcome: &str) -> String {
    format!(
        "application {} was changed outside the product since execution started (its conditional token \
         changed; it is at version {}); {outcome}: ask again against the application as it is now",
        application.name, application.version_id
    )
}

pub(super) fn decide_updating(
    op: &Operation,
    obs: &Observation,
    snapshot_name: &str,
    token: &str,
    since_ms: u64,
) -> Decision {
    let now_ms = obs.now_ms;
    let kept = format!("not updated; snapshot {snapshot_name} is kept");
    let application = match application(op, obs, &kept) {
        Ok(application) => application,
        Err(decision) => return *decision,
    };
    let Some(target) = parallelism(&op.target_parallelism) else {
        return fail(now_ms, format!("the request has no application parallelism; {kept}"));
    };
    let name = &application.name;
    if application.restores_from(snapshot_name) {
        // Only this request's update names its snapshot: it was sent before a crash.
        return transition(
            Phase::Verifying { job_id: op.job_id.clone(), since_ms: now_ms },
            OperationEvent::by_system(
                now_ms,
                event_kind::JOB_FOUND,
                format!("application {name} was already updated from snapshot {snapshot_name}; verifying it"),
            ),
        );
    }
    if changed_elsewhere(application, token) {
        return fail(now_ms, changed_reason(application, &kept));
    }
    if application.status != MsfStatus::Running {
        return not_running(op, application, since_ms, now_ms, &kept);
    }
    let autoscaling = AutoscalingChoice::autoscaling_update(op.autoscaling, application.autoscaling);
    let autoscaling_note = if autoscaling == Some(false) { ", autoscaling turned off" } else { "" };
    Decision::Act {
        action: Action::UpdateApplication {
            application: name.clone(),
            parallelism: target,
            snapshot_name: snapshot_name.to_owned(),
            conditional_token: token.to_owned(),
            autoscaling,
        },
        then: Phase::Verifying { job_id: op.job_id.clone(), since_ms: now_ms },
        event: OperationEvent::by_system(
            now_ms,
            event_kind::APPLICATION_UPDATED,
            format!(
                "application {name} updated to parallelism {target}{autoscaling_note}, restoring from snapshot \
                 {snapshot_name}"
            ),
        ),
    }
}

pub(super) fn decide_verifying(op: &Operation, obs: &Observation, since_ms: u64) -> Decision {
    let now_ms = obs.now_ms;
    let snapshot_name = snapshot_of(op);
    let application = match application(op, obs, &format!("snapshot {snapshot_name} is kept")) {
        Ok(application) => application,
        Err(decision) => return *decision,
    };
    let Some(operation) = &obs.msf_operation else {
        return wait_for_observation("the update operation");
    };
    let (Some(target), Some(original)) = (parallelism(&op.target_parallelism), parallelism(&op.original_parallelism))
    else {
        return fail(now_ms, format!("the request has no application parallelism; snapshot {snapshot_name} is kept"));
    };
    let name = &application.name;
    let operation = operation.present();
    let status = operation.map(|operation| operation.status);
    match status {
        Some(MsfOperationStatus::Successful) if application.runs_at(target) => transition(
            Phase::Completed,
            OperationEvent::by_system(
                now_ms,
                event_kind::VERIFIED,
                format!(
                    "application {name} runs at parallelism {target} ({} KPUs); MSF's update operation {} succeeded",
                    application.kpus_in_use(),
                    operation.map_or("", |operation| operation.id.as_str())
                ),
            ),
        ),
        Some(MsfOperationStatus::Failed | MsfOperationStatus::Cancelled) => {
            let failure = failure_of(name, operation);
            if application.status == MsfStatus::Running && application.parallelism == original {
                // MSF's system rollback brought the previous version back.
                return transition(
                    Phase::RolledBack { reason: failure.clone() },
                    OperationEvent::by_system(
                        now_ms,
                        event_kind::ROLLED_BACK,
                        format!("{failure}; MSF rolled application {name} back: it runs at parallelism {original}"),
                    ),
                );
            }
            if matches!(application.status, MsfStatus::RollingBack | MsfStatus::Updating) {
                return Decision::Wait {
                    requeue_after_ms: MSF_POLL_MS,
                    why: format!("{failure}; application {name} is {}", application.status.label()),
                };
            }
            start_rollback(now_ms, failure, snapshot_name)
        }
        _ if op.timed_out(since_ms, now_ms) => start_rollback(
            now_ms,
            format!(
                "application {name} did not run at parallelism {target} within {} (it is {} at {}; MSF's \
                 operation is {})",
                describe_duration(op.verify_timeout_ms),
                application.status.label(),
                application.current_parallelism,
                status.map_or_else(|| "not found".to_owned(), |status| format!("{status:?}"))
            ),
            snapshot_name,
        ),
        _ => Decision::Wait {
            requeue_after_ms: MSF_POLL_MS,
            why: format!(
                "application {name} is {} at parallelism {}; MSF's update operation is {}",
                application.status.label(),
                application.current_parallelism,
                status.map_or_else(|| "not listed yet".to_owned(), |status| format!("{status:?}"))
            ),
        },
    }
}

/// The request's snapshot name, from the record (written when the snapshot was ready).
fn snapshot_of(op: &Operation) -> String {
    op.savepoint
        .as_ref()
        .map_or_else(|| crate::operation::msf_snapshot_name(&op.id), |savepoint| savepoint.trigger_id.clone())
}

fn failure_of(name: &str, operation: Option<&MsfOperation>) -> String {
    match operation {
        Some(operation) => format!(
            "MSF's update of application {name} ({}) ended {:?}: {}",
            operation.id,
            operation.status,
            operation.error.as_deref().unwrap_or("no reason given")
        ),
        None => format!("MSF's update of application {name} failed"),
    }
}

fn start_rollback(now_ms: u64, reason: String, snapshot_name: String) -> Decision {
    let message = format!("rolling back: {reason}");
    transition(
        Phase::RollingBack {
            reason,
            rollback: RollbackPlan::MsfUpdate { snapshot_name, since_ms: now_ms, sent_at_ms: None },
        },
        OperationEvent::by_system(now_ms, event_kind::ROLLBACK_STARTED, message),
    )
}
