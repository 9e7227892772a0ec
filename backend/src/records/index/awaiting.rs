//! The requests awaiting approval in one document, `index/awaiting.json`, for the inbox badge:
//! every open tab asks for its count every few seconds, and one read of one object answers it
//! (through the index it is a listing plus a read per request, on every poll of every tab).
//!
//! The document is derived: the records and the index are the truth, and the document is
//! rebuilt from them when it is missing or older than [`REBUILT_EVERY_MS`]. Writers keep it
//! current in between: after a request awaiting approval is created or written, its copy is put
//! in; after a request leaves the group, its copy is taken out. A writer that crashed between
//! its record and the document leaves it behind by one request until the next rebuild; the list
//! of the inbox itself reads the index, and is never behind.

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
/// The most requests the document holds; with more, readers use the index.
pub const VIEW_LIMIT: usize = 500;
/// Compare-and-swap attempts of one writer's update before it leaves the rest to the rebuild.
const UPDATE_ATTEMPTS: usize = 8;

/// The document: the requests in the `awaiting_approval` group, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AwaitingView {
    /// When the document was last rebuilt from the index.
    pub rebuilt_at_ms: u64,
    /// `false` when more than [`VIEW_LIMIT`] requests awaited at the rebuild or since.
    pub complete: bool,
    pub operations: Vec<Operation>,
}

impl AwaitingView {
    /// Puts `operation`'s copy in (it awaits) or takes it out (it moved on); whether that
    /// changed the document.
    fn update(&mut self, operation: &Operation) -> bool {
        let before = self.operations.len();
        let position = self.operations.iter().position(|held| held.id == operation.id);
        if group_of(operation) != PhaseGroup::AwaitingApproval {
            self.operations.retain(|held| held.id != operation.id);
            return self.operations.len() != before;
        }
        match position {
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
    /// The requests awaiting approval, newest first, from the document when it is fresh and
    /// complete, else from the index (and the document rebuilt).
    pub async fn awaiting_operations(&self, now_ms: u64) -> StoreResult<Vec<Operation>> {
        let stored = self.store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await?;
        if let Some((view, _)) = &stored
            && view.complete
            && view.rebuilt_at_ms.saturating_add(REBUILT_EVERY_MS) > now_ms
            && view.rebuilt_at_ms <= now_ms
        {
            return Ok(view.operations.clone());
        }
        let source = OperationSource::Group(PhaseGroup::AwaitingApproval);
        let operations = self.operations_page(&source, None, usize::MAX, &|_| true, now_ms).await?.items;
        let complete = operations.len() <= VIEW_LIMIT;
        let view = AwaitingView {
            rebuilt_at_ms: now_ms,
            complete,
            operations: if complete { operations.clone() } else { Vec::new() },
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
        Ok(operations)
    }

    /// After `operation` was written: its copy in the document follows. Never fails the write;
    /// a document left behind is rebuilt within [`REBUILT_EVERY_MS`].
    pub(in crate::records) async fn awaiting_view_after_write(&self, operation: &Operation) {
        for _ in 0..UPDATE_ATTEMPTS {
            match self.try_update_view(operation).await {
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
    async fn try_update_view(&self, operation: &Operation) -> StoreResult<bool> {
        let Some((mut view, version)) = self.store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await? else {
            // None yet: the first reader builds it from the index, which has this request.
            return Ok(true);
        };
        if !view.complete || !view.update(operation) {
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
    use super::{AwaitingView, VIEW_LIMIT};
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
        let mut view = AwaitingView { rebuilt_at_ms: 0, complete: true, operations: Vec::new() };
        for n in [2, 3, 1] {
            assert!(view.update(&operation(n)));
        }
        let ids = |view: &AwaitingView| view.operations.iter().map(|op| op.created_at_ms).collect::<Vec<_>>();
        assert_eq!(ids(&view), [3_000, 2_000, 1_000]);
        let mut approved = operation(2);
        approved.enter(Phase::Approved, 5_000);
        assert!(view.update(&approved));
        assert_eq!(ids(&view), [3_000, 1_000]);
        assert!(!view.update(&approved), "taking out what is not there changes nothing");
        let mut edited = operation(3);
        edited.reason = "more traffic".into();
        assert!(view.update(&edited));
        assert_eq!(view.operations[0].reason, "more traffic");
        assert_eq!(view.operations.len(), 2);
    }

    #[test]
    fn a_document_over_its_limit_gives_way_to_the_index() {
        let mut view = AwaitingView { rebuilt_at_ms: 0, complete: true, operations: Vec::new() };
        for n in 0..VIEW_LIMIT as u64 {
            view.update(&operation(n));
        }
        assert!(view.complete);
        view.update(&operation(VIEW_LIMIT as u64));
        assert!(!view.complete);
        assert!(view.operations.is_empty());
    }
}
