//! OIDC sign-in on real cryptography: RSA keys generated per run, a JWKS served on loopback,
//! RS256 tokens signed here and checked by the backend's `Authenticator`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rescaler_backend::auth::{AuthError, Authenticator, Identity, Role};
use rescaler_backend::config::AuthConfig;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool";
const AUDIENCE: &str = "console-app-client";
const KID: &str = "signing-key-1";
const ROTATED_KID: &str = "signing-key-2";

/// An RSA key pair: the private half signs, the public half is published as a JWK.
struct TestKey {
    encoding_key: EncodingKey,
    jwk: Jwk,
}

impl TestKey {
    fn generate(kid: &str) -> anyhow::Result<Self> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        let pkcs8 = key_pair.as_der().map_err(|_| anyhow::anyhow!("RSA key serialization failed"))?;
        let encoded = STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> =
            encoded.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap_or("")).collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
        let encoding_key = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let mut jwk = Jwk::from_encoding_key(&encoding_key, Algorithm::RS256)?;
        jwk.common.key_id = Some(kid.to_owned());
        Ok(Self { encoding_key, jwk })
    }

    /// Signs `claims` with RS256, naming `kid` in the header.
    fn sign(&self, kid: &str, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding_key)?)
    }
}

/// The keys of every test, generated once per run: the issuer's key, the key it rotates to,
/// and an impostor's.
struct Keys {
    issuer: TestKey,
    rotated: TestKey,
    impostor: TestKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    issuer: TestKey::generate(KID).expect("issuer key"),
    rotated: TestKey::generate(ROTATED_KID).expect("rotated key"),
    impostor: TestKey::generate(KID).expect("impostor key"),
});

/// A JWKS endpoint on a loopback port; the published keys can change while it runs.
struct JwksServer {
    url: String,
    published: Arc<Published>,
}

struct Published {
    keys: Mutex<Vec<Jwk>>,
    fetches: AtomicUsize,
}

impl JwksServer {
    async fn start(keys: Vec<Jwk>) -> anyhow::Result<Self> {
        let published = Arc::new(Published { keys: Mutex::new(keys), fetches: AtomicUsize::new(0) });
        let router =
            axum::Router::new().route("/.well-known/jwks.json", get(serve_jwks)).with_state(Arc::clone(&published));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self { url: format!("http://{address}/.well-known/jwks.json"), published })
    }

    fn publish(&self, jwk: Jwk) {
        self.published.keys.lock().expect("keys lock").push(jwk);
    }

    /// The issuer stops publishing the key named `kid`.
    fn withdraw(&self, kid: &str) {
        self.published.keys.lock().expect("keys lock").retain(|jwk| jwk.common.key_id.as_deref() != Some(kid));
    }

    fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(published): State<Arc<Published>>) -> Json<Value> {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = published.keys.lock().expect("keys lock").clone();
    Json(json!({ "keys": keys }))
}

fn oidc_config(jwks_url: &str) -> AuthConfig {
    AuthConfig::Oidc {
        jwks_url: jwks_url.to_owned(),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        roles_claim: "cognito:groups".to_owned(),
        username_claim: "username".to_owned(),
        jwks_refresh_secs: 300,
        console: None,
    }
}

fn authenticator(jwks_url: &str) -> anyhow::Result<Authenticator> {
    Ok(Authenticator::new(&oidc_config(jwks_url), reqwest::Client::new())?)
}

