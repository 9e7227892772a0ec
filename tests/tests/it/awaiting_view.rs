//! The inbox badge's document (`records/index/awaiting.rs`) on the directory store and on
//! LocalStack: built by the first reader (a writer leaves only a placeholder), kept current by
//! every create and phase change (also when writers race), a rebuild that read the records before
//! a write refused, behind by a crashed writer only until the next rebuild.

use std::sync::Arc;

use bytes::Bytes;
use harness::S3Server;
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::Records;
use rescaler_backend::records::index::{AWAITING_VIEW_KEY, AwaitingView, REBUILT_EVERY_MS, operation_entry_keys};
use rescaler_backend::store::{JsonStore, S3Store, Store};
use rescaler_shared::operation::{Operation, OperationRequest, Phase, Strategy, Target};

fn operation(n: u64, at_ms: u64) -> Operation {
    let request = OperationRequest {
        cluster_id: "badge".to_owned(),
        job_id: format!("{:032x}", 0xf000 + n),
        job_name: "counter".to_owned(),
        target: Target::Uniform { parallelism: 2 },
        strategy: Strategy::Auto,
        reason: "traffic".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    };
    Operation::new(format!("{n:032x}"), request, at_ms)
}

fn ids(operations: &[Operation]) -> Vec<u64> {
    operations.iter().map(|op| u64::from_str_radix(&op.id, 16).unwrap_or(u64::MAX)).collect()
}

async fn stored_view(store: &dyn Store) -> anyhow::Result<Option<Vec<u64>>> {
    Ok(store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await?.map(|(view, _)| ids(&view.operations)))
}

async fn set_phase(records: &Records, id: &str, phase: Phase) -> anyhow::Result<()> {
    let (mut operation, version) = records.operation(id).await?.expect("stored");
    operation.enter(phase, now_ms());
    records.replace_operation(&operation, &version).await?;
    Ok(())
}

async fn the_document_follows_the_requests(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    records.backfill_index().await?;
    let now = now_ms();
    records.create_operation(&operation(1, now - 3_000)).await?;
    let placeholder = store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await?.expect("a placeholder");
    assert_eq!((placeholder.0.rebuilt_at_ms, placeholder.0.operations.len()), (0, 0), "a writer leaves a placeholder");
    assert_eq!(ids(&records.awaiting_operations(&|_| true, usize::MAX, now).await?), [1]);
    assert_eq!(stored_view(store.as_ref()).await?, Some(vec![1]), "the first reader builds it");

    // Creates and phase changes keep it current, also from another process.
    records.create_operation(&operation(2, now - 2_000)).await?;
    let other = Records::new(store.clone());
    other.create_operation(&operation(3, now - 1_000)).await?;
    assert_eq!(stored_view(store.as_ref()).await?, Some(vec![3, 2, 1]));
    set_phase(&other, &format!("{:032x}", 2), Phase::Approved).await?;
    set_phase(&records, &format!("{:032x}", 1), Phase::Cancelled { by: "alice".into(), comment: "no".into() }).await?;
    assert_eq!(stored_view(store.as_ref()).await?, Some(vec![3]));
    assert_eq!(ids(&records.awaiting_operations(&|_| true, usize::MAX, now).await?), [3]);

    // Eight creates at once, each its own compare-and-swap: none is lost.
    let creates = (10..18).map(|n| {
        let records = Records::new(store.clone());
        async move { records.create_operation(&operation(n, now - 100 + n)).await }
    });
    futures::future::try_join_all(creates).await?;
    let expected: Vec<u64> = (10..18).rev().chain([3]).collect();
    assert_eq!(stored_view(store.as_ref()).await?, Some(expected.clone()));

    // A rebuild that read the records before a write: the writer, finding the document due,
    // writes it even when its own change is none, so the rebuild's compare-and-swap is refused.
    let (mut old, version) = store.get_json::<AwaitingView>(AWAITING_VIEW_KEY).await?.expect("stored");
    let leaving_id = format!("{:032x}", 10);
    old.rebuilt_at_ms = now - REBUILT_EVERY_MS - 1;
    old.operations.retain(|op| op.id != leaving_id);
    let in_flight = store.replace_json(AWAITING_VIEW_KEY, &old, &version).await?;
    let leaving = Records::new(store.clone());
    set_phase(&leaving, &leaving_id, Phase::Cancelled { by: "alice".into(), comment: "no".into() }).await?;
    let stale_rebuild = store.replace_json(AWAITING_VIEW_KEY, &old, &in_flight).await;
    assert!(stale_rebuild.is_err_and(|error| error.is_conflict()), "the rebuild in flight loses");
    let expected: Vec<u64> = expected.into_iter().filter(|n| *n != 10).collect();
    assert_eq!(ids(&records.awaiting_operations(&|_| true, usize::MAX, now).await?), expected, "rebuilt");
    assert_eq!(stored_view(store.as_ref()).await?, Some(expected.clone()));

    // A writer that crashed between its request and the document: behind until the rebuild.
    let crashed = operation(20, now);
    for key in operation_entry_keys(&crashed) {
        store.create(&key, Bytes::from_static(b"{}")).await?;
    }
    store.create_json(&format!("operations/{}.json", crashed.id), &crashed).await?;
    assert_eq!(
        ids(&records.awaiting_operations(&|_| true, usize::MAX, now).await?),
        expected,
        "served from the document"
    );
    let later = now + REBUILT_EVERY_MS;
    let rebuilt: Vec<u64> = [20].into_iter().chain(expected).collect();
    assert_eq!(ids(&records.awaiting_operations(&|_| true, usize::MAX, later).await?), rebuilt);
    assert_eq!(stored_view(store.as_ref()).await?, Some(rebuilt));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_document_on_the_directory_store() -> anyhow::Result<()> {
    let dirs = harness::paths::ScratchStores::new("awaiting-view");
    the_document_follows_the_requests(dirs.store()?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_document_on_localstack() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = S3Server::start().await?;
    let bucket = server.fresh_bucket().await?;
    the_document_follows_the_requests(Arc::new(S3Store::new(server.client(), bucket, "records"))).await
}
