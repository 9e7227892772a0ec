//! The job page's load history and recommendation end to end, in two headless Chromium sessions
//! on real Flink: the load-test job runs at parallelism 1 with more records than one Work
//! subtask takes; the local backend's reconcile loop samples it until the recommendation says to
//! scale Work up to the size its rate and cost predict; alice's job page draws the stored history
//! at first paint, shows the recommendation with its reason, and its button fills the rescale
//! form; bob approves in his inbox, the savepoint rescale completes, and afterwards the
//! recommendation, from samples of the settled new job only, says no change while Work no longer
//! back-pressures the source, and the charts mark the rescale. Each step leaves a screenshot
//! under `target/test-artifacts/screenshots/console-recommendation-*.png`.
//!
//! Flink 1.20, default scheduler: the recommended change is per vertex (the source runs at 1, set
//! in code), and Flink 2.0–2.3 ignore per-vertex overrides on a resubmit, so there pre-flight
//! refuses such a target with the savepoint strategy (`per_vertex_needs_in_place`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fantoccini::Client;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::browser::{PAGE_TIMEOUT, element, texts_until};
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::{Browser, FlinkOptions, Scheduler};
use rescaler_shared::flink::JobView;
use serde_json::Value;

use crate::console_e2e::{scroll_to, sign_in, wait_for_phase};

/// Records per second the source emits (through its rate file).
const RATE: f64 = 1200.0;
/// Microseconds of work per record in Work: one subtask takes at most 1e6 / COST_US a second.
const COST_US: f64 = 1000.0;
/// Work's key groups (the job's max parallelism): a keyed target divides it.
const KEY_GROUPS: u32 = 128;
/// Flink's per-second metrics average this window.
const FLINK_WINDOW_MS: u64 = 60_000;
/// Samples after a rescale count for the recommendation only after this: Flink's window, one
/// sample and slack for its metric fetch (the policy's default, 5 min, only makes the test longer).
const STABILISATION_MS: u64 = 120_000;
/// How long the loop may take to sample enough for a recommendation.
const RECOMMENDATION_TIMEOUT: Duration = Duration::from_secs(420);
/// Seconds between the console's live samples (`metrics::SAMPLE_EVERY` in the console).
const LIVE_SAMPLE_EVERY_S: u64 = 5;
/// How long the approved rescale may take on real Flink.
const RESCALE_TIMEOUT: Duration = Duration::from_secs(240);

/// The samples that describe a job's settled run: taken a full metric window and one sample
/// interval after it began running; never assert on an earlier one.
#[derive(Debug, Clone, Copy)]
struct Fresh {
    since_ms: u64,
}

impl Fresh {
    fn of(job: &JobView) -> Self {
        let running_since = job.running_since_ms.unwrap_or(job.start_time_ms);
        let interval_ms = rescaler_backend::sampler::SAMPLE_INTERVAL.as_millis() as u64;
        Self { since_ms: running_since + FLINK_WINDOW_MS + interval_ms }
    }

    /// The stored samples of `job_id` in `history` (a `/history` answer) this admits.
    fn samples<'a>(&self, history: &'a Value, job_id: &str) -> Vec<&'a Value> {
        let samples = history["history"]["samples"].as_array().map(Vec::as_slice).unwrap_or_default();
        samples
            .iter()
            .filter(|sample| sample["job"] == job_id && sample["t"].as_u64().is_some_and(|at| at >= self.since_ms))
            .collect()
    }
}

/// What the test knows of the running pieces.
struct Setup {
    rig: Rig,
    backend: LocalBackend,
    api: Api,
}

/// The id of the vertex of `job` whose name contains `name`.
fn vertex_id(job: &JobView, name: &str) -> anyhow::Result<String> {
    let vertex = job.vertices.iter().find(|vertex| vertex.name.contains(name));
    Ok(vertex.with_context(|| format!("no vertex like {name} in {job:?}"))?.id.clone())
}

/// One vertex's figure `key` in a stored sample.
fn figure(sample: &Value, vertex_id: &str, key: &str) -> Option<f64> {
    let vertices = sample["v"].as_array()?;
    vertices.iter().find(|vertex| vertex["id"] == vertex_id)?[key].as_f64()
}

