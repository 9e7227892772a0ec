//! Table tests of the recommendation: sizing, the graph, alignment, limits, holds and words.

use std::collections::BTreeMap;

use super::*;

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const NOW: u64 = 100 * 60 * MINUTE;
const STEP: u64 = 30 * SECOND;

fn vertex(id: &str, parallelism: u32, inputs: &[&str]) -> GraphVertex {
    GraphVertex {
        id: id.to_owned(),
        name: id.to_owned(),
        parallelism,
        max_parallelism: 128,
        inputs: inputs.iter().map(|input| (*input).to_owned()).collect(),
        keyed: false,
        source: inputs.is_empty(),
    }
}

/// A source that reports no busy time and emits `rate`, with `pending` records of backlog.
fn source(rate: f64, pending: Option<f64>) -> VertexMetrics {
    VertexMetrics { records_out_per_s: Some(rate), pending_records: pending, ..VertexMetrics::default() }
}

/// A vertex `busy` of the time that takes `rate_in` and emits `rate_out`.
fn busy(busy: f64, rate_in: f64, rate_out: f64) -> VertexMetrics {
    VertexMetrics {
        busy_ms_per_s: Some(busy * 1000.0),
        busy_max_ms_per_s: None,
        backpressured_ms_per_s: Some(0.0),
        records_in_per_s: Some(rate_in),
        records_out_per_s: Some(rate_out),
        pending_records: None,
        parallelism: None,
    }
}

/// A sample every 30 s from `from_ms` to `to_ms`, both included, with the metrics `at` gives.
fn samples(from_ms: u64, to_ms: u64, at: impl Fn(u64) -> Vec<(&'static str, VertexMetrics)>) -> Vec<MetricsSample> {
    (from_ms..=to_ms)
        .step_by(STEP as usize)
        .map(|at_ms| MetricsSample {
            at_ms,
            vertices: at(at_ms).into_iter().map(|(id, metrics)| (id.to_owned(), metrics)).collect(),
        })
        .collect()
}

/// The last 10 minutes with the same metrics throughout.
fn steady(metrics: Vec<(&'static str, VertexMetrics)>) -> Vec<MetricsSample> {
    samples(NOW - 10 * MINUTE, NOW, |_| metrics.clone())
}

fn input(vertices: Vec<GraphVertex>, samples: Vec<MetricsSample>) -> RecommendationInput {
    RecommendationInput {
        now_ms: NOW,
        graph: JobGraph { vertices },
        window: MetricsWindow { samples },
        history: Vec::new(),
        policy: Policy::default(),
    }
}

/// A source `s` (no busy time) feeding `counter` at `parallelism`, `busy_ratio` busy at `rate`.
fn counter_job(parallelism: u32, busy_ratio: f64, rate: f64) -> RecommendationInput {
    input(
        vec![vertex("s", 1, &[]), vertex("counter", parallelism, &["s"])],
        steady(vec![("s", source(rate, None)), ("counter", busy(busy_ratio, rate, rate))]),
    )
}

fn of<'a>(recommendation: &'a Recommendation, id: &str) -> &'a VertexRecommendation {
    recommendation.vertices.iter().find(|vertex| vertex.id == id).expect("the vertex is in the recommendation")
}

#[test]
fn a_single_vertex_is_sized_for_the_target_utilisation_outside_the_band() {
    // (parallelism, busy, rate, expected target, expected verdict)
    let cases = [
        (2, 0.70, 1000.0, 2, Verdict::NoChange),
        (2, 0.62, 1000.0, 2, Verdict::NoChange),
        (2, 0.78, 1000.0, 2, Verdict::NoChange),
        (2, 0.92, 1400.0, 3, Verdict::ScaleUp),
        (4, 0.95, 1000.0, 6, Verdict::ScaleUp),
        (1, 1.00, 500.0, 2, Verdict::ScaleUp),
        (10, 0.85, 9000.0, 13, Verdict::ScaleUp),
        // Below the band: a scale-down waits for the damping interval (10 min of data here).
        (4, 0.40, 1000.0, 4, Verdict::HeldBack),
    ];
    for (parallelism, busy_ratio, rate, expected, verdict) in cases {
        let recommendation = recommend(&counter_job(parallelism, busy_ratio, rate));
        let counter = of(&recommendation, "counter");
        assert_eq!(
            (counter.target, counter.verdict),
            (expected, verdict),
            "{parallelism} at {busy_ratio}: {}",
            counter.reason
        );
        assert_eq!(recommendation.verdict, verdict, "{}", recommendation.summary);
    }
}

