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

/// Where renewing the provider's tokens stands, for one tab.
#[derive(Debug, Default)]
pub(super) struct Renewals {
    /// Bumped when the tab signs out: a renewal started before then answers into nothing.
    generation: u32,
    /// A renewal is under way: another would spend a refresh token the provider has rotated.
    in_flight: bool,
    /// The access token the renewal after a refusal gave, until the server accepts it.
    pub(super) after_refusal: Option<String>,
}

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
            self.renewed(&client, renewed, false);
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

    /// The provider's client, and where to end its session if it has an end-session endpoint,
    /// when the provider signed this tab in.
    pub(super) fn provider_sign_out(self) -> Option<(OidcSignIn, Option<String>)> {
        // Signed in with a pasted token: no ID token, nothing to do at the provider.
        let id_token = oidc::kept_id_token()?;
        let client = self.provider_client()?;
        let end_session = oidc::sign_out_url(&client, Some(&id_token));
        Some((client, end_session))
    }

    /// Cancels the renewal timer, and makes any renewal under way answer into nothing.
    pub(super) fn stop_renewals(self) {
        self.renewal.set_value(None);
        self.renewals.update_value(|renewals| {
            renewals.generation = renewals.generation.wrapping_add(1);
            renewals.in_flight = false;
            renewals.after_refusal = None;
        });
    }

    /// The server refused `refused`: renew once from the provider, unless a renewal is under way
    /// already (it replaces the token) or `refused` is what the last refusal's renewal gave (the
    /// server does not take this provider's tokens: sign out with the reason).
    pub(super) fn refused(self, refused: &str) {
        let Some(client) = self.provider_client().filter(|_| oidc::kept_id_token().is_some()) else {
            self.expire();
            return;
        };
        let (in_flight, again) = self
            .renewals
            .with_value(|renewals| (renewals.in_flight, renewals.after_refusal.as_deref() == Some(refused)));
        if again {
            self.forget();
            self.notice.set(Some(
                "The server refuses the identity provider's tokens (its audience or issuer differs): \
                 ask an administrator."
                    .to_owned(),
            ));
        } else if !in_flight {
            self.renew_now(client, true);
        }
    }

    /// Renews now, one renewal at a time; a renewal that answers after a sign-out is dropped.
    fn renew_now(self, client: OidcSignIn, after_refusal: bool) {
        let Some(generation) = self
            .renewals
            .try_update_value(|renewals| {
                (!renewals.in_flight).then(|| {
                    renewals.in_flight = true;
                    renewals.generation
                })
            })
            .flatten()
        else {
            return;
        };
        spawn_local(async move {
            let renewed = oidc::renew(&client).await;
            let current = self.renewals.try_update_value(|renewals| {
                let current = renewals.generation == generation;
                if current {
                    renewals.in_flight = false;
                }
                current
            });
            match (current, renewed) {
                (Some(true), Some(renewed)) => self.renewed(&client, renewed, after_refusal),
                (Some(true), None) => self.expire(),
                _ => {}
            }
        });
    }

    fn renewed(self, client: &OidcSignIn, renewed: Result<Tokens, SignInFailure>, after_refusal: bool) {
        match renewed {
            Ok(tokens) => {
                if after_refusal {
                    let token = tokens.access_token.clone();
                    self.renewals.update_value(|renewals| renewals.after_refusal = Some(token));
                }
                self.signed_in_by_provider(client, tokens);
            }
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
        let checking = self.renewals.with_value(|renewals| renewals.after_refusal.is_some());
        self.token.set(Some(tokens.access_token));
        // A token renewed after a refusal is checked at once (see `refused`).
        if first || checking {
            self.check();
        }
    }

    fn renew_after(self, client: OidcSignIn, delay_ms: u64) {
        let timer = Timeout::new(u32::try_from(delay_ms).unwrap_or(u32::MAX), move || self.renew_now(client, false));
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
