//! `GET /api/v1/auth/config`: how the console signs people in, asked before anyone is signed in.

use axum::Json;
use axum::extract::State;
use rescaler_shared::api::SignInSettings;

use super::{ApiError, AppState};

/// How the console signs people in: `tokens` (paste a token), or `oidc` with the console's
/// OpenID Connect client (issuer, client id, scopes, endpoints). Nothing secret; no token needed.
#[utoipa::path(
    get,
    path = "/api/v1/auth/config",
    tag = "meta",
    operation_id = "sign_in_settings",
    security(()),
    responses(
        (status = 200, description = "How to sign in", body = SignInSettings),
        (status = 503, description = "The identity provider's metadata cannot be read", body = rescaler_shared::api::ErrorEnvelope),
    ),
)]
pub async fn sign_in_settings(State(state): State<AppState>) -> Result<Json<SignInSettings>, ApiError> {
    state.auth.sign_in_settings().await.map(Json).map_err(|error| ApiError::Unavailable(error.to_string()))
}
