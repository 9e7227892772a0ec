//! Fixtures shared by the integration tests: a two-vertex job, operations in every phase.

#![allow(dead_code)]

use std::collections::BTreeMap;

use rescaler_shared::flink::{ClusterView, JobStatus, JobView, SavepointStatus, SchedulerKind, TaskStatus, VertexView};
use rescaler_shared::operation::{
    ArtifactRef, Operation, OperationRequest, ResolvedStrategy, SavepointRef, Strategy, Target,
};
use rescaler_shared::phase::{Decision, Observation, Phase, Seen};

pub const OPERATION_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const JOB_ID: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";
pub const NEW_JOB_ID: &str = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";
pub const ROLLBACK_JOB_ID: &str = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";
pub const SOURCE_VERTEX: &str = "cbc357ccb763df2852fee8c4fc7d55f2";
pub const SINK_VERTEX: &str = "90bea66de1c231edf33913ecd54406c1";
pub const SAVEPOINT_LOCATION: &str = "s3://flink/savepoints/savepoint-a0a0a0-0123456789ab";
pub const REQUESTER: &str = "alice@example.com";

/// When the operation was requested.
pub const CREATED_AT_MS: u64 = 1_000_000;
pub const APPROVAL_WINDOW_MS: u64 = 3_600_000;
pub const VERIFY_TIMEOUT_MS: u64 = 60_000;
/// When the fixture entered its current phase (every `since_ms`).
pub const PHASE_START_MS: u64 = 2_000_000;
/// A pass shortly after the phase started.
pub const NOW_MS: u64 = PHASE_START_MS + 5_000;
/// A pass after the verify timeout.
pub const LATE_MS: u64 = PHASE_START_MS + VERIFY_TIMEOUT_MS + 1;

pub const ORIGINAL_PARALLELISM: u32 = 2;
pub const TARGET_PARALLELISM: u32 = 4;

pub fn parallelism(uniform: u32) -> BTreeMap<String, u32> {
    BTreeMap::from([(SOURCE_VERTEX.to_owned(), uniform), (SINK_VERTEX.to_owned(), uniform)])
}

/// A job on the default scheduler with checkpointing, every vertex at `uniform`.
pub fn job(id: &str, status: JobStatus, uniform: u32) -> JobView {
    let task_status = match status {
        JobStatus::Running => TaskStatus::Running,
        JobStatus::Finished => TaskStatus::Finished,
        JobStatus::Failed => TaskStatus::Failed,
        JobStatus::Canceled => TaskStatus::Canceled,
        JobStatus::Cancelling => TaskStatus::Canceling,
        _ => TaskStatus::Created,
    };
    JobView {
        id: id.to_owned(),
        name: "keyed-counter".to_owned(),
        status,
        scheduler: SchedulerKind::Default,
        checkpointing: true,
        has_completed_checkpoint: Some(true),
        start_time_ms: 900_000,
        running_since_ms: (status == JobStatus::Running).then_some(900_000),
        rescale_pacing: None,
        application: None,
        vertices: vec![
            VertexView {
                id: SOURCE_VERTEX.to_owned(),
                name: "Source: numbers".to_owned(),
                parallelism: uniform,
                max_parallelism: 128,
                status: task_status,
            },
            VertexView {
                id: SINK_VERTEX.to_owned(),
                name: "Sink: counts".to_owned(),
                parallelism: uniform,
                max_parallelism: 128,
                status: task_status,
            },
        ],
    }
}

pub fn adaptive(mut job: JobView) -> JobView {
    job.scheduler = SchedulerKind::Adaptive;
    job
}

pub fn present(job: JobView) -> Option<Seen<JobView>> {
    Some(Seen::Present(job))
}

pub fn absent() -> Option<Seen<JobView>> {
    Some(Seen::Absent)
}

pub fn cluster(slots_available: u32) -> ClusterView {
    ClusterView { flink_version: "1.20.1".to_owned(), taskmanagers: 2, slots_total: 8, slots_available }
}

pub fn completed_savepoint() -> Option<SavepointStatus> {
    Some(SavepointStatus::Completed { location: SAVEPOINT_LOCATION.to_owned() })
}

pub fn request(strategy: Strategy) -> OperationRequest {
    OperationRequest {
        cluster_id: "prod-eu".to_owned(),
        job_id: JOB_ID.to_owned(),
        job_name: "keyed-counter".to_owned(),
        target: Target::Uniform { parallelism: TARGET_PARALLELISM },
        strategy,
        reason: "traffic doubled".to_owned(),
        requested_by: REQUESTER.to_owned(),
        required_approvals: 1,
        approval_window_ms: APPROVAL_WINDOW_MS,
        verify_timeout_ms: VERIFY_TIMEOUT_MS,
        artifact: Some(ArtifactRef {
            artifact_id: "keyed-counter-1.0.jar".to_owned(),
            sha256: "00".repeat(32),
            entry_class: None,
            args: Vec::new(),
        }),
        autoscaling: None,
    }
}

/// A freshly requested operation awaiting approval.
pub fn requested(strategy: Strategy) -> Operation {
    Operation::new(OPERATION_ID.to_owned(), request(strategy), CREATED_AT_MS)
}

/// An operation that got as far as `phase` with `strategy`, planned 2 → 4 on both vertices.
///
/// The savepoint strategy has a recorded savepoint and new job id once past stopping.
pub fn operation_in(phase: Phase, strategy: ResolvedStrategy) -> Operation {
    let mut operation = requested(match strategy {
        ResolvedStrategy::Savepoint | ResolvedStrategy::MsfUpdate => Strategy::Savepoint,
        ResolvedStrategy::InPlace => Strategy::InPlace,
    });
    if matches!(phase, Phase::AwaitingApproval) {
        return operation;
    }
    operation.approvals.push(rescaler_shared::operation::Approval {
        by: "bob@example.com".to_owned(),
        at_ms: CREATED_AT_MS + 1,
        comment: String::new(),
    });
    let executing =
        !matches!(phase, Phase::Approved | Phase::Rejected { .. } | Phase::Cancelled { .. } | Phase::Expired);
    if executing {
        operation.strategy = Some(strategy);
        operation.original_parallelism = parallelism(ORIGINAL_PARALLELISM);
        operation.target_parallelism = parallelism(TARGET_PARALLELISM);
        let past_stopping = !matches!(phase, Phase::Stopping { .. });
        if strategy == ResolvedStrategy::Savepoint && past_stopping {
            operation.savepoint = Some(SavepointRef {
                location: SAVEPOINT_LOCATION.to_owned(),
                trigger_id: "stop".to_owned(),
                taken_at_ms: PHASE_START_MS,
            });
            operation.new_job_id = Some(NEW_JOB_ID.to_owned());
        }
    }
    operation.enter(phase, PHASE_START_MS);
    operation
}

/// A one-line summary of a decision: `wait`, `done`, `transition <phase>`,
/// `act <action> then <phase>`.
pub fn summarize(decision: &Decision) -> String {
    match decision {
        Decision::Wait { .. } => "wait".to_owned(),
        Decision::Done => "done".to_owned(),
        Decision::Transition { to, .. } => format!("transition {}", to.name()),
        Decision::Act { action, then, .. } => {
            let action = serde_json::to_value(action)
                .ok()
                .and_then(|value| value["action"].as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("act {action} then {}", then.name())
        }
    }
}

pub fn observation(now_ms: u64) -> Observation {
    Observation::at(now_ms)
}