/// The average of `key` of the vertex over `samples`.
fn average(samples: &[&Value], vertex_id: &str, key: &str) -> anyhow::Result<f64> {
    let values: Vec<f64> = samples.iter().filter_map(|sample| figure(sample, vertex_id, key)).collect();
    anyhow::ensure!(!values.is_empty(), "no {key} of {vertex_id} in {samples:?}");
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// The parallelism `vertex_id` runs at in `job`, as JSON.
fn job_parallelism(job: &JobView, vertex_id: &str) -> Value {
    job.vertices.iter().find(|vertex| vertex.id == vertex_id).map_or(Value::Null, |vertex| vertex.parallelism.into())
}

/// The recommendation's entry for a vertex.
fn recommended<'a>(answer: &'a Value, vertex_id: &str) -> anyhow::Result<&'a Value> {
    let vertices = answer["recommendation"]["vertices"].as_array().context("no vertices")?;
    vertices.iter().find(|vertex| vertex["id"] == vertex_id).with_context(|| format!("{vertex_id} in {answer}"))
}

/// Work's parallelism as the load test predicts it under `policy`: the subtasks that take RATE at
/// the policy's target utilisation, rounded up to a divisor of its key groups.
fn expected_work_target(policy: &Value) -> anyhow::Result<u32> {
    let utilisation = policy["target_utilisation"].as_f64().context("no target utilisation")?;
    let subtasks = (RATE * COST_US / 1e6 / utilisation).ceil() as u32;
    Ok((subtasks.max(1)..=KEY_GROUPS).find(|count| KEY_GROUPS.is_multiple_of(*count)).unwrap_or(KEY_GROUPS))
}

/// Reads `path` as alice until `done` holds for the answer.
async fn get_until(api: &Api, path: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, answer) = api.get(path, "alice").await?;
        anyhow::ensure!(status == 200, "{path} answered {status}: {answer}");
        if done(&answer) {
            return Ok(answer);
        }
        anyhow::ensure!(Instant::now() < deadline, "{path} never as awaited within {timeout:?}; last: {answer}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn screenshot(browser: &Browser, step: &str) -> anyhow::Result<()> {
    browser.screenshot(&format!("console-recommendation-{step}")).await?;
    Ok(())
}

/// An attribute of the element matching `css`, once the page shows it.
async fn attribute(client: &Client, css: &str, name: &str) -> anyhow::Result<String> {
    let found = element(client, css).await?;
    found.attr(name).await?.with_context(|| format!("{css} has no {name}"))
}

