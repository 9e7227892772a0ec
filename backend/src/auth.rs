//! Who is calling: a bearer token from the configuration or an OIDC JWT, resolved to an
//! `Identity` that holds a role per cluster.
//!
//! Two modes, chosen by `AuthConfig`: `tokens` compares the bearer token with the configured
//! users' tokens; `oidc` verifies an RS256 JWT against the issuer's JWKS and reads roles from
//! a groups claim (see `oidc` for the group-name convention). Every failure is an `AuthError`;
//! callers turn it into `ApiError::Unauthenticated`, which never carries the detail.

mod discovery;
mod jwks;
mod oidc;
mod tokens;

use std::fmt;
use std::time::Duration;

use rescaler_shared::api::SignInSettings;

use crate::config::AuthConfig;

pub use discovery::DiscoveryError;

pub use rescaler_shared::access::{ALL_CLUSTERS, Identity, Role, UnknownRole};

/// Why a caller is not authenticated. The detail is for logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no authorization header")]
    Missing,
    #[error("authorization header or token is malformed")]
    Malformed,
    /// Tokens mode: the token belongs to no configured user.
    #[error("token matches no configured user")]
    UnknownToken,
    /// The token's `exp` is past, or its `nbf` is ahead (beyond the leeway).
    #[error("token is expired or not yet valid")]
    Expired,
    /// The signature does not verify, or the token is not RS256 (`none`, HS256, ...).
    #[error("token signature is invalid or not RS256")]
    InvalidSignature,
    #[error("token issuer is not the configured issuer")]
    WrongIssuer,
    #[error("token audience is not the configured audience")]
    WrongAudience,
    /// An ID token (or a token that does not say it is an access token): the API takes
    /// access tokens only.
    #[error("token is not an access token")]
    NotAnAccessToken,
    /// The token names the product's own requester (`recommend::RECOMMENDER`): no person may
    /// act under that name.
    #[error("the user name is reserved for the requests the product files itself")]
    ReservedName,
    /// The token's `kid` is not in the JWKS, even after a refetch.
    #[error("token is signed by a key the JWKS does not list")]
    UnknownKey,
    #[error("the JWKS cannot be fetched")]
    JwksUnavailable,
}

/// Why an `Authenticator` cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("user {user}: {source}")]
    UnknownRole { user: String, source: UnknownRole },
    #[error("user {user} has an empty token or one containing whitespace")]
    UnusableToken { user: String },
    #[error("users {first} and {second} have the same token")]
    SharedToken { first: String, second: String },
}

/// Checks `Authorization` header values. Build one at start-up and share it.
pub struct Authenticator {
    mode: Mode,
    /// The console's OpenID Connect client, in `oidc` mode with `[auth.console]`.
    console: Option<discovery::ConsoleClient>,
}

enum Mode {
    Tokens(tokens::TokenUsers),
    Oidc(Box<oidc::OidcVerifier>),
}

impl Authenticator {
    /// Builds the authenticator for the configured mode; `http_client` fetches the JWKS in
    /// `oidc` mode (each fetch has its own timeout).
    pub fn new(config: &AuthConfig, http_client: reqwest::Client) -> Result<Self, AuthSetupError> {
        let console = match config {
            AuthConfig::Oidc { issuer, console: Some(console), .. } => {
                Some(discovery::ConsoleClient::new(issuer.clone(), console.clone(), http_client.clone()))
            }
            _ => None,
        };
        let mode = match config {
            AuthConfig::Tokens { users } => Mode::Tokens(tokens::TokenUsers::new(users)?),
            AuthConfig::Oidc { jwks_url, issuer, audience, roles_claim, username_claim, jwks_refresh_secs, .. } => {
                Mode::Oidc(Box::new(oidc::OidcVerifier::new(oidc::OidcSettings {
                    jwks_url: jwks_url.clone(),
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    roles_claim: roles_claim.clone(),
                    username_claim: username_claim.clone(),
                    jwks_refresh_interval: Duration::from_secs((*jwks_refresh_secs).max(1)),
                    http_client,
                })))
            }
        };
        Ok(Self { mode, console })
    }

    /// Changes how long after a successful JWKS fetch an unknown `kid` may trigger the next
    /// one (default 30 s). No effect in `tokens` mode.
    pub fn with_jwks_refetch_interval(mut self, interval: Duration) -> Self {
        if let Mode::Oidc(verifier) = &mut self.mode {
            verifier.set_refetch_interval(interval);
        }
        self
    }

    /// Changes how old the cached JWKS may grow before it is fetched again, which bounds how
    /// long a withdrawn key is still trusted (configured by `jwks_refresh_secs`, default 300 s).
    /// No effect in `tokens` mode.
    pub fn with_jwks_refresh_interval(mut self, interval: Duration) -> Self {
        if let Mode::Oidc(verifier) = &mut self.mode {
            verifier.set_refresh_interval(interval);
        }
        self
    }

