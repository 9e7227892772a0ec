//! Table tests of the load history's rules: append, fold, merge, the window, the size.

use super::*;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
/// A time on a bucket boundary, far from the epoch.
const START: u64 = 1_000 * BUCKET_MS;
const STEP: u64 = 30_000;

fn vertex(id: &str, parallelism: u32, busy: f64) -> VertexSample {
    VertexSample {
        id: id.to_owned(),
        name: format!("{id} name"),
        parallelism,
        busy_ms_per_s_avg: Some(busy),
        busy_ms_per_s_max: Some(busy + 100.0),
        backpressured_ms_per_s_avg: Some(busy / 10.0),
        backpressured_ms_per_s_max: Some(busy / 5.0),
        records_in_per_s: Some(busy * 2.0),
        records_out_per_s: Some(busy * 3.0),
        pending_records: None,
    }
}

fn sample(at_ms: u64, job_id: &str, vertices: Vec<VertexSample>) -> LoadSample {
    LoadSample { at_ms, job_id: job_id.to_owned(), folded: 1, vertices }
}

/// Samples every 30 s in `[from_ms, to_ms)`, source at parallelism 1 and `map` at `parallelism`,
/// `map` busy `busy(at_ms)`.
fn samples(from_ms: u64, to_ms: u64, parallelism: u32, busy: impl Fn(u64) -> f64) -> Vec<LoadSample> {
    (from_ms..to_ms)
        .step_by(STEP as usize)
        .map(|at_ms| sample(at_ms, "job1", vec![vertex("source", 1, 10.0), vertex("map", parallelism, busy(at_ms))]))
        .collect()
}

fn recent_of(samples: Vec<LoadSample>) -> LoadHistory {
    let mut recent = LoadHistory::recent();
    for sample in samples {
        assert!(recent.append(sample));
    }
    recent
}

fn times(history: &LoadHistory) -> Vec<u64> {
    history.samples.iter().map(|sample| sample.at_ms).collect()
}

#[test]
fn an_append_near_a_stored_sample_is_ignored_and_others_go_in_time_order() {
    // (time of the second sample relative to the first at START + 1 min, stored?)
    let table = [(0i64, false), (14_999, false), (-14_999, false), (15_000, true), (-15_000, true), (-60_000, true)];
    for (offset, stored) in table {
        let mut recent = recent_of(vec![sample(START + MINUTE, "job1", vec![vertex("map", 2, 500.0)])]);
        let at_ms = (START + MINUTE).checked_add_signed(offset).expect("in range");
        assert_eq!(recent.append(sample(at_ms, "job1", vec![vertex("map", 2, 600.0)])), stored, "offset {offset}");
        assert_eq!(recent.samples.len(), if stored { 2 } else { 1 }, "offset {offset}");
        assert!(times(&recent).is_sorted(), "offset {offset}: {:?}", times(&recent));
    }
}

#[test]
fn an_appended_sample_keeps_names_once_and_figures_to_a_thousandth() {
    let mut raw = vertex("map", 2, 1_666.666_666_666_666_7);
    raw.pending_records = Some(f64::NAN);
    raw.records_in_per_s = Some(f64::INFINITY);
    let mut recent = recent_of(vec![sample(START, "job1", vec![raw])]);
    let stored = &recent.samples[0].vertices[0];
    assert_eq!(stored.name, "");
    assert_eq!(stored.busy_ms_per_s_avg, Some(1666.667));
    assert_eq!((stored.pending_records, stored.records_in_per_s), (None, None));
    assert_eq!(recent.name_of("map"), "map name");
    // A later name wins; a vertex no sample has any more loses its name.
    let mut renamed = vertex("map", 2, 1.0);
    renamed.name = "map v2".to_owned();
    assert!(recent.append(sample(START + STEP, "job1", vec![renamed])));
    assert_eq!(recent.name_of("map"), "map v2");
    recent.retain_since(START + 2 * STEP);
    assert!(recent.names.is_empty());
}

