//! One vertex's load over a range of samples: averages of what it reported, with the samples
//! where it did not run or reported no rate left out.

use super::input::{GraphVertex, MetricsSample, VertexMetrics};

/// A vertex's averaged metrics over the usable samples of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct VertexLoad {
    /// Samples where the vertex ran and reported its rate.
    pub samples: u32,
    /// Average busy ratio (0–1) over the usable samples that report it.
    pub busy: Option<f64>,
    /// Average back-pressured ratio (0–1) over the usable samples that report it.
    pub backpressured: Option<f64>,
    /// Records per second it takes, all subtasks: records in, or for a source records out
    /// (Flink counts no records into a source).
    pub rate_in: f64,
    /// Records per second it emits, where reported.
    pub rate_out: Option<f64>,
    /// The latest backlog (`pendingRecords`), where reported.
    pub backlog: Option<f64>,
    /// How fast the backlog grew over the range (records per second; negative when it shrank),
    /// 0 unless two samples report it.
    pub backlog_growth: f64,
}

impl VertexLoad {
    /// The vertex's true processing rate per subtask: what one subtask takes per second when it
    /// is busy all the time (rate in / busy ratio / parallelism). Infinite for a vertex that takes
    /// nothing or is never busy; `None` without busy time.
    pub fn rate_per_subtask(&self, parallelism: u32) -> Option<f64> {
        let busy = self.busy?;
        if self.rate_in <= 0.0 || busy <= 0.0 {
            return Some(f64::INFINITY);
        }
        Some(self.rate_in / busy / f64::from(parallelism.max(1)))
    }

    /// Records out per record in, the factor from what it should take to what it should send;
    /// 1 when not known.
    pub fn output_ratio(&self) -> f64 {
        match self.rate_out {
            Some(out) if self.rate_in > 0.0 => out / self.rate_in,
            _ => 1.0,
        }
    }
}

/// `vertex`'s load over `samples`; `None` when no sample is usable.
pub(super) fn measure(samples: &[&MetricsSample], vertex: &GraphVertex) -> Option<VertexLoad> {
    let mut usable: Vec<(u64, &VertexMetrics)> = samples
        .iter()
        .filter_map(|sample| sample.vertices.get(&vertex.id).map(|metrics| (sample.at_ms, metrics)))
        .filter(|(_, metrics)| finite(rate_taken(metrics, vertex.source)).is_some())
        .collect();
    if usable.is_empty() {
        return None;
    }
    usable.sort_by_key(|(at_ms, _)| *at_ms);
    let rate_in = average(usable.iter().map(|(_, metrics)| rate_taken(metrics, vertex.source)))?;
    Some(VertexLoad {
        samples: u32::try_from(usable.len()).unwrap_or(u32::MAX),
        busy: average(usable.iter().map(|(_, metrics)| metrics.busy_ms_per_s)).map(ratio_of_second),
        backpressured: average(usable.iter().map(|(_, metrics)| metrics.backpressured_ms_per_s)).map(ratio_of_second),
        rate_in,
        rate_out: average(usable.iter().map(|(_, metrics)| metrics.records_out_per_s)),
        backlog: usable.iter().rev().find_map(|(_, metrics)| finite(metrics.pending_records)),
        backlog_growth: backlog_growth(&usable),
    })
}

/// The rate a vertex takes: records in, or records out for a source.
fn rate_taken(metrics: &VertexMetrics, source: bool) -> Option<f64> {
    if source { metrics.records_out_per_s } else { metrics.records_in_per_s }
}

/// Milliseconds per second as a ratio, capped to 0–1 (Flink's figures overshoot a little).
fn ratio_of_second(ms_per_s: f64) -> f64 {
    (ms_per_s / 1000.0).clamp(0.0, 1.0)
}

/// The mean of the finite values; `None` without any.
fn average(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, count) = values.filter_map(finite).fold((0.0, 0u32), |(sum, count), value| (sum + value, count + 1));
    (count > 0).then(|| sum / f64::from(count))
}

fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|value| value.is_finite())
}

/// Backlog change per second between the first and the last sample that report one
/// (`usable` is sorted by time).
fn backlog_growth(usable: &[(u64, &VertexMetrics)]) -> f64 {
    let reported: Vec<(u64, f64)> =
        usable.iter().filter_map(|(at_ms, metrics)| finite(metrics.pending_records).map(|b| (*at_ms, b))).collect();
    match (reported.first(), reported.last()) {
        (Some(&(first_ms, first)), Some(&(last_ms, last))) if last_ms > first_ms => {
            (last - first) / ((last_ms - first_ms) as f64 / 1000.0)
        }
        _ => 0.0,
    }
}
