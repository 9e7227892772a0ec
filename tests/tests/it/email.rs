//! Email notifications for real: an SMTP server on loopback (aiosmtpd) receives the mails of a
//! request run on real Flink — `requested` to those who may approve it, `approved` to the
//! requester, `completed` to both — once per (event, recipient) even with extra delivery
//! passes; a server that is down gets the mail after it comes back, once; Amazon SES through
//! LocalStack sends the same mail (read back from `/_aws/ses`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::S3Server;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::smtp_receiver::{self, Mail, SmtpReceiver};
use harness::webhook_receiver::stored_request;
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::config::{AuthConfig, ChannelConfig, ChannelKind, EmailTransport, NotificationsConfig};
use rescaler_backend::notify::{Notifier, routing_with_people};
use rescaler_backend::records::Records;
use rescaler_backend::store::{DirStore, Store};
use rescaler_shared::notify::{DeliveryStatus, Route};
use serde_json::json;

const FROM: &str = "rescaler@rescaler.test";

/// Every event to one email channel writing to people; `transport` filled in by the caller.
fn notifications(channel: ChannelConfig, retry_delays_secs: Vec<u64>) -> NotificationsConfig {
    NotificationsConfig {
        console_url: Some("http://console.test".to_owned()),
        retry_delays_secs,
        channels: vec![ChannelConfig {
            id: "mail".to_owned(),
            kind: ChannelKind::Email,
            from: Some(format!("Rescaler <{FROM}>")),
            to_people: true,
            ..channel
        }],
        routes: vec![Route { clusters: vec!["*".into()], events: vec!["*".into()], channels: vec!["mail".into()] }],
    }
}

fn smtp(url: &str) -> ChannelConfig {
    ChannelConfig { transport: Some(EmailTransport::Smtp), smtp_url: Some(url.to_owned()), ..ChannelConfig::default() }
}

/// The demo users, with addresses for alice, bob and admin (carol has none; victor only views).
fn users_with_addresses() -> AuthConfig {
    let mut auth = harness::config::demo_users();
    if let AuthConfig::Tokens { users } = &mut auth {
        for user in users.iter_mut().filter(|user| ["alice", "bob", "admin"].contains(&user.name.as_str())) {
            user.email = Some(format!("{}@rescaler.test", user.name));
        }
    }
    auth
}

fn address(name: &str) -> String {
    format!("{name}@rescaler.test")
}

