//! The top bar: the sections, the approvals inbox with its count (requests and schedules awaiting
//! the user), who is signed in.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use rescaler_shared::access::ALL_CLUSTERS;

use crate::api::ApiFuture;
use crate::fetch::Fetch;
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
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true"></span>
                "Flink Rescaler"
            </a>
            <Show when=move || session.me.with(Option::is_some)>
                <nav class="mainnav" aria-label="Main">
                    <A href="/" exact=true>"Clusters & jobs"</A>
                    <A href="/rescales">"Requests"</A>
                    <A href="/inbox" attr:id="nav-inbox">
                        "Approvals"
                        <span
                            id="inbox-count"
                            class="badge"
                            class:badge-empty=move || count() == 0
                            aria-label=move || format!("{} awaiting your approval", count())
                        >
                            {count}
                        </span>
                    </A>
                    <A href="/schedules">"Schedules"</A>
                    <A href="/savepoints">"Savepoints"</A>
                    <A href="/artifacts">"Artifacts"</A>
                    <A href="/audit">"Audit"</A>
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
