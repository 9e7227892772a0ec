//! The HTTP API: one axum `Router` served by the Lambda binary and by the local binary.

mod error;

use std::path::Path;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use rescaler_shared::api::Health;
use tower_http::services::{ServeDir, ServeFile};

pub use error::ApiError;

use crate::config::Config;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
}

/// The API routes, without static files: what Lambda serves.
pub fn app(state: AppState) -> Router {
    let api = Router::new().fallback(api_not_found);
    Router::new()
        .route("/healthz", get(health))
        .nest("/api/v1", api)
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .with_state(state)
}

/// The API plus the console's static files at `/`, with client-side routes falling back to
/// `index.html`: what the local binary serves.
pub fn app_with_console(state: AppState, console_dir: &Path) -> Router {
    let index = console_dir.join("index.html");
    app(state).fallback_service(ServeDir::new(console_dir).fallback(ServeFile::new(index)))
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok".to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() })
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint".to_owned())
}
