//! The MSF path of the phase machine and its pre-flight, table-tested: snapshot, update under
//! the conditional token, verification through MSF's operation, rollback — and resuming after a
//! crash at every step without a second update.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::flink::msf::{
    APPLICATION_KEY, AutoscalingChoice, MsfApplication, MsfOperation, MsfOperationStatus, MsfRestore, MsfSnapshot,
    MsfSnapshotStatus, MsfStatus,
};
use rescaler_shared::flink::{ClusterView, JobView};
use rescaler_shared::operation::{
    Operation, ResolvedStrategy, RollbackPlan, SavepointRef, Strategy, Target, msf_snapshot_name,
};
use rescaler_shared::phase::{Action, Decision, Observation, Phase, PhaseName, Seen, apply, decide, needs};
use rescaler_shared::preflight::{check, failure_code};
use support::*;

const APP: &str = "orders";
const TOKEN: &str = "token-1";

fn application(status: MsfStatus, parallelism: u32, token: &str) -> MsfApplication {
    MsfApplication {
        name: APP.to_owned(),
        arn: format!("arn:aws:kinesisanalytics:eu-west-1:123456789012:application/{APP}"),
        status,
        runtime: "FLINK-1_20".to_owned(),
        version_id: 3,
        conditional_token: Some(token.to_owned()),
        parallelism,
        parallelism_per_kpu: 1,
        current_parallelism: parallelism,
        autoscaling: false,
        custom_configuration: true,
        snapshots_enabled: true,
        system_rollback: true,
        restore: MsfRestore::RestoreFromLatestSnapshot,
        kpu_limit: 8,
        latest_snapshots: Vec::new(),
    }
}

/// The application as a job, its id the fixtures' job id.
fn job_of(application: MsfApplication) -> JobView {
    JobView::of_application(JOB_ID.to_owned(), application)
}

fn msf_cluster() -> ClusterView {
    ClusterView { flink_version: "1.20".to_owned(), taskmanagers: 0, slots_total: 0, slots_available: 0 }
}

fn app_parallelism(parallelism: u32) -> BTreeMap<String, u32> {
    BTreeMap::from([(APPLICATION_KEY.to_owned(), parallelism)])
}

fn snapshot() -> String {
    msf_snapshot_name(OPERATION_ID)
}

/// An MSF request that got as far as `phase`, planned 2 → 4.
fn msf_operation(phase: Phase) -> Operation {
    let mut operation = operation_in(Phase::Approved, ResolvedStrategy::MsfUpdate);
    operation.job_name = APP.to_owned();
    operation.artifact = None;
    if !matches!(phase, Phase::Approved) {
        operation.strategy = Some(ResolvedStrategy::MsfUpdate);
        operation.original_parallelism = app_parallelism(ORIGINAL_PARALLELISM);
        operation.target_parallelism = app_parallelism(TARGET_PARALLELISM);
    }
    if !matches!(phase, Phase::Approved | Phase::Snapshotting { .. }) {
        operation.savepoint = Some(SavepointRef {
            location: format!("msf://{APP}/{}", snapshot()),
            trigger_id: snapshot(),
            taken_at_ms: PHASE_START_MS,
        });
    }
    operation.enter(phase, PHASE_START_MS);
    operation
}

fn observe(now_ms: u64, application: MsfApplication) -> Observation {
    let mut observation = Observation::at(now_ms);
    observation.job = Some(Seen::Present(job_of(application)));
    observation
}

fn with_snapshot(mut observation: Observation, status: Option<MsfSnapshotStatus>) -> Observation {
    observation.snapshot = Some(match status {
        Some(status) => Seen::Present(MsfSnapshot { name: snapshot(), status, version_id: 3, created_at_ms: None }),
        None => Seen::Absent,
    });
    observation
}

fn with_operation(mut observation: Observation, status: Option<MsfOperationStatus>) -> Observation {
    observation.msf_operation = Some(match status {
        Some(status) => Seen::Present(MsfOperation {
            id: "op-1".to_owned(),
            kind: "UpdateApplication".to_owned(),
            status,
            started_at_ms: Some(PHASE_START_MS),
            error: (status == MsfOperationStatus::Failed).then(|| "job failed to start".to_owned()),
            rollback_operation_id: None,
        }),
        None => Seen::Absent,
    });
    observation
}

