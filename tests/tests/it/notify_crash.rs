//! A delivery cut off mid-send, on the real S3 server and a real receiver: the reconciler
//! claims the delivery, its POST reaches the receiver, and it stops before the answer is
//! recorded (its future dropped, as when the process dies or the Lambda's time runs out). No
//! other reconciler sends it while the claim holds; once the claim has lapsed, the next one
//! sends it again with the same idempotency key, so the receiver, deduping by
//! `X-Rescaler-Delivery`, acts on the event once; the log then says delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::S3Server;
use harness::webhook_receiver::{WebhookReceiver, stored_request};
use rescaler_backend::config::NotificationsConfig;
use rescaler_backend::notify::{Notifier, routing};
use rescaler_backend::records::Records;
use rescaler_backend::store::{S3Store, Store};
use rescaler_shared::notify::DeliveryStatus;

const SECRET: &str = "crash-hook-secret";

fn config(url: &str) -> anyhow::Result<NotificationsConfig> {
    Ok(serde_json::from_value(serde_json::json!({
        "retry_delays_secs": [1, 1],
        "channels": [{"id": "ops-hook", "kind": "webhook", "url": url, "secret": SECRET}],
        "routes": [{"clusters": ["*"], "events": ["requested"], "channels": ["ops-hook"]}],
    }))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_mid_send_is_sent_again_with_its_key_and_processed_once() -> anyhow::Result<()> {
    harness::init_tracing();
    let receiver = WebhookReceiver::start(SECRET).await?;
    let server = S3Server::start().await?;
    let config = config(&receiver.url())?;
    let bucket = server.fresh_bucket().await?;
    let store: Arc<dyn Store> = Arc::new(S3Store::new(server.client(), bucket, "rescaler"));
    let records = Records::new(store).with_routing(routing(&config));
    let operation = stored_request(&records).await?;
    let (first, second) = (Notifier::new(records.clone(), &config), Notifier::new(records.clone(), &config));

    // The first reconciler's POST arrives; it is cut off while the receiver holds its answer.
    receiver.hold_next(1, Duration::from_secs(5));
    let cut_off = tokio::time::timeout(Duration::from_secs(2), first.deliver_due("reconciler-a")).await;
    assert!(cut_off.is_err(), "the pass was still waiting for the answer");
    assert_eq!(receiver.received().len(), 1, "the POST reached the receiver");
    let log = records.deliveries_of(&operation.id).await?;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Pending, "nothing recorded the answer: {log:#?}");
    assert_eq!(log[0].claimed_by.as_deref(), Some("reconciler-a"), "{log:#?}");
    assert!(log[0].attempts.is_empty(), "{log:#?}");

    // While the claim holds, the other reconciler leaves it alone.
    second.deliver_due("reconciler-b").await;
    assert_eq!(receiver.received().len(), 1, "sent again while claimed: {:#?}", receiver.received());

    // The claim lapses (the store's copy says so, as it would a minute later).
    let key = format!("notifications/{}/0000-ops-hook.json", operation.id);
    let (mut claimed, version) = records.delivery(&key).await?.expect("stored");
    claimed.claimed_until_ms = rescaler_backend::reconcile::now_ms().saturating_sub(1);
    records.replace_delivery(&claimed, &version).await?;
    let started = Instant::now();
    while records.deliveries_of(&operation.id).await?[0].status == DeliveryStatus::Pending {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(20), "not delivered again within 20 s");
        second.deliver_due("reconciler-b").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    assert!(received.iter().all(|received| received.signature_valid), "{received:#?}");
    assert_eq!(received[0].delivery_id, received[1].delivery_id, "the same idempotency key");
    assert_eq!(received[0].body, received[1].body, "the same message");
    assert_eq!(receiver.processed().len(), 1, "processed once");
    let log = &records.deliveries_of(&operation.id).await?[0];
    assert_eq!((log.status, log.attempts.len()), (DeliveryStatus::Delivered, 1), "{log:#?}");
    assert_eq!(log.claimed_by, None, "{log:#?}");
    // Passes after it sends nothing more; the outbox is empty.
    first.deliver_due("reconciler-a").await;
    second.deliver_due("reconciler-b").await;
    assert_eq!(receiver.received().len(), 2);
    assert!(records.pending_deliveries().await?.is_empty());
    Ok(())
}