#[test]
fn the_reason_says_how_busy_the_vertex_is_and_how_it_would_run() {
    let recommendation = recommend(&counter_job(2, 0.92, 1400.0));
    assert_eq!(
        of(&recommendation, "counter").reason,
        "counter is 92 % busy at 1.4k rec/s; at 3 subtasks it would run at 61 %"
    );
    assert_eq!(recommendation.summary, "scale up: counter 2 → 3");
    assert_eq!(recommendation.changes(), BTreeMap::from([("counter".to_owned(), 3)]));
    let in_band = recommend(&counter_job(2, 0.7, 1400.0));
    assert_eq!(
        of(&in_band, "counter").reason,
        "counter is 70 % busy at 1.4k rec/s, within the target 60–80 %; keep 2 subtasks"
    );
    assert_eq!(in_band.summary, "no change: every vertex fits its current parallelism");
    // Busy in the band, but it should take more than it does: the reason says at what utilisation.
    let mut upstream = chain_job();
    upstream.graph.vertices[2].parallelism = 3;
    upstream.window.samples.iter_mut().for_each(|sample| {
        sample.vertices.insert("k".to_owned(), busy(0.45, 2000.0, 0.0));
    });
    let k = of(&recommend(&upstream), "k").clone();
    assert_eq!(
        k.reason,
        "k is 45 % busy at 2k rec/s and should take 3k rec/s; at 3 subtasks it runs at 68 %, within the target 60–80 %; keep it"
    );
}

/// A measured source at 2 subtasks, 70 % busy at 1000 rec/s, with `backlog` pending records
/// growing by `growth` per second, feeding `counter` (2 subtasks, 70 % busy).
fn backlog_job(backlog: Option<f64>, growth: f64) -> RecommendationInput {
    let start = NOW - 10 * MINUTE;
    let at = move |at_ms: u64| {
        let pending = backlog.map(|backlog| backlog + growth * (at_ms - start) as f64 / 1000.0);
        let s = VertexMetrics { pending_records: pending, ..busy(0.7, 0.0, 1000.0) };
        vec![("s", s), ("counter", busy(0.7, 1000.0, 1000.0))]
    };
    input(vec![vertex("s", 2, &[]), vertex("counter", 2, &["s"])], samples(start, NOW, at))
}

#[test]
fn a_backlog_raises_the_target_to_work_it_off_within_the_catch_up_time() {
    // (backlog at the window's start, growth per second, expected source and counter targets)
    let cases = [
        (None, 0.0, 2, 2),
        (Some(0.0), 0.0, 2, 2),
        // 150k within 5 min is 500 rec/s more: (1000 / 0.7 + 500) / 714 per subtask = 2.7.
        (Some(150_000.0), 0.0, 3, 3),
        // Growing by 400/s: 1400 arrive; the backlog at the end is 360k: 1200 rec/s to catch up.
        (Some(120_000.0), 400.0, 5, 5),
    ];
    for (backlog, growth, source_target, counter_target) in cases {
        let recommendation = recommend(&backlog_job(backlog, growth));
        let (s, counter) = (of(&recommendation, "s"), of(&recommendation, "counter"));
        assert_eq!(
            (s.target, counter.target),
            (source_target, counter_target),
            "{backlog:?}: {} / {}",
            s.reason,
            counter.reason
        );
    }
    let with_backlog = recommend(&backlog_job(Some(150_000.0), 0.0));
    let reason = &of(&with_backlog, "s").reason;
    assert!(reason.contains("plus 500 rec/s to work off its backlog of 150k records"), "{reason}");
}

/// `s` emits 1000 rec/s while its backlog grows by 500/s; `m` doubles every record; `k` sinks.
fn chain_job() -> RecommendationInput {
    let start = NOW - 10 * MINUTE;
    let at = move |at_ms: u64| {
        let pending = 500.0 * (at_ms - start) as f64 / 1000.0;
        vec![("s", source(1000.0, Some(pending))), ("m", busy(1.0, 1000.0, 2000.0)), ("k", busy(0.6, 2000.0, 0.0))]
    };
    let mut job =
        input(vec![vertex("s", 1, &[]), vertex("m", 2, &["s"]), vertex("k", 2, &["m"])], samples(start, NOW, at));
    job.policy.catch_up_ms = 0;
    job
}

#[test]
fn downstream_targets_follow_the_upstream_targets_along_a_chain() {
    let recommendation = recommend(&chain_job());
    let targets: Vec<(&str, u32, Verdict)> =
        recommendation.vertices.iter().map(|vertex| (vertex.id.as_str(), vertex.target, vertex.verdict)).collect();
    // 1500 arrive. m: 500 per subtask, 1500 / 0.7 / 500 = 4.3. k should take 3000 (m doubles);
    // 60 % busy at 2000 would fit, but 3000 / 0.7 / 1667 per subtask = 2.6.
    assert_eq!(targets, vec![("s", 1, Verdict::NoChange), ("m", 5, Verdict::ScaleUp), ("k", 3, Verdict::ScaleUp)]);
    assert!(
        of(&recommendation, "k").reason.contains("and should take 3k rec/s"),
        "{}",
        of(&recommendation, "k").reason
    );
    assert!(of(&recommendation, "s").reason.contains("reports no busy time"), "{}", of(&recommendation, "s").reason);
    assert_eq!(recommendation.summary, "scale up: m 2 → 5, k 2 → 3");
}

#[test]
fn a_fan_in_vertex_takes_the_sum_of_its_inputs_targets() {
    // (growth of the second source's backlog per second, expected target of the join)
    let cases = [(0.0, 3), (200.0, 4)];
    for (growth, expected) in cases {
        let start = NOW - 10 * MINUTE;
        let at = move |at_ms: u64| {
            let pending = growth * (at_ms - start) as f64 / 1000.0;
            vec![("s1", source(600.0, None)), ("s2", source(400.0, Some(pending))), ("join", busy(0.9, 1000.0, 10.0))]
        };
        let mut job = input(
            vec![vertex("s1", 1, &[]), vertex("s2", 1, &[]), vertex("join", 2, &["s1", "s2"])],
            samples(start, NOW, at),
        );
        job.policy.catch_up_ms = 0;
        let join = of(&recommend(&job), "join").clone();
        assert_eq!(join.target, expected, "{growth}: {}", join.reason);
    }
}

