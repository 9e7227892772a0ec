//! Who is signed in: the access token (in memory; a pasted one also in `sessionStorage`), the
//! `me` answer with its roles, and the inbox count the navigation shows. Signing in through the
//! identity provider, and keeping that session fresh, is `provider`.

mod provider;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::access::Role;
use rescaler_shared::api::{Me, SignInSettings};
use rescaler_shared::operation::Operation;
use rescaler_shared::user_action::{self, Permitted};

use crate::api::{ApiFailure, Client};

const TOKEN_KEY: &str = "rescaler.token";

/// Where signing in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    SignedOut,
    /// A stored token is being checked.
    Checking,
    /// The stored token could not be checked (network, server).
    Unchecked(ApiFailure),
    SignedIn,
}

/// The signed-in user, shared by every page through context.
#[derive(Clone, Copy)]
pub struct Session {
    pub token: RwSignal<Option<String>>,
    pub me: RwSignal<Option<Me>>,
    me_failure: RwSignal<Option<ApiFailure>>,
    /// Why the user was signed out, for the sign-in page.
    pub notice: RwSignal<Option<String>>,
    /// Bumped after an action that changes what awaits the user's approval.
    pub inbox_version: RwSignal<u32>,
    /// `false` once the backend answered that it has no metrics endpoint.
    pub metrics_supported: RwSignal<bool>,
    /// How this backend signs people in; `None` until it answered.
    pub settings: RwSignal<Option<SignInSettings>>,
    /// `true` until the start-up decided whether someone is signed in.
    starting: RwSignal<bool>,
    /// The timer that renews the provider's access token before it expires.
    renewal: StoredValue<Option<gloo_timers::callback::Timeout>, LocalStorage>,
    /// Where renewing the provider's tokens stands (`provider::Renewals`).
    renewals: StoredValue<provider::Renewals>,
}

/// A pasted token stays for this tab only (`sessionStorage`), never in `localStorage`.
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

impl Session {
    /// The session of this tab: a pasted token kept for it, else the provider's sign-in (the
    /// callback from the provider, or the kept refresh token), else signed out.
    pub fn restore() -> Self {
        // Earlier consoles kept a pasted token in localStorage: no longer.
        if let Some(local) = web_sys::window().and_then(|window| window.local_storage().ok().flatten()) {
            let _ = local.remove_item(TOKEN_KEY);
        }
        let stored =
            storage().and_then(|storage| storage.get_item(TOKEN_KEY).ok().flatten()).filter(|token| !token.is_empty());
        let session = Self {
            token: RwSignal::new(stored.clone()),
            me: RwSignal::new(None),
            me_failure: RwSignal::new(None),
            notice: RwSignal::new(None),
            inbox_version: RwSignal::new(0),
            metrics_supported: RwSignal::new(true),
            settings: RwSignal::new(None),
            starting: RwSignal::new(stored.is_none()),
            renewal: StoredValue::new_local(None),
            renewals: StoredValue::new(provider::Renewals::default()),
        };
        if stored.is_some() {
            session.check();
        }
        spawn_local(session.start(stored.is_none()));
        session
    }

    /// Asks the server who the stored token belongs to.
    pub fn check(self) {
        self.me_failure.set(None);
        spawn_local(async move {
            match self.client().me().await {
                Ok(me) => {
                    self.renewals.update_value(|renewals| renewals.after_refusal = None);
                    self.me.set(Some(me));
                }
                // A 401 already signed out (see `expire`).
                Err(failure) if failure.is_status(401) => {}
                Err(failure) => self.me_failure.set(Some(failure)),
            }
        });
    }

    /// The API with the session's token; a 401 to that token renews it from the provider, or
    /// signs out (see `expire`).
    pub fn client(self) -> Client {
        Client::new(self.token.get_untracked()).on_refused_token(move |refused| {
            // Only if the token was not replaced meanwhile.
            if self.token.with_untracked(|token| token.as_deref() == Some(refused)) {
                self.refused(refused);
            }
        })
    }

    pub fn status(self) -> SignIn {
        if self.starting.get() {
            SignIn::Checking
        } else if self.token.with(Option::is_none) {
            SignIn::SignedOut
        } else if self.me.with(Option::is_some) {
            SignIn::SignedIn
        } else if let Some(failure) = self.me_failure.get() {
            SignIn::Unchecked(failure)
        } else {
            SignIn::Checking
        }
    }

    /// Keeps a pasted token the server accepted.
    pub fn sign_in(self, token: String, me: Me) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(TOKEN_KEY, &token);
        }
        self.notice.set(None);
        self.me_failure.set(None);
        self.me.set(Some(me));
        self.token.set(Some(token));
    }

    /// Signs out of the console, and of the provider when it signed the user in: its refresh
    /// token revoked first, then its session ended.
    pub fn sign_out(self) {
        let Some((client, end_session)) = self.provider_sign_out() else {
            self.forget();
            self.notice.set(Some("You signed out.".to_owned()));
            return;
        };
        // No renewal may answer into the signed-out tab.
        self.stop_renewals();
        spawn_local(async move {
            crate::oidc::revoke(&client).await;
            self.forget();
            self.notice.set(Some("You signed out.".to_owned()));
            if let (Some(url), Some(window)) = (end_session, web_sys::window()) {
                let _ = window.location().assign(&url);
            }
        });
    }

    /// The server refused the session's token: sign out and say why.
    pub fn expire(self) {
        self.forget();
        self.notice.set(Some("The server no longer accepts your token: sign in again.".to_owned()));
    }

    fn forget(self) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(TOKEN_KEY);
        }
        crate::oidc::forget();
        self.stop_renewals();
        self.token.set(None);
        self.me.set(None);
        self.me_failure.set(None);
    }

    /// The user holds `role` or a higher one on the cluster: the shared rule,
    /// [`rescaler_shared::access::Identity::can`].
    pub fn can(self, cluster_id: &str, role: Role) -> bool {
        self.me.with(|me| me.as_ref().is_some_and(|me| me.can(cluster_id, role)))
    }

    /// What the user may do to a request now ([`Permitted::of`]); `None` while signed out.
    pub fn permitted(self, operation: &Operation, now_ms: u64) -> Option<Permitted> {
        self.me.with(|me| me.as_ref().map(|me| Permitted::of(operation, me, now_ms)))
    }

    /// The user may link jobs on the cluster, and so read their program arguments (the shared
    /// rule, [`user_action::may_link_jobs`]); the API withholds them from everyone else.
    pub fn may_link_jobs(self, cluster_id: &str) -> bool {
        self.me.with(|me| me.as_ref().is_some_and(|me| user_action::may_link_jobs(me, cluster_id)))
    }

    pub fn user_name(self) -> Option<String> {
        self.me.with(|me| me.as_ref().map(|me| me.name.clone()))
    }
}

/// The session from context (the app provides it).
pub fn use_session() -> Session {
    expect_context::<Session>()
}
