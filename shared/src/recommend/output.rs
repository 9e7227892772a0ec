//! What a recommendation says: a verdict for the job, and for every vertex its target
//! parallelism, the figures behind it and the reason in words an operator reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The recommendation for a whole job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recommendation {
    pub verdict: Verdict,
    /// The verdict in one sentence: `scale up: counter 2 → 3`.
    pub summary: String,
    /// Every vertex of the graph, in the graph's order.
    pub vertices: Vec<VertexRecommendation>,
}

impl Recommendation {
    /// The vertices to change and their new parallelism: what a pre-filled request asks for.
    pub fn changes(&self) -> BTreeMap<String, u32> {
        self.vertices
            .iter()
            .filter(|vertex| vertex.target != vertex.current)
            .map(|vertex| (vertex.id.clone(), vertex.target))
            .collect()
    }
}

/// What to do, for the job or for one vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The load fits the current parallelism.
    NoChange,
    ScaleUp,
    ScaleDown,
    /// Some vertices up, others down (the job only).
    Rescale,
    /// Too few usable samples to size the vertex (or any vertex).
    NotEnoughData,
    /// A change is needed but not recommended yet: too soon after the last change, a scale-down
    /// whose lower need has not held long enough, or more of a scale-up that did not help.
    HeldBack,
}

/// The recommendation for one vertex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexRecommendation {
    pub id: String,
    pub name: String,
    pub current: u32,
    /// The recommended parallelism; `current` unless the verdict is a scale up or down.
    pub target: u32,
    pub verdict: Verdict,
    /// Why, in words: `counter is 92 % busy at 1.4k rec/s; at 3 subtasks it would run at 61 %`.
    pub reason: String,
    /// The figures the reason is based on, where they could be computed.
    pub figures: Option<VertexFigures>,
}

/// The measured and derived figures of one vertex over the evaluation window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexFigures {
    /// Usable samples in the evaluation window.
    pub samples: u32,
    /// Average busy ratio (0–1); `None` when the vertex does not report busy time.
    pub busy: Option<f64>,
    /// Average back-pressured ratio (0–1), where reported.
    pub backpressured: Option<f64>,
    /// Records per second it takes (sources: emits), all subtasks.
    pub rate: f64,
    /// Records per second one subtask could take at full busy time.
    pub rate_per_subtask: Option<f64>,
    /// Records per second it should take: what arrives, or what its inputs should send.
    pub target_rate: Option<f64>,
    /// Extra records per second to work off a backlog within the catch-up time.
    pub catch_up_rate: Option<f64>,
    /// The utilisation the target rate would cause at the current parallelism.
    pub utilisation_now: Option<f64>,
    /// The utilisation the target rate would cause at the recommended parallelism.
    pub utilisation_at_target: Option<f64>,
}