#[test]
fn keyed_vertices_round_up_to_a_divisor_of_their_key_groups() {
    // (max parallelism, parallelism, busy, keyed, align, expected): computed 3, 7, 9.
    let cases = [
        (128, 2, 0.92, true, true, 4),
        (128, 2, 0.92, false, true, 3),
        (128, 2, 0.92, true, false, 3),
        (120, 5, 0.95, true, true, 8),
        (120, 5, 0.95, false, true, 7),
        (120, 6, 1.00, true, true, 10),
        (120, 6, 1.00, false, true, 9),
        // 7 key groups: 6 rounds up to 7, the only divisor above it.
        (7, 4, 0.95, true, true, 7),
    ];
    for (max_parallelism, parallelism, busy_ratio, keyed, align, expected) in cases {
        let mut job = counter_job(parallelism, busy_ratio, 1000.0);
        job.graph.vertices[1].max_parallelism = max_parallelism;
        job.graph.vertices[1].keyed = keyed;
        job.policy.align_keyed = align;
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!(counter.target, expected, "{max_parallelism}/{parallelism}/{keyed}/{align}: {}", counter.reason);
        assert_eq!(
            counter.reason.contains("key groups"),
            expected != (f64::from(parallelism) * busy_ratio / 0.7).ceil() as u32
        );
    }
    // No divisor of 128 from 5 up to the limit of 6: the computed 5 stays.
    let mut capped = counter_job(3, 1.0, 1000.0);
    capped.graph.vertices[1].keyed = true;
    capped.policy.max_parallelism = Some(6);
    assert_eq!(of(&recommend(&capped), "counter").target, 5);
}

#[test]
fn targets_are_clamped_to_the_limits() {
    // (policy min, policy max, key groups, parallelism, busy, expected target, expected verdict)
    let cases = [
        (1, Some(5), 128, 4, 1.0, 5, Verdict::ScaleUp),
        (1, Some(4), 128, 4, 1.0, 4, Verdict::NoChange),
        (1, None, 4, 3, 1.0, 4, Verdict::ScaleUp),
        (3, None, 128, 4, 0.3, 3, Verdict::ScaleDown),
        (1, None, 128, 4, 0.3, 2, Verdict::ScaleDown),
    ];
    for (min, max, key_groups, parallelism, busy_ratio, expected, verdict) in cases {
        let mut job = counter_job(parallelism, busy_ratio, 1000.0);
        job.graph.vertices[1].max_parallelism = key_groups;
        job.policy = Policy { min_parallelism: min, max_parallelism: max, scale_down_damping_ms: 0, ..job.policy };
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!(
            (counter.target, counter.verdict),
            (expected, verdict),
            "{min}/{max:?}/{key_groups}: {}",
            counter.reason
        );
    }
    let mut capped = counter_job(4, 1.0, 1000.0);
    capped.policy.max_parallelism = Some(4);
    let capped = recommend(&capped);
    let reason = &of(&capped, "counter").reason;
    assert!(reason.contains("(counter would need 6; the limits are 1–4); keep 4 subtasks"), "{reason}");
}

/// `counter` at 4 subtasks, 30 % busy at 1000 rec/s (it needs 2) for the last `low_minutes`,
/// and before that (back to 70 minutes ago) `earlier` busy; `peak` busy from 40 to 30 minutes ago.
fn quiet_job(low_minutes: u64, earlier: Option<f64>, peak: Option<f64>) -> RecommendationInput {
    quiet_job_offset(0, low_minutes, earlier, peak)
}

/// `quiet_job` with every sample `offset_ms` later than on the 30 s grid from NOW − 70 min (real
/// samples do not fall on the slices' edges).
fn quiet_job_offset(offset_ms: u64, low_minutes: u64, earlier: Option<f64>, peak: Option<f64>) -> RecommendationInput {
    let at = move |at_ms: u64| {
        let ratio = if at_ms >= NOW - low_minutes * MINUTE { Some(0.3) } else { earlier };
        let in_peak = (NOW - 40 * MINUTE..NOW - 30 * MINUTE).contains(&at_ms);
        let ratio = if in_peak { peak.or(ratio) } else { ratio };
        let counter = ratio.map(|ratio| ("counter", busy(ratio, 1000.0, 1000.0)));
        [Some(("s", source(1000.0, None))), counter].into_iter().flatten().collect()
    };
    input(vec![vertex("s", 1, &[]), vertex("counter", 4, &["s"])], samples(NOW - 70 * MINUTE + offset_ms, NOW, at))
}

