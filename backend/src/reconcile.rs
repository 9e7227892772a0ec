//! The reconcile engine: observe Flink, `decide` (the pure phase machine in `shared`), act.
//!
//! Shaped like a kube-rs controller: [`Engine::reconcile`] takes one operation through one step
//! and answers an [`Action`](ReconcileAction) (requeue after a delay, or done);
//! [`Engine::error_policy`] turns an error into a requeue. A pass assumes nothing about why it
//! runs and checks everything afresh.
//!
//! Architecture Invariant: a side effect on Flink is performed one at a time per operation, and
//! only after a compare-and-swap write that records the intent (a lease naming the action);
//! the status after the effect is written by compare-and-swap too, before the next step (a
//! pass may take a few: the stop, polls of its savepoint, the resubmission). A crash anywhere leaves
//! either the intent or the result on record, and every action is idempotent on Flink's side
//! (caller-chosen trigger id, job ids derived from the operation id, same PUT body), so the
//! next pass simply does the same again.
//!
//! Architecture Invariant: two reconcilers on one store never perform an operation's action
//! twice at once: the lease is taken by compare-and-swap and blocks other owners until it
//! expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rescaler_shared::api::{JobLink, SavepointRecord};
use rescaler_shared::flink::SavepointStatus;
use rescaler_shared::operation::{Lease, Operation};
use rescaler_shared::phase::{self, Action, Decision, Observation, Phase};

use crate::cluster::{Cluster, ClusterRegistry, Performed};
use crate::records::Records;
use crate::store::{StoreError, Version};
mod crash;
mod error;
mod pass;
mod recurring;

pub use crash::CrashPoints;
pub use error::ReconcileError;
pub use pass::PassReport;

/// Steps one operation may take in one pass before the others get their turn.
const MAX_STEPS_PER_PASS: usize = 6;

/// How long a lease protects an action in flight. Every store call has a shorter timeout
/// (`store::S3_OPERATION_TIMEOUT`), and the lease is renewed every [`LEASE_RENEW_MS`] while the
/// action runs, so even a jar upload slower than the lease keeps other reconcilers off.
pub const LEASE_MS: u64 = 60_000;
/// How often the lease of a running action is renewed: a renewal that itself takes up to the
/// store's timeout still lands before the lease ends.
pub const LEASE_RENEW_MS: u64 = 20_000;

/// What to do with an operation after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileAction {
    Requeue(Duration),
    Done,
}

