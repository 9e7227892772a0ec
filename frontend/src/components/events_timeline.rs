//! What happened to a request, oldest first.

use leptos::prelude::*;
use rescaler_shared::operation::OperationEvent;

use crate::format;

/// The events of a request as a timeline.
#[component]
pub fn EventsTimeline(
    /// The events, oldest first.
    events: Vec<OperationEvent>,
) -> impl IntoView {
    let items = events
        .into_iter()
        .map(|event| {
            let actor = event.actor.clone().unwrap_or_else(|| "system".to_owned());
            let by_user = event.actor.is_some();
            view! {
                <li class="event" class:event-user=by_user data-kind=event.kind.clone()>
                    <time class="event-time mono" title=format::time(event.at_ms)>{format::clock(event.at_ms)}</time>
                    <span class="event-actor">{actor}</span>
                    <span class="event-kind">{event.kind.replace('_', " ")}</span>
                    <p class="event-message">{event.message}</p>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="timeline" id="events-timeline">{items}</ol> }
}
