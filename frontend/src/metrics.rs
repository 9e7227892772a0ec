//! A job's per-vertex load for the job page's charts and its vertices table: the backend's
//! stored history, read once when the page opens, with live samples taken every few seconds on
//! top of it, and the rescales to mark on the time axis.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::{JobLoadHistory, VertexLoad};
use rescaler_shared::recommend::Rescale;

use crate::api::ApiFailure;
use crate::format::now_ms;
use crate::session::Session;

/// Time between live samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How far back the feed keeps samples: the longest window a chart offers.
pub const KEEP_MS: u64 = 24 * 60 * 60_000;
/// Live samples older than this are thinned to one per [`THIN_SPACING_MS`], so that a page left
/// open for hours does not draw thousands of points per line.
const THIN_AFTER_MS: u64 = 10 * 60_000;
const THIN_SPACING_MS: u64 = 30_000;

/// One reading of every vertex: live, or one of the stored history.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at_ms: u64,
    pub loads: Vec<VertexLoad>,
}

/// The samples so far (oldest first), the rescales within them and the last failure, if the
/// last reading failed.
#[derive(Clone, Copy)]
pub struct MetricsFeed {
    pub samples: RwSignal<Vec<Sample>>,
    /// The rescales the stored history shows, then any a live sample showed since; oldest first.
    pub rescales: RwSignal<Vec<Rescale>>,
    /// How often the backend stores a sample; `None` until the history answered (or when the
    /// backend keeps none).
    pub stored_every_ms: RwSignal<Option<u64>>,
    pub failure: RwSignal<Option<ApiFailure>>,
}

impl MetricsFeed {
    /// Reads the stored history and starts sampling `job`; stops when the calling component goes
    /// away, or for good when the backend has no metrics endpoint.
    pub fn start(session: Session, cluster_id: String, job_id: String) -> Self {
        let feed = Self {
            samples: RwSignal::new(Vec::new()),
            rescales: RwSignal::new(Vec::new()),
            stored_every_ms: RwSignal::new(None),
            failure: RwSignal::new(None),
        };
        feed.load_history(session, cluster_id.clone(), job_id.clone());
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
                    Ok(loads) => feed.push_live(Sample { at_ms: now_ms(), loads }),
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

    /// Puts the stored history under the samples taken so far. A backend without the endpoint,
    /// or a failed read, leaves the live samples alone.
    fn load_history(self, session: Session, cluster_id: String, job_id: String) {
        spawn_local(async move {
            match session.client().history(&cluster_id, &job_id).await {
                Ok(answer) => {
                    let every_ms = answer.sample_interval_ms;
                    let (stored, rescales) = stored_samples(answer);
                    self.stored_every_ms.try_set(Some(every_ms).filter(|_| !stored.is_empty()));
                    self.samples.try_update(|samples| merge_under(samples, stored));
                    self.rescales.try_update(|live| {
                        let after = rescales.last().map_or(0, |rescale| rescale.at_ms);
                        live.retain(|rescale| rescale.at_ms > after);
                        live.splice(0..0, rescales);
                    });
                }
                Err(failure) if failure.is_missing_endpoint() => {}
                Err(failure) => {
                    self.failure.try_set(Some(failure));
                }
            }
        });
    }

    fn push_live(self, sample: Sample) {
        let now = sample.at_ms;
        self.failure.try_set(None);
        let mut changed = None;
        self.samples.try_update(|samples| {
            changed = samples.last().and_then(|previous| parallelism_change(previous, &sample));
            samples.push(sample);
            thin(samples, now);
        });
        if let Some(rescale) = changed {
            self.rescales.try_update(|rescales| rescales.push(rescale));
        }
    }

    /// The latest reading of a vertex.
    pub fn latest(self, vertex_id: &str) -> Option<VertexLoad> {
        self.samples.with(|samples| samples.last()?.loads.iter().find(|load| load.vertex_id == vertex_id).cloned())
    }
}

/// The stored history as feed samples, with the figures the live reading reports (the busiest
/// subtask's busy and back-pressured time, records in over all subtasks), so that stored and
/// live lines join; and its rescales.
pub fn stored_samples(answer: JobLoadHistory) -> (Vec<Sample>, Vec<Rescale>) {
    let JobLoadHistory { history, rescales, .. } = answer;
    let samples = history
        .samples
        .iter()
        .map(|sample| Sample {
            at_ms: sample.at_ms,
            loads: sample
                .vertices
                .iter()
                .map(|vertex| VertexLoad {
                    vertex_id: vertex.id.clone(),
                    name: history.name_of(&vertex.id).to_owned(),
                    parallelism: vertex.parallelism,
                    busy_time_ms_per_second: vertex.busy_ms_per_s_max,
                    backpressured_time_ms_per_second: vertex.backpressured_ms_per_s_max,
                    num_records_in_per_second: vertex.records_in_per_s,
                })
                .collect(),
        })
        .collect();
    (samples, rescales)
}

/// Puts `stored` (oldest first) under `samples`: the stored ones older than the first sample
/// already there, so that live samples taken before the history arrived stay on top.
pub fn merge_under(samples: &mut Vec<Sample>, mut stored: Vec<Sample>) {
    let first_live = samples.first().map_or(u64::MAX, |sample| sample.at_ms);
    stored.retain(|sample| sample.at_ms < first_live);
    samples.splice(0..0, stored);
}

/// Drops samples older than [`KEEP_MS`] before `now`, and keeps one sample per
/// [`THIN_SPACING_MS`] among those older than [`THIN_AFTER_MS`]. Samples stay in time order.
pub fn thin(samples: &mut Vec<Sample>, now: u64) {
    let mut kept_at: Option<u64> = None;
    samples.retain(|sample| {
        let age = now.saturating_sub(sample.at_ms);
        let keep = age <= KEEP_MS
            && (age <= THIN_AFTER_MS || kept_at.is_none_or(|kept| sample.at_ms >= kept + THIN_SPACING_MS));
        if keep {
            kept_at = Some(sample.at_ms);
        }
        keep
    });
}

/// The vertices whose parallelism differs between two consecutive readings, as a rescale at the
/// later one's time; `None` when none changed.
pub fn parallelism_change(previous: &Sample, next: &Sample) -> Option<Rescale> {
    let vertices: BTreeMap<_, _> = next
        .loads
        .iter()
        .filter_map(|load| {
            let before = previous.loads.iter().find(|old| old.vertex_id == load.vertex_id)?.parallelism;
            (before != load.parallelism).then(|| {
                let change =
                    rescaler_shared::recommend::VertexRescale { before, after: load.parallelism, ..Default::default() };
                (load.vertex_id.clone(), change)
            })
        })
        .collect();
    (!vertices.is_empty()).then_some(Rescale { at_ms: next.at_ms, vertices })
}

#[cfg(test)]
mod tests {
    use rescaler_shared::api::{JobLoadHistory, VertexLoad};
    use rescaler_shared::history::{LoadHistory, LoadSample, VertexSample};

