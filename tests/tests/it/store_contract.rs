//! One contract for every `Store`: the directory store and the S3 store on LocalStack; and
//! the record layer's one-request-per-job rule raced on both.

use std::sync::Arc;

use bytes::Bytes;
use harness::S3Server;
use rescaler_backend::records::{ActiveMarker, Claim, CreateError, Records};
use rescaler_backend::store::{DirStore, JsonStore, S3Store, Store, StoreError};
use rescaler_shared::operation::{Operation, OperationRequest, Phase, Strategy, Target};

async fn with_s3<F, Fut>(test: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    harness::init_tracing();
    let server = S3Server::start().await?;
    let bucket = server.fresh_bucket().await?;
    let store: Arc<dyn Store> = Arc::new(S3Store::new(server.client(), bucket, "records"));
    test(store).await
}

fn dir_store() -> anyhow::Result<(Arc<dyn Store>, tempdir::Dir)> {
    let dir = tempdir::Dir::new()?;
    Ok((Arc::new(DirStore::open(dir.path())?), dir))
}

/// A temporary directory removed on drop (no extra crate needed).
mod tempdir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> anyhow::Result<Self> {
            Ok(Self(harness::paths::scratch_dir("store")?))
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn basic_contract(store: Arc<dyn Store>) -> anyhow::Result<()> {
    assert!(store.get("operations/missing.json").await?.is_none());
    let first = store.create("operations/a.json", Bytes::from_static(b"{\"n\":1}")).await?;
    let again = store.create("operations/a.json", Bytes::from_static(b"{\"n\":2}")).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "create over an existing key must conflict: {again:?}");
    let (body, version) = store.get("operations/a.json").await?.expect("just created");
    assert_eq!(&body[..], b"{\"n\":1}");
    assert_eq!(version, first);
    let second = store.replace("operations/a.json", Bytes::from_static(b"{\"n\":3}"), &version).await?;
    assert_ne!(second, first);
    let stale = store.replace("operations/a.json", Bytes::from_static(b"{\"n\":4}"), &first).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "a stale version must conflict: {stale:?}");
    let missing = store.replace("operations/zzz.json", Bytes::from_static(b"{}"), &first).await;
    assert!(matches!(missing, Err(StoreError::Conflict { .. })), "replacing a missing key must conflict: {missing:?}");
    store.create("operations/b.json", Bytes::from_static(b"{}")).await?;
    store.create("audit/x.json", Bytes::from_static(b"{}")).await?;
    assert_eq!(store.list("operations/").await?, vec!["operations/a.json", "operations/b.json"]);
    store.delete("operations/b.json").await?;
    store.delete("operations/b.json").await?;
    assert_eq!(store.list("operations/").await?, vec!["operations/a.json"]);
    let bad = store.get("../etc/passwd").await;
    assert!(matches!(bad, Err(StoreError::InvalidKey { .. })), "{bad:?}");
    let typed: Option<(serde_json::Value, _)> = store.get_json("operations/a.json").await?;
    assert_eq!(typed.expect("exists").0["n"], 3);
    Ok(())
}

/// `list_page`: at most `limit` keys under the prefix, after `start_after`, in `list`'s order,
/// across S3's 1000-key pages.
async fn list_page_contract(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let keys: Vec<String> = (0..1_205).map(|n| format!("paged/{n:05}")).collect();
    let writes = keys.iter().map(|key| store.create(key, Bytes::from_static(b"{}")));
    futures::future::try_join_all(writes).await?;
    store.create("paged-other/0", Bytes::from_static(b"{}")).await?;
    store.create("pag", Bytes::from_static(b"{}")).await?;
    assert_eq!(store.list_page("paged/", None, 3).await?, keys[..3]);
    assert_eq!(store.list_page("paged/", Some("paged/00002"), 2).await?, keys[3..5]);
    // Starting after a key that is not stored: the next one that is.
    assert_eq!(store.list_page("paged/", Some("paged/00002x"), 1).await?, keys[3..4]);
    assert_eq!(store.list_page("paged/", Some("paged/00990"), 1_100).await?, keys[991..]);
    assert_eq!(store.list_page("paged/", Some("paged/01204"), 10).await?, Vec::<String>::new());
    assert_eq!(store.list_page("paged/", None, 5_000).await?, store.list("paged/").await?);
    assert_eq!(store.list_page("paged/", None, 5_000).await?.len(), 1_205);
    Ok(())
}

/// Many writers create the same key at once: exactly one wins each key.
async fn create_race(store: Arc<dyn Store>, keys: usize, writers: usize) -> anyhow::Result<()> {
    for key_index in 0..keys {
        let key = format!("races/create-{key_index}.json");
        let attempts = (0..writers).map(|writer| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move { store.create(&key, Bytes::from(format!("{{\"writer\":{writer}}}"))).await })
        });
        let mut winners = Vec::new();
        for (writer, attempt) in futures::future::join_all(attempts).await.into_iter().enumerate() {
            match attempt? {
                Ok(_) => winners.push(writer),
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => anyhow::bail!("unexpected error in a create race: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "key {key}: winners {winners:?}");
        let (body, _) = store.get(&key).await?.expect("created");
        assert_eq!(body, Bytes::from(format!("{{\"writer\":{}}}", winners[0])), "the stored body is the winner's");
    }
    Ok(())
}

/// Writers increment one counter with read + compare-and-swap + retry: no update is lost.
async fn compare_and_swap_race(store: Arc<dyn Store>, writers: u64, increments: u64) -> anyhow::Result<()> {
    let key = "races/counter.json";
    store.create_json(key, &serde_json::json!({"count": 0, "by": []})).await?;
    let tasks = (0..writers).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..increments {
                loop {
                    let (mut value, version): (serde_json::Value, _) =
                        store.get_json(key).await?.expect("counter exists");
                    let count = value["count"].as_u64().expect("count");
                    value["count"] = (count + 1).into();
                    value["by"].as_array_mut().expect("by").push(writer.into());
                    match store.replace_json(key, &value, &version).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => return Err(anyhow::Error::from(other)),
                    }
                }
            }
            anyhow::Ok(conflicts)
        })
    });
    let mut conflicts = 0;
    for result in futures::future::join_all(tasks).await {
        conflicts += result??;
    }
    let (value, _): (serde_json::Value, _) = store.get_json(key).await?.expect("counter exists");
    assert_eq!(value["count"].as_u64(), Some(writers * increments), "lost updates");
    assert_eq!(value["by"].as_array().map(Vec::len), Some((writers * increments) as usize));
    // The race was real: writers collided and had to retry.
    assert!(conflicts > 0, "no conflict happened: the race test raced nothing");
    Ok(())
}

