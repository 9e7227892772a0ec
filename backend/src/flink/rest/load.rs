//! The job graph and load samples: the plan of `GET /jobs/:id` read as a [`JobGraph`], and a
//! running job's vertices read as one [`LoadSample`] (one `subtasks/metrics` call per vertex,
//! two more for a source's backlog, every vertex at once).
//!
//! Flink answers metrics from the JobManager's metric store and only then starts a fetch round
//! (at most one per `metrics.fetcher.update-interval`, 10 s by default), so a sample holds the
//! figures of the round the previous sample started: up to one sample interval old. Its rates
//! and busy times are Flink's own 60 s averages, so the lag matters little to a recommendation;
//! the load-test test reads fresh figures by asking twice (`it/load_test_job.rs`).

use futures::future::{try_join, try_join_all};
use rescaler_shared::flink::METRICS_SETTLED_AFTER_MS;
use rescaler_shared::history::{LoadSample, VertexSample};
use rescaler_shared::recommend::{GraphVertex, JobGraph};

use super::RestFlinkClient;
use super::http::segment;
use crate::flink::{FlinkError, FlinkResult, wire};

/// The ship strategy of an input partitioned by key (`keyBy`): Flink's `KeyGroupStreamPartitioner`.
const KEYED_SHIP_STRATEGY: &str = "HASH";
/// A source's backlog: an operator metric, named `<operator>.pendingRecords` at vertex level.
const PENDING_RECORDS: &str = "pendingRecords";
/// The job and vertex status in which a vertex has load to sample.
const RUNNING: &str = "RUNNING";

impl RestFlinkClient {
    async fn job_details(&self, job_id: &str) -> FlinkResult<Option<wire::JobDetails>> {
        let what = format!("job {job_id}");
        self.get_optional(&what, &format!("/jobs/{}", segment(job_id))).await
    }

    /// The job graph from one `GET /jobs/:id`; `None` when Flink does not know the job.
    pub(super) async fn fetch_job_graph(&self, job_id: &str) -> FlinkResult<Option<JobGraph>> {
        let Some(details) = self.job_details(job_id).await? else { return Ok(None) };
        Ok(Some(graph_from_wire(&details)?))
    }

    /// One sample of every vertex, stamped `now_ms`; `None` when the job is unknown, not
    /// RUNNING, has a vertex that is not RUNNING yet (deploying after a restart: its metrics
    /// would be missing or the previous attempt's), or entered RUNNING less than
    /// `METRICS_SETTLED_AFTER_MS` ago (its rates would still average in the time before).
    pub(super) async fn fetch_load_sample(&self, job_id: &str, now_ms: u64) -> FlinkResult<Option<LoadSample>> {
        let Some(details) = self.job_details(job_id).await? else { return Ok(None) };
        if details.state != RUNNING || details.vertices.iter().any(|vertex| vertex.status != RUNNING) {
            return Ok(None);
        }
        // Rates of a job that has not run a full metric window yet still count the time before.
        let running_since_ms = details.timestamps.get(RUNNING).copied().unwrap_or(0).max(0) as u64;
        if now_ms < running_since_ms.saturating_add(METRICS_SETTLED_AFTER_MS) {
            return Ok(None);
        }
        let graph = graph_from_wire(&details)?;
        let vertices =
            try_join_all(graph.vertices.iter().map(|vertex| self.vertex_sample(&details.jid, vertex))).await?;
        Ok(Some(LoadSample { at_ms: now_ms, job_id: details.jid, folded: 1, vertices }))
    }

    /// One vertex's load; a source's backlog is read beside it.
    async fn vertex_sample(&self, job_id: &str, vertex: &GraphVertex) -> FlinkResult<VertexSample> {
        let backlog = async {
            if vertex.source { self.operator_metric_total(job_id, &vertex.id, PENDING_RECORDS).await } else { Ok(None) }
        };
        let (load, pending_records) = try_join(self.vertex_load(job_id, &vertex.id), backlog).await?;
        Ok(VertexSample {
            id: vertex.id.clone(),
            name: vertex.name.clone(),
            parallelism: vertex.parallelism,
            busy_ms_per_s_avg: load.busy_avg,
            busy_ms_per_s_max: load.busy_max,
            backpressured_ms_per_s_avg: load.backpressured_avg,
            backpressured_ms_per_s_max: load.backpressured_max,
            records_in_per_s: load.records_in,
            records_out_per_s: load.records_out,
            pending_records: pending_records.filter(|value| value.is_finite()),
        })
    }
}

/// The graph of a job detail: its vertices in the detail's order (Flink lists them upstream
/// first), each with the inputs its plan node names, each upstream vertex once. A vertex the
/// plan does not describe makes the detail undecodable: it would otherwise pass for a source.
///
/// A job that is not running yet may have no plan at all: the adaptive scheduler answers a job
/// waiting for its slots with an empty plan (and its vertices in no particular order). Its
/// graph is empty until Flink has planned it.
fn graph_from_wire(details: &wire::JobDetails) -> FlinkResult<JobGraph> {
    let what = format!("the plan of job {}", details.jid);
    let plan = wire::JobPlan::from_raw(&details.plan)
        .ok_or_else(|| FlinkError::undecodable(&what, "no readable plan in the job detail"))?;
    if plan.nodes.is_empty() && details.state != RUNNING {
        return Ok(JobGraph { vertices: Vec::new() });
    }
    let mut vertices = Vec::with_capacity(details.vertices.len());
    for vertex in &details.vertices {
        let node = plan
            .nodes
            .iter()
            .find(|node| node.id == vertex.id)
            .ok_or_else(|| FlinkError::undecodable(&what, format!("no plan node for vertex {}", vertex.id)))?;
        let mut inputs: Vec<String> = Vec::with_capacity(node.inputs.len());
        for input in &node.inputs {
            if !inputs.contains(&input.id) {
                inputs.push(input.id.clone());
            }
        }
        let keyed = node.inputs.iter().any(|input| input.ship_strategy.as_deref() == Some(KEYED_SHIP_STRATEGY));
        vertices.push(GraphVertex {
            id: vertex.id.clone(),
            name: vertex.name.clone(),
            parallelism: vertex.parallelism,
            max_parallelism: vertex.max_parallelism,
            source: inputs.is_empty(),
            inputs,
            keyed,
        });
    }
    Ok(JobGraph { vertices })
}
