//! The outage a rescale caused, as the product saw it, and the prediction the approver saw.
//!
//! Measured from the moment the job could stop processing — the stop-with-savepoint call, the
//! moment the adaptive scheduler may act on new requirements (the end of its cooldown), the
//! `UpdateApplication` call — until the product first saw the job run at its target. The end
//! is seen through the product's polls of the job (Flink answers `GET /jobs/:id` from a cache
//! refreshed every `web.refresh-interval`), so it can be late by up to one refresh; earlier
//! rescales measured the same way are what a prediction learns from.

use serde::{Deserialize, Serialize};

use super::{Operation, Phase, PhaseName, ResolvedStrategy};

/// One rescale's outage, recorded when the product first saw the job run at its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasuredOutage {
    pub strategy: ResolvedStrategy,
    pub from_ms: u64,
    pub to_ms: u64,
}

impl MeasuredOutage {
    pub fn duration_ms(&self) -> u64 {
        self.to_ms.saturating_sub(self.from_ms)
    }
}

/// How long a request's rescale is expected to keep the job from processing, with a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutagePrediction {
    pub strategy: ResolvedStrategy,
    pub expected_ms: u64,
    pub low_ms: u64,
    pub high_ms: u64,
    /// How many earlier rescales of this job with this strategy it learned from (0: none, the
    /// figure comes from the state alone and the product's defaults).
    pub from_rescales: u32,
    /// Learned from earlier scale-ups only (`Some(true)`) or scale-downs only (`Some(false)`),
    /// as this request is one; `None`: from every earlier rescale with the strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<bool>,
    /// The latest completed checkpoint it assumed: full state size and duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_duration_ms: Option<u64>,
}

impl Operation {
    /// When this rescale could first have stopped the job processing, while it is verifying
    /// the job at its target: `None` in any other phase, or before the job was touched.
    fn outage_start_ms(&self) -> Option<u64> {
        let span_start = |name: PhaseName| {
            self.phase_history.iter().rev().find(|span| span.phase == name).map(|span| span.started_at_ms)
        };
        match (&self.phase, self.strategy?) {
            (Phase::Verifying { .. }, ResolvedStrategy::Savepoint) => span_start(PhaseName::Stopping),
            (Phase::Verifying { job_id, since_ms }, ResolvedStrategy::InPlace) if *job_id == self.job_id => {
                // Flink acts once its cooldown ended; never before the requirements were sent.
                span_start(PhaseName::Verifying).map(|sent| sent.max(*since_ms))
            }
            (Phase::Verifying { .. }, ResolvedStrategy::MsfUpdate) => span_start(PhaseName::Updating),
            _ => None,
        }
    }

    /// The job is being verified at its target and the outage's end is not recorded yet.
    pub fn awaits_outage_end(&self) -> bool {
        self.outage.is_none() && self.outage_start_ms().is_some()
    }

    /// Records the outage's end at `now_ms` the first time the job is seen at its target;
    /// later sightings change nothing.
    pub fn note_running_at_target(&mut self, now_ms: u64) {
        if !self.awaits_outage_end() {
            return;
        }
        if let (Some(from_ms), Some(strategy)) = (self.outage_start_ms(), self.strategy) {
            self.outage = Some(MeasuredOutage { strategy, from_ms, to_ms: now_ms.max(from_ms) });
        }
    }
}
