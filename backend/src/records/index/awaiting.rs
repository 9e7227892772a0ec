//! The requests awaiting approval in one document, `index/awaiting.json`, for the inbox badge:
//! every open tab asks for its count every few seconds, and one read of one object answers it
//! (through the index it is a listing plus a read per request, on every poll of every tab).
//!
//! The document is derived: the records and the index are the truth, and the document is
//! rebuilt from them when it is missing or older than [`REBUILT_EVERY_MS`]. Writers keep it
//! current in between: after a request awaiting approval is created or written, its copy is put
//! in; after a request leaves the group, its copy is taken out (and its id kept until the next
//! rebuild, so a slower writer's older copy cannot come back); a copy is never replaced by an
//! older one. A writer that finds the document due for a rebuild writes it even when nothing
//! changed — a placeholder when it is missing — so a rebuild that read the records before the
//! writer's record loses its compare-and-swap. A writer that crashed between its record and the
//! document leaves it behind by one request until the next rebuild; the list of the inbox itself
//! reads the index, and is never behind.

use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::Operation;
use serde::{Deserialize, Serialize};

use super::{OperationSource, group_of};
use crate::records::Records;
use crate::store::{JsonStore, StoreResult, Version};

/// Where the document is kept.
pub const AWAITING_VIEW_KEY: &str = "index/awaiting.json";
/// How old a document may be before a reader rebuilds it from the index.
pub const REBUILT_EVERY_MS: u64 = 5 * 60 * 1000;
/// How far in the future a document's rebuild may lie (another replica's clock) and still serve.
const CLOCK_SKEW_MS: u64 = 60 * 1000;
/// The most requests the document holds; with more, readers use the index.
pub const VIEW_LIMIT: usize = 500;
/// Compare-and-swap attempts of one writer's update before it leaves the rest to the rebuild.
const UPDATE_ATTEMPTS: usize = 8;

/// The document: the requests in the `awaiting_approval` group, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AwaitingView {
    /// When the document was last rebuilt from the index; 0 for a writer's placeholder.
    pub rebuilt_at_ms: u64,
    /// `false` when more than [`VIEW_LIMIT`] requests awaited at the rebuild or since.
    pub complete: bool,
    pub operations: Vec<Operation>,
    /// Requests taken out since the rebuild: they left the group, and groups only move forward.
    #[serde(default)]
    pub left: Vec<String>,
}

/// How far a record has come: its lists only grow, so a smaller tuple is an older write.
fn progress(operation: &Operation) -> (usize, usize, usize) {
    (operation.events.len(), operation.phase_history.len(), operation.approvals.len())
}

impl AwaitingView {
    /// Whether a reader would rebuild this document at `now_ms`.
    pub fn due(&self, now_ms: u64) -> bool {
        !self.complete
            || self.rebuilt_at_ms.saturating_add(REBUILT_EVERY_MS) <= now_ms
            || self.rebuilt_at_ms > now_ms.saturating_add(CLOCK_SKEW_MS)
    }

    /// Puts `operation`'s copy in (it awaits) or takes it out (it moved on, or `withdrawn`);
    /// whether that changed the document.
    fn update(&mut self, operation: &Operation, withdrawn: bool) -> bool {
        let position = self.operations.iter().position(|held| held.id == operation.id);
        if withdrawn || group_of(operation) != PhaseGroup::AwaitingApproval {
            if !self.left.contains(&operation.id) {
                self.left.push(operation.id.clone());
            }
            return position.map(|at| self.operations.remove(at)).is_some();
        }
        if self.left.contains(&operation.id) {
            return false;
        }
        match position {
            Some(at) if progress(&self.operations[at]) > progress(operation) => return false,
            Some(at) => self.operations[at] = operation.clone(),
            None if self.operations.len() >= VIEW_LIMIT => {
                self.complete = false;
                self.operations.clear();
            }
            None => self.operations.push(operation.clone()),
        }
        self.operations.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then_with(|| a.id.cmp(&b.id)));
        true
    }
}

