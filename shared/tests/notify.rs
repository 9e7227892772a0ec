//! Notifications, pure: which events notify, the routing per cluster and event, the back-off,
//! the record of attempts, and the message text.

mod support;

use rescaler_shared::notify::{
    DEFAULT_RETRY_DELAYS_SECS, Delivery, DeliveryAttempt, DeliveryStatus, Notification, NotifyEvent, Route,
    channels_for, retry_delay, slack_message, unknown_event,
};
use rescaler_shared::operation::{OperationEvent, Strategy, event_kind};
use support::*;

fn route(clusters: &[&str], events: &[&str], channels: &[&str]) -> Route {
    let owned = |list: &[&str]| list.iter().map(|item| (*item).to_owned()).collect();
    Route { clusters: owned(clusters), events: owned(events), channels: owned(channels) }
}

#[test]
fn event_kinds_map_to_the_notifications_they_send() {
    let table = [
        (event_kind::REQUESTED, Some(NotifyEvent::Requested)),
        (event_kind::APPROVED, None),
        (event_kind::APPROVAL_COMPLETE, Some(NotifyEvent::Approved)),
        (event_kind::REJECTED, Some(NotifyEvent::Rejected)),
        (event_kind::CANCELLED, Some(NotifyEvent::Cancelled)),
        (event_kind::EXPIRED, Some(NotifyEvent::Expired)),
        (event_kind::EXECUTION_STARTED, Some(NotifyEvent::Started)),
        (event_kind::STOP_TRIGGERED, None),
        (event_kind::VERIFIED, Some(NotifyEvent::Completed)),
        (event_kind::ROLLED_BACK, Some(NotifyEvent::RolledBack)),
        (event_kind::FAILED, Some(NotifyEvent::Failed)),
    ];
    for (kind, expected) in table {
        assert_eq!(NotifyEvent::of_kind(kind), expected, "{kind}");
    }
    for event in NotifyEvent::ALL {
        let json = serde_json::to_value(event).expect("encode");
        assert_eq!(json, event.as_str(), "wire name = route name");
    }
}

#[test]
fn routes_pick_channels_per_cluster_and_event_each_once() {
    let routes = [
        route(&["*"], &["failed", "rolled_back"], &["pager"]),
        route(&["prod"], &["*"], &["ops", "pager"]),
        route(&["staging"], &["requested"], &["ops"]),
    ];
    let table = [
        ("prod", NotifyEvent::Failed, vec!["ops", "pager"]),
        ("prod", NotifyEvent::Requested, vec!["ops", "pager"]),
        ("staging", NotifyEvent::Requested, vec!["ops"]),
        ("staging", NotifyEvent::Failed, vec!["pager"]),
        ("staging", NotifyEvent::Completed, vec![]),
        ("dev", NotifyEvent::RolledBack, vec!["pager"]),
        ("dev", NotifyEvent::Approved, vec![]),
    ];
    for (cluster, event, expected) in table {
        assert_eq!(channels_for(&routes, cluster, event), expected, "{cluster} {event:?}");
    }
    assert_eq!(unknown_event(&route(&["*"], &["requested", "*"], &["a"])), None);
    assert_eq!(unknown_event(&route(&["*"], &["requested", "done"], &["a"])), Some("done"));
}

#[test]
fn back_off_grows_then_gives_up_after_one_attempt_per_delay_and_one_more() {
    let delays = DEFAULT_RETRY_DELAYS_SECS;
    let table = [(0, None), (1, Some(5)), (2, Some(30)), (3, Some(120)), (4, Some(600)), (5, None), (9, None)];
    for (failed, expected) in table {
        assert_eq!(retry_delay(&delays, failed), expected, "after {failed} failures");
    }
}

fn delivery() -> Delivery {
    let operation = requested(Strategy::Savepoint);
    let id = Delivery::id_of(&operation.id, 0, "hook");
    let notification = Notification::of(&operation, 0, id.clone(), Some("https://console.example/")).expect("notifies");
    Delivery {
        id,
        operation_id: operation.id.clone(),
        event_index: 0,
        channel_id: "hook".into(),
        status: DeliveryStatus::Pending,
        created_at_ms: 1,
        next_attempt_at_ms: 1,
        attempts: Vec::new(),
        claimed_by: None,
        claimed_until_ms: 0,
        notification,
        recipients: Vec::new(),
        unaddressed: Vec::new(),
    }
}

fn failed_at(at_ms: u64) -> DeliveryAttempt {
    DeliveryAttempt { at_ms, status_code: Some(500), error: Some("HTTP 500".into()) }
}