/// A request by alice for `job_id` (no deployment: the job is what may have one request).
fn rescale_request(job_id: &str) -> Operation {
    Operation::new(
        uuid::Uuid::new_v4().simple().to_string(),
        OperationRequest {
            cluster_id: "race".into(),
            job_id: job_id.into(),
            job_name: "counter".into(),
            target: Target::Uniform { parallelism: 2 },
            strategy: Strategy::Auto,
            reason: "race".into(),
            requested_by: "alice".into(),
            required_approvals: 1,
            approval_window_ms: 60_000,
            verify_timeout_ms: 60_000,
            artifact: None,
            autoscaling: None,
        },
        1,
    )
}

/// What the job's marker holds before a round: nothing, the marker of a request that ended, or
/// the claim of a create that crashed before it stored its request.
async fn leave_before_round(records: &Records, round: usize, job_id: &str) -> anyhow::Result<()> {
    match round % 3 {
        0 => {}
        1 => {
            let earlier = rescale_request(job_id);
            records.create_operation(&earlier).await?;
            let (mut ended, version) = records.operation(&earlier.id).await?.expect("just created");
            ended.enter(Phase::Cancelled { by: "alice".into(), comment: "earlier".into() }, 2);
            records.replace_operation(&ended, &version).await?;
        }
        _ => {
            let crashed = ActiveMarker { operation_id: "0".repeat(32), claim: Claim::Pending };
            records.store().create_json(&format!("active/race/{job_id}.json"), &crashed).await?;
        }
    }
    Ok(())
}

/// Rounds of `creators` concurrent requests for one job each: every round exactly one is
/// stored and answered with success, the others are told the job is busy with the winner.
async fn request_create_race(store: Arc<dyn Store>, rounds: usize, creators: usize) -> anyhow::Result<()> {
    let records = Records::new(store);
    for round in 0..rounds {
        let job_id = uuid::Uuid::new_v4().simple().to_string();
        leave_before_round(&records, round, &job_id).await?;
        let requests: Vec<Operation> = (0..creators).map(|_| rescale_request(&job_id)).collect();
        let creates = requests.iter().cloned().map(|request| {
            let records = records.clone();
            tokio::spawn(async move { records.create_operation(&request).await })
        });
        let answers = futures::future::join_all(creates).await;
        let mut winners = Vec::new();
        let mut busy_with = Vec::new();
        for (request, answer) in requests.iter().zip(answers) {
            match answer? {
                Ok(_) => winners.push(request.id.clone()),
                Err(CreateError::JobBusy { operation_id, .. }) => busy_with.push(operation_id),
                Err(other) => anyhow::bail!("round {round}: unexpected error: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: one create succeeds, not {winners:?}");
        assert!(
            busy_with.iter().all(|holder| *holder == winners[0]),
            "round {round}: losers name the winner: {busy_with:?}"
        );
        for request in &requests {
            let stored = records.operation(&request.id).await?.is_some();
            assert_eq!(stored, request.id == winners[0], "round {round}: request {} stored: {stored}", request.id);
        }
        let marker = records.store().get_json::<ActiveMarker>(&format!("active/race/{job_id}.json")).await?;
        assert_eq!(
            marker.map(|(marker, _)| marker),
            Some(ActiveMarker { operation_id: winners[0].clone(), claim: Claim::Confirmed })
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_store_concurrent_requests_for_one_job_store_exactly_one() -> anyhow::Result<()> {
    let (store, _dir) = dir_store()?;
    request_create_race(store, 30, 4).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_job_on_a_real_s3_server_store_exactly_one() -> anyhow::Result<()> {
    with_s3(|store| async move {
        request_create_race(store.clone(), 60, 2).await?;
        request_create_race(store, 30, 5).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_store_honours_the_contract() -> anyhow::Result<()> {
    let (store, _dir) = dir_store()?;
    basic_contract(store.clone()).await?;
    list_page_contract(store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_store_create_race_has_exactly_one_winner() -> anyhow::Result<()> {
    let (store, _dir) = dir_store()?;
    create_race(store, 20, 16).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_store_compare_and_swap_race_loses_no_update() -> anyhow::Result<()> {
    let (store, _dir) = dir_store()?;
    compare_and_swap_race(store, 8, 15).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_on_a_real_server_honours_the_contract_and_its_races() -> anyhow::Result<()> {
    // One server for the three checks: LocalStack takes seconds to start.
    with_s3(|store| async move {
        basic_contract(store.clone()).await?;
        list_page_contract(store.clone()).await?;
        create_race(store.clone(), 20, 16).await?;
        compare_and_swap_race(store, 8, 10).await
    })
    .await
}
