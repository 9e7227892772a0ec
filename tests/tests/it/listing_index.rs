//! The listing index (`records/index.rs`) on the directory store and on LocalStack: pages newest
//! first across a cursor, by phase group and by job, a phase change moving a request between
//! groups, stale and dangling entries skipped (and removed when they can never be right), the
//! backfill of records stored before the index (resumable); and through the API, the badge's
//! count, the `x-next-cursor` header and a bad cursor refused with the error envelope.

use std::sync::Arc;

use bytes::Bytes;
use harness::S3Server;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::unreachable_cluster;
use rescaler_backend::reconcile::now_ms;
use rescaler_backend::records::index::{
    AUDIT_INDEX, INDEX_VERSION_KEY, entry_name, operations_all, operations_in, operations_of_job,
};
use rescaler_backend::records::{Cursor, OperationSource, Records};
use rescaler_backend::store::{JsonStore, S3Store, Store};
use rescaler_shared::api::AuditEvent;
use rescaler_shared::api_page::PhaseGroup;
use rescaler_shared::operation::{Operation, OperationRequest, Phase, Strategy, Target};
use serde_json::Value;

const CLUSTER: &str = "listing";

fn request(job_id: &str, requested_by: &str) -> OperationRequest {
    OperationRequest {
        cluster_id: CLUSTER.to_owned(),
        job_id: job_id.to_owned(),
        job_name: "counter".to_owned(),
        target: Target::Uniform { parallelism: 2 },
        strategy: Strategy::Auto,
        reason: "traffic".to_owned(),
        requested_by: requested_by.to_owned(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    }
}

fn hex_id(n: u64) -> String {
    format!("{n:032x}")
}

/// Request `n` on its own job, created at `at_ms`.
fn operation(n: u64, job: u64, at_ms: u64) -> Operation {
    Operation::new(hex_id(n), request(&hex_id(0xf000 + job), "alice"), at_ms)
}

fn ids(operations: &[Operation]) -> Vec<String> {
    operations.iter().map(|op| op.id.clone()).collect()
}

fn keep_all(_: &Operation) -> bool {
    true
}

async fn page(
    records: &Records,
    source: &OperationSource,
    after: Option<&Cursor>,
    limit: usize,
) -> anyhow::Result<(Vec<String>, Option<Cursor>)> {
    let page = records.operations_page(source, after, limit, &keep_all, now_ms()).await?;
    Ok((ids(&page.items), page.next))
}

/// Every page of `source`, `limit` at a time.
async fn every_page(records: &Records, source: &OperationSource, limit: usize) -> anyhow::Result<Vec<Vec<String>>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = page(records, source, after.as_ref(), limit).await?;
        pages.push(items);
        match next {
            Some(next) => after = Some(next),
            None => return Ok(pages),
        }
        anyhow::ensure!(pages.len() < 1000, "the cursor never ends");
    }
}

async fn set_phase(records: &Records, id: &str, phase: Phase) -> anyhow::Result<()> {
    let (mut operation, version) = records.operation(id).await?.expect("stored");
    operation.enter(phase, now_ms());
    records.replace_operation(&operation, &version).await?;
    Ok(())
}

fn cancelled() -> Phase {
    Phase::Cancelled { by: "alice".into(), comment: "no".into() }
}

async fn pages_newest_first_across_a_cursor(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    records.backfill_index().await?;
    // Seven requests; two made in the same millisecond list by ascending id.
    for (n, at_ms) in [(1, 1_000), (2, 2_000), (3, 3_000), (4, 3_000), (5, 5_000), (6, 6_000), (7, 7_000)] {
        records.create_operation(&operation(n, n, at_ms)).await?;
    }
    let pages = every_page(&records, &OperationSource::All, 3).await?;
    let expected = |ns: &[u64]| ns.iter().map(|n| hex_id(*n)).collect::<Vec<_>>();
    assert_eq!(pages, vec![expected(&[7, 6, 5]), expected(&[3, 4, 2]), expected(&[1])]);
    assert_eq!(pages.concat(), ids(&records.all_operations().await?), "the order listings always had");
    // A cursor holds no state of the process that handed it out.
    let (_, next) = page(&records, &OperationSource::All, None, 3).await?;
    let restarted = Records::new(store);
    let decoded = Cursor::decode(&next.expect("more follow").encode())?;
    assert_eq!(page(&restarted, &OperationSource::All, Some(&decoded), 3).await?.0, expected(&[3, 4, 2]));
    Ok(())
}

