//! Pre-flight checks: whether a rescale can start, and the plan it will follow if it can.
//!
//! The console runs [`check`] live while the user edits a request; the phase machine runs it
//! again right before execution starts, against a fresh read of the job and the cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flink::msf::AutoscalingChoice;
use crate::flink::{
    ClusterView, JobStatus, JobView, RescalePacing, SchedulerKind, resubmit_applies_vertex_overrides,
    supports_in_place_rescale,
};
use crate::operation::{ResolvedStrategy, Strategy, Target};

/// Stable codes of [`PreflightFailure`].
pub mod failure_code {
    pub const JOB_NOT_RUNNING: &str = "job_not_running";
    pub const EMPTY_TARGET: &str = "empty_target";
    pub const UNKNOWN_VERTEX: &str = "unknown_vertex";
    pub const PARALLELISM_OUT_OF_RANGE: &str = "parallelism_out_of_range";
    pub const NOTHING_TO_CHANGE: &str = "nothing_to_change";
    pub const NOT_ENOUGH_SLOTS: &str = "not_enough_slots";
    pub const IN_PLACE_NEEDS_ADAPTIVE_SCHEDULER: &str = "in_place_needs_adaptive_scheduler";
    pub const IN_PLACE_NEEDS_CHECKPOINTING: &str = "in_place_needs_checkpointing";
    pub const IN_PLACE_NEEDS_A_COMPLETED_CHECKPOINT: &str = "in_place_needs_a_completed_checkpoint";
    pub const PER_VERTEX_NEEDS_IN_PLACE: &str = "per_vertex_needs_in_place";
    pub const IN_PLACE_NEEDS_NEWER_FLINK: &str = "in_place_needs_newer_flink";
    pub const SAVEPOINT_DIRECTORY_MISSING: &str = "savepoint_directory_missing";
    pub const ARTIFACT_UNKNOWN: &str = "artifact_unknown";
    pub const MSF_NO_IN_PLACE: &str = "msf_no_in_place";
    pub const MSF_PER_VERTEX: &str = "msf_per_vertex";
    pub const MSF_KPU_LIMIT: &str = "msf_kpu_limit";
    pub const MSF_AUTOSCALING_ON: &str = "msf_autoscaling_on";
    pub const MSF_SNAPSHOTS_DISABLED: &str = "msf_snapshots_disabled";
}

mod msf;

/// One reason a rescale cannot start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreflightFailure {
    /// A stable snake_case code, see [`failure_code`].
    pub code: String,
    /// A lowercase sentence for people.
    pub message: String,
}

impl PreflightFailure {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into() }
    }
}

/// What execution will do: the strategy and the parallelism before and after, by vertex id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    pub strategy: ResolvedStrategy,
    pub original: BTreeMap<String, u32>,
    pub target: BTreeMap<String, u32>,
    /// How long the rescaled job may take to run at its target, when execution starts with
    /// the job's state known (the restore budget); `None`: the request's own verify timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_timeout_ms: Option<u64>,
    /// In place: when the adaptive scheduler acts on the new requirements (its cooldown), for
    /// [`RescalePacing::describe`] with [`Plan::cooldown_ends_at_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_pacing: Option<RescalePacing>,
    /// In place: when the job's cooldown ends, if Flink says when the job last started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_ends_at_ms: Option<u64>,
    /// Savepoint strategy: the cluster's directory the stop-with-savepoint writes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_directory: Option<String>,
}

