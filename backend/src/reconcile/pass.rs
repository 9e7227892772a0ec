//! [`Engine::pass`]: every active operation that is due, a few steps each, concurrently; and
//! [`Engine::run`], the local binary's loop of passes.

use std::sync::Arc;
use std::time::Duration;

use rescaler_shared::operation::Operation;
use rescaler_shared::phase;

use super::{Engine, Followup, MAX_STEPS_PER_PASS, ReconcileAction, ReconcileError, Step};
use crate::drift;
use crate::records::ActiveDeployment;
use crate::records::quiet::{QuietKey, quiet_for};
use crate::store::{StoreError, Version};

/// How long one pass keeps polling an operation whose wait keeps its job down (its fast polls
/// last [`phase::FAST_POLL_FOR_MS`] of the wait): other operations wait for the pass that long
/// at most, and a request cancelled meanwhile is seen that late at most.
const IN_PASS_POLL_FOR: Duration = Duration::from_millis(phase::FAST_POLL_FOR_MS);

/// Counts of one engine pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Active operations (one per busy deployment), quiet ones included.
    pub operations: usize,
    /// Of those, the ones left unread: quiet, their record unchanged (`records::quiet`).
    pub quiet: usize,
    pub next_in: Option<Duration>,
}

impl Engine {
    /// One pass over every active operation that is due, concurrently; answers when the next
    /// is due. An operation whose next step depends on its record and the clock only, and
    /// whose record did not change, is not read (`records::quiet`).
    pub async fn pass(&self) -> Result<PassReport, StoreError> {
        self.recurring_pass().await; // due occurrences first: their requests go in this pass
        let deployments = self.records.active_deployments().await?;
        // Every read below happens after this instant.
        let read_at = self.now();
        let (mut quiet, mut due, mut orphans) = (Vec::new(), Vec::new(), Vec::new());
        for deployment in &deployments {
            match (deployment.quiet_at(read_at), &deployment.marker_key) {
                (Some(key), _) => quiet.push((deployment, key)),
                (None, Some(_)) => due.push(deployment),
                (None, None) => orphans.push(deployment),
            }
        }
        let marked = self.records.marked_operations(&due).await?;
        // Sampling runs beside the operations' steps, never in front of them.
        let sampling = async {
            if let Some(report) = self.sampler.sample_if_due(&self.records, &self.clusters, self.now()).await {
                self.file_recommended(&report).await;
            }
            for orphan in orphans {
                self.records.remove_orphan_side_keys(orphan, read_at).await;
            }
        };
        let steps = futures::future::join_all(due.iter().zip(&marked).filter_map(|(deployment, id)| {
            let id = id.as_deref()?;
            Some(async move {
                let (action, after) = self.steps(id).await;
                if let Some(record) = &after {
                    let operation =
                        record.as_ref().map(|(operation, _)| (operation, drift::holds_deployment(operation).is_some()));
                    self.records.after_pass_read(deployment, operation, read_at, self.now()).await;
                }
                (action, after)
            })
        }));
        let (outcomes, _) = futures::future::join(steps, sampling).await;
        let next_in = outcomes
            .iter()
            .filter_map(|(action, _)| match action {
                ReconcileAction::Requeue(delay) => Some(*delay),
                ReconcileAction::Done => None,
            })
            .chain(quiet.iter().map(|(_, key)| quiet_for(key, read_at)))
            .min();
        // What the steps left is what the drift check must leave alone, with the quiet
        // operations that hold their deployment; it reads that itself when a step failed
        // before saying.
        let busy: Option<crate::drift::Busy> = outcomes
            .into_iter()
            .map(|(_, after)| after.map(|record| record.and_then(|(operation, _)| drift::holds_deployment(&operation))))
            .collect::<Option<Vec<_>>>()
            .map(|held| held.into_iter().flatten().chain(held_quietly(&quiet)).collect());
        self.drift.check_if_due(&self.records, &self.clusters, self.now(), busy).await;
        self.notifier.iter().for_each(|notifier| notifier.spawn_pass(&self.owner));
        Ok(PassReport { operations: due.len() + quiet.len(), quiet: quiet.len(), next_in })
    }

