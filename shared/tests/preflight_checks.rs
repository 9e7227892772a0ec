//! Tests of the pre-flight checks, the strategy choice and the console's limits.

mod support;

use std::collections::BTreeMap;

use rescaler_shared::flink::supports_in_place_rescale;
use rescaler_shared::flink::{JobStatus, JobView, SchedulerKind};
use rescaler_shared::operation::{ResolvedStrategy, Strategy, Target};
use rescaler_shared::preflight::{Limits, Plan, PreflightFailure, check, failure_code};
use support::*;

const SAVEPOINT_DIRECTORY: Option<&str> = Some("s3://flink/savepoints");

fn running() -> JobView {
    job(JOB_ID, JobStatus::Running, ORIGINAL_PARALLELISM)
}

fn uniform(parallelism: u32) -> Target {
    Target::Uniform { parallelism }
}

fn codes(result: Result<Plan, Vec<PreflightFailure>>) -> Vec<String> {
    match result {
        Ok(plan) => panic!("expected failures, got {plan:?}"),
        Err(failures) => failures.into_iter().map(|failure| failure.code).collect(),
    }
}

fn messages(result: Result<Plan, Vec<PreflightFailure>>) -> String {
    match result {
        Ok(plan) => panic!("expected failures, got {plan:?}"),
        Err(failures) => failures.into_iter().map(|failure| failure.message).collect::<Vec<_>>().join("\n"),
    }
}

#[test]
fn a_good_request_gives_a_plan() {
    let plan =
        check(&uniform(4), Strategy::Savepoint, &running(), &cluster(2), SAVEPOINT_DIRECTORY, true, None).expect("a plan");
    assert_eq!(
        plan,
        Plan {
            strategy: ResolvedStrategy::Savepoint,
            original: parallelism(2),
            target: parallelism(4),
            verify_timeout_ms: None,
            rescale_pacing: None,
            cooldown_ends_at_ms: None,
            savepoint_directory: Some("s3://flink/savepoints".to_owned()),
        }
    );
}

#[test]
fn a_per_vertex_target_keeps_unlisted_vertices() {
    let target = Target::PerVertex { parallelism: BTreeMap::from([(SOURCE_VERTEX.to_owned(), 3)]) };
    let plan = check(&target, Strategy::Savepoint, &running(), &cluster(1), SAVEPOINT_DIRECTORY, true, None).expect("a plan");
    assert_eq!(plan.target, BTreeMap::from([(SOURCE_VERTEX.to_owned(), 3), (SINK_VERTEX.to_owned(), 2)]));
}

#[test]
fn each_failure() {
    let check_savepoint = |target: &Target, job: &JobView, slots| {
        check(target, Strategy::Savepoint, job, &cluster(slots), SAVEPOINT_DIRECTORY, true, None)
    };

    assert_eq!(
        codes(check_savepoint(&uniform(4), &job(JOB_ID, JobStatus::Restarting, 2), 8)),
        [failure_code::JOB_NOT_RUNNING]
    );
    assert_eq!(
        codes(check_savepoint(&Target::PerVertex { parallelism: BTreeMap::new() }, &running(), 8)),
        [failure_code::EMPTY_TARGET]
    );
    assert_eq!(
        codes(check_savepoint(
            &Target::PerVertex { parallelism: BTreeMap::from([("no-such-vertex".to_owned(), 3)]) },
            &running(),
            8
        )),
        [failure_code::UNKNOWN_VERTEX]
    );
    assert_eq!(codes(check_savepoint(&uniform(0), &running(), 8)), [failure_code::PARALLELISM_OUT_OF_RANGE]);
    assert_eq!(codes(check_savepoint(&uniform(2), &running(), 8)), [failure_code::NOTHING_TO_CHANGE]);
    assert_eq!(codes(check_savepoint(&uniform(5), &running(), 2)), [failure_code::NOT_ENOUGH_SLOTS]);
    assert_eq!(
        codes(check(&uniform(4), Strategy::Savepoint, &running(), &cluster(8), None, true, None)),
        [failure_code::SAVEPOINT_DIRECTORY_MISSING]
    );
    assert_eq!(
        codes(check(&uniform(4), Strategy::Savepoint, &running(), &cluster(8), Some(" "), false, None)),
        [failure_code::SAVEPOINT_DIRECTORY_MISSING, failure_code::ARTIFACT_UNKNOWN]
    );
}

