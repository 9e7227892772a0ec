//! Savepoints and checkpoints: triggers under a caller-chosen id (stop-with-savepoint and plain
//! savepoints), their status, and the job's checkpoint history.

use reqwest::Method;
use rescaler_shared::flink::SavepointStatus;

use super::RestFlinkClient;
use super::http::{decode, millis, segment};
use crate::flink::error::summarize_errors;
use crate::flink::{CheckpointHistory, CheckpointRef, FlinkError, FlinkResult, wire};

impl RestFlinkClient {
    /// POSTs a trigger and checks that Flink took the caller's trigger id.
    async fn trigger(&self, what: &str, path: &str, body: impl serde::Serialize, trigger_id: &str) -> FlinkResult<()> {
        let request = self.request(Method::POST, path).json(&body);
        let (status, body) = self.exchange(what, request).await?;
        let accepted: wire::TriggerResponse = decode(what, status, &body)?;
        if accepted.request_id != trigger_id {
            return Err(FlinkError::undecodable(
                what,
                format!(
                    "flink answered request id {} for trigger id {trigger_id}: this version does not take a caller-chosen trigger id",
                    accepted.request_id
                ),
            ));
        }
        Ok(())
    }

    pub(super) async fn stop(&self, job_id: &str, trigger_id: &str, target_directory: Option<&str>) -> FlinkResult<()> {
        let what = format!("stop-with-savepoint {trigger_id} of job {job_id}");
        let path = format!("/jobs/{}/stop", segment(job_id));
        let body = wire::StopWithSavepointRequest { trigger_id, target_directory, drain: false };
        self.trigger(&what, &path, body, trigger_id).await
    }

    pub(super) async fn savepoint(
        &self,
        job_id: &str,
        trigger_id: &str,
        target_directory: Option<&str>,
    ) -> FlinkResult<()> {
        let what = format!("savepoint {trigger_id} of job {job_id}");
        let path = format!("/jobs/{}/savepoints", segment(job_id));
        let body = wire::SavepointTriggerRequest { trigger_id, target_directory, cancel_job: false };
        self.trigger(&what, &path, body, trigger_id).await
    }

    pub(super) async fn fetch_savepoint_status(&self, job_id: &str, trigger_id: &str) -> FlinkResult<SavepointStatus> {
        let what = format!("savepoint {trigger_id} of job {job_id}");
        let path = format!("/jobs/{}/savepoints/{}", segment(job_id), segment(trigger_id));
        match self.get_optional::<wire::SavepointStatusResponse>(&what, &path).await? {
            None => Ok(SavepointStatus::Unknown),
            Some(answer) => savepoint_status_from_wire(&what, answer),
        }
    }

    pub(super) async fn fetch_checkpoint_history(&self, job_id: &str) -> FlinkResult<Option<CheckpointHistory>> {
        let what = format!("the checkpoints of job {job_id}");
        let path = format!("/jobs/{}/checkpoints", segment(job_id));
        let Some(statistics) = self.get_optional::<wire::CheckpointingStatistics>(&what, &path).await? else {
            return Ok(None);
        };
        let latest = statistics.latest;
        Ok(Some(CheckpointHistory {
            latest_checkpoint: latest.completed.map(checkpoint_ref),
            latest_savepoint: latest.savepoint.map(checkpoint_ref),
            restored: latest.restored.map(|restored| CheckpointRef {
                id: restored.id,
                is_savepoint: restored.is_savepoint,
                external_path: restored.external_path,
                timestamp_ms: millis(restored.restore_timestamp),
                discarded: false,
                state_size_bytes: 0,
                duration_ms: 0,
            }),
        }))
    }
}

fn checkpoint_ref(statistics: wire::CheckpointStatistics) -> CheckpointRef {
    CheckpointRef {
        id: statistics.id,
        is_savepoint: statistics.is_savepoint,
        external_path: statistics.external_path,
        timestamp_ms: millis(statistics.trigger_timestamp),
        discarded: statistics.discarded,
        state_size_bytes: statistics.state_size,
        duration_ms: statistics.end_to_end_duration,
    }
}

fn savepoint_status_from_wire(what: &str, answer: wire::SavepointStatusResponse) -> FlinkResult<SavepointStatus> {
    match answer.status.id.as_str() {
        "IN_PROGRESS" => Ok(SavepointStatus::InProgress),
        "COMPLETED" => {
            let operation =
                answer.operation.ok_or_else(|| FlinkError::undecodable(what, "completed without an operation"))?;
            if let Some(cause) = operation.failure_cause {
                let trace = cause.stack_trace.unwrap_or_default();
                return Ok(SavepointStatus::Failed { cause: summarize_errors(&[trace]) });
            }
            match operation.location {
                Some(location) => Ok(SavepointStatus::Completed { location }),
                None => Err(FlinkError::undecodable(what, "completed with neither location nor failure cause")),
            }
        }
        other => Err(FlinkError::undecodable(what, format!("unknown status {other:?}"))),
    }
}
