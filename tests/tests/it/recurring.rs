//! A recurring schedule on real Flink through the API and the local reconcile loop: alice asks
//! for three steps seconds apart (HH:MM:SS, UTC, each on its own day's weekday so a run near
//! midnight works), bob approves once; the first step's target is above the cluster's slots, so
//! its occurrence is skipped by the start's pre-flight with the job untouched; the next two
//! rescale the job to 2 and then 3, each its own request with its own events and savepoint. A
//! signed webhook on loopback hears of the schedule (requested, approved) and of each
//! occurrence's outcome, and gets no second `requested` for them.

use std::time::{Duration, Instant};

use harness::api::Api;
use harness::backend::LocalBackend;
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::webhook_receiver::WebhookReceiver;
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::reconcile::now_ms;
use rescaler_shared::schedule::Weekday;
use serde_json::{Value, json};

/// A step at wall-clock `at_ms` (UTC, to the second) on that day's weekday.
fn step_at(at_ms: u64, parallelism: u32) -> Value {
    let seconds = (at_ms / 1000) % 86_400;
    let weekday = Weekday::ALL[((at_ms / 86_400_000 + 3) % 7) as usize];
    json!({
        "days": [weekday],
        "at": format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60),
        "utc_offset": "Z",
        "target": {"kind": "uniform", "parallelism": parallelism},
        "strategy": "savepoint",
    })
}

