//! The top bar: the sections, the approvals inbox with its count (requests and schedules awaiting
//! the user), who is signed in.

use std::time::Duration;

use leptos::prelude::*;
use rescaler_shared::access::ALL_CLUSTERS;

use crate::api::ApiFuture;
use crate::fetch::Fetch;
use crate::router::{is_current, use_router};
use crate::session::use_session;

/// How often the inbox count is refreshed.
const INBOX_POLL: Duration = Duration::from_secs(5);

/// The navigation bar; the links show only once signed in.
#[component]
pub fn NavBar() -> impl IntoView {
    let session = use_session();
    let inbox = Fetch::new(move || {
        let signed_in = session.me.with(Option::is_some);
        session.inbox_version.track();
        if !signed_in {
            let none: ApiFuture<usize> = Box::pin(std::future::ready(Ok(0)));
            return none;
        }
        // The count alone: what the server reads grows with what awaits approval, not with
        // every request stored.
        let operations = session.client().awaiting_me_count();
        let schedules = session.client().schedules_awaiting_me();
        Box::pin(async move { Ok(operations.await?.count + schedules.await?.len()) })
    });
    if let Ok(handle) = set_interval_with_handle(move || inbox.refetch(), INBOX_POLL) {
        on_cleanup(move || handle.clear());
    }
    let count = move || inbox.get().and_then(Result::ok).unwrap_or(0);
    let roles =
        move || {
            session.me.with(|me| {
                me.as_ref()
                    .map(|me| {
                        me.roles
                            .as_map()
                            .iter()
                            .map(|(cluster, role)| {
                                if cluster == ALL_CLUSTERS { role.to_string() } else { format!("{role} on {cluster}") }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            })
        };
    let router = use_router();
    // `aria-current="page"` on the link to the page shown (or to a section it is in).
    let current = move |href: &'static str, exact: bool| {
        Signal::derive(move || is_current(href, &router.path(), exact).then_some("page"))
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true"></span>
                "Flink Rescaler"
            </a>
            <Show when=move || session.me.with(Option::is_some)>
                <nav class="mainnav" aria-label="Main">
                    <a href="/" aria-current=current("/", true)>"Clusters & jobs"</a>
                    <a href="/rescales" aria-current=current("/rescales", false)>"Requests"</a>
                    <a href="/inbox" id="nav-inbox" aria-current=current("/inbox", false)>
                        "Approvals"
                        <span
                            id="inbox-count"
                            class="badge"
                            class:badge-empty=move || count() == 0
                            aria-label=move || format!("{} awaiting your approval", count())
                        >
                            {count}
                        </span>
                    </a>
                    <a href="/schedules" aria-current=current("/schedules", false)>"Schedules"</a>
                    <a href="/savepoints" aria-current=current("/savepoints", false)>"Savepoints"</a>
                    <a href="/artifacts" aria-current=current("/artifacts", false)>"Artifacts"</a>
                    <a href="/audit" aria-current=current("/audit", false)>"Audit"</a>
                </nav>
                <div class="who">
                    <span id="signed-in-user" class="who-name">{move || session.user_name().unwrap_or_default()}</span>
                    <span class="who-roles">{roles}</span>
                    <button type="button" id="sign-out" class="button button-quiet" on:click=move |_| session.sign_out()>
                        "Sign out"
                    </button>
                </div>
            </Show>
        </header>
    }
}