async fn wait_for_mail(receiver: &SmtpReceiver, delivery_id: &str, timeout: Duration) -> anyhow::Result<Mail> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(mail) = receiver.received().into_iter().find(|mail| mail.delivery_id == delivery_id) {
            return Ok(mail);
        }
        anyhow::ensure!(Instant::now() < deadline, "no mail {delivery_id} within {} s", timeout.as_secs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// Mails per (delivery id, recipient): every count must be 1.
fn per_recipient(mails: &[Mail]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for mail in mails {
        for recipient in &mail.rcpt_tos {
            *counts.entry((mail.delivery_id.clone(), recipient.clone())).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_get_the_request_by_mail_and_the_requester_the_decision() -> anyhow::Result<()> {
    let receiver = SmtpReceiver::start().await?;
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let mut config = TestConfig::new().with_console()?.with_cluster(rig::cluster_config(&rig.flink)).build();
    config.auth = users_with_addresses();
    config.notifications = notifications(smtp(&receiver.url()), vec![1, 1]);
    let backend = LocalBackend::start(config.clone(), rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());
    let request = json!({"cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "traffic peak"});
    let (status, created) = api.post("/rescales", "alice", request).await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();

    // Within seconds, to those who may approve: bob (approver) and admin, not alice (the
    // requester), not carol (no address), not victor (a viewer).
    let requested = wait_for_mail(&receiver, &format!("{id}-0000-mail"), Duration::from_secs(10)).await?;
    assert_eq!(sorted(requested.rcpt_tos.clone()), [address("admin"), address("bob")], "{requested:#?}");
    assert_eq!(requested.mail_from, FROM);
    assert!(requested.subject.starts_with("Rescale requested: job "), "{requested:#?}");
    assert!(requested.subject.contains("parallelism 2"), "{requested:#?}");
    assert_eq!(requested.message_id, format!("<{id}-0000-mail@rescaler>"));
    assert!(requested.body.contains("Requested by: alice\nReason: traffic peak"), "{}", requested.body);
    assert!(requested.body.contains(&format!("http://console.test/rescales/{id}")), "{}", requested.body);

    // The delivery log names the recipients, and who had no address.
    let (status, log) = api.get(&format!("/rescales/{id}/deliveries"), "victor").await?;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log[0]["recipients"], json!([address("bob"), address("admin")]), "{log}");
    assert_eq!(log[0]["unaddressed"], json!(["carol"]), "{log}");

    let (status, body) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({"comment": "go"})).await?;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(150);
    let (approved, completed) = loop {
        let mails = receiver.received();
        let find = |prefix: &str| mails.iter().find(|mail| mail.subject.starts_with(prefix)).cloned();
        if let (Some(approved), Some(completed)) = (find("Rescale approved"), find("Rescale completed")) {
            break (approved, completed);
        }
        anyhow::ensure!(Instant::now() < deadline, "no approved and completed mails: {mails:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(approved.rcpt_tos, [address("alice")], "the decision goes to the requester: {approved:#?}");
    assert!(approved.body.contains(&format!("http://console.test/rescales/{id}")), "{}", approved.body);
    let both = [address("admin"), address("alice"), address("bob")];
    assert_eq!(sorted(completed.rcpt_tos.clone()), both, "{completed:#?}");

    // Two more delivery passes (as a second reconciler would run) send nothing again.
    let records = Records::new(rig.records.store().clone())
        .with_routing(routing_with_people(&config.notifications, &config.auth));
    let notifier = Notifier::new(records, &config.notifications);
    for owner in ["reconciler-b", "reconciler-c"] {
        notifier.deliver_due(owner).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = per_recipient(&receiver.received());
    assert!(counts.values().all(|count| *count == 1), "one mail per (event, recipient): {counts:#?}");
    assert_eq!(counts.len(), 2 + 1 + 3 + 3, "requested, approved, started, completed: {counts:#?}");
    Ok(())
}

/// Records in a fresh directory store, routed by `config`, with the demo users' addresses.
fn dir_records(config: &NotificationsConfig) -> anyhow::Result<Records> {
    let store: Arc<dyn Store> = Arc::new(DirStore::open(harness::paths::scratch_dir("email-store")?)?);
    Ok(Records::new(store).with_routing(routing_with_people(config, &users_with_addresses())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_is_down_gets_the_mail_once_it_is_back() -> anyhow::Result<()> {
    harness::init_tracing();
    let mut receiver = SmtpReceiver::start().await?;
    receiver.stop();
    let mut channel = smtp(&receiver.url());
    channel.to = vec!["ops@rescaler.test".to_owned()];
    let config = notifications(channel, vec![1, 1, 1]);
    let records = dir_records(&config)?;
    let operation = stored_request(&records).await?;
    let notifier = Notifier::new(records.clone(), &config);
    let report = notifier.deliver_due("reconciler-a").await;
    assert_eq!(report.failed, 1, "{report:?}");
    let refused = records.deliveries_of(&operation.id).await?;
    let error = refused[0].attempts[0].error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("connect"), "the SMTP error is recorded: {error}");

    receiver.start_again().await?;
    let started = Instant::now();
    while receiver.received().is_empty() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(20), "not delivered after the server came back");
        notifier.deliver_due("reconciler-a").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        notifier.deliver_due("reconciler-a").await;
        notifier.deliver_due("reconciler-b").await;
    }
    let mails = receiver.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    // The fixed address, then the approvers (alice requested, so not her).
    let expected = ["admin@rescaler.test", "bob@rescaler.test", "ops@rescaler.test"];
    assert_eq!(sorted(mails[0].rcpt_tos.clone()), expected, "{mails:#?}");
    let log = records.deliveries_of(&operation.id).await?;
    assert_eq!(log[0].status, DeliveryStatus::Delivered, "{log:#?}");
    assert_eq!(log[0].attempts.len(), 2, "{log:#?}");
    assert_eq!(log[0].recipients, ["ops@rescaler.test", "bob@rescaler.test", "admin@rescaler.test"]);
    assert!(records.pending_deliveries().await?.is_empty());

    // The decision goes to alice alone; a channel writing to nobody known sends nothing.
    let unknown = notifications(smtp(&receiver.url()), vec![1]);
    let nobody = dir_records(&unknown)?;
    let mut stranger = stored_request(&nobody).await?;
    stranger.requested_by = "mallory".into();
    stranger.id = uuid::Uuid::new_v4().simple().to_string();
    stranger.job_id = uuid::Uuid::new_v4().simple().to_string();
    stranger.events.push(rescaler_shared::operation::OperationEvent::by_user(
        rescaler_backend::reconcile::now_ms(),
        "bob",
        rescaler_shared::operation::event_kind::CANCELLED,
        "no",
    ));
    nobody.create_operation(&stranger).await?;
    nobody.audit_operation_events(&stranger, 0).await?;
    let log = nobody.deliveries_of(&stranger.id).await?;
    assert_eq!(log[1].status, DeliveryStatus::Unaddressed, "{log:#?}");
    assert_eq!(log[1].unaddressed, ["mallory"], "{log:#?}");
    assert_eq!(nobody.pending_deliveries().await?.len(), 2, "only the two `requested` mails wait");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_ses_sends_the_request_to_its_approvers() -> anyhow::Result<()> {
    harness::init_tracing();
    let server = S3Server::start_with_ses().await?;
    server.ses_client().verify_email_identity().email_address(FROM).send().await?;
    let channel = ChannelConfig {
        transport: Some(EmailTransport::Ses),
        region: Some(harness::s3::REGION.to_owned()),
        endpoint_url: Some(server.endpoint().to_owned()),
        access_key_id: Some(harness::s3::ACCESS_KEY.to_owned()),
        secret_access_key: Some(harness::s3::SECRET_KEY.to_owned()),
        ..ChannelConfig::default()
    };
    let config = notifications(channel, vec![1]);
    let records = dir_records(&config)?;
    let operation = stored_request(&records).await?;
    let report = Notifier::new(records.clone(), &config).deliver_due("reconciler-a").await;
    let log = records.deliveries_of(&operation.id).await?;
    assert_eq!(report.delivered, 1, "{report:?} {log:#?}");
    let delivery_id = format!("{}-0000-mail", operation.id);
    let sent = server.sent_mails().await?;
    let raw: Vec<_> = sent.iter().filter_map(|mail| mail["RawData"].as_str()).collect();
    anyhow::ensure!(raw.len() == 1, "one mail sent through SES: {sent:#?}");
    let mail = smtp_receiver::parse(raw[0])?;
    assert_eq!(mail.delivery_id, delivery_id, "{mail:#?}");
    assert_eq!(mail.to, "bob@rescaler.test, admin@rescaler.test", "{mail:#?}");
    assert!(mail.subject.starts_with("Rescale requested: job counter on cluster c"), "{mail:#?}");
    assert!(mail.body.contains("Reason: more traffic"), "{}", mail.body);
    assert!(mail.body.contains(&format!("http://console.test/rescales/{}", operation.id)), "{}", mail.body);
    assert_eq!(sent[0]["Source"], FROM, "{sent:#?}");
    Ok(())
}
