//! The approvals inbox lists what its reader may approve now, by the one permission rule: a
//! request whose approval window closed is in nobody's inbox, even before the reconciler marks
//! it expired, and approving it is refused.

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::unreachable_cluster;
use rescaler_backend::reconcile::now_ms;
use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};
use serde_json::{Value, json};

const CLUSTER: &str = "inbox";

fn request(job_id: &str, approval_window_ms: u64) -> OperationRequest {
    OperationRequest {
        cluster_id: CLUSTER.to_owned(),
        job_id: job_id.to_owned(),
        job_name: "counter".to_owned(),
        target: Target::Uniform { parallelism: 2 },
        strategy: Strategy::Auto,
        reason: "traffic".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 2,
        approval_window_ms,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    }
}

fn ids(listing: &Value) -> Vec<String> {
    listing.as_array().into_iter().flatten().filter_map(|op| op["id"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_is_in_nobodys_inbox() -> anyhow::Result<()> {
    // No reconciler: the expired request stays `awaiting_approval` on record.
    let backend = LocalBackend::start_with_dir_store(vec![unreachable_cluster(CLUSTER, "Inbox")]).await?;
    let records = &backend.state.records;
    let now = now_ms();
    let open = Operation::new("0a".repeat(16), request(&"1a".repeat(16), 3_600_000), now);
    let expired = Operation::new("0b".repeat(16), request(&"1b".repeat(16), 1_000), now - 60_000);
    records.create_operation(&open).await?;
    records.create_operation(&expired).await?;
    let api = Api::new(backend.url());

    let (status, all) = api.get("/rescales?phase=awaiting_approval", "victor").await?;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all).len(), 2, "both await approval on record: {all}");
    for approver in ["bob", "carol", "admin"] {
        let (status, inbox) = api.get("/rescales?awaiting_me=true", approver).await?;
        assert_eq!(status, 200, "{inbox}");
        assert_eq!(ids(&inbox), std::slice::from_ref(&open.id), "{approver}'s inbox: {inbox}");
    }
    for nobody in ["alice", "victor"] {
        let (_, inbox) = api.get("/rescales?awaiting_me=true", nobody).await?;
        assert_eq!(ids(&inbox), Vec::<String>::new(), "{nobody} approves nothing: {inbox}");
    }

    // What the inbox leaves out, approving refuses; what it lists, approving takes.
    let (status, refused) = api.post(&format!("/rescales/{}/approve", expired.id), "bob", json!({})).await?;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("conflict")), "{refused}");
    let (status, approved) = api.post(&format!("/rescales/{}/approve", open.id), "bob", json!({})).await?;
    assert_eq!(status, 200, "{approved}");
    // bob approved once; the request still needs carol, and is no longer in bob's inbox.
    let (_, inbox) = api.get("/rescales?awaiting_me=true", "bob").await?;
    assert_eq!(ids(&inbox), Vec::<String>::new(), "{inbox}");
    let (_, inbox) = api.get("/rescales?awaiting_me=true", "carol").await?;
    assert_eq!(ids(&inbox), std::slice::from_ref(&open.id), "{inbox}");
    Ok(())
}
