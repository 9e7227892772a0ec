//! Changes made outside the product: which job the drift check reads, when a look counts as
//! settled, what differs from the baseline, and how the deployment's baseline moves — a table
//! per rule.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::deployment::{Deployment, Drift};
use rescaler_shared::drift::{ApprovedRun, JobToRead, ListedJob, Run, compare, job_to_read, settled};
use rescaler_shared::flink::{JobStatus, TaskStatus, WebUiActions};
use rescaler_shared::operation::{ResolvedStrategy, Strategy};
use rescaler_shared::phase::Phase;
use support::*;

const OTHER_JOB_ID: &str = "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3";

fn listed(id: &'static str, name: &'static str, status: JobStatus, start_time_ms: u64) -> ListedJob<'static> {
    ListedJob { id, name, status, start_time_ms }
}

fn gone(job_id: &str) -> Run {
    Run { job_id: job_id.to_owned(), status: None, parallelism: BTreeMap::new() }
}

fn ended(job_id: &str, status: JobStatus) -> Run {
    Run { job_id: job_id.to_owned(), status: Some(status), parallelism: BTreeMap::new() }
}

fn running(job_id: &str, uniform: u32) -> Run {
    Run::running(job_id, parallelism(uniform))
}

#[test]
fn the_watched_job_is_read_while_it_runs_else_a_resubmit_nobody_knows() {
    let name = "keyed-counter";
    let cases: Vec<(&str, Vec<ListedJob<'static>>, JobToRead)> = vec![
        ("running", vec![listed(JOB_ID, name, JobStatus::Running, 1)], JobToRead::Detail(JOB_ID.to_owned())),
        ("restarting", vec![listed(JOB_ID, name, JobStatus::Restarting, 1)], JobToRead::Detail(JOB_ID.to_owned())),
        (
            "cancelled, nothing else",
            vec![listed(JOB_ID, name, JobStatus::Canceled, 1)],
            JobToRead::Known(ended(JOB_ID, JobStatus::Canceled)),
        ),
        ("forgotten by Flink", vec![], JobToRead::Known(gone(JOB_ID))),
        (
            "cancelled, resubmitted under the same name",
            vec![listed(JOB_ID, name, JobStatus::Canceled, 1), listed(OTHER_JOB_ID, name, JobStatus::Running, 5)],
            JobToRead::Detail(OTHER_JOB_ID.to_owned()),
        ),
        (
            "cancelled, another job under another name",
            vec![listed(JOB_ID, name, JobStatus::Canceled, 1), listed(OTHER_JOB_ID, "other", JobStatus::Running, 5)],
            JobToRead::Known(ended(JOB_ID, JobStatus::Canceled)),
        ),
        (
            "cancelled, a job of another deployment under the same name",
            vec![listed(JOB_ID, name, JobStatus::Canceled, 1), listed(NEW_JOB_ID, name, JobStatus::Running, 5)],
            JobToRead::Known(ended(JOB_ID, JobStatus::Canceled)),
        ),
        (
            "running, and a second job under the same name",
            vec![listed(JOB_ID, name, JobStatus::Running, 1), listed(OTHER_JOB_ID, name, JobStatus::Running, 5)],
            JobToRead::Detail(JOB_ID.to_owned()),
        ),
        (
            "two resubmits: the newest",
            vec![
                listed(OTHER_JOB_ID, name, JobStatus::Running, 5),
                listed(ROLLBACK_JOB_ID, name, JobStatus::Running, 9),
            ],
            JobToRead::Detail(ROLLBACK_JOB_ID.to_owned()),
        ),
    ];
    for (case, listing, expected) in cases {
        let read = job_to_read(JOB_ID, name, &listing, |job_id| job_id == NEW_JOB_ID);
        assert_eq!(read, expected, "{case}");
    }
}

#[test]
fn only_a_settled_job_is_compared() {
    let mut half_rescaled = job(JOB_ID, JobStatus::Running, 3);
    half_rescaled.vertices[1].status = TaskStatus::Deploying;
    let cases = [
        ("running", Some(job(JOB_ID, JobStatus::Running, 3)), Some(running(JOB_ID, 3))),
        ("vertices still deploying", Some(half_rescaled), None),
        ("restarting", Some(job(JOB_ID, JobStatus::Restarting, 1)), None),
        ("created", Some(job(JOB_ID, JobStatus::Created, 1)), None),
        ("cancelled", Some(job(JOB_ID, JobStatus::Canceled, 2)), Some(ended(JOB_ID, JobStatus::Canceled))),
        ("failed", Some(job(JOB_ID, JobStatus::Failed, 2)), Some(ended(JOB_ID, JobStatus::Failed))),
        ("unknown to Flink", None, Some(gone(JOB_ID))),
    ];
    for (case, job, expected) in cases {
        assert_eq!(settled(JOB_ID, job.as_ref()), expected, "{case}");
    }
}

