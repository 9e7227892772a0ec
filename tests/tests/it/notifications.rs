//! Notifications for real: a signed webhook reaches a receiver on loopback (which checks the
//! signature with its own HMAC and the timestamp window) when a request is created through the
//! HTTP API and as it runs on real Flink; a receiver that fails twice gets the message once
//! after retries, the delivery log showing the failures; two reconcilers delivering one outbox
//! on the real S3 server send each event once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::S3Server;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::webhook_receiver::{WebhookReceiver, stored_request};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::config::{ChannelConfig, ChannelKind, NotificationsConfig};
use rescaler_backend::notify::{Notifier, routing};
use rescaler_backend::records::Records;
use rescaler_backend::store::{S3Store, Store};
use rescaler_shared::notify::{DeliveryStatus, Route};
use rescaler_shared::operation::{OperationEvent, event_kind};
use serde_json::json;

const SECRET: &str = "hook-secret-for-tests";

/// Every event of every cluster to one signed webhook, retried after `retry_delays_secs`.
fn notifications(url: &str, retry_delays_secs: Vec<u64>) -> NotificationsConfig {
    NotificationsConfig {
        console_url: Some("http://console.test".to_owned()),
        retry_delays_secs,
        channels: vec![ChannelConfig {
            id: "ops-hook".to_owned(),
            kind: ChannelKind::Webhook,
            url: url.to_owned(),
            secret: Some(SECRET.to_owned()),
            ..ChannelConfig::default()
        }],
        routes: vec![Route { clusters: vec!["*".into()], events: vec!["*".into()], channels: vec!["ops-hook".into()] }],
    }
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        anyhow::ensure!(Instant::now() < deadline, "{what} within {} s", timeout.as_secs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_the_api_reaches_the_webhook_signed_and_each_step_once() -> anyhow::Result<()> {
    let receiver = WebhookReceiver::start(SECRET).await?;
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let mut config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    config.notifications = notifications(&receiver.url(), vec![1, 1]);
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());
    let request = json!({"cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "traffic peak"});
    let (status, created) = api.post("/rescales", "alice", request).await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();

    // Within seconds: `requested`, signed, naming the request, its target and reason.
    wait_until("the requested notification", Duration::from_secs(10), || {
        receiver.accepted().iter().any(|received| received.event == "requested")
    })
    .await?;
    let requested = receiver.accepted().into_iter().find(|received| received.event == "requested").expect("seen");
    assert!(requested.signature_valid);
    assert_eq!(requested.delivery_id, format!("{id}-0000-ops-hook"));
    assert_eq!(requested.body["operation_id"], id.as_str());
    assert_eq!(requested.body["reason"], "traffic peak");
    assert_eq!(requested.body["requested_by"], "alice");
    assert_eq!(requested.body["console_url"], format!("http://console.test/rescales/{id}"));
    assert!(requested.body["target"].as_str().is_some_and(|target| target.contains('2')), "{}", requested.body);

    let (status, body) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({"comment": "ok"})).await?;
    assert_eq!(status, 200, "{body}");
    wait_until("the completed notification", Duration::from_secs(120), || {
        receiver.accepted().iter().any(|received| received.event == "completed")
    })
    .await?;
    // One message per event, each with a valid signature. Deliveries may arrive in any order
    // (each event is its own entry, delivered and retried on its own); the delivery id carries
    // the event's index in the request's history.
    let mut received = receiver.received();
    assert!(received.iter().all(|received| received.signature_valid && received.answered == 204), "{received:#?}");
    received.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
    let events: Vec<_> = received.iter().map(|received| received.event.as_str()).collect();
    assert_eq!(events, ["requested", "approved", "started", "completed"], "{received:#?}");

    // The delivery log: every delivery delivered at its first attempt.
    let (status, log) = api.get(&format!("/rescales/{id}/deliveries"), "victor").await?;
    assert_eq!(status, 200, "{log}");
    let log = log.as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 4, "{log:#?}");
    for delivery in &log {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(1), "{delivery}");
    }
    Ok(())
}

