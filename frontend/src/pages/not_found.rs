//! A path no route matches.

use leptos::prelude::*;

/// The fallback page.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. "<a href="/">"Go to clusters and jobs"</a>"."</p>
        </section>
    }
}