#[test]
fn a_difference_in_job_id_state_or_parallelism_is_a_change() {
    let mut one_vertex = parallelism(2);
    one_vertex.insert(SINK_VERTEX.to_owned(), 5);
    let cases: [(&str, Run, Run, Option<&str>); 9] = [
        ("same", running(JOB_ID, 2), running(JOB_ID, 2), None),
        (
            "rescaled",
            running(JOB_ID, 2),
            running(JOB_ID, 3),
            Some("rescaled: vertex 90bea66d 2 → 3, vertex cbc357cc 2 → 3"),
        ),
        ("one vertex", running(JOB_ID, 2), Run::running(JOB_ID, one_vertex), Some("rescaled: vertex 90bea66d 2 → 5")),
        ("cancelled", running(JOB_ID, 2), ended(JOB_ID, JobStatus::Canceled), Some("is CANCELED (was RUNNING)")),
        ("gone", running(JOB_ID, 2), gone(JOB_ID), Some("is gone (was RUNNING)")),
        ("cancelled, then forgotten", ended(JOB_ID, JobStatus::Canceled), gone(JOB_ID), None),
        (
            "restarted outside",
            ended(JOB_ID, JobStatus::Canceled),
            running(JOB_ID, 2),
            Some("is RUNNING (was CANCELED)"),
        ),
        (
            "resubmitted",
            running(JOB_ID, 2),
            running(OTHER_JOB_ID, 2),
            Some("replaced by job d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 (RUNNING at parallelism 2)"),
        ),
        (
            "replacement cancelled",
            running(OTHER_JOB_ID, 2),
            ended(OTHER_JOB_ID, JobStatus::Canceled),
            Some("d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 is CANCELED"),
        ),
    ];
    for (case, baseline, seen, expected) in cases {
        let change = compare(&baseline, &seen);
        match expected {
            None => assert_eq!(change, None, "{case}"),
            Some(fragment) => assert!(change.as_deref().is_some_and(|c| c.contains(fragment)), "{case}: {change:?}"),
        }
    }
}

fn adopted() -> Deployment {
    Deployment::adopt("prod-eu", JOB_ID, "keyed-counter", 5)
}

fn approved_at(uniform: u32) -> Deployment {
    let mut deployment = adopted();
    deployment.approved = Some(ApprovedRun {
        job_id: JOB_ID.to_owned(),
        parallelism: parallelism(uniform),
        since_ms: 6,
        operation_id: None,
    });
    deployment
}

#[test]
fn the_first_running_look_is_the_baseline_and_a_later_change_is_out_of_band_once() {
    let mut deployment = adopted();
    assert_eq!(deployment.drift(&ended(JOB_ID, JobStatus::Canceled), NOW_MS), Drift::Unchanged, "nothing to adopt");
    let Drift::Baseline(approved) = deployment.drift(&running(JOB_ID, 2), NOW_MS) else { panic!("a baseline") };
    assert_eq!((approved.parallelism.clone(), approved.operation_id.clone()), (parallelism(2), None));
    deployment.approved = Some(approved);
    assert_eq!(deployment.drift(&running(JOB_ID, 2), NOW_MS + 1), Drift::Unchanged);

    let Drift::OutOfBand(change) = deployment.drift(&running(JOB_ID, 3), NOW_MS + 2) else { panic!("a change") };
    assert_eq!((change.at_ms, change.audited, &change.seen), (NOW_MS + 2, false, &running(JOB_ID, 3)));
    assert!(change.message.starts_with("changed outside the product: job "), "{}", change.message);
    deployment.out_of_band = Some(change);
    // The change is the new baseline: the same look again is no second change.
    assert_eq!(deployment.drift(&running(JOB_ID, 3), NOW_MS + 3), Drift::Unchanged);
    assert_eq!(deployment.watched_job_id(), JOB_ID);
    // Back to what was approved is a change too, made outside as well.
    assert!(matches!(deployment.drift(&running(JOB_ID, 2), NOW_MS + 4), Drift::OutOfBand(_)));
}

#[test]
fn a_resubmit_outside_is_watched_from_then_on() {
    let mut deployment = approved_at(2);
    let Drift::OutOfBand(change) = deployment.drift(&running(OTHER_JOB_ID, 2), NOW_MS) else { panic!("a change") };
    deployment.out_of_band = Some(change);
    assert_eq!(deployment.watched_job_id(), OTHER_JOB_ID);
    assert_eq!(deployment.current_job_id, JOB_ID, "the product's lineage is its own");
    assert_eq!(deployment.drift(&running(OTHER_JOB_ID, 2), NOW_MS + 1), Drift::Unchanged);
}

