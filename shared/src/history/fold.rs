//! Folding samples that leave the recent window into five-minute points, split at rescales.

use super::{
    BUCKET_MS, DAY_MS, LoadHistory, LoadSample, MAX_DAY_POINTS, MAX_RECENT_SAMPLES, RECENT_MS, VertexSample,
    thousandths,
};

/// Takes out of `recent` the samples whose bucket ended more than [`RECENT_MS`] before `now_ms`
/// (and the oldest past [`MAX_RECENT_SAMPLES`]), and returns them with their vertices' names:
/// what is to be folded into the day document before the recent one is written without them.
pub fn fold_out(recent: &mut LoadHistory, now_ms: u64) -> LoadHistory {
    let boundary_ms = now_ms.saturating_sub(RECENT_MS) / BUCKET_MS * BUCKET_MS;
    let complete = recent.samples.partition_point(|sample| sample.at_ms < boundary_ms);
    let over_cap = recent.samples.len().saturating_sub(MAX_RECENT_SAMPLES);
    let leaving_samples: Vec<LoadSample> = recent.samples.drain(..complete.max(over_cap)).collect();
    let mut leaving =
        LoadHistory { resolution_ms: recent.resolution_ms, names: recent.names.clone(), samples: leaving_samples };
    leaving.prune_names();
    recent.prune_names();
    leaving
}

/// Folds `leaving` into the day document at `now_ms`, and drops its points older than
/// [`DAY_MS`] (and the oldest past [`MAX_DAY_POINTS`]). Samples at or before the newest point
/// are skipped: they were folded already, by a writer that stopped before trimming the recent
/// document. Returns whether the document changed (and is to be written).
pub fn fold_into(day: &mut LoadHistory, leaving: &LoadHistory, now_ms: u64) -> bool {
    let before = (day.samples.len(), day.newest_ms());
    let folded_through_ms = day.newest_ms();
    let mut fresh: Vec<&LoadSample> = leaving
        .samples
        .iter()
        .filter(|sample| folded_through_ms.is_none_or(|through| sample.at_ms > through))
        .collect();
    fresh.sort_by_key(|sample| sample.at_ms);
    for run in runs(&fresh) {
        day.samples.push(point(run));
    }
    for sample in &fresh {
        for vertex in &sample.vertices {
            if let Some(name) = leaving.names.get(&vertex.id) {
                day.names.insert(vertex.id.clone(), name.clone());
            }
        }
    }
    day.resolution_ms = BUCKET_MS;
    day.retain_since(now_ms.saturating_sub(DAY_MS));
    let over_cap = day.samples.len().saturating_sub(MAX_DAY_POINTS);
    if over_cap > 0 {
        day.samples.drain(..over_cap);
        day.prune_names();
    }
    !fresh.is_empty() || (day.samples.len(), day.newest_ms()) != before
}

/// Consecutive samples of one bucket in which the job did not change.
fn runs<'a>(samples: &'a [&'a LoadSample]) -> impl Iterator<Item = &'a [&'a LoadSample]> {
    samples.chunk_by(|a, b| a.at_ms / BUCKET_MS == b.at_ms / BUCKET_MS && same_job(a, b))
}

/// The same job id, and the same vertices at the same parallelism.
fn same_job(a: &LoadSample, b: &LoadSample) -> bool {
    a.job_id == b.job_id
        && a.vertices.len() == b.vertices.len()
        && a.vertices.iter().zip(&b.vertices).all(|(x, y)| x.id == y.id && x.parallelism == y.parallelism)
}

/// One point for a run: stamped with its newest sample, averages averaged (weighted by how many
/// samples each folds), maxima the maximum.
fn point(run: &[&LoadSample]) -> LoadSample {
    let newest = run[run.len() - 1];
    let vertices = newest
        .vertices
        .iter()
        .enumerate()
        .map(|(index, vertex)| {
            let of_run: Vec<(&VertexSample, u32)> =
                run.iter().filter_map(|sample| sample.vertices.get(index).map(|v| (v, sample.folded.max(1)))).collect();
            let mean = |figure: fn(&VertexSample) -> Option<f64>| mean(&of_run, figure);
            let max = |figure: fn(&VertexSample) -> Option<f64>| max(&of_run, figure);
            VertexSample {
                id: vertex.id.clone(),
                name: String::new(),
                parallelism: vertex.parallelism,
                busy_ms_per_s_avg: mean(|v| v.busy_ms_per_s_avg),
                busy_ms_per_s_max: max(|v| v.busy_ms_per_s_max),
                backpressured_ms_per_s_avg: mean(|v| v.backpressured_ms_per_s_avg),
                backpressured_ms_per_s_max: max(|v| v.backpressured_ms_per_s_max),
                records_in_per_s: mean(|v| v.records_in_per_s),
                records_out_per_s: mean(|v| v.records_out_per_s),
                pending_records: mean(|v| v.pending_records),
            }
        })
        .collect();
    LoadSample {
        at_ms: newest.at_ms,
        job_id: newest.job_id.clone(),
        folded: run.iter().fold(0u32, |total, sample| total.saturating_add(sample.folded.max(1))),
        vertices,
    }
}

/// The mean of a figure over the samples that report it, each weighted by what it folds.
fn mean(of_run: &[(&VertexSample, u32)], figure: fn(&VertexSample) -> Option<f64>) -> Option<f64> {
    let (sum, weight) = of_run
        .iter()
        .filter_map(|(vertex, weight)| figure(vertex).map(|value| (value * f64::from(*weight), f64::from(*weight))))
        .fold((0.0, 0.0), |(sum, total), (value, weight)| (sum + value, total + weight));
    thousandths((weight > 0.0).then(|| sum / weight))
}

fn max(of_run: &[(&VertexSample, u32)], figure: fn(&VertexSample) -> Option<f64>) -> Option<f64> {
    of_run.iter().filter_map(|(vertex, _)| figure(vertex)).reduce(f64::max)
}
