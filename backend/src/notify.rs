//! Delivering notifications from the outbox (`records/outbox.rs`): a pass lists the pending
//! markers, claims each due delivery by compare-and-swap (like an operation's lease), sends it
//! to its channel — a signed JSON `webhook` (`sign.rs`) or a Slack incoming webhook
//! (`webhook.rs`), or a mail over SMTP or Amazon SES (`email.rs`) —, and records the attempt by
//! compare-and-swap: delivered, due again after the back-off, or given up ("could not be
//! delivered").
//!
//! Architecture Invariant: delivery never fails or slows a rescale. [`Engine::pass`] starts a
//! delivery pass in the background (at most one at a time per engine) and never waits for it;
//! every error is logged and recorded on the delivery, never returned to the engine.
//!
//! [`Engine::pass`]: crate::reconcile::Engine::pass

pub mod email;
pub mod sign;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rescaler_shared::access::Role;
use rescaler_shared::notify::{Delivery, DeliveryAttempt, DeliveryStatus, Person};

use crate::config::{AuthConfig, ChannelConfig, ChannelKind, NotificationsConfig};
use crate::records::{EmailRouting, Records, Routing};
use crate::store::StoreError;

/// How long a claim keeps other reconcilers off one delivery: longer than [`SEND_TIMEOUT`] and
/// the store calls around it.
pub const CLAIM_MS: u64 = 60_000;
/// How long one POST or one mail may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The routing part of the configuration, for the records that enqueue.
pub fn routing(config: &NotificationsConfig) -> Routing {
    let email = config
        .channels
        .iter()
        .filter(|channel| channel.kind == ChannelKind::Email)
        .map(|channel| (channel.id.clone(), EmailRouting { to: channel.to.clone(), to_people: channel.to_people }))
        .collect();
    Routing { routes: config.routes.clone(), console_url: config.console_url.clone(), email, ..Routing::default() }
}

/// `routing` with the configured users (`tokens` mode) as the people mail may reach.
pub fn routing_with_people(config: &NotificationsConfig, auth: &AuthConfig) -> Routing {
    let AuthConfig::Tokens { users } = auth else { return routing(config) };
    let people = users.iter().map(|user| Person {
        name: user.name.clone(),
        email: user.email.clone(),
        roles: rescaler_shared::access::Roles::new(
            user.roles
                .iter()
                .filter_map(|(cluster, role)| Some((cluster.clone(), role.parse::<Role>().ok()?)))
                .collect(),
        ),
    });
    Routing { configured_people: people.collect(), ..routing(config) }
}

/// Counts of one delivery pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub failed: usize,
    pub given_up: usize,
}

/// Sends what the outbox holds.
pub struct Notifier {
    records: Records,
    channels: HashMap<String, ChannelConfig>,
    mailers: HashMap<String, email::Mailer>,
    retry_delays_secs: Vec<u64>,
    http: reqwest::Client,
    running: AtomicBool,
}

impl Notifier {
    pub fn new(records: Records, config: &NotificationsConfig) -> Self {
        Self {
            records,
            channels: config.channels.iter().map(|channel| (channel.id.clone(), channel.clone())).collect(),
            mailers: config
                .channels
                .iter()
                .filter_map(|channel| Some((channel.id.clone(), email::Mailer::of(channel)?)))
                .collect(),
            retry_delays_secs: config.retry_delays_secs.clone(),
            http: reqwest::Client::builder().timeout(SEND_TIMEOUT).build().unwrap_or_default(),
            running: AtomicBool::new(false),
        }
    }

    /// Starts a delivery pass in the background unless one is still running.
    pub fn spawn_pass(self: &Arc<Self>, owner: &str) {
        if self.channels.is_empty() || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let notifier = self.clone();
        let owner = owner.to_owned();
        tokio::spawn(async move {
            notifier.deliver_due(&owner).await;
            notifier.running.store(false, Ordering::Release);
        });
    }

