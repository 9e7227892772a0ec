//! P10 (issue 17): what the product costs on AWS, from measured invocations of the packaged
//! Lambda bootstraps (see [`scene`]): their durations (GB-seconds at the template's memory) and
//! the S3 requests each made, priced at public us-east-1 list prices without the free tier.
//!
//! Scenarios, on one reconcile process kept warm as the every-minute schedule keeps it, after a
//! few unmeasured invocations: (a) idle, nothing active; (b) one request awaiting approval
//! (filed through the API Lambda); (c) that request approved through the API Lambda, then the
//! reconcile Lambda invoked as the approval's kick invokes it, and as the schedule does (a
//! minute apart) until the rescale is terminal. A day is 1,440 scheduled invocations of the
//! median one of (a) or (b); for (b), the invocations that read the request (while the filing's
//! wake key is held, then one per `records::quiet::QUIET_MAX_MS` that writes its quiet key) are
//! counted apart from those that leave it unread, each kind at its measured median duration and
//! mean requests (see [`reading_per_day`]). Scheduled invocations are spaced
//! [`SCHEDULE_SPACING`] apart, not a minute: every periodic task of a pass (sampling every 30 s,
//! the drift check every 5 s) is then due in each, as it is a minute apart.

pub mod scene;

use std::time::Duration;

use anyhow::Context as _;
use harness::S3Server;
use rescaler_shared::phase::Phase;
use serde::Serialize;
use serde_json::json;

use crate::report::{Row, median, round1, show_ms};
use scene::{FunctionSettings, Invocation, S3Requests, Scene, api_answer, api_event};

// Public us-east-1 prices, no free tier, as listed on 2026-12-03:
// https://aws.amazon.com/lambda/pricing/ (x86), https://aws.amazon.com/s3/pricing/ (S3
// Standard requests), https://aws.amazon.com/eventbridge/pricing/ (Scheduler),
// https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard ingestion).
/// Lambda, x86: per GB-second of billed duration (billed per 1 ms).
const LAMBDA_PER_GB_SECOND: f64 = 0.000_016_666_7;
/// Lambda: per request (invocation).
const LAMBDA_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
/// S3 Standard: per PUT, COPY, POST or LIST request.
const S3_PER_WRITE_OR_LIST: f64 = 0.005 / 1_000.0;
/// S3 Standard: per GET, HEAD (and every other request but DELETE, which is free).
const S3_PER_READ: f64 = 0.0004 / 1_000.0;
/// EventBridge Scheduler: per scheduled invocation.
const SCHEDULER_PER_INVOCATION: f64 = 1.00 / 1_000_000.0;
/// CloudWatch Logs: per GB ingested (the function's own log lines; shown apart from the total).
const LOGS_PER_GB: f64 = 0.50;

/// `rate(1 minute)` in `infra/template.yaml`.
const SCHEDULED_PER_DAY: f64 = 1_440.0;
/// The schedule's period, between the scheduled invocations of a rescale.
const SCHEDULE_PERIOD: Duration = Duration::from_secs(60);
/// Between the scheduled invocations of (a) and (b): just over the sampler's interval.
const SCHEDULE_SPACING: Duration = Duration::from_secs(31);
/// Invocations of a rescale before the bench gives up.
const MAX_RESCALE_INVOCATIONS: usize = 15;
const SCHEDULED_EVENT: &[u8] = br#"{"source":"rescaler.schedule"}"#;
const KICK_EVENT: &[u8] = br#"{"source":"rescaler.approval"}"#;

/// Invocations of a day with a request awaiting approval that read it: every scheduled one
/// while the filing's wake key is held, and those that find it quiet and write its quiet key —
/// the first, then one per longest quiet time. The rest of the day's leave it unread.
pub fn reading_per_day() -> (f64, f64) {
    use rescaler_backend::records::quiet::{QUIET_MAX_MS, WAKE_HOLD_MS};
    let held = (WAKE_HOLD_MS as f64 / SCHEDULE_PERIOD.as_millis() as f64).ceil();
    (held, 1.0 + 86_400_000.0 / QUIET_MAX_MS as f64)
}

/// Scheduled invocations before (a), not measured.
const WARM_UP_INVOCATIONS: usize = 4;
/// Scheduled invocations of (b) before the request is quiet, at most (the wake key's hold at
/// [`SCHEDULE_SPACING`], and some).
const MAX_UNTIL_QUIET: usize = 16;

/// What some invocations cost, by service.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bill {
    pub invocations: f64,
    pub billed_ms: f64,
    pub gb_seconds: f64,
    pub s3: S3Requests,
    pub scheduler_invocations: f64,
    pub lambda_usd: f64,
    pub s3_usd: f64,
    pub scheduler_usd: f64,
    /// Lambda, S3 and Scheduler.
    pub total_usd: f64,
    pub log_bytes: f64,
    /// Not in the total.
    pub logs_usd: f64,
}