fn restored_from_ours(mut application: MsfApplication, parallelism: u32) -> MsfApplication {
    application.restore = MsfRestore::RestoreFromCustomSnapshot { snapshot_name: snapshot() };
    application.parallelism = parallelism;
    application.current_parallelism = parallelism;
    application
}

fn codes(
    result: Result<rescaler_shared::preflight::Plan, Vec<rescaler_shared::preflight::PreflightFailure>>,
) -> Vec<String> {
    result.err().unwrap_or_default().into_iter().map(|failure| failure.code).collect()
}

#[test]
fn preflight_of_an_application() {
    let running = job_of(application(MsfStatus::Running, 2, TOKEN));
    let uniform = |parallelism| Target::Uniform { parallelism };
    let run = |target: &Target, strategy, job: &JobView, autoscaling| {
        codes(check(target, strategy, job, &msf_cluster(), None, false, autoscaling))
    };
    let plan = check(&uniform(4), Strategy::Auto, &running, &msf_cluster(), None, false, None).expect("a plan");
    assert_eq!(plan.strategy, ResolvedStrategy::MsfUpdate);
    assert_eq!((plan.original, plan.target), (app_parallelism(2), app_parallelism(4)));
    // No savepoint directory or artifact is needed: MSF keeps the code and the snapshots.
    assert!(run(&uniform(4), Strategy::Savepoint, &running, None).is_empty());

    let per_vertex = Target::PerVertex { parallelism: BTreeMap::from([(SOURCE_VERTEX.to_owned(), 3)]) };
    assert_eq!(run(&per_vertex, Strategy::Auto, &running, None), [failure_code::MSF_PER_VERTEX]);
    assert_eq!(run(&uniform(4), Strategy::InPlace, &running, None), [failure_code::MSF_NO_IN_PLACE]);
    assert_eq!(run(&uniform(9), Strategy::Auto, &running, None), [failure_code::MSF_KPU_LIMIT]);
    assert_eq!(run(&uniform(2), Strategy::Auto, &running, None), [failure_code::NOTHING_TO_CHANGE]);
    assert_eq!(run(&uniform(0), Strategy::Auto, &running, None), [failure_code::PARALLELISM_OUT_OF_RANGE]);

    // Two subtasks per KPU: 9 needs 5 KPUs of 8.
    let mut dense = application(MsfStatus::Running, 2, TOKEN);
    dense.parallelism_per_kpu = 2;
    assert!(run(&uniform(9), Strategy::Auto, &job_of(dense.clone()), None).is_empty());
    let message =
        check(&uniform(17), Strategy::Auto, &job_of(dense), &msf_cluster(), None, false, None).expect_err("refused");
    assert!(
        message[0].message.contains("needs 9 KPUs at 2 per KPU")
            && message[0].message.contains("at most parallelism 16"),
        "{message:?}"
    );

    for status in [MsfStatus::Updating, MsfStatus::Autoscaling, MsfStatus::RollingBack, MsfStatus::Ready] {
        let busy = job_of(application(status, 2, TOKEN));
        assert_eq!(run(&uniform(4), Strategy::Auto, &busy, None), [failure_code::JOB_NOT_RUNNING], "{status:?}");
    }
    let mut no_snapshots = application(MsfStatus::Running, 2, TOKEN);
    no_snapshots.snapshots_enabled = false;
    assert_eq!(run(&uniform(4), Strategy::Auto, &job_of(no_snapshots), None), [failure_code::MSF_SNAPSHOTS_DISABLED]);

    // Autoscaling on: the requester decides; turning it off alone is a change.
    let mut autoscaling = application(MsfStatus::Running, 2, TOKEN);
    autoscaling.autoscaling = true;
    let autoscaling = job_of(autoscaling);
    assert_eq!(run(&uniform(4), Strategy::Auto, &autoscaling, None), [failure_code::MSF_AUTOSCALING_ON]);
    assert!(run(&uniform(4), Strategy::Auto, &autoscaling, Some(AutoscalingChoice::Keep)).is_empty());
    assert!(run(&uniform(4), Strategy::Auto, &autoscaling, Some(AutoscalingChoice::TurnOff)).is_empty());
    assert!(run(&uniform(2), Strategy::Auto, &autoscaling, Some(AutoscalingChoice::TurnOff)).is_empty());
    assert_eq!(
        run(&uniform(2), Strategy::Auto, &autoscaling, Some(AutoscalingChoice::Keep)),
        [failure_code::NOTHING_TO_CHANGE]
    );
}

