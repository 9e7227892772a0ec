//! The per-user limit on writes: every `POST` under `/api/v1` by an authenticated user counts
//! (but the pre-flight, a read that takes a body, which the console sends as its form changes),
//! at most `[limits] writes_per_minute` per minute, past which the API answers 429
//! `too_many_requests` with `Retry-After`.
//!
//! The count lives in the store, one object per user (`limits/users/<name>.json`: the current
//! minute and its count), written create-only or by compare-and-swap, so every API Lambda
//! running at once counts against the same window; an in-process bucket would give each
//! instance its own. Windows are fixed minutes (epoch-aligned): a burst across a minute's end
//! can reach twice the limit, never more. A refused write is not counted.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::records::user_key;
use crate::store::{JsonStore, Store};

/// The length of a window.
pub const WINDOW_MS: u64 = 60_000;
/// Compare-and-swap rounds lost to the same user's concurrent writes before giving up.
const MAX_ATTEMPTS: usize = 8;
/// What the pre-flight is called: a `POST` that writes nothing.
const READS_BY_POST: &[&str] = &["/api/v1/preflight"];

/// Whether a request counts against its caller's write limit.
pub fn counts(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/api/v1/") && !READS_BY_POST.contains(&path.trim_end_matches('/'))
}

/// One user's current window as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteWindow {
    pub user: String,
    pub window_start_ms: u64,
    pub count: u32,
}

/// What a write does to its caller's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed: store this window.
    Allowed(WriteWindow),
    /// The window is full: try again after this many seconds (at least 1).
    Refused { retry_after_secs: u64 },
}

/// The verdict on one more write by `user` at `now_ms`, given the stored window (if any) and
/// the limit per window.
pub fn decide(stored: Option<&WriteWindow>, user: &str, now_ms: u64, limit: u32) -> Verdict {
    let window_start_ms = now_ms - now_ms % WINDOW_MS;
    let count = match stored {
        Some(window) if window.window_start_ms == window_start_ms => window.count,
        _ => 0,
    };
    if count >= limit {
        let left_ms = window_start_ms + WINDOW_MS - now_ms;
        return Verdict::Refused { retry_after_secs: left_ms.div_ceil(1000).max(1) };
    }
    Verdict::Allowed(WriteWindow { user: user.to_owned(), window_start_ms, count: count + 1 })
}

fn window_key(user: &str) -> String {
    format!("limits/{}", user_key(user))
}

/// Counts one write by `user` against `limit`, or refuses it. Store errors answer as store
/// errors (the write would need the store too).
pub async fn take(store: &dyn Store, user: &str, now_ms: u64, limit: u32) -> Result<(), ApiError> {
    let key = window_key(user);
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get_json::<WriteWindow>(&key).await?;
        let window = match decide(stored.as_ref().map(|(window, _)| window), user, now_ms, limit) {
            Verdict::Allowed(window) => window,
            Verdict::Refused { retry_after_secs } => return Err(refusal(limit, retry_after_secs)),
        };
        let written = match &stored {
            Some((_, version)) => store.replace_json(&key, &window, version).await,
            None => store.create_json(&key, &window).await,
        };
        match written {
            Ok(_) => return Ok(()),
            Err(error) if error.is_conflict() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    // Only this user's own writes race for this object: they are writing as fast as they can.
    Err(refusal(limit, 1))
}

fn refusal(limit: u32, retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        message: format!("at most {limit} writes a minute per user; try again in {retry_after_secs} s"),
        retry_after_secs,
    }
}

