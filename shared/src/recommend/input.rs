//! What a recommendation is computed from: the job graph, a window of metrics samples, the job's
//! earlier rescales and the policy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything one recommendation reads. The time is passed in: nothing here reads a clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecommendationInput {
    /// The time of the recommendation (milliseconds since the epoch); samples after it are ignored.
    pub now_ms: u64,
    pub graph: JobGraph,
    pub window: MetricsWindow,
    /// The job's earlier rescales, in any order.
    #[serde(default)]
    pub history: Vec<Rescale>,
    #[serde(default)]
    pub policy: Policy,
}

/// The job's vertices as they run now, with the edges between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobGraph {
    pub vertices: Vec<GraphVertex>,
}

/// One vertex of the job graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphVertex {
    pub id: String,
    pub name: String,
    /// The parallelism it runs at now.
    pub parallelism: u32,
    /// Its number of key groups (`maxParallelism`); 0 when not known (no cap, no alignment).
    pub max_parallelism: u32,
    /// The ids of the vertices it reads from. Ids not in the graph are ignored.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Its input is hash-partitioned by key: its parallelism should divide `max_parallelism`, or
    /// some subtasks get one key group more than others.
    #[serde(default)]
    pub keyed: bool,
    /// It reads from outside the job; its target rate is what arrives, not what an upstream vertex
    /// sends.
    #[serde(default)]
    pub source: bool,
}

/// Metrics samples over time, oldest first or in any order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsWindow {
    #[serde(default)]
    pub samples: Vec<MetricsSample>,
}

/// One sample of every running vertex's metrics. A vertex that did not run, or whose metrics
/// could not be read, is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsSample {
    pub at_ms: u64,
    /// Metrics by vertex id.
    #[serde(default)]
    pub vertices: BTreeMap<String, VertexMetrics>,
}

/// One vertex's metrics in one sample, as Flink reports them for the vertex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexMetrics {
    /// `busyTimeMsPerSecond`, the average over the subtasks (the figure the true processing rate
    /// needs: the rate in over the average busy ratio). `None` when not reported (legacy sources
    /// report NaN).
    #[serde(default)]
    pub busy_ms_per_s: Option<f64>,
    /// `busyTimeMsPerSecond` of the busiest subtask, for [`BusyAggregation::Max`]. `None` when not
    /// reported (then the average stands in).
    #[serde(default)]
    pub busy_max_ms_per_s: Option<f64>,
    /// `backPressuredTimeMsPerSecond`, the average over the subtasks.
    #[serde(default)]
    pub backpressured_ms_per_s: Option<f64>,
    /// `numRecordsInPerSecond`, summed over the subtasks. Sources report 0: their rate is
    /// `records_out_per_s`.
    #[serde(default)]
    pub records_in_per_s: Option<f64>,
    /// `numRecordsOutPerSecond`, summed over the subtasks.
    #[serde(default)]
    pub records_out_per_s: Option<f64>,
    /// A source's backlog (`pendingRecords`, summed over the subtasks), where the source reports it.
    #[serde(default)]
    pub pending_records: Option<f64>,
    /// The vertex's parallelism when sampled, where known. A sample at another parallelism than
    /// the graph's says nothing about the vertex as it runs now (the job was rescaled after it,
    /// and no sample of the new job may be stored yet), so it is not read.
    #[serde(default)]
    pub parallelism: Option<u32>,
}

/// An earlier rescale of the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rescale {
    /// When the job ran at the new parallelism.
    pub at_ms: u64,
    /// The vertices it changed, by id.
    #[serde(default)]
    pub vertices: BTreeMap<String, VertexRescale>,
}

/// One vertex in an earlier rescale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexRescale {
    pub before: u32,
    pub after: u32,
    /// Its processing rate before the rescale (records per second the vertex takes at full busy
    /// time, all subtasks), if known. Without it the rescale's effect cannot be judged.
    #[serde(default)]
    pub rate_before: Option<f64>,
    /// Its processing rate after the rescale, if known; otherwise the current window's figure is
    /// used while the vertex still runs at `after`.
    #[serde(default)]
    pub rate_after: Option<f64>,
}

/// How a recommendation sizes vertices. Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The busy ratio a vertex is sized for (0.7: 30 % headroom for bursts).
    pub target_utilisation: f64,
    /// No change while the utilisation stays within the target ± this.
    pub utilisation_band: f64,
    /// A backlog is to be worked off within this time, on top of the incoming rate.
    pub catch_up_ms: u64,
    /// The most recent samples the need is computed from.
    pub evaluation_window_ms: u64,
    /// A scale-down is recommended only when the lower need has held this long.
    pub scale_down_damping_ms: u64,
    /// No change within this time of the last one.
    pub min_interval_ms: u64,
    /// Samples within this time after the last change are ignored: the job restarts, catches up
    /// and warms its caches (the Flink operator's `stabilization.interval`, 5 min by default).
    pub stabilisation_ms: u64,
    /// Which subtasks' busy time sizes a vertex: their average, or the busiest one's (for keyed
    /// vertices with skewed keys, as the Flink operator does by default).
    pub busy_aggregation: BusyAggregation,
    pub min_parallelism: u32,
    /// `None`: only the vertex's `max_parallelism` caps it.
    pub max_parallelism: Option<u32>,
    /// Round keyed vertices up to a divisor of their `max_parallelism`.
    pub align_keyed: bool,
    /// Fewer usable samples than this in the evaluation window is not enough data.
    pub min_samples: u32,
    /// An earlier scale-up that achieved less than this fraction of its expected rate increase was
    /// ineffective (the Flink autoscaler uses 0.1).
    pub effectiveness_threshold: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            target_utilisation: 0.7,
            utilisation_band: 0.1,
            catch_up_ms: 5 * 60_000,
            evaluation_window_ms: 10 * 60_000,
            scale_down_damping_ms: 60 * 60_000,
            min_interval_ms: 10 * 60_000,
            stabilisation_ms: 5 * 60_000,
            busy_aggregation: BusyAggregation::Average,
            min_parallelism: 1,
            max_parallelism: None,
            align_keyed: true,
            min_samples: 3,
            effectiveness_threshold: 0.1,
        }
    }
}

/// How the busy times of a vertex's subtasks make its busy ratio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BusyAggregation {
    /// The average over the subtasks: the vertex's true processing rate when its keys spread
    /// evenly.
    #[default]
    Average,
    /// The busiest subtask's: a skewed vertex is sized so that its hottest subtask keeps up.
    /// Samples without the figure fall back to the average.
    Max,
}
