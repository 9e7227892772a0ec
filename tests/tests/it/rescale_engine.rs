//! The rescale engine on a real Flink cluster with its records on the real S3 server.

use std::collections::BTreeMap;
use std::time::Duration;

use harness::rig::Rig;
use harness::{FlinkOptions, Scheduler};
use rescaler_shared::flink::JobView;
use rescaler_shared::operation::{ResolvedStrategy, Strategy, Target};
use rescaler_shared::phase::Phase;

fn uniform(parallelism: u32) -> Target {
    Target::Uniform { parallelism }
}

fn all_at(job: &JobView, parallelism: u32) -> bool {
    job.runs_at(&job.vertices.iter().map(|v| (v.id.clone(), parallelism)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoint_rescale_1_to_3_then_3_to_2_keeps_the_counter_state() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;

    // `auto` on the default scheduler must choose the savepoint strategy.
    let first = rig.request_approved(&job_id, &artifact, uniform(3), Strategy::Auto, Duration::from_secs(90)).await?;
    let operation = rig.drive(&first, Duration::from_secs(180)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    assert_eq!(operation.strategy, Some(ResolvedStrategy::Savepoint));
    let new_job = operation.new_job_id.clone().expect("a new job id");
    assert_ne!(new_job, job_id);
    let location = operation.savepoint.as_ref().expect("savepoint recorded").location.clone();
    assert!(location.contains("savepoint"), "{location}");
    assert!(all_at(&rig.job(&new_job).await?, 3));
    assert_eq!(rig.running_jobs().await?, vec![new_job.clone()], "exactly one job runs");
    // State continued: no key is met fresh, and counts go past where they were.
    let (fresh, max_after) = rig.counter_after(&new_job, max_before, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "keys started from zero: state was lost");
    assert!(max_after > max_before);
    let catalog = rig.records.savepoints(harness::rig::CLUSTER_ID, &job_id).await?;
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].location, location);
    assert!(operation.phase_history.iter().all(|span| span.ended_at_ms.is_some()), "every phase timed");

    // Second rescale, of the job the first one started (linked to the same artifact).
    let second =
        rig.request_approved(&new_job, &artifact, uniform(2), Strategy::Savepoint, Duration::from_secs(90)).await?;
    let operation = rig.drive(&second, Duration::from_secs(180)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    let newest = operation.new_job_id.clone().expect("a new job id");
    assert!(all_at(&rig.job(&newest).await?, 2));
    assert_eq!(rig.running_jobs().await?, vec![newest.clone()]);
    let (fresh, _) = rig.counter_after(&newest, max_after, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "state lost on the second rescale");
    let audit = rig.records.audit_events(1000).await?;
    for kind in ["stop_triggered", "savepoint_completed", "job_submitted", "verified"] {
        assert!(
            audit.iter().any(|e| e.action == kind && e.operation_id.as_deref() == Some(second.as_str())),
            "audit lacks {kind}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_rescale_1_to_3_then_per_vertex_on_the_adaptive_scheduler() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Adaptive)).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    // In place restores from the latest checkpoint: wait for the first one (pre-flight refuses
    // in_place without one, and auto falls back to the savepoint strategy).
    rig.wait_for_checkpoint(&job_id).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;

    // `auto` on the adaptive scheduler with checkpointing on must choose in place.
    let first = rig.request_approved(&job_id, &artifact, uniform(3), Strategy::Auto, Duration::from_secs(90)).await?;
    let operation = rig.drive(&first, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    assert_eq!(operation.strategy, Some(ResolvedStrategy::InPlace));
    assert!(operation.new_job_id.is_none() && operation.savepoint.is_none());
    assert!(all_at(&rig.job(&job_id).await?, 3), "the same job runs at 3");
    let (fresh, _) = rig.counter_after(&job_id, max_before, Duration::from_secs(60)).await?;
    assert_eq!(fresh, 0.0, "in-place lost the state (max {max_before} before)");

    // Per vertex: only the counter vertex moves, to 2.
    let job = rig.job(&job_id).await?;
    let counter = job.vertices.iter().find(|v| v.name.contains("Counter")).expect("counter vertex").id.clone();
    let target = Target::PerVertex { parallelism: BTreeMap::from([(counter.clone(), 2)]) };
    let second = rig.request_approved(&job_id, &artifact, target, Strategy::InPlace, Duration::from_secs(90)).await?;
    let operation = rig.drive(&second, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    let job = rig.job(&job_id).await?;
    for vertex in &job.vertices {
        let expected = if vertex.id == counter { 2 } else { 3 };
        assert_eq!(vertex.parallelism, expected, "vertex {}", vertex.name);
    }
    Ok(())
}

/// Flink 1.20's adaptive scheduler holds new requirements until its cooldown
/// (`scaling-interval.min`, 40 s here) has passed since the job started running. The product
/// sends them at once, says when Flink will act, and starts the verification's clock then: a
/// 10 s verification timeout inside the cooldown still completes, with the lower bound kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_inside_flinks_cooldown_waits_for_it_on_1_20() -> anyhow::Result<()> {
    let mut options = FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Adaptive);
    options.extra_config.insert("jobmanager.adaptive-scheduler.scaling-interval.min".into(), "40 s".into());
    let rig = Rig::start(options).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    rig.wait_for_checkpoint(&job_id).await?;
    let job = rig.job(&job_id).await?;
    let pacing = job.rescale_pacing.clone().expect("the adaptive scheduler's pacing on 1.20");
    assert_eq!(pacing.cooldown_ms, 40_000);
    let cooldown_ends = pacing.cooldown_ends_at_ms(&job).expect("Flink says when the job started running");
    let left = cooldown_ends.saturating_sub(rescaler_backend::reconcile::now_ms());
    // Longer than the verification timeout: counted from the PUT, it would roll back.
    assert!(left > 12_000, "the test needs more cooldown ahead than the 10 s timeout ({left} ms left)");

    let id = rig.request_approved(&job_id, &artifact, uniform(2), Strategy::InPlace, Duration::from_secs(10)).await?;
    let operation = rig.drive(&id, Duration::from_secs(120)).await?;
    assert_eq!(operation.phase, Phase::Completed, "events: {:#?}", operation.events);
    let sent = operation.events.iter().find(|e| e.kind == "requirements_sent").expect("requirements sent");
    assert!(sent.message.contains("bounds sent:") && sent.message.contains("[1, 2]"), "{}", sent.message);
    assert!(sent.message.contains("when its cooldown ends"), "{}", sent.message);
    // Flink acted only after its cooldown.
    let verified = operation.events.iter().find(|e| e.kind == "verified").expect("verified");
    assert!(verified.at_ms >= cooldown_ends, "done at {} before the cooldown ended at {cooldown_ends}", verified.at_ms);
    assert!(all_at(&rig.job(&job_id).await?, 2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_that_cannot_succeed_rolls_back_to_the_old_parallelism() -> anyhow::Result<()> {
    let mut options = FlinkOptions::default().with_scheduler(Scheduler::Default);
    options.taskmanagers = 2;
    options.slots_per_taskmanager = 2;
    let mut rig = Rig::start(options).await?;
    let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
    let (_, max_before) = rig.counter_after(&job_id, 2.0, Duration::from_secs(60)).await?;
    // 4 slots pass pre-flight; then a TaskManager dies, so 4 can never be had.
    let operation_id =
        rig.request_approved(&job_id, &artifact, uniform(4), Strategy::Savepoint, Duration::from_secs(20)).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        rig.engine.pass().await?;
        let (operation, _) = rig.records.operation(&operation_id).await?.expect("stored");
        if matches!(operation.phase, Phase::Restarting { .. } | Phase::Verifying { .. }) {
            break;
        }
        assert!(std::time::Instant::now() < deadline && !operation.is_terminal(), "{:?}", operation.phase);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.flink.kill_taskmanager(1);
    let operation = rig.drive(&operation_id, Duration::from_secs(240)).await?;
    let Phase::RolledBack { reason } = &operation.phase else {
        panic!("expected rolled_back, got {:?}; events {:#?}", operation.phase, operation.events);
    };
    assert!(!reason.is_empty());
    let rollback_job = operation.rollback_job_id.clone().expect("a rollback job");
    assert!(all_at(&rig.job(&rollback_job).await?, 1), "running at the old parallelism");
    assert_eq!(rig.running_jobs().await?, vec![rollback_job.clone()], "exactly one job runs");
    assert!(operation.savepoint.is_some(), "the savepoint stays on record");
    // Under a loaded suite (two Flink tests at once) the rollback job's metrics took over a minute to
    // appear after the TaskManager died (two CI runs); alone the test finishes in 33 s.
    let (fresh, _) = rig.counter_after(&rollback_job, max_before, Duration::from_secs(150)).await?;
    assert_eq!(fresh, 0.0, "rollback lost the state");
    Ok(())
}