/// A server publishing the issuer's key and an authenticator reading it.
async fn issuer_setup() -> anyhow::Result<(JwksServer, Authenticator)> {
    harness::init_tracing();
    let server = JwksServer::start(vec![KEYS.issuer.jwk.clone()]).await?;
    let authenticator = authenticator(&server.url)?;
    Ok((server, authenticator))
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// The claims of a valid Cognito access token for alice, changed by `edit`.
fn claims(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let issued = now();
    let mut claims = Map::new();
    claims.insert("iss".to_owned(), json!(ISSUER));
    claims.insert("aud".to_owned(), json!(AUDIENCE));
    claims.insert("sub".to_owned(), json!("8f1c2d3e-0000-4000-8000-000000000001"));
    claims.insert("token_use".to_owned(), json!("access"));
    claims.insert("username".to_owned(), json!("alice"));
    claims.insert("cognito:groups".to_owned(), json!(["viewer", "prod:approver", "staging:admin", "developers"]));
    claims.insert("iat".to_owned(), json!(issued));
    claims.insert("nbf".to_owned(), json!(issued));
    claims.insert("exp".to_owned(), json!(issued + 3600));
    edit(&mut claims);
    Value::Object(claims)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn authenticate(authenticator: &Authenticator, token: &str) -> Result<Identity, AuthError> {
    authenticator.authenticate(Some(&bearer(token))).await
}

/// A token with a hand-made header and signature, for algorithms the signer would not produce.
fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    format!("{}.{}.{}", encode(header.to_string().as_bytes()), encode(claims.to_string().as_bytes()), encode(signature))
}

#[tokio::test]
async fn valid_token_yields_the_user_with_global_and_per_cluster_roles() -> anyhow::Result<()> {
    let (server, authenticator) = issuer_setup().await?;
    let token = KEYS.issuer.sign(KID, &claims(|_| {}))?;
    let identity = authenticate(&authenticator, &token).await?;
    assert_eq!(identity.name, "alice");
    let expected: BTreeMap<String, Role> = [("*", Role::Viewer), ("prod", Role::Approver), ("staging", Role::Admin)]
        .into_iter()
        .map(|(cluster, role)| (cluster.to_owned(), role))
        .collect();
    assert_eq!(identity.roles(), &expected);
    assert!(identity.can("prod", Role::Approver));
    assert!(!identity.can("dev", Role::Requester));
    assert!(identity.can("dev", Role::Viewer));
    assert!(identity.is_admin_anywhere());
    // The keys are cached: a second token costs no fetch.
    authenticate(&authenticator, &token).await?;
    assert_eq!(server.fetches(), 1);
    Ok(())
}

#[tokio::test]
async fn cognito_access_token_with_client_id_is_accepted() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let access = claims(|claims| {
        claims.remove("aud");
        claims.insert("client_id".to_owned(), json!(AUDIENCE));
        claims.insert("token_use".to_owned(), json!("access"));
        claims.insert("scope".to_owned(), json!("openid"));
        claims.insert("cognito:groups".to_owned(), json!(["requester"]));
    });
    let identity = authenticate(&authenticator, &KEYS.issuer.sign(KID, &access)?).await?;
    assert_eq!(identity.name, "alice");
    assert_eq!(identity.role_on("anything"), Some(Role::Requester));

    let other_client = claims(|claims| {
        claims.remove("aud");
        claims.insert("client_id".to_owned(), json!("another-app-client"));
    });
    let refused = authenticate(&authenticator, &KEYS.issuer.sign(KID, &other_client)?).await;
    assert_eq!(refused, Err(AuthError::WrongAudience));
    Ok(())
}

#[tokio::test]
async fn id_tokens_are_refused_even_when_signed_by_the_issuer_for_the_client() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    // Cognito's ID token: `aud` is the app client, `token_use` says `id`.
    let cognito_id = claims(|claims| {
        claims.insert("token_use".to_owned(), json!("id"));
    });
    let refused = authenticate(&authenticator, &KEYS.issuer.sign(KID, &cognito_id)?).await;
    assert_eq!(refused, Err(AuthError::NotAnAccessToken));
    // A generic provider's ID token: no `token_use`, header `typ: JWT`.
    let generic_id = claims(|claims| {
        claims.remove("token_use");
        claims.insert("nonce".to_owned(), json!("n-0S6_WzA2Mj"));
    });
    let refused = authenticate(&authenticator, &KEYS.issuer.sign(KID, &generic_id)?).await;
    assert_eq!(refused, Err(AuthError::NotAnAccessToken));
    Ok(())
}

#[tokio::test]
async fn username_falls_back_to_cognito_username_then_sub() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let id_token = claims(|claims| {
        claims.remove("username");
        claims.insert("cognito:username".to_owned(), json!("bob"));
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &id_token)?).await?.name, "bob");
    let bare = claims(|claims| {
        claims.remove("username");
        claims.remove("cognito:groups");
    });
    let identity = authenticate(&authenticator, &KEYS.issuer.sign(KID, &bare)?).await?;
    assert_eq!(identity.name, "8f1c2d3e-0000-4000-8000-000000000001");
    assert_eq!(identity.max_role(), None, "no groups, no roles");
    Ok(())
}

