//! The HTTP API: one axum `Router` served by the Lambda binary and by the local binary.

mod artifacts;
mod audit;
mod clusters;
mod deliveries;
mod error;
mod extract;
mod flink_rescales;
mod load;
pub mod headers;
pub mod openapi;
mod preflight;
mod redact;
mod rescales;
mod schedules;
mod schema;
mod sign_in;
mod uploads;
pub mod write_limit;

use std::path::Path;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Json, Router};
use rescaler_shared::api::Health;
use tower_http::services::{ServeDir, ServeFile};

pub use error::ApiError;

use crate::auth::{Authenticator, Identity, Role};
use crate::cluster::ClusterRegistry;
use crate::config::Config;
use crate::records::Records;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub records: Records,
    /// The configured clusters, whatever their kind (the reconciler runs elsewhere).
    pub clusters: ClusterRegistry,
    pub auth: Arc<Authenticator>,
    /// Wakes the reconciler when a request is approved.
    pub kick: crate::kick::Kicker,
}

/// Refuses a caller without `role` on `cluster_id`.
pub(crate) fn require(identity: &Identity, cluster_id: &str, role: Role) -> Result<(), ApiError> {
    if identity.can(cluster_id, role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("this needs the {role} role on cluster {cluster_id}")))
    }
}

/// The API routes, without static files: what Lambda serves.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/config", get(sign_in::sign_in_settings))
        .route("/me", get(clusters::me))
        .route("/clusters", get(clusters::list))
        .route("/clusters/{cluster}/jobs", get(clusters::jobs))
        .route("/clusters/{cluster}/jobs/{job}", get(clusters::job))
        .route("/clusters/{cluster}/jobs/{job}/savepoints", get(clusters::savepoints))
        .route("/clusters/{cluster}/jobs/{job}/metrics", get(artifacts::metrics))
        .route("/clusters/{cluster}/jobs/{job}/history", get(load::history))
        .route("/clusters/{cluster}/jobs/{job}/recommendation", get(load::recommendation))
        .route("/clusters/{cluster}/jobs/{job}/link", post(artifacts::link))
        .route("/clusters/{cluster}/deployments", post(artifacts::deploy))
        .route(
            "/artifacts",
            get(artifacts::list)
                .post(artifacts::upload)
                .layer(axum::extract::DefaultBodyLimit::max(artifacts::MAX_ARTIFACT_BYTES)),
        )
        .route("/artifacts/uploads", post(uploads::begin))
        .route(
            "/artifacts/uploads/{id}/parts/{part}",
            axum::routing::put(uploads::put_part)
                .layer(axum::extract::DefaultBodyLimit::max(crate::records::PART_BYTES as usize + 1024)),
        )
        .route("/artifacts/uploads/{id}/complete", post(uploads::complete))
        .route("/preflight", post(preflight::preflight))
        .route("/rescales", get(rescales::list).post(rescales::create))
        .route("/rescales/awaiting-me/count", get(rescales::awaiting_me_count))
        .route("/rescales/{id}", get(rescales::get))
        .route("/rescales/{id}/flink-rescales", get(flink_rescales::flink_rescales))
        .route("/rescales/{id}/deliveries", get(deliveries::deliveries))
        .route("/rescales/{id}/approve", post(rescales::approve))
        .route("/rescales/{id}/reject", post(rescales::reject))
        .route("/rescales/{id}/cancel", post(rescales::cancel))
        .route("/rescales/{id}/break-glass", post(rescales::break_glass))
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route("/schedules/{id}", get(schedules::get))
        .route("/schedules/{id}/approve", post(schedules::approve))
        .route("/schedules/{id}/reject", post(schedules::reject))
        .route("/schedules/{id}/cancel", post(schedules::cancel))
        .route("/audit", get(audit::audit_list))
        .fallback(api_not_found);
    Router::new()
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        // After every route: it applies to the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), write_limit::enforce))
        // After every route and fallback, so that it sees every error answered.
        .layer(axum::middleware::from_fn(error::log_errors))
        .layer(axum::middleware::from_fn_with_state(
            headers::SecurityHeaders::of(&state.config),
            headers::add_security_headers,
        ))
        .with_state(state)
}

/// The API plus the console's static files at `/`, with client-side routes falling back to
/// `index.html`: what the local binary serves.
pub fn app_with_console(state: AppState, console_dir: &Path) -> Router {
    let index = console_dir.join("index.html");
    let security = headers::SecurityHeaders::of(&state.config);
    app(state)
        .fallback_service(ServeDir::new(console_dir).fallback(ServeFile::new(index)))
        .layer(axum::middleware::from_fn_with_state(security, headers::add_security_headers))
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "health",
    security(()),
    responses((status = 200, description = "The backend runs", body = Health)),
)]
async fn health() -> Json<Health> {
    Json(Health { status: "ok".to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() })
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint".to_owned())
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}
