//! One vertex's load over a range of samples: averages of what it reported, with the samples
//! where it did not run or reported no rate left out.

use super::input::{BusyAggregation, GraphVertex, MetricsSample, VertexMetrics};

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

/// A busy ratio at or below this (1 ms of every second) is idle: the vertex could take any rate.
const IDLE_BUSY: f64 = 0.001;

impl VertexLoad {
    /// The vertex's true processing rate per subtask: what one subtask takes per second when it
    /// is busy all the time (rate in / busy ratio / parallelism). Infinite for a vertex that is
    /// (nearly) never busy; `None` without busy time, or when it is busy but takes no records
    /// (see [`VertexLoad::busy_without_records`]).
    pub fn rate_per_subtask(&self, parallelism: u32) -> Option<f64> {
        let busy = self.busy?;
        if busy <= IDLE_BUSY {
            return Some(f64::INFINITY);
        }
        if self.busy_without_records() {
            return None;
        }
        Some(self.rate_in / busy / f64::from(parallelism.max(1)))
    }

    /// Busy, yet it takes no records: its time goes to timers, or it is stuck. What it could take
    /// is unknown, not infinite.
    pub fn busy_without_records(&self) -> bool {
        self.busy.is_some_and(|busy| busy > IDLE_BUSY) && self.rate_in <= 0.0
    }

    /// Records out per record in, the factor from what it should take to what it should send;
    /// 1 when not known.
    pub fn output_ratio(&self) -> f64 {
        match self.rate_out {
            Some(out) if self.rate_in > 0.0 && (out / self.rate_in).is_finite() => out / self.rate_in,
            _ => 1.0,
        }
    }
}

/// `vertex`'s load over `samples`, its busy time aggregated over the subtasks as `aggregation`
/// says; `None` when no sample is usable. Rates and backlogs below 0 count as 0.
pub(super) fn measure(
    samples: &[&MetricsSample],
    vertex: &GraphVertex,
    aggregation: BusyAggregation,
) -> Option<VertexLoad> {
    let mut usable: Vec<(u64, &VertexMetrics)> = samples
        .iter()
        .filter_map(|sample| sample.vertices.get(&vertex.id).map(|metrics| (sample.at_ms, metrics)))
        .filter(|(_, metrics)| metrics.parallelism.is_none_or(|parallelism| parallelism == vertex.parallelism))
        .filter(|(_, metrics)| finite(rate_taken(metrics, vertex.source)).is_some())
        .collect();
    if usable.is_empty() {
        return None;
    }
    usable.sort_by_key(|(at_ms, _)| *at_ms);
    let rate_in = average(usable.iter().map(|(_, metrics)| rate_taken(metrics, vertex.source)))?.max(0.0);
    let busy = |metrics: &VertexMetrics| match aggregation {
        BusyAggregation::Average => metrics.busy_ms_per_s,
        BusyAggregation::Max => finite(metrics.busy_max_ms_per_s).or(metrics.busy_ms_per_s),
    };
    Some(VertexLoad {
        samples: u32::try_from(usable.len()).unwrap_or(u32::MAX),
        busy: average(usable.iter().map(|(_, metrics)| busy(metrics))).map(ratio_of_second),
        backpressured: average(usable.iter().map(|(_, metrics)| metrics.backpressured_ms_per_s)).map(ratio_of_second),
        rate_in,
        rate_out: average(usable.iter().map(|(_, metrics)| metrics.records_out_per_s)).map(|out| out.max(0.0)),
        backlog: usable.iter().rev().find_map(|(_, metrics)| finite(metrics.pending_records)).map(|b| b.max(0.0)),
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

/// The mean of the finite values; `None` without any (or when huge values sum past `f64::MAX`).
fn average(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, count) = values.filter_map(finite).fold((0.0, 0u32), |(sum, count), value| (sum + value, count + 1));
    finite((count > 0).then(|| sum / f64::from(count)))
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
            let growth = (last.max(0.0) - first.max(0.0)) / ((last_ms - first_ms) as f64 / 1000.0);
            if growth.is_finite() { growth } else { 0.0 }
        }
        _ => 0.0,
    }
}