/// The engine: records, clusters, and who this reconciler is.
pub struct Engine {
    pub records: Records,
    pub clusters: ClusterRegistry,
    /// Names this reconciler in leases; stable across restarts of the same instance.
    pub owner: String,
    crash_points: CrashPoints,
    unavailable_streaks: Mutex<HashMap<String, u32>>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Notices changes made outside the product; run from [`Engine::pass`] every few seconds.
    pub drift: crate::drift::DriftCheck,
    /// Samples every managed job's load into its history; run beside every pass, every 30 s.
    pub sampler: crate::sampler::LoadSampler,
    /// Delivers the notification outbox, in the background of every pass (`notify.rs`).
    pub notifier: Option<Arc<crate::notify::Notifier>>,
    /// The approval terms of the requests the engine files (`request` mode).
    pub approvals: crate::config::ApprovalConfig,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Engine {
    pub fn new(records: Records, clusters: ClusterRegistry, owner: impl Into<String>) -> Self {
        Self {
            records,
            clusters,
            owner: owner.into(),
            crash_points: CrashPoints::from_env(),
            unavailable_streaks: Mutex::new(HashMap::new()),
            clock: Arc::new(now_ms),
            drift: crate::drift::DriftCheck::default(),
            sampler: crate::sampler::LoadSampler::default(),
            notifier: None,
            approvals: crate::config::ApprovalConfig::default(),
        }
    }

    /// The same engine on another clock (milliseconds since the Unix epoch), for tests that
    /// need time to pass.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Logs an error and says when to try again.
    pub fn error_policy(&self, operation_id: &str, error: &ReconcileError) -> ReconcileAction {
        let delay = match error {
            ReconcileError::Store(StoreError::Conflict { .. }) => Duration::from_millis(50),
            ReconcileError::Flink(flink) if flink.is_retryable() => Duration::from_secs(1),
            _ => Duration::from_secs(2),
        };
        if matches!(error, ReconcileError::Store(StoreError::Conflict { .. })) {
            // Another reconciler moved the operation first: expected when several run.
            tracing::debug!(operation.id = operation_id, "lost a write race; reading again");
        } else {
            tracing::warn!(operation.id = operation_id, error = %error, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
        }
        ReconcileAction::Requeue(delay)
    }

    fn cluster(&self, operation: &Operation) -> Result<&Arc<dyn Cluster>, ReconcileError> {
        self.clusters.get(&operation.cluster_id).ok_or_else(|| ReconcileError::UnknownCluster {
            operation_id: operation.id.clone(),
            cluster_id: operation.cluster_id.clone(),
        })
    }

    /// Takes one operation one step further.
    pub async fn reconcile(&self, operation_id: &str) -> Result<ReconcileAction, ReconcileError> {
        let step = self.step(operation_id, None).await?;
        if let Some(followup) = &step.followup {
            self.after_write(&followup.operation, followup.events_before).await?;
        }
        Ok(step.action)
    }

    /// One step of [`Engine::reconcile`], from `known` (the record and its version as this
    /// engine last wrote it) or the store; answers the record it wrote, if it wrote one, and
    /// the records that follow from the write, which it leaves to the caller.
    async fn step(&self, operation_id: &str, known: Option<(Operation, Version)>) -> Result<Step, ReconcileError> {
        let (mut operation, version) = match known {
            Some(record) => record,
            None => self
                .records
                .operation(operation_id)
                .await?
                .ok_or_else(|| ReconcileError::MissingOperation(operation_id.to_owned()))?,
        };
        if operation.is_terminal() {
            self.finish(&operation).await?;
            return Ok(Step::done());
        }
        let now = self.now();
        if let Some(lease) = &operation.lease
            && lease.blocks(&self.owner, now)
        {
            let blocked_for = Duration::from_millis((lease.until_ms - now).min(1_000));
            return Ok(Step::wait(blocked_for, (operation, version)));
        }
        let cluster = self.cluster(&operation)?.clone();
        let observation = self.observe(&operation, cluster.as_ref(), now).await;
        let decision = phase::decide(&operation, &observation);
        tracing::debug!(operation.id = operation_id, phase = %operation.phase.name(), ?decision, "decided");
        match &decision {
            Decision::Done => {
                self.finish(&operation).await?;
                Ok(Step::done())
            }
            Decision::Wait { requeue_after_ms, .. } => {
                Ok(Step::wait(Duration::from_millis(*requeue_after_ms), (operation, version)))
            }
            Decision::Transition { .. } => {
                let events_before = operation.events.len();
                phase::apply(&mut operation, &decision, now);
                operation.lease = None;
                let written = self.records.replace_operation_in_pass(&operation, &version).await?;
                Ok(Step::written(operation, written, events_before))
            }
            Decision::Act { action, .. } => {
                // Intent first: the lease names the action and keeps other reconcilers off.
                operation.lease = Some(Lease {
                    owner: self.owner.clone(),
                    until_ms: now + LEASE_MS,
                    action: action_label(action).to_owned(),
                });
                let lease = self.records.replace_operation_in_pass(&operation, &version);
                let leased = match action {
                    // The job will belong to the operation's deployment from its first moment.
                    // Written beside the lease (both before the submission): the job id is the
                    // operation's own, so an entry left by a lease that lost its race names the
                    // deployment the job would have joined, and the next attempt finds it made.
                    Action::SubmitJob { job_id, .. } => {
                        let reserve = self.records.reserve_job_id(&operation, job_id, now);
                        futures::future::try_join(lease, reserve).await?.0
                    }
                    _ => lease.await?,
                };
                let (leased, performed) =
                    self.perform_under_lease(&mut operation, leased, cluster.as_ref(), action).await?;
                let events_before = operation.events.len();
                phase::apply(&mut operation, &decision, self.now());
                if let Some(id) = performed.msf_operation_id {
                    operation.msf_operation_id = Some(id);
                }
                operation.lease = None;
                let written = self.records.replace_operation_in_pass(&operation, &leased).await?;
                Ok(Step::written(operation, written, events_before))
            }
        }
    }

    /// Reads what `needs` asks for. The cluster being unreachable is an observation, not an
    /// error.
    async fn observe(&self, operation: &Operation, cluster: &dyn Cluster, now: u64) -> Observation {
        let needs = phase::needs(operation);
        let result = cluster.observe(operation, &needs, now).await;
        let mut streaks = self.unavailable_streaks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Ok(observation) => {
                streaks.remove(&operation.id);
                if matches!(observation.savepoint, Some(SavepointStatus::Completed { .. })) {
                    self.crash_points.check("savepoint_completed");
                }
                observation
            }
            Err(error) => {
                let streak = streaks.entry(operation.id.clone()).or_insert(0);
                let mut observation = cluster.config().observation(now);
                observation.unavailable_streak = *streak;
                *streak += 1;
                tracing::warn!(operation.id = %operation.id, error = %error, "cluster unavailable");
                observation.flink_unavailable = Some(error.to_string());
                observation
            }
        }
    }

    /// Performs the action while renewing the operation's lease, so that an action slower than
    /// the lease (a large jar upload) is never taken over by a second reconciler; answers the
    /// record's version after the last renewal. If a renewal loses the record (someone else
    /// holds it now), the action is abandoned mid-flight — harmless, since every action is
    /// idempotent — and the pass fails.
    async fn perform_under_lease(
        &self,
        operation: &mut Operation,
        mut version: Version,
        cluster: &dyn Cluster,
        action: &Action,
    ) -> Result<(Version, Performed), ReconcileError> {
        let acting = operation.clone();
        let work = self.perform(&acting, cluster, action);
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return result.map(|performed| (version, performed)),
                () = tokio::time::sleep(Duration::from_millis(LEASE_RENEW_MS)) => {
                    if let Some(lease) = &mut operation.lease {
                        lease.until_ms = self.now() + LEASE_MS;
                    }
                    version = self.records.replace_operation_in_pass(operation, &version).await?;
                    tracing::debug!(operation.id = %operation.id, "lease renewed while the action runs");
                }
            }
        }
    }

    /// Performs one action on the cluster, then keeps the records that follow from it. Repeating
    /// it is harmless.
    async fn perform(
        &self,
        operation: &Operation,
        cluster: &dyn Cluster,
        action: &Action,
    ) -> Result<Performed, ReconcileError> {
        let performed = cluster.perform(operation, action).await?;
        match action {
            Action::StopWithSavepoint { .. } => self.crash_points.check("stop_triggered"),
            Action::SubmitJob { job_id, .. } => {
                // The new job can be rescaled again later: link it to the same artifact.
                if let Some(artifact) = &operation.artifact {
                    self.records
                        .put_job_link(&JobLink {
                            cluster_id: operation.cluster_id.clone(),
                            job_id: job_id.clone(),
                            artifact_sha256: artifact.sha256.clone(),
                            entry_class: artifact.entry_class.clone(),
                            args: artifact.args.clone(),
                            linked_by: "system".to_owned(),
                            linked_at_ms: self.now(),
                        })
                        .await?;
                }
                self.crash_points.check("job_submitted");
            }
            Action::PutResourceRequirements { .. } => self.crash_points.check("requirements_sent"),
            Action::CancelJob { .. } => {}
            Action::CreateSnapshot { .. } => self.crash_points.check("snapshot_requested"),
            Action::UpdateApplication { .. } => self.crash_points.check("application_updated"),
        }
        Ok(performed)
    }

    /// After a successful write: the savepoint catalog, the audit trail of new events and the
    /// deployment's lineage. The three are independent of each other and written at once; each
    /// is also written again when the operation ends, should this engine stop before they land.
    /// Nothing the next step decides reads them: a pass writes them beside that step (the
    /// resubmission of a stopped job does not wait for them).
    async fn after_write(&self, operation: &Operation, events_before: usize) -> Result<(), ReconcileError> {
        let catalog = async {
            match (&operation.savepoint, &operation.phase) {
                (Some(savepoint), Phase::Restarting { .. } | Phase::Updating { .. }) => {
                    self.records.record_savepoint(&savepoint_record(operation, savepoint)).await
                }
                _ => Ok(()),
            }
        };
        futures::future::try_join3(
            catalog,
            self.records.audit_operation_events(operation, events_before),
            self.records.follow_operation(operation, self.now()),
        )
        .await?;
        if operation.is_terminal() {
            self.finish(operation).await?;
        }
        Ok(())
    }

    /// A terminal operation: every event audited (idempotent backfill), the savepoint in the
    /// catalog, the job freed for new requests.
    async fn finish(&self, operation: &Operation) -> Result<(), ReconcileError> {
        self.records.audit_operation_events(operation, 0).await?;
        self.records.follow_operation(operation, self.now()).await?;
        if let Some(savepoint) = &operation.savepoint {
            self.records.record_savepoint(&savepoint_record(operation, savepoint)).await?;
        }
        self.records.release_job(operation).await?;
        Ok(())
    }
}

