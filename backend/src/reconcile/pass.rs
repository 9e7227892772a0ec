//! [`Engine::pass`]: every active operation, a few steps each, concurrently; and
//! [`Engine::run`], the local binary's loop of passes.

use std::sync::Arc;
use std::time::Duration;

use super::{Engine, MAX_STEPS_PER_PASS, ReconcileAction};
use crate::drift;
use crate::store::StoreError;

/// Counts of one engine pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub operations: usize,
    pub next_in: Option<Duration>,
}

impl Engine {
    /// One pass over every active operation, concurrently; answers when the next is due.
    pub async fn pass(&self) -> Result<PassReport, StoreError> {
        self.recurring_pass().await; // due occurrences first: their requests go in this pass
        let ids = self.records.active_operation_ids().await?;
        // Sampling runs beside the operations' steps, never in front of them.
        let sampling = async {
            if let Some(report) = self.sampler.sample_if_due(&self.records, &self.clusters, self.now()).await {
                self.file_recommended(&report).await;
            }
        };
        let steps = futures::future::join_all(ids.iter().map(|id| async move {
            // A step that wrote a new phase is followed at once by the next one (a few at
            // most per pass), without listing the store again, from the record it wrote
            // (every write is a compare-and-swap: one changed meanwhile fails the step, and
            // the next pass reads it afresh).
            let mut record = None;
            for _ in 0..MAX_STEPS_PER_PASS {
                match self.step(id, record.take()).await {
                    Ok((ReconcileAction::Requeue(delay), after)) if delay.is_zero() => record = after,
                    Ok((action, after)) => return (action, Some(after)),
                    Err(error) => return (self.error_policy(id, &error), None),
                }
            }
            (ReconcileAction::Requeue(Duration::ZERO), Some(record))
        }));
        let (outcomes, _) = futures::future::join(steps, sampling).await;
        let next_in = outcomes
            .iter()
            .filter_map(|(action, _)| match action {
                ReconcileAction::Requeue(delay) => Some(*delay),
                ReconcileAction::Done => None,
            })
            .min();
        // What the steps left is what the drift check must leave alone; it reads that itself
        // when a step failed before saying.
        let busy: Option<crate::drift::Busy> = outcomes
            .into_iter()
            .map(|(_, after)| after.map(|record| record.and_then(|(operation, _)| drift::holds_deployment(&operation))))
            .collect::<Option<Vec<_>>>()
            .map(|held| held.into_iter().flatten().collect());
        self.drift.check_if_due(&self.records, &self.clusters, self.now(), busy).await;
        self.notifier.iter().for_each(|notifier| notifier.spawn_pass(&self.owner));
        Ok(PassReport { operations: ids.len(), next_in })
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