    use super::{Sample, merge_under, parallelism_change, stored_samples, thin};

    fn load(vertex_id: &str, parallelism: u32) -> VertexLoad {
        VertexLoad {
            vertex_id: vertex_id.to_owned(),
            name: String::new(),
            parallelism,
            busy_time_ms_per_second: None,
            backpressured_time_ms_per_second: None,
            num_records_in_per_second: None,
        }
    }

    fn at(at_ms: u64) -> Sample {
        Sample { at_ms, loads: vec![load("a", 1)] }
    }

    #[test]
    fn stored_samples_read_the_figures_the_live_reading_reports() {
        let vertex = VertexSample {
            id: "a".to_owned(),
            parallelism: 2,
            busy_ms_per_s_avg: Some(100.0),
            busy_ms_per_s_max: Some(900.0),
            backpressured_ms_per_s_avg: Some(10.0),
            backpressured_ms_per_s_max: Some(40.0),
            records_in_per_s: Some(1234.0),
            ..VertexSample::default()
        };
        let mut history = LoadHistory::recent();
        history.names.insert("a".to_owned(), "counter".to_owned());
        history.samples.push(LoadSample { at_ms: 7, job_id: "j".to_owned(), folded: 1, vertices: vec![vertex] });
        let (samples, rescales) = stored_samples(JobLoadHistory { history, ..JobLoadHistory::default() });
        assert!(rescales.is_empty());
        let only = &samples[0].loads[0];
        assert_eq!((samples[0].at_ms, only.name.as_str(), only.parallelism), (7, "counter", 2));
        assert_eq!(only.busy_time_ms_per_second, Some(900.0));
        assert_eq!(only.backpressured_time_ms_per_second, Some(40.0));
        assert_eq!(only.num_records_in_per_second, Some(1234.0));
    }

    #[test]
    fn merge_keeps_live_samples_on_top_of_older_stored_ones() {
        let mut samples = vec![at(100), at(105)];
        merge_under(&mut samples, vec![at(40), at(70), at(100), at(130)]);
        let times: Vec<u64> = samples.iter().map(|sample| sample.at_ms).collect();
        assert_eq!(times, [40, 70, 100, 105]);
        let mut empty = Vec::new();
        merge_under(&mut empty, vec![at(1), at(2)]);
        assert_eq!(empty.len(), 2);
    }

    #[test]
    fn thin_keeps_recent_samples_and_one_per_spacing_before() {
        let now = 30 * 60_000;
        // A sample every 5 s for 30 minutes, and one older than the kept day.
        let mut samples: Vec<Sample> = (0..=360).map(|index| at(index * 5_000)).collect();
        samples.insert(0, at(0));
        let now_plus_day = now + super::KEEP_MS - 60_000;
        thin(&mut samples, now);
        let recent = samples.iter().filter(|sample| now - sample.at_ms <= 10 * 60_000).count();
        assert_eq!(recent, 121, "every sample of the last ten minutes stays");
        let older: Vec<u64> =
            samples.iter().filter(|sample| now - sample.at_ms > 10 * 60_000).map(|sample| sample.at_ms).collect();
        assert_eq!(older.len(), 40, "20 minutes at one per 30 s");
        assert!(older.windows(2).all(|pair| pair[1] - pair[0] >= 30_000));
        thin(&mut samples, now_plus_day);
        assert!(samples.iter().all(|sample| now_plus_day - sample.at_ms <= super::KEEP_MS));
        let times: Vec<u64> = samples.iter().map(|sample| sample.at_ms).collect();
        assert_eq!(times, [29 * 60_000, 29 * 60_000 + 30_000, 30 * 60_000]);
    }

    #[test]
    fn a_changed_parallelism_between_readings_is_a_rescale() {
        let before = Sample { at_ms: 1, loads: vec![load("a", 1), load("b", 2)] };
        let after = Sample { at_ms: 2, loads: vec![load("a", 1), load("b", 3), load("c", 4)] };
        let rescale = parallelism_change(&before, &after).expect("b changed");
        assert_eq!(rescale.at_ms, 2);
        assert_eq!(rescale.vertices.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!((rescale.vertices["b"].before, rescale.vertices["b"].after), (2, 3));
        assert_eq!(parallelism_change(&before, &before), None);
    }
}
