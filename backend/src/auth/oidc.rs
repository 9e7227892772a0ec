//! `oidc` mode: RS256 JWTs (Cognito or any OIDC provider) verified against the issuer's JWKS,
//! with roles read from a groups claim.
//!
//! Group-name convention: a group named after a role (`viewer`, `requester`, `approver`,
//! `admin`) grants that role on every cluster; a group named `<cluster id>:<role>` (for example
//! `prod:approver`) grants it on that cluster only. Other group names are ignored. When several
//! groups name the same cluster (or several are global), the highest role counts; as for
//! `tokens` mode, a cluster's own role takes precedence over the global one.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwks::KeySet;
use super::{ALL_CLUSTERS, AuthError, Identity, Role};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Where Cognito puts the user name in ID tokens; the first fallback for the username claim.
const COGNITO_USERNAME_CLAIM: &str = "cognito:username";

/// What `OidcVerifier::new` needs, copied out of `AuthConfig::Oidc`.
pub(super) struct OidcSettings {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
    pub roles_claim: String,
    pub username_claim: String,
    /// Age past which the cached JWKS is fetched again.
    pub jwks_refresh_interval: Duration,
    pub http_client: reqwest::Client,
}

pub(super) struct OidcVerifier {
    audience: String,
    roles_claim: String,
    username_claim: String,
    validation: Validation,
    keys: KeySet,
}

/// The members of a JWT header read before any key is looked up.
#[derive(Deserialize)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
    typ: Option<String>,
}

impl OidcVerifier {
    pub(super) fn new(settings: OidcSettings) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // `aud` or Cognito's `client_id`, checked by `check_audience`.
        validation.validate_aud = false;
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        Self {
            audience: settings.audience,
            roles_claim: settings.roles_claim,
            username_claim: settings.username_claim,
            validation,
            keys: KeySet::new(settings.jwks_url, settings.http_client, settings.jwks_refresh_interval),
        }
    }

    pub(super) fn set_refetch_interval(&mut self, interval: Duration) {
        self.keys.set_refetch_interval(interval);
    }

    pub(super) fn set_refresh_interval(&mut self, interval: Duration) {
        self.keys.set_refresh_interval(interval);
    }

    pub(super) async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let header = read_header(token)?;
        if header.alg != "RS256" {
            return Err(AuthError::InvalidSignature);
        }
        if header.crit.is_some() {
            // No extension is understood, so a critical one cannot be honoured.
            return Err(AuthError::Malformed);
        }
        let kid = header.kid.clone().ok_or(AuthError::UnknownKey)?;
        let key = self.keys.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(|error| jwt_error(error.kind()))?
            .claims;
        check_audience(&claims, &self.audience)?;
        if !is_access_token(header.typ.as_deref(), &claims) {
            return Err(AuthError::NotAnAccessToken);
        }
        let name = username(&claims, &self.username_claim).ok_or(AuthError::Malformed)?;
        let roles = roles_from_groups(groups(claims.get(&self.roles_claim)));
        Ok(Identity::new(name, roles).with_email(verified_email(&claims)))
    }
}

/// The `email` claim, unless `email_verified` says it is not verified (`false`, or Cognito's
/// `"false"`).
fn verified_email(claims: &Map<String, Value>) -> Option<String> {
    let unverified = matches!(claims.get("email_verified"), Some(Value::Bool(false)))
        || claims.get("email_verified").and_then(Value::as_str) == Some("false");
    let email = claims.get("email").and_then(Value::as_str).map(str::trim).filter(|email| email.contains('@'));
    email.filter(|_| !unverified).map(str::to_owned)
}

/// Decodes the header segment of a compact JWS with exactly three segments.
fn read_header(token: &str) -> Result<TokenHeader, AuthError> {
    let mut segments = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(AuthError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&header).map_err(|_| AuthError::Malformed)
}

fn jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthError::Expired,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::InvalidSignature,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        _ => AuthError::Malformed,
    }
}

/// `aud` (a string or an array) must contain the audience; without `aud`, Cognito access
/// tokens name the app client in `client_id`, which must then equal it.
fn check_audience(claims: &Map<String, Value>, audience: &str) -> Result<(), AuthError> {
    let accepted = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
        Some(_) => false,
        None => claims.get("client_id").and_then(Value::as_str) == Some(audience),
    };
    if accepted { Ok(()) } else { Err(AuthError::WrongAudience) }
}

