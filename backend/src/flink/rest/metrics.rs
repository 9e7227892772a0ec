//! Vertex metrics: Flink's `subtasks/metrics` aggregation, the product's three load metrics,
//! single metrics and operator metric sums.

use super::RestFlinkClient;
use super::http::segment;
use crate::flink::{FlinkResult, MetricAggregation, VertexMetrics, wire};

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

    /// Busy time, back-pressure and input rate of one vertex.
    pub(super) async fn load_metrics(&self, job_id: &str, vertex_id: &str) -> FlinkResult<VertexMetrics> {
        const BUSY: &str = "busyTimeMsPerSecond";
        const BACKPRESSURED: &str = "backPressuredTimeMsPerSecond";
        const RECORDS_IN: &str = "numRecordsInPerSecond";
        let metrics = self
            .aggregated_metrics(
                job_id,
                vertex_id,
                &[BUSY, BACKPRESSURED, RECORDS_IN],
                &[MetricAggregation::Max, MetricAggregation::Sum],
            )
            .await?;
        let mut result = VertexMetrics::default();
        for metric in metrics {
            match metric.id.as_str() {
                BUSY => result.busy_time_ms_per_second = metric.max,
                BACKPRESSURED => result.backpressured_time_ms_per_second = metric.max,
                RECORDS_IN => result.num_records_in_per_second = metric.sum,
                _ => {}
            }
        }
        Ok(result)
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
