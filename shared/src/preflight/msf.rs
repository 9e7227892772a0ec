//! Pre-flight of an MSF application: RUNNING (not updating, autoscaling or rolling back), a
//! uniform target within the KPU limit, snapshots on (without one the state would be lost), no
//! in-place strategy, and a decision about autoscaling when it is on.

use super::{PreflightFailure, failure_code};
use crate::flink::msf::{AutoscalingChoice, MsfApplication, MsfStatus, kpus};
use crate::operation::{Strategy, Target};

pub(super) fn failures(
    target: &Target,
    strategy: Strategy,
    application: &MsfApplication,
    autoscaling: Option<AutoscalingChoice>,
) -> Vec<PreflightFailure> {
    let mut failures = Vec::new();
    let name = &application.name;
    if application.status != MsfStatus::Running {
        failures.push(PreflightFailure::new(
            failure_code::JOB_NOT_RUNNING,
            format!(
                "application {name} is {}; only a RUNNING application can be rescaled (an update, an autoscaling \
                 or a rollback may be under way)",
                application.status.label()
            ),
        ));
    }
    if strategy == Strategy::InPlace {
        failures.push(PreflightFailure::new(
            failure_code::MSF_NO_IN_PLACE,
            "Amazon Managed Service for Apache Flink restarts an application from a snapshot for every \
             parallelism change: choose the auto or savepoint strategy",
        ));
    }
    match target {
        Target::PerVertex { .. } => failures.push(PreflightFailure::new(
            failure_code::MSF_PER_VERTEX,
            format!(
                "an MSF application has one parallelism for all its operators: give application {name} one \
                 parallelism (per-operator parallelism is set in the application's code)"
            ),
        )),
        Target::Uniform { parallelism: 0 } => {
            failures
                .push(PreflightFailure::new(failure_code::PARALLELISM_OUT_OF_RANGE, "parallelism must be at least 1"));
        }
        Target::Uniform { parallelism } => failures.extend(uniform_failures(*parallelism, application, autoscaling)),
    }
    if !application.snapshots_enabled {
        failures.push(PreflightFailure::new(
            failure_code::MSF_SNAPSHOTS_DISABLED,
            format!(
                "snapshots are disabled for application {name}: without a snapshot its state would be lost; \
                 enable them (ApplicationSnapshotConfiguration) first"
            ),
        ));
    }
    failures
}

fn uniform_failures(
    parallelism: u32,
    application: &MsfApplication,
    autoscaling: Option<AutoscalingChoice>,
) -> Vec<PreflightFailure> {
    let mut failures = Vec::new();
    let name = &application.name;
    let needed = kpus(parallelism, application.parallelism_per_kpu);
    if needed > application.kpu_limit {
        failures.push(PreflightFailure::new(
            failure_code::MSF_KPU_LIMIT,
            format!(
                "parallelism {parallelism} needs {needed} KPUs at {} per KPU, and application {name} may use at \
                 most {} (it uses {} now): at most parallelism {}",
                application.parallelism_per_kpu,
                application.kpu_limit,
                application.kpus_in_use(),
                application.max_parallelism()
            ),
        ));
    }
    let turns_off = AutoscalingChoice::autoscaling_update(autoscaling, application.autoscaling).is_some();
    if application.autoscaling && autoscaling.is_none() {
        failures.push(PreflightFailure::new(
            failure_code::MSF_AUTOSCALING_ON,
            format!(
                "autoscaling is on for application {name}: it doubles or halves the parallelism on CPU load and \
                 would undo the change; say whether to turn it off in the same update, or keep it (the target then \
                 becomes the parallelism it never goes below)"
            ),
        ));
    }
    if parallelism == application.parallelism && !turns_off {
        failures.push(PreflightFailure::new(
            failure_code::NOTHING_TO_CHANGE,
            "the target equals the current parallelism: nothing to change",
        ));
    }
    failures
}
