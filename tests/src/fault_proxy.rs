//! An HTTP proxy on loopback that stands between the backend and a real server (Flink's REST
//! port, the S3 server) and injects the faults networks do: cut (every request hangs until the
//! link is back, as behind a dropped route), and intermittent 503s — half of them before the
//! request reaches the server, half after it did (the answer is lost). It also counts the
//! requests it forwards by kind ([`request_kind`]), to tell what a process asked S3 for.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// A running proxy; dropping it stops it.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    cut: watch::Sender<bool>,
    /// About one request in n fails with a 503 (0: none).
    fail_every: AtomicU32,
    requests: AtomicU32,
    injected: AtomicU32,
    /// Requests that came through (not held by a cut), by [`request_kind`].
    by_kind: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

/// What a request is as S3 bills it: `LIST` (a `GET` with `list-type=2`: ListObjectsV2),
/// `COPY` (a `PUT` with `x-amz-copy-source`), else its method (`GET`, `HEAD`, `PUT`, `DELETE`,
/// `POST`; any other as `OTHER`).
pub fn request_kind(method: &axum::http::Method, query: Option<&str>, headers: &HeaderMap) -> &'static str {
    use axum::http::Method;
    let listing = query.is_some_and(|query| query.split('&').any(|pair| pair == "list-type=2"));
    match *method {
        Method::GET if listing => "LIST",
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT if headers.contains_key("x-amz-copy-source") => "COPY",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::POST => "POST",
        _ => "OTHER",
    }
}

impl FaultProxy {
    /// Proxies `upstream` (e.g. `http://127.0.0.1:8081`) on a free loopback port.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder().build()?,
            cut: watch::channel(false).0,
            fail_every: AtomicU32::new(0),
            requests: AtomicU32::new(0),
            injected: AtomicU32::new(0),
            by_kind: std::sync::Mutex::new(BTreeMap::new()),
        });
        let app = axum::Router::new().fallback(forward).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, shared, server })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// From now on every request hangs (the caller's timeout fires) until [`FaultProxy::heal`].
    pub fn cut(&self) {
        self.shared.cut.send_replace(true);
    }

    /// The link is back; requests that hung answer 503 (their callers gave up long ago).
    pub fn heal(&self) {
        self.shared.cut.send_replace(false);
    }

    /// About one request in `n` from now on answers 503 (0: none), in a fixed pseudo-random
    /// pattern.
    pub fn fail_every(&self, n: u32) {
        self.shared.fail_every.store(n, Ordering::SeqCst);
    }

    /// How many 503s were injected so far.
    pub fn injected(&self) -> u32 {
        self.shared.injected.load(Ordering::SeqCst)
    }

    /// The requests that came through so far, by [`request_kind`].
    pub fn requests_by_kind(&self) -> BTreeMap<&'static str, u64> {
        self.shared.by_kind.lock().map(|counts| counts.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "injected by the fault proxy").into_response()
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let mut cut = shared.cut.subscribe();
    if *cut.borrow_and_update() {
        let _ = cut.wait_for(|cut| !*cut).await;
        return unavailable();
    }
    let kind = request_kind(request.method(), request.uri().query(), request.headers());
    if let Ok(mut counts) = shared.by_kind.lock() {
        *counts.entry(kind).or_default() += 1;
    }
    let number = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let every = shared.fail_every.load(Ordering::SeqCst);
    // Spread over request numbers without a period, so the failing request is not always the
    // same call of a pass that makes `every` calls.
    let scrambled = number.wrapping_mul(2_654_435_761) >> 13;
    let fail = every > 0 && scrambled.is_multiple_of(every);
    let lose_answer = fail && shared.injected.fetch_add(1, Ordering::SeqCst) % 2 == 1;
    if fail && !lose_answer {
        return unavailable();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else { return unavailable() };
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::CONTENT_LENGTH);
    let sent = shared
        .http
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else { return unavailable() };
    let status = answer.status();
    let headers: HeaderMap = answer.headers().clone();
    let Ok(bytes): Result<Bytes, _> = answer.bytes().await else { return unavailable() };
    if lose_answer {
        return unavailable();
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != axum::http::header::TRANSFER_ENCODING && name != axum::http::header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
