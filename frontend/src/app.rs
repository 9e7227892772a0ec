//! The application shell: header and the backend status line.

use leptos::prelude::*;

use crate::api;

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <header class="topbar">
            <span class="brand">"Flink Rescaler"</span>
        </header>
        <main class="page">
            <h1>"Rescale running Flink jobs, safely"</h1>
            <p id="backend-status">
                <Suspense fallback=|| view! { <span class="muted">"Connecting…"</span> }>
                    {move || health.get().map(|result| match result {
                        Ok(health) => view! {
                            <span class="ok">{format!("Backend {} is {}", health.version, health.status)}</span>
                        }.into_any(),
                        Err(failure) => view! {
                            <span class="error" role="alert">{failure.message}</span>
                        }.into_any(),
                    })}
                </Suspense>
            </p>
        </main>
    }
}
