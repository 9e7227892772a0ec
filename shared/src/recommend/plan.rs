//! The sizing of every vertex over one range of samples, before any hold: loads, target rates
//! along the graph, and each vertex's parallelism for its target.

use std::collections::BTreeMap;

use super::input::{GraphVertex, JobGraph, MetricsSample, Policy};
use super::load::{VertexLoad, measure};
use super::rates::{TargetRate, missing_input, target_rates};
use super::sizing::{Sizing, size};

/// One vertex over one range of samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct VertexPlan<'a> {
    pub vertex: &'a GraphVertex,
    /// Usable samples of the vertex in the range.
    pub samples: u32,
    /// Its load; `None` with fewer usable samples than the policy asks for.
    pub load: Option<VertexLoad>,
    /// Its target rate; `None` when it or an input lacks data.
    pub target: Option<TargetRate>,
    /// The input that lacks data, when that is why there is no target rate.
    pub missing_input: Option<&'a GraphVertex>,
    /// Its sizing; `None` without a load with busy time, or without a target rate.
    pub sizing: Option<Sizing>,
}

impl VertexPlan<'_> {
    /// The parallelism this range asks for: the sizing's target, or the current parallelism when
    /// it fits; `None` when the vertex cannot be sized.
    pub fn wanted(&self) -> Option<u32> {
        self.sizing.map(|sizing| sizing.target)
    }
}

/// Every vertex of `graph`, in the graph's order, sized over `samples`.
pub(super) fn plan<'a>(graph: &'a JobGraph, samples: &[&MetricsSample], policy: &Policy) -> Vec<VertexPlan<'a>> {
    let measured: BTreeMap<String, VertexLoad> = graph
        .vertices
        .iter()
        .filter_map(|vertex| measure(samples, vertex, policy.busy_aggregation).map(|load| (vertex.id.clone(), load)))
        .collect();
    let loads: BTreeMap<String, VertexLoad> = measured
        .iter()
        .filter(|(_, load)| load.samples >= policy.min_samples.max(1))
        .map(|(id, load)| (id.clone(), *load))
        .collect();
    let targets = target_rates(graph, &loads, policy);
    graph
        .vertices
        .iter()
        .map(|vertex| {
            let load = loads.get(&vertex.id).copied();
            let target = targets.get(&vertex.id).copied();
            let sizing = match (load.and_then(|load| load.rate_per_subtask(vertex.parallelism)), target) {
                (Some(rate_per_subtask), Some(target)) => Some(size(vertex, rate_per_subtask, target, policy)),
                _ => None,
            };
            VertexPlan {
                vertex,
                samples: measured.get(&vertex.id).map_or(0, |load| load.samples),
                load,
                target,
                missing_input: if target.is_none() { missing_input(vertex, graph, &loads, &targets) } else { None },
                sizing,
            }
        })
        .collect()
}