#[test]
fn only_buckets_that_ended_two_hours_ago_leave_the_recent_window() {
    let all = samples(START, START + 3 * HOUR, 2, |_| 500.0);
    // (now, samples that leave: 10 per bucket of 5 minutes)
    let table = [
        (START + 2 * HOUR, 0),
        (START + 2 * HOUR + BUCKET_MS - 1, 0),
        (START + 2 * HOUR + BUCKET_MS, 10),
        (START + 2 * HOUR + 2 * BUCKET_MS - 1, 10),
        (START + 3 * HOUR, 120),
        (START + 5 * HOUR, 360),
    ];
    for (now_ms, leaving) in table {
        let mut recent = recent_of(all.clone());
        let left = fold_out(&mut recent, now_ms);
        assert_eq!(left.samples.len(), leaving, "now {now_ms}");
        assert_eq!(recent.samples.len() + leaving, all.len());
        // Full resolution for the last two hours, always.
        let full_from = now_ms - RECENT_MS;
        assert!(
            recent.samples.iter().filter(|s| s.at_ms >= full_from).count()
                == all.iter().filter(|s| s.at_ms >= full_from).count()
        );
        assert_eq!(left.name_of("map"), if leaving > 0 { "map name" } else { "map" });
    }
}

#[test]
fn a_bucket_folds_into_one_point_of_means_maxima_and_the_last_parallelism() {
    let busy = |at_ms: u64| ((at_ms - START) / STEP) as f64 * 10.0; // 0, 10, …, 90
    let leaving = recent_of(samples(START, START + BUCKET_MS, 3, busy));
    let mut day = LoadHistory::day();
    assert!(fold_into(&mut day, &leaving, START + 3 * HOUR));
    assert_eq!(day.samples.len(), 1);
    let point = &day.samples[0];
    assert_eq!((point.at_ms, point.folded, point.job_id.as_str()), (START + BUCKET_MS - STEP, 10, "job1"));
    let map = &point.vertices[1];
    assert_eq!(map.parallelism, 3);
    assert_eq!(map.busy_ms_per_s_avg, Some(45.0));
    assert_eq!(map.busy_ms_per_s_max, Some(190.0), "the peak, not the mean");
    assert_eq!(map.backpressured_ms_per_s_avg, Some(4.5));
    assert_eq!(map.records_out_per_s, Some(135.0));
    assert_eq!(map.pending_records, None);
    assert_eq!(day.name_of("map"), "map name");
    assert_eq!(day.resolution_ms, BUCKET_MS);
}

#[test]
fn a_bucket_with_a_rescale_folds_into_one_point_per_side() {
    // (what changes half way through the bucket, points expected)
    let rescaled = |at_ms: u64, job: &str, parallelism: u32, busy: f64| {
        sample(at_ms, job, vec![vertex("source", 1, 10.0), vertex("map", parallelism, busy)])
    };
    let table: [(&str, &str, u32, usize); 3] =
        [("nothing", "job1", 2, 1), ("new job id", "job2", 2, 2), ("parallelism", "job1", 4, 2)];
    for (what, job, parallelism, points) in table {
        let mut all = Vec::new();
        for n in 0..10u64 {
            let at_ms = START + n * STEP;
            all.push(if n < 5 { rescaled(at_ms, "job1", 2, 800.0) } else { rescaled(at_ms, job, parallelism, 400.0) });
        }
        let mut day = LoadHistory::day();
        fold_into(&mut day, &recent_of(all), START + 3 * HOUR);
        assert_eq!(day.samples.len(), points, "{what}");
        if points == 2 {
            let [before, after] = [&day.samples[0], &day.samples[1]];
            assert_eq!((before.vertices[1].parallelism, before.vertices[1].busy_ms_per_s_avg), (2, Some(800.0)));
            assert_eq!(
                (after.vertices[1].parallelism, after.vertices[1].busy_ms_per_s_avg),
                (parallelism, Some(400.0))
            );
            assert_eq!((before.folded, after.folded), (5, 5));
            assert!(before.at_ms < after.at_ms);
        }
    }
}

#[test]
fn folding_again_what_was_folded_changes_nothing() {
    let leaving = recent_of(samples(START, START + 2 * BUCKET_MS, 2, |_| 500.0));
    let mut day = LoadHistory::day();
    assert!(fold_into(&mut day, &leaving, START + 3 * HOUR));
    let once = day.clone();
    assert!(!fold_into(&mut day, &leaving, START + 3 * HOUR), "nothing to write");
    assert_eq!(day, once);
}