async fn groups_and_jobs_follow_phase_changes(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    records.backfill_index().await?;
    for n in 1..=4 {
        records.create_operation(&operation(n, n, 1_000 * n)).await?;
    }
    let awaiting = OperationSource::Group(PhaseGroup::AwaitingApproval);
    let active = OperationSource::Group(PhaseGroup::Active);
    let terminal = OperationSource::Group(PhaseGroup::Terminal);
    assert_eq!(page(&records, &awaiting, None, 10).await?.0, [4, 3, 2, 1].map(hex_id));
    assert!(page(&records, &active, None, 10).await?.0.is_empty());

    set_phase(&records, &hex_id(2), Phase::Approved).await?;
    set_phase(&records, &hex_id(3), cancelled()).await?;
    assert_eq!(page(&records, &awaiting, None, 10).await?.0, [4, 1].map(hex_id));
    assert_eq!(page(&records, &active, None, 10).await?.0, [hex_id(2)]);
    assert_eq!(page(&records, &terminal, None, 10).await?.0, [hex_id(3)]);
    // Moving on removed the earlier group's entry: the awaiting list is as long as what awaits.
    assert_eq!(store.list(&operations_in(PhaseGroup::AwaitingApproval)).await?.len(), 2);
    set_phase(&records, &hex_id(2), cancelled()).await?;
    assert!(page(&records, &active, None, 10).await?.0.is_empty());
    assert_eq!(page(&records, &terminal, None, 10).await?.0, [3, 2].map(hex_id));
    assert!(store.list(&operations_in(PhaseGroup::Active)).await?.is_empty());

    // By job: the ended request and the one made after it for the same job, nothing else.
    let again = operation(9, 3, 9_000);
    records.create_operation(&again).await?;
    let job = OperationSource::Job(hex_id(0xf000 + 3));
    assert_eq!(page(&records, &job, None, 10).await?.0, [9, 3].map(hex_id));
    assert_eq!(store.list(&operations_of_job(&again.job_id)).await?.len(), 2);
    Ok(())
}

async fn stale_and_dangling_entries_are_skipped(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let records = Records::new(store.clone());
    records.backfill_index().await?;
    let now = now_ms();
    let moved = operation(1, 1, now - 5_000);
    records.create_operation(&moved).await?;
    set_phase(&records, &moved.id, Phase::Approved).await?;
    let name = entry_name(moved.created_at_ms, &moved.id);
    // A writer that crashed between the phase write and removing the old entry ...
    let stale = format!("{}{name}", operations_in(PhaseGroup::AwaitingApproval));
    store.create(&stale, Bytes::from_static(b"{}")).await?;
    // ... and one that wrote the next group's entry and then lost its compare-and-swap.
    let early = format!("{}{name}", operations_in(PhaseGroup::Terminal));
    store.create(&early, Bytes::from_static(b"{}")).await?;
    assert!(page(&records, &OperationSource::Group(PhaseGroup::AwaitingApproval), None, 10).await?.0.is_empty());
    assert!(store.get(&stale).await?.is_none(), "an entry of a group the request left is removed");
    assert!(page(&records, &OperationSource::Group(PhaseGroup::Terminal), None, 10).await?.0.is_empty());
    assert!(store.get(&early).await?.is_some(), "an entry of a group it may still reach is kept");
    assert_eq!(page(&records, &OperationSource::Group(PhaseGroup::Active), None, 10).await?.0, [moved.id.clone()]);

    // Entries whose request is not stored: one too old to be a create in progress, one that may be.
    let old = format!("{}{}", operations_all(), entry_name(now - 3_600_000, &hex_id(77)));
    let fresh = format!("{}{}", operations_all(), entry_name(now, &hex_id(78)));
    store.create(&old, Bytes::from_static(b"{}")).await?;
    store.create(&fresh, Bytes::from_static(b"{}")).await?;
    assert_eq!(page(&records, &OperationSource::All, None, 10).await?.0, [moved.id.clone()]);
    assert!(store.get(&old).await?.is_none(), "a long dangling entry is removed");
    assert!(store.get(&fresh).await?.is_some(), "a recent one may be a create in progress: kept");
    // A page that meets only dangling entries still fills from what follows them.
    assert_eq!(page(&records, &OperationSource::All, None, 1).await?.0, [moved.id.clone()]);
    Ok(())
}

