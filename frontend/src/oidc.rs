//! Signing in through the identity provider: OpenID Connect Authorization Code flow with PKCE,
//! for the public client the backend names (`GET /api/v1/auth/config`).
//!
//! Where things are kept: the access token in memory only (the session's signal); the refresh
//! token and the ID token (the sign-out hint) in `sessionStorage`, so that a reload of this tab
//! stays signed in and nothing outlives the tab; nothing in `localStorage`. The page's
//! Content-Security-Policy allows no inline script, so an injected script cannot run to read
//! them. While the browser is at the provider, `sessionStorage` holds the request's `state`,
//! PKCE verifier and the page to come back to; the callback takes them out once.

mod pkce;

use gloo_net::http::Request;
use rescaler_shared::api::OidcSignIn;
use serde::{Deserialize, Serialize};
use web_sys::js_sys::encode_uri_component as encode;

/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/auth/callback";
const PENDING_KEY: &str = "rescaler.oidc.pending";
const REFRESH_KEY: &str = "rescaler.oidc.refresh";
const ID_TOKEN_KEY: &str = "rescaler.oidc.id-token";

/// A sign-in under way at the provider.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    return_to: String,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds the access token is valid for.
    pub expires_in: Option<u64>,
    /// Absent when the provider keeps the one it gave before (Cognito does not rotate).
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

/// An error response of the token endpoint (RFC 6749 §5.2) or of the authorization endpoint.
#[derive(Debug, Clone, Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

/// Why signing in or renewing did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// The provider refused: the session at the provider ended, the code was used, ...
    Refused(String),
    /// No answer from the provider, or one that cannot be read: trying again may work.
    Unreachable(String),
}

impl std::fmt::Display for SignInFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(detail) => write!(formatter, "the identity provider refused: {detail}"),
            Self::Unreachable(detail) => write!(formatter, "the identity provider cannot be reached: {detail}"),
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn take(key: &str) -> Option<String> {
    let storage = storage()?;
    let value = storage.get_item(key).ok().flatten();
    let _ = storage.remove_item(key);
    value
}

fn origin() -> String {
    web_sys::window().and_then(|window| window.location().origin().ok()).unwrap_or_default()
}

/// Sends the browser to the provider's sign-in page; it comes back to [`CALLBACK_PATH`] and
/// then to `return_to`.
pub async fn begin(client: &OidcSignIn, return_to: String) -> Result<(), String> {
    let pending = Pending { state: pkce::random_token()?, verifier: pkce::random_token()?, return_to };
    let challenge = pkce::challenge(&pending.verifier).await?;
    let json = serde_json::to_string(&pending).map_err(|error| error.to_string())?;
    storage()
        .and_then(|storage| storage.set_item(PENDING_KEY, &json).ok())
        .ok_or("this browser keeps no session storage")?;
    let separator = if client.authorization_endpoint.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        client.authorization_endpoint,
        encode(&client.client_id),
        encode(&format!("{}{CALLBACK_PATH}", origin())),
        encode(&client.scopes.join(" ")),
        encode(&pending.state),
        encode(&challenge),
    );
    let location = web_sys::window().ok_or("no window")?.location();
    location.assign(&url).map_err(|_| "the browser did not go to the identity provider".to_owned())
}

/// The provider sent the browser back: checks `state`, exchanges the code. Answers the tokens
/// and the page to show.
pub async fn complete(client: &OidcSignIn, query: &str) -> Result<(Tokens, String), SignInFailure> {
    let param = |name: &str| query_param(query, name);
    let pending: Option<Pending> = take(PENDING_KEY).and_then(|json| serde_json::from_str(&json).ok());
    let Some(pending) = pending else {
        return Err(SignInFailure::Refused("this tab started no sign-in (open the console and sign in again)".into()));
    };
    // The state first: only then is an error from the provider shown as the provider's.
    if param("state").as_deref() != Some(pending.state.as_str()) {
        return Err(SignInFailure::Refused("the answer does not belong to this sign-in (state differs)".into()));
    }
    if let Some(error) = param("error") {
        let description = param("error_description").map(|text| format!(": {text}")).unwrap_or_default();
        return Err(SignInFailure::Refused(format!("{error}{description}")));
    }
    let code = param("code").ok_or_else(|| SignInFailure::Refused("the answer carries no code".into()))?;
    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
        encode(&code),
        encode(&format!("{}{CALLBACK_PATH}", origin())),
        encode(&client.client_id),
        encode(&pending.verifier),
    );
    let tokens = token_request(client, form).await?;
    Ok((tokens, pending.return_to))
}