impl Bill {
    fn of(invocations: f64, billed_ms: f64, memory_mb: u64, s3: S3Requests, scheduled: f64, log_bytes: f64) -> Self {
        let gb_seconds = billed_ms / 1000.0 * memory_mb as f64 / 1024.0;
        let lambda_usd = gb_seconds * LAMBDA_PER_GB_SECOND + invocations * LAMBDA_PER_REQUEST;
        let s3_usd = s3.writes_and_lists() * S3_PER_WRITE_OR_LIST + s3.reads() * S3_PER_READ;
        let scheduler_usd = scheduled * SCHEDULER_PER_INVOCATION;
        Self {
            invocations,
            billed_ms,
            gb_seconds,
            s3,
            scheduler_invocations: scheduled,
            lambda_usd,
            s3_usd,
            scheduler_usd,
            total_usd: lambda_usd + s3_usd + scheduler_usd,
            log_bytes,
            logs_usd: log_bytes / 1e9 * LOGS_PER_GB,
        }
    }

    /// The invocations as measured; `scheduled` of them started by the schedule.
    fn measured(invocations: &[Invocation], memory_mb: u64, scheduled: usize) -> Self {
        let s3 = S3Requests::sum(invocations.iter().flat_map(|one| [&one.s3, &one.s3_before]), 1.0);
        let billed: u64 = invocations.iter().map(|one| one.billed_ms).sum();
        let logs: u64 = invocations.iter().map(|one| one.log_bytes).sum();
        Self::of(invocations.len() as f64, billed as f64, memory_mb, s3, scheduled as f64, logs as f64)
    }

    /// A day of scheduled invocations, each as long as the median one and with the mean requests.
    fn day(invocations: &[Invocation], memory_mb: u64) -> Option<Self> {
        Self::day_of(&[(invocations, SCHEDULED_PER_DAY)], memory_mb)
    }

    /// A day of scheduled invocations in kinds: `count` of each like its measured ones (the
    /// median duration, the mean requests).
    fn day_of(kinds: &[(&[Invocation], f64)], memory_mb: u64) -> Option<Self> {
        let (mut billed, mut logs, mut count) = (0.0, 0.0, 0.0);
        let mut s3 = Vec::new();
        for (invocations, times) in kinds {
            billed += median(&invocations.iter().map(|one| one.billed_ms as f64).collect::<Vec<_>>())? * times;
            let per_invocation = times / invocations.len() as f64;
            s3.push(S3Requests::sum(invocations.iter().flat_map(|one| [&one.s3, &one.s3_before]), per_invocation));
            logs += invocations.iter().map(|one| one.log_bytes as f64).sum::<f64>() * per_invocation;
            count += times;
        }
        Some(Self::of(count, billed, memory_mb, S3Requests::sum(&s3, 1.0), count, logs))
    }
}

/// One scenario's invocations and what they cost.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub function: &'static str,
    pub settings: FunctionSettings,
    pub median_ms: Option<f64>,
    pub total_ms: f64,
    /// S3 requests per invocation, mean.
    pub s3_per_invocation: S3Requests,
    pub measured: Bill,
    /// (a) and (b): 1,440 scheduled invocations like the median one.
    pub day: Option<Bill>,
    /// Webhook notifications received during the scenario.
    pub notifications: usize,
    pub invocations: Vec<Invocation>,
}

impl Scenario {
    fn new(
        name: &'static str,
        function: &scene::Function,
        invocations: Vec<Invocation>,
        scheduled: usize,
        notifications: usize,
    ) -> Self {
        let memory = function.settings.memory_mb;
        let durations: Vec<f64> = invocations.iter().map(|one| one.duration_ms).collect();
        let per_invocation = 1.0 / invocations.len().max(1) as f64;
        Self {
            name,
            function: function.binary,
            settings: function.settings,
            median_ms: median(&durations).map(round1),
            total_ms: round1(durations.iter().sum()),
            s3_per_invocation: S3Requests::sum(invocations.iter().flat_map(|i| [&i.s3, &i.s3_before]), per_invocation),
            measured: Bill::measured(&invocations, memory, scheduled),
            day: (scheduled == invocations.len()).then(|| Bill::day(&invocations, memory)).flatten(),
            notifications,
            invocations,
        }
    }
}

