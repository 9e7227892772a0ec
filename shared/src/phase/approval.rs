//! Before anything touches Flink: waiting for approvals (or expiry), then the last pre-flight
//! check that fixes the plan and starts execution.

use super::APPROVAL_POLL_MS;
use super::decision::{Decision, fail, transition, wait_for_observation};
use super::messages::describe_parallelism;
use super::observation::{Needs, Observation, Seen};
use super::restore_budget::{describe_budget, restore_budget_ms};
use super::timing::may_start;
use crate::flink::JobStatus;
use crate::operation::{
    Operation, OperationEvent, Phase, ResolvedStrategy, STOP_TRIGGER_PURPOSE, derive_flink_id, event_kind,
    msf_snapshot_name,
};
use crate::preflight;

pub(super) fn decide_awaiting_approval(op: &Operation, now_ms: u64) -> Decision {
    // Approvals are refused once the window closed, so any recorded approval came in time.
    if let Some(break_glass) = &op.break_glass {
        return transition(
            Phase::Approved,
            OperationEvent::by_system(
                now_ms,
                event_kind::APPROVAL_COMPLETE,
                format!("approval bypassed by {}'s break-glass", break_glass.by),
            ),
        );
    }
    if op.approval_count() >= op.required_approvals {
        return transition(
            Phase::Approved,
            OperationEvent::by_system(
                now_ms,
                event_kind::APPROVAL_COMPLETE,
                format!("approved by {} of {} required", op.approval_count(), op.required_approvals),
            ),
        );
    }
    if now_ms >= op.expires_at_ms {
        return transition(
            Phase::Expired,
            OperationEvent::by_system(
                now_ms,
                event_kind::EXPIRED,
                format!("not approved in time: {} of {} approvals", op.approval_count(), op.required_approvals),
            ),
        );
    }
    Decision::Wait {
        requeue_after_ms: APPROVAL_POLL_MS.min(op.expires_at_ms - now_ms),
        why: format!("waiting for approval: {} of {}", op.approval_count(), op.required_approvals),
    }
}

/// Approved: the job and the cluster, for the last pre-flight check.
pub(super) fn needs_approved() -> Needs {
    Needs { job: true, cluster: true, ..Needs::default() }
}

pub(super) fn decide_approved(op: &Operation, obs: &Observation) -> Decision {
    let now_ms = obs.now_ms;
    let override_note = match may_start(op, obs) {
        Ok(note) => note,
        Err(decision) => return *decision,
    };
    let Some(job) = &obs.job else {
        return wait_for_observation(&format!("job {}", op.job_id));
    };
    let Some(cluster) = &obs.cluster else {
        return wait_for_observation("the cluster overview");
    };
    let Seen::Present(job) = job else {
        return fail(now_ms, format!("job {} no longer exists; nothing was changed", op.job_id));
    };
    if job.status != JobStatus::Running {
        return fail(now_ms, format!("job {} is {}, not RUNNING; nothing was changed", op.job_id, job.status.label()));
    }
    let checked = preflight::check(
        &op.target,
        op.requested_strategy,
        job,
        cluster,
        obs.savepoint_directory.as_deref(),
        op.artifact.is_some(),
        op.autoscaling,
    );
    let mut plan = match checked {
        Ok(plan) => plan,
        Err(failures) => {
            let messages = failures.iter().map(|failure| failure.message.as_str()).collect::<Vec<_>>().join("; ");
            return fail(now_ms, format!("pre-flight failed: {messages}; nothing was changed"));
        }
    };
    let checkpoint = obs.latest_checkpoint.as_ref();
    let budget_ms = restore_budget_ms(op.verify_timeout_ms, checkpoint);
    plan.verify_timeout_ms = Some(budget_ms);
    let budget = describe_budget(budget_ms, op.verify_timeout_ms, checkpoint);
    let (to, message) = match plan.strategy {
        ResolvedStrategy::Savepoint => (
            Phase::Stopping { trigger_id: derive_flink_id(&op.id, STOP_TRIGGER_PURPOSE) },
            format!(
                "savepoint strategy: stopping job {} with a savepoint, then restarting it at {}; {budget}",
                op.job_id,
                describe_parallelism(job, &plan.target)
            ),
        ),
        ResolvedStrategy::InPlace => (
            Phase::Applying { since_ms: now_ms },
            format!(
                "in-place strategy: rescaling job {} to {}; {budget}",
                op.job_id,
                describe_parallelism(job, &plan.target)
            ),
        ),
        ResolvedStrategy::MsfUpdate => (
            match msf_start(op, job, now_ms) {
                Ok(phase) => phase,
                Err(decision) => return *decision,
            },
            format!(
                "MSF: taking snapshot {} of application {}, then updating it to {} from that snapshot; {budget}",
                msf_snapshot_name(&op.id),
                job.name,
                describe_parallelism(job, &plan.target)
            ),
        ),
    };
    Decision::Transition {
        to,
        event: OperationEvent::by_system(now_ms, event_kind::EXECUTION_STARTED, format!("{message}{override_note}")),
        plan: Some(plan),
    }
}

/// The MSF path's first phase: the request's snapshot, under the token the application has now.
fn msf_start(op: &Operation, job: &crate::flink::JobView, now_ms: u64) -> Result<Phase, Box<Decision>> {
    let Some(application) = &job.application else {
        return Err(Box::new(fail(
            now_ms,
            "the MSF path applies to MSF applications only; nothing was changed".to_owned(),
        )));
    };
    let Some(token) = &application.conditional_token else {
        let reason = format!("MSF answered no conditional token for {}; nothing was changed", application.name);
        return Err(Box::new(fail(now_ms, reason)));
    };
    Ok(Phase::Snapshotting {
        snapshot_name: msf_snapshot_name(&op.id),
        conditional_token: token.clone(),
        since_ms: now_ms,
    })
}
