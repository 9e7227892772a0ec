//! A webhook receiver on loopback, as an operator's service would be: it checks
//! `X-Rescaler-Signature` (HMAC-SHA256 over `"<timestamp>.<body>"`, computed here with aws-lc,
//! not with the backend's code) and the 5-minute timestamp window, records every request, and
//! can be told to answer 500 to the first N, or to hold its answer to the next N for a while
//! (a sender cut off mid-request). Like a real receiver it processes each delivery once: a
//! second request with a delivery id it already accepted is answered 2xx and not processed
//! again (`processed`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub delivery_id: String,
    pub event: String,
    /// The status the receiver answered.
    pub answered: u16,
    /// Whether signature and timestamp were valid.
    pub signature_valid: bool,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    secret: String,
    fail_first: AtomicUsize,
    hold_first: AtomicUsize,
    hold_for: Mutex<std::time::Duration>,
    received: Mutex<Vec<Received>>,
}

/// A running receiver; dropping it stops the server.
pub struct WebhookReceiver {
    address: std::net::SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// Whether the signature is HMAC-SHA256(secret, "<timestamp>.<body>") and the timestamp within
/// 300 s of now.
pub fn signature_valid(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let timestamp = header(headers, "x-rescaler-timestamp");
    let Ok(timestamp_secs) = timestamp.parse::<u64>() else { return false };
    let now_secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if now_secs.abs_diff(timestamp_secs) > 300 {
        return false;
    }
    let Some(hex_signature) = header(headers, "x-rescaler-signature").strip_prefix("v1=") else { return false };
    let Some(signature) = decode_hex(hex_signature) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hmac::verify(&key, &signed, &signature).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    text.len()
        .is_multiple_of(2)
        .then(|| (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect())
        .flatten()
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature_valid = signature_valid(&shared.secret, &headers, &body);
    let failing = shared.fail_first.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
    let status = match (signature_valid, failing) {
        (false, _) => StatusCode::UNAUTHORIZED,
        (true, true) => StatusCode::INTERNAL_SERVER_ERROR,
        (true, false) => StatusCode::NO_CONTENT,
    };
    let received = Received {
        delivery_id: header(&headers, "x-rescaler-delivery").to_owned(),
        event: header(&headers, "x-rescaler-event").to_owned(),
        answered: status.as_u16(),
        signature_valid,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let holding = shared.hold_first.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
    shared.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(received);
    if holding {
        let hold_for = *shared.hold_for.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tokio::time::sleep(hold_for).await;
    }
    status
}

impl WebhookReceiver {
    /// Serves on a free loopback port, checking signatures made with `secret`.
    pub async fn start(secret: &str) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared { secret: secret.to_owned(), ..Default::default() });
        let router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { address, shared, server })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    /// Answers 500 to the next `count` requests with a valid signature.
    pub fn fail_next(&self, count: usize) {
        self.shared.fail_first.store(count, Ordering::Release);
    }

    /// Holds the answer to the next `count` requests for `hold_for` (they are recorded on
    /// arrival).
    pub fn hold_next(&self, count: usize, hold_for: std::time::Duration) {
        *self.shared.hold_for.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = hold_for;
        self.shared.hold_first.store(count, Ordering::Release);
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|received| received.answered < 300).collect()
    }

    /// The deliveries processed: the accepted requests, each delivery id once (the first), as a
    /// receiver that dedupes by `X-Rescaler-Delivery` acts on them.
    pub fn processed(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.accepted().into_iter().filter(|received| seen.insert(received.delivery_id.clone())).collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A stored request by alice on cluster `c` with its `requested` event, audited (and so put in
/// the notification outbox as its routes say): what the notification tests deliver.
pub async fn stored_request(
    records: &rescaler_backend::records::Records,
) -> anyhow::Result<rescaler_shared::operation::Operation> {
    use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
    let operation = Operation::new(
        uuid::Uuid::new_v4().simple().to_string(),
        OperationRequest {
            cluster_id: "c".into(),
            job_id: uuid::Uuid::new_v4().simple().to_string(),
            job_name: "counter".into(),
            target: Target::Uniform { parallelism: 3 },
            strategy: Strategy::Savepoint,
            reason: "more traffic".into(),
            requested_by: "alice".into(),
            required_approvals: 1,
            approval_window_ms: 3_600_000,
            verify_timeout_ms: 60_000,
            artifact: None,
            autoscaling: None,
        },
        rescaler_backend::reconcile::now_ms(),
    );
    records.create_operation(&operation).await?;
    records.audit_operation_events(&operation, 0).await?;
    Ok(operation)
}