/// Renews the access token with the kept refresh token; `None` when none is kept.
pub async fn renew(client: &OidcSignIn) -> Option<Result<Tokens, SignInFailure>> {
    let refresh_token = storage()?.get_item(REFRESH_KEY).ok().flatten()?;
    let form = format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}",
        encode(&refresh_token),
        encode(&client.client_id)
    );
    Some(token_request(client, form).await)
}

async fn token_request(client: &OidcSignIn, form: String) -> Result<Tokens, SignInFailure> {
    let unreachable = |error: gloo_net::Error| SignInFailure::Unreachable(error.to_string());
    let response = Request::post(&client.token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .map_err(unreachable)?
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let text = response.text().await.map_err(unreachable)?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|error| SignInFailure::Unreachable(error.to_string()));
    }
    match serde_json::from_str::<OAuthError>(&text) {
        Ok(error) if (400..500).contains(&status) => {
            let description = error.error_description.map(|text| format!(": {text}")).unwrap_or_default();
            Err(SignInFailure::Refused(format!("{}{description}", error.error)))
        }
        _ => Err(SignInFailure::Unreachable(format!("the token endpoint answered {status}"))),
    }
}

/// Revokes the kept refresh token at the provider (RFC 7009), so that a copy of it is worth
/// nothing after signing out; answers whether the provider took the revocation.
pub async fn revoke(client: &OidcSignIn) -> bool {
    let (Some(endpoint), Some(refresh_token)) = (
        client.revocation_endpoint.as_ref(),
        storage().and_then(|storage| storage.get_item(REFRESH_KEY).ok().flatten()),
    ) else {
        return false;
    };
    let form = format!(
        "token={}&token_type_hint=refresh_token&client_id={}",
        encode(&refresh_token),
        encode(&client.client_id)
    );
    let request = Request::post(endpoint).header("Content-Type", "application/x-www-form-urlencoded").body(form);
    match request {
        Ok(request) => request.send().await.is_ok_and(|response| response.ok()),
        Err(_) => false,
    }
}

/// Keeps what must survive a reload of this tab (the access token stays in memory).
pub fn keep(tokens: &Tokens) {
    let Some(storage) = storage() else { return };
    if let Some(refresh_token) = &tokens.refresh_token {
        let _ = storage.set_item(REFRESH_KEY, refresh_token);
    }
    if let Some(id_token) = &tokens.id_token {
        let _ = storage.set_item(ID_TOKEN_KEY, id_token);
    }
}

/// The kept ID token: the provider signed this tab in.
pub fn kept_id_token() -> Option<String> {
    storage()?.get_item(ID_TOKEN_KEY).ok().flatten()
}

/// Forgets every kept token; answers the ID token, the provider's sign-out hint.
pub fn forget() -> Option<String> {
    let _ = take(REFRESH_KEY);
    take(ID_TOKEN_KEY)
}

/// Where to send the browser to end the provider's session too, coming back to the console.
/// RP-Initiated Logout's parameters (`id_token_hint`, `post_logout_redirect_uri`) and
/// Cognito's `/logout` ones (`logout_uri`; `client_id` both use); each ignores the other's.
pub fn sign_out_url(client: &OidcSignIn, id_token: Option<&str>) -> Option<String> {
    let endpoint = client.end_session_endpoint.as_ref()?;
    let back = encode(&format!("{}/", origin()));
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let hint = id_token.map(|token| format!("&id_token_hint={}", encode(token))).unwrap_or_default();
    Some(format!(
        "{endpoint}{separator}client_id={}&post_logout_redirect_uri={back}&logout_uri={back}{hint}",
        encode(&client.client_id)
    ))
}

/// The decoded value of `name` in a query string (with or without its leading `?`).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            let value = value.replace('+', " ");
            web_sys::js_sys::decode_uri_component(&value).map(String::from).unwrap_or(value)
        })
    })
}