    /// One pass over the pending deliveries, concurrently. Errors are logged, never returned.
    pub async fn deliver_due(&self, owner: &str) -> DeliveryReport {
        let pending = match self.records.pending_deliveries().await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "cannot list the notification outbox");
                return DeliveryReport::default();
            }
        };
        let outcomes =
            futures::future::join_all(pending.iter().map(|(marker, key)| self.deliver_one(owner, marker, key))).await;
        let mut report = DeliveryReport::default();
        for outcome in outcomes {
            match outcome {
                Ok(Some(DeliveryStatus::Delivered)) => report.delivered += 1,
                Ok(Some(DeliveryStatus::Pending)) => report.failed += 1,
                Ok(Some(DeliveryStatus::Undeliverable)) => report.given_up += 1,
                Ok(Some(DeliveryStatus::Unaddressed) | None) => {}
                Err(error) if error.is_conflict() => {
                    tracing::debug!("another reconciler claimed a delivery first");
                }
                Err(error) => tracing::warn!(%error, "notification delivery pass failed"),
            }
        }
        report
    }

    /// Claims, sends and records one delivery; `None` when it was not due or not ours.
    async fn deliver_one(&self, owner: &str, marker: &str, key: &str) -> Result<Option<DeliveryStatus>, StoreError> {
        let Some((mut delivery, version)) = self.records.delivery(key).await? else {
            return self.records.drop_outbox_marker(marker).await.map(|()| None);
        };
        if delivery.status != DeliveryStatus::Pending {
            return self.records.drop_outbox_marker(marker).await.map(|()| None);
        }
        let now = now_ms();
        if !delivery.claimable(owner, now) {
            return Ok(None);
        }
        // Intent first: the claim keeps other reconcilers off while the POST runs.
        delivery.claimed_by = Some(owner.to_owned());
        delivery.claimed_until_ms = now + CLAIM_MS;
        let claimed = self.records.replace_delivery(&delivery, &version).await?;
        let attempt = match self.channels.get(&delivery.channel_id) {
            Some(channel) => self.send(channel, &delivery).await,
            None => DeliveryAttempt {
                at_ms: now_ms(),
                status_code: None,
                error: Some(format!("channel {} is no longer configured", delivery.channel_id)),
            },
        };
        log_attempt(&delivery, &attempt);
        delivery.record(attempt, &self.retry_delays_secs);
        self.records.replace_delivery(&delivery, &claimed).await?;
        if delivery.status != DeliveryStatus::Pending {
            self.records.drop_outbox_marker(marker).await?;
        }
        Ok(Some(delivery.status))
    }

    /// One try to deliver to a channel; answers the attempt, never an error.
    pub async fn send(&self, channel: &ChannelConfig, delivery: &Delivery) -> DeliveryAttempt {
        match channel.kind {
            ChannelKind::Webhook | ChannelKind::Slack => {
                webhook::post(&self.http, channel, &delivery.notification).await
            }
            ChannelKind::Email => self.mail(channel, delivery).await,
        }
    }

    async fn mail(&self, channel: &ChannelConfig, delivery: &Delivery) -> DeliveryAttempt {
        let result = match (self.mailers.get(&channel.id), channel.from.as_deref()) {
            (Some(mailer), Some(from)) => mailer.send(from, delivery).await,
            _ => Err(format!("channel {} has no usable email settings", channel.id)),
        };
        DeliveryAttempt { at_ms: now_ms(), status_code: None, error: result.err() }
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0)
}

fn log_attempt(delivery: &Delivery, attempt: &DeliveryAttempt) {
    match &attempt.error {
        None => tracing::info!(delivery.id = %delivery.id, channel.id = %delivery.channel_id, "notification delivered"),
        Some(error) => tracing::warn!(
            delivery.id = %delivery.id,
            channel.id = %delivery.channel_id,
            attempt = delivery.attempts.len() + 1,
            %error,
            "notification not delivered"
        ),
    }
}