#[tokio::test]
async fn configured_claims_are_read_for_roles_and_username() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = JwksServer::start(vec![KEYS.issuer.jwk.clone()]).await?;
    let config = AuthConfig::Oidc {
        jwks_url: server.url.clone(),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        roles_claim: "groups".to_owned(),
        username_claim: "email".to_owned(),
        jwks_refresh_secs: 300,
        console: None,
    };
    let authenticator = Authenticator::new(&config, reqwest::Client::new())?;
    let token = KEYS.issuer.sign(
        KID,
        &claims(|claims| {
            claims.insert("email".to_owned(), json!("carol@example.com"));
            claims.insert("groups".to_owned(), json!(["lab:admin"]));
        }),
    )?;
    let identity = authenticate(&authenticator, &token).await?;
    assert_eq!(identity.name, "carol@example.com");
    assert_eq!(identity.role_on("lab"), Some(Role::Admin));
    assert_eq!(identity.role_on("prod"), None, "cognito:groups is not the configured claim");
    Ok(())
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_beyond_the_leeway() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let expired = claims(|claims| {
        claims.insert("iat".to_owned(), json!(now() - 7200));
        claims.insert("nbf".to_owned(), json!(now() - 7200));
        claims.insert("exp".to_owned(), json!(now() - 120));
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &expired)?).await, Err(AuthError::Expired));
    let just_expired = claims(|claims| {
        claims.insert("exp".to_owned(), json!(now() - 10));
    });
    authenticate(&authenticator, &KEYS.issuer.sign(KID, &just_expired)?).await?;
    let future = claims(|claims| {
        claims.insert("nbf".to_owned(), json!(now() + 600));
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &future)?).await, Err(AuthError::Expired));
    let without_exp = claims(|claims| {
        claims.remove("exp");
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &without_exp)?).await, Err(AuthError::Malformed));
    Ok(())
}

#[tokio::test]
async fn wrong_issuer_is_refused() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let other_pool = claims(|claims| {
        claims.insert("iss".to_owned(), json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool"));
    });
    let refused = authenticate(&authenticator, &KEYS.issuer.sign(KID, &other_pool)?).await;
    assert_eq!(refused, Err(AuthError::WrongIssuer));
    let no_issuer = claims(|claims| {
        claims.remove("iss");
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &no_issuer)?).await, Err(AuthError::WrongIssuer));
    Ok(())
}

#[tokio::test]
async fn wrong_audience_is_refused() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let other_app = claims(|claims| {
        claims.insert("aud".to_owned(), json!("another-app-client"));
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &other_app)?).await, Err(AuthError::WrongAudience));
    let nobody = claims(|claims| {
        claims.remove("aud");
    });
    assert_eq!(authenticate(&authenticator, &KEYS.issuer.sign(KID, &nobody)?).await, Err(AuthError::WrongAudience));
    let listed = claims(|claims| {
        claims.insert("aud".to_owned(), json!(["another-app-client", AUDIENCE]));
    });
    authenticate(&authenticator, &KEYS.issuer.sign(KID, &listed)?).await?;
    Ok(())
}

#[tokio::test]
async fn signature_by_another_key_under_the_same_kid_is_refused() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    let token = KEYS.impostor.sign(KID, &claims(|_| {}))?;
    assert_eq!(authenticate(&authenticator, &token).await, Err(AuthError::InvalidSignature));
    // A genuine token whose claims were edited after signing.
    let genuine = KEYS.issuer.sign(KID, &claims(|_| {}))?;
    let mut segments: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let promoted = claims(|claims| {
        claims.insert("cognito:groups".to_owned(), json!(["admin"]));
    });
    segments[1] = URL_SAFE_NO_PAD.encode(promoted.to_string().as_bytes());
    assert_eq!(authenticate(&authenticator, &segments.join(".")).await, Err(AuthError::InvalidSignature));
    Ok(())
}

#[tokio::test]
async fn unknown_kid_is_refused_and_refetches_at_most_once_per_interval() -> anyhow::Result<()> {
    let (server, authenticator) = issuer_setup().await?;
    authenticate(&authenticator, &KEYS.issuer.sign(KID, &claims(|_| {}))?).await?;
    assert_eq!(server.fetches(), 1);
    // The issuer rotates after the cache was filled: within 30 s the new kid is not fetched.
    server.publish(KEYS.rotated.jwk.clone());
    let rotated = KEYS.rotated.sign(ROTATED_KID, &claims(|_| {}))?;
    assert_eq!(authenticate(&authenticator, &rotated).await, Err(AuthError::UnknownKey));
    assert_eq!(server.fetches(), 1, "a fetch happened less than 30 s after the last one");
    let unknown = KEYS.issuer.sign("no-such-kid", &claims(|_| {}))?;
    assert_eq!(authenticate(&authenticator, &unknown).await, Err(AuthError::UnknownKey));
    assert_eq!(server.fetches(), 1);
    // The known key keeps working meanwhile.
    authenticate(&authenticator, &KEYS.issuer.sign(KID, &claims(|_| {}))?).await?;
    Ok(())
}

