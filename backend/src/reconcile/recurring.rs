//! Recurring schedules in the engine: each pass, every live schedule whose occurrence is due
//! gets its rescale request, which the phase machine then carries like any other (windows,
//! freezes, the start's pre-flight, rollback).
//!
//! Intent before effect: the occurrence is first recorded on the schedule as `pending`, with a
//! lease (compare-and-swap, so one reconciler holds it), then its request is created under an
//! id derived from (schedule, occurrence) if it is absent, then the outcome is recorded and the
//! schedule moves past it (compare-and-swap). A crash at any point leaves the pending intent,
//! which the next holder finishes: two reconcilers, or one that crashed after the create, make
//! exactly one request. An occurrence whose job already has an open request is skipped, and
//! the schedule's event says why; one missed by more than the grace is reported missed.

use rescaler_shared::operation::OperationEvent;
use rescaler_shared::recurring::{
    Due, Occurrence, OccurrenceJob, PendingOccurrence, RecurringSchedule, due, occurrence_operation,
    occurrence_operation_id, schedule_event,
};
use rescaler_shared::schedule::{UtcOffset, describe_instant};

use super::{Engine, LEASE_MS, ReconcileError};
use crate::records::{CreateError, link_artifact};
use crate::store::Version;

impl Engine {
    /// One look at every live schedule; errors are logged, never fail the pass.
    pub(super) async fn recurring_pass(&self) {
        let ids = match self.records.live_schedule_ids().await {
            Ok(ids) => ids,
            Err(error) => return tracing::warn!(%error, "cannot list the live schedules"),
        };
        for id in ids {
            if let Err(error) = self.step_schedule(&id).await {
                tracing::warn!(schedule.id = %id, %error, "schedule step failed");
            }
        }
    }

    async fn step_schedule(&self, id: &str) -> Result<(), ReconcileError> {
        let Some((mut schedule, version)) = self.records.schedule(id).await? else {
            return Ok(self.records.release_schedule(id).await?);
        };
        let now = self.now();
        let events_before = schedule.events.len();
        if schedule.state.is_ended() {
            return Ok(self.records.release_schedule(id).await?);
        }
        if schedule.expire_if_due(now) {
            self.records.replace_schedule(&schedule, &version).await?;
            self.records.audit_schedule_events(&schedule, events_before).await?;
            return Ok(self.records.release_schedule(id).await?);
        }
        if let Some(mut pending) = schedule.pending.clone() {
            if pending.owner != self.owner && now < pending.until_ms {
                return Ok(());
            }
            // Taken over (its holder crashed) or resumed: hold it again before acting.
            (pending.owner, pending.until_ms) = (self.owner.clone(), now + LEASE_MS);
            schedule.pending = Some(pending.clone());
            let version = self.records.replace_schedule(&schedule, &version).await?;
            return self.materialize(schedule, version, pending).await;
        }
        match due(&schedule, now) {
            Due::Nothing => Ok(()),
            Due::Missed { first_ms, last_ms, step, count } => {
                let reason = format!(
                    "{count} occurrence(s) from {} to {} missed by more than the grace; not run late",
                    describe_instant(first_ms, UtcOffset(0)),
                    describe_instant(last_ms, UtcOffset(0))
                );
                let occurrence = Occurrence { at_ms: last_ms, step, operation_id: None, skipped: Some(reason.clone()) };
                let event = OperationEvent::by_system(now, schedule_event::OCCURRENCE_MISSED, reason);
                schedule.record_occurrence(occurrence, event);
                self.records.replace_schedule(&schedule, &version).await?;
                Ok(self.records.audit_schedule_events(&schedule, events_before).await?)
            }
            Due::Run { at_ms, step } => {
                let pending = PendingOccurrence {
                    at_ms,
                    step,
                    operation_id: occurrence_operation_id(&schedule.id, at_ms),
                    owner: self.owner.clone(),
                    until_ms: now + LEASE_MS,
                };
                schedule.pending = Some(pending.clone());
                let version = self.records.replace_schedule(&schedule, &version).await?;
                self.materialize(schedule, version, pending).await
            }
        }
    }

    /// Creates the occurrence's request if it is absent, then records the outcome.
    async fn materialize(
        &self,
        mut schedule: RecurringSchedule,
        version: Version,
        pending: PendingOccurrence,
    ) -> Result<(), ReconcileError> {
        let events_before = schedule.events.len();
        let when = describe_instant(pending.at_ms, UtcOffset(0));
        let skipped = match self.records.operation(&pending.operation_id).await? {
            Some(_) => None,
            None => self.create_occurrence(&schedule, &pending).await?,
        };
        let (occurrence, event) = match skipped {
            None => (
                Occurrence {
                    at_ms: pending.at_ms,
                    step: pending.step,
                    operation_id: Some(pending.operation_id.clone()),
                    skipped: None,
                },
                OperationEvent::by_system(
                    self.now(),
                    schedule_event::OCCURRENCE_CREATED,
                    format!("the occurrence at {when} is rescale request {}", pending.operation_id),
                ),
            ),
            Some(reason) => (
                Occurrence {
                    at_ms: pending.at_ms,
                    step: pending.step,
                    operation_id: None,
                    skipped: Some(reason.clone()),
                },
                OperationEvent::by_system(
                    self.now(),
                    schedule_event::OCCURRENCE_SKIPPED,
                    format!("the occurrence at {when} is skipped: {reason}"),
                ),
            ),
        };
        schedule.record_occurrence(occurrence, event);
        self.records.replace_schedule(&schedule, &version).await?;
        Ok(self.records.audit_schedule_events(&schedule, events_before).await?)
    }

    /// Creates the request of an occurrence; answers why it was skipped, if it was.
    async fn create_occurrence(
        &self,
        schedule: &RecurringSchedule,
        pending: &PendingOccurrence,
    ) -> Result<Option<String>, ReconcileError> {
        let deployment = self.records.deployment(&schedule.cluster_id, &schedule.deployment_id).await?;
        let job_id = deployment.map_or_else(|| schedule.job_id.clone(), |deployment| deployment.current_job_id);
        let artifact = self.records.job_link(&schedule.cluster_id, &job_id).await?.as_ref().map(link_artifact);
        let job = OccurrenceJob { job_id, job_name: schedule.job_name.clone(), artifact };
        let operation = occurrence_operation(schedule, pending, job, self.now());
        match self.records.create_operation(&operation).await {
            Ok(_) => {
                self.records.audit_operation_events(&operation, 0).await?;
                tracing::info!(schedule.id = %schedule.id, operation.id = %operation.id, "occurrence created");
                Ok(None)
            }
            Err(CreateError::JobBusy { job_id, operation_id }) => {
                Ok(Some(format!("job {job_id} already has an open rescale request ({operation_id})")))
            }
            Err(CreateError::Store(error)) => Err(error.into()),
        }
    }
}
