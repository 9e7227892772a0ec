//! `[limits]`: how much one user may do.

use serde::{Deserialize, Serialize};

/// Limits per user, enforced by the API (`http/write_limit.rs`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Writes (`POST`s under `/api/v1` but the pre-flight) one user may make in a minute, across
    /// every API instance; past it the API answers 429. `0`: no limit. On Lambda:
    /// `RESCALER_WRITES_PER_MINUTE`.
    #[serde(default = "default_writes_per_minute")]
    pub writes_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { writes_per_minute: default_writes_per_minute() }
    }
}

fn default_writes_per_minute() -> u32 {
    30
}