async fn s3_records(server: &S3Server, config: &NotificationsConfig) -> anyhow::Result<Records> {
    let bucket = server.fresh_bucket().await?;
    let store: Arc<dyn Store> = Arc::new(S3Store::new(server.client(), bucket, "rescaler"));
    Ok(Records::new(store).with_routing(routing(config)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_message_once_after_retries() -> anyhow::Result<()> {
    harness::init_tracing();
    let receiver = WebhookReceiver::start(SECRET).await?;
    receiver.fail_next(2);
    let server = S3Server::start().await?;
    let config = notifications(&receiver.url(), vec![1, 1, 1]);
    let records = s3_records(&server, &config).await?;
    let operation = stored_request(&records).await?;
    // The same events audited again (a retried step, the backfill at the end) enqueue nothing new.
    records.audit_operation_events(&operation, 0).await?;
    let notifier = Notifier::new(records.clone(), &config);
    let started = Instant::now();
    loop {
        notifier.deliver_due("reconciler-a").await;
        if !receiver.accepted().is_empty() || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Delivery passes after success send nothing more.
    for _ in 0..3 {
        notifier.deliver_due("reconciler-a").await;
    }
    let received = receiver.received();
    let answers: Vec<_> = received.iter().map(|received| received.answered).collect();
    assert_eq!(answers, [500, 500, 204], "{received:#?}");
    assert!(
        received
            .iter()
            .all(|received| received.signature_valid && received.delivery_id == received.body["delivery_id"])
    );
    assert!(started.elapsed() >= Duration::from_secs(2), "two back-offs of 1 s");
    let log = records.deliveries_of(&operation.id).await?;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    let codes: Vec<_> = log[0].attempts.iter().map(|attempt| attempt.status_code).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(204)], "{log:#?}");
    assert!(log[0].attempts[0].error.as_deref().is_some_and(|error| error.contains("500")), "{log:#?}");
    assert!(records.pending_deliveries().await?.is_empty(), "the outbox is empty");

    // A receiver that never recovers: given up after the last delay, recorded as such.
    receiver.fail_next(usize::MAX);
    let refused = stored_request(&records).await?;
    let started = Instant::now();
    while records.deliveries_of(&refused.id).await?[0].status == DeliveryStatus::Pending {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(20), "not given up within 20 s");
        notifier.deliver_due("reconciler-a").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let given_up = &records.deliveries_of(&refused.id).await?[0];
    assert_eq!((given_up.status, given_up.attempts.len()), (DeliveryStatus::Undeliverable, 4), "{given_up:#?}");
    assert!(records.pending_deliveries().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reconcilers_delivering_one_outbox_send_each_event_once() -> anyhow::Result<()> {
    harness::init_tracing();
    let receiver = WebhookReceiver::start(SECRET).await?;
    // A few failures on the way, so that retries race too.
    receiver.fail_next(3);
    let server = S3Server::start().await?;
    let config = notifications(&receiver.url(), vec![1, 1, 1, 1]);
    let records = s3_records(&server, &config).await?;
    let mut operations = Vec::new();
    for _ in 0..8 {
        let mut operation = stored_request(&records).await?;
        let (_, version) = records.operation(&operation.id).await?.expect("stored");
        operation.events.push(OperationEvent::by_user(
            rescaler_backend::reconcile::now_ms(),
            "bob",
            event_kind::CANCELLED,
            "no",
        ));
        records.replace_operation(&operation, &version).await?;
        // Both reconcilers audit the same new event, as after a lost race or a crash.
        let (a, b) =
            tokio::join!(records.audit_operation_events(&operation, 1), records.audit_operation_events(&operation, 0));
        a?;
        b?;
        operations.push(operation);
    }
    let notifiers: Vec<_> =
        ["reconciler-a", "reconciler-b"].map(|owner| (owner, Arc::new(Notifier::new(records.clone(), &config)))).into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.accepted().len() < 16 && Instant::now() < deadline {
        let passes = notifiers.iter().map(|(owner, notifier)| notifier.deliver_due(owner));
        futures::future::join_all(passes).await;
    }
    // Quiet passes after everything was delivered send nothing more.
    for _ in 0..3 {
        futures::future::join_all(notifiers.iter().map(|(owner, notifier)| notifier.deliver_due(owner))).await;
    }
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for received in receiver.accepted() {
        *accepted.entry(received.delivery_id).or_default() += 1;
    }
    assert_eq!(accepted.len(), 16, "one delivery per (operation, event): {accepted:#?}");
    assert!(accepted.values().all(|count| *count == 1), "{accepted:#?}");
    for operation in &operations {
        let log = records.deliveries_of(&operation.id).await?;
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|delivery| delivery.status == DeliveryStatus::Delivered), "{log:#?}");
    }
    assert_eq!(receiver.received().iter().filter(|received| received.answered == 500).count(), 3);
    Ok(())
}