/// The API takes access tokens only: an ID token says who signed in to the console, not that
/// the API may be called on their behalf, and it outlives a revoked session. Providers mark
/// access tokens differently: Cognito by `token_use: access` (its ID tokens say `id`), RFC 9068
/// providers (for example `oidc-provider`) by the header `typ: at+jwt`, Keycloak by the claim
/// `typ: Bearer` (its ID tokens say `ID`). A token that says none of these is refused.
fn is_access_token(header_typ: Option<&str>, claims: &Map<String, Value>) -> bool {
    if let Some(token_use) = claims.get("token_use") {
        return token_use.as_str() == Some("access");
    }
    let rfc_9068 = header_typ
        .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"));
    rfc_9068 || claims.get("typ").and_then(Value::as_str).is_some_and(|typ| typ.eq_ignore_ascii_case("bearer"))
}

/// The caller's name: the configured claim, else `cognito:username`, else `sub`.
fn username(claims: &Map<String, Value>, username_claim: &str) -> Option<String> {
    [username_claim, COGNITO_USERNAME_CLAIM, "sub"]
        .into_iter()
        .filter_map(|claim| claims.get(claim).and_then(Value::as_str))
        .find(|name| !name.is_empty())
        .map(str::to_owned)
}

/// The group names in the roles claim: an array of strings (a lone string counts as one).
fn groups(claim: Option<&Value>) -> Vec<&str> {
    match claim {
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(group)) => vec![group.as_str()],
        _ => Vec::new(),
    }
}