/// P10's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub idle: Scenario,
    pub awaiting_approval: Scenario,
    /// The reconcile Lambda's share of one savepoint rescale (the kick, then the schedule).
    pub rescale: Scenario,
    /// The API Lambda's share: filing the request and approving it.
    pub rescale_api: Scenario,
    pub rescale_total_usd: f64,
    /// The awaiting-approval day over the idle day.
    pub awaiting_over_idle: Option<f64>,
    /// From process start to the first `next`: billed on every cold start, not in the figures.
    pub init_ms_reconcile: f64,
    pub init_ms_api: f64,
    pub prices: serde_json::Value,
}

/// `invocations` scheduled invocations of the reconcile function.
async fn scheduled(function: &mut scene::Function, invocations: usize) -> anyhow::Result<Vec<Invocation>> {
    let mut measured = Vec::new();
    for index in 0..invocations {
        measured.push(function.invoke(&format!("schedule {}", index + 1), SCHEDULED_EVENT, SCHEDULE_SPACING).await?);
    }
    Ok(measured)
}

/// Runs P10: `invocations` scheduled invocations for (a) and (b), then one rescale (c).
pub async fn cost(s3: &S3Server, invocations: usize) -> anyhow::Result<Cost> {
    let scene = Scene::start(s3).await?;
    let mut reconcile = scene.function(s3, "lambda-reconcile").await?;
    let mut api = scene.function(s3, "lambda-api").await?;
    let mut hooks = scene.hook.received().len();
    let mut hooks_since = |scene: &Scene| {
        let now = scene.hook.received().len();
        std::mem::replace(&mut hooks, now).abs_diff(now)
    };

    // Unmeasured: the first invocations of a fresh deployment make fewer requests (the load
    // history of the managed job is not written yet), which would make the idle day cheaper
    // than any day after it.
    scheduled(&mut reconcile, WARM_UP_INVOCATIONS).await?;
    let idle = scheduled(&mut reconcile, invocations).await?;
    let idle = Scenario::new("idle: nothing active", &reconcile, idle, invocations, hooks_since(&scene));

    let request = json!({"cluster_id": harness::rig::CLUSTER_ID, "job_id": scene.job_id, "target": {"kind": "uniform", "parallelism": 2}, "strategy": "savepoint", "reason": "bench p10"});
    let filed = api
        .invoke("POST /rescales", &api_event("POST", "/api/v1/rescales", "alice", Some(&request))?, Duration::ZERO)
        .await?;
    let (status, operation) = api_answer(&filed.answer)?;
    anyhow::ensure!(status == 201, "filing the request answered {status}: {operation}");
    let id = operation["id"].as_str().context("the filed request has no id")?.to_owned();
    // Read in every pass while the filing's wake key is held; then read once more, found
    // quiet (its quiet key written); then left unread.
    let mut reading = Vec::new();
    let first_quiet = loop {
        let name = format!("until quiet {}", reading.len() + 1);
        let one = reconcile.invoke(&name, SCHEDULED_EVENT, SCHEDULE_SPACING).await?;
        if one.answer["quiet"].as_u64() == Some(1) {
            break one;
        }
        reading.push(one);
        anyhow::ensure!(reading.len() < MAX_UNTIL_QUIET, "the request awaiting approval never became quiet");
    };
    let mut quiet = vec![first_quiet];
    quiet.extend(scheduled(&mut reconcile, invocations.saturating_sub(1)).await?);
    anyhow::ensure!(
        quiet.iter().all(|one| one.answer["quiet"].as_u64() == Some(1)),
        "the request awaiting approval was read again: {:?}",
        quiet.iter().map(|one| &one.answer).collect::<Vec<_>>()
    );
    let found_quiet = reading.split_off(reading.len().checked_sub(1).context("no invocation read the request")?);
    anyhow::ensure!(!reading.is_empty(), "the filing's wake key was spent in the first pass");
    let memory = reconcile.settings.memory_mb;
    let (held, looks) = reading_per_day();
    let day =
        Bill::day_of(&[(&reading, held), (&found_quiet, looks), (&quiet, SCHEDULED_PER_DAY - held - looks)], memory);
    let all: Vec<Invocation> = reading.into_iter().chain(found_quiet).chain(quiet).collect();
    let count = all.len();
    let mut awaiting = Scenario::new("one request awaiting approval", &reconcile, all, count, hooks_since(&scene));
    awaiting.day = day;

    let approve = api_event("POST", &format!("/api/v1/rescales/{id}/approve"), "bob", Some(&json!({"comment": "go"})))?;
    let approved = api.invoke("POST /rescales/{id}/approve", &approve, Duration::ZERO).await?;
    let (status, answer) = api_answer(&approved.answer)?;
    anyhow::ensure!(status == 200, "approving answered {status}: {answer}");
    let mut runs = vec![reconcile.invoke("approval kick", KICK_EVENT, Duration::ZERO).await?];
    loop {
        let (operation, _) = scene.records.operation(&id).await?.context("the rescale vanished")?;
        if operation.is_terminal() {
            anyhow::ensure!(operation.phase == Phase::Completed, "the rescale ended {:?}", operation.phase);
            break;
        }
        anyhow::ensure!(runs.len() < MAX_RESCALE_INVOCATIONS, "the rescale is still {:?}", operation.phase);
        runs.push(reconcile.invoke(&format!("schedule {}", runs.len()), SCHEDULED_EVENT, SCHEDULE_PERIOD).await?);
    }
    let scheduled_runs = runs.len() - 1;
    let notifications = hooks_since(&scene);
    let rescale = Scenario::new("one savepoint rescale", &reconcile, runs, scheduled_runs, notifications);
    let rescale_api = Scenario::new("one savepoint rescale, API", &api, vec![filed, approved], 0, 0);
    let awaiting_over_idle = match (&idle.day, &awaiting.day) {
        (Some(idle), Some(awaiting)) => Some((awaiting.total_usd / idle.total_usd * 1000.0).round() / 1000.0),
        _ => None,
    };
    Ok(Cost {
        rescale_total_usd: rescale.measured.total_usd + rescale_api.measured.total_usd,
        idle,
        awaiting_approval: awaiting,
        rescale,
        rescale_api,
        awaiting_over_idle,
        init_ms_reconcile: reconcile.init_ms,
        init_ms_api: api.init_ms,
        prices: json!({
            "lambda_per_gb_second": LAMBDA_PER_GB_SECOND,
            "lambda_per_request": LAMBDA_PER_REQUEST,
            "s3_per_put_copy_post_list": S3_PER_WRITE_OR_LIST,
            "s3_per_get_head": S3_PER_READ,
            "scheduler_per_invocation": SCHEDULER_PER_INVOCATION,
            "logs_per_gb": LOGS_PER_GB,
            "region": "us-east-1, no free tier",
        }),
    })
}