/// Checks a request against the job and cluster as they are now.
///
/// Returns every failure found, not just the first. Slot accounting assumes the job uses one
/// slot sharing group (Flink's default): the job occupies as many slots as its largest vertex
/// parallelism, and gives them back when it stops or rescales.
pub fn check(
    target: &Target,
    strategy: Strategy,
    job: &JobView,
    cluster: &ClusterView,
    savepoint_directory: Option<&str>,
    artifact_known: bool,
    autoscaling: Option<AutoscalingChoice>,
) -> Result<Plan, Vec<PreflightFailure>> {
    if let Some(application) = &job.application {
        let failures = msf::failures(target, strategy, application, autoscaling);
        if !failures.is_empty() {
            return Err(failures);
        }
        return Ok(Plan {
            strategy: ResolvedStrategy::MsfUpdate,
            original: job.parallelism_by_vertex(),
            target: target.resolve(job),
            verify_timeout_ms: None,
            rescale_pacing: None,
            cooldown_ends_at_ms: None,
            savepoint_directory: None,
        });
    }
    let mut failures = Vec::new();

    if job.status != JobStatus::Running {
        failures.push(PreflightFailure::new(
            failure_code::JOB_NOT_RUNNING,
            format!("job {} is {}; only a RUNNING job can be rescaled", job.id, job.status.label()),
        ));
    }

    let original = job.parallelism_by_vertex();
    let resolved_target = target.resolve(job);
    failures.extend(target_failures(target, job, &resolved_target));

    let target_is_valid = failures
        .iter()
        .all(|failure| failure.code != failure_code::UNKNOWN_VERTEX && failure.code != failure_code::EMPTY_TARGET);
    if target_is_valid && resolved_target == original {
        failures.push(PreflightFailure::new(
            failure_code::NOTHING_TO_CHANGE,
            "the target equals the current parallelism: nothing to change",
        ));
    }

    failures.extend(slot_failure(&original, &resolved_target, cluster));

    let resolved_strategy = strategy.resolve(job, cluster);
    match resolved_strategy {
        ResolvedStrategy::InPlace => failures.extend(in_place_failures(job, cluster)),
        ResolvedStrategy::Savepoint | ResolvedStrategy::MsfUpdate => {
            failures.extend(savepoint_failures(&resolved_target, cluster, savepoint_directory, artifact_known));
        }
    }

    if failures.is_empty() {
        let rescale_pacing = match resolved_strategy {
            ResolvedStrategy::InPlace => job.rescale_pacing.clone(),
            ResolvedStrategy::Savepoint | ResolvedStrategy::MsfUpdate => None,
        };
        let cooldown_ends_at_ms = rescale_pacing.as_ref().and_then(|pacing| pacing.cooldown_ends_at_ms(job));
        let savepoint_directory = (resolved_strategy == ResolvedStrategy::Savepoint)
            .then(|| savepoint_directory.map(str::to_owned))
            .flatten();
        Ok(Plan {
            strategy: resolved_strategy,
            original,
            target: resolved_target,
            verify_timeout_ms: None,
            rescale_pacing,
            cooldown_ends_at_ms,
            savepoint_directory,
        })
    } else {
        Err(failures)
    }
}

fn target_failures(target: &Target, job: &JobView, resolved_target: &BTreeMap<String, u32>) -> Vec<PreflightFailure> {
    let mut failures = Vec::new();
    match target {
        Target::PerVertex { parallelism } if parallelism.is_empty() => {
            failures.push(PreflightFailure::new(failure_code::EMPTY_TARGET, "the per-vertex target lists no vertex"));
        }
        Target::Uniform { parallelism: 0 } => {
            failures
                .push(PreflightFailure::new(failure_code::PARALLELISM_OUT_OF_RANGE, "parallelism must be at least 1"));
            return failures;
        }
        _ => {}
    }
    for vertex_id in target.unknown_vertices(job) {
        failures.push(PreflightFailure::new(
            failure_code::UNKNOWN_VERTEX,
            format!("job {} has no vertex {vertex_id}", job.id),
        ));
    }
    for vertex in &job.vertices {
        let Some(&parallelism) = resolved_target.get(&vertex.id) else {
            continue;
        };
        if parallelism == 0 || parallelism > vertex.max_parallelism {
            failures.push(PreflightFailure::new(
                failure_code::PARALLELISM_OUT_OF_RANGE,
                format!(
                    "vertex '{}' ({}) takes parallelism 1 to {} (its max parallelism); {} was \
                     requested",
                    vertex.name, vertex.id, vertex.max_parallelism, parallelism
                ),
            ));
        }
    }
    failures
}

