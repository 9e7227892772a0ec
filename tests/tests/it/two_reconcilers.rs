//! Two reconcilers on one store (the S3 server) carry out 20 operations: each action reaches
//! Flink exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::recording::{FlinkCallLog, RecordingClient};
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_shared::flink::JobView;
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::phase::Phase;

/// The successful `PUT resource-requirements` calls in `log`, by `<job id>@<highest upper bound>`.
fn requirement_puts(log: &FlinkCallLog) -> HashMap<String, u32> {
    let mut puts = HashMap::new();
    for call in log.calls().iter().filter(|call| call.method == "set_resource_requirements" && call.succeeded()) {
        let upper = call.requirements.iter().flat_map(BTreeMap::values).map(|bounds| bounds.upper).max().unwrap_or(0);
        *puts.entry(format!("{}@{upper}", call.job_id.as_deref().unwrap_or_default())).or_default() += 1;
    }
    puts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reconcilers_on_one_store_execute_each_of_20_operations_once() -> anyhow::Result<()> {
    let mut options = FlinkOptions::default().with_scheduler(Scheduler::Adaptive);
    options.taskmanagers = 2;
    // Scaled-down jobs keep their idle slots for `slot.idle.timeout` (50 s by default), and
    // pre-flight rightly counts them as taken: leave room for that.
    options.slots_per_taskmanager = 6;
    let rig = Rig::start(options).await?;
    // A real REST client per reconciler, both recording into one log.
    let log = Arc::new(FlinkCallLog::default());
    let engines: Vec<_> = ["reconciler-a", "reconciler-b"]
        .into_iter()
        .map(|owner| {
            let client = Arc::new(RecordingClient::new(rig::flink_client(&rig.flink).expect("client"), log.clone()));
            Arc::new(Rig::engine_for(&rig.records, &rig.flink, client, owner))
        })
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let kick = Arc::new(tokio::sync::Notify::new());
    let runners: Vec<_> = engines
        .iter()
        .map(|engine| {
            let mut stopped = stopped.clone();
            tokio::spawn(engine.clone().run(kick.clone(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        })
        .collect();

    // Four jobs, five rescales each, alternating 2 and 1, one active request per job.
    let mut chains = Vec::new();
    for _ in 0..4 {
        let (job_id, artifact) = rig.adopt_sample_job(1, &[]).await?;
        chains.push((job_id, artifact, vec![2u32, 1, 2, 1, 2], None::<String>));
    }
    // In place needs a completed checkpoint.
    for (job_id, ..) in &chains {
        rig.wait_for_checkpoint(job_id).await?;
    }
    let mut completed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(400);
    while completed.len() < 20 {
        for (job_id, artifact, targets, current) in &mut chains {
            if let Some(operation_id) = current.clone() {
                let (operation, _) = rig.records.operation(&operation_id).await?.expect("stored");
                if !operation.is_terminal() {
                    continue;
                }
                assert_eq!(operation.phase, Phase::Completed, "{:#?}", operation.events);
                completed.push(operation);
                *current = None;
            }
            if let Some(target) = (!targets.is_empty()).then(|| targets.remove(0)) {
                let id = rig
                    .request_approved(
                        job_id,
                        artifact,
                        Target::Uniform { parallelism: target },
                        Strategy::InPlace,
                        Duration::from_secs(120),
                    )
                    .await?;
                *current = Some(id);
                kick.notify_waiters();
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "only {} of 20 operations completed", completed.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for runner in runners {
        runner.await?;
    }
    // Every operation's one PUT reached Flink exactly once, whichever reconciler sent it.
    let puts = requirement_puts(&log);
    let total: u32 = puts.values().sum();
    assert_eq!(total, 20, "PUTs by job@parallelism: {puts:?}");
    for operation in &completed {
        let key = format!("{}@{}", operation.job_id, operation.target_parallelism.values().max().expect("target"));
        assert!(puts.get(&key).is_some_and(|n| *n >= 1), "{key} never sent");
    }
    // The leases were all released and every job still runs.
    for operation in &completed {
        assert!(operation.lease.is_none(), "lease left on {}", operation.id);
        let job: JobView = rig.job(&operation.job_id).await?;
        assert_eq!(job.status, rescaler_shared::flink::JobStatus::Running);
    }
    Ok(())
}