/// Polls the schedule until it recorded `count` occurrences and each one's request ended.
async fn occurrences_ended(api: &Api, id: &str, count: usize, timeout: Duration) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, schedule) = api.get(&format!("/schedules/{id}"), "victor").await?;
        let occurrences = schedule["occurrences"].as_array().cloned().unwrap_or_default();
        let mut requests = Vec::new();
        for occurrence in &occurrences {
            match occurrence["operation_id"].as_str() {
                Some(operation_id) => requests.push(api.get(&format!("/rescales/{operation_id}"), "victor").await?.1),
                None => requests.push(occurrence.clone()),
            }
        }
        let ended = requests.iter().all(|request| {
            request.get("phase").is_none_or(|phase| {
                ["completed", "failed", "rolled_back", "expired", "cancelled"]
                    .contains(&phase["phase"].as_str().unwrap_or(""))
            })
        });
        if occurrences.len() >= count && ended {
            return Ok(requests);
        }
        anyhow::ensure!(Instant::now() < deadline, "not {count} ended occurrences in time: {schedule:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn kinds(request: &Value) -> Vec<String> {
    request["events"].as_array().into_iter().flatten().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_approved_once_runs_each_occurrence_as_its_own_request() -> anyhow::Result<()> {
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let slots = rig.flink.slots_total();
    let (job_id, _) = rig.adopt_sample_job(1, &[]).await?;
    let receiver = WebhookReceiver::start("recurring-hook").await?;
    let mut config = TestConfig::new().with_cluster(rig::cluster_config(&rig.flink)).with_savepoint_s3(&rig.s3).build();
    config.notifications = serde_json::from_value(json!({
        "console_url": "http://console.test",
        "channels": [{"id": "hook", "kind": "webhook", "url": receiver.url(), "secret": "recurring-hook"}],
        "routes": [{"clusters": ["*"], "events": ["*"], "channels": ["hook"]}],
    }))?;
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());
    let cluster = rig::CLUSTER_ID;

    // Refused against the live job: a target above its max parallelism, an unknown job.
    let bad =
        json!({"cluster_id": cluster, "job_id": job_id, "steps": [step_at(now_ms() + 60_000, 500)], "reason": "x"});
    let (status, body) = api.post("/schedules", "alice", bad).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unprocessable")), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.starts_with("step 1") && m.contains("128")), "{body}");
    let unknown = json!({"cluster_id": cluster, "job_id": "f".repeat(32), "steps": [step_at(now_ms() + 60_000, 2)], "reason": "x"});
    let (status, body) = api.post("/schedules", "alice", unknown).await?;
    assert_eq!(status, 404, "{body}");

    // Above the slots at the first step (checked when it comes, not refused now), then 2, then 3.
    let start = (now_ms() / 1000 + 1) * 1000;
    let (skip_at, two_at, three_at) = (start + 25_000, start + 40_000, start + 100_000);
    let steps = json!([step_at(skip_at, slots + 4), step_at(two_at, 2), step_at(three_at, 3)]);
    let request = json!({"cluster_id": cluster, "job_id": job_id, "steps": steps, "reason": "nightly load"});
    let (status, schedule) = api.post("/schedules", "alice", request).await?;
    assert_eq!(status, 201, "{schedule}");
    assert_eq!(schedule["state"], "awaiting_approval");
    let id = schedule["id"].as_str().expect("id").to_owned();
    let (status, body) = api.post(&format!("/schedules/{id}/approve"), "alice", Value::Null).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "not her own: {body}");
    let (status, schedule) = api.post(&format!("/schedules/{id}/approve"), "bob", json!({"comment": "ok"})).await?;
    assert_eq!((status, schedule["state"].as_str()), (200, Some("active")), "{schedule}");
    let (_, listed) = api.get("/schedules", "victor").await?;
    assert!(listed.as_array().is_some_and(|all| all.iter().any(|s| s["id"] == id.as_str())), "{listed}");

    let requests = occurrences_ended(&api, &id, 3, Duration::from_secs(240)).await?;
    let (skipped, two, three) = (&requests[0], &requests[1], &requests[2]);

    // The skipped one: its request failed at the start's pre-flight, nothing was changed.
    assert_eq!(skipped["phase"]["phase"], "failed", "{skipped:#}");
    let reason = skipped["phase"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("pre-flight failed") && reason.contains("nothing was changed"), "{reason}");
    assert!(skipped["savepoint"].is_null() && skipped["new_job_id"].is_null(), "Flink untouched: {skipped:#}");
    assert_eq!(kinds(skipped), ["requested", "approved", "approval_complete", "failed"], "{skipped:#}");

    // The two that ran: each its own request, events and savepoint, the job at each target.
    let mut savepoints = Vec::new();
    for (request, parallelism, at_ms) in [(two, 2, two_at), (three, 3, three_at)] {
        assert_eq!(request["phase"]["phase"], "completed", "{request:#}");
        assert_eq!(request["schedule_id"], id.as_str());
        assert_eq!((request["requested_by"].as_str(), request["not_before_ms"].as_u64()), (Some("alice"), Some(at_ms)));
        let events = kinds(request);
        for kind in
            ["requested", "approved", "approval_complete", "execution_started", "savepoint_completed", "verified"]
        {
            assert!(events.iter().any(|event| event == kind), "{kind} missing: {events:?}");
        }
        let messages = request["events"].to_string();
        assert!(messages.contains(&format!("approved through schedule {id} (approved by bob at")), "{messages}");
        let started = request["events"].as_array().into_iter().flatten().find(|e| e["kind"] == "execution_started");
        assert!(
            started.and_then(|e| e["at_ms"].as_u64()).is_some_and(|started| started >= at_ms),
            "not before its time"
        );
        savepoints.push(request["savepoint"]["location"].as_str().expect("a savepoint").to_owned());
        let new_job = request["new_job_id"].as_str().expect("a new job");
        if parallelism == 3 {
            let job = rig.job(new_job).await?;
            assert!(job.vertices.iter().all(|vertex| vertex.parallelism == 3), "{job:?}");
        }
    }
    assert_ne!(savepoints[0], savepoints[1], "each occurrence takes its own savepoint");
    assert_eq!(two["job_id"], job_id.as_str(), "the first run rescales the adopted job");
    assert_eq!(three["job_id"], two["new_job_id"], "the next rescales the job the first left running");
    assert_eq!(rig.running_jobs().await?, vec![three["new_job_id"].as_str().unwrap_or_default().to_owned()]);

    // The schedule stays active, and its audit names each occurrence's request.
    let (_, schedule) = api.get(&format!("/schedules/{id}"), "victor").await?;
    assert_eq!(schedule["state"], "active");
    let created = schedule["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == "occurrence_created");
    assert_eq!(created.count(), 3, "{schedule:#}");
    let (_, audit) = api.get("/audit?limit=200", "victor").await?;
    assert!(audit.to_string().contains(&format!("schedule {id}: bob approved the schedule")), "{audit}");

    // The webhook: the schedule asked for and approved, each occurrence's outcome, once each.
    let wanted = ["schedule_requested", "schedule_approved", "failed", "completed", "completed"];
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.processed().iter().filter(|hook| wanted.contains(&hook.event.as_str())).count() < wanted.len() {
        anyhow::ensure!(Instant::now() < deadline, "notifications: {:#?}", receiver.received());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hooks = receiver.processed();
    assert!(hooks.iter().all(|hook| hook.signature_valid), "{hooks:#?}");
    assert_eq!(hooks.len(), receiver.received().len(), "nothing sent twice: {:#?}", receiver.received());
    let of = |event: &str| hooks.iter().filter(|hook| hook.event == event).collect::<Vec<_>>();
    let asked = of("schedule_requested");
    assert_eq!(asked.len(), 1, "{hooks:#?}");
    assert_eq!(
        (asked[0].body["schedule_id"].as_str(), asked[0].body["requested_by"].as_str()),
        (Some(&*id), Some("alice"))
    );
    assert_eq!(asked[0].body["console_url"], format!("http://console.test/schedules/{id}"));
    assert!(
        asked[0].body["target"].as_str().is_some_and(|steps| steps.contains("parallelism 3")),
        "{:#}",
        asked[0].body
    );
    assert_eq!(of("schedule_approved").len(), 1, "{hooks:#?}");
    assert!(of("requested").is_empty(), "an occurrence sends no second requested: {hooks:#?}");
    let failed = of("failed");
    assert_eq!((failed.len(), failed[0].body["operation_id"].as_str()), (1, skipped["id"].as_str()), "{hooks:#?}");
    assert_eq!(failed[0].body["schedule_id"], id.as_str());
    assert_eq!(of("completed").len(), 2, "{hooks:#?}");
    Ok(())
}

/// Signs `user` in with their token and waits for the top bar to name them.
async fn sign_in(browser: &harness::Browser, base: &str, user: &str) -> anyhow::Result<()> {
    use harness::browser::{PAGE_TIMEOUT, element, texts_until};
    browser.client.goto(base).await?;
    element(&browser.client, "#token-input").await?.send_keys(&format!("{user}-token")).await?;
    element(&browser.client, "#sign-in-button").await?.click().await?;
    texts_until(&browser.client, "#signed-in-user", PAGE_TIMEOUT, |texts| texts[0] == user).await?;
    Ok(())
}

/// Whether the page shows an element matching `css` now.
async fn shows(browser: &harness::Browser, css: &str) -> anyhow::Result<bool> {
    Ok(!browser.client.find_all(fantoccini::Locator::Css(css)).await?.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_schedules_and_shows_only_the_buttons_the_schedule_rule_allows() -> anyhow::Result<()> {
    use harness::browser::{PAGE_TIMEOUT, element, texts_until};
    use rescaler_shared::recurring::{CreateSchedule, RecurringSchedule, ScheduleTerms};
    let _one_console_test = harness::browser::CONSOLE_TEST.lock().await;
    let cluster = harness::config::unreachable_cluster("prod", "Prod");
    let backend = LocalBackend::start_with_dir_store(vec![cluster]).await?;
    let base = backend.url();
    let steps = vec![serde_json::from_value(step_at(now_ms() + 3_600_000, 2))?];
    let request =
        CreateSchedule { cluster_id: "prod".into(), job_id: "e".repeat(32), steps, reason: "evenings".into() };
    let terms = ScheduleTerms {
        id: "d".repeat(32),
        deployment_id: "e".repeat(32),
        job_name: "orders".into(),
        requested_by: "alice".into(),
        required_approvals: 1,
        approval_window_ms: 3_600_000,
        verify_timeout_ms: 60_000,
        stable_for_ms: 10_000,
    };
    let schedule = RecurringSchedule::new(request, terms, now_ms());
    backend.state.records.create_schedule(&schedule).await?;
    let (alice, bob) = tokio::try_join!(harness::Browser::start(), harness::Browser::start())?;
    sign_in(&alice, &base, "alice").await?;
    sign_in(&bob, &base, "bob").await?;

    // alice finds it in the list; on its page she may cancel it, not approve it.
    alice.client.goto(&format!("{base}/schedules")).await?;
    texts_until(&alice.client, "#schedules-table tbody tr", PAGE_TIMEOUT, |rows| rows[0].contains("orders")).await?;
    element(&alice.client, &format!("#schedules-table a[href='/schedules/{}']", schedule.id)).await?.click().await?;
    element(&alice.client, "#cancel-schedule").await?;
    assert!(!shows(&alice, "#approve-schedule").await?, "nobody approves their own schedule");
    alice.screenshot("recurring-alice-schedule").await?;

    // bob's inbox counts alice's schedule and lists it; its link opens the schedule's page.
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "1").await?;
    element(&bob.client, "#nav-inbox").await?.click().await?;
    let item = format!("[data-inbox-schedule='{}']", schedule.id);
    texts_until(&bob.client, &item, PAGE_TIMEOUT, |texts| {
        ["orders", "parallelism 2", "by alice", "evenings", "0 of 1 approvals"]
            .iter()
            .all(|part| texts[0].contains(part))
    })
    .await?;
    bob.screenshot("recurring-bob-inbox").await?;
    element(&bob.client, &format!("a[data-schedule-id='{}']", schedule.id)).await?.click().await?;
    element(&bob.client, "#schedule-approvals").await?;
    assert!(bob.client.current_url().await?.path().ends_with(&format!("/schedules/{}", schedule.id)));

    // bob may approve or reject, not cancel; he approves and the page shows it active.
    let approve = element(&bob.client, "#approve-schedule").await?;
    assert!(shows(&bob, "#reject-schedule").await? && !shows(&bob, "#cancel-schedule").await?);
    approve.click().await?;
    texts_until(&bob.client, "[data-state]", PAGE_TIMEOUT, |states| states[0] == "active").await?;
    texts_until(&bob.client, "#schedule-approvals", PAGE_TIMEOUT, |texts| texts[0].contains("approved by bob")).await?;
    element(&bob.client, "#no-schedule-actions").await?;
    // An approved schedule awaits nobody: the badge counts it no more.
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "0").await?;
    bob.screenshot("recurring-bob-approved").await?;

    // alice's proposal form answers the API's own refusal (this cluster's Flink never answers).
    alice.client.goto(&format!("{base}/schedules")).await?;
    element(&alice.client, "#propose-schedule").await?.click().await?;
    element(&alice.client, "#schedule-reason").await?.send_keys("weekend").await?;
    element(&alice.client, "#submit-schedule").await?.click().await?;
    let refusal = element(&alice.client, "#schedule-form .notice-error").await?.text().await?;
    assert!(!refusal.is_empty(), "the refusal is shown");
    alice.screenshot("recurring-alice-form-refused").await?;
    let (stored, _) = backend.state.records.schedule(&schedule.id).await?.expect("stored");
    assert_eq!(stored.state, rescaler_shared::recurring::ScheduleState::Active);

    // An occurrence's request links back to its schedule.
    let pending = rescaler_shared::recurring::PendingOccurrence {
        at_ms: now_ms(),
        step: 0,
        operation_id: rescaler_shared::recurring::occurrence_operation_id(&stored.id, 1),
        owner: "test".into(),
        until_ms: now_ms(),
    };
    let job =
        rescaler_shared::recurring::OccurrenceJob { job_id: "e".repeat(32), job_name: "orders".into(), artifact: None };
    let occurrence = rescaler_shared::recurring::occurrence_operation(&stored, &pending, job, now_ms());
    backend.state.records.create_operation(&occurrence).await?;
    bob.client.goto(&format!("{base}/rescales/{}", occurrence.id)).await?;
    let link = element(&bob.client, "#schedule-link").await?;
    assert_eq!(link.attr("href").await?.as_deref(), Some(format!("/schedules/{}", stored.id).as_str()));
    alice.close().await?;
    bob.close().await?;
    Ok(())
}
