//! The backend's health and version, in the footer of every page.

use leptos::prelude::*;

use crate::api;
use crate::fetch::Fetch;

/// `#backend-status`: "Backend 0.1.0 is ok", or why the backend cannot be reached.
#[component]
pub fn BackendStatus() -> impl IntoView {
    let health = Fetch::new(api::health);
    view! {
        <p id="backend-status">
            {move || match health.get() {
                None => view! { <span class="muted">"Connecting…"</span> }.into_any(),
                Some(Ok(health)) => view! {
                    <span class="ok">{format!("Backend {} is {}", health.version, health.status)}</span>
                }.into_any(),
                Some(Err(failure)) => view! {
                    <span class="error" role="alert">{failure.to_string()}</span>
                }.into_any(),
            }}
        </p>
    }
}
