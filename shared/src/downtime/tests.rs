use super::*;

const MIB: u64 = 1024 * 1024;

fn earlier(strategy: ResolvedStrategy, to_ms: u64, duration_ms: u64, state_bytes: Option<u64>) -> EarlierOutage {
    EarlierOutage {
        outage: MeasuredOutage { strategy, from_ms: to_ms - duration_ms, to_ms },
        checkpoint: state_bytes.map(|size_bytes| CheckpointFacts { size_bytes, duration_ms: 0 }),
        scale_up: None,
    }
}

#[test]
fn without_earlier_rescales_the_default_and_the_state_give_a_wide_range() {
    let none = predict(ResolvedStrategy::Savepoint, &[], None, None);
    assert_eq!((none.expected_ms, none.low_ms, none.high_ms, none.from_rescales), (2_000, 500, 10_000, 0));
    // 1 GiB written in 8 s and read back at 100 MiB/s: + 8 s + 10.24 s.
    let checkpoint = CheckpointFacts { size_bytes: 1024 * MIB, duration_ms: 8_000 };
    let large = predict(ResolvedStrategy::Savepoint, &[], Some(&checkpoint), None);
    assert_eq!(large.expected_ms, 2_000 + 8_000 + 10_240);
    assert_eq!((large.low_ms, large.high_ms), (500 + 9_120, 10_000 + 36_480));
    // In place reads the checkpoint back and writes nothing.
    assert_eq!(predict(ResolvedStrategy::InPlace, &[], Some(&checkpoint), None).expected_ms, 2_000 + 10_240);
    let words = describe(&large);
    assert!(words.contains("no earlier savepoint rescale") && words.contains("state 1.0 GB"), "{words}");
}

#[test]
fn earlier_rescales_give_the_median_of_the_newest_five_with_their_spread() {
    let runs = [
        earlier(ResolvedStrategy::Savepoint, 10_000, 9_000, None), // the oldest: left out
        earlier(ResolvedStrategy::Savepoint, 20_000, 800, None),
        earlier(ResolvedStrategy::Savepoint, 30_000, 850, None),
        earlier(ResolvedStrategy::InPlace, 35_000, 150, None), // another strategy
        earlier(ResolvedStrategy::Savepoint, 40_000, 900, None),
        earlier(ResolvedStrategy::Savepoint, 50_000, 700, None),
        earlier(ResolvedStrategy::Savepoint, 60_000, 820, None),
    ];
    let prediction = predict(ResolvedStrategy::Savepoint, &runs, None, None);
    assert_eq!(prediction.from_rescales, 5);
    assert_eq!(prediction.expected_ms, 820);
    // The spread, at least ±15 %.
    assert_eq!((prediction.low_ms, prediction.high_ms), (697, 943));
    let words = describe(&prediction);
    assert!(words.starts_with("about 0.8 s (0.7 s–0.9 s), from 5 earlier savepoint rescales"), "{words}");

    let in_place = predict(ResolvedStrategy::InPlace, &runs, None, None);
    assert_eq!(in_place.from_rescales, 1);
    assert_eq!((in_place.expected_ms, in_place.low_ms, in_place.high_ms), (150, 112, 225), "one run: -25 % / +50 %");
}

#[test]
fn state_that_grew_since_the_earlier_rescales_adds_its_reading_time() {
    // Earlier: 1 s with 100 MiB of state (1 s of it reading, so 0 fixed is left... plus 500 ms).
    let runs = [
        earlier(ResolvedStrategy::InPlace, 10_000, 1_500, Some(100 * MIB)),
        earlier(ResolvedStrategy::InPlace, 20_000, 1_400, Some(100 * MIB)),
        earlier(ResolvedStrategy::InPlace, 30_000, 1_600, Some(100 * MIB)),
    ];
    let now = CheckpointFacts { size_bytes: 1000 * MIB, duration_ms: 5_000 };
    let prediction = predict(ResolvedStrategy::InPlace, &runs, Some(&now), None);
    // Fixed part 500 ms (the median of 400, 500, 600), then 10 s of reading.
    assert_eq!(prediction.expected_ms, 500 + 10_000);
    assert_eq!((prediction.low_ms, prediction.high_ms), (400 + 5_000, 600 + 20_000));
    assert_eq!(prediction.state_bytes, Some(1000 * MIB));
}

#[test]
fn a_completed_request_is_an_earlier_rescale_with_the_state_its_prediction_assumed() {
    let request = crate::operation::OperationRequest {
        cluster_id: "local".to_owned(),
        job_id: "a".repeat(32),
        job_name: "counter".to_owned(),
        target: crate::operation::Target::Uniform { parallelism: 2 },
        strategy: crate::operation::Strategy::Savepoint,
        reason: "load".to_owned(),
        requested_by: "alice".to_owned(),
        required_approvals: 1,
        approval_window_ms: 60_000,
        verify_timeout_ms: 60_000,
        artifact: None,
        autoscaling: None,
    };
    let mut operation = Operation::new("b".repeat(32), request, 0);
    assert_eq!(EarlierOutage::of(&operation), None, "no outage recorded");
    let outage = MeasuredOutage { strategy: ResolvedStrategy::Savepoint, from_ms: 1_000, to_ms: 1_900 };
    operation.outage = Some(outage);
    operation.predicted_outage = Some(OutagePrediction {
        strategy: ResolvedStrategy::Savepoint,
        expected_ms: 1_000,
        low_ms: 750,
        high_ms: 1_500,
        from_rescales: 1,
        scale_up: None,
        state_bytes: Some(5 * MIB),
        checkpoint_duration_ms: Some(300),
    });
    let read = EarlierOutage::of(&operation).expect("an earlier rescale");
    assert_eq!(read.outage, outage);
    assert_eq!(read.checkpoint, Some(CheckpointFacts { size_bytes: 5 * MIB, duration_ms: 300 }));
    let prediction = operation.predicted_outage.as_ref().expect("prediction");
    assert!((relative_error(prediction, &outage) - 0.1111).abs() < 0.001);
}

#[test]
fn a_scale_up_learns_from_earlier_scale_ups_when_there_are_some() {
    let directed = |to_ms, duration_ms, up| EarlierOutage {
        scale_up: Some(up),
        ..earlier(ResolvedStrategy::InPlace, to_ms, duration_ms, None)
    };
    // Scale-ups start new subtasks and take longer.
    let runs = [directed(10_000, 700, true), directed(20_000, 320, false), directed(30_000, 350, false)];
    let up = predict(ResolvedStrategy::InPlace, &runs, None, Some(true));
    assert_eq!((up.expected_ms, up.from_rescales, up.scale_up), (700, 1, Some(true)));
    let down = predict(ResolvedStrategy::InPlace, &runs, None, Some(false));
    assert_eq!((down.expected_ms, down.from_rescales, down.scale_up), (350, 2, Some(false)));
    assert!(describe(&down).contains("from 2 earlier in-place scale-downs"), "{}", describe(&down));
    // No earlier rescale in this direction: every one counts.
    let only_downs = &runs[1..];
    let first_up = predict(ResolvedStrategy::InPlace, only_downs, None, Some(true));
    assert_eq!((first_up.from_rescales, first_up.scale_up), (2, None));
    let mut original = std::collections::BTreeMap::new();
    original.insert("v".to_owned(), 2);
    let mut target = original.clone();
    assert_eq!(scales_up(&original, &target), Some(false));
    target.insert("v".to_owned(), 3);
    assert_eq!(scales_up(&original, &target), Some(true));
    assert_eq!(scales_up(&std::collections::BTreeMap::new(), &target), None);
}