#[test]
fn points_older_than_a_day_are_dropped_and_the_day_is_capped() {
    let leaving = recent_of(samples(START, START + 4 * HOUR, 2, |_| 500.0));
    // (now, points left)
    let table = [(START + 5 * HOUR, 48), (START + 24 * HOUR + 2 * HOUR, 24), (START + 29 * HOUR, 0)];
    for (now_ms, left) in table {
        let mut day = LoadHistory::day();
        fold_into(&mut day, &leaving, now_ms);
        assert_eq!(day.samples.len(), left, "now {now_ms}");
        assert!(day.samples.iter().all(|point| point.at_ms >= now_ms - DAY_MS));
        assert_eq!(day.names.is_empty(), left == 0);
    }
    // A rescale every sample: one point per sample, at most the cap.
    let flapping: Vec<LoadSample> = (0..MAX_DAY_POINTS as u64 + 50)
        .map(|n| sample(START + n * STEP, "job1", vec![vertex("map", 1 + (n % 2) as u32, 1.0)]))
        .collect();
    let mut day = LoadHistory::day();
    fold_into(&mut day, &recent_of(flapping), START + 20 * HOUR);
    assert_eq!(day.samples.len(), MAX_DAY_POINTS);
    assert_eq!(day.newest_ms(), Some(START + (MAX_DAY_POINTS as u64 + 49) * STEP), "the oldest go");
}

#[test]
fn the_recent_document_is_capped_even_when_nothing_is_old() {
    let many = samples(START, START + (MAX_RECENT_SAMPLES as u64 + 20) * STEP, 2, |_| 1.0);
    let mut recent = recent_of(many);
    let left = fold_out(&mut recent, START);
    assert_eq!((recent.samples.len(), left.samples.len()), (MAX_RECENT_SAMPLES, 20));
    assert!(left.newest_ms() < recent.samples.first().map(|sample| sample.at_ms));
}

#[test]
fn merged_lists_points_then_samples_without_the_overlap() {
    let mut recent = recent_of(samples(START, START + 3 * HOUR, 2, |_| 500.0));
    let untrimmed = recent.clone();
    let now_ms = START + 3 * HOUR;
    let leaving = fold_out(&mut recent, now_ms);
    let mut day = LoadHistory::day();
    fold_into(&mut day, &leaving, now_ms);
    let expected = merged(&recent, &day);
    assert_eq!(expected.samples.len(), 12 + 240);
    assert!(times(&expected).is_sorted());
    assert_eq!(expected.resolution_ms, BUCKET_MS);
    assert_eq!(expected.name_of("source"), "source name");
    // A writer stopped after the day write, before the trim: the same answer.
    assert_eq!(merged(&untrimmed, &day), expected);
    // Nothing folded yet: the samples as taken.
    let only_recent = merged(&untrimmed, &LoadHistory::day());
    assert_eq!((only_recent.samples.len(), only_recent.resolution_ms), (360, 0));
}

#[test]
fn the_window_carries_every_figure_the_recommendation_reads() {
    let mut with_backlog = vertex("source", 1, 12.5);
    with_backlog.pending_records = Some(42.0);
    let history = recent_of(vec![sample(START, "job1", vec![with_backlog, vertex("map", 2, 700.0)])]);
    let window = history.window();
    assert_eq!(window.samples.len(), 1);
    assert_eq!(window.samples[0].at_ms, START);
    let source = window.samples[0].vertices["source"];
    let stored = &history.samples[0].vertices[0];
    assert_eq!(source.busy_ms_per_s, stored.busy_ms_per_s_avg);
    assert_eq!(source.busy_max_ms_per_s, stored.busy_ms_per_s_max);
    assert_eq!(source.busy_max_ms_per_s, Some(112.5));
    assert_eq!(source.backpressured_ms_per_s, stored.backpressured_ms_per_s_avg);
    assert_eq!(source.records_in_per_s, stored.records_in_per_s);
    assert_eq!(source.records_out_per_s, stored.records_out_per_s);
    assert_eq!(source.pending_records, Some(42.0));
    assert_eq!(window.samples[0].vertices["map"].busy_ms_per_s, Some(700.0));
}

#[test]
fn rescales_are_where_a_vertex_changed_parallelism() {
    let mut all = samples(START, START + 3 * STEP, 2, |_| 1.0);
    all.extend(samples(START + 3 * STEP, START + 6 * STEP, 4, |_| 1.0));
    let rescales = recent_of(all).rescales(0);
    assert_eq!(rescales.len(), 1);
    assert_eq!(rescales[0].at_ms, START + 3 * STEP);
    assert_eq!((rescales[0].vertices["map"].before, rescales[0].vertices["map"].after), (2, 4));
    assert!(!rescales[0].vertices.contains_key("source"));
}

