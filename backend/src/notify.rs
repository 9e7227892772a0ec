//! Delivering notifications from the outbox (`records/outbox.rs`): a pass lists the pending
//! markers, claims each due delivery by compare-and-swap (like an operation's lease), POSTs it
//! to its channel — a signed JSON `webhook` (`sign.rs`) or a Slack incoming webhook —, and
//! records the attempt by compare-and-swap: delivered, due again after the back-off, or given
//! up ("could not be delivered"). Email (SES, SMTP) would be one more [`ChannelKind`] arm in
//! [`Notifier::send`].
//!
//! Architecture Invariant: delivery never fails or slows a rescale. [`Engine::pass`] starts a
//! delivery pass in the background (at most one at a time per engine) and never waits for it;
//! every error is logged and recorded on the delivery, never returned to the engine.
//!
//! [`Engine::pass`]: crate::reconcile::Engine::pass

pub mod sign;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rescaler_shared::notify::{Delivery, DeliveryAttempt, DeliveryStatus, Notification, slack_message};

use crate::config::{ChannelConfig, ChannelKind, NotificationsConfig};
use crate::records::{Records, Routing};
use crate::store::StoreError;

/// How long a claim keeps other reconcilers off one delivery: longer than [`SEND_TIMEOUT`] and
/// the store calls around it.
pub const CLAIM_MS: u64 = 60_000;
/// How long one POST may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The routing part of the configuration, for the records that enqueue.
pub fn routing(config: &NotificationsConfig) -> Routing {
    Routing { routes: config.routes.clone(), console_url: config.console_url.clone() }
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
    retry_delays_secs: Vec<u64>,
    http: reqwest::Client,
    running: AtomicBool,
}

impl Notifier {
    pub fn new(records: Records, config: &NotificationsConfig) -> Self {
        Self {
            records,
            channels: config.channels.iter().map(|channel| (channel.id.clone(), channel.clone())).collect(),
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
                Ok(None) => {}
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
            Some(channel) => self.send(channel, &delivery.notification).await,
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

    /// One POST to a channel; answers the attempt, never an error.
    pub async fn send(&self, channel: &ChannelConfig, notification: &Notification) -> DeliveryAttempt {
        let body = match channel.kind {
            ChannelKind::Webhook => serde_json::to_vec(notification),
            ChannelKind::Slack => serde_json::to_vec(&slack_message(notification)),
        }
        .unwrap_or_default();
        let timestamp_secs = now_ms() / 1000;
        let mut request = self
            .http
            .post(&channel.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(sign::DELIVERY_HEADER, &notification.delivery_id)
            .header(sign::EVENT_HEADER, notification.event.as_str())
            .header(sign::TIMESTAMP_HEADER, timestamp_secs.to_string());
        if let (ChannelKind::Webhook, Some(secret)) = (channel.kind, &channel.secret) {
            request = request.header(sign::SIGNATURE_HEADER, sign::signature(secret, timestamp_secs, &body));
        }
        let result = request.body(body).send().await;
        let at_ms = now_ms();
        match result {
            Ok(response) if response.status().is_success() => {
                DeliveryAttempt { at_ms, status_code: Some(response.status().as_u16()), error: None }
            }
            Ok(response) => DeliveryAttempt {
                at_ms,
                status_code: Some(response.status().as_u16()),
                error: Some(format!("the receiver answered HTTP {}", response.status().as_u16())),
            },
            // Without the URL: it may carry a token (Slack's do).
            Err(error) => DeliveryAttempt { at_ms, status_code: None, error: Some(describe(&error)) },
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0)
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", SEND_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect to the receiver".to_owned()
    } else {
        "the request failed".to_owned()
    }
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
