//! The OpenAPI document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types of `rescaler_shared` (their `openapi` feature).

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::write_limit::Documented as WriteLimit;

/// Name of the bearer security scheme in the document (the `security` lists spell it too).
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flink Rescaler API",
        description = "Rescale running Apache Flink jobs with two-person approval. Every error \
                       answers with the `ErrorEnvelope` JSON body.",
    ),
    paths(
        super::health,
        document,
        super::sign_in::sign_in_settings,
        super::clusters::me,
        super::clusters::list,
        super::clusters::jobs,
        super::clusters::job,
        super::clusters::savepoints,
        super::artifacts::metrics,
        super::load::history,
        super::load::recommendation,
        super::artifacts::link,
        super::artifacts::deploy,
        super::artifacts::list,
        super::artifacts::upload,
        super::uploads::begin,
        super::uploads::put_part,
        super::uploads::complete,
        super::preflight::preflight,
        super::rescales::list,
        super::rescales::awaiting_me_count,
        super::rescales::create,
        super::rescales::get,
        super::flink_rescales::flink_rescales,
        super::deliveries::deliveries,
        super::rescales::approve,
        super::rescales::reject,
        super::rescales::cancel,
        super::rescales::break_glass,
        super::schedules::list,
        super::schedules::create,
        super::schedules::get,
        super::schedules::approve,
        super::schedules::reject,
        super::schedules::cancel,
        super::audit::audit_list,
    ),
    // The shared error responses below name it without listing it as a schema themselves.
    components(schemas(rescaler_shared::api::ErrorEnvelope)),
    modifiers(&BearerAuth, &WriteLimit),
    security(("bearer" = [])),
    tags(
        (name = "meta", description = "Health and this document; no authentication"),
        (name = "clusters", description = "Configured clusters and their jobs, live from Flink"),
        (name = "artifacts", description = "Job jars, deployments from them, and adopting running jobs"),
        (name = "rescales", description = "Rescale requests, their approval and execution"),
        (name = "schedules", description = "Recurring rescale schedules: approved once, each occurrence its own request"),
        (name = "audit", description = "The append-only audit log"),
    ),
)]
pub struct ApiDoc;

/// Declares the `Authorization: Bearer …` scheme every `/api/v1` operation requires.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from the configuration (`tokens` mode) or an RS256 JWT (`oidc` mode)"))
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    operation_id = "openapi_document",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)),
)]
pub async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}
