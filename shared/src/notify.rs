//! Notifications, pure: which operation events notify (`NotifyEvent::of_event`), which channels
//! a cluster's routes send them to (`channels_for`), what a message says (`Notification`,
//! `slack_message`), when a failed delivery is tried again (`retry_delay`), and the outbox
//! entry the backend stores per (event, channel) (`Delivery`), which the API answers as the
//! request's delivery log; whom an event concerns, for mail to people (`recipients`).

mod recipients;
mod schedule;

pub use recipients::{Audience, Person, Recipients, cluster_approvers, people_for};
pub use schedule::{schedule_people, schedule_subject};

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::console_path;
use crate::deployment::Deployment;
use crate::drift::OutOfBand;
use crate::operation::{Operation, Target, event_kind};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Requested,
    Approved,
    Rejected,
    Cancelled,
    Expired,
    Started,
    Completed,
    RolledBack,
    Failed,
    /// The drift check saw a managed job changed outside the product (not an operation's event).
    OutOfBand,
    /// A recurring schedule's own events (`notify/schedule.rs`): requested, approved (active),
    /// rejected, cancelled, expired unapproved, an occurrence skipped or missed.
    ScheduleRequested,
    ScheduleApproved,
    ScheduleRejected,
    ScheduleCancelled,
    ScheduleExpired,
    OccurrenceSkipped,
    OccurrenceMissed,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 17] = [
        Self::Requested,
        Self::Approved,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
        Self::Started,
        Self::Completed,
        Self::RolledBack,
        Self::Failed,
        Self::OutOfBand,
        Self::ScheduleRequested,
        Self::ScheduleApproved,
        Self::ScheduleRejected,
        Self::ScheduleCancelled,
        Self::ScheduleExpired,
        Self::OccurrenceSkipped,
        Self::OccurrenceMissed,
    ];

    /// The notification an operation event of this kind sends, if any: `approval_complete`
    /// (the last approval, or break-glass) is `approved`, `execution_started` is `started`,
    /// `verified` is `completed`.
    pub fn of_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            event_kind::REQUESTED => Self::Requested,
            event_kind::APPROVAL_COMPLETE => Self::Approved,
            event_kind::REJECTED => Self::Rejected,
            event_kind::CANCELLED => Self::Cancelled,
            event_kind::EXPIRED => Self::Expired,
            event_kind::EXECUTION_STARTED => Self::Started,
            event_kind::VERIFIED => Self::Completed,
            event_kind::ROLLED_BACK => Self::RolledBack,
            event_kind::FAILED => Self::Failed,
            _ => return None,
        })
    }

    /// The notification the operation's event at `index` sends, if any: [`Self::of_kind`],
    /// except the `requested` of a recurring schedule's occurrence, whose schedule was already
    /// requested and approved (its approvers heard of it then).
    pub fn of_event(operation: &Operation, index: usize) -> Option<Self> {
        let kind = Self::of_kind(&operation.events.get(index)?.kind)?;
        (kind != Self::Requested || operation.schedule_id.is_none()).then_some(kind)
    }

    /// The snake_case name the configuration's routes and the wire use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Started => "started",
            Self::Completed => "completed",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
            Self::OutOfBand => "out_of_band",
            Self::ScheduleRequested => "schedule_requested",
            Self::ScheduleApproved => "schedule_approved",
            Self::ScheduleRejected => "schedule_rejected",
            Self::ScheduleCancelled => "schedule_cancelled",
            Self::ScheduleExpired => "schedule_expired",
            Self::OccurrenceSkipped => "occurrence_skipped",
            Self::OccurrenceMissed => "occurrence_missed",
        }
    }

    /// The headline's verb: "Rescale requested", "Rescale rolled back".
    fn headline(self) -> &'static str {
        match self {
            Self::Requested => "Rescale requested",
            Self::Approved => "Rescale approved",
            Self::Rejected => "Rescale rejected",
            Self::Cancelled => "Rescale cancelled",
            Self::Expired => "Rescale request expired",
            Self::Started => "Rescale started",
            Self::Completed => "Rescale completed",
            Self::RolledBack => "Rescale rolled back",
            Self::Failed => "Rescale failed",
            Self::OutOfBand => "Changed outside the console",
            Self::ScheduleRequested => "Recurring schedule requested",
            Self::ScheduleApproved => "Recurring schedule approved",
            Self::ScheduleRejected => "Recurring schedule rejected",
            Self::ScheduleCancelled => "Recurring schedule cancelled",
            Self::ScheduleExpired => "Recurring schedule expired unapproved",
            Self::OccurrenceSkipped => "Scheduled rescale skipped",
            Self::OccurrenceMissed => "Scheduled rescale missed",
        }
    }
}

