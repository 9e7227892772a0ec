//! The notification outbox: one [`Delivery`] per (operation event, channel) at
//! `notifications/<op>/<event index>-<channel>.json`, created only if absent (so the API, a
//! reconciler, a second reconciler or the backfill after a crash create it once), and a
//! `outbox/<delivery id>.json` marker while it is pending, which is all a delivery pass lists.
//! An email delivery's recipients are resolved when it is enqueued (the channel's fixed `to`,
//! and the people the event concerns when it writes to people) and stored on it, so every
//! attempt writes to the same people; one for nobody known is stored as `unaddressed`, unsent.
//! An out-of-band change (no request's) is stored the same way under its own subject,
//! `out-of-band-<deployment>-<when seen>`, as event 0.

use std::collections::BTreeMap;

use rescaler_shared::deployment::Deployment;
use rescaler_shared::drift::OutOfBand;
use rescaler_shared::notify::{
    Delivery, DeliveryStatus, Notification, NotifyEvent, Person, Recipients, Route, channels_for, cluster_approvers,
    people_for, schedule_people, schedule_subject,
};
use rescaler_shared::operation::Operation;
use rescaler_shared::recurring::RecurringSchedule;

use super::users::SeenUsers;
use super::{Records, ignore_conflict};
use crate::store::{JsonStore, StoreResult, Version};

/// Which events go where, the console's address for the links, whom email channels write to,
/// and the people those may reach.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub routes: Vec<Route>,
    pub console_url: Option<String>,
    /// The email channels, by id.
    pub email: BTreeMap<String, EmailRouting>,
    /// The configured users (`tokens` mode), looked up before the user directory.
    pub configured_people: Vec<Person>,
    /// The directory entries this process last wrote or read (`users.rs`).
    pub seen_users: SeenUsers,
}

/// Whom one email channel writes to.
#[derive(Debug, Clone, Default)]
pub struct EmailRouting {
    /// Fixed addresses, for every event routed to it.
    pub to: Vec<String>,
    /// Whether it also writes to the people each event concerns.
    pub to_people: bool,
}

impl Routing {
    /// Whether some email channel writes to people (and so the user directory is kept).
    pub fn writes_to_people(&self) -> bool {
        self.email.values().any(|email| email.to_people)
    }
}

fn delivery_key(operation_id: &str, index: usize, channel_id: &str) -> String {
    format!("notifications/{operation_id}/{index:04}-{channel_id}.json")
}

fn marker_key(delivery_id: &str) -> String {
    format!("outbox/{delivery_id}.json")
}

/// Where a pending delivery's marker points.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutboxMarker {
    pub key: String,
}

impl Records {
    /// Records with notifications routed by `routing`.
    pub fn with_routing(mut self, routing: Routing) -> Self {
        self.routing = std::sync::Arc::new(routing);
        self
    }

