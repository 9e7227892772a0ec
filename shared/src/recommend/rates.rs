//! Target rates along the graph: what each vertex should take per second so that nothing backs
//! up. A source should take what arrives (what it reads plus how fast its backlog grows) and work
//! off its backlog within the catch-up time; a downstream vertex should take what its inputs
//! should send along the edge to it. Sizing every vertex for its target at once is what lets one
//! rescale reach the right parallelism (DS2).
//!
//! The factor along an edge, from what the input should take to what it should send to this
//! consumer: for a consumer with one input, the consumer's observed records in per record its
//! input takes (so that an input that sends to several consumers, or only part of its output to
//! this one, carries only this consumer's share; the Flink autoscaler does the same). For a
//! consumer with several inputs the share of each cannot be told apart: the input's records out
//! per record in, which overstates the target when that input also sends elsewhere.

use std::collections::{BTreeMap, VecDeque};

use super::input::{GraphVertex, JobGraph, Policy};
use super::load::VertexLoad;

/// What a vertex should take per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TargetRate {
    /// The steady rate: what arrives, or what its inputs should send.
    pub rate: f64,
    /// Extra rate, for the catch-up time, that works off a backlog (the source's own, or
    /// upstream's carried along the graph).
    pub catch_up: f64,
}

/// The vertices from sources to sinks, each after all its inputs. Vertices on a cycle (which
/// Flink does not build) are left out; inputs that are not in the graph are ignored.
pub(super) fn upstream_first(graph: &JobGraph) -> Vec<&GraphVertex> {
    let by_id: BTreeMap<&str, &GraphVertex> =
        graph.vertices.iter().map(|vertex| (vertex.id.as_str(), vertex)).collect();
    let mut waiting: BTreeMap<&str, usize> =
        graph.vertices.iter().map(|vertex| (vertex.id.as_str(), known_inputs(vertex, &by_id).count())).collect();
    let mut ready: VecDeque<&GraphVertex> =
        graph.vertices.iter().filter(|vertex| waiting.get(vertex.id.as_str()) == Some(&0)).collect();
    let mut ordered = Vec::with_capacity(graph.vertices.len());
    while let Some(vertex) = ready.pop_front() {
        ordered.push(vertex);
        for consumer in graph.vertices.iter().filter(|consumer| consumer.inputs.contains(&vertex.id)) {
            if let Some(count) = waiting.get_mut(consumer.id.as_str()) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    ready.push_back(consumer);
                }
            }
        }
    }
    ordered
}

fn known_inputs<'a>(
    vertex: &'a GraphVertex,
    by_id: &'a BTreeMap<&str, &GraphVertex>,
) -> impl Iterator<Item = &'a String> + 'a {
    vertex.inputs.iter().filter(|input| by_id.contains_key(input.as_str()))
}

/// Every vertex's target rate, where it can be computed: a source needs its own load; a
/// downstream vertex needs the targets and loads of all its inputs. `loads` holds only the
/// vertices with enough data.
pub(super) fn target_rates(
    graph: &JobGraph,
    loads: &BTreeMap<String, VertexLoad>,
    policy: &Policy,
) -> BTreeMap<String, TargetRate> {
    let mut targets: BTreeMap<String, TargetRate> = BTreeMap::new();
    for vertex in upstream_first(graph) {
        let target = if vertex.source {
            loads.get(&vertex.id).map(|load| source_target(load, policy))
        } else {
            downstream_target(vertex, graph, loads, &targets)
        };
        // A target that is not a number is no target; an infinite one asks for the most allowed.
        if let Some(target) = target.filter(|target| !target.rate.is_nan() && !target.catch_up.is_nan()) {
            let target = TargetRate { rate: target.rate.max(0.0), catch_up: target.catch_up.max(0.0) };
            targets.insert(vertex.id.clone(), target);
        }
    }
    targets
}

/// A source takes what arrives: what it read plus the backlog's growth (never below 0), and the
/// backlog spread over the catch-up time on top.
fn source_target(load: &VertexLoad, policy: &Policy) -> TargetRate {
    let catch_up_s = policy.catch_up_ms as f64 / 1000.0;
    let catch_up = match load.backlog {
        Some(backlog) if catch_up_s > 0.0 => backlog.max(0.0) / catch_up_s,
        _ => 0.0,
    };
    TargetRate { rate: (load.rate_in + load.backlog_growth).max(0.0), catch_up }
}

/// A downstream vertex takes what its inputs should send. Without any input in the graph it is
/// treated as taking what it takes now. `None` when an input lacks a target or a load.
fn downstream_target(
    vertex: &GraphVertex,
    graph: &JobGraph,
    loads: &BTreeMap<String, VertexLoad>,
    targets: &BTreeMap<String, TargetRate>,
) -> Option<TargetRate> {
    let inputs: Vec<&String> =
        vertex.inputs.iter().filter(|input| graph.vertices.iter().any(|other| &&other.id == input)).collect();
    if inputs.is_empty() {
        return loads.get(&vertex.id).map(|load| TargetRate { rate: load.rate_in, catch_up: 0.0 });
    }
    let single_input = inputs.len() == 1;
    let mut sum = TargetRate { rate: 0.0, catch_up: 0.0 };
    for input in inputs {
        let (target, load) = (targets.get(input)?, loads.get(input)?);
        let edge_share = loads.get(&vertex.id).filter(|_| single_input).and_then(|own| share_of(own, load));
        let ratio = edge_share.unwrap_or_else(|| load.output_ratio());
        sum.rate += scaled(target.rate, ratio);
        sum.catch_up += scaled(target.catch_up, ratio);
    }
    Some(sum)
}

/// What `consumer` takes per record its single `input` takes; `None` when the input takes
/// nothing (the ratio is not known).
fn share_of(consumer: &VertexLoad, input: &VertexLoad) -> Option<f64> {
    let share = consumer.rate_in / input.rate_in;
    (input.rate_in > 0.0 && share.is_finite()).then_some(share.max(0.0))
}

/// `rate × ratio`, where a rate of 0 stays 0 (never 0 × ∞).
fn scaled(rate: f64, ratio: f64) -> f64 {
    if rate == 0.0 || ratio == 0.0 { 0.0 } else { rate * ratio }
}

/// The first input of `vertex` without a target rate or a load, for the reason a vertex cannot
/// be sized.
pub(super) fn missing_input<'a>(
    vertex: &GraphVertex,
    graph: &'a JobGraph,
    loads: &BTreeMap<String, VertexLoad>,
    targets: &BTreeMap<String, TargetRate>,
) -> Option<&'a GraphVertex> {
    vertex
        .inputs
        .iter()
        .filter_map(|input| graph.vertices.iter().find(|other| &other.id == input))
        .find(|input| !targets.contains_key(&input.id) || !loads.contains_key(&input.id))
}
