//! Samples a job's per-vertex load every few seconds and keeps the last minutes in memory, for
//! the job page's charts and its vertices table.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::VertexLoad;

use crate::api::ApiFailure;
use crate::format::now_ms;
use crate::session::Session;

/// Time between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How far back the charts reach.
pub const WINDOW_MS: u64 = 10 * 60 * 1000;

/// One reading of every vertex.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at_ms: u64,
    pub loads: Vec<VertexLoad>,
}

/// The samples so far and the last failure, if the last reading failed.
#[derive(Clone, Copy)]
pub struct MetricsFeed {
    pub samples: RwSignal<Vec<Sample>>,
    pub failure: RwSignal<Option<ApiFailure>>,
}

impl MetricsFeed {
    /// Starts sampling `job`; stops when the calling component goes away, or for good when the
    /// backend has no metrics endpoint.
    pub fn start(session: Session, cluster_id: String, job_id: String) -> Self {
        let feed = Self { samples: RwSignal::new(Vec::new()), failure: RwSignal::new(None) };
        let in_flight = StoredValue::new(false);
        let sample = move || {
            if !session.metrics_supported.get_untracked() || in_flight.try_get_value() != Some(false) {
                return;
            }
            in_flight.set_value(true);
            let (cluster_id, job_id) = (cluster_id.clone(), job_id.clone());
            spawn_local(async move {
                let result = session.client().metrics(&cluster_id, &job_id).await;
                in_flight.try_set_value(false);
                match result {
                    Ok(loads) => {
                        let now = now_ms();
                        feed.failure.try_set(None);
                        feed.samples.try_update(|samples| {
                            samples.retain(|sample| now.saturating_sub(sample.at_ms) <= WINDOW_MS);
                            samples.push(Sample { at_ms: now, loads });
                        });
                    }
                    Err(failure) if failure.is_missing_endpoint() => session.metrics_supported.set(false),
                    Err(failure) => {
                        feed.failure.try_set(Some(failure));
                    }
                }
            });
        };
        sample();
        if let Ok(handle) = set_interval_with_handle(sample, SAMPLE_EVERY) {
            on_cleanup(move || handle.clear());
        }
        feed
    }

    /// The latest reading of a vertex.
    pub fn latest(self, vertex_id: &str) -> Option<VertexLoad> {
        self.samples.with(|samples| samples.last()?.loads.iter().find(|load| load.vertex_id == vertex_id).cloned())
    }
}
