//! Vertex metrics: Flink's `subtasks/metrics` aggregation, a vertex's load figures (one call),
//! single metrics and operator metric sums.

use super::RestFlinkClient;
use super::http::segment;
use crate::flink::{FlinkResult, MetricAggregation, VertexMetrics, wire};

const BUSY: &str = "busyTimeMsPerSecond";
const BACKPRESSURED: &str = "backPressuredTimeMsPerSecond";
const RECORDS_IN: &str = "numRecordsInPerSecond";
const RECORDS_OUT: &str = "numRecordsOutPerSecond";
/// The task metrics a load reading asks for, each aggregated as avg, max and sum.
const LOAD_METRICS: [&str; 4] = [BUSY, BACKPRESSURED, RECORDS_IN, RECORDS_OUT];

/// The load of one vertex, aggregated over its subtasks: `None` where Flink reported no value or
/// one that is not finite (a legacy source's busy time is NaN).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct VertexLoad {
    pub busy_avg: Option<f64>,
    pub busy_max: Option<f64>,
    pub backpressured_avg: Option<f64>,
    pub backpressured_max: Option<f64>,
    /// Summed over the subtasks.
    pub records_in: Option<f64>,
    /// Summed over the subtasks.
    pub records_out: Option<f64>,
}

impl VertexLoad {
    /// Reads the answer to the [`LOAD_METRICS`] query; other metrics are ignored.
    pub(super) fn from_metrics(metrics: Vec<wire::AggregatedMetric>) -> Self {
        let mut load = Self::default();
        for metric in metrics {
            match metric.id.as_str() {
                BUSY => (load.busy_avg, load.busy_max) = (metric.avg, metric.max),
                BACKPRESSURED => (load.backpressured_avg, load.backpressured_max) = (metric.avg, metric.max),
                RECORDS_IN => load.records_in = metric.sum,
                RECORDS_OUT => load.records_out = metric.sum,
                _ => {}
            }
        }
        load
    }

    /// The three figures the console shows live: the busiest and the most back-pressured
    /// subtask, and the summed input rate.
    pub(super) fn live_metrics(self) -> VertexMetrics {
        VertexMetrics {
            busy_time_ms_per_second: self.busy_max,
            backpressured_time_ms_per_second: self.backpressured_max,
            num_records_in_per_second: self.records_in,
        }
    }
}

impl RestFlinkClient {
    /// `subtasks/metrics` of one vertex: all metric ids when `metric_ids` is empty, else the
    /// given ones with the given aggregations.
    async fn aggregated_metrics(
        &self,
        job_id: &str,
        vertex_id: &str,
        metric_ids: &[&str],
        aggregations: &[MetricAggregation],
    ) -> FlinkResult<Vec<wire::AggregatedMetric>> {
        let what = format!("the metrics of vertex {vertex_id} of job {job_id}");
        let mut path = format!("/jobs/{}/vertices/{}/subtasks/metrics", segment(job_id), segment(vertex_id));
        if !metric_ids.is_empty() {
            let ids = metric_ids.iter().map(|id| segment(id)).collect::<Vec<_>>().join(",");
            let aggs = aggregations.iter().map(|agg| agg.wire_name()).collect::<Vec<_>>().join(",");
            path.push_str(&format!("?get={ids}&agg={aggs}"));
        }
        self.get(&what, &path).await
    }

    /// Busy time, back-pressure and input rate of one vertex (the console's live figures).
    pub(super) async fn load_metrics(&self, job_id: &str, vertex_id: &str) -> FlinkResult<VertexMetrics> {
        Ok(self.vertex_load(job_id, vertex_id).await?.live_metrics())
    }

    /// Every load figure of one vertex, from one `subtasks/metrics` call.
    pub(super) async fn vertex_load(&self, job_id: &str, vertex_id: &str) -> FlinkResult<VertexLoad> {
        let aggregations = [MetricAggregation::Avg, MetricAggregation::Max, MetricAggregation::Sum];
        let metrics = self.aggregated_metrics(job_id, vertex_id, &LOAD_METRICS, &aggregations).await?;
        Ok(VertexLoad::from_metrics(metrics))
    }

    pub(super) async fn single_metric(
        &self,
        job_id: &str,
        vertex_id: &str,
        metric_id: &str,
        aggregation: MetricAggregation,
    ) -> FlinkResult<Option<f64>> {
        let metrics = self.aggregated_metrics(job_id, vertex_id, &[metric_id], &[aggregation]).await?;
        Ok(metrics.into_iter().find(|metric| metric.id == metric_id).and_then(|metric| match aggregation {
            MetricAggregation::Min => metric.min,
            MetricAggregation::Max => metric.max,
            MetricAggregation::Avg => metric.avg,
            MetricAggregation::Sum => metric.sum,
            MetricAggregation::Skew => metric.skew,
        }))
    }

    pub(super) async fn operator_metric_total(
        &self,
        job_id: &str,
        vertex_id: &str,
        metric_suffix: &str,
    ) -> FlinkResult<Option<f64>> {
        let dotted = format!(".{metric_suffix}");
        let available = self.aggregated_metrics(job_id, vertex_id, &[], &[]).await?;
        let matching = available
            .iter()
            .map(|metric| metric.id.as_str())
            .filter(|id| *id == metric_suffix || id.ends_with(&dotted))
            .collect::<Vec<_>>();
        if matching.is_empty() {
            return Ok(None);
        }
        let values = self.aggregated_metrics(job_id, vertex_id, &matching, &[MetricAggregation::Sum]).await?;
        let sums = values.into_iter().filter_map(|metric| metric.sum).collect::<Vec<_>>();
        Ok(if sums.is_empty() { None } else { Some(sums.iter().sum()) })
    }
}