#[test]
fn a_document_of_ten_vertices_is_as_small_as_documented() {
    // Realistic figures: Flink's rates come with every digit of an f64.
    let ten = |at_ms: u64| {
        let vertices = (0..10u32)
            .map(|n| VertexSample {
                id: format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15),
                name: format!("Vertex {n}: a chain of operators"),
                parallelism: 12,
                busy_ms_per_s_avg: Some(512.345_678_9 + f64::from(n)),
                busy_ms_per_s_max: Some(987.654_321),
                backpressured_ms_per_s_avg: Some(123.456_789),
                backpressured_ms_per_s_max: Some(456.789_123),
                records_in_per_s: Some(16_666.666_666_666_668),
                records_out_per_s: Some(33_333.333_333_333_336),
                pending_records: (n == 0).then_some(1_234_567.0),
            })
            .collect();
        sample(at_ms, "0123456789abcdef0123456789abcdef", vertices)
    };
    let recent = recent_of((0..240).map(|n| ten(START + n * STEP)).collect());
    let per_sample = serde_json::to_vec(&recent).expect("encode").len() / 240;
    assert!(per_sample <= 1_400, "{per_sample} bytes a sample");
    let mut full = LoadHistory::recent();
    for n in 0..MAX_RECENT_SAMPLES as u64 {
        full.append(ten(START + n * MIN_SPACING_MS));
    }
    let full_bytes = serde_json::to_vec(&full).expect("encode").len();
    assert!(full_bytes <= 700_000, "{full_bytes} bytes at the cap");
    // A rescale every other bucket fills the day to its cap.
    let day_samples: Vec<LoadSample> = (0..MAX_DAY_POINTS as u64)
        .map(|n| {
            let mut sample = ten(START + n * BUCKET_MS);
            sample.vertices[0].parallelism = 1 + (n % 2) as u32;
            sample
        })
        .collect();
    let mut day = LoadHistory::day();
    fold_into(&mut day, &recent_of(day_samples), START + 10 * HOUR);
    assert_eq!(day.samples.len(), MAX_DAY_POINTS);
    let day_bytes = serde_json::to_vec(&day).expect("encode").len();
    assert!(day_bytes <= 560_000, "{day_bytes} bytes at the cap");
    // Round trip: what is stored is what is read.
    let bytes = serde_json::to_vec(&recent).expect("encode");
    assert_eq!(serde_json::from_slice::<LoadHistory>(&bytes).expect("decode"), recent);
}

/// `map` at `parallelism`, `busy` ms a second, taking `records_in` a second: its true processing
/// rate is `records_in / (busy / 1000)`.
fn map_at(at_ms: u64, parallelism: u32, busy: f64, records_in: f64) -> LoadSample {
    let map = VertexSample { records_in_per_s: Some(records_in), ..vertex("map", parallelism, busy) };
    let source =
        VertexSample { records_in_per_s: Some(0.0), records_out_per_s: Some(records_in), ..vertex("source", 1, 10.0) };
    sample(at_ms, "job1", vec![source, map])
}

/// 20 min at 2 subtasks, 90 % busy at 900 rec/s (1000 at full busy time); then at 4: the first 5
/// minutes 100 % busy at 3000 (the restart catching up), then `busy_after` at 1000 rec/s.
fn rescaled_history(busy_after: f64) -> LoadHistory {
    let change_ms = START + 20 * MINUTE;
    let all = (START..change_ms + 30 * MINUTE).step_by(STEP as usize).map(|at_ms| match at_ms {
        at_ms if at_ms < change_ms => map_at(at_ms, 2, 900.0, 900.0),
        at_ms if at_ms < change_ms + 5 * MINUTE => map_at(at_ms, 4, 1000.0, 3000.0),
        at_ms => map_at(at_ms, 4, busy_after, 1000.0),
    });
    recent_of(all.collect())
}