    /// A few steps of one operation: a step that wrote a new phase is followed at once by the
    /// next one (a few at most per pass), without listing the store again, from the record it
    /// wrote (every write is a compare-and-swap: one changed meanwhile fails the step, and the
    /// next pass reads it afresh), with the records that follow from the write written beside
    /// it. A wait polled fast because it keeps the job down (`phase::FAST_POLL_MS`) is polled
    /// again here, from the record it has, for at most [`IN_PASS_POLL_FOR`]: the same
    /// compare-and-swap guards whatever follows, so a change made meanwhile (a cancellation) is
    /// found by the write that would have acted on the old record. Answers the last action and
    /// the record it left (`None` inside when it ended), or no record when a step failed.
    async fn steps(&self, id: &str) -> (ReconcileAction, Option<Option<(Operation, Version)>>) {
        let mut record = None;
        let mut followup = None;
        let mut written = 0;
        let polls_until = tokio::time::Instant::now() + IN_PASS_POLL_FOR;
        loop {
            let step = match self.step_beside(id, record.take(), followup.take()).await {
                Ok(step) => step,
                Err(error) => return (self.error_policy(id, &error), None),
            };
            match step.action {
                ReconcileAction::Requeue(delay) if delay.is_zero() => {
                    written += 1;
                    if written == MAX_STEPS_PER_PASS {
                        if let Some(Err(error)) = self.follow_up(step.followup).await {
                            return (self.error_policy(id, &error), None);
                        }
                        return (step.action, Some(step.record));
                    }
                    (record, followup) = (step.record, step.followup);
                }
                ReconcileAction::Requeue(delay)
                    if step.record.is_some()
                        && delay <= Duration::from_millis(phase::FAST_POLL_MS)
                        && tokio::time::Instant::now() + delay < polls_until =>
                {
                    tokio::time::sleep(delay).await;
                    record = step.record;
                }
                action => return (action, Some(step.record)),
            }
        }
    }

    /// The next step, with the records that follow from the previous one's write written
    /// beside it; first, when that write ended the operation (the step then finishes it).
    async fn step_beside(
        &self,
        id: &str,
        record: Option<(Operation, Version)>,
        followup: Option<Followup>,
    ) -> Result<Step, ReconcileError> {
        match followup {
            Some(followup) if followup.operation.is_terminal() => {
                self.after_write(&followup.operation, followup.events_before).await?;
                self.step(id, record).await
            }
            Some(followup) => {
                let (step, followed) =
                    futures::future::join(self.step(id, record), self.follow_up(Some(followup))).await;
                followed.transpose()?;
                step
            }
            None => self.step(id, record).await,
        }
    }

    async fn follow_up(&self, followup: Option<Followup>) -> Option<Result<(), ReconcileError>> {
        let followup = followup?;
        Some(self.after_write(&followup.operation, followup.events_before).await)
    }

    /// `request` mode: the recommended request of every job just sampled, where one is due
    /// (`recommendations::filing`); errors are logged, never fail the pass.
    async fn file_recommended(&self, report: &crate::sampler::SampleReport) {
        for (cluster_id, job_id) in &report.jobs {
            let Some(cluster) = self.clusters.get(cluster_id) else { continue };
            let filing = crate::recommendations::filing::file_if_due(
                &self.records,
                cluster.as_ref(),
                &self.approvals,
                job_id,
                self.now(),
            );
            if let Err(error) = filing.await {
                tracing::warn!(cluster.id = %cluster_id, job.id = %job_id, %error, "recommended request not filed");
            }
        }
    }

    /// Runs passes until `shutdown` resolves: as soon as the operations ask (100 ms while one
    /// is executing, see the poll constants of `phase`), at least every 2 s, and at once when
    /// `kick` fires (an approval).
    pub async fn run(self: Arc<Self>, kick: Arc<tokio::sync::Notify>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let next = match self.pass().await {
                Ok(report) => report.next_in.unwrap_or(Duration::from_secs(2)),
                Err(error) => {
                    tracing::warn!(%error, "reconcile pass failed");
                    Duration::from_secs(1)
                }
            };
            // Executing phases ask for 100 ms; waiting ones for longer, capped so that a missed
            // kick costs at most 2 s.
            let next = next.clamp(Duration::from_millis(10), Duration::from_secs(2));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = kick.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
        }
    }
}

/// The deployments quiet operations hold (`drift::holds_deployment`, as their quiet key says).
fn held_quietly<'a>(quiet: &'a [(&'a ActiveDeployment, &'a QuietKey)]) -> impl Iterator<Item = (String, String)> + 'a {
    quiet
        .iter()
        .filter(|(_, key)| key.held)
        .map(|(deployment, _)| (deployment.cluster_id.clone(), deployment.deployment.clone()))
}
