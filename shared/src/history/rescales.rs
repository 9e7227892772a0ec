//! The rescales a load history shows, with each changed vertex's true processing rate over the
//! run of samples before the change and the run after it: what the recommendation needs to tell
//! whether a scale-up raised the rate.

use std::collections::BTreeMap;

use super::{LoadSample, VertexSample};
use crate::recommend::{Rescale, VertexRescale};

/// A busy ratio at or below this (1 ms of every second) tells nothing about a processing rate.
const IDLE_BUSY: f64 = 0.001;

/// Every change of a vertex's parallelism between consecutive `samples` (in time order).
pub(super) fn rescales(samples: &[LoadSample], stabilisation_ms: u64) -> Vec<Rescale> {
    (1..samples.len())
        .filter_map(|index| {
            let (previous, sample) = (&samples[index - 1], &samples[index]);
            let vertices: BTreeMap<String, VertexRescale> = sample
                .vertices
                .iter()
                .filter_map(|after| {
                    let before = previous.vertices.iter().find(|before| before.id == after.id)?;
                    (before.parallelism != after.parallelism).then(|| {
                        let rescale = VertexRescale {
                            before: before.parallelism,
                            after: after.parallelism,
                            rate_before: processing_rate(&run_before(samples, index, before, stabilisation_ms)),
                            rate_after: processing_rate(&run_after(samples, index, after, stabilisation_ms)),
                        };
                        (after.id.clone(), rescale)
                    })
                })
                .collect();
            (!vertices.is_empty()).then_some(Rescale { at_ms: sample.at_ms, vertices })
        })
        .collect()
}

/// `vertex` in `sample`, when it ran there at `parallelism`.
fn at<'a>(sample: &'a LoadSample, vertex: &VertexSample) -> Option<&'a VertexSample> {
    sample.vertices.iter().find(|other| other.id == vertex.id && other.parallelism == vertex.parallelism)
}

/// The samples before `index` in which `vertex` ran at its parallelism there, back to the
/// previous change, without the stabilisation interval after that change (a run that starts
/// with the history has no known change before it, and keeps all its samples).
fn run_before<'a>(
    samples: &'a [LoadSample],
    index: usize,
    vertex: &VertexSample,
    stabilisation_ms: u64,
) -> Vec<(&'a VertexSample, u32)> {
    let first = (0..index).rev().take_while(|earlier| at(&samples[*earlier], vertex).is_some()).last().unwrap_or(index);
    let settled_ms = if first == 0 { 0 } else { samples[first].at_ms.saturating_add(stabilisation_ms) };
    of_run(&samples[first..index], vertex, settled_ms)
}

/// The samples from `index` on in which `vertex` runs at its new parallelism, without the
/// stabilisation interval after the change.
fn run_after<'a>(
    samples: &'a [LoadSample],
    index: usize,
    vertex: &VertexSample,
    stabilisation_ms: u64,
) -> Vec<(&'a VertexSample, u32)> {
    let end = (index..samples.len()).find(|later| at(&samples[*later], vertex).is_none()).unwrap_or(samples.len());
    let settled_ms = samples[index].at_ms.saturating_add(stabilisation_ms);
    of_run(&samples[index..end], vertex, settled_ms)
}

/// The vertex in each sample of `run` from `settled_ms` on, weighted by how many samples each folds.
fn of_run<'a>(run: &'a [LoadSample], vertex: &VertexSample, settled_ms: u64) -> Vec<(&'a VertexSample, u32)> {
    run.iter()
        .filter(|sample| sample.at_ms >= settled_ms)
        .filter_map(|sample| at(sample, vertex).map(|found| (found, sample.folded.max(1))))
        .collect()
}

/// The true processing rate over a run (all subtasks): the records it took per second over its
/// average busy ratio, both averaged over the run. A vertex that takes no records in but emits
/// some is a source: what it emits is what it takes. `None` without both figures, or when it was
/// (nearly) never busy.
fn processing_rate(run: &[(&VertexSample, u32)]) -> Option<f64> {
    let taken = |vertex: &VertexSample| match vertex.records_in_per_s {
        Some(records_in) if records_in > 0.0 => Some(records_in),
        _ => vertex.records_out_per_s,
    };
    let rate = weighted_mean(run, taken)?.max(0.0);
    let busy = (weighted_mean(run, |vertex| vertex.busy_ms_per_s_avg)? / 1000.0).clamp(0.0, 1.0);
    let processing_rate = rate / busy;
    (busy > IDLE_BUSY && processing_rate.is_finite()).then_some(processing_rate)
}

fn weighted_mean(run: &[(&VertexSample, u32)], figure: impl Fn(&VertexSample) -> Option<f64>) -> Option<f64> {
    let (sum, weight) = run
        .iter()
        .filter_map(|(vertex, weight)| figure(vertex).filter(|value| value.is_finite()).map(|value| (value, *weight)))
        .fold((0.0, 0.0), |(sum, total), (value, weight)| (sum + value * f64::from(weight), total + f64::from(weight)));
    let mean = sum / weight;
    (weight > 0.0 && mean.is_finite()).then_some(mean)
}