/// Runs `decide` and, for a write, `apply`: the phase name after, and the action if any.
fn step(operation: &Operation, observation: &Observation) -> (Decision, Operation) {
    let decision = decide(operation, observation);
    let mut after = operation.clone();
    apply(&mut after, &decision, observation.now_ms);
    (decision, after)
}

#[test]
fn approved_starts_with_the_snapshot_and_the_token_seen() {
    let operation = msf_operation(Phase::Approved);
    let mut observation = observe(NOW_MS, application(MsfStatus::Running, 2, TOKEN));
    observation.cluster = Some(msf_cluster());
    let (decision, after) = step(&operation, &observation);
    assert!(matches!(decision, Decision::Transition { .. }), "{decision:?}");
    assert_eq!(
        after.phase,
        Phase::Snapshotting { snapshot_name: snapshot(), conditional_token: TOKEN.to_owned(), since_ms: NOW_MS }
    );
    assert_eq!(after.strategy, Some(ResolvedStrategy::MsfUpdate));
    assert_eq!(after.target_parallelism, app_parallelism(TARGET_PARALLELISM));
    assert_eq!(needs(&after).snapshot, Some(snapshot()));
}

fn snapshotting() -> Operation {
    msf_operation(Phase::Snapshotting {
        snapshot_name: snapshot(),
        conditional_token: TOKEN.to_owned(),
        since_ms: PHASE_START_MS,
    })
}

fn updating() -> Operation {
    msf_operation(Phase::Updating {
        snapshot_name: snapshot(),
        conditional_token: TOKEN.to_owned(),
        since_ms: PHASE_START_MS,
    })
}

#[test]
fn snapshotting_while_the_application_runs() {
    let operation = snapshotting();
    let running = || observe(NOW_MS, application(MsfStatus::Running, 2, TOKEN));

    let (decision, after) = step(&operation, &with_snapshot(running(), None));
    let Decision::Act { action: Action::CreateSnapshot { application: app, snapshot_name }, .. } = &decision else {
        panic!("{decision:?}")
    };
    assert_eq!((app.as_str(), snapshot_name.clone()), (APP, snapshot()));
    assert_eq!(after.phase.name(), PhaseName::Snapshotting);

    let creating = decide(&operation, &with_snapshot(running(), Some(MsfSnapshotStatus::Creating)));
    assert!(matches!(creating, Decision::Wait { .. }), "{creating:?}");

    let (ready, after) = step(&operation, &with_snapshot(running(), Some(MsfSnapshotStatus::Ready)));
    assert!(matches!(ready, Decision::Transition { .. }), "{ready:?}");
    assert_eq!(after.phase.name(), PhaseName::Updating);
    // The snapshot is on the record (and so in the catalog) before anything is updated.
    let recorded = after.savepoint.expect("the snapshot recorded");
    assert_eq!((recorded.location, recorded.trigger_id), (format!("msf://{APP}/{}", snapshot()), snapshot()));

    let (failed, after) = step(&operation, &with_snapshot(running(), Some(MsfSnapshotStatus::Failed)));
    assert!(matches!(failed, Decision::Transition { .. }));
    let Phase::Failed { reason } = after.phase else { panic!("{:?}", after.phase) };
    assert!(reason.contains("nothing was changed"), "{reason}");

    // Changed elsewhere since approval: nothing is sent.
    let changed = with_snapshot(observe(NOW_MS, application(MsfStatus::Running, 2, "token-2")), None);
    let (_, after) = step(&operation, &changed);
    let Phase::Failed { reason } = after.phase else { panic!("{:?}", after.phase) };
    assert!(reason.contains("changed outside the product"), "{reason}");

    // Autoscaling right now: wait, then give up untouched.
    let busy = |now| with_snapshot(observe(now, application(MsfStatus::Autoscaling, 2, TOKEN)), None);
    assert!(matches!(decide(&operation, &busy(NOW_MS)), Decision::Wait { .. }));
    let (_, after) = step(&operation, &busy(LATE_MS));
    assert_eq!(after.phase.name(), PhaseName::Failed);
}