#[test]
fn what_a_request_leaves_running_becomes_approved_once() {
    let rolled_back = Phase::RolledBack { reason: "slow".to_owned() };
    let failed = Phase::Failed { reason: "restore by hand".to_owned() };
    let cases = [
        (
            "completed in place",
            Phase::Completed,
            ResolvedStrategy::InPlace,
            Some((JOB_ID, parallelism(TARGET_PARALLELISM))),
        ),
        (
            "completed by savepoint",
            Phase::Completed,
            ResolvedStrategy::Savepoint,
            Some((NEW_JOB_ID, parallelism(TARGET_PARALLELISM))),
        ),
        (
            "rolled back in place",
            rolled_back,
            ResolvedStrategy::InPlace,
            Some((JOB_ID, parallelism(ORIGINAL_PARALLELISM))),
        ),
        ("failed: looked at again", failed, ResolvedStrategy::InPlace, Some((JOB_ID, BTreeMap::new()))),
        ("rejected", Phase::Rejected { by: "bob".to_owned(), comment: String::new() }, ResolvedStrategy::InPlace, None),
        (
            "still verifying",
            Phase::Verifying { job_id: JOB_ID.to_owned(), since_ms: NOW_MS },
            ResolvedStrategy::InPlace,
            None,
        ),
    ];
    for (case, phase, strategy, expected) in cases {
        let mut deployment = approved_at(2);
        deployment.out_of_band = match deployment.drift(&running(JOB_ID, 7), NOW_MS) {
            Drift::OutOfBand(change) => Some(change),
            other => panic!("{case}: {other:?}"),
        };
        let operation = operation_in(phase, strategy);
        let settled = deployment.settle(&operation, NOW_MS);
        assert_eq!(settled, expected.is_some(), "{case}");
        match expected {
            Some((job_id, parallelism)) => {
                let approved = deployment.approved.clone().expect("approved");
                assert_eq!((approved.job_id.as_str(), approved.parallelism), (job_id, parallelism), "{case}");
                assert_eq!(approved.operation_id.as_deref(), Some(OPERATION_ID), "{case}");
                assert_eq!(deployment.out_of_band, None, "{case}: the product's rescale settles it");
                assert!(!deployment.settle(&operation, NOW_MS + 1), "{case}: settling again changes nothing");
            }
            None => assert!(deployment.out_of_band.is_some(), "{case}"),
        }
    }
    assert!(!approved_at(2).settle(&requested(Strategy::InPlace), NOW_MS), "a request awaiting approval");
}

#[test]
fn after_a_failed_request_the_next_running_look_is_the_baseline() {
    let mut deployment = approved_at(2);
    assert!(
        deployment.settle(&operation_in(Phase::Failed { reason: "x".to_owned() }, ResolvedStrategy::InPlace), NOW_MS)
    );
    let Drift::Baseline(approved) = deployment.drift(&running(JOB_ID, 3), NOW_MS + 1) else { panic!("a baseline") };
    assert_eq!(approved.operation_id.as_deref(), Some(OPERATION_ID), "still the failed request's");
    assert_eq!(approved.parallelism, parallelism(3));
}

#[test]
fn flink_ui_actions_follow_the_configuration_and_flinks_defaults() {
    const ADAPTIVE: (&str, &str) = ("jobmanager.scheduler", "adaptive");
    let cases: [(&str, &str, &[(&str, &str)], [bool; 3]); 11] = [
        ("2.3 defaults: the default scheduler", "2.3.0", &[], [false, true, true]),
        ("2.3 adaptive", "2.3.0", &[ADAPTIVE], [true, true, true]),
        ("1.18 adaptive", "1.18.1", &[("jobmanager.scheduler", "Adaptive")], [true, true, true]),
        ("1.17: no rescale in the UI", "1.17.2", &[ADAPTIVE], [false, true, true]),
        ("reactive mode rescales by itself", "2.3.0", &[ADAPTIVE, ("scheduler-mode", "REACTIVE")], [false, true, true]),
        (
            "all off",
            "2.3.0",
            &[
                ADAPTIVE,
                ("web.rescale.enable", "false"),
                ("web.submit.enable", "false"),
                ("web.cancel.enable", "false"),
            ],
            [false, false, false],
        ),
        ("case and spaces", "1.20.5", &[ADAPTIVE, ("web.rescale.enable", " FALSE ")], [false, true, true]),
        ("deprecated submit key", "1.20.5", &[("jobmanager.web.submit.enable", "false")], [false, false, true]),
        (
            "new key wins",
            "1.20.5",
            &[("web.submit.enable", "true"), ("jobmanager.web.submit.enable", "false")],
            [false, true, true],
        ),
        ("not a boolean: may be allowed", "2.3.0", &[ADAPTIVE, ("web.cancel.enable", "nope")], [true, true, true]),
        ("unknown version: may rescale", "main", &[ADAPTIVE], [true, true, true]),
    ];
    for (case, version, config, [rescale, submit, cancel]) in cases {
        let actions = WebUiActions::from_config(version, |key| config.iter().find(|(k, _)| *k == key).map(|(_, v)| *v));
        assert_eq!(actions, WebUiActions { rescale, submit, cancel }, "{case}");
    }
    let none = WebUiActions { rescale: false, submit: false, cancel: false };
    assert!(none.allowed().is_empty());
    assert_eq!(WebUiActions { rescale: true, submit: false, cancel: true }.allowed(), ["rescale", "cancel"]);
}
