//! Load history of a deployment: its vertices' metrics sampled over time, kept in two bounded
//! documents, and the pure rules that keep them bounded.
//!
//! - The *recent* document keeps every sample of the last [`RECENT_MS`] (two hours) as taken.
//! - Older samples fold into the *day* document: one point per [`BUCKET_MS`] (five minutes)
//!   bucket of time, kept for [`DAY_MS`]. A point's averages are the mean of its samples', its
//!   maxima the maximum of theirs (a five-minute point keeps its peak), its parallelism the
//!   samples' own. A bucket in which the job changed (a rescale: another job id, or another
//!   parallelism of a vertex) folds into one point per run of unchanged samples, so that no
//!   point averages across a rescale. A point is stamped with the time of its newest sample.
//! - A bucket folds once it has ended more than two hours ago, so the day document changes at
//!   most once every five minutes while the recent one changes on every sample.
//!
//! History belongs to a deployment, not to a Flink job id: a rescale resubmits the job under a
//! new id, and the history runs across it. Every sample carries its job id and each vertex's
//! parallelism, so a reader sees the change ([`LoadHistory::rescales`]), with the processing rate
//! on each side of it.
//!
//! Size: keys are short (documented on the fields), values are kept to a thousandth and a
//! vertex's name is stored once per document. A sample of 10 vertices takes about 1.4 KB of
//! JSON, so the recent document holds about 350 KB when sampled every 30 s (at most
//! [`MAX_RECENT_SAMPLES`], about 700 KB) and the day document about 400 KB (at most
//! [`MAX_DAY_POINTS`], about 560 KB); a test measures it.

mod fold;
mod rescales;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::recommend::{MetricsSample, MetricsWindow, Rescale, VertexMetrics};

pub use fold::{fold_into, fold_out};

/// How long samples are kept as taken.
pub const RECENT_MS: u64 = 2 * 60 * 60_000;
/// The width of the buckets older samples fold into.
pub const BUCKET_MS: u64 = 5 * 60_000;
/// How long folded points are kept.
pub const DAY_MS: u64 = 24 * 60 * 60_000;
/// A sample this close to a stored one is not stored: a retried pass (the same time) or a
/// second reconciler sampling the same moment adds nothing. It also bounds the recent document.
pub const MIN_SPACING_MS: u64 = 15_000;
/// The most samples the recent document holds: two hours and five minutes at the minimum
/// spacing. Past it (a clock that went back), the oldest fold early.
pub const MAX_RECENT_SAMPLES: usize = ((RECENT_MS + BUCKET_MS) / MIN_SPACING_MS) as usize + 1;
/// The most points the day document holds: one a bucket, plus room for a split bucket per
/// rescale. Past it, the oldest are dropped.
pub const MAX_DAY_POINTS: usize = (DAY_MS / BUCKET_MS) as usize + 112;

/// Whose history a Flink job's samples go to: the deployment that runs or ran it (in its
/// lineage, or seen replacing its job), else the job itself, by its id — a job the product does
/// not manage yet. Adopting such a job later makes a deployment with that same id (a
/// deployment's id is its first job's), so its history carries over.
pub fn owner<'a>(deployments: &'a [crate::deployment::Deployment], job_id: &'a str) -> &'a str {
    deployments
        .iter()
        .find(|deployment| deployment.has_job(job_id) || deployment.watched_job_id() == job_id)
        .map_or(job_id, |deployment| deployment.id.as_str())
}

/// A deployment's load over time, oldest first: a stored document, or what the API answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadHistory {
    /// 0 when every sample is as taken; [`BUCKET_MS`] when some are points folded from a bucket
    /// (those have `folded` > 1 or older times than the rest).
    #[serde(default)]
    pub resolution_ms: u64,
    /// Each vertex's name by vertex id, the latest seen: stored once here rather than in every
    /// sample (a SQL job's vertex is named after its whole plan, kilobytes long). The vertices
    /// of `samples` leave their `name` empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    #[serde(default)]
    pub samples: Vec<LoadSample>,
}

