//! The security headers of every answer, the console's files and the API's alike: what the
//! local binary and the Lambda send, and what the template's CloudFront response-headers policy
//! sends (`infra/test_cdn.py` compares the two). No page of the console can be framed, run an
//! inline script or be sniffed as another type.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// `X-Frame-Options`, for browsers that predate `frame-ancestors`.
pub const FRAME_OPTIONS: &str = "DENY";
pub const CONTENT_TYPE_OPTIONS: &str = "nosniff";
pub const REFERRER_POLICY: &str = "no-referrer";
/// Two years, subdomains included (CloudFront: `AccessControlMaxAgeSec`, `IncludeSubdomains`).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// The console's Content-Security-Policy: its own scripts only (no inline script, no `eval`;
/// `'wasm-unsafe-eval'` lets it compile its WebAssembly), its own styles (no `style=`
/// attribute), images from itself and `data:` (the favicon), calls to itself and to
/// `connect_origins` (the identity provider's, whose token endpoint the page calls), no plugin,
/// no `<base>`, forms to itself, and no framing by anyone.
pub fn content_security_policy(connect_origins: &[String]) -> String {
    let mut connect = String::from("'self'");
    for origin in connect_origins {
        connect.push(' ');
        connect.push_str(origin);
    }
    [
        "default-src 'self'".to_owned(),
        "script-src 'self' 'wasm-unsafe-eval'".to_owned(),
        "style-src 'self'".to_owned(),
        "img-src 'self' data:".to_owned(),
        format!("connect-src {connect}"),
        "object-src 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
        "form-action 'self'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
    ]
    .join("; ")
}

/// The headers every answer carries, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecurityHeaders(Arc<Vec<(HeaderName, HeaderValue)>>);

impl SecurityHeaders {
    /// The headers for a backend whose console calls `connect_origins` besides itself
    /// (`Config::browser_origins`). An origin that cannot be a header value is left out of
    /// the policy and logged (the configuration checks URLs; this never happens in practice).
    pub fn new(connect_origins: &[String]) -> Self {
        let origins: Vec<String> = connect_origins
            .iter()
            .filter(|origin| {
                let usable = HeaderValue::from_str(origin).is_ok() && !origin.contains([';', ',', ' ']);
                if !usable {
                    tracing::warn!(csp.origin = %origin, "origin left out of the content security policy");
                }
                usable
            })
            .cloned()
            .collect();
        let policy = content_security_policy(&origins);
        let headers = vec![
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&policy).expect("checked origins")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static(FRAME_OPTIONS)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static(CONTENT_TYPE_OPTIONS)),
            (header::REFERRER_POLICY, HeaderValue::from_static(REFERRER_POLICY)),
            (header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(STRICT_TRANSPORT_SECURITY)),
        ];
        Self(Arc::new(headers))
    }

    /// The headers of this configuration: its console calls the identity provider's origins.
    pub fn of(config: &crate::config::Config) -> Self {
        let region = std::env::var("AWS_REGION").ok().or_else(|| std::env::var("AWS_DEFAULT_REGION").ok());
        Self::new(&config.browser_origins(region.as_deref()))
    }

    /// The header values, by name.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.0.iter().find(|(known, _)| known == name).map(|(_, value)| value)
    }
}

/// Middleware that sets the security headers on every response, replacing any a handler set.
pub async fn add_security_headers(State(headers): State<SecurityHeaders>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in headers.0.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_and_no_framing() {
        let policy = content_security_policy(&[]);
        let directives: Vec<&str> = policy.split("; ").collect();
        assert!(directives.contains(&"script-src 'self' 'wasm-unsafe-eval'"), "{policy}");
        assert!(directives.contains(&"frame-ancestors 'none'"), "{policy}");
        assert!(directives.contains(&"object-src 'none'") && directives.contains(&"base-uri 'none'"), "{policy}");
        assert!(directives.contains(&"connect-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"), "{policy}");
    }

    #[test]
    fn the_identity_providers_origins_may_be_called() {
        let origins = ["https://idp.example.com".to_owned(), "http://127.0.0.1:4011".to_owned()];
        let policy = content_security_policy(&origins);
        assert!(policy.contains("connect-src 'self' https://idp.example.com http://127.0.0.1:4011;"), "{policy}");
    }

    #[test]
    fn an_origin_that_would_add_a_directive_is_left_out() {
        let headers = SecurityHeaders::new(&["https://ok.example".to_owned(), "https://x; script-src *".to_owned()]);
        let policy = headers.get(&header::CONTENT_SECURITY_POLICY).expect("policy").to_str().expect("ascii");
        assert_eq!(policy, content_security_policy(&["https://ok.example".to_owned()]));
        assert_eq!(headers.get(&header::X_FRAME_OPTIONS).expect("set"), "DENY");
    }

    #[tokio::test]
    async fn every_response_carries_them_even_an_error() {
        use tower::ServiceExt;

        let headers = SecurityHeaders::new(&[]);
        let router = axum::Router::new()
            .route("/boom", axum::routing::get(|| async { super::super::ApiError::NotFound("x".to_owned()) }))
            .layer(axum::middleware::from_fn_with_state(headers, add_security_headers));
        let request = axum::http::Request::get("/boom").body(axum::body::Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 404);
        for name in [
            header::CONTENT_SECURITY_POLICY,
            header::X_FRAME_OPTIONS,
            header::X_CONTENT_TYPE_OPTIONS,
            header::REFERRER_POLICY,
            header::STRICT_TRANSPORT_SECURITY,
        ] {
            assert!(response.headers().contains_key(&name), "{name} missing");
        }
    }
}