/// One routing rule: events of these kinds on these clusters go to these channels. `*` in
/// `clusters` or `events` matches every one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub clusters: Vec<String>,
    pub events: Vec<String>,
    pub channels: Vec<String>,
}

impl Route {
    fn matches(&self, cluster_id: &str, event: NotifyEvent) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|item| item == "*" || item == value);
        any(&self.clusters, cluster_id) && any(&self.events, event.as_str())
    }
}

/// The channels an event on a cluster goes to, each once, sorted.
pub fn channels_for(routes: &[Route], cluster_id: &str, event: NotifyEvent) -> Vec<String> {
    let mut channels: Vec<String> = routes
        .iter()
        .filter(|route| route.matches(cluster_id, event))
        .flat_map(|route| route.channels.iter().cloned())
        .collect();
    channels.sort();
    channels.dedup();
    channels
}

/// An event name of a route that is not a [`NotifyEvent`] (nor `*`), for the configuration's
/// check.
pub fn unknown_event(route: &Route) -> Option<&str> {
    route
        .events
        .iter()
        .find(|name| *name != "*" && !NotifyEvent::ALL.iter().any(|event| event.as_str() == *name))
        .map(String::as_str)
}

/// The default back-off between attempts, in seconds: after the first failure 5 s, then 30 s,
/// 2 min, 10 min; the delivery is given up after the fifth failed attempt.
pub const DEFAULT_RETRY_DELAYS_SECS: [u64; 4] = [5, 30, 120, 600];

/// How long to wait after `failed_attempts` failed attempts, or `None` when the delivery is
/// given up (one more attempt than there are delays).
pub fn retry_delay(delays_secs: &[u64], failed_attempts: usize) -> Option<u64> {
    failed_attempts.checked_sub(1).and_then(|index| delays_secs.get(index)).copied()
}

/// What a notification says: the JSON body of a `webhook` channel, and what a `slack` message
/// is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// The delivery's idempotency key, also sent as the `X-Rescaler-Delivery` header.
    pub delivery_id: String,
    pub event: NotifyEvent,
    /// The request's id; absent for an out-of-band change or a schedule's event, which are no
    /// request's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_id: String,
    /// The recurring schedule's id, for its own events (and for its occurrences' requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    pub cluster_id: String,
    pub job_id: String,
    pub job_name: String,
    /// The target, as the console shows it ("parallelism 4", "source: 2, sink: 3"); for an
    /// out-of-band change, how the job runs now.
    pub target: String,
    /// The request's reason and requester; absent for an out-of-band change.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requested_by: String,
    /// Who caused the event; `None` for the backend itself.
    pub actor: Option<String>,
    /// The event's own sentence (a failure's reason and savepoint location included).
    pub message: String,
    pub at_ms: u64,
    /// The request's page in the console (the job's, for an out-of-band change), when the
    /// console's address is configured.
    pub console_url: Option<String>,
}

impl Notification {
    /// The notification of the operation's event at `index`, if that event notifies.
    pub fn of(operation: &Operation, index: usize, delivery_id: String, console_base: Option<&str>) -> Option<Self> {
        let event = operation.events.get(index)?;
        Some(Self {
            delivery_id,
            event: NotifyEvent::of_event(operation, index)?,
            operation_id: operation.id.clone(),
            schedule_id: operation.schedule_id.clone(),
            cluster_id: operation.cluster_id.clone(),
            job_id: operation.job_id.clone(),
            job_name: operation.job_name.clone(),
            target: operation.target.describe(),
            reason: operation.reason.clone(),
            requested_by: operation.requested_by.clone(),
            actor: event.actor.clone(),
            message: event.message.clone(),
            at_ms: event.at_ms,
            console_url: console_base.map(|base| console_path::absolute(base, &console_path::request(&operation.id))),
        })
    }

    /// The notification of an out-of-band change the drift check claimed on `deployment`.
    pub fn out_of_band(
        deployment: &Deployment,
        change: &OutOfBand,
        delivery_id: String,
        console_base: Option<&str>,
    ) -> Self {
        let job_id = change.seen.job_id.clone();
        Self {
            delivery_id,
            event: NotifyEvent::OutOfBand,
            operation_id: String::new(),
            schedule_id: None,
            cluster_id: deployment.cluster_id.clone(),
            job_name: deployment.name.clone(),
            target: running_as(&change.seen.parallelism),
            reason: String::new(),
            requested_by: String::new(),
            actor: None,
            message: change.message.clone(),
            at_ms: change.at_ms,
            console_url: console_base
                .map(|base| console_path::absolute(base, &console_path::job(&deployment.cluster_id, &job_id))),
            job_id,
        }
    }

