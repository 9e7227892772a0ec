//! Recommended parallelism for every vertex of a job, from a window of its metrics, its graph and
//! its earlier rescales, with the reason in words an operator reads.
//!
//! The method is the one of the Flink Kubernetes Operator's autoscaler (after DS2): a vertex's
//! true processing rate is what it takes over its average busy ratio (busy time averaged over the
//! subtasks, then over the samples); its target rate is what arrives at the sources (plus their
//! backlog spread over the catch-up time), carried along the graph by each vertex's records out
//! per record in; its target parallelism is the fewest subtasks that take the target rate at the
//! target utilisation. Inside a band around the target utilisation nothing changes. Limits apply,
//! and keyed vertices round up to a divisor of their key groups. Holds keep changes apart
//! (a minimum interval), delay a scale-down until the lower need has held for the damping
//! interval, and refuse more of an earlier scale-up that did not raise the processing rate.
//!
//! Only samples after the last change and its stabilisation interval count: earlier ones describe
//! another parallelism, and the first minutes after it the restart and its catch-up. Everything
//! here is pure; the caller passes the time.

mod decide;
mod holds;
mod input;
mod load;
mod output;
mod plan;
mod rates;
mod settings;
mod sizing;
mod words;

#[cfg(test)]
mod tests;

pub use input::{
    BusyAggregation, GraphVertex, JobGraph, MetricsSample, MetricsWindow, Policy, RecommendationInput, Rescale,
    VertexMetrics, VertexRescale,
};
pub use output::{Recommendation, Verdict, VertexFigures, VertexRecommendation};
pub use settings::{RECOMMENDER, RecommendationMode, RecommendationSettings};

/// The recommendation for the job of `input` at `input.now_ms`.
pub fn recommend(input: &RecommendationInput) -> Recommendation {
    let policy = &input.policy;
    let since_ms =
        holds::last_change(&input.history).map_or(0, |rescale| rescale.at_ms.saturating_add(policy.stabilisation_ms));
    let usable: Vec<&MetricsSample> =
        input.window.samples.iter().filter(|sample| sample.at_ms >= since_ms && sample.at_ms <= input.now_ms).collect();
    let window_start_ms = input.now_ms.saturating_sub(policy.evaluation_window_ms);
    let recent: Vec<&MetricsSample> = usable.iter().copied().filter(|sample| sample.at_ms >= window_start_ms).collect();
    let plans = plan::plan(&input.graph, &recent, policy);
    let wants_fewer = plans.iter().any(|plan| plan.wanted().is_some_and(|wanted| wanted < plan.vertex.parallelism));
    let low_need = if wants_fewer {
        // The lower need holds from where the usable samples begin at the earliest: a job with a
        // short history has not shown it for longer than that history.
        let data_from_ms = usable.iter().map(|sample| sample.at_ms).min().unwrap_or(since_ms).max(since_ms);
        holds::low_need(&input.graph, &usable, input.now_ms, data_from_ms, policy)
    } else {
        Default::default()
    };
    let context = decide::Context {
        policy,
        history: &input.history,
        too_soon: holds::too_soon(&input.history, input.now_ms, policy),
        low_need: &low_need,
        settling: since_ms > window_start_ms,
    };
    let vertices: Vec<VertexRecommendation> = plans.iter().map(|plan| decide::decide(plan, &context)).collect();
    let (verdict, summary) = overall(&vertices, context.too_soon.as_deref());
    Recommendation { verdict, summary, vertices }
}

/// The job's verdict and its sentence: a change when any vertex changes; otherwise held back
/// when a change was held, not enough data when a vertex could not be sized (with the minimum
/// interval's wait, if any: just after a change both hold), and no change when every vertex fits.
fn overall(vertices: &[VertexRecommendation], too_soon: Option<&str>) -> (Verdict, String) {
    let changes: Vec<String> = vertices
        .iter()
        .filter(|vertex| vertex.target != vertex.current)
        .map(|vertex| format!("{} {} → {}", vertex.name, vertex.current, vertex.target))
        .collect();
    let up = vertices.iter().any(|vertex| vertex.target > vertex.current);
    let down = vertices.iter().any(|vertex| vertex.target < vertex.current);
    let first_reason = |verdict: Verdict| {
        vertices.iter().filter(|vertex| vertex.verdict == verdict).map(|vertex| vertex.reason.as_str()).next()
    };
    match (up, down) {
        (true, true) => return (Verdict::Rescale, format!("rescale: {}", changes.join(", "))),
        (true, false) => return (Verdict::ScaleUp, format!("scale up: {}", changes.join(", "))),
        (false, true) => return (Verdict::ScaleDown, format!("scale down: {}", changes.join(", "))),
        (false, false) => {}
    }
    if let Some(reason) = first_reason(Verdict::HeldBack) {
        return (Verdict::HeldBack, format!("held back: {reason}"));
    }
    if let Some(reason) = first_reason(Verdict::NotEnoughData) {
        let why = too_soon.map_or(String::new(), |wait| format!(" ({wait})"));
        return (Verdict::NotEnoughData, format!("not enough data: {reason}{why}"));
    }
    (Verdict::NoChange, "no change: every vertex fits its current parallelism".to_owned())
}
