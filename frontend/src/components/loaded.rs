//! Renders a call's result: loading, its error, or the value.

use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::components::error_notice::ErrorNotice;

/// `None` while loading, then the error or `render(value)`.
pub fn loaded<T, V: IntoView + 'static>(
    state: Option<Result<T, ApiFailure>>,
    what: &'static str,
    render: impl FnOnce(T) -> V,
) -> AnyView {
    match state {
        None => view! { <p class="loading" aria-live="polite">{format!("Loading {what}…")}</p> }.into_any(),
        Some(Err(failure)) => view! { <ErrorNotice failure=failure context=format!("Loading {what}")/> }.into_any(),
        Some(Ok(value)) => render(value).into_any(),
    }
}