#[test]
fn a_scale_down_waits_until_the_lower_need_held_for_the_damping_interval() {
    // (minutes low, busy before, busy 40–30 min ago, expected target, verdict, words in the reason)
    let cases = [
        (20, None, None, 4, Verdict::HeldBack, "has held for 20 min of the 1 h a scale-down waits for"),
        (20, Some(0.7), None, 4, Verdict::HeldBack, "has held for 20 min of the 1 h"),
        (60, None, None, 2, Verdict::ScaleDown, "at 2 subtasks it would run at 60 %"),
        (70, None, None, 2, Verdict::ScaleDown, "at 2 subtasks it would run at 60 %"),
        (70, None, Some(0.7), 4, Verdict::HeldBack, "has held for 30 min of the 1 h"),
        (70, None, Some(0.45), 3, Verdict::ScaleDown, "it needed 3 subtasks within the last 1 h"),
    ];
    // Samples on the slices' edges, 1 ms and 7 s past them: the lower need lets go all the same.
    for offset_ms in [0, 1, 7 * SECOND] {
        for (low_minutes, earlier, peak, expected, verdict, words) in cases {
            let recommendation = recommend(&quiet_job_offset(offset_ms, low_minutes, earlier, peak));
            let counter = of(&recommendation, "counter");
            assert_eq!(
                (counter.target, counter.verdict),
                (expected, verdict),
                "+{offset_ms} ms, {low_minutes}/{peak:?}: {}",
                counter.reason
            );
            assert!(counter.reason.contains(words), "+{offset_ms} ms: {}", counter.reason);
            assert_eq!(recommendation.verdict, verdict);
        }
    }
}

#[test]
fn no_change_is_recommended_within_the_minimum_interval_of_the_last_one() {
    // (minutes since the last change, minimum interval in minutes, expected target, verdict)
    let cases = [(3, 10, 2, Verdict::HeldBack), (7, 5, 3, Verdict::ScaleUp)];
    for (minutes, interval, expected, verdict) in cases {
        let changed_ms = NOW - minutes * MINUTE;
        let at = move |at_ms: u64| {
            // Before the change it ran at 1 subtask, nearly idle: those samples must not count.
            let ratio = if at_ms >= changed_ms { 0.92 } else { 0.1 };
            vec![("s", source(1400.0, None)), ("counter", busy(ratio, 1400.0, 1400.0))]
        };
        let mut job =
            input(vec![vertex("s", 1, &[]), vertex("counter", 2, &["s"])], samples(NOW - 30 * MINUTE, NOW, at));
        let change = VertexRescale { before: 1, after: 2, rate_before: None, rate_after: None };
        job.history = vec![Rescale { at_ms: changed_ms, vertices: BTreeMap::from([("counter".to_owned(), change)]) }];
        job.policy.min_interval_ms = interval * MINUTE;
        // The samples right after the change count here; the stabilisation interval has its own test.
        job.policy.stabilisation_ms = 0;
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!((counter.target, counter.verdict), (expected, verdict), "{minutes}: {}", counter.reason);
        if verdict == Verdict::HeldBack {
            assert!(counter.reason.ends_with("but the last change was 3 min ago; changes are at least 10 min apart"));
            assert_eq!(recommendation.verdict, Verdict::HeldBack, "{}", recommendation.summary);
        }
    }
}

#[test]
fn more_of_an_ineffective_scale_up_is_held_back() {
    // (rate in now at 95 % busy, rate after recorded, expected target, verdict)
    let cases = [
        // 1053 at full busy after 2 → 4, from 1000: 5 % of the promised increase.
        (1000.0, None, 4, Verdict::HeldBack),
        // 2105 at full busy: the scale-up worked; 4 × 0.95 / 0.7 = 5.4.
        (2000.0, None, 6, Verdict::ScaleUp),
        // The recorded rate after the rescale is what counts when known.
        (2000.0, Some(1020.0), 4, Verdict::HeldBack),
    ];
    for (rate, rate_after, expected, verdict) in cases {
        let mut job = counter_job(4, 0.95, rate);
        let change = VertexRescale { before: 2, after: 4, rate_before: Some(1000.0), rate_after };
        job.history =
            vec![Rescale { at_ms: NOW - 30 * MINUTE, vertices: BTreeMap::from([("counter".to_owned(), change)]) }];
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!((counter.target, counter.verdict), (expected, verdict), "{rate}: {}", counter.reason);
        if verdict == Verdict::HeldBack {
            assert!(counter.reason.contains("an earlier scale-up of counter from 2 to 4 did not raise its throughput"));
            assert!(recommendation.summary.starts_with("held back: "), "{}", recommendation.summary);
        }
    }
}

#[test]
fn missing_metrics_are_not_enough_data() {
    // Ten samples, but the counter ran in two and reported its rate in one more only.
    let at = |at_ms: u64| {
        let counter = match (at_ms / STEP) % 10 {
            0 | 1 => busy(0.9, 1000.0, 1000.0),
            2 => VertexMetrics { records_in_per_s: None, ..busy(0.9, 1000.0, 1000.0) },
            _ => return vec![("s", source(1000.0, None))],
        };
        vec![("s", source(1000.0, None)), ("counter", counter)]
    };
    let job = input(
        vec![vertex("s", 1, &[]), vertex("counter", 2, &["s"]), vertex("sink", 1, &["counter"])],
        samples(NOW - 9 * STEP, NOW, at),
    );
    let recommendation = recommend(&job);
    assert_eq!(recommendation.verdict, Verdict::NotEnoughData);
    assert_eq!(of(&recommendation, "counter").reason, "counter has 2 usable samples in the last 10 min; 3 are needed");
    assert_eq!(of(&recommendation, "sink").verdict, Verdict::NotEnoughData);
    assert_eq!(
        recommendation.summary,
        "not enough data: counter has 2 usable samples in the last 10 min; 3 are needed"
    );
    let empty = recommend(&input(vec![vertex("s", 1, &[])], Vec::new()));
    assert_eq!((empty.verdict, of(&empty, "s").target), (Verdict::NotEnoughData, 1));
}

