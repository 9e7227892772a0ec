//! `[auth]`: how callers are identified, and how the console signs browser users in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How callers are identified.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// Users, tokens and roles in this file.
    Tokens { users: Vec<UserConfig> },
    /// RS256 access tokens checked against a JWKS.
    Oidc {
        jwks_url: String,
        issuer: String,
        /// The access token's `aud`, or (Cognito, whose access tokens carry no `aud`) its
        /// `client_id`.
        audience: String,
        #[serde(default = "default_roles_claim")]
        roles_claim: String,
        #[serde(default = "default_username_claim")]
        username_claim: String,
        /// Age past which the cached JWKS is fetched again: a key the issuer withdrew is no
        /// longer trusted after this many seconds (`auth/jwks.rs`).
        #[serde(default = "default_jwks_refresh_secs")]
        jwks_refresh_secs: u64,
        /// How the console signs browser users in; without it the console offers no sign-in
        /// button (API clients bring their own tokens).
        #[serde(default)]
        console: Option<ConsoleSignIn>,
    },
}

/// `[auth.console]`: the public facts of the console's OpenID Connect client (Authorization
/// Code flow with PKCE). Nothing here is secret; `GET /api/v1/auth/config` answers it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSignIn {
    /// The console's client id at the provider (a public client: no secret).
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Where the console sends the browser to sign in; discovered from the issuer's
    /// `/.well-known/openid-configuration` when absent.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where the console exchanges the code and renews tokens (the browser calls it, so it is
    /// in the page's `connect-src`); discovered when absent.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Where signing out ends the provider's session too; discovered when absent (Cognito
    /// publishes none: the template names its hosted UI's `/logout`).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Where signing out revokes the refresh token (RFC 7009); discovered when absent.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self::Tokens { users: Vec::new() }
    }
}

impl AuthConfig {
    /// `oidc` mode from the Lambda environment, when its three required variables are set:
    /// `RESCALER_OIDC_JWKS_URL`, `RESCALER_OIDC_ISSUER`, `RESCALER_OIDC_AUDIENCE`; optional
    /// `RESCALER_OIDC_ROLES_CLAIM`, `RESCALER_OIDC_USERNAME_CLAIM`, and the console's
    /// `RESCALER_OIDC_CLIENT_ID`, `RESCALER_OIDC_SCOPES` (space-separated),
    /// `RESCALER_OIDC_AUTHORIZATION_ENDPOINT`, `RESCALER_OIDC_TOKEN_ENDPOINT`,
    /// `RESCALER_OIDC_END_SESSION_ENDPOINT`, `RESCALER_OIDC_REVOCATION_ENDPOINT`.
    pub(super) fn from_env(var: &impl Fn(&str) -> Option<String>) -> Option<Self> {
        let (jwks_url, issuer, audience) =
            (var("RESCALER_OIDC_JWKS_URL")?, var("RESCALER_OIDC_ISSUER")?, var("RESCALER_OIDC_AUDIENCE")?);
        let set = |name: &str| var(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let console = set("RESCALER_OIDC_CLIENT_ID").map(|client_id| ConsoleSignIn {
            client_id,
            scopes: set("RESCALER_OIDC_SCOPES")
                .map(|scopes| scopes.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_else(default_scopes),
            authorization_endpoint: set("RESCALER_OIDC_AUTHORIZATION_ENDPOINT"),
            token_endpoint: set("RESCALER_OIDC_TOKEN_ENDPOINT"),
            end_session_endpoint: set("RESCALER_OIDC_END_SESSION_ENDPOINT"),
            revocation_endpoint: set("RESCALER_OIDC_REVOCATION_ENDPOINT"),
        });
        Some(Self::Oidc {
            jwks_url,
            issuer,
            audience,
            roles_claim: var("RESCALER_OIDC_ROLES_CLAIM").unwrap_or_else(default_roles_claim),
            username_claim: var("RESCALER_OIDC_USERNAME_CLAIM").unwrap_or_else(default_username_claim),
            jwks_refresh_secs: default_jwks_refresh_secs(),
            console,
        })
    }

    /// The console's sign-in settings, in `oidc` mode with `[auth.console]`.
    pub fn console(&self) -> Option<&ConsoleSignIn> {
        match self {
            Self::Oidc { console, .. } => console.as_ref(),
            Self::Tokens { .. } => None,
        }
    }

    /// The origins other than its own that the console's page calls (`connect-src`): the
    /// issuer's and the token endpoint's, in `oidc` mode with a console client. Each is
    /// `scheme://host[:port]`.
    pub fn browser_origins(&self) -> Vec<String> {
        let Self::Oidc { issuer, console: Some(console), .. } = self else {
            return Vec::new();
        };
        let mut origins: Vec<String> =
            [Some(issuer.as_str()), console.token_endpoint.as_deref(), console.revocation_endpoint.as_deref()]
                .into_iter()
                .flatten()
                .filter_map(origin)
                .collect();
        let mut seen = std::collections::BTreeSet::new();
        origins.retain(|origin| seen.insert(origin.clone()));
        origins
    }
}

/// `scheme://authority` of an absolute http(s) URL.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().filter(|authority| !authority.is_empty())?;
    Some(format!("{scheme}://{authority}"))
}

/// One user in `tokens` mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub token: String,
    /// Role by cluster id; `*` applies to every cluster.
    pub roles: BTreeMap<String, String>,
    /// Where an `email` channel with `to_people` writes to this user.
    #[serde(default)]
    pub email: Option<String>,
}

