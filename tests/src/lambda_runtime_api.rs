//! A local Lambda Runtime API (the protocol a `bootstrap` speaks to AWS Lambda), to run built
//! Lambda binaries as Lambda would: `next` hands out queued events, `response` and `error`
//! collect the answers. Each invocation's duration is kept as Lambda bills it: from the event
//! handed out by `next` to the answer received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot};

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Bytes)>,
    waiting: std::collections::HashMap<String, oneshot::Sender<Result<Bytes, Bytes>>>,
    init_error: Option<Bytes>,
    /// When `next` handed each waiting event out.
    handed_out: std::collections::HashMap<String, Instant>,
    /// From handed out to answered, by request id, until [`RuntimeApi::invoke_timed`] takes it.
    durations: std::collections::HashMap<String, Duration>,
    /// The function's first `next` call: its initialisation is over.
    first_next: Option<Instant>,
    /// The function's timeout, for the deadline header (60 s unless set).
    timeout: Option<Duration>,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
}

/// A running Runtime API; dropping it stops the server.
pub struct RuntimeApi {
    shared: Shared,
    address: std::net::SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Shared::default();
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { shared, address, server })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` for the function process.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The packaged bootstrap of `binary` (`scripts/package-lambda.sh`) with the environment
    /// Lambda gives a function — this Runtime API, its name, memory, log group and
    /// `log_stream` — and nothing else but the configuration `config_toml`.
    pub fn bootstrap(
        &self,
        binary: &str,
        log_stream: &str,
        config_toml: String,
    ) -> anyhow::Result<std::process::Command> {
        let path = crate::paths::repo_root().join("target/lambda").join(binary).join("bootstrap");
        anyhow::ensure!(path.exists(), "{} is missing: run scripts/package-lambda.sh", path.display());
        let mut command = std::process::Command::new(path);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream)
            .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
            .env("AWS_REGION", "eu-west-1")
            .env("RESCALER_LOG_FORMAT", "json")
            .env("RESCALER_CONFIG_TOML", config_toml);
        Ok(command)
    }

    /// The deadline every later event gets: `timeout` after it is handed out, as a function
    /// configured with that timeout (60 s unless set).
    pub fn set_function_timeout(&self, timeout: Duration) {
        if let Ok(mut inner) = self.shared.inner.lock() {
            inner.timeout = Some(timeout);
        }
    }

    /// When the function first asked for an event (its initialisation ended), if it did.
    pub fn first_next_at(&self) -> Option<Instant> {
        self.shared.inner.lock().ok().and_then(|inner| inner.first_next)
    }

    /// Queues an event and waits for the function's answer (Err = the function reported an error).
    pub async fn invoke(&self, event: &[u8], timeout: Duration) -> anyhow::Result<Result<serde_json::Value, String>> {
        Ok(self.invoke_timed(event, timeout).await?.0)
    }

    /// [`RuntimeApi::invoke`] with the invocation's duration: from the event handed out by
    /// `next` to the answer received (what Lambda bills, before rounding up to 1 ms).
    pub async fn invoke_timed(
        &self,
        event: &[u8],
        timeout: Duration,
    ) -> anyhow::Result<(Result<serde_json::Value, String>, Duration)> {
        let id = uuid_like();
        let (sender, receiver) = oneshot::channel();
        {
            let mut inner = self.shared.inner.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            inner.waiting.insert(id.clone(), sender);
            inner.queue.push_back((id.clone(), Bytes::copy_from_slice(event)));
        }
        self.shared.arrived.notify_one();
        let answer = tokio::time::timeout(timeout, receiver).await.map_err(|_| {
            let init = self.shared.inner.lock().ok().and_then(|i| i.init_error.clone());
            anyhow::anyhow!("no answer within {timeout:?}; init error: {init:?}")
        })??;
        let duration =
            self.shared.inner.lock().ok().and_then(|mut inner| inner.durations.remove(&id)).unwrap_or_default();
        let answer = match answer {
            Ok(body) => Ok(serde_json::from_slice(&body)?),
            Err(body) => Err(String::from_utf8_lossy(&body).into_owned()),
        };
        Ok((answer, duration))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn uuid_like() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("00000000-0000-4000-8000-{:012x}", COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

async fn next(State(shared): State<Shared>) -> (HeaderMap, Bytes) {
    loop {
        let notified = shared.arrived.notified();
        let popped = shared.inner.lock().ok().and_then(|mut inner| {
            inner.first_next.get_or_insert_with(Instant::now);
            let (id, event) = inner.queue.pop_front()?;
            inner.handed_out.insert(id.clone(), Instant::now());
            Some((id, event, inner.timeout.unwrap_or(Duration::from_secs(60))))
        });
        if let Some((id, event, timeout)) = popped {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + timeout.as_millis())
                .unwrap_or_default();
            let mut headers = HeaderMap::new();
            let header = |value: String| HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("x"));
            headers.insert("lambda-runtime-aws-request-id", header(id));
            headers.insert("lambda-runtime-deadline-ms", header(deadline.to_string()));
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:rescaler-test"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-6743a1b2-0a1b2c3d4e5f60718293a4b5;Sampled=0"),
            );
            return (headers, event);
        }
        notified.await;
    }
}

fn answer(shared: &Shared, id: &str, result: Result<Bytes, Bytes>) -> StatusCode {
    let sender = shared.inner.lock().ok().and_then(|mut inner| {
        if let Some(handed_out) = inner.handed_out.remove(id) {
            inner.durations.insert(id.to_owned(), handed_out.elapsed());
        }
        inner.waiting.remove(id)
    });
    match sender {
        Some(sender) => {
            let _ = sender.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Ok(body))
}

async fn error(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Err(body))
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    if let Ok(mut inner) = shared.inner.lock() {
        inner.init_error = Some(body);
    }
    StatusCode::ACCEPTED
}
