//! The version matrix: on real Flink 1.18.1, 1.20.5 and 2.3.0 clusters, each with the adaptive
//! and the default scheduler, the savepoint strategy, in place and `auto` keep the sample job's
//! state (no key is met fresh after the rescale). One cluster per test, for all its rounds.
//!
//! Adaptive: savepoint 1→2 (a new job), in place 2→3 (the same job), `auto` 3→2 (in place,
//! since a checkpoint exists). Default: savepoint 1→2, `auto` 2→3 (the savepoint strategy),
//! and in place refused by pre-flight (`in_place_needs_adaptive_scheduler`), nothing changed.
//! Uniform targets only: per-vertex resubmits differ by version (`resubmit_applies_vertex_overrides`).

use std::time::Duration;

use harness::rig::{CLUSTER_ID, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_shared::flink::{JobView, SchedulerKind};
use rescaler_shared::operation::{ResolvedStrategy, Strategy, Target};
use rescaler_shared::phase::Phase;
use rescaler_shared::preflight::{self, failure_code};

/// How long one rescale may take (cold JVMs on a loaded machine included).
const RESCALE_TIMEOUT: Duration = Duration::from_secs(150);
const VERIFY_TIMEOUT: Duration = Duration::from_secs(90);

/// One round: the target parallelism, the strategy requested, the strategy it must run with.
type Round = (u32, Strategy, ResolvedStrategy);

fn rounds(scheduler: Scheduler) -> &'static [Round] {
    match scheduler {
        Scheduler::Adaptive => &[
            (2, Strategy::Savepoint, ResolvedStrategy::Savepoint),
            (3, Strategy::InPlace, ResolvedStrategy::InPlace),
            (2, Strategy::Auto, ResolvedStrategy::InPlace),
        ],
        Scheduler::Default => {
            &[(2, Strategy::Savepoint, ResolvedStrategy::Savepoint), (3, Strategy::Auto, ResolvedStrategy::Savepoint)]
        }
    }
}

fn all_at(job: &JobView, parallelism: u32) -> bool {
    job.runs_at(&job.vertices.iter().map(|v| (v.id.clone(), parallelism)).collect())
}

/// The rounds of `scheduler` on one cluster of `version`; the default scheduler's cluster then
/// refuses in place.
async fn matrix(version: &str, scheduler: Scheduler) -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_version(version).with_scheduler(scheduler)).await?;
    let (mut job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, mut max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;
    // The product tells the scheduler on every version (1.x through the job's configuration).
    let expected_scheduler = match scheduler {
        Scheduler::Adaptive => SchedulerKind::Adaptive,
        Scheduler::Default => SchedulerKind::Default,
    };
    assert_eq!(rig.job(&job_id).await?.scheduler, expected_scheduler, "on {version}");
    for &(target, strategy, expected) in rounds(scheduler) {
        let round = format!("{version} {scheduler:?}, {} to {target}", strategy.as_str());
        if expected == ResolvedStrategy::InPlace {
            rig.wait_for_checkpoint(&job_id).await?;
        }
        let operation_id = rig
            .request_approved(&job_id, &artifact, Target::Uniform { parallelism: target }, strategy, VERIFY_TIMEOUT)
            .await?;
        let operation = rig.drive(&operation_id, RESCALE_TIMEOUT).await?;
        assert_eq!(operation.phase, Phase::Completed, "{round}: events {:#?}", operation.events);
        assert_eq!(operation.strategy, Some(expected), "{round}: resolved to {:?}", operation.strategy);
        let running = match expected {
            ResolvedStrategy::InPlace => {
                assert!(operation.new_job_id.is_none() && operation.savepoint.is_none(), "{round}: {operation:#?}");
                job_id.clone()
            }
            ResolvedStrategy::Savepoint => {
                assert!(operation.savepoint.is_some(), "{round}: no savepoint on record");
                let new_job = operation.new_job_id.clone().expect("a new job id");
                assert_ne!(new_job, job_id, "{round}");
                new_job
            }
            ResolvedStrategy::MsfUpdate => anyhow::bail!("{round}: a Flink cluster's job took the MSF path"),
        };
        assert!(all_at(&rig.job(&running).await?, target), "{round}: job {running} not at {target}");
        assert_eq!(rig.running_jobs().await?, vec![running.clone()], "{round}: exactly one job runs");
        let (fresh, max_after) = rig.counter_after(&running, max_before, Duration::from_secs(60)).await?;
        assert_eq!(fresh, 0.0, "{round}: keys started from zero, state was lost (max {max_before} before)");
        job_id = running;
        max_before = max_after;
    }
    if scheduler == Scheduler::Default {
        in_place_is_refused(&rig, &job_id, &artifact).await?;
    }
    Ok(())
}

/// On the default scheduler, pre-flight (the console's, and the engine's last one) refuses an
/// in-place rescale, and the job keeps running untouched.
async fn in_place_is_refused(
    rig: &Rig,
    job_id: &str,
    artifact: &rescaler_shared::operation::ArtifactRef,
) -> anyhow::Result<()> {
    let cluster = rig.engine.clusters.get(CLUSTER_ID).expect("the rig's cluster");
    let job = cluster.job(job_id).await?.expect("the job runs");
    let view = cluster.overview().await?;
    let target = Target::Uniform { parallelism: 2 };
    let savepoint_dir = cluster.config().savepoint_dir.clone();
    let failures = preflight::check(&target, Strategy::InPlace, &job, &view, savepoint_dir.as_deref(), true, None)
        .expect_err("pre-flight accepted in place on the default scheduler");
    let codes: Vec<&str> = failures.iter().map(|failure| failure.code.as_str()).collect();
    assert_eq!(codes, vec![failure_code::IN_PLACE_NEEDS_ADAPTIVE_SCHEDULER], "{failures:#?}");

    let operation_id = rig.request_approved(job_id, artifact, target, Strategy::InPlace, VERIFY_TIMEOUT).await?;
    let operation = rig.drive(&operation_id, Duration::from_secs(30)).await?;
    let Phase::Failed { reason } = &operation.phase else {
        panic!("in place on the default scheduler: {:?}, events {:#?}", operation.phase, operation.events);
    };
    assert!(reason.contains("pre-flight failed") && reason.contains("adaptive scheduler"), "{reason}");
    assert!(all_at(&rig.job(job_id).await?, 3), "the refused request changed the job");
    assert_eq!(rig.running_jobs().await?, vec![job_id.to_owned()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_18_adaptive() -> anyhow::Result<()> {
    matrix("1.18.1", Scheduler::Adaptive).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_18_default() -> anyhow::Result<()> {
    matrix("1.18.1", Scheduler::Default).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_20_adaptive() -> anyhow::Result<()> {
    matrix("1.20.5", Scheduler::Adaptive).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_20_default() -> anyhow::Result<()> {
    matrix("1.20.5", Scheduler::Default).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_3_adaptive() -> anyhow::Result<()> {
    matrix("2.3.0", Scheduler::Adaptive).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_3_default() -> anyhow::Result<()> {
    matrix("2.3.0", Scheduler::Default).await
}