    /// Stores the deliveries the operation's events from index `from` on ask for: the entry,
    /// then its pending marker, each created only if absent. An entry already there (delivered
    /// or not) is left alone, so nothing is ever sent twice for one event and channel.
    pub async fn enqueue_notifications(&self, operation: &Operation, from: usize, now_ms: u64) -> StoreResult<()> {
        if self.routing.routes.is_empty() {
            return Ok(());
        }
        let mut writes = Vec::new();
        let mut people = None;
        for index in from..operation.events.len() {
            let Some(kind) = NotifyEvent::of_event(operation, index) else { continue };
            for channel_id in channels_for(&self.routing.routes, &operation.cluster_id, kind) {
                let id = Delivery::id_of(&operation.id, index, &channel_id);
                let console = self.routing.console_url.as_deref();
                let Some(notification) = Notification::of(operation, index, id.clone(), console) else { continue };
                let mut delivery = pending(id, &operation.id, index, &channel_id, notification, now_ms);
                if let Some(email) = self.routing.email.get(&channel_id) {
                    if email.to_people && people.is_none() {
                        people = Some(self.people().await?);
                    }
                    address(&mut delivery, email, kind, operation, people.as_deref().unwrap_or_default());
                }
                writes.push(self.enqueue(delivery));
            }
        }
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    /// Stores the deliveries of the out-of-band change the drift check claimed on
    /// `deployment`, each created only if absent (the check writes them again after a crash).
    pub async fn enqueue_out_of_band(
        &self,
        deployment: &Deployment,
        change: &OutOfBand,
        now_ms: u64,
    ) -> StoreResult<()> {
        let channels = channels_for(&self.routing.routes, &deployment.cluster_id, NotifyEvent::OutOfBand);
        if channels.is_empty() {
            return Ok(());
        }
        let subject = out_of_band_subject(&deployment.id, change.at_ms);
        let people = match self.routing.email.values().any(|email| email.to_people) {
            true => self.people().await?,
            false => Vec::new(),
        };
        let mut writes = Vec::new();
        for channel_id in channels {
            let id = Delivery::id_of(&subject, 0, &channel_id);
            let notification =
                Notification::out_of_band(deployment, change, id.clone(), self.routing.console_url.as_deref());
            let mut delivery = pending(id, &subject, 0, &channel_id, notification, now_ms);
            if let Some(email) = self.routing.email.get(&channel_id) {
                let found = email.to_people.then(|| cluster_approvers(&deployment.cluster_id, &people));
                set_recipients(&mut delivery, email, found.unwrap_or_default());
            }
            writes.push(self.enqueue(delivery));
        }
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    /// Stores the deliveries of `schedule`'s own events from index `from` on (its request, its
    /// approval or end, a skipped or missed occurrence), each created only if absent, under
    /// the event's time and kind ([`schedule_subject`]).
    pub async fn enqueue_schedule_notifications(
        &self,
        schedule: &RecurringSchedule,
        from: usize,
        now_ms: u64,
    ) -> StoreResult<()> {
        if self.routing.routes.is_empty() {
            return Ok(());
        }
        let mut writes = Vec::new();
        let mut people = None;
        for event in schedule.events.iter().skip(from) {
            let Some(kind) = NotifyEvent::of_schedule_kind(&event.kind) else { continue };
            let subject = schedule_subject(&schedule.id, event);
            for channel_id in channels_for(&self.routing.routes, &schedule.cluster_id, kind) {
                let id = Delivery::id_of(&subject, 0, &channel_id);
                let console = self.routing.console_url.as_deref();
                let Some(notification) = Notification::of_schedule(schedule, event, id.clone(), console) else {
                    continue;
                };
                let mut delivery = pending(id, &subject, 0, &channel_id, notification, now_ms);
                if let Some(email) = self.routing.email.get(&channel_id) {
                    if email.to_people && people.is_none() {
                        people = Some(self.people().await?);
                    }
                    let people = people.as_deref().unwrap_or_default();
                    let found = email.to_people.then(|| schedule_people(kind, schedule, people, now_ms));
                    set_recipients(&mut delivery, email, found.unwrap_or_default());
                }
                writes.push(self.enqueue(delivery));
            }
        }
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    async fn enqueue(&self, delivery: Delivery) -> StoreResult<()> {
        let key = delivery_key(&delivery.operation_id, delivery.event_index, &delivery.channel_id);
        match self.store.create_json(&key, &delivery).await {
            Ok(_) => {}
            Err(error) if error.is_conflict() => {
                // Already stored: only a pending one may still lack its marker (a crash
                // between the two creates).
                let Some((stored, _)) = self.store.get_json::<Delivery>(&key).await? else { return Ok(()) };
                if stored.status != DeliveryStatus::Pending {
                    return Ok(());
                }
            }
            Err(error) => return Err(error),
        }
        if delivery.status != DeliveryStatus::Pending {
            return Ok(());
        }
        ignore_conflict(self.store.create_json(&marker_key(&delivery.id), &OutboxMarker { key }).await)
    }

    /// The pending deliveries' markers: (marker key, delivery key).
    pub async fn pending_deliveries(&self) -> StoreResult<Vec<(String, String)>> {
        let mut pending = Vec::new();
        for marker in self.store.list("outbox/").await? {
            if let Some((OutboxMarker { key }, _)) = self.store.get_json::<OutboxMarker>(&marker).await? {
                pending.push((marker, key));
            }
        }
        Ok(pending)
    }

    pub async fn delivery(&self, key: &str) -> StoreResult<Option<(Delivery, Version)>> {
        self.store.get_json(key).await
    }

    /// Compare-and-swap write of a delivery (a claim, or an attempt's result).
    pub async fn replace_delivery(&self, delivery: &Delivery, expected: &Version) -> StoreResult<Version> {
        let key = delivery_key(&delivery.operation_id, delivery.event_index, &delivery.channel_id);
        self.store.replace_json(&key, delivery, expected).await
    }

    /// Drops a pending marker once its delivery is delivered or given up.
    pub async fn drop_outbox_marker(&self, marker: &str) -> StoreResult<()> {
        self.store.delete(marker).await
    }

    /// The operation's delivery log, in event order, then by channel.
    pub async fn deliveries_of(&self, operation_id: &str) -> StoreResult<Vec<Delivery>> {
        let mut deliveries = Vec::new();
        for key in self.store.list(&format!("notifications/{operation_id}/")).await? {
            if let Some((delivery, _)) = self.store.get_json::<Delivery>(&key).await? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }
}

/// A new delivery of `notification`, due now.
fn pending(
    id: String,
    subject: &str,
    event_index: usize,
    channel_id: &str,
    notification: Notification,
    now_ms: u64,
) -> Delivery {
    Delivery {
        id,
        operation_id: subject.to_owned(),
        event_index,
        channel_id: channel_id.to_owned(),
        status: DeliveryStatus::Pending,
        created_at_ms: now_ms,
        next_attempt_at_ms: now_ms,
        attempts: Vec::new(),
        claimed_by: None,
        claimed_until_ms: 0,
        notification,
        recipients: Vec::new(),
        unaddressed: Vec::new(),
    }
}

/// The subject the deliveries of an out-of-band change are stored and listed under.
pub fn out_of_band_subject(deployment_id: &str, at_ms: u64) -> String {
    format!("out-of-band-{deployment_id}-{at_ms}")
}

/// Sets the recipients of an operation event's email delivery ([`set_recipients`]).
fn address(
    delivery: &mut Delivery,
    email: &EmailRouting,
    event: NotifyEvent,
    operation: &Operation,
    people: &[Person],
) {
    let found = email.to_people.then(|| people_for(event, operation, people));
    set_recipients(delivery, email, found.unwrap_or_default());
}

/// The channel's fixed addresses, then `found` (the people the event concerns, when the
/// channel writes to people); with none at all the delivery is `unaddressed`, never sent.
fn set_recipients(delivery: &mut Delivery, email: &EmailRouting, found: Recipients) {
    delivery.recipients = email.to.clone();
    for address in found.addresses {
        if !delivery.recipients.iter().any(|known| known.eq_ignore_ascii_case(&address)) {
            delivery.recipients.push(address);
        }
    }
    delivery.unaddressed = found.unaddressed;
    if delivery.recipients.is_empty() {
        delivery.status = DeliveryStatus::Unaddressed;
    }
}
