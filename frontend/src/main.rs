//! The rescale console: a client-side Leptos app. `scripts/build-console.sh` builds it.

mod api;
mod app;
mod components;
mod fetch;
mod format;
mod metrics;
mod oidc;
mod pages;
mod session;
mod upload;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
