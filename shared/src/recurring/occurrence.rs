//! The rescale request one occurrence of a schedule becomes: requested by the schedule's
//! requester, approved through the schedule (its approvals copied, with an event naming who
//! approved it and when, so that each request's audit stands alone), not before the occurrence,
//! expiring [`OCCURRENCE_GRACE_MS`] after it.

use super::{OCCURRENCE_GRACE_MS, PendingOccurrence, RecurringSchedule};
use crate::operation::{ArtifactRef, Operation, OperationEvent, OperationRequest, event_kind};
use crate::schedule::{UtcOffset, describe_instant};

/// What the occurrence rescales: the deployment's current job, as the backend read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceJob {
    pub job_id: String,
    pub job_name: String,
    /// What a savepoint rescale resubmits: the job's link.
    pub artifact: Option<ArtifactRef>,
}

/// The request of occurrence `pending` of `schedule`, created at `now_ms`, awaiting the phase
/// machine's `approval_complete` with its approvals already recorded.
pub fn occurrence_operation(
    schedule: &RecurringSchedule,
    pending: &PendingOccurrence,
    job: OccurrenceJob,
    now_ms: u64,
) -> Operation {
    let step = &schedule.steps[pending.step.min(schedule.steps.len().saturating_sub(1))];
    let request = OperationRequest {
        cluster_id: schedule.cluster_id.clone(),
        job_id: job.job_id.clone(),
        job_name: job.job_name,
        target: step.target.clone(),
        strategy: step.strategy,
        reason: format!("schedule {}: {}", schedule.id, schedule.reason),
        requested_by: schedule.requested_by.clone(),
        required_approvals: schedule.required_approvals,
        approval_window_ms: 0,
        verify_timeout_ms: schedule.verify_timeout_ms,
        artifact: job.artifact,
        // A schedule says nothing about MSF autoscaling: an application with it on fails the
        // occurrence's pre-flight, which asks for the decision.
        autoscaling: None,
    };
    let mut operation = Operation::new(pending.operation_id.clone(), request, now_ms);
    let when = describe_instant(pending.at_ms, UtcOffset(0));
    let requested = format!(
        "requested through schedule {} of {}: the occurrence at {when} (step {}: {}), {} strategy: {}",
        schedule.id,
        schedule.requested_by,
        pending.step + 1,
        step.describe(),
        step.strategy.as_str(),
        schedule.reason
    );
    operation.events = vec![OperationEvent::by_user(now_ms, &schedule.requested_by, event_kind::REQUESTED, requested)];
    let approved = format!("approved through schedule {} ({})", schedule.id, schedule.describe_approvals());
    operation.events.push(OperationEvent::by_system(now_ms, event_kind::APPROVED, approved));
    Operation {
        deployment_id: schedule.deployment_id.clone(),
        expires_at_ms: pending.at_ms.saturating_add(OCCURRENCE_GRACE_MS),
        not_before_ms: Some(pending.at_ms),
        approvals: schedule.approvals.clone(),
        stable_for_ms: schedule.stable_for_ms,
        schedule_id: Some(schedule.id.clone()),
        ..operation
    }
}