#[tokio::test]
async fn rotated_key_is_fetched_once_the_interval_has_passed() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = JwksServer::start(vec![KEYS.issuer.jwk.clone()]).await?;
    let authenticator = authenticator(&server.url)?.with_jwks_refetch_interval(Duration::from_millis(200));
    authenticate(&authenticator, &KEYS.issuer.sign(KID, &claims(|_| {}))?).await?;
    server.publish(KEYS.rotated.jwk.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let identity = authenticate(&authenticator, &KEYS.rotated.sign(ROTATED_KID, &claims(|_| {}))?).await?;
    assert_eq!(identity.name, "alice");
    assert_eq!(server.fetches(), 2);
    let unknown = KEYS.issuer.sign("no-such-kid", &claims(|_| {}))?;
    assert_eq!(authenticate(&authenticator, &unknown).await, Err(AuthError::UnknownKey));
    assert_eq!(server.fetches(), 2, "the refetch just happened");
    Ok(())
}

#[tokio::test]
async fn a_withdrawn_key_is_refused_once_the_refresh_interval_has_passed() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = JwksServer::start(vec![KEYS.issuer.jwk.clone(), KEYS.rotated.jwk.clone()]).await?;
    let refresh = Duration::from_millis(1500);
    let authenticator = authenticator(&server.url)?.with_jwks_refresh_interval(refresh);
    let withdrawn = KEYS.issuer.sign(KID, &claims(|_| {}))?;
    let current = KEYS.rotated.sign(ROTATED_KID, &claims(|_| {}))?;
    authenticate(&authenticator, &withdrawn).await?;
    server.withdraw(KID);
    // Trusted from the cache until the interval has passed, without asking the issuer again.
    authenticate(&authenticator, &withdrawn).await?;
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(refresh).await;
    assert_eq!(authenticate(&authenticator, &withdrawn).await, Err(AuthError::UnknownKey));
    assert_eq!(server.fetches(), 2, "the stale set was fetched again");
    assert_eq!(authenticate(&authenticator, &current).await?.name, "alice");
    Ok(())
}

#[tokio::test]
async fn alg_none_and_hs256_tokens_are_refused() -> anyhow::Result<()> {
    let (server, authenticator) = issuer_setup().await?;
    let admin = claims(|claims| {
        claims.insert("cognito:groups".to_owned(), json!(["admin"]));
    });
    let unsigned = forged(&json!({"alg": "none", "kid": KID, "typ": "JWT"}), &admin, b"");
    assert_eq!(authenticate(&authenticator, &unsigned).await, Err(AuthError::InvalidSignature));
    let unsigned_lowercase = forged(&json!({"alg": "None", "typ": "JWT"}), &admin, b"");
    assert_eq!(authenticate(&authenticator, &unsigned_lowercase).await, Err(AuthError::InvalidSignature));
    // The classic confusion: HMAC keyed with the issuer's public key material.
    let jwk_json = serde_json::to_string(&KEYS.issuer.jwk)?;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.to_owned());
    let hmac = jsonwebtoken::encode(&header, &admin, &EncodingKey::from_secret(jwk_json.as_bytes()))?;
    assert_eq!(authenticate(&authenticator, &hmac).await, Err(AuthError::InvalidSignature));
    let rs512 = forged(&json!({"alg": "RS512", "kid": KID}), &admin, b"signature");
    assert_eq!(authenticate(&authenticator, &rs512).await, Err(AuthError::InvalidSignature));
    assert_eq!(server.fetches(), 0, "refused before any key was looked up");
    Ok(())
}

#[tokio::test]
async fn malformed_and_missing_tokens_are_refused() -> anyhow::Result<()> {
    let (_server, authenticator) = issuer_setup().await?;
    assert_eq!(authenticator.authenticate(None).await, Err(AuthError::Missing));
    assert_eq!(authenticate(&authenticator, "not-a-jwt").await, Err(AuthError::Malformed));
    assert_eq!(authenticate(&authenticator, "a.b.c").await, Err(AuthError::Malformed));
    let token = KEYS.issuer.sign(KID, &claims(|_| {}))?;
    assert_eq!(authenticator.authenticate(Some(&format!("Basic {token}"))).await, Err(AuthError::Malformed));
    Ok(())
}

#[tokio::test]
async fn jwks_server_down_means_jwks_unavailable() -> anyhow::Result<()> {
    harness::init_tracing();
    // A port that was free a moment ago and has nobody listening now.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    drop(listener);
    let authenticator = authenticator(&format!("http://{address}/.well-known/jwks.json"))?;
    let token = KEYS.issuer.sign(KID, &claims(|_| {}))?;
    assert_eq!(authenticate(&authenticator, &token).await, Err(AuthError::JwksUnavailable));
    // Retried no sooner than the failure back-off: still unavailable, not "unknown key".
    assert_eq!(authenticate(&authenticator, &token).await, Err(AuthError::JwksUnavailable));
    Ok(())
}