#[test]
fn sources_without_busy_time_keep_their_parallelism_and_still_drive_their_consumers() {
    let recommendation = recommend(&counter_job(2, 0.92, 1400.0));
    let s = of(&recommendation, "s");
    assert_eq!((s.target, s.verdict), (1, Verdict::NoChange));
    assert_eq!(s.reason, "s reports no busy time, so its own need is unknown; it emits 1.4k rec/s; keep 1 subtask");
    assert_eq!(s.figures.and_then(|figures| figures.busy), None);
    assert_eq!(of(&recommendation, "counter").verdict, Verdict::ScaleUp);
}

#[test]
fn after_a_recommended_scale_up_the_next_recommendation_asks_for_no_more() {
    // A counter whose subtasks take 500 rec/s each, behind a source that can only emit what the
    // counter takes; the rest piles up as backlog.
    for arriving in [800.0, 1500.0, 4000.0, 9999.0] {
        let mut parallelism = 1;
        let mut verdicts = Vec::new();
        for _ in 0..2 {
            let taken = f64::min(arriving, 500.0 * f64::from(parallelism));
            let at = move |at_ms: u64| {
                let pending = (arriving - taken) * (at_ms - (NOW - 10 * MINUTE)) as f64 / 1000.0;
                vec![
                    ("s", source(taken, Some(pending))),
                    ("counter", busy(taken / 500.0 / f64::from(parallelism), taken, taken)),
                ]
            };
            let mut job = input(
                vec![vertex("s", 1, &[]), vertex("counter", parallelism, &["s"])],
                samples(NOW - 10 * MINUTE, NOW, at),
            );
            job.policy.catch_up_ms = 0;
            let recommendation = recommend(&job);
            verdicts.push(recommendation.verdict);
            parallelism = of(&recommendation, "counter").target;
        }
        assert_eq!(verdicts[0], Verdict::ScaleUp, "{arriving}");
        assert_ne!(verdicts[1], Verdict::ScaleUp, "{arriving}: at {parallelism}");
        assert_eq!(parallelism, (arriving / 0.7 / 500.0).ceil() as u32, "{arriving}");
    }
}

#[test]
fn inputs_and_outputs_survive_a_json_round_trip() {
    let mut job = backlog_job(Some(150_000.0), 0.0);
    job.graph.vertices[1].keyed = true;
    job.policy.max_parallelism = Some(12);
    let change = VertexRescale { before: 1, after: 2, rate_before: Some(10.0), rate_after: Some(20.5) };
    job.history = vec![Rescale { at_ms: 5, vertices: BTreeMap::from([("counter".to_owned(), change)]) }];
    let text = serde_json::to_string(&job).expect("the input serialises");
    assert_eq!(serde_json::from_str::<RecommendationInput>(&text).expect("the input deserialises"), job);
    let recommendation = recommend(&job);
    let text = serde_json::to_string(&recommendation).expect("the output serialises");
    assert_eq!(serde_json::from_str::<Recommendation>(&text).expect("the output deserialises"), recommendation);
    assert!(text.contains("\"verdict\":\"scale_up\""), "{text}");
    let minimal =
        r#"{"now_ms":1,"graph":{"vertices":[{"id":"a","name":"A","parallelism":1,"max_parallelism":0}]},"window":{}}"#;
    let parsed: RecommendationInput = serde_json::from_str(minimal).expect("defaults fill the rest");
    assert_eq!((parsed.policy, parsed.history.len(), parsed.graph.vertices[0].source), (Policy::default(), 0, false));
}

#[test]
fn figures_read_as_an_operator_expects() {
    let counts =
        [(0.0, "0"), (950.0, "950"), (1400.0, "1.4k"), (2000.0, "2k"), (12_345.0, "12k"), (2_500_000.0, "2.5M")];
    for (value, expected) in counts {
        assert_eq!(words::count(value), expected);
    }
    let durations = [(45 * SECOND, "45 s"), (90 * SECOND, "90 s"), (MINUTE, "1 min"), (20 * MINUTE, "20 min")];
    for (ms, expected) in durations.into_iter().chain([(60 * MINUTE, "1 h"), (90 * MINUTE, "90 min")]) {
        assert_eq!(words::duration(ms), expected);
    }
    assert_eq!(
        (words::percent(0.613), words::subtasks(1), words::subtasks(3)),
        ("61 %".to_owned(), "1 subtask".to_owned(), "3 subtasks".to_owned())
    );
}

