//! Sign in through the identity provider the backend names, or (`tokens` mode, or `oidc` without
//! a console client) with a pasted token, which the session keeps for this tab.

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
    let provider =
        move || session.settings.with(|settings| settings.as_ref().and_then(|settings| settings.oidc.clone()));
    view! {
        <div class="signin">
            <Show when=move || provider().is_some() fallback=move || view! {
            <form class="panel form" id="sign-in-form" on:submit=on_submit aria-labelledby="sign-in-title">
                <h1 id="sign-in-title">"Sign in"</h1>
                <p class="muted">"Rescale running Flink jobs safely: one person requests, another approves, the backend carries it out."</p>
                {move || session.notice.get().map(|notice| view! { <p class="notice notice-info" role="status">{notice}</p> })}
                <div class="field">
                    <label for="token-input">"Access token"</label>
                    <input id="token-input" class="input" type="password" autocomplete="current-password" required
                        bind:value=token autofocus/>
                    <p class="hint">"Your administrator gives you a token. It stays in this tab until you sign out or close it."</p>
                </div>
                {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Signing in"/> })}
                <div class="form-actions">
                    <button type="submit" id="sign-in-button" class="button button-primary"
                        disabled=move || busy.get() || token.with(|token| token.trim().is_empty())>
                        {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
            </form>
            }>
                <section class="panel form" aria-labelledby="sign-in-title">
                    <h1 id="sign-in-title">"Sign in"</h1>
                    <p class="muted">"Rescale running Flink jobs safely: one person requests, another approves, the backend carries it out."</p>
                    {move || session.notice.get().map(|notice| view! { <p class="notice notice-info" role="status">{notice}</p> })}
                    <p class="hint">{move || provider().map(|client| format!("You sign in at {}.", client.issuer))}</p>
                    <div class="form-actions">
                        <button type="button" id="sign-in-provider" class="button button-primary"
                            on:click=move |_| if let Some(client) = provider() { session.sign_in_with_provider(client) }>
                            "Sign in with your organisation"
                        </button>
                    </div>
                </section>
            </Show>
        </div>
    }
}
