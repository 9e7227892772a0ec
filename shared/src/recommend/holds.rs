//! Why a needed change is not recommended yet: too soon after the last change, a scale-down
//! whose lower need has not held for the damping interval, or more of an earlier scale-up that
//! did not raise the vertex's processing rate.

use std::collections::BTreeMap;

use super::input::{GraphVertex, JobGraph, MetricsSample, Policy, Rescale};
use super::plan::plan;
use super::words;

/// The latest rescale that changed any vertex's parallelism.
pub(super) fn last_change(history: &[Rescale]) -> Option<&Rescale> {
    history
        .iter()
        .filter(|rescale| rescale.vertices.values().any(|vertex| vertex.before != vertex.after))
        .max_by_key(|rescale| rescale.at_ms)
}

/// The reason no change is recommended at `now_ms`, when the last change is more recent than the
/// minimum interval.
pub(super) fn too_soon(history: &[Rescale], now_ms: u64, policy: &Policy) -> Option<String> {
    let last = last_change(history)?;
    let elapsed_ms = now_ms.saturating_sub(last.at_ms);
    (elapsed_ms < policy.min_interval_ms).then(|| {
        format!(
            "the last change was {} ago; changes are at least {} apart",
            words::duration(elapsed_ms),
            words::duration(policy.min_interval_ms)
        )
    })
}

/// The reason not to scale `vertex` up again, when its last change was a scale-up to the
/// parallelism it runs at and its processing rate grew by less than the policy's fraction of the
/// increase that scale-up promised (linear in the parallelism). `rate_now` is its processing rate
/// over the evaluation window, used when the rescale did not record the rate after it.
pub(super) fn ineffective_scale_up(
    vertex: &GraphVertex,
    history: &[Rescale],
    rate_now: Option<f64>,
    policy: &Policy,
) -> Option<String> {
    let (_, change) = history
        .iter()
        .filter_map(|rescale| rescale.vertices.get(&vertex.id).map(|change| (rescale.at_ms, change)))
        .filter(|(_, change)| change.before != change.after)
        .max_by_key(|(at_ms, _)| *at_ms)?;
    if change.after <= change.before || change.after != vertex.parallelism || change.before == 0 {
        return None;
    }
    let before = change.rate_before?;
    let after = change.rate_after.or(rate_now).filter(|rate| rate.is_finite())?;
    let expected = before * f64::from(change.after) / f64::from(change.before);
    let (expected_increase, increase) = (expected - before, after - before);
    (expected_increase > 0.0 && increase < policy.effectiveness_threshold * expected_increase).then(|| {
        format!(
            "an earlier scale-up of {} from {} to {} did not raise its throughput ({} → {}, {} expected); \
             not scaling it up again",
            vertex.name,
            change.before,
            change.after,
            words::count(before),
            words::rate(after),
            words::rate(expected)
        )
    })
}

/// How long a vertex's need has been below its current parallelism, and the most it needed in
/// that time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LowNeed {
    pub held_ms: u64,
    pub peak: u32,
}

/// The most slices the damping interval is cut into; past it, slices grow wider than the
/// evaluation window.
const MAX_SLICES: u64 = 1_000;

/// For every vertex whose latest slice of the damping interval asks for fewer subtasks than it
/// runs at: how far back, slice by slice (each as long as the evaluation window, wider when that
/// would take more than [`MAX_SLICES`]), the need stayed below, and its highest need over those
/// slices. A slice without enough data ends the run. The lower need has held from the start of
/// the oldest slice of the run (the slices cover the damping interval, so a run through all of
/// them has held for all of it, wherever the samples fall inside them), but never from before
/// `data_from_ms`, where the usable samples begin.
pub(super) fn low_need(
    graph: &JobGraph,
    samples: &[&MetricsSample],
    now_ms: u64,
    data_from_ms: u64,
    policy: &Policy,
) -> BTreeMap<String, LowNeed> {
    let width_ms = policy.evaluation_window_ms.max(policy.scale_down_damping_ms.div_ceil(MAX_SLICES)).max(1);
    let slices = policy.scale_down_damping_ms.div_ceil(width_ms).max(1);
    let mut runs: BTreeMap<String, (LowNeed, bool)> = BTreeMap::new();
    for index in 0..slices {
        let end_ms = now_ms.saturating_sub(index * width_ms);
        let start_ms = end_ms.saturating_sub(width_ms);
        let in_slice: Vec<&MetricsSample> = samples
            .iter()
            .copied()
            .filter(|sample| sample.at_ms >= start_ms && (sample.at_ms < end_ms || index == 0))
            .collect();
        let held_ms = now_ms.saturating_sub(start_ms.max(data_from_ms));
        for vertex_plan in plan(graph, &in_slice, policy) {
            let vertex = vertex_plan.vertex;
            let run = runs.entry(vertex.id.clone()).or_insert((LowNeed { held_ms: 0, peak: 0 }, index == 0));
            match vertex_plan.wanted() {
                Some(wanted) if run.1 && wanted < vertex.parallelism => {
                    run.0 = LowNeed { held_ms, peak: run.0.peak.max(wanted) };
                }
                _ => run.1 = false,
            }
        }
        if start_ms <= data_from_ms || runs.values().all(|(_, going)| !going) {
            break;
        }
    }
    runs.into_iter().filter(|(_, (need, _))| need.peak > 0).map(|(id, (need, _))| (id, need)).collect()
}

/// The reason a scale-down of `vertex` waits, when its lower need has not held long enough.
pub(super) fn damping_wait(vertex: &GraphVertex, need: Option<&LowNeed>, policy: &Policy) -> Option<String> {
    let held_ms = need.map_or(0, |need| need.held_ms);
    (held_ms < policy.scale_down_damping_ms).then(|| {
        format!(
            "the lower need of {} has held for {} of the {} a scale-down waits for",
            vertex.name,
            words::duration(held_ms),
            words::duration(policy.scale_down_damping_ms)
        )
    })
}