#[test]
fn rescales_carry_the_processing_rate_before_and_after_without_the_settling_time() {
    let history = rescaled_history(500.0);
    // (stabilisation, rate before, rate after): without the 5 min of settling, the catch-up
    // (10 samples at 3000 rec/s, 100 % busy) counts after, with the 50 at 1000, 50 % busy.
    let table =
        [(5 * MINUTE, 1000.0, 2000.0), (0, 1000.0, (10.0 * 3000.0 + 50.0 * 1000.0) / (10.0 * 1.0 + 50.0 * 0.5))];
    for (stabilisation_ms, before, after) in table {
        let rescales = history.rescales(stabilisation_ms);
        assert_eq!(rescales.len(), 1);
        let map = rescales[0].vertices["map"];
        assert_eq!((map.before, map.after), (2, 4));
        let (rate_before, rate_after) = (map.rate_before.unwrap_or(f64::NAN), map.rate_after.unwrap_or(f64::NAN));
        assert!((rate_before - before).abs() < 0.01, "{stabilisation_ms}: before {rate_before}, not {before}");
        assert!((rate_after - after).abs() < 0.01, "{stabilisation_ms}: after {rate_after}, not {after}");
    }
    // A run that follows a change loses its settling time too: 2 → 4 → 2.
    let mut flipped = history.samples.clone();
    let back_ms = START + 50 * MINUTE;
    flipped.extend((back_ms..back_ms + 10 * MINUTE).step_by(STEP as usize).map(|at_ms| {
        if at_ms < back_ms + 5 * MINUTE { map_at(at_ms, 2, 1000.0, 100.0) } else { map_at(at_ms, 2, 800.0, 1200.0) }
    }));
    let rescales = recent_of(flipped).rescales(5 * MINUTE);
    let back = rescales[1].vertices["map"];
    assert_eq!((back.before, back.after), (4, 2));
    assert!(back.rate_before.is_some_and(|rate| (rate - 2000.0).abs() < 0.01), "{back:?}");
    assert!(back.rate_after.is_some_and(|rate| (rate - 1500.0).abs() < 0.01), "{back:?}");
    // Never busy: no rate to judge by.
    let idle = rescaled_history(0.0).rescales(5 * MINUTE);
    assert_eq!(idle[0].vertices["map"].rate_after, None);
}

#[test]
fn an_ineffective_scale_up_in_the_stored_history_holds_back_another() {
    use crate::recommend::{GraphVertex, JobGraph, Policy, RecommendationInput, Verdict, recommend};
    // After 2 → 4 the map is 95 % busy at 1000 rec/s: 1053 at full busy time, from 1000 before.
    let history = rescaled_history(950.0);
    let graph_vertex = |id: &str, parallelism: u32, inputs: &[&str]| GraphVertex {
        id: id.to_owned(),
        name: id.to_owned(),
        parallelism,
        max_parallelism: 128,
        inputs: inputs.iter().map(|input| (*input).to_owned()).collect(),
        keyed: false,
        source: inputs.is_empty(),
    };
    let job = |history_rescales| RecommendationInput {
        now_ms: START + 50 * MINUTE - STEP,
        graph: JobGraph { vertices: vec![graph_vertex("source", 1, &[]), graph_vertex("map", 4, &["source"])] },
        window: history.window(),
        history: history_rescales,
        policy: Policy::default(),
    };
    let held = recommend(&job(history.rescales(Policy::default().stabilisation_ms)));
    let map = held.vertices.iter().find(|vertex| vertex.id == "map").expect("map");
    assert_eq!((map.verdict, map.target), (Verdict::HeldBack, 4), "{}", map.reason);
    assert!(map.reason.contains("did not raise its throughput (1k → 1.1k rec/s, 2k rec/s expected)"), "{}", map.reason);
    // The same change without its rates: nothing to judge by, the scale-up goes ahead.
    let mut unrated = history.rescales(0);
    unrated.iter_mut().flat_map(|rescale| rescale.vertices.values_mut()).for_each(|change| {
        (change.rate_before, change.rate_after) = (None, None);
    });
    let map_up = recommend(&job(unrated)).vertices.into_iter().find(|vertex| vertex.id == "map").expect("map");
    assert_eq!(map_up.verdict, Verdict::ScaleUp, "{}", map_up.reason);
}

#[test]
fn samples_out_of_order_are_put_in_order_once_each() {
    let mut history = recent_of(samples(START, START + 4 * STEP, 2, |_| 1.0));
    assert!(!history.put_in_order(), "in order already: nothing to do");
    let in_order = history.clone();
    history.samples.swap(0, 3);
    history.samples.push(history.samples[1].clone());
    assert!(history.put_in_order());
    assert_eq!(history, in_order);
}

#[test]
fn points_that_fold_more_samples_than_a_u32_holds_do_not_overflow() {
    let mut huge = samples(START, START + 2 * STEP, 2, |_| 1.0);
    huge.iter_mut().for_each(|sample| sample.folded = u32::MAX);
    let leaving = LoadHistory { samples: huge, ..LoadHistory::recent() };
    let mut day = LoadHistory::day();
    assert!(fold_into(&mut day, &leaving, START + 3 * HOUR));
    assert_eq!(day.samples[0].folded, u32::MAX);
}