/// One sample of every vertex of the job, or a point folded from several.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadSample {
    /// `t`: when it was taken (milliseconds since the epoch); for a folded point, its newest
    /// sample's time.
    #[serde(rename = "t")]
    pub at_ms: u64,
    /// `job`: the Flink job id that ran then.
    #[serde(rename = "job")]
    pub job_id: String,
    /// `n`: how many samples this point folds; 1 (left out) for a sample as taken.
    #[serde(rename = "n", default = "one", skip_serializing_if = "is_one")]
    pub folded: u32,
    /// `v`: every vertex, in the job graph's order.
    #[serde(rename = "v", default)]
    pub vertices: Vec<VertexSample>,
}

/// One vertex in one sample. Figures are per second, as Flink reports them; `None` when not
/// reported (and for values that are not finite: legacy sources report NaN).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexSample {
    pub id: String,
    /// `n`: empty inside a [`LoadHistory`] (see its `names`); set in a sample to record.
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `p`: its parallelism.
    #[serde(rename = "p")]
    pub parallelism: u32,
    /// `b`: `busyTimeMsPerSecond`, the average over the subtasks.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub busy_ms_per_s_avg: Option<f64>,
    /// `bx`: `busyTimeMsPerSecond` of the busiest subtask.
    #[serde(rename = "bx", default, skip_serializing_if = "Option::is_none")]
    pub busy_ms_per_s_max: Option<f64>,
    /// `bp`: `backPressuredTimeMsPerSecond`, the average over the subtasks (the figure the
    /// recommendation reads).
    #[serde(rename = "bp", default, skip_serializing_if = "Option::is_none")]
    pub backpressured_ms_per_s_avg: Option<f64>,
    /// `bpx`: `backPressuredTimeMsPerSecond` of the most back-pressured subtask.
    #[serde(rename = "bpx", default, skip_serializing_if = "Option::is_none")]
    pub backpressured_ms_per_s_max: Option<f64>,
    /// `i`: `numRecordsInPerSecond`, summed over the subtasks.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub records_in_per_s: Option<f64>,
    /// `o`: `numRecordsOutPerSecond`, summed over the subtasks.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub records_out_per_s: Option<f64>,
    /// `pr`: a source's backlog (`pendingRecords`, summed over the subtasks), where reported.
    #[serde(rename = "pr", default, skip_serializing_if = "Option::is_none")]
    pub pending_records: Option<f64>,
}

fn one() -> u32 {
    1
}

fn is_one(folded: &u32) -> bool {
    *folded == 1
}

/// Kept to a thousandth (the digits beyond are noise in a per-second rate and cost a third of
/// the document); values that are not finite are not values.
fn thousandths(value: Option<f64>) -> Option<f64> {
    value.filter(|value| value.is_finite()).map(|value| (value * 1000.0).round() / 1000.0)
}

impl VertexSample {
    /// Each figure kept to a thousandth, or `None` when not finite.
    fn rounded(mut self) -> Self {
        for figure in self.figures_mut() {
            *figure = thousandths(*figure);
        }
        self
    }

    fn figures_mut(&mut self) -> [&mut Option<f64>; 7] {
        [
            &mut self.busy_ms_per_s_avg,
            &mut self.busy_ms_per_s_max,
            &mut self.backpressured_ms_per_s_avg,
            &mut self.backpressured_ms_per_s_max,
            &mut self.records_in_per_s,
            &mut self.records_out_per_s,
            &mut self.pending_records,
        ]
    }
}

impl LoadHistory {
    /// An empty recent document (samples as taken).
    pub fn recent() -> Self {
        Self::default()
    }

    /// An empty day document (points folded from buckets).
    pub fn day() -> Self {
        Self { resolution_ms: BUCKET_MS, ..Self::default() }
    }

    /// The newest sample's time.
    pub fn newest_ms(&self) -> Option<u64> {
        self.samples.last().map(|sample| sample.at_ms)
    }

    /// Stores a sample in time order, its figures kept to a thousandth and its vertices' names
    /// moved to `names`. Ignored, returning false, when a stored sample is within
    /// [`MIN_SPACING_MS`] of it: a retried pass stores its sample once, and two writers that
    /// commit out of order both keep theirs.
    pub fn append(&mut self, sample: LoadSample) -> bool {
        let position = self.samples.partition_point(|stored| stored.at_ms < sample.at_ms);
        let near = |index: usize| {
            self.samples.get(index).is_some_and(|stored| stored.at_ms.abs_diff(sample.at_ms) < MIN_SPACING_MS)
        };
        if near(position) || (position > 0 && near(position - 1)) {
            return false;
        }
        let LoadSample { at_ms, job_id, folded, vertices } = sample;
        let vertices = vertices
            .into_iter()
            .map(|mut vertex| {
                let name = std::mem::take(&mut vertex.name);
                if !name.is_empty() {
                    self.names.insert(vertex.id.clone(), name);
                }
                vertex.rounded()
            })
            .collect();
        self.samples.insert(position, LoadSample { at_ms, job_id, folded: folded.max(1), vertices });
        true
    }