/// Whether the cluster has the slots the target needs, counting those the job holds.
fn slot_failure(
    original: &BTreeMap<String, u32>,
    resolved_target: &BTreeMap<String, u32>,
    cluster: &ClusterView,
) -> Option<PreflightFailure> {
    let slots_needed = resolved_target.values().copied().max().unwrap_or(0);
    let slots_held = original.values().copied().max().unwrap_or(0);
    let slots_usable = cluster.slots_available.saturating_add(slots_held);
    if slots_needed > slots_usable {
        return Some(PreflightFailure::new(
            failure_code::NOT_ENOUGH_SLOTS,
            format!(
                "the target needs {slots_needed} task slots but only {slots_usable} are usable \
                 ({} free in the cluster and {slots_held} held by the job itself)",
                cluster.slots_available
            ),
        ));
    }
    None
}

/// What the savepoint strategy needs: per-vertex overrides honoured on resubmit, a savepoint
/// directory and the job's artifact.
fn savepoint_failures(
    resolved_target: &BTreeMap<String, u32>,
    cluster: &ClusterView,
    savepoint_directory: Option<&str>,
    artifact_known: bool,
) -> Vec<PreflightFailure> {
    let mut failures = Vec::new();
    let uneven = resolved_target.values().min() != resolved_target.values().max();
    if uneven && !resubmit_applies_vertex_overrides(&cluster.flink_version) {
        failures.push(PreflightFailure::new(
            failure_code::PER_VERTEX_NEEDS_IN_PLACE,
            format!(
                "Flink {} ignores per-vertex parallelism when a job is resubmitted from a \
                 savepoint: rescale per vertex in place (adaptive scheduler), or give \
                 every vertex the same parallelism",
                cluster.flink_version
            ),
        ));
    }
    if savepoint_directory.is_none_or(|directory| directory.trim().is_empty()) {
        failures.push(PreflightFailure::new(
            failure_code::SAVEPOINT_DIRECTORY_MISSING,
            "the savepoint strategy needs a savepoint directory, and none is configured \
             for this cluster",
        ));
    }
    if !artifact_known {
        failures.push(PreflightFailure::new(
            failure_code::ARTIFACT_UNKNOWN,
            "the savepoint strategy resubmits the job from its artifact, and no artifact \
             is known for this job: upload its jar or link it to the job",
        ));
    }
    failures
}

fn in_place_failures(job: &JobView, cluster: &ClusterView) -> Vec<PreflightFailure> {
    let mut failures = Vec::new();
    if job.scheduler != SchedulerKind::Adaptive {
        let runs_on = match job.scheduler {
            SchedulerKind::Reactive => "the adaptive scheduler in reactive mode, which sets its parallelism itself",
            SchedulerKind::Default => "the default scheduler",
            SchedulerKind::Adaptive | SchedulerKind::Unknown => {
                "a scheduler the product could not confirm (neither Flink's job detail, its job \
                 configuration nor its resource requirements said adaptive)"
            }
        };
        failures.push(PreflightFailure::new(
            failure_code::IN_PLACE_NEEDS_ADAPTIVE_SCHEDULER,
            format!(
                "an in-place rescale needs the adaptive scheduler (jobmanager.scheduler: \
                 adaptive), and job {} runs on {runs_on}: use the savepoint strategy",
                job.id
            ),
        ));
    }
    if !job.checkpointing {
        failures.push(PreflightFailure::new(
            failure_code::IN_PLACE_NEEDS_CHECKPOINTING,
            format!(
                "an in-place rescale restarts the job from its latest checkpoint, and job {} has \
                 no periodic checkpointing: its state would be lost; use the savepoint strategy",
                job.id
            ),
        ));
    }
    if job.checkpointing && job.has_completed_checkpoint == Some(false) {
        failures.push(PreflightFailure::new(
            failure_code::IN_PLACE_NEEDS_A_COMPLETED_CHECKPOINT,
            format!(
                "an in-place rescale restarts the job from its latest checkpoint, and job {} has \
                 not completed one yet: its state would be lost; wait for a checkpoint or use \
                 the savepoint strategy",
                job.id
            ),
        ));
    }
    if supports_in_place_rescale(&cluster.flink_version) == Some(false) {
        failures.push(PreflightFailure::new(
            failure_code::IN_PLACE_NEEDS_NEWER_FLINK,
            format!(
                "an in-place rescale needs Flink 1.18 or later (the resource requirements \
                 endpoint), and this cluster runs {}: use the savepoint strategy",
                cluster.flink_version
            ),
        ));
    }
    failures
}

