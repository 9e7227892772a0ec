//! Notifications of a recurring schedule's own events: asked for (to those who may approve it),
//! approved, rejected, cancelled or expired (to its requester), an occurrence skipped or missed
//! (to both). Each occurrence's request notifies as any request does (without a second
//! `requested`: [`NotifyEvent::of_event`]).
//!
//! A schedule drops its oldest events once it has many, so a delivery is keyed by the event's
//! time and kind (`subject`), not by its index.

use super::recipients::gather;
use super::{Notification, NotifyEvent, Person, Recipients};
use crate::access::{Role, same_user};
use crate::console_path;
use crate::operation::{OperationEvent, event_kind};
use crate::recurring::{RecurringSchedule, schedule_event};
use crate::user_action::{ScheduleAction, schedule_refusal};

impl NotifyEvent {
    /// The notification a schedule event of this kind sends, if any: its `requested`, the
    /// `schedule_activated` of its last approval, its end, a skipped or missed occurrence.
    pub fn of_schedule_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            event_kind::REQUESTED => Self::ScheduleRequested,
            schedule_event::ACTIVATED => Self::ScheduleApproved,
            event_kind::REJECTED => Self::ScheduleRejected,
            event_kind::CANCELLED => Self::ScheduleCancelled,
            event_kind::EXPIRED => Self::ScheduleExpired,
            schedule_event::OCCURRENCE_SKIPPED => Self::OccurrenceSkipped,
            schedule_event::OCCURRENCE_MISSED => Self::OccurrenceMissed,
            _ => return None,
        })
    }
}

/// What the deliveries of one schedule event are stored under: the schedule, the event's time
/// and kind, stable however many older events the schedule dropped.
pub fn schedule_subject(schedule_id: &str, event: &OperationEvent) -> String {
    format!("schedule-{schedule_id}-{:013}-{}", event.at_ms, event.kind)
}

impl Notification {
    /// The notification of `event`, one of `schedule`'s own events, if it notifies.
    pub fn of_schedule(
        schedule: &RecurringSchedule,
        event: &OperationEvent,
        delivery_id: String,
        console_base: Option<&str>,
    ) -> Option<Self> {
        let steps: Vec<String> = schedule.steps.iter().map(|step| step.describe()).collect();
        Some(Self {
            delivery_id,
            event: NotifyEvent::of_schedule_kind(&event.kind)?,
            operation_id: String::new(),
            schedule_id: Some(schedule.id.clone()),
            cluster_id: schedule.cluster_id.clone(),
            job_id: schedule.job_id.clone(),
            job_name: schedule.job_name.clone(),
            target: steps.join("; "),
            reason: schedule.reason.clone(),
            requested_by: schedule.requested_by.clone(),
            actor: event.actor.clone(),
            message: event.message.clone(),
            at_ms: event.at_ms,
            console_url: console_base.map(|base| console_path::absolute(base, &console_path::schedule(&schedule.id))),
        })
    }
}

/// The people a schedule's `event` is for, among `people`: those the one rule lets approve it
/// ([`schedule_refusal`]) for `schedule_requested`, its requester for its end, both for an
/// occurrence skipped or missed.
pub fn schedule_people(event: NotifyEvent, schedule: &RecurringSchedule, people: &[Person], now_ms: u64) -> Recipients {
    gather(event.audience(), Some(&schedule.requested_by), people, |person| {
        let identity = person.identity();
        if event == NotifyEvent::ScheduleRequested {
            schedule_refusal(schedule, &identity, ScheduleAction::Approve, now_ms).is_none()
        } else {
            // Once active nobody may approve it: the approvers of its cluster hear of a skip.
            identity.can(&schedule.cluster_id, Role::Approver) && !same_user(&person.name, &schedule.requested_by)
        }
    })
}