#[test]
fn updating_sends_one_update_under_the_token() {
    let operation = updating();
    let (decision, after) = step(&operation, &observe(NOW_MS, application(MsfStatus::Running, 2, TOKEN)));
    let Decision::Act { action, .. } = &decision else { panic!("{decision:?}") };
    assert_eq!(
        *action,
        Action::UpdateApplication {
            application: APP.to_owned(),
            parallelism: TARGET_PARALLELISM,
            snapshot_name: snapshot(),
            conditional_token: TOKEN.to_owned(),
            autoscaling: None,
        }
    );
    assert_eq!(after.phase, Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: NOW_MS });

    // A crash after the update: the application restores from the request's snapshot, so the
    // update is not sent again (its token changed with it anyway).
    let updated = restored_from_ours(application(MsfStatus::Updating, 2, "token-2"), TARGET_PARALLELISM);
    let (decision, after) = step(&operation, &observe(NOW_MS, updated));
    assert!(matches!(decision, Decision::Transition { .. }), "{decision:?}");
    assert_eq!(after.phase.name(), PhaseName::Verifying);

    let (_, after) = step(&operation, &observe(NOW_MS, application(MsfStatus::Running, 2, "token-2")));
    let Phase::Failed { reason } = after.phase else { panic!("{:?}", after.phase) };
    assert!(reason.contains("changed outside the product") && reason.contains("is kept"), "{reason}");

    // Turning autoscaling off rides on the same update.
    let mut asked = operation.clone();
    asked.autoscaling = Some(AutoscalingChoice::TurnOff);
    let mut autoscaling = application(MsfStatus::Running, 2, TOKEN);
    autoscaling.autoscaling = true;
    let Decision::Act { action: Action::UpdateApplication { autoscaling, .. }, .. } =
        decide(&asked, &observe(NOW_MS, autoscaling))
    else {
        panic!("no update")
    };
    assert_eq!(autoscaling, Some(false));
}

fn verifying() -> Operation {
    let mut operation = msf_operation(Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: PHASE_START_MS });
    operation.msf_operation_id = Some("op-1".to_owned());
    operation
}

#[test]
fn verifying_through_msfs_operation() {
    let operation = verifying();
    let asked = needs(&operation).msf_operation.expect("the operation is read");
    assert_eq!((asked.id.as_deref(), asked.since_ms), (Some("op-1"), PHASE_START_MS));
    let at = |now, app: MsfApplication, status| with_operation(observe(now, app), status);
    let rescaled = || restored_from_ours(application(MsfStatus::Running, 0, "token-2"), TARGET_PARALLELISM);

    let (_, after) = step(&operation, &at(NOW_MS, rescaled(), Some(MsfOperationStatus::Successful)));
    assert_eq!(after.phase, Phase::Completed);

    let updating = restored_from_ours(application(MsfStatus::Updating, 0, "token-2"), TARGET_PARALLELISM);
    assert!(matches!(
        decide(&operation, &at(NOW_MS, updating.clone(), Some(MsfOperationStatus::InProgress))),
        Decision::Wait { .. }
    ));
    // Not listed yet (a crash lost the id): wait for it.
    assert!(matches!(decide(&operation, &at(NOW_MS, updating.clone(), None)), Decision::Wait { .. }));

    // MSF's system rollback brought the old version back: rolled back, nothing to send.
    let back = application(MsfStatus::Running, ORIGINAL_PARALLELISM, "token-3");
    let (_, after) = step(&operation, &at(NOW_MS, back, Some(MsfOperationStatus::Failed)));
    let Phase::RolledBack { reason } = &after.phase else { panic!("{:?}", after.phase) };
    assert!(reason.contains("job failed to start"), "{reason}");

    // Failed without a system rollback: the product rolls back from its snapshot.
    let stuck = restored_from_ours(application(MsfStatus::Running, 0, "token-2"), TARGET_PARALLELISM);
    let (_, after) = step(&operation, &at(NOW_MS, stuck, Some(MsfOperationStatus::Failed)));
    assert!(
        matches!(&after.phase, Phase::RollingBack { rollback: RollbackPlan::MsfUpdate { snapshot_name, sent_at_ms: None, .. }, .. } if *snapshot_name == snapshot()),
        "{:?}",
        after.phase
    );

    // Still updating after the timeout: roll back.
    let (_, after) = step(&operation, &at(LATE_MS, updating, Some(MsfOperationStatus::InProgress)));
    assert_eq!(after.phase.name(), PhaseName::RollingBack);
}