#[test]
fn out_of_range_names_the_vertex_and_its_max() {
    let mut small = running();
    small.vertices[1].max_parallelism = 3;
    let result = check(&uniform(4), Strategy::Savepoint, &small, &cluster(8), SAVEPOINT_DIRECTORY, true, None);
    let message = messages(result);
    assert!(message.contains("'Sink: counts'"), "{message}");
    assert!(message.contains(SINK_VERTEX), "{message}");
    assert!(message.contains("1 to 3"), "{message}");
    assert!(!message.contains("Source"), "{message}");
}

#[test]
fn slots_count_what_the_job_gives_back() {
    // The job holds 2 slots; 2 are free: 4 is the most it can reach.
    let at = |parallelism| {
        check(&uniform(parallelism), Strategy::Savepoint, &running(), &cluster(2), SAVEPOINT_DIRECTORY, true, None)
    };
    assert!(at(4).is_ok());
    let message = messages(at(5));
    assert!(message.contains("needs 5 task slots but only 4 are usable"), "{message}");
    // Same accounting in place.
    let adaptive_job = adaptive(running());
    let in_place =
        |parallelism| check(&uniform(parallelism), Strategy::InPlace, &adaptive_job, &cluster(2), None, false, None);
    assert!(in_place(4).is_ok());
    assert_eq!(codes(in_place(5)), [failure_code::NOT_ENOUGH_SLOTS]);
}

#[test]
fn in_place_needs_adaptive_scheduler_checkpointing_and_a_recent_flink() {
    let in_place = |job: &JobView, version: &str| {
        let mut cluster = cluster(8);
        cluster.flink_version = version.to_owned();
        check(&uniform(4), Strategy::InPlace, job, &cluster, None, false, None)
    };
    let ready = adaptive(running());
    assert_eq!(in_place(&ready, "1.20.1").map(|plan| plan.strategy), Ok(ResolvedStrategy::InPlace));
    assert_eq!(codes(in_place(&running(), "1.20.1")), [failure_code::IN_PLACE_NEEDS_ADAPTIVE_SCHEDULER]);
    let mut unreported = running();
    unreported.scheduler = SchedulerKind::Unknown;
    assert_eq!(codes(in_place(&unreported, "1.20.1")), [failure_code::IN_PLACE_NEEDS_ADAPTIVE_SCHEDULER]);
    let mut without_checkpoints = ready.clone();
    without_checkpoints.checkpointing = false;
    let message = messages(in_place(&without_checkpoints, "1.20.1"));
    assert!(message.contains("state would be lost"), "{message}");
    assert_eq!(codes(in_place(&ready, "1.17.2")), [failure_code::IN_PLACE_NEEDS_NEWER_FLINK]);
    // Checkpointing on but no checkpoint completed yet (seen on real Flink right after a
    // start): an in-place restart would start every key from zero.
    let mut before_first_checkpoint = ready.clone();
    before_first_checkpoint.has_completed_checkpoint = Some(false);
    assert_eq!(
        codes(in_place(&before_first_checkpoint, "2.3.0")),
        [failure_code::IN_PLACE_NEEDS_A_COMPLETED_CHECKPOINT]
    );
}

