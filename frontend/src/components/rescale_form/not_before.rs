//! The rescale form's optional "not before": a date and time in UTC, empty for "as soon as
//! approved"; the API refuses one in the past or after the request would expire.

use leptos::prelude::*;
use rescaler_shared::schedule::Instant;

/// The not-before a `datetime-local` value names, read as UTC: `None` when empty.
pub fn not_before_ms(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Instant::try_from(format!("{text}Z")).map(|instant| Some(instant.0))
}

/// The "not before" field.
#[component]
pub fn NotBeforeInput(
    /// The input's text, a `datetime-local` value in UTC or empty.
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for="rescale-not-before">"Not before (UTC, optional)"</label>
            <input id="rescale-not-before" class="input" type="datetime-local" bind:value=value/>
            <span class="hint">"Approved earlier, it waits until then; it must start before the request expires."</span>
        </div>
    }
}