fn usd(value: f64) -> String {
    if value >= 0.01 { format!("${value:.3}") } else { format!("${value:.5}") }
}

fn bill_text(bill: &Bill) -> String {
    format!(
        "{} (Lambda {}, S3 {}, Scheduler {}); {:.1} GB-s; logs {:.1} MB = {} more",
        usd(bill.total_usd),
        usd(bill.lambda_usd),
        usd(bill.s3_usd),
        usd(bill.scheduler_usd),
        bill.gb_seconds,
        bill.log_bytes / 1e6,
        usd(bill.logs_usd)
    )
}

fn scenario_row(scenario: &Scenario) -> Row {
    Row::new(
        "P10",
        &format!("{} ({}): {} invocations", scenario.name, scenario.function, scenario.invocations.len()),
        format!(
            "median {}, total {}, {:.2} GB-s; S3 per invocation: {}; {}",
            scenario.median_ms.map(show_ms).unwrap_or_else(|| "–".to_owned()),
            show_ms(scenario.total_ms),
            scenario.measured.gb_seconds,
            scenario.s3_per_invocation.show(),
            bill_text(&scenario.measured)
        ),
        "",
    )
}

/// The table's rows.
pub fn rows(figures: &Cost) -> Vec<Row> {
    let mut rows: Vec<Row> =
        [&figures.idle, &figures.awaiting_approval, &figures.rescale, &figures.rescale_api].map(scenario_row).into();
    for (name, scenario) in
        [("idle day", &figures.idle), ("day with a request awaiting approval", &figures.awaiting_approval)]
    {
        if let Some(day) = &scenario.day {
            let target = if name == "idle day" {
                let met = if day.total_usd <= 0.10 { "met" } else { "MISSED" };
                format!("cents a day (≤ $0.10): {met}")
            } else {
                match figures.awaiting_over_idle {
                    Some(ratio) if ratio <= 1.0 => "no more than an idle day: met".to_owned(),
                    Some(ratio) => format!("no more than an idle day: MISSED by {:.0} %", (ratio - 1.0) * 100.0),
                    None => "no more than an idle day: not measured".to_owned(),
                }
            };
            rows.push(Row::new("P10", &format!("{name}: 1,440 scheduled invocations"), bill_text(day), &target));
        }
    }
    rows.push(Row::new(
        "P10",
        "one savepoint rescale: reconcile + API Lambda",
        format!("{} (ratio awaiting/idle day {:?})", usd(figures.rescale_total_usd), figures.awaiting_over_idle),
        "",
    ));
    rows.push(Row::new(
        "P10",
        "cold start (init, billed per cold start; not above): reconcile / API",
        format!("{} / {}", show_ms(figures.init_ms_reconcile), show_ms(figures.init_ms_api)),
        "",
    ));
    rows
}