#[test]
fn attempts_back_off_until_delivered_or_given_up() {
    let delays = [1, 10];
    let mut entry = delivery();
    entry.record(failed_at(1_000), &delays);
    assert_eq!((entry.status, entry.next_attempt_at_ms), (DeliveryStatus::Pending, 2_000));
    assert!(!entry.claimable("a", 1_999) && entry.claimable("a", 2_000));
    entry.record(failed_at(2_000), &delays);
    assert_eq!((entry.status, entry.next_attempt_at_ms), (DeliveryStatus::Pending, 12_000));
    let mut delivered = entry.clone();
    delivered.record(DeliveryAttempt { at_ms: 12_000, status_code: Some(204), error: None }, &delays);
    assert_eq!((delivered.status, delivered.attempts.len()), (DeliveryStatus::Delivered, 3));
    assert!(!delivered.claimable("a", u64::MAX));
    entry.record(failed_at(12_000), &delays);
    assert_eq!((entry.status, entry.attempts.len()), (DeliveryStatus::Undeliverable, 3));
}

#[test]
fn a_claim_keeps_other_reconcilers_off_until_it_ends() {
    let mut entry = delivery();
    entry.claimed_by = Some("a".into());
    entry.claimed_until_ms = 5_000;
    assert!(entry.claimable("a", 10) && !entry.claimable("b", 4_999) && entry.claimable("b", 5_000));
}

#[test]
fn messages_name_the_job_target_reason_and_link_to_the_request() {
    let mut operation = requested(Strategy::Savepoint);
    operation.events.push(OperationEvent::by_system(
        9,
        event_kind::FAILED,
        "rollback failed; savepoint at s3://b/sp-1",
    ));
    let notification = Notification::of(&operation, 1, "d".into(), Some("https://console.example/")).expect("notifies");
    assert_eq!(notification.event, NotifyEvent::Failed);
    assert_eq!(
        notification.console_url.as_deref(),
        Some(format!("https://console.example/rescales/{}", operation.id).as_str())
    );
    let headline = notification.headline();
    assert!(headline.starts_with("Rescale failed: job ") && headline.contains(&operation.cluster_id), "{headline}");
    let slack = slack_message(&notification);
    let text = slack["text"].as_str().expect("text");
    assert!(text.contains("/rescales/"), "{text}");
    let blocks = serde_json::to_string(&slack["blocks"]).expect("blocks");
    assert!(
        blocks.contains(&operation.reason) && blocks.contains("s3://b/sp-1") && blocks.contains("Open the request"),
        "{blocks}"
    );
    operation.events.push(OperationEvent::by_system(10, event_kind::STOP_TRIGGERED, "x"));
    assert_eq!(Notification::of(&operation, 2, "d".into(), None), None, "not an event that notifies");
    // A recurring schedule's occurrence: approved with its schedule, so no second `requested`.
    assert_eq!(NotifyEvent::of_event(&operation, 0), Some(NotifyEvent::Requested));
    operation.schedule_id = Some("s1".into());
    assert_eq!(NotifyEvent::of_event(&operation, 0), None);
    assert_eq!(NotifyEvent::of_event(&operation, 1), Some(NotifyEvent::Failed));
}

#[test]
fn an_out_of_band_change_names_the_job_how_it_runs_now_and_links_to_the_job() {
    use rescaler_shared::deployment::Deployment;
    use rescaler_shared::drift::{OutOfBand, Run};
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "id": "f00", "cluster_id": "prod", "name": "counter", "current_job_id": "f00", "lineage": []
    }))
    .expect("a deployment");
    let change = |parallelism: &[(&str, u32)]| OutOfBand {
        at_ms: 42,
        seen: Run {
            job_id: "f00".into(),
            status: None,
            parallelism: parallelism.iter().map(|(vertex, p)| ((*vertex).to_owned(), *p)).collect(),
        },
        message: "job counter changed outside the product: 2 → 3".into(),
        audited: false,
    };
    let uniform =
        Notification::out_of_band(&deployment, &change(&[("a", 3), ("b", 3)]), "oob".into(), Some("https://c.example"));
    assert_eq!(uniform.event, NotifyEvent::OutOfBand);
    assert_eq!(uniform.console_url.as_deref(), Some("https://c.example/clusters/prod/jobs/f00"));
    assert_eq!(uniform.target, "parallelism 3");
    assert_eq!((uniform.at_ms, uniform.message.contains("2 → 3")), (42, true));
    assert!(
        uniform.headline().starts_with("Changed outside the console: job counter on cluster prod"),
        "{}",
        uniform.headline()
    );
    assert!(uniform.details().is_empty(), "no requester, reason or actor: {:?}", uniform.details());
    assert_eq!(uniform.link_label(), "Open the job in the console");
    // The wire form leaves out what only a request has.
    let body = serde_json::to_value(&uniform).expect("json");
    assert!(body.get("operation_id").is_none() && body.get("requested_by").is_none(), "{body}");
    assert_eq!(body["event"], "out_of_band");
    let uneven = Notification::out_of_band(&deployment, &change(&[("a", 2), ("b", 3)]), "oob".into(), None);
    assert!(uneven.target.contains('2') && uneven.target.contains('3'), "{}", uneven.target);
    let blocks = serde_json::to_string(&slack_message(&uniform)["blocks"]).expect("blocks");
    assert!(!blocks.contains("Requested by") && blocks.contains("2 → 3"), "{blocks}");
}