fn rolling_back(sent_at_ms: Option<u64>) -> Operation {
    msf_operation(Phase::RollingBack {
        reason: "MSF's update failed".to_owned(),
        rollback: RollbackPlan::MsfUpdate { snapshot_name: snapshot(), since_ms: PHASE_START_MS, sent_at_ms },
    })
}

#[test]
fn rolling_back_updates_back_from_the_same_snapshot_once() {
    let at_target = || restored_from_ours(application(MsfStatus::Running, 0, "token-2"), TARGET_PARALLELISM);
    let (decision, after) = step(&rolling_back(None), &observe(NOW_MS, at_target()));
    let Decision::Act { action, .. } = &decision else { panic!("{decision:?}") };
    assert_eq!(
        *action,
        Action::UpdateApplication {
            application: APP.to_owned(),
            parallelism: ORIGINAL_PARALLELISM,
            snapshot_name: snapshot(),
            conditional_token: "token-2".to_owned(),
            autoscaling: None,
        }
    );
    assert!(matches!(
        after.phase,
        Phase::RollingBack { rollback: RollbackPlan::MsfUpdate { sent_at_ms: Some(NOW_MS), .. }, .. }
    ));

    // Sent (or found sent after a crash): wait, never send twice.
    let updating = restored_from_ours(application(MsfStatus::Updating, 0, "token-3"), ORIGINAL_PARALLELISM);
    assert!(matches!(decide(&rolling_back(Some(NOW_MS)), &observe(NOW_MS, updating.clone())), Decision::Wait { .. }));
    assert!(matches!(decide(&rolling_back(None), &observe(NOW_MS, updating)), Decision::Wait { .. }));

    let back = restored_from_ours(application(MsfStatus::Running, 0, "token-3"), ORIGINAL_PARALLELISM);
    let (_, after) = step(&rolling_back(Some(NOW_MS)), &observe(NOW_MS, back));
    assert!(matches!(after.phase, Phase::RolledBack { .. }), "{:?}", after.phase);

    // Never back in time: failed, with the snapshot to restore from by hand.
    let (_, after) = step(&rolling_back(Some(NOW_MS)), &observe(LATE_MS, at_target()));
    let Phase::Failed { reason } = after.phase else { panic!("{:?}", after.phase) };
    assert!(reason.contains(&format!("RESTORE_FROM_CUSTOM_SNAPSHOT {}", snapshot())), "{reason}");
}

/// The drift check compares an application while it is RUNNING, by its configured parallelism:
/// an update made elsewhere is a change, MSF's autoscaling (the current parallelism) is not.
#[test]
fn an_application_is_compared_while_running_by_its_configured_parallelism() {
    use rescaler_shared::drift::{Run, compare, settled};
    let look = |app: MsfApplication| settled(JOB_ID, Some(&job_of(app)));
    let baseline = Run::running(JOB_ID, app_parallelism(2));
    assert_eq!(look(application(MsfStatus::Running, 2, TOKEN)), Some(baseline.clone()));
    for status in [MsfStatus::Updating, MsfStatus::Autoscaling, MsfStatus::RollingBack, MsfStatus::Starting] {
        assert_eq!(look(application(status, 2, TOKEN)), None, "{status:?}");
    }
    let mut autoscaled = application(MsfStatus::Running, 2, TOKEN);
    autoscaled.autoscaling = true;
    autoscaled.current_parallelism = 4;
    assert_eq!(compare(&baseline, &look(autoscaled).expect("settled")), None);
    let updated_elsewhere = look(application(MsfStatus::Running, 3, "token-2")).expect("settled");
    let change = compare(&baseline, &updated_elsewhere).expect("a change");
    assert!(change.ends_with("was rescaled: parallelism 2 → 3"), "{change}");
}
