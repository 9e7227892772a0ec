//! The rescale console: a client-side Leptos app. `scripts/build-console.sh` builds it.

mod api;
mod app;
mod components;
mod fetch;
mod format;
mod metrics;
mod oidc;
mod pages;
mod router;
mod session;
mod upload;

fn main() {
    // A panic aborts (`panic = "abort"`); say why in the browser console first. Smaller than
    // `console_error_panic_hook`, which also reads the JavaScript stack.
    std::panic::set_hook(Box::new(|info| web_sys::console::error_1(&info.to_string().into())));
    leptos::mount::mount_to_body(app::App);
}