    /// Drops the samples taken before `from_ms`, and the names no sample uses any more.
    pub fn retain_since(&mut self, from_ms: u64) {
        self.samples.retain(|sample| sample.at_ms >= from_ms);
        self.prune_names();
    }

    fn prune_names(&mut self) {
        let samples = &self.samples;
        self.names.retain(|id, _| samples.iter().any(|sample| sample.vertices.iter().any(|vertex| &vertex.id == id)));
    }

    /// The name of a vertex, or its id when none was recorded.
    pub fn name_of<'a>(&'a self, vertex_id: &'a str) -> &'a str {
        self.names.get(vertex_id).map_or(vertex_id, String::as_str)
    }

    /// The samples as the recommendation's metrics window: every figure it reads, as stored.
    pub fn window(&self) -> MetricsWindow {
        MetricsWindow { samples: self.samples.iter().map(MetricsSample::from).collect() }
    }

    /// Where the parallelism of a vertex changed between two consecutive samples, oldest first:
    /// the rescales a chart marks and the recommendation's history, with each vertex's processing
    /// rate over its run of samples before and after the change (without the first
    /// `stabilisation_ms` after a change; see [`Policy::stabilisation_ms`](crate::recommend::Policy)).
    pub fn rescales(&self, stabilisation_ms: u64) -> Vec<Rescale> {
        rescales::rescales(&self.samples, stabilisation_ms)
    }

    /// Puts the samples in time order and keeps one sample per time (the first stored), as
    /// every rule here expects. Returns whether anything had to change: a document written out
    /// of order (by hand, or by an older writer) is repaired rather than refused.
    pub fn put_in_order(&mut self) -> bool {
        let in_order = self.samples.windows(2).all(|pair| pair[0].at_ms < pair[1].at_ms);
        if !in_order {
            self.samples.sort_by_key(|sample| sample.at_ms);
            self.samples.dedup_by_key(|sample| sample.at_ms);
        }
        !in_order
    }
}

impl From<&LoadSample> for MetricsSample {
    fn from(sample: &LoadSample) -> Self {
        let vertices = sample
            .vertices
            .iter()
            .map(|vertex| {
                let metrics = VertexMetrics {
                    busy_ms_per_s: vertex.busy_ms_per_s_avg,
                    busy_max_ms_per_s: vertex.busy_ms_per_s_max,
                    backpressured_ms_per_s: vertex.backpressured_ms_per_s_avg,
                    records_in_per_s: vertex.records_in_per_s,
                    records_out_per_s: vertex.records_out_per_s,
                    pending_records: vertex.pending_records,
                    parallelism: Some(vertex.parallelism),
                };
                (vertex.id.clone(), metrics)
            })
            .collect();
        Self { at_ms: sample.at_ms, vertices }
    }
}

/// What a reader sees: the day's points, then the recent samples, oldest first. The recent
/// samples at or before the newest point are left out: they were folded into it (a writer
/// stopped between writing the day document and trimming the recent one).
pub fn merged(recent: &LoadHistory, day: &LoadHistory) -> LoadHistory {
    let mut samples = day.samples.clone();
    samples.sort_by_key(|sample| sample.at_ms);
    let folded_through_ms = samples.last().map(|point| point.at_ms);
    let mut later: Vec<LoadSample> = recent
        .samples
        .iter()
        .filter(|sample| folded_through_ms.is_none_or(|through| sample.at_ms > through))
        .cloned()
        .collect();
    later.sort_by_key(|sample| sample.at_ms);
    let resolution_ms = if samples.is_empty() { recent.resolution_ms } else { day.resolution_ms };
    samples.extend(later);
    let mut names = day.names.clone();
    names.extend(recent.names.iter().map(|(id, name)| (id.clone(), name.clone())));
    let mut history = LoadHistory { resolution_ms, names, samples };
    history.prune_names();
    history
}
