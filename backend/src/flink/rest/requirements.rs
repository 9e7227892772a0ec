//! The adaptive scheduler's per-vertex resource requirements: read and replaced whole.

use std::collections::BTreeMap;

use reqwest::Method;

use super::RestFlinkClient;
use super::http::segment;
use crate::flink::{FlinkError, FlinkResult, ParallelismBounds, wire};

impl RestFlinkClient {
    pub(super) async fn put_requirements(
        &self,
        job_id: &str,
        requirements: &BTreeMap<String, ParallelismBounds>,
    ) -> FlinkResult<()> {
        let what = format!("the resource requirements of job {job_id}");
        let path = format!("/jobs/{}/resource-requirements", segment(job_id));
        let body = requirements
            .iter()
            .map(|(vertex_id, bounds)| {
                let parallelism = wire::Bounds { lower_bound: bounds.lower, upper_bound: bounds.upper };
                (vertex_id.clone(), wire::VertexResourceRequirements { parallelism })
            })
            .collect::<wire::ResourceRequirements>();
        let (status, text) = self.exchange(&what, self.request(Method::PUT, &path).json(&body)).await?;
        if status.is_success() { Ok(()) } else { Err(FlinkError::from_status(&what, status, &text)) }
    }

    pub(super) async fn get_requirements(&self, job_id: &str) -> FlinkResult<BTreeMap<String, ParallelismBounds>> {
        let what = format!("the resource requirements of job {job_id}");
        let path = format!("/jobs/{}/resource-requirements", segment(job_id));
        let requirements: wire::ResourceRequirements = self.get(&what, &path).await?;
        Ok(requirements
            .into_iter()
            .map(|(vertex_id, vertex)| {
                let bounds =
                    ParallelismBounds { lower: vertex.parallelism.lower_bound, upper: vertex.parallelism.upper_bound };
                (vertex_id, bounds)
            })
            .collect())
    }
}