    /// What the console link opens, in words.
    pub fn link_label(&self) -> &'static str {
        match (self.operation_id.is_empty(), &self.schedule_id) {
            (false, _) => "Open the request in the console",
            (true, Some(_)) => "Open the schedule in the console",
            (true, None) => "Open the job in the console",
        }
    }

    /// The labelled lines of a message under its headline: who asked and why (a request's),
    /// and who acted when someone else did.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        if !self.requested_by.is_empty() {
            lines.push(("Requested by", self.requested_by.clone()));
        }
        if !self.reason.is_empty() {
            lines.push(("Reason", self.reason.clone()));
        }
        if let Some(actor) = self.actor.as_ref().filter(|actor| **actor != self.requested_by) {
            lines.push(("By", actor.clone()));
        }
        lines
    }

    /// One line: "Rescale requested: job `name` on cluster `c` → parallelism 4".
    pub fn headline(&self) -> String {
        format!("{}: job {} on cluster {} → {}", self.event.headline(), self.job_name, self.cluster_id, self.target)
    }
}

/// "parallelism 3" when every vertex runs at one parallelism, else "a: 2, b: 3".
fn running_as(parallelism: &BTreeMap<String, u32>) -> String {
    let mut values = parallelism.values();
    match values.next() {
        Some(first) if values.all(|value| value == first) => Target::Uniform { parallelism: *first }.describe(),
        Some(_) => Target::PerVertex { parallelism: parallelism.clone() }.describe(),
        None => "not running".to_owned(),
    }
}

/// The body of a Slack incoming webhook: the headline, who and why, the event's sentence, and
/// a link to the request (or the job) in the console.
pub fn slack_message(notification: &Notification) -> serde_json::Value {
    let mut details: String =
        notification.details().into_iter().map(|(label, value)| format!("*{label}* {value}\n")).collect();
    details.push_str(&notification.message);
    let mut blocks = vec![
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", notification.headline())}}),
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": details}}),
    ];
    let mut text = notification.headline();
    if let Some(url) = &notification.console_url {
        blocks.push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("<{url}|{}>", notification.link_label())}}));
        text.push_str(&format!(" — {url}"));
    }
    serde_json::json!({"text": text, "blocks": blocks})
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_at_ms`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; given up.
    Undeliverable,
    /// Not sent: an email to people none of whose addresses is known (see `unaddressed`).
    Unaddressed,
}

/// One try to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub at_ms: u64,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
}

/// One outbox entry: one event of one operation to one channel, with every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// `<operation id>-<event index>-<channel id>`: the idempotency key receivers dedupe by.
    pub id: String,
    pub operation_id: String,
    pub event_index: usize,
    pub channel_id: String,
    pub status: DeliveryStatus,
    pub created_at_ms: u64,
    pub next_attempt_at_ms: u64,
    #[serde(default)]
    pub attempts: Vec<DeliveryAttempt>,
    /// The reconciler delivering it now, and until when that claim holds.
    #[serde(default)]
    pub claimed_by: Option<String>,
    #[serde(default)]
    pub claimed_until_ms: u64,
    pub notification: Notification,
    /// The addresses an email delivery goes to, resolved when it was enqueued, so that every
    /// attempt writes to the same people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The people an email delivery was for whose address is not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unaddressed: Vec<String>,
}

impl Delivery {
    /// The id of the delivery of event `index` of `operation_id` to `channel_id`.
    pub fn id_of(operation_id: &str, index: usize, channel_id: &str) -> String {
        format!("{operation_id}-{index:04}-{channel_id}")
    }

    /// Whether `owner` may claim it at `now_ms`: pending, due, and claimed by nobody else.
    pub fn claimable(&self, owner: &str, now_ms: u64) -> bool {
        self.status == DeliveryStatus::Pending
            && self.next_attempt_at_ms <= now_ms
            && (self.claimed_until_ms <= now_ms || self.claimed_by.as_deref() == Some(owner))
    }

    /// Records an attempt: delivered, or failed and either due again after the back-off or
    /// given up. Clears the claim.
    pub fn record(&mut self, attempt: DeliveryAttempt, retry_delays_secs: &[u64]) {
        let now_ms = attempt.at_ms;
        let delivered = attempt.error.is_none();
        self.attempts.push(attempt);
        self.claimed_by = None;
        self.claimed_until_ms = 0;
        if delivered {
            self.status = DeliveryStatus::Delivered;
            return;
        }
        let failed = self.attempts.iter().filter(|attempt| attempt.error.is_some()).count();
        match retry_delay(retry_delays_secs, failed) {
            Some(delay_secs) => self.next_attempt_at_ms = now_ms + delay_secs * 1000,
            None => self.status = DeliveryStatus::Undeliverable,
        }
    }
}
