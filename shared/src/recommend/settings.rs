//! What a cluster does with recommendations.

use serde::{Deserialize, Serialize};

use super::Policy;

/// What the product does with a cluster's recommendations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecommendationMode {
    /// None computed or shown.
    Off,
    /// Shown on the job page, with a request form filled in from it.
    #[default]
    Recommend,
    /// Shown, and filed as a request by the backend itself (the `system` requester) when a
    /// change is recommended: a person still approves it, never a second while one is open, at
    /// most one per job per `min_request_interval_ms`.
    Request,
}

/// A cluster's recommendation settings (`[clusters.recommendations]`); every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RecommendationSettings {
    pub mode: RecommendationMode,
    pub policy: Policy,
    /// `request` mode: at most one request filed per job within this time (1 h).
    pub min_request_interval_ms: u64,
}

impl Default for RecommendationSettings {
    fn default() -> Self {
        Self { mode: RecommendationMode::default(), policy: Policy::default(), min_request_interval_ms: 60 * 60_000 }
    }
}

/// Who files the requests of `request` mode: the requester they name. A person still approves
/// them; no user may approve as this name's requester is not a person.
pub const RECOMMENDER: &str = "recommender";