/// Roles by cluster id (`*` for every cluster) from group names; see the module docs.
fn roles_from_groups(groups: Vec<&str>) -> BTreeMap<String, Role> {
    let mut roles: BTreeMap<String, Role> = BTreeMap::new();
    for group in groups {
        let (scope, role_name) = group.split_once(':').unwrap_or((ALL_CLUSTERS, group));
        let scope_is_valid = scope == ALL_CLUSTERS
            || (!scope.is_empty() && scope.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let role = match role_name.parse::<Role>() {
            Ok(role) if scope_is_valid => role,
            _ => {
                tracing::debug!(auth.group = %group, "ignoring a group that names no role");
                continue;
            }
        };
        roles.entry(scope.to_owned()).and_modify(|held| *held = (*held).max(role)).or_insert(role);
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("claims must be an object"),
        }
    }

    #[test]
    fn plain_groups_are_global_and_prefixed_groups_are_per_cluster() {
        let roles = roles_from_groups(vec!["viewer", "prod:approver", "staging-eu:admin", "*:requester"]);
        let expected: BTreeMap<String, Role> = [
            ("*".to_owned(), Role::Requester),
            ("prod".to_owned(), Role::Approver),
            ("staging-eu".to_owned(), Role::Admin),
        ]
        .into_iter()
        .collect();
        assert_eq!(roles, expected);
    }

    #[test]
    fn unknown_group_names_are_ignored() {
        let roles = roles_from_groups(vec![
            "developers",
            "Admin",
            "prod:owner",
            ":admin",
            "prod:approver:extra",
            "bad cluster:admin",
            "eu-west-1_AbCdEf_Google",
        ]);
        assert!(roles.is_empty(), "{roles:?}");
    }

    #[test]
    fn the_highest_of_several_groups_for_one_scope_counts() {
        let roles = roles_from_groups(vec!["prod:viewer", "prod:approver", "prod:requester", "viewer", "admin"]);
        assert_eq!(roles.get("prod"), Some(&Role::Approver));
        assert_eq!(roles.get("*"), Some(&Role::Admin));
    }

    #[test]
    fn groups_claim_may_be_an_array_or_one_string() {
        let array = serde_json::json!(["admin", 7, "prod:viewer"]);
        assert_eq!(groups(Some(&array)), ["admin", "prod:viewer"]);
        assert_eq!(groups(Some(&serde_json::json!("approver"))), ["approver"]);
        assert!(groups(Some(&serde_json::json!({"admin": true}))).is_empty());
        assert!(groups(None).is_empty());
    }

    #[test]
    fn audience_comes_from_aud_or_else_client_id() {
        assert_eq!(check_audience(&claims(serde_json::json!({"aud": "console"})), "console"), Ok(()));
        assert_eq!(check_audience(&claims(serde_json::json!({"aud": ["other", "console"]})), "console"), Ok(()));
        assert_eq!(check_audience(&claims(serde_json::json!({"client_id": "console"})), "console"), Ok(()));
        let wrong = [
            serde_json::json!({"aud": "other"}),
            serde_json::json!({"aud": ["other"]}),
            serde_json::json!({"aud": 5}),
            serde_json::json!({"aud": "other", "client_id": "console"}),
            serde_json::json!({"client_id": "other"}),
            serde_json::json!({}),
        ];
        for value in wrong {
            assert_eq!(check_audience(&claims(value.clone()), "console"), Err(AuthError::WrongAudience), "{value}");
        }
    }

    #[test]
    fn only_access_tokens_are_accepted() {
        let access = [
            (None, serde_json::json!({"token_use": "access"})),
            (Some("at+jwt"), serde_json::json!({})),
            (Some("application/at+JWT"), serde_json::json!({})),
            (Some("JWT"), serde_json::json!({"typ": "Bearer"})),
        ];
        for (typ, value) in access {
            assert!(is_access_token(typ, &claims(value.clone())), "{typ:?} {value}");
        }
        let not_access = [
            (None, serde_json::json!({"token_use": "id"})),
            (Some("at+jwt"), serde_json::json!({"token_use": "id"})),
            (None, serde_json::json!({"token_use": 1})),
            (Some("JWT"), serde_json::json!({})),
            (None, serde_json::json!({"typ": "ID"})),
            (None, serde_json::json!({})),
        ];
        for (typ, value) in not_access {
            assert!(!is_access_token(typ, &claims(value.clone())), "{typ:?} {value}");
        }
    }

    #[test]
    fn username_falls_back_to_cognito_username_then_sub() {
        let all = claims(serde_json::json!({"username": "ann", "cognito:username": "ann-c", "sub": "1234"}));
        assert_eq!(username(&all, "username").as_deref(), Some("ann"));
        assert_eq!(username(&all, "email").as_deref(), Some("ann-c"));
        let sub_only = claims(serde_json::json!({"username": "", "sub": "1234"}));
        assert_eq!(username(&sub_only, "username").as_deref(), Some("1234"));
        assert_eq!(username(&claims(serde_json::json!({"username": 5})), "username"), None);
    }

    #[test]
    fn the_email_claim_counts_unless_it_is_unverified() {
        let email = |value: Value| verified_email(&claims(value));
        assert_eq!(email(serde_json::json!({"email": "ann@example.com"})).as_deref(), Some("ann@example.com"));
        let verified = serde_json::json!({"email": "ann@example.com", "email_verified": true});
        assert_eq!(email(verified).as_deref(), Some("ann@example.com"));
        assert_eq!(email(serde_json::json!({"email": "ann@example.com", "email_verified": false})), None);
        assert_eq!(email(serde_json::json!({"email": "ann@example.com", "email_verified": "false"})), None);
        assert_eq!(email(serde_json::json!({"email": "not an address"})), None);
        assert_eq!(email(serde_json::json!({"email": 5})), None);
        assert_eq!(email(serde_json::json!({})), None);
    }

    #[test]
    fn header_must_be_three_segments_of_base64_json() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let read = read_header(&format!("{header}.e30.c2ln")).expect("well formed");
        assert_eq!((read.alg.as_str(), read.kid.as_deref()), ("RS256", Some("k1")));
        for token in ["", "abc", "a.b", &format!("{header}.e30.c2ln.x"), "!!.e30.c2ln", "e30.e30.c2ln"] {
            assert!(matches!(read_header(token), Err(AuthError::Malformed)), "{token}");
        }
    }

    #[test]
    fn jwt_errors_map_to_auth_errors() {
        assert_eq!(jwt_error(&ErrorKind::ExpiredSignature), AuthError::Expired);
        assert_eq!(jwt_error(&ErrorKind::ImmatureSignature), AuthError::Expired);
        assert_eq!(jwt_error(&ErrorKind::InvalidSignature), AuthError::InvalidSignature);
        assert_eq!(jwt_error(&ErrorKind::InvalidAlgorithm), AuthError::InvalidSignature);
        assert_eq!(jwt_error(&ErrorKind::InvalidIssuer), AuthError::WrongIssuer);
        assert_eq!(jwt_error(&ErrorKind::MissingRequiredClaim("iss".to_owned())), AuthError::WrongIssuer);
        assert_eq!(jwt_error(&ErrorKind::MissingRequiredClaim("exp".to_owned())), AuthError::Malformed);
        assert_eq!(jwt_error(&ErrorKind::InvalidAudience), AuthError::WrongAudience);
        assert_eq!(jwt_error(&ErrorKind::InvalidToken), AuthError::Malformed);
    }
}