#[test]
fn the_lower_need_counts_only_from_when_the_job_settled_after_its_last_change() {
    // (minutes since the change to 4, expected target, verdict, words): 5 min of settling first.
    let cases = [
        (62, 4, Verdict::HeldBack, "has held for 57 min of the 1 h"),
        (66, 2, Verdict::ScaleDown, "at 2 subtasks it would run at 60 %"),
    ];
    for (minutes, expected, verdict, words) in cases {
        let mut job = quiet_job_offset(7 * SECOND, 70, None, None);
        let change = VertexRescale { before: 2, after: 4, rate_before: None, rate_after: None };
        job.history =
            vec![Rescale { at_ms: NOW - minutes * MINUTE, vertices: BTreeMap::from([("counter".to_owned(), change)]) }];
        let counter = of(&recommend(&job), "counter").clone();
        assert_eq!((counter.target, counter.verdict), (expected, verdict), "{minutes}: {}", counter.reason);
        assert!(counter.reason.contains(words), "{minutes}: {}", counter.reason);
    }
}

#[test]
fn a_damping_interval_of_many_windows_ends_and_holds() {
    // Damping of half of u64 over a 1 ms window: without a cap on the slices this never ends.
    let mut job = quiet_job(70, None, None);
    job.policy.evaluation_window_ms = 1;
    job.policy.min_samples = 1;
    job.policy.scale_down_damping_ms = u64::MAX / 2;
    let counter = of(&recommend(&job), "counter").clone();
    assert_eq!((counter.target, counter.verdict), (4, Verdict::HeldBack), "{}", counter.reason);
    assert!(counter.reason.contains("a scale-down waits for"), "{}", counter.reason);
    assert_eq!(words::duration(u64::MAX), format!("{} min", (u64::MAX / 1000 + 30) / 60));
}

/// `counter` keyed over `key_groups`, at `parallelism`, taking what `busy_ratio` of 2 subtasks'
/// worth takes: the same load at every parallelism.
fn keyed_counter(key_groups: u32, parallelism: u32, load_of_two: f64) -> RecommendationInput {
    let busy_ratio = load_of_two * 2.0 / f64::from(parallelism);
    let mut job = counter_job(parallelism, busy_ratio, 1000.0);
    job.graph.vertices[1].max_parallelism = key_groups;
    job.graph.vertices[1].keyed = true;
    job.policy.scale_down_damping_ms = 0;
    job
}

#[test]
fn a_keyed_scale_up_rounded_to_a_divisor_is_not_undone_by_the_next_recommendation() {
    // (key groups, start, busy at 2 subtasks' worth, first target): 3 rounds up to 4 of 128;
    // 33 to 64 of 64 (no divisor between).
    let cases = [(128, 2, 0.92, 4), (64, 24, 0.95 * 12.0, 64), (120, 5, 0.95 * 2.5, 8)];
    for (key_groups, start, load_of_two, first) in cases {
        let recommendation = recommend(&keyed_counter(key_groups, start, load_of_two));
        let target = of(&recommendation, "counter").target;
        assert_eq!(target, first, "{key_groups}/{start}: {}", of(&recommendation, "counter").reason);
        assert!(key_groups.is_multiple_of(target));
        // At the rounded-up parallelism the same load is below the band; the computed need rounds
        // up to where it runs: no change, never a restart to a non-divisor.
        let again = recommend(&keyed_counter(key_groups, target, load_of_two));
        let counter = of(&again, "counter");
        assert_eq!((counter.target, counter.verdict), (target, Verdict::NoChange), "{key_groups}: {}", counter.reason);
        assert!(counter.reason.contains("key groups"), "{}", counter.reason);
    }
    // A scale-down to a smaller divisor still happens: 8 of 128 at 30 % needs 4.
    let down = recommend(&keyed_counter(128, 8, 0.3 * 4.0));
    assert_eq!(of(&down, "counter").target, 4, "{}", of(&down, "counter").reason);
    // Key groups that are a large prime: its only divisor above 2 is itself, found without a loop
    // over every number up to it.
    let mut prime = counter_job(2, 0.92, 1000.0);
    prime.graph.vertices[1].max_parallelism = 4_294_967_291;
    prime.graph.vertices[1].keyed = true;
    assert_eq!(of(&recommend(&prime), "counter").target, 4_294_967_291);
}

#[test]
fn a_vertex_busy_without_records_in_is_not_enough_data_and_an_idle_one_shrinks() {
    // (busy, rate in, expected target, verdict)
    let cases =
        [(0.4, 0.0, 4, Verdict::NotEnoughData), (0.0, 0.0, 1, Verdict::ScaleDown), (0.0, 500.0, 1, Verdict::ScaleDown)];
    for (busy_ratio, rate_in, expected, verdict) in cases {
        let mut job = input(
            vec![vertex("s", 1, &[]), vertex("timers", 4, &["s"])],
            steady(vec![("s", source(1000.0, None)), ("timers", busy(busy_ratio, rate_in, 10.0))]),
        );
        job.policy.scale_down_damping_ms = 0;
        let recommendation = recommend(&job);
        let timers = of(&recommendation, "timers");
        assert_eq!((timers.target, timers.verdict), (expected, verdict), "{busy_ratio}/{rate_in}: {}", timers.reason);
        if verdict == Verdict::NotEnoughData {
            assert_eq!(
                timers.reason,
                "timers is 40 % busy but takes no records (its time goes to timers, or it is stuck), so what it \
                 could take is unknown; keep 4 subtasks"
            );
        }
    }
}

