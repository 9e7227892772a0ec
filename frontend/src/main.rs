//! The rescale console: a client-side Leptos app. `scripts/build-console.sh` builds it.

mod api;
mod app;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
