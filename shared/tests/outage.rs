//! The outage a rescale caused, recorded once when the job is first seen at its target.

mod support;

use rescaler_shared::flink::JobStatus;
use rescaler_shared::operation::{MeasuredOutage, Operation, PhaseSpan, ResolvedStrategy, event_kind};
use rescaler_shared::phase::{Decision, Observation, Phase, PhaseName, apply, decide};
use support::*;

const STOP_CALLED_MS: u64 = PHASE_START_MS - 700;

fn observed(job: rescaler_shared::flink::JobView, in_place: bool) -> Observation {
    let mut observation = Observation::at(NOW_MS);
    if in_place {
        observation.job = present(job)
    } else {
        observation.new_job = present(job)
    }
    observation
}

fn running_at_target_since(id: &str, since_ms: u64) -> rescaler_shared::flink::JobView {
    let mut job = job(id, JobStatus::Running, TARGET_PARALLELISM);
    job.running_since_ms = Some(since_ms);
    job
}

/// Decides and applies like the reconciler; answers the decision's event kind, or "wait".
fn step(operation: &mut Operation, observation: &Observation) -> String {
    let decision = decide(operation, observation);
    let kind = match &decision {
        Decision::Transition { event, .. } => event.kind.clone(),
        Decision::Wait { .. } => "wait".to_owned(),
        other => panic!("unexpected {other:?}"),
    };
    apply(operation, &decision, observation.now_ms);
    kind
}

#[test]
fn a_savepoint_rescales_outage_runs_from_the_stop_to_the_first_sight_at_the_target() {
    let mut operation = operation_in(
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        ResolvedStrategy::Savepoint,
    );
    operation.phase_history.insert(
        operation.phase_history.len() - 1,
        PhaseSpan { phase: PhaseName::Stopping, started_at_ms: STOP_CALLED_MS, ended_at_ms: Some(PHASE_START_MS) },
    );
    let young = observed(running_at_target_since(NEW_JOB_ID, NOW_MS - 100), false);
    assert_eq!(step(&mut operation, &young), event_kind::RUNS_AT_TARGET);
    let outage = MeasuredOutage { strategy: ResolvedStrategy::Savepoint, from_ms: STOP_CALLED_MS, to_ms: NOW_MS };
    assert_eq!(operation.outage, Some(outage));
    assert_eq!(operation.phase.name(), PhaseName::Verifying, "still verifying");
    assert_eq!(operation.phase_history.iter().filter(|span| span.phase == PhaseName::Verifying).count(), 1);
    // Seen again: nothing more is written until it is stable.
    assert_eq!(step(&mut operation, &young), "wait");
    let mut stable = observed(running_at_target_since(NEW_JOB_ID, NOW_MS - 100), false);
    stable.now_ms = NOW_MS + operation.stable_for_ms;
    assert_eq!(step(&mut operation, &stable), event_kind::VERIFIED);
    assert_eq!(operation.outage, Some(outage), "the first sighting is the outage's end");
}

#[test]
fn an_in_place_outage_starts_when_flink_may_act_and_a_stable_first_sight_ends_it() {
    let cooldown_ends_ms = PHASE_START_MS + 2_000;
    let mut operation = operation_in(
        Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: cooldown_ends_ms },
        ResolvedStrategy::InPlace,
    );
    // Stable at first sight (the verification's clock ran long enough): verified at once.
    let observation = observed(adaptive(running_at_target_since(JOB_ID, NOW_MS - 60_000)), true);
    assert_eq!(step(&mut operation, &observation), event_kind::VERIFIED);
    assert_eq!(
        operation.outage,
        Some(MeasuredOutage { strategy: ResolvedStrategy::InPlace, from_ms: cooldown_ends_ms, to_ms: NOW_MS })
    );
}

#[test]
fn a_record_without_a_resolved_strategy_waits_without_writing() {
    let mut operation = operation_in(
        Phase::Verifying { job_id: NEW_JOB_ID.to_owned(), since_ms: PHASE_START_MS },
        ResolvedStrategy::Savepoint,
    );
    operation.strategy = None;
    assert!(!operation.awaits_outage_end());
    let young = observed(running_at_target_since(NEW_JOB_ID, NOW_MS - 100), false);
    assert_eq!(step(&mut operation, &young), "wait");
    assert_eq!(operation.outage, None);
}