#[test]
fn auto_picks_in_place_only_when_it_is_safe() {
    let resolve = |job: &JobView, version: &str| {
        let mut cluster = cluster(8);
        cluster.flink_version = version.to_owned();
        Strategy::Auto.resolve(job, &cluster)
    };
    let ready = adaptive(running());
    assert_eq!(resolve(&ready, "1.20.1"), ResolvedStrategy::InPlace);
    assert_eq!(resolve(&ready, "2.0.0"), ResolvedStrategy::InPlace);
    assert_eq!(resolve(&running(), "1.20.1"), ResolvedStrategy::Savepoint);
    let mut without_checkpoints = ready.clone();
    without_checkpoints.checkpointing = false;
    assert_eq!(resolve(&without_checkpoints, "1.20.1"), ResolvedStrategy::Savepoint);
    assert_eq!(resolve(&ready, "1.17.2"), ResolvedStrategy::Savepoint);
    let mut before_first_checkpoint = ready.clone();
    before_first_checkpoint.has_completed_checkpoint = Some(false);
    assert_eq!(resolve(&before_first_checkpoint, "2.3.0"), ResolvedStrategy::Savepoint);
    // Explicit choices stay as asked; pre-flight judges them.
    assert_eq!(Strategy::InPlace.resolve(&running(), &cluster(8)), ResolvedStrategy::InPlace);
    assert_eq!(Strategy::Savepoint.resolve(&ready, &cluster(8)), ResolvedStrategy::Savepoint);
    // Auto on a job without a savepoint directory but safe in place needs neither.
    assert!(check(&uniform(4), Strategy::Auto, &ready, &cluster(8), None, false, None).is_ok());
}

#[test]
fn per_vertex_savepoint_rescale_is_refused_where_flink_would_ignore_it() {
    let mut target = BTreeMap::new();
    let job = running();
    let first_vertex = job.vertices[0].id.clone();
    target.insert(first_vertex, 3);
    let per_vertex = Target::PerVertex { parallelism: target };
    let on = |version: &str| {
        let mut cluster = cluster(8);
        cluster.flink_version = version.to_owned();
        check(&per_vertex, Strategy::Savepoint, &job, &cluster, SAVEPOINT_DIRECTORY, true, None)
    };
    assert_eq!(codes(on("2.3.0")), [failure_code::PER_VERTEX_NEEDS_IN_PLACE]);
    assert_eq!(codes(on("1.18.1")), [failure_code::PER_VERTEX_NEEDS_IN_PLACE]);
    assert!(on("1.20.5").is_ok());
    assert!(on("2.4.0").is_ok());
    // A uniform target is fine everywhere.
    assert!(check(&uniform(3), Strategy::Savepoint, &job, &cluster(8), SAVEPOINT_DIRECTORY, true, None).is_ok());
}

#[test]
fn flink_versions() {
    assert_eq!(supports_in_place_rescale("1.18.0"), Some(true));
    assert_eq!(supports_in_place_rescale("1.19-SNAPSHOT"), Some(true));
    assert_eq!(supports_in_place_rescale("v2.1.0"), Some(true));
    assert_eq!(supports_in_place_rescale("1.17.2"), Some(false));
    assert_eq!(supports_in_place_rescale("1.9"), Some(false));
    assert_eq!(supports_in_place_rescale("unknown"), None);
    assert_eq!(supports_in_place_rescale("2"), None);
}

#[test]
fn limits_for_the_console() {
    let mut view = running();
    view.vertices[0].parallelism = 3;
    view.vertices[1].max_parallelism = 4;
    let limits = Limits::of(&view, &cluster(5));
    assert_eq!(limits.slots_usable, 8);
    assert_eq!(limits.max_uniform_parallelism, 4);
    assert_eq!(limits.vertices.len(), 2);
    assert_eq!(limits.vertices[0].vertex_id, SOURCE_VERTEX);
    assert_eq!(limits.vertices[0].current_parallelism, 3);
    assert_eq!(limits.vertices[0].max_achievable_parallelism, 8);
    assert_eq!(limits.vertices[1].max_achievable_parallelism, 4);

    let mut empty = running();
    empty.vertices.clear();
    assert_eq!(Limits::of(&empty, &cluster(5)).max_uniform_parallelism, 0);
}

#[test]
fn failures_serialize_for_the_console() {
    let failure = PreflightFailure { code: failure_code::NOT_ENOUGH_SLOTS.to_owned(), message: "m".to_owned() };
    assert_eq!(
        serde_json::to_value(&failure).expect("serialize"),
        serde_json::json!({"code": "not_enough_slots", "message": "m"})
    );
}
