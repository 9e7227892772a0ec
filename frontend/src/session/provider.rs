//! The session's side of signing in through the identity provider (`crate::oidc`): what the
//! console does at start-up, after the provider's answer, before the access token expires, and
//! when the server refuses it.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::{OidcSignIn, SignInSettings};

use super::Session;
use crate::api::Client;
use crate::oidc::{self, SignInFailure, Tokens};

/// Renew when this share of the access token's lifetime has passed.
const RENEW_AT_PERCENT: u64 = 75;
/// Never renew more often than this, whatever the provider says.
const MIN_RENEW_AFTER_MS: u64 = 5_000;

impl Session {
    /// Asks the backend how to sign in; then completes a sign-in the provider answered, or
    /// renews a session this tab kept, or leaves the user signed out.
    pub(super) async fn start(self, decide: bool) {
        let settings = match Client::new(None).sign_in_settings().await {
            Ok(settings) => settings,
            // A backend without the endpoint, or one that cannot reach its provider: a token
            // can still be pasted.
            Err(failure) => {
                if decide && !failure.is_missing_endpoint() {
                    self.notice
                        .set(Some(format!("Signing in through the identity provider is unavailable: {failure}")));
                }
                SignInSettings { mode: "tokens".to_owned(), oidc: None }
            }
        };
        self.settings.set(Some(settings.clone()));
        let Some(client) = settings.oidc.filter(|_| decide) else {
            self.starting.set(false);
            return;
        };
        let location = web_sys::window().map(|window| window.location());
        let path = location.as_ref().and_then(|location| location.pathname().ok()).unwrap_or_default();
        if path == oidc::CALLBACK_PATH {
            let query = location.and_then(|location| location.search().ok()).unwrap_or_default();
            let outcome = oidc::complete(&client, &query).await;
            let return_to = outcome.as_ref().map_or_else(|_| "/".to_owned(), |(_, return_to)| return_to.clone());
            show_page(&return_to);
            match outcome {
                Ok((tokens, _)) => self.signed_in_by_provider(&client, tokens),
                Err(failure) => self.notice.set(Some(format!("Signing in did not work: {failure}"))),
            }
        } else if let Some(renewed) = oidc::renew(&client).await {
            self.renewed(&client, renewed);
        }
        self.starting.set(false);
    }

    /// Sends the browser to the provider's sign-in page, to come back to the page shown now.
    pub fn sign_in_with_provider(self, client: OidcSignIn) {
        let return_to = web_sys::window()
            .and_then(|window| {
                let location = window.location();
                Some(format!("{}{}", location.pathname().ok()?, location.search().ok()?))
            })
            .filter(|path| path.starts_with('/') && !path.starts_with(oidc::CALLBACK_PATH))
            .unwrap_or_else(|| "/".to_owned());
        spawn_local(async move {
            if let Err(problem) = oidc::begin(&client, return_to).await {
                self.notice.set(Some(format!("Signing in cannot start: {problem}")));
            }
        });
    }

    /// The provider's client, when the provider signed this session in.
    fn provider_client(self) -> Option<OidcSignIn> {
        self.settings.with_untracked(|settings| settings.as_ref().and_then(|settings| settings.oidc.clone()))
    }

    /// The provider's client and where to end its session, when the provider signed this tab in.
    pub(super) fn provider_sign_out(self) -> Option<(OidcSignIn, String)> {
        // Signed in with a pasted token: no ID token, nothing to end at the provider.
        let id_token = oidc::kept_id_token()?;
        let client = self.provider_client()?;
        let url = oidc::sign_out_url(&client, Some(&id_token))?;
        Some((client, url))
    }

    /// The server refused the access token: renew it once from the provider, else sign out.
    pub(super) fn refused(self) {
        let Some(client) = self.provider_client().filter(|_| oidc::kept_id_token().is_some()) else {
            self.expire();
            return;
        };
        if self.renewed_after_refusal.get_value() {
            self.forget();
            self.notice.set(Some(
                "The server refuses the identity provider's tokens (its audience or issuer differs): \
                 ask an administrator."
                    .to_owned(),
            ));
            return;
        }
        self.renewed_after_refusal.set_value(true);
        spawn_local(async move {
            match oidc::renew(&client).await {
                Some(renewed) => self.renewed(&client, renewed),
                None => self.expire(),
            }
        });
    }

    fn renewed(self, client: &OidcSignIn, renewed: Result<Tokens, SignInFailure>) {
        match renewed {
            Ok(tokens) => self.signed_in_by_provider(client, tokens),
            Err(SignInFailure::Refused(_)) => {
                self.forget();
                self.notice.set(Some("Your session at the identity provider ended: sign in again.".to_owned()));
            }
            // The provider did not answer: keep what works and try again a little later.
            Err(failure @ SignInFailure::Unreachable(_)) => {
                self.notice.set(Some(format!("Renewing your sign-in failed, trying again: {failure}")));
                self.renew_after(client.clone(), MIN_RENEW_AFTER_MS * 2);
            }
        }
    }

    fn signed_in_by_provider(self, client: &OidcSignIn, tokens: Tokens) {
        oidc::keep(&tokens);
        let lifetime_ms = tokens.expires_in.unwrap_or(300).saturating_mul(1_000);
        self.renew_after(client.clone(), (lifetime_ms * RENEW_AT_PERCENT / 100).max(MIN_RENEW_AFTER_MS));
        let first = self.token.with_untracked(Option::is_none) || self.me.with_untracked(Option::is_none);
        self.token.set(Some(tokens.access_token));
        // A token renewed after a refusal is checked at once (see `refused`).
        if first || self.renewed_after_refusal.get_value() {
            self.check();
        }
    }

    fn renew_after(self, client: OidcSignIn, delay_ms: u64) {
        let timer = Timeout::new(u32::try_from(delay_ms).unwrap_or(u32::MAX), move || {
            spawn_local(async move {
                if let Some(renewed) = oidc::renew(&client).await {
                    self.renewed(&client, renewed);
                }
            });
        });
        self.renewal.set_value(Some(timer));
    }
}

/// Shows `path` without reloading: the router follows a `popstate`.
fn show_page(path: &str) {
    let Some(window) = web_sys::window() else { return };
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
    }
    if let Ok(event) = web_sys::PopStateEvent::new("popstate") {
        let _ = window.dispatch_event(&event);
    }
}