/// The value of the input matching `css` once `accept` holds for it (within [`PAGE_TIMEOUT`]).
async fn value_until(client: &Client, css: &str, accept: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let value = element(client, css).await?.prop("value").await?.unwrap_or_default();
        if accept(&value) {
            return Ok(value);
        }
        anyhow::ensure!(Instant::now() < deadline, "{css} never took the awaited value; it holds {value:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Flink with small network buffers (a back-pressured source shows it within seconds, as in
/// `load_test_job.rs`), the load-test job adopted at parallelism 1, and the backend with its loop.
async fn start() -> anyhow::Result<(Setup, String)> {
    let options = FlinkOptions {
        extra_config: BTreeMap::from([("taskmanager.memory.segment-size".to_owned(), "4kb".to_owned())]),
        ..FlinkOptions::default().with_version("1.20.5").with_scheduler(Scheduler::Default)
    };
    let rig = Rig::start(options).await?;
    let rate_file = harness::paths::scratch_dir("console-recommendation-rate")?.join("rate");
    std::fs::write(&rate_file, format!("{RATE}\n"))?;
    let (rate, rate_path, cost) = (RATE.to_string(), rate_file.display().to_string(), COST_US.to_string());
    let args = ["--rate", rate.as_str(), "--rate-file", rate_path.as_str(), "--cost-us", cost.as_str()];
    let entry_class = harness::sample_job::LOAD_TEST_ENTRY_CLASS;
    let (job_id, _) =
        rig::adopt_sample_job_class(&rig.records, rig.client.as_ref(), &rig.flink, entry_class, 1, &args).await?;
    let mut cluster = rig::cluster_config(&rig.flink);
    cluster.recommendations.policy.stabilisation_ms = STABILISATION_MS;
    let config = TestConfig::new().with_console()?.with_cluster(cluster).build();
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let api = Api::new(backend.url());
    Ok((Setup { rig, backend, api }, job_id))
}

/// Step 1: the loop samples the saturated job until the recommendation, resting on settled
/// samples, says scale up; Work's target is the predicted one (±1). Answers the recommendation.
async fn await_scale_up(setup: &Setup, job: &JobView, work: &str, source: &str) -> anyhow::Result<Value> {
    let fresh = Fresh::of(job);
    let job_path = format!("/clusters/{}/jobs/{}", rig::CLUSTER_ID, job.id);
    let answer = get_until(&setup.api, &format!("{job_path}/recommendation"), RECOMMENDATION_TIMEOUT, |answer| {
        answer["recommendation"]["verdict"] == "scale_up"
            && answer["to_ms"].as_u64().is_some_and(|to| to >= fresh.since_ms)
    })
    .await?;
    println!("before the rescale: {}", serde_json::to_string_pretty(&answer)?);
    let expected = expected_work_target(&answer["policy"])?;
    let target = recommended(&answer, work)?["target"].as_u64().context("Work's target")? as u32;
    assert!(target.abs_diff(expected) <= 1, "Work's target {target}, predicted {expected}: {answer}");
    assert_eq!(recommended(&answer, source)?["target"], 1, "the source keeps up: {answer}");
    let (_, history) = setup.api.get(&format!("{job_path}/history"), "alice").await?;
    let settled = fresh.samples(&history, &job.id);
    anyhow::ensure!(!settled.is_empty(), "no settled sample stored: {history}");
    let (work_busy, source_backpressure) = (average(&settled, work, "b")?, average(&settled, source, "bp")?);
    println!("settled at p=1: Work busy {work_busy} ms/s, Source back-pressured {source_backpressure} ms/s");
    assert!(work_busy >= 800.0, "Work is saturated at p=1: {work_busy} ms/s");
    assert!(source_backpressure >= 300.0, "Work back-pressures the source: {source_backpressure} ms/s");
    Ok(answer)
}

/// Step 2: alice's job page draws the stored history at first paint, shows the recommendation,
/// and its button fills the form, which she submits. Answers the request's id.
async fn alice_requests(
    setup: &Setup,
    alice: &Browser,
    job: &JobView,
    work: &str,
    target: u64,
) -> anyhow::Result<String> {
    let client = &alice.client;
    let job_path = format!("/clusters/{}/jobs/{}", rig::CLUSTER_ID, job.id);
    let (_, history) = setup.api.get(&format!("{job_path}/history"), "alice").await?;
    let with_rate: Vec<u64> = history["history"]["samples"]
        .as_array()
        .context("samples")?
        .iter()
        .filter(|sample| figure(sample, work, "i").is_some())
        .filter_map(|sample| sample["t"].as_u64())
        .collect();
    anyhow::ensure!(with_rate.len() >= 3, "fewer than three stored samples: {history}");
    sign_in(alice, &setup.backend.url(), "alice", true).await?;
    let opened_ms = rescaler_backend::reconcile::now_ms();
    let opened = Instant::now();
    element(client, &format!("a[data-job-id='{}']", job.id)).await?.click().await?;
    let line = "#chart-throughput polyline[data-series^='Work'][data-first-ms]";
    let points: usize = attribute(client, line, "data-points").await?.parse()?;
    let first_ms: u64 = attribute(client, line, "data-first-ms").await?.parse()?;
    let live_at_most = opened.elapsed().as_secs() / LIVE_SAMPLE_EVERY_S + 1;
    println!("first paint: {points} points from {first_ms}; {} stored; {live_at_most} live at most", with_rate.len());
    assert_eq!(
        first_ms, with_rate[0],
        "the line starts at the first stored sample, before the page opened ({opened_ms})"
    );
    assert!(points >= with_rate.len(), "{points} points, {} stored", with_rate.len());
    assert!(points as u64 > live_at_most, "more points than live polls could have taken");
    screenshot(alice, "alice-01-job-page-history").await?;

    // The recommendation: scale up, Work's row with its target and the reason.
    element(client, "#recommendation-summary[data-verdict='scale_up']").await?;
    let row = format!("#recommendation-table tr[data-vertex-id='{work}']");
    assert_eq!(attribute(client, &row, "data-target").await?, target.to_string());
    let reason = element(client, &format!("{row} .recommendation-reason")).await?.text().await?;
    assert!(reason.contains("Work") && reason.contains("busy"), "Work's reason: {reason:?}");
    scroll_to(client, "#recommendation-panel").await?;
    screenshot(alice, "alice-02-recommendation").await?;

    // Its button fills the form: Work at the target, the source as it runs, a reason.
    element(client, "#request-recommended").await?.click().await?;
    let work_input = format!("#rescale-form input[data-vertex-id='{work}']");
    value_until(client, &work_input, |value| value == target.to_string()).await?;
    for vertex in job.vertices.iter().filter(|vertex| vertex.id != work) {
        let input = format!("#rescale-form input[data-vertex-id='{}']", vertex.id);
        value_until(client, &input, |value| value == vertex.parallelism.to_string()).await?;
    }
    let filled = value_until(client, "#rescale-reason", |value| !value.trim().is_empty()).await?;
    assert!(filled.starts_with("Recommended: scale up") && filled.contains(&reason), "the reason: {filled:?}");
    element(client, "#strategy-savepoint").await?.click().await?;
    element(client, "#preflight-result[data-state='ok']").await?;
    scroll_to(client, "#preflight-result").await?;
    screenshot(alice, "alice-03-form-filled").await?;
    element(client, "#submit-rescale:not([disabled])").await?.click().await?;
    wait_for_phase(client, "awaiting_approval", PAGE_TIMEOUT).await?;
    let url = client.current_url().await?;
    Ok(url.path().trim_start_matches("/rescales/").to_owned())
}

/// Step 3: bob approves from his inbox after the confirmation; the savepoint rescale completes.
/// Answers the new Flink job's id, which alice's page leads to.
async fn bob_approves(
    setup: &Setup,
    browsers: (&Browser, &Browser),
    operation_id: &str,
    target: u64,
) -> anyhow::Result<String> {
    let (alice, bob) = browsers;
    sign_in(bob, &setup.backend.url(), "bob", true).await?;
    texts_until(&bob.client, "#inbox-count", PAGE_TIMEOUT, |texts| texts[0] == "1").await?;
    element(&bob.client, "#nav-inbox").await?.click().await?;
    element(&bob.client, &format!("a[data-operation-id='{operation_id}']")).await?.click().await?;
    element(&bob.client, "#approve-button").await?.click().await?;
    element(&bob.client, "#decision-confirm #preflight-result[data-state='ok']").await?;
    let confirmation = element(&bob.client, "#decision-confirm").await?.text().await?;
    let plan = format!("1 → {target}");
    assert!(confirmation.contains(&plan) && confirmation.contains("savepoint"), "{confirmation:?}");
    scroll_to(&bob.client, "#decision-confirm").await?;
    screenshot(bob, "bob-01-approval-confirmation").await?;
    element(&bob.client, "#confirm-decision:not([disabled])").await?.click().await?;
    wait_for_phase(&bob.client, "completed", RESCALE_TIMEOUT).await?;
    screenshot(bob, "bob-02-request-completed").await?;
    wait_for_phase(&alice.client, "completed", PAGE_TIMEOUT).await?;
    element(&alice.client, "#current-job-link").await?.click().await?;
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let url = alice.client.current_url().await?;
        if let Some(job_id) = url.path().rsplit('/').next().filter(|id| url.path().contains("/jobs/") && id.len() == 32)
        {
            return Ok(job_id.to_owned());
        }
        anyhow::ensure!(Instant::now() < deadline, "alice's page never led to the new job: {url}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The times of the stored samples of the new `job` that its recommendation counts: from its
/// rescale plus `stabilisation_ms` on, and fresh (none until the history shows the rescale).
fn usable_samples(history: &Value, job: &JobView, work: &str, stabilisation_ms: u64) -> Vec<u64> {
    let rescale = history["rescales"].as_array().and_then(|rescales| rescales.last());
    let rescaled_ms = rescale.filter(|rescale| rescale["vertices"][work]["after"] == job_parallelism(job, work));
    let Some(rescaled_ms) = rescaled_ms.and_then(|rescale| rescale["at_ms"].as_u64()) else { return Vec::new() };
    let fresh = Fresh { since_ms: Fresh::of(job).since_ms.max(rescaled_ms + stabilisation_ms) };
    fresh.samples(history, &job.id).iter().filter_map(|sample| sample["t"].as_u64()).collect()
}

/// Step 4: once the new job's history holds enough samples the recommendation counts, it says
/// no change; Work is neither saturated nor back-pressured, nor is the source; the charts mark
/// the rescale.
async fn after_the_rescale(
    setup: &Setup,
    alice: &Browser,
    job: &JobView,
    vertices: (&str, &str),
) -> anyhow::Result<()> {
    let (work, source) = vertices;
    let job_path = format!("/clusters/{}/jobs/{}", rig::CLUSTER_ID, job.id);
    let (_, answer) = setup.api.get(&format!("{job_path}/recommendation"), "alice").await?;
    let min_samples = answer["policy"]["min_samples"].as_u64().context("min_samples")? as usize;
    let stabilisation_ms = answer["policy"]["stabilisation_ms"].as_u64().context("stabilisation")?;
    let interval_ms = rescaler_backend::sampler::SAMPLE_INTERVAL.as_millis() as u64;
    assert!(stabilisation_ms >= FLINK_WINDOW_MS + interval_ms, "the policy counts unsettled samples");
    let history = get_until(&setup.api, &format!("{job_path}/history"), RECOMMENDATION_TIMEOUT, |history| {
        usable_samples(history, job, work, stabilisation_ms).len() >= min_samples
    })
    .await?;
    let last_usable = usable_samples(&history, job, work, stabilisation_ms).last().copied().unwrap_or(u64::MAX);
    let (_, answer) = setup.api.get(&format!("{job_path}/recommendation"), "alice").await?;
    println!("after the rescale: {}", serde_json::to_string_pretty(&answer)?);
    assert!(answer["to_ms"].as_u64().is_some_and(|to| to >= last_usable), "{answer}");
    let work_now = recommended(&answer, work)?;
    let counted = work_now["figures"]["samples"].as_u64().unwrap_or_default() as usize;
    assert!(counted >= min_samples, "Work sized from {counted} samples: {answer}");
    assert_eq!(answer["recommendation"]["verdict"], "no_change", "{answer}");
    assert_eq!(work_now["target"], work_now["current"], "{work_now}");
    let settled = Fresh::of(job).samples(&history, &job.id);
    let (work_busy, work_backpressure) = (average(&settled, work, "b")?, average(&settled, work, "bpx")?);
    let source_backpressure = average(&settled, source, "bpx")?;
    println!("settled: Work busy {work_busy}, back-pressured {work_backpressure}; Source {source_backpressure} ms/s");
    assert!(work_backpressure < 50.0, "Work is not back-pressured: {work_backpressure} ms/s");
    assert!(source_backpressure < 100.0, "Work no longer back-pressures the source: {source_backpressure} ms/s");
    let expected_busy = RATE * COST_US / 1e3 / work_now["current"].as_f64().context("current")?;
    assert!((work_busy - expected_busy).abs() <= expected_busy * 0.25, "Work busy {work_busy}, not {expected_busy}");

    // alice's page, read afresh: the rescale marked on both charts, the recommendation no change.
    alice.client.refresh().await?;
    let label = format!("1→{}", job_parallelism(job, work));
    let css = "#chart-busy .chart-marker text";
    let markers = texts_until(&alice.client, css, PAGE_TIMEOUT, |labels| labels.contains(&label)).await?;
    assert_eq!(markers.len(), 1, "one rescale marked: {markers:?}");
    element(&alice.client, "#chart-throughput .chart-marker").await?;
    scroll_to(&alice.client, "#chart-busy").await?;
    screenshot(alice, "alice-04-new-job-rescale-marked").await?;
    element(&alice.client, "#recommendation-summary[data-verdict='no_change']").await?;
    scroll_to(&alice.client, "#recommendation-panel").await?;
    screenshot(alice, "alice-05-no-change").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_job_is_recommended_a_scale_up_requested_from_the_console_approved_and_then_fits()
-> anyhow::Result<()> {
    let _one_console_test = harness::browser::CONSOLE_TEST.lock().await;
    let (setup, job_id) = start().await?;
    let job = setup.rig.job(&job_id).await?;
    let (work, source) = (vertex_id(&job, "Work")?, vertex_id(&job, "Source")?);
    let answer = await_scale_up(&setup, &job, &work, &source).await?;
    let target = recommended(&answer, &work)?["target"].as_u64().context("target")?;
    let (alice, bob) = tokio::try_join!(Browser::start(), Browser::start())?;
    let operation_id = alice_requests(&setup, &alice, &job, &work, target).await?;

    let new_job_id = bob_approves(&setup, (&alice, &bob), &operation_id, target).await?;
    assert_ne!(new_job_id, job_id, "a savepoint rescale runs a new Flink job");
    let new_job = setup.rig.job(&new_job_id).await?;
    assert_eq!(new_job.status, rescaler_shared::flink::JobStatus::Running);
    let parallelism: BTreeMap<&str, u32> =
        new_job.vertices.iter().map(|vertex| (vertex.id.as_str(), vertex.parallelism)).collect();
    assert_eq!(parallelism.get(work.as_str()), Some(&(target as u32)), "Work runs at the target: {parallelism:?}");
    assert_eq!(parallelism.get(source.as_str()), Some(&1), "the source as before: {parallelism:?}");
    texts_until(&alice.client, "#vertices-table [data-vertex-parallelism]", PAGE_TIMEOUT, |cells| {
        cells.len() == new_job.vertices.len() && cells.iter().any(|cell| *cell == target.to_string())
    })
    .await?;
    screenshot(&alice, "alice-03b-new-job").await?;

    after_the_rescale(&setup, &alice, &new_job, (&work, &source)).await?;
    alice.close().await?;
    bob.close().await?;
    Ok(())
}