pub(super) fn default_roles_claim() -> String {
    "cognito:groups".to_owned()
}

fn default_username_claim() -> String {
    "username".to_owned()
}

fn default_jwks_refresh_secs() -> u64 {
    300
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(str::to_owned).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_authority() {
        assert_eq!(origin("https://idp.example.com/oauth2/token").as_deref(), Some("https://idp.example.com"));
        assert_eq!(origin("http://127.0.0.1:4011").as_deref(), Some("http://127.0.0.1:4011"));
        assert_eq!(origin("http://127.0.0.1:4011?x").as_deref(), Some("http://127.0.0.1:4011"));
        assert_eq!(origin("javascript://alert(1)"), None);
        assert_eq!(origin("https://"), None);
        assert_eq!(origin("idp.example.com"), None);
    }

    #[test]
    fn the_console_client_comes_from_the_environment() {
        let vars = |name: &str| {
            Some(match name {
                "RESCALER_OIDC_JWKS_URL" => "https://idp/jwks",
                "RESCALER_OIDC_ISSUER" => "https://cognito-idp.eu-west-1.amazonaws.com/pool",
                "RESCALER_OIDC_AUDIENCE" => "client-1",
                "RESCALER_OIDC_CLIENT_ID" => "client-1",
                "RESCALER_OIDC_SCOPES" => "openid  email",
                "RESCALER_OIDC_TOKEN_ENDPOINT" => "https://team.auth.eu-west-1.amazoncognito.com/oauth2/token",
                _ => return None,
            })
            .map(str::to_owned)
        };
        let auth = AuthConfig::from_env(&vars).expect("oidc");
        let console = auth.console().expect("console client");
        assert_eq!(console.scopes, ["openid", "email"]);
        assert_eq!(console.authorization_endpoint, None);
        assert_eq!(
            auth.browser_origins(),
            ["https://cognito-idp.eu-west-1.amazonaws.com", "https://team.auth.eu-west-1.amazoncognito.com"]
        );
        let without_client = |name: &str| if name == "RESCALER_OIDC_CLIENT_ID" { None } else { vars(name) };
        let auth = AuthConfig::from_env(&without_client).expect("oidc");
        assert!(auth.console().is_none() && auth.browser_origins().is_empty());
        assert!(AuthConfig::from_env(&|_: &str| None).is_none());
    }
}