fn audit_event(at_ms: u64, n: usize) -> AuditEvent {
    AuditEvent {
        at_ms,
        actor: "alice".to_owned(),
        action: format!("event-{n}"),
        operation_id: None,
        cluster_id: Some(CLUSTER.to_owned()),
        job_id: None,
        message: String::new(),
    }
}

async fn records_stored_before_the_index_are_backfilled(store: Arc<dyn Store>) -> anyhow::Result<()> {
    // Written as the code before the index wrote them: records only.
    for n in 1..=3 {
        let op = operation(n, n, 1_000 * n);
        store.create_json(&format!("operations/{}.json", op.id), &op).await?;
    }
    for n in 0..4 {
        let event = audit_event(10_000 + n as u64, n);
        store.create_json(&format!("audit/{:013}-old-{n}.json", event.at_ms), &event).await?;
    }
    let records = Records::new(store.clone());
    assert_eq!(page(&records, &OperationSource::All, None, 10).await?.0, [3, 2, 1].map(hex_id));
    assert!(store.get(INDEX_VERSION_KEY).await?.is_some(), "a small store is backfilled by its first listing");
    assert_eq!(store.list(operations_all()).await?.len(), 3);
    assert_eq!(store.list(&operations_in(PhaseGroup::AwaitingApproval)).await?.len(), 3);
    assert_eq!(store.list(AUDIT_INDEX).await?.len(), 4);
    let audit = records.audit_page(None, 3, &|_| true, now_ms()).await?;
    let actions: Vec<_> = audit.items.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(actions, ["event-3", "event-2", "event-1"]);
    let rest = records.audit_page(audit.next.as_ref(), 3, &|_| true, now_ms()).await?;
    assert_eq!(rest.items.iter().map(|event| event.action.as_str()).collect::<Vec<_>>(), ["event-0"]);
    assert!(rest.next.is_none());
    // Run again from scratch (the marker lost): same entries, no error.
    store.delete(INDEX_VERSION_KEY).await?;
    Records::new(store.clone()).backfill_index().await?;
    assert_eq!(store.list(operations_all()).await?.len(), 3);
    assert_eq!(store.list(AUDIT_INDEX).await?.len(), 4);
    // New audit events are indexed as they are written.
    records.audit(&audit_event(20_000, 9), "new-9").await?;
    let newest = records.audit_page(None, 1, &|_| true, now_ms()).await?;
    assert_eq!(newest.items[0].action, "event-9");
    Ok(())
}

