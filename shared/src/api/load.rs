//! What the API answers of a job's load: its stored history and its recommendation.

use serde::{Deserialize, Serialize};

use crate::history::LoadHistory;
use crate::recommend::{Policy, Recommendation, RecommendationMode, Rescale};

/// `GET /clusters/{cluster}/jobs/{job}/history`: a job's stored load history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLoadHistory {
    /// The deployment the history belongs to; `None` for a job the product does not manage
    /// (nothing is sampled for it, and the history is empty).
    pub deployment_id: Option<String>,
    /// How often the backend samples, in milliseconds.
    pub sample_interval_ms: u64,
    pub history: LoadHistory,
    /// Where the parallelism changed within the history (rescales, by the product or not), for
    /// the charts' time axis; oldest first.
    pub rescales: Vec<Rescale>,
}

/// `GET /clusters/{cluster}/jobs/{job}/recommendation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRecommendation {
    pub mode: RecommendationMode,
    pub deployment_id: Option<String>,
    /// `None` when the mode is `off` or the product does not manage the job (see `reason`).
    pub recommendation: Option<Recommendation>,
    /// Why there is no recommendation, in words; empty when there is one.
    #[serde(default)]
    pub reason: String,
    /// The samples it was computed from: how many, and the first and last one's time.
    pub samples: usize,
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    /// The request open for the job, if any (a recommendation does not file another).
    pub open_request: Option<String>,
    pub policy: Policy,
}
