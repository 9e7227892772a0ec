//! The request's notifications: each (event, channel) the routes sent it to, delivered, due
//! again, or not delivered, with every attempt's time, HTTP status and error; for mail, to
//! whom, and whom it could not reach for want of an address.

use std::time::Duration;

use leptos::prelude::*;
use rescaler_shared::notify::{Delivery, DeliveryAttempt, DeliveryStatus};

use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format;
use crate::session::use_session;

/// How often the log is read again while a delivery is pending.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// How long after the request's latest event the log is read again even when nothing in it is
/// pending: the backend stores an event's deliveries just after the event, so a read at the
/// event may not have them yet.
const SETTLE_MS: u64 = 30_000;

/// The "Notifications" panel, read again when the request gets a new event, every few seconds
/// while a delivery is pending, and for a while after each new event.
#[component]
pub fn Notifications(
    /// The request.
    operation_id: String,
    /// How many events the request has; a change reads the log again.
    events: Memo<usize>,
) -> impl IntoView {
    let session = use_session();
    let changed_at_ms = RwSignal::new(format::now_ms());
    Effect::new(move |_| {
        events.track();
        changed_at_ms.set(format::now_ms());
    });
    let deliveries = Fetch::new(move || {
        events.track();
        session.client().deliveries(&operation_id)
    });
    let tick = move || {
        let settling = format::now_ms() < changed_at_ms.get_untracked() + SETTLE_MS;
        if settling || untrack(|| any_pending(deliveries.get())) {
            deliveries.refetch();
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <section class="panel" aria-labelledby="notifications-title" id="notifications">
            <h2 id="notifications-title">"Notifications"</h2>
            {move || match deliveries.get() {
                Some(Err(failure)) if failure.is_missing_endpoint() => {
                    view! { <p class="muted">"This backend does not send notifications."</p> }.into_any()
                }
                state => loaded(state, "notifications", log_view),
            }}
        </section>
    }
}

fn any_pending(state: Option<Result<Vec<Delivery>, crate::api::ApiFailure>>) -> bool {
    matches!(state, Some(Ok(deliveries)) if deliveries.iter().any(|delivery| delivery.status == DeliveryStatus::Pending))
}

fn log_view(deliveries: Vec<Delivery>) -> AnyView {
    if deliveries.is_empty() {
        return view! { <p class="muted" id="notifications-none">"No notification was routed for this request."</p> }
            .into_any();
    }
    let rows = deliveries.into_iter().map(delivery_view).collect_view();
    view! { <ol class="timeline" id="deliveries">{rows}</ol> }.into_any()
}

fn delivery_view(delivery: Delivery) -> impl IntoView + use<> {
    let (label, tone) = match delivery.status {
        DeliveryStatus::Delivered => ("delivered", "tone-good"),
        DeliveryStatus::Pending => ("pending", "tone-active"),
        DeliveryStatus::Undeliverable => ("could not be delivered", "tone-bad"),
        DeliveryStatus::Unaddressed => ("not sent", "tone-neutral"),
    };
    let next = if delivery.status == DeliveryStatus::Pending && !delivery.attempts.is_empty() {
        format!(", tried again at {}", format::clock(delivery.next_attempt_at_ms))
    } else {
        String::new()
    };
    let attempts = delivery.attempts.iter().map(attempt_view).collect_view();
    let recipients = (!delivery.recipients.is_empty())
        .then(|| view! { <p class="recipients">{format!("To {}", delivery.recipients.join(", "))}</p> });
    let unaddressed = (!delivery.unaddressed.is_empty()).then(|| {
        view! { <p class="muted unaddressed">{format!("No address known for {}", delivery.unaddressed.join(", "))}</p> }
    });
    view! {
        <li class="event delivery" data-status=label>
            <strong>{format!("{} → {}", delivery.notification.event.as_str(), delivery.channel_id)}</strong>
            <span class=format!("badge {tone}")>{label}</span>
            <span class="muted">{format!(" {} attempt(s){next}", delivery.attempts.len())}</span>
            {recipients}
            {unaddressed}
            <ul class="attempts">{attempts}</ul>
        </li>
    }
}

fn attempt_view(attempt: &DeliveryAttempt) -> impl IntoView + use<> {
    let status = match (attempt.status_code, &attempt.error) {
        (Some(code), _) => format!("HTTP {code}"),
        // A mail has no HTTP status: sent, or no (good) answer.
        (None, None) => "sent".to_owned(),
        (None, Some(_)) => "no answer".to_owned(),
    };
    let outcome = attempt.error.clone().map(|error| format!(": {error}")).unwrap_or_default();
    view! { <li>{format!("{} {status}{outcome}", format::time(attempt.at_ms))}</li> }
}