/// How far a job can be rescaled, for the console's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Free slots in the cluster plus the slots the job holds (given back when it stops or
    /// rescales), assuming one slot sharing group.
    pub slots_usable: u32,
    /// The highest uniform parallelism every vertex takes and the slots allow; 0 when the job
    /// has no vertices.
    pub max_uniform_parallelism: u32,
    pub vertices: Vec<VertexLimit>,
    /// An MSF application: its KPUs, which bound its one parallelism (no slots, no vertices;
    /// `vertices` then holds the application under [`crate::flink::msf::APPLICATION_KEY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpus: Option<KpuLimits>,
}

/// What bounds an MSF application's parallelism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KpuLimits {
    /// KPUs the application may use.
    pub limit: u32,
    pub parallelism_per_kpu: u32,
    /// KPUs it uses now.
    pub in_use: u32,
    /// Autoscaling is on: a request must say whether to turn it off.
    pub autoscaling: bool,
}

/// How far one vertex can be rescaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexLimit {
    pub vertex_id: String,
    pub vertex_name: String,
    pub current_parallelism: u32,
    pub max_parallelism: u32,
    /// The lower of the vertex's max parallelism and the usable slots.
    pub max_achievable_parallelism: u32,
}

impl Limits {
    pub fn of(job: &JobView, cluster: &ClusterView) -> Self {
        if let Some(application) = &job.application {
            let max = application.max_parallelism();
            return Self {
                slots_usable: max,
                max_uniform_parallelism: max,
                vertices: vec![VertexLimit {
                    vertex_id: crate::flink::msf::APPLICATION_KEY.to_owned(),
                    vertex_name: format!("application {}", application.name),
                    current_parallelism: application.parallelism,
                    max_parallelism: max,
                    max_achievable_parallelism: max,
                }],
                kpus: Some(KpuLimits {
                    limit: application.kpu_limit,
                    parallelism_per_kpu: application.parallelism_per_kpu,
                    in_use: application.kpus_in_use(),
                    autoscaling: application.autoscaling,
                }),
            };
        }
        let slots_held = job.vertices.iter().map(|vertex| vertex.parallelism).max().unwrap_or(0);
        let slots_usable = cluster.slots_available.saturating_add(slots_held);
        let vertices: Vec<VertexLimit> = job
            .vertices
            .iter()
            .map(|vertex| VertexLimit {
                vertex_id: vertex.id.clone(),
                vertex_name: vertex.name.clone(),
                current_parallelism: vertex.parallelism,
                max_parallelism: vertex.max_parallelism,
                max_achievable_parallelism: vertex.max_parallelism.min(slots_usable),
            })
            .collect();
        let max_uniform_parallelism =
            vertices.iter().map(|vertex| vertex.max_achievable_parallelism).min().unwrap_or(0);
        Self { slots_usable, max_uniform_parallelism, vertices, kpus: None }
    }
}