async fn every_scenario(fresh_store: impl AsyncFn() -> anyhow::Result<Arc<dyn Store>>) -> anyhow::Result<()> {
    pages_newest_first_across_a_cursor(fresh_store().await?).await?;
    groups_and_jobs_follow_phase_changes(fresh_store().await?).await?;
    stale_and_dangling_entries_are_skipped(fresh_store().await?).await?;
    records_stored_before_the_index_are_backfilled(fresh_store().await?).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_index_on_the_directory_store() -> anyhow::Result<()> {
    let dirs = harness::paths::ScratchStores::new("listing");
    every_scenario(async || dirs.store()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_index_on_localstack() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = S3Server::start().await?;
    every_scenario(async || {
        let bucket = server.fresh_bucket().await?;
        Ok(Arc::new(S3Store::new(server.client(), bucket, "records")) as Arc<dyn Store>)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_cut_off_resumes_where_it_left_off() -> anyhow::Result<()> {
    let dirs = harness::paths::ScratchStores::new("listing");
    let store = dirs.store()?;
    // More than one batch (500) of requests stored before the index.
    let writes: Vec<_> = (1..=1_200u64)
        .map(|n| {
            let store = store.clone();
            async move {
                let op = operation(n, n, 1_000 + n);
                store.create_json(&format!("operations/{}.json", op.id), &op).await
            }
        })
        .collect();
    futures::future::try_join_all(writes).await?;
    let first = Records::new(store.clone());
    assert!(!first.index_ready().await?, "one batch, not all");
    assert_eq!(store.list(operations_all()).await?.len(), 500);
    // Meanwhile listings read every record, as before the index: nothing is missing.
    let (listed, _) = page(&first, &OperationSource::All, None, 1_200).await?;
    assert_eq!(listed.len(), 1_200);
    // The process dies; another goes on from where the last batch ended.
    drop(first);
    let second = Records::new(store.clone());
    second.backfill_index().await?;
    assert_eq!(store.list(operations_all()).await?.len(), 1_200);
    let pages = every_page(&second, &OperationSource::All, 500).await?;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 200]);
    assert_eq!(pages.concat(), (1..=1_200u64).rev().map(hex_id).collect::<Vec<_>>());
    Ok(())
}

async fn get_with_cursor(api: &Api, path: &str, user: &str) -> anyhow::Result<(u16, Value, Option<String>)> {
    let response = api.request(reqwest::Method::GET, path).bearer_auth(format!("{user}-token")).send().await?;
    let status = response.status().as_u16();
    let next = response.headers().get("x-next-cursor").and_then(|value| value.to_str().ok()).map(str::to_owned);
    Ok((status, response.json().await.unwrap_or(Value::Null), next))
}

fn listed_ids(listing: &Value) -> Vec<String> {
    listing.as_array().into_iter().flatten().filter_map(|op| op["id"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_pages_with_a_cursor_and_counts_what_awaits_the_caller() -> anyhow::Result<()> {
    let backend = LocalBackend::start_with_dir_store(vec![unreachable_cluster(CLUSTER, "Listing")]).await?;
    let records = &backend.state.records;
    let now = now_ms();
    let mut created = Vec::new();
    for (n, by) in [(1, "alice"), (2, "alice"), (3, "bob"), (4, "alice"), (5, "alice")] {
        let op = Operation::new(hex_id(n), request(&hex_id(0xf000 + n), by), now - 10_000 + n * 1_000);
        records.create_operation(&op).await?;
        created.push(op.id);
    }
    set_phase(records, &hex_id(5), Phase::Approved).await?;
    let api = Api::new(backend.url());

    // The badge counts what the inbox lists, by the one permission rule.
    for (user, expected) in [("bob", 3), ("carol", 4), ("admin", 4), ("alice", 0), ("victor", 0)] {
        let (status, count) = api.get("/rescales/awaiting-me/count", user).await?;
        assert_eq!(status, 200, "{count}");
        assert_eq!(count["count"], expected, "{user}: {count}");
        let (_, inbox) = api.get("/rescales?awaiting_me=true", user).await?;
        assert_eq!(listed_ids(&inbox).len(), expected, "{user}'s inbox: {inbox}");
    }
    let (_, active) = api.get("/rescales?phase_group=active", "victor").await?;
    assert_eq!(listed_ids(&active), [hex_id(5)]);

    // Two at a time, newest first, to the last page.
    let mut seen = Vec::new();
    let mut path = "/rescales?limit=2".to_owned();
    loop {
        let (status, listing, next) = get_with_cursor(&api, &path, "victor").await?;
        assert_eq!(status, 200, "{listing}");
        seen.extend(listed_ids(&listing));
        let Some(next) = next else { break };
        path = format!("/rescales?limit=2&cursor={next}");
    }
    assert_eq!(seen, created.iter().rev().cloned().collect::<Vec<_>>());

    // Cursors the server did not hand out, and bad limits: 400 with the envelope.
    for bad in [
        "/rescales?cursor=nonsense",
        "/rescales?cursor=djE6Li4vLi4v",
        "/rescales?limit=0",
        "/audit?cursor=%2E%2E",
        "/rescales?limit=501",
    ] {
        let (status, body) = api.get(bad, "victor").await?;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}: {body}");
    }

    // The audit log pages the same way.
    for n in 0..5 {
        records.audit(&audit_event(now - 5_000 + n as u64, n), &format!("api-{n}")).await?;
    }
    let (status, first, next) = get_with_cursor(&api, "/audit?limit=3", "victor").await?;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first.as_array().map(Vec::len), Some(3));
    let (_, rest, _) =
        get_with_cursor(&api, &format!("/audit?limit=3&cursor={}", next.expect("more")), "victor").await?;
    let actions: Vec<_> = [first, rest]
        .iter()
        .flat_map(|page| page.as_array().cloned().unwrap_or_default())
        .filter_map(|event| event["action"].as_str().map(str::to_owned))
        .filter(|action| action.starts_with("event-"))
        .collect();
    assert_eq!(actions, ["event-4", "event-3", "event-2", "event-1", "event-0"]);
    Ok(())
}
