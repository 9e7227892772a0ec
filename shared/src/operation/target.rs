//! What a request asks for: the target parallelism and the strategy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flink::{ClusterView, JobView, SchedulerKind, supports_in_place_rescale};

/// The parallelism a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Every vertex at the same parallelism.
    Uniform { parallelism: u32 },
    /// Parallelism by vertex id; vertices not listed keep their current parallelism.
    PerVertex { parallelism: BTreeMap<String, u32> },
}

impl Target {
    /// The full parallelism by vertex id this target means for `job`.
    ///
    /// Vertex ids the job does not have are ignored here; pre-flight reports them
    /// (see [`Target::unknown_vertices`]).
    pub fn resolve(&self, job: &JobView) -> BTreeMap<String, u32> {
        if let Some(application) = &job.application {
            // One parallelism for the whole application; a per-vertex target is refused by
            // pre-flight and keeps the current one here.
            let parallelism = match self {
                Self::Uniform { parallelism } => *parallelism,
                Self::PerVertex { .. } => application.parallelism,
            };
            return BTreeMap::from([(crate::flink::msf::APPLICATION_KEY.to_owned(), parallelism)]);
        }
        job.vertices
            .iter()
            .map(|vertex| {
                let parallelism = match self {
                    Self::Uniform { parallelism } => *parallelism,
                    Self::PerVertex { parallelism } => {
                        parallelism.get(&vertex.id).copied().unwrap_or(vertex.parallelism)
                    }
                };
                (vertex.id.clone(), parallelism)
            })
            .collect()
    }

    /// Vertex ids of a per-vertex target that `job` does not have.
    pub fn unknown_vertices(&self, job: &JobView) -> Vec<String> {
        match self {
            Self::Uniform { .. } => Vec::new(),
            Self::PerVertex { parallelism } => {
                parallelism.keys().filter(|id| !job.vertices.iter().any(|vertex| &vertex.id == *id)).cloned().collect()
            }
        }
    }

    /// A short human description, e.g. `parallelism 4` or `2 vertices changed`.
    pub fn describe(&self) -> String {
        match self {
            Self::Uniform { parallelism } => format!("parallelism {parallelism}"),
            Self::PerVertex { parallelism } => {
                let listed = parallelism
                    .iter()
                    .map(|(vertex_id, parallelism)| format!("{vertex_id}={parallelism}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("per-vertex parallelism {{{listed}}}")
            }
        }
    }
}

/// How the requester wants the rescale done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In place when the job can be rescaled in place safely, else savepoint.
    #[default]
    Auto,
    /// Stop with a savepoint, restart at the new parallelism.
    Savepoint,
    /// Change the resource requirements of a job on the adaptive scheduler.
    InPlace,
}

impl Strategy {
    /// The strategy execution will use for `job` on `cluster`.
    ///
    /// `Auto` picks in place only when the job runs on the adaptive scheduler, has periodic
    /// checkpointing (an in-place rescale restores from the latest checkpoint; without one the
    /// state is lost) and the cluster's Flink version has the resource requirements endpoint.
    /// An explicit choice is kept as is: pre-flight refuses an in-place rescale the job cannot
    /// take.
    pub fn resolve(self, job: &JobView, cluster: &ClusterView) -> ResolvedStrategy {
        if job.application.is_some() {
            // MSF restarts an application from a snapshot for every parallelism change; in place
            // is refused by pre-flight.
            return match self {
                Self::InPlace => ResolvedStrategy::InPlace,
                Self::Auto | Self::Savepoint => ResolvedStrategy::MsfUpdate,
            };
        }
        match self {
            Self::Savepoint => ResolvedStrategy::Savepoint,
            Self::InPlace => ResolvedStrategy::InPlace,
            Self::Auto => {
                let in_place_safe = job.scheduler == SchedulerKind::Adaptive
                    && job.checkpointing
                    && job.has_completed_checkpoint != Some(false)
                    && supports_in_place_rescale(&cluster.flink_version) != Some(false);
                if in_place_safe { ResolvedStrategy::InPlace } else { ResolvedStrategy::Savepoint }
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Savepoint => "savepoint",
            Self::InPlace => "in_place",
        }
    }
}

/// The strategy an operation executes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResolvedStrategy {
    Savepoint,
    InPlace,
    /// An Amazon Managed Service for Apache Flink application: a snapshot named after the
    /// request, then `UpdateApplication` to the target restoring from it.
    MsfUpdate,
}

impl ResolvedStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Savepoint => "savepoint",
            Self::InPlace => "in_place",
            Self::MsfUpdate => "msf_update",
        }
    }
}