impl Records {
    /// The requests awaiting approval that `keep` accepts, newest first, at most `limit`: from
    /// the document when it is fresh and complete, else from the index (and the document
    /// rebuilt when it is missing or old).
    pub async fn awaiting_operations(
        &self,
        keep: &(dyn Fn(&Operation) -> bool + Sync),
        limit: usize,
        now_ms: u64,
    ) -> StoreResult<Vec<Operation>> {
        let stored = self.store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await?;
        if let Some((view, _)) = &stored
            && !view.due(now_ms)
        {
            return Ok(view.operations.iter().filter(|op| keep(op)).take(limit).cloned().collect());
        }
        let source = OperationSource::Group(PhaseGroup::AwaitingApproval);
        // A fresh document that holds too many: the index, bounded, and no rewrite.
        let fresh_but_full = stored
            .as_ref()
            .is_some_and(|(view, _)| !view.complete && view.rebuilt_at_ms.saturating_add(REBUILT_EVERY_MS) > now_ms);
        if fresh_but_full {
            return Ok(self.operations_page(&source, None, limit, keep, now_ms).await?.items);
        }
        let awaiting = self.operations_page(&source, None, VIEW_LIMIT + 1, &|_| true, now_ms).await?;
        let complete = awaiting.items.len() <= VIEW_LIMIT && awaiting.next.is_none();
        let view = AwaitingView {
            rebuilt_at_ms: now_ms,
            complete,
            operations: if complete { awaiting.items.clone() } else { Vec::new() },
            left: Vec::new(),
        };
        // A writer's update between the read and this write wins: the next rebuild has it.
        let written = match &stored {
            Some((_, version)) => self.store.replace_json(AWAITING_VIEW_KEY, &view, version).await.map(drop),
            None => self.store.create_json(AWAITING_VIEW_KEY, &view).await.map(drop),
        };
        if let Err(error) = written
            && !error.is_conflict()
        {
            tracing::warn!(%error, "cannot store the requests awaiting approval");
        }
        if complete {
            return Ok(awaiting.items.into_iter().filter(|op| keep(op)).take(limit).collect());
        }
        Ok(self.operations_page(&source, None, limit, keep, now_ms).await?.items)
    }

    /// After `operation` was written (or, `withdrawn`, removed): its copy in the document
    /// follows. Never fails the write; a document left behind is rebuilt within
    /// [`REBUILT_EVERY_MS`].
    pub(in crate::records) async fn awaiting_view_after_write(&self, operation: &Operation, withdrawn: bool) {
        let now_ms = crate::records::wall_clock_ms();
        for _ in 0..UPDATE_ATTEMPTS {
            match self.try_update_view(operation, withdrawn, now_ms).await {
                Ok(true) => return,
                Ok(false) => continue,
                Err(error) => {
                    tracing::warn!(operation.id = %operation.id, %error, "cannot update the requests awaiting approval");
                    return;
                }
            }
        }
        tracing::warn!(operation.id = %operation.id, "the requests awaiting approval changed under every update: left to the rebuild");
    }

    /// One read-modify-write; `false` when another writer came between.
    async fn try_update_view(&self, operation: &Operation, withdrawn: bool, now_ms: u64) -> StoreResult<bool> {
        let Some((mut view, version)) = self.store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await? else {
            // None yet: a placeholder, due for a rebuild, so that a rebuild which read the
            // records before this write cannot store what it read.
            let placeholder = AwaitingView::default();
            return match self.store.create_json(AWAITING_VIEW_KEY, &placeholder).await {
                Ok(_) => Ok(true),
                Err(error) if error.is_conflict() => Ok(false),
                Err(error) => Err(error),
            };
        };
        let changed = view.complete && view.update(operation, withdrawn);
        // Due for a rebuild: written even unchanged, so a rebuild in flight loses its swap.
        if !changed && !view.due(now_ms) {
            return Ok(true);
        }
        self.replace_view(&view, &version).await
    }

