//! Client-side routing over `window.location.pathname`: the console's routes, links that change
//! the page without a reload, the back and forward buttons, and the navigation links' active
//! state.
//!
//! A small stand-in for `leptos_router`, whose generic route matching cost tens of kilobytes of
//! wasm; the console needs a fixed set of routes with path parameters and nothing more.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlAnchorElement, MouseEvent};

/// A page of the console and the parameters its address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`.
    Clusters,
    /// `/clusters/:cluster/jobs/:job`.
    Job { cluster_id: String, job_id: String },
    /// `/rescales`.
    Requests,
    /// `/rescales/:id`.
    Request { id: String },
    /// `/inbox`.
    Inbox,
    /// `/schedules`.
    Schedules,
    /// `/schedules/:id`.
    Schedule { id: String },
    /// `/savepoints`.
    Savepoints,
    /// `/artifacts`.
    Artifacts,
    /// `/audit`.
    Audit,
    /// Any other address.
    NotFound,
}

impl Route {
    /// The route `path` (an address's path, without query or fragment) names; a trailing slash
    /// does not matter.
    pub fn of(path: &str) -> Self {
        let segments: Vec<String> = path.split('/').filter(|segment| !segment.is_empty()).map(decode).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            [] => Self::Clusters,
            ["clusters", cluster_id, "jobs", job_id] => {
                Self::Job { cluster_id: (*cluster_id).to_owned(), job_id: (*job_id).to_owned() }
            }
            ["rescales"] => Self::Requests,
            ["rescales", id] => Self::Request { id: (*id).to_owned() },
            ["inbox"] => Self::Inbox,
            ["schedules"] => Self::Schedules,
            ["schedules", id] => Self::Schedule { id: (*id).to_owned() },
            ["savepoints"] => Self::Savepoints,
            ["artifacts"] => Self::Artifacts,
            ["audit"] => Self::Audit,
            _ => Self::NotFound,
        }
    }
}

/// A percent-decoded path segment (the segment itself when it is not valid percent-encoding).
fn decode(segment: &str) -> String {
    web_sys::js_sys::decode_uri_component(segment).map(String::from).unwrap_or_else(|_| segment.to_owned())
}

/// The address shown: its path, which every route and link reads.
#[derive(Clone, Copy)]
pub struct Router {
    path: RwSignal<String>,
}

impl Router {
    /// Starts routing for the app: follows the back and forward buttons (and pages that change
    /// the address themselves, then send `popstate`), and turns clicks on the console's own
    /// links into navigations without a reload. Provided as context.
    pub fn provide() -> Self {
        let router = Self { path: RwSignal::new(current_path()) };
        let popstate = window_event_listener(ev::popstate, move |_| {
            router.path.set(current_path());
        });
        let click = window_event_listener(ev::click, move |event| router.on_click(&event));
        on_cleanup(move || {
            popstate.remove();
            click.remove();
        });
        provide_context(router);
        router
    }

    /// The path shown now; tracked.
    pub fn path(self) -> String {
        self.path.get()
    }

    /// Shows `to` (a path, with any query): a new history entry, or in place of the current one
    /// when `replace`.
    pub fn navigate(self, to: &str, replace: bool) {
        let Some(window) = web_sys::window() else { return };
        let Ok(history) = window.history() else { return };
        let shown = window.location().pathname().unwrap_or_default() + &window.location().search().unwrap_or_default();
        let done = if replace {
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
        } else if shown != to {
            history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
        } else {
            Ok(())
        };
        if done.is_err() {
            // The browser refused the address (another origin): load it instead.
            let _ = window.location().assign(to);
            return;
        }
        self.path.try_set(current_path());
        window.scroll_to_with_x_and_y(0.0, 0.0);
    }

    /// A plain left click on a link to a page of this origin navigates without a reload; any
    /// other click (a modifier key, a link with a target, a download, `rel="external"`, another
    /// origin, a link to a fragment of this page) is the browser's.
    fn on_click(self, event: &MouseEvent) {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.alt_key()
            || event.ctrl_key()
            || event.shift_key()
        {
            return;
        }
        let anchor = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a[href]").ok().flatten())
            .and_then(|element| element.dyn_into::<HtmlAnchorElement>().ok());
        let Some(anchor) = anchor else { return };
        let external = anchor.get_attribute("rel").is_some_and(|rel| rel.split_whitespace().any(|p| p == "external"));
        if !anchor.target().is_empty() || anchor.has_attribute("download") || external {
            return;
        }
        let Some(location) = web_sys::window().map(|window| window.location()) else { return };
        if location.origin().ok() != Some(anchor.origin()) {
            return;
        }
        let (path, search, hash) = (anchor.pathname(), anchor.search(), anchor.hash());
        let same_page =
            location.pathname().ok().as_ref() == Some(&path) && location.search().ok() == Some(search.clone());
        if same_page && !hash.is_empty() {
            return;
        }
        event.prevent_default();
        self.navigate(&format!("{path}{search}{hash}"), false);
    }
}

/// The app's router; see [`Router::provide`].
pub fn use_router() -> Router {
    expect_context::<Router>()
}

/// Whether a navigation link to `href` is the current page's: the path is `href` or below it
/// (`exact`: only `href` itself).
pub fn is_current(href: &str, path: &str, exact: bool) -> bool {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    path == href || (!exact && path.strip_prefix(href).is_some_and(|rest| rest.starts_with('/')))
}

fn current_path() -> String {
    web_sys::window().and_then(|window| window.location().pathname().ok()).unwrap_or_else(|| "/".to_owned())
}