/// A change of `counter` from 1 to 2 `minutes` ago; 100 % busy for the 5 minutes after it (the
/// restart catching up), 70 % since.
fn just_rescaled(minutes: u64) -> RecommendationInput {
    let changed_ms = NOW - minutes * MINUTE;
    let at = move |at_ms: u64| {
        let ratio = if at_ms < changed_ms + 5 * MINUTE { 1.0 } else { 0.7 };
        vec![("s", source(1400.0, None)), ("counter", busy(ratio, 1400.0, 1400.0))]
    };
    let mut job = input(vec![vertex("s", 1, &[]), vertex("counter", 2, &["s"])], samples(changed_ms, NOW, at));
    let change = VertexRescale { before: 1, after: 2, rate_before: None, rate_after: None };
    job.history = vec![Rescale { at_ms: changed_ms, vertices: BTreeMap::from([("counter".to_owned(), change)]) }];
    job
}

#[test]
fn samples_within_the_stabilisation_interval_after_a_change_do_not_count() {
    // (minutes since the change, stabilisation in minutes, expected target, verdict); changes are
    // at least 5 min apart here.
    let cases = [(8, 5, 2, Verdict::NoChange), (8, 0, 3, Verdict::ScaleUp), (3, 5, 2, Verdict::NotEnoughData)];
    for (minutes, stabilisation, expected, verdict) in cases {
        let mut job = just_rescaled(minutes);
        job.policy.min_interval_ms = 5 * MINUTE;
        job.policy.stabilisation_ms = stabilisation * MINUTE;
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!(
            (counter.target, counter.verdict),
            (expected, verdict),
            "{minutes}/{stabilisation}: {}",
            counter.reason
        );
    }
    let mut settling = just_rescaled(3);
    settling.policy.min_interval_ms = 5 * MINUTE;
    let settling = recommend(&settling);
    assert_eq!(
        settling.summary,
        "not enough data: s has 0 usable samples since the last change and its 5 min to settle; 3 are \
         needed (the last change was 3 min ago; changes are at least 5 min apart)"
    );
    assert_eq!(Policy::default().stabilisation_ms, 5 * MINUTE);
}

#[test]
fn a_consumer_of_a_fan_out_takes_its_own_share_of_the_inputs_target() {
    // s emits 1000 rec/s while its backlog grows by 500/s: 1500 arrive. a takes 600 of them,
    // b 400. a: 333 per subtask, 900 / 0.7 / 333 = 3.9; b: 444, 600 / 0.7 / 444 = 1.9.
    let start = NOW - 10 * MINUTE;
    let at = move |at_ms: u64| {
        let pending = 500.0 * (at_ms - start) as f64 / 1000.0;
        vec![("s", source(1000.0, Some(pending))), ("a", busy(0.9, 600.0, 600.0)), ("b", busy(0.9, 400.0, 0.0))]
    };
    let mut job =
        input(vec![vertex("s", 1, &[]), vertex("a", 2, &["s"]), vertex("b", 1, &["s"])], samples(start, NOW, at));
    job.policy.catch_up_ms = 0;
    let recommendation = recommend(&job);
    let (a, b) = (of(&recommendation, "a"), of(&recommendation, "b"));
    assert_eq!((a.target, b.target), (4, 2), "{} / {}", a.reason, b.reason);
    assert!(a.reason.contains("should take 900 rec/s"), "{}", a.reason);
    assert!(b.reason.contains("should take 600 rec/s"), "{}", b.reason);
}

#[test]
fn a_skewed_keyed_vertex_is_sized_by_its_busiest_subtask_when_the_policy_says_so() {
    // 4 subtasks of 128 key groups at 1000 rec/s: 50 % busy on average, the hottest one 95 %.
    let skewed = VertexMetrics { busy_max_ms_per_s: Some(950.0), ..busy(0.5, 1000.0, 1000.0) };
    let mut job = input(
        vec![vertex("s", 1, &[]), GraphVertex { keyed: true, ..vertex("counter", 4, &["s"]) }],
        steady(vec![("s", source(1000.0, None)), ("counter", skewed)]),
    );
    job.policy.scale_down_damping_ms = 0;
    // (aggregation, expected target, verdict): the average asks for 3, which rounds up to the 4
    // it runs at; the busiest subtask asks for 1000 / 0.7 / 263 = 5.4, rounded up to 8.
    let cases = [(BusyAggregation::Average, 4, Verdict::NoChange), (BusyAggregation::Max, 8, Verdict::ScaleUp)];
    for (aggregation, expected, verdict) in cases {
        job.policy.busy_aggregation = aggregation;
        let recommendation = recommend(&job);
        let counter = of(&recommendation, "counter");
        assert_eq!((counter.target, counter.verdict), (expected, verdict), "{aggregation:?}: {}", counter.reason);
    }
    assert_eq!(Policy::default().busy_aggregation, BusyAggregation::Average);
    // Without the busiest subtask's figure, the average stands in.
    job.window.samples.iter_mut().for_each(|sample| {
        sample.vertices.insert("counter".to_owned(), busy(0.5, 1000.0, 1000.0));
    });
    assert_eq!(of(&recommend(&job), "counter").target, 4);
}

