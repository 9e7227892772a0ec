//! The HTTP channels: a signed JSON `webhook` (`sign.rs`) and a Slack incoming webhook, one
//! POST each.

use rescaler_shared::notify::{DeliveryAttempt, Notification, slack_message};

use super::{SEND_TIMEOUT, now_ms, sign};
use crate::config::{ChannelConfig, ChannelKind};

/// One POST to an HTTP channel; answers the attempt, never an error.
pub async fn post(http: &reqwest::Client, channel: &ChannelConfig, notification: &Notification) -> DeliveryAttempt {
    let body = match channel.kind {
        ChannelKind::Slack => serde_json::to_vec(&slack_message(notification)),
        _ => serde_json::to_vec(notification),
    }
    .unwrap_or_default();
    let timestamp_secs = now_ms() / 1000;
    let mut request = http
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

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", SEND_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect to the receiver".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