    async fn replace_view(&self, view: &AwaitingView, version: &Version) -> StoreResult<bool> {
        match self.store.replace_json(AWAITING_VIEW_KEY, view, version).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_conflict() => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AwaitingView, CLOCK_SKEW_MS, REBUILT_EVERY_MS, VIEW_LIMIT};
    use rescaler_shared::operation::Approval;
    use rescaler_shared::operation::{Operation, OperationRequest, Phase, Strategy, Target};

    fn operation(n: u64) -> Operation {
        let request = OperationRequest {
            cluster_id: "c".into(),
            job_id: format!("{n:032x}"),
            job_name: "counter".into(),
            target: Target::Uniform { parallelism: 2 },
            strategy: Strategy::Auto,
            reason: "traffic".into(),
            requested_by: "alice".into(),
            required_approvals: 1,
            approval_window_ms: 3_600_000,
            verify_timeout_ms: 60_000,
            artifact: None,
            autoscaling: None,
        };
        Operation::new(format!("{n:032x}"), request, 1_000 * n)
    }

    #[test]
    fn copies_go_in_newest_first_and_out_when_they_move_on() {
        let mut view = AwaitingView { rebuilt_at_ms: 0, complete: true, ..AwaitingView::default() };
        for n in [2, 3, 1] {
            assert!(view.update(&operation(n), false));
        }
        let ids = |view: &AwaitingView| view.operations.iter().map(|op| op.created_at_ms).collect::<Vec<_>>();
        assert_eq!(ids(&view), [3_000, 2_000, 1_000]);
        let mut approved = operation(2);
        approved.enter(Phase::Approved, 5_000);
        assert!(view.update(&approved, false));
        assert_eq!(ids(&view), [3_000, 1_000]);
        assert!(!view.update(&approved, false), "taking out what is not there changes nothing");
        let mut edited = operation(3);
        edited.reason = "more traffic".into();
        assert!(view.update(&edited, false));
        assert_eq!(view.operations[0].reason, "more traffic");
        assert_eq!(view.operations.len(), 2);
    }

    #[test]
    fn a_document_over_its_limit_gives_way_to_the_index() {
        let mut view = AwaitingView { rebuilt_at_ms: 0, complete: true, ..AwaitingView::default() };
        for n in 0..VIEW_LIMIT as u64 {
            view.update(&operation(n), false);
        }
        assert!(view.complete);
        view.update(&operation(VIEW_LIMIT as u64), false);
        assert!(!view.complete);
        assert!(view.operations.is_empty());
    }

    #[test]
    fn a_slower_writer_never_brings_back_an_older_copy() {
        let mut view = AwaitingView { rebuilt_at_ms: 0, complete: true, ..AwaitingView::default() };
        let first = operation(1);
        let mut approved_once = first.clone();
        approved_once.approvals.push(Approval { by: "bob".into(), at_ms: 2_000, comment: String::new() });
        assert!(view.update(&approved_once, false));
        assert!(!view.update(&first, false), "an older copy does not replace a newer one");
        assert_eq!(view.operations[0].approvals.len(), 1);
        let mut approved = approved_once.clone();
        approved.enter(Phase::Approved, 3_000);
        assert!(view.update(&approved, false));
        assert!(!view.update(&approved_once, false), "a request that left does not come back");
        assert!(view.operations.is_empty());
        let withdrawn = operation(2);
        assert!(view.update(&withdrawn, false));
        assert!(view.update(&withdrawn, true));
        assert!(view.operations.is_empty());
    }

    #[test]
    fn a_document_is_due_when_old_incomplete_or_from_the_far_future() {
        let now = 10 * REBUILT_EVERY_MS;
        let view = |rebuilt_at_ms, complete| AwaitingView { rebuilt_at_ms, complete, ..AwaitingView::default() };
        assert!(!view(now - 1_000, true).due(now));
        assert!(view(now - REBUILT_EVERY_MS, true).due(now));
        assert!(view(now, false).due(now));
        assert!(view(0, true).due(now), "a writer's placeholder");
        assert!(!view(now + CLOCK_SKEW_MS, true).due(now), "another replica's clock a little ahead");
        assert!(view(now + CLOCK_SKEW_MS + 1, true).due(now));
    }
}
