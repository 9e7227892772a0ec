//! Sign in with an access token; the session keeps it in localStorage.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiFailure, Client};
use crate::components::error_notice::ErrorNotice;
use crate::session::use_session;

/// The sign-in form, shown instead of any page while signed out.
#[component]
pub fn SignInPage() -> impl IntoView {
    let session = use_session();
    let token = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<ApiFailure>);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let candidate = token.get_untracked().trim().to_owned();
        if candidate.is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        spawn_local(async move {
            match Client::new(Some(candidate.clone())).me().await {
                Ok(me) => session.sign_in(candidate, me),
                Err(error) => {
                    let error = match error {
                        ApiFailure::Api { status: 401, code, .. } => ApiFailure::Api {
                            status: 401,
                            code,
                            message: "this token is not valid: check it, or ask an administrator for a new one"
                                .to_owned(),
                        },
                        other => other,
                    };
                    failure.try_set(Some(error));
                    busy.try_set(false);
                }
            }
        });
    };
    view! {
        <div class="signin">
            <form class="panel form" id="sign-in-form" on:submit=on_submit aria-labelledby="sign-in-title">
                <h1 id="sign-in-title">"Sign in"</h1>
                <p class="muted">"Rescale running Flink jobs safely: one person requests, another approves, the backend carries it out."</p>
                {move || session.notice.get().map(|notice| view! { <p class="notice notice-info" role="status">{notice}</p> })}
                <div class="field">
                    <label for="token-input">"Access token"</label>
                    <input id="token-input" class="input" type="password" autocomplete="current-password" required
                        bind:value=token autofocus/>
                    <p class="hint">"Your administrator gives you a token. It stays in this browser until you sign out."</p>
                </div>
                {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Signing in"/> })}
                <div class="form-actions">
                    <button type="submit" id="sign-in-button" class="button button-primary"
                        disabled=move || busy.get() || token.with(|token| token.trim().is_empty())>
                        {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
            </form>
        </div>
    }
}