/// What one step did: the action to take next, the record it read or wrote (none once the
/// operation ended), and after a write, the records that follow from it ([`Engine::after_write`]).
struct Step {
    action: ReconcileAction,
    record: Option<(Operation, Version)>,
    followup: Option<Followup>,
}

/// The written record and how many events it had before the step, for [`Engine::after_write`].
struct Followup {
    operation: Operation,
    events_before: usize,
}

impl Step {
    fn done() -> Self {
        Self { action: ReconcileAction::Done, record: None, followup: None }
    }

    fn wait(delay: Duration, record: (Operation, Version)) -> Self {
        Self { action: ReconcileAction::Requeue(delay), record: Some(record), followup: None }
    }

    /// A write: the next step follows at once.
    fn written(operation: Operation, version: Version, events_before: usize) -> Self {
        let followup = Followup { operation: operation.clone(), events_before };
        Self {
            action: ReconcileAction::Requeue(Duration::ZERO),
            record: Some((operation, version)),
            followup: Some(followup),
        }
    }
}

/// The catalog's entry for the savepoint `operation` took.
fn savepoint_record(operation: &Operation, savepoint: &rescaler_shared::operation::SavepointRef) -> SavepointRecord {
    SavepointRecord {
        cluster_id: operation.cluster_id.clone(),
        job_id: operation.job_id.clone(),
        operation_id: operation.id.clone(),
        location: savepoint.location.clone(),
        taken_at_ms: savepoint.taken_at_ms,
        storage: None,
    }
}

fn action_label(action: &Action) -> &'static str {
    match action {
        Action::StopWithSavepoint { .. } => "stop_with_savepoint",
        Action::SubmitJob { .. } => "submit_job",
        Action::PutResourceRequirements { .. } => "put_resource_requirements",
        Action::CancelJob { .. } => "cancel_job",
        Action::CreateSnapshot { .. } => "create_snapshot",
        Action::UpdateApplication { .. } => "update_application",
    }
}