/// Middleware: counts every write of an authenticated caller, and answers 429 past the limit.
/// An unauthenticated write goes on to its handler, which answers 401.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.limits.writes_per_minute;
    if limit == 0 || !counts(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let Ok(identity) = state.auth.authenticate(authorization).await else {
        return next.run(request).await;
    };
    match take(state.records.store().as_ref(), &identity.name, crate::reconcile::now_ms(), limit).await {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Declares the 429 on every operation of the OpenAPI document the limit counts.
pub struct Documented;

impl utoipa::Modify for Documented {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{RefOr, ResponseBuilder, content::Content, header::Header};
        let response = ResponseBuilder::new()
            .description("The caller's writes of this minute reached `[limits] writes_per_minute`")
            .header("Retry-After", Header::new(ObjectBuilder::new().schema_type(Type::Integer)))
            .content(
                "application/json",
                Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorEnvelope")))),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let Some(post) = item.post.as_mut().filter(|_| counts(&Method::POST, path)) {
                post.responses.responses.insert("429".to_owned(), RefOr::T(response.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::DirStore;

    const MINUTE: u64 = 1_700_000_040_000;

    #[test]
    fn only_writes_under_the_api_count() {
        assert!(counts(&Method::POST, "/api/v1/rescales"));
        assert!(counts(&Method::POST, "/api/v1/rescales/x/approve"));
        assert!(!counts(&Method::POST, "/api/v1/preflight"));
        assert!(!counts(&Method::GET, "/api/v1/rescales"));
        assert!(!counts(&Method::POST, "/healthz"));
    }

    #[test]
    fn a_window_fills_then_refuses_until_the_next_minute() {
        assert_eq!(MINUTE % WINDOW_MS, 0);
        let first = decide(None, "alice", MINUTE + 5_000, 2);
        let Verdict::Allowed(window) = first else { panic!("{first:?}") };
        assert_eq!((window.window_start_ms, window.count), (MINUTE, 1));
        let Verdict::Allowed(window) = decide(Some(&window), "alice", MINUTE + 6_000, 2) else { panic!() };
        assert_eq!(window.count, 2);
        assert_eq!(decide(Some(&window), "alice", MINUTE + 20_500, 2), Verdict::Refused { retry_after_secs: 40 });
        assert_eq!(decide(Some(&window), "alice", MINUTE + 59_999, 2), Verdict::Refused { retry_after_secs: 1 });
        let next = decide(Some(&window), "alice", MINUTE + WINDOW_MS, 2);
        assert_eq!(
            next,
            Verdict::Allowed(WriteWindow { user: "alice".to_owned(), window_start_ms: MINUTE + WINDOW_MS, count: 1 })
        );
    }

    #[test]
    fn the_document_declares_the_429_on_every_counted_write() {
        use utoipa::OpenApi;
        let document = crate::http::openapi::ApiDoc::openapi();
        let mut declared = 0;
        for (path, item) in &document.paths.paths {
            if let Some(post) = &item.post {
                let has = post.responses.responses.contains_key("429");
                assert_eq!(has, counts(&Method::POST, path), "{path}");
                declared += usize::from(has);
            }
            if let Some(get) = &item.get {
                assert!(!get.responses.responses.contains_key("429"), "{path}");
            }
        }
        assert!(declared >= 10, "{declared}");
    }

    #[tokio::test]
    async fn two_instances_over_one_store_share_the_count_and_users_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(DirStore::open(dir.path()).expect("store"));
        // Two API instances are two callers of `take` over the same store, racing.
        let races = (0..6).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { take(store.as_ref(), "Alice@example.com", MINUTE + 1_000, 4).await })
        });
        let outcomes = futures::future::join_all(races).await;
        let allowed = outcomes.iter().filter(|outcome| matches!(outcome, Ok(Ok(())))).count();
        assert_eq!(allowed, 4, "{outcomes:?}");
        let refused = take(store.as_ref(), "alice@example.com", MINUTE + 2_000, 4).await.expect_err("full");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code(), "too_many_requests");
        take(store.as_ref(), "bob", MINUTE + 2_000, 4).await.expect("another user");
        take(store.as_ref(), "alice@example.com", MINUTE + WINDOW_MS, 4).await.expect("the next minute");
    }
}