    /// Authenticates the value of an `Authorization` header (`None` when absent).
    pub async fn authenticate(&self, authorization_header: Option<&str>) -> Result<Identity, AuthError> {
        let token = bearer(authorization_header)?;
        let identity = match &self.mode {
            Mode::Tokens(users) => users.authenticate(token),
            Mode::Oidc(verifier) => verifier.authenticate(token).await,
        }?;
        if rescaler_shared::access::same_user(&identity.name, rescaler_shared::recommend::RECOMMENDER) {
            return Err(AuthError::ReservedName);
        }
        Ok(identity)
    }
}

impl Authenticator {
    /// How the console signs people in (`GET /api/v1/auth/config`).
    pub async fn sign_in_settings(&self) -> Result<SignInSettings, DiscoveryError> {
        match (&self.mode, &self.console) {
            (Mode::Oidc(_), Some(console)) => console.settings().await,
            (mode, _) => {
                let mode = if matches!(mode, Mode::Tokens(_)) { "tokens" } else { "oidc" };
                Ok(SignInSettings { mode: mode.to_owned(), oidc: None })
            }
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Tokens(_) => "tokens",
            Mode::Oidc(_) => "oidc",
        };
        formatter.debug_struct("Authenticator").field("mode", &mode).finish_non_exhaustive()
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim_start();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::UserConfig;

    fn roles(entries: &[(&str, Role)]) -> BTreeMap<String, Role> {
        entries.iter().map(|(cluster, role)| ((*cluster).to_owned(), *role)).collect()
    }

    fn user(name: &str, token: &str, roles: &[(&str, &str)]) -> UserConfig {
        UserConfig {
            name: name.to_owned(),
            token: token.to_owned(),
            roles: roles.iter().map(|(cluster, role)| ((*cluster).to_owned(), (*role).to_owned())).collect(),
            email: None,
        }
    }

    fn tokens_authenticator(users: Vec<UserConfig>) -> Authenticator {
        Authenticator::new(&AuthConfig::Tokens { users }, reqwest::Client::new()).expect("valid tokens config")
    }

    #[test]
    fn bearer_reads_the_token_of_a_bearer_header() {
        assert_eq!(bearer(Some("Bearer abc.def")), Ok("abc.def"));
        assert_eq!(bearer(Some("bearer  abc")), Ok("abc"));
        assert_eq!(bearer(Some("BEARER abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("Bearer")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("Basic dXNlcjpwdw==")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("Bearer a b")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("abc")), Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn known_token_yields_its_user_and_roles() {
        let authenticator = tokens_authenticator(vec![
            user("alice", "alice-secret", &[("*", "viewer"), ("prod", "approver")]),
            user("bob", "bob-secret", &[("staging", "admin")]),
        ]);
        let alice = authenticator.authenticate(Some("Bearer alice-secret")).await.expect("alice is known");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.roles(), &roles(&[("*", Role::Viewer), ("prod", Role::Approver)]));
        assert_eq!(alice.role_on("prod"), Some(Role::Approver));
        assert_eq!(alice.role_on("staging"), Some(Role::Viewer));
        let bob = authenticator.authenticate(Some("Bearer bob-secret")).await.expect("bob is known");
        assert_eq!(bob.name, "bob");
        assert_eq!(bob.role_on("staging"), Some(Role::Admin));
        assert_eq!(bob.role_on("prod"), None);
    }

    #[tokio::test]
    async fn unknown_or_missing_token_is_refused() {
        let authenticator = tokens_authenticator(vec![user("alice", "alice-secret", &[("*", "admin")])]);
        assert_eq!(authenticator.authenticate(Some("Bearer alice-secreT")).await, Err(AuthError::UnknownToken));
        assert_eq!(authenticator.authenticate(Some("Bearer alice-secret2")).await, Err(AuthError::UnknownToken));
        assert_eq!(authenticator.authenticate(Some("Bearer alice")).await, Err(AuthError::UnknownToken));
        assert_eq!(authenticator.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(authenticator.authenticate(Some("alice-secret")).await, Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn tokens_mode_without_users_refuses_everyone() {
        let authenticator = tokens_authenticator(Vec::new());
        assert_eq!(authenticator.authenticate(Some("Bearer anything")).await, Err(AuthError::UnknownToken));
    }

    #[test]
    fn bad_tokens_configuration_is_refused_at_start_up() {
        let build = |users| Authenticator::new(&AuthConfig::Tokens { users }, reqwest::Client::new());
        let unknown_role = build(vec![user("alice", "secret", &[("*", "superuser")])]);
        assert!(matches!(unknown_role, Err(AuthSetupError::UnknownRole { ref user, .. }) if user == "alice"));
        let empty = build(vec![user("alice", "", &[("*", "viewer")])]);
        assert!(matches!(empty, Err(AuthSetupError::UnusableToken { .. })));
        let spaced = build(vec![user("alice", "two words", &[("*", "viewer")])]);
        assert!(matches!(spaced, Err(AuthSetupError::UnusableToken { .. })));
        let shared = build(vec![user("alice", "same", &[]), user("bob", "same", &[])]);
        assert!(
            matches!(shared, Err(AuthSetupError::SharedToken { ref first, ref second }) if first == "alice" && second == "bob")
        );
    }
}