#[test]
fn odd_figures_never_panic_and_targets_stay_within_the_limits() {
    let odd = [0.0, -1.0, -1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-300, 5e-324, 1e300, f64::MAX, 700.0];
    let parallelisms = [0, 1, 7, u32::MAX];
    let key_groups = [0, 1, 128, u32::MAX];
    // A small linear congruential generator picks the combinations: the same ones every run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pick = |len: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % len
    };
    for round in 0..2_000 {
        let figure = |pick: &mut dyn FnMut(usize) -> usize| Some(odd[pick(odd.len())]);
        let metrics = |pick: &mut dyn FnMut(usize) -> usize| VertexMetrics {
            busy_ms_per_s: figure(pick),
            busy_max_ms_per_s: figure(pick),
            backpressured_ms_per_s: figure(pick),
            records_in_per_s: figure(pick),
            records_out_per_s: figure(pick),
            pending_records: figure(pick),
            parallelism: None,
        };
        let (s, m, k) = (metrics(&mut pick), metrics(&mut pick), metrics(&mut pick));
        let mut graph = vec![vertex("s", 1, &[]), vertex("m", 1, &["s"]), vertex("k", 1, &["m", "s"])];
        for vertex in &mut graph {
            vertex.parallelism = parallelisms[pick(parallelisms.len())];
            vertex.max_parallelism = key_groups[pick(key_groups.len())];
            vertex.keyed = pick(2) == 0;
        }
        let mut job = input(graph, steady(vec![("s", s), ("m", m), ("k", k)]));
        job.policy.target_utilisation = [0.7, 0.0, f64::NAN, 5.0][pick(4)];
        job.policy.utilisation_band = [0.1, f64::NAN, 10.0][pick(3)];
        job.policy.scale_down_damping_ms = [0, 60 * MINUTE, u64::MAX][pick(3)];
        job.policy.busy_aggregation = [BusyAggregation::Average, BusyAggregation::Max][pick(2)];
        job.policy.max_parallelism = [None, Some(0), Some(9)][pick(3)];
        let recommendation = recommend(&job);
        for vertex in &recommendation.vertices {
            let graph_vertex = job.graph.vertices.iter().find(|other| other.id == vertex.id).expect("in the graph");
            let (lowest, highest) = sizing::limits(graph_vertex, &job.policy);
            let within = (lowest..=highest).contains(&vertex.target) || vertex.target == vertex.current;
            assert!(
                within,
                "round {round}: {} at {} of {lowest}–{highest}: {}",
                vertex.id, vertex.target, vertex.reason
            );
            assert!(vertex.target >= 1 || vertex.target == vertex.current, "round {round}: {}", vertex.reason);
            let figures = vertex.figures.map(|f| [f.rate_per_subtask, f.target_rate, f.utilisation_at_target]);
            for figure in figures.into_iter().flatten().flatten() {
                assert!(!figure.is_nan(), "round {round}: {} has a figure that is not a number", vertex.id);
            }
        }
        serde_json::to_string(&recommendation).expect("the recommendation serialises");
    }
}

#[test]
fn samples_at_another_parallelism_than_the_graph_s_are_not_read() {
    // The job was rescaled 1 → 2 and only samples of the old job (a saturated subtask) are
    // stored: read as if taken at 2, they would ask for 4.
    let at = |sampled: Option<u32>| {
        let counter = VertexMetrics { parallelism: sampled, ..busy(1.0, 1000.0, 1000.0) };
        let mut job = counter_job(2, 1.0, 1000.0);
        job.window.samples = steady(vec![("s", source(1000.0, None)), ("counter", counter)]);
        recommend(&job)
    };
    let old = at(Some(1));
    assert_eq!(of(&old, "counter").target, 2, "{old:?}");
    assert_eq!(of(&old, "counter").verdict, Verdict::NotEnoughData, "{old:?}");
    assert_eq!(old.verdict, Verdict::NotEnoughData, "nothing to file: {old:?}");
    assert!(of(&old, "counter").figures.is_none(), "no figures read: {old:?}");
    // The same samples taken at 2 are the job as it runs: it is saturated.
    let current = at(Some(2));
    assert!(of(&current, "counter").target > 2, "{current:?}");
}

#[test]
fn a_short_history_has_not_held_a_lower_need_for_longer_than_itself() {
    // Sampled for 20 min only, every sample low: the slice before the history starts may still
    // hold samples of its last minutes, but the need has held for 20 min, not the whole slice.
    let at = |_| [("s", source(1000.0, None)), ("counter", busy(0.3, 1000.0, 1000.0))].into_iter().collect();
    let mut job = input(vec![vertex("s", 1, &[]), vertex("counter", 4, &["s"])], samples(NOW - 20 * MINUTE, NOW, at));
    job.policy.evaluation_window_ms = 15 * MINUTE;
    job.policy.scale_down_damping_ms = 30 * MINUTE;
    let counter = of(&recommend(&job), "counter").clone();
    assert_eq!((counter.target, counter.verdict), (4, Verdict::HeldBack), "{}", counter.reason);
    assert!(counter.reason.contains("has held for 20 min of the 30 min"), "{}", counter.reason);
}
