//! Predicted downtime: how long a rescale will keep a job from processing, per strategy, from
//! the job's earlier rescales and its latest checkpoint.
//!
//! An outage is a part that does not depend on the state (stop, resubmit, schedule, deploy;
//! the product's own steps) plus a part that grows with it: a savepoint is written (about as
//! long as a checkpoint takes) and then read back; an in-place restart and an MSF update read
//! the latest checkpoint or snapshot back. Each earlier rescale of the job with the same
//! strategy, less the state part it had, is one observation of the fixed part; the prediction
//! is their median plus the state part the job has now, and its range their spread (widened
//! when there are few). A job with no earlier rescale gets the product's defaults, with a wide
//! range that says so.

use std::collections::BTreeMap;

use crate::operation::{MeasuredOutage, Operation, OutagePrediction, ResolvedStrategy};
use crate::phase::CheckpointFacts;

/// State read back per second on a restore, for the expected figure (the restore budget's
/// `ASSUMED_RESTORE_BYTES_PER_SEC` is a deliberately low bound; this is a typical rate).
pub const EXPECTED_RESTORE_BYTES_PER_SEC: u64 = 100 * 1024 * 1024;
/// The earlier rescales a prediction learns from: the newest ones, per strategy.
pub const MAX_EARLIER_RESCALES: usize = 5;

/// The fixed part of an outage when the job has no earlier rescale with the strategy.
pub fn default_fixed_ms(strategy: ResolvedStrategy) -> u64 {
    match strategy {
        // Stop, resubmit, schedule and deploy: about a second on an idle cluster (BENCHMARKS
        // P2), more on a busy one.
        ResolvedStrategy::Savepoint => 2_000,
        // The adaptive scheduler's restart (its resource-stabilization wait included).
        ResolvedStrategy::InPlace => 2_000,
        // MSF restarts the application on new resources: minutes.
        ResolvedStrategy::MsfUpdate => 120_000,
    }
}

/// An earlier rescale as a prediction reads it: its outage, the state it had, and whether it
/// scaled up (a new subtask's first start makes a scale-up slower than a scale-down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlierOutage {
    pub outage: MeasuredOutage,
    pub checkpoint: Option<CheckpointFacts>,
    pub scale_up: Option<bool>,
}

/// Whether going from `original` to `target` (parallelism by vertex) adds a subtask anywhere;
/// `None` when either is unknown.
pub fn scales_up(original: &BTreeMap<String, u32>, target: &BTreeMap<String, u32>) -> Option<bool> {
    if original.is_empty() || target.is_empty() {
        return None;
    }
    Some(target.iter().any(|(vertex, to)| original.get(vertex).is_some_and(|from| to > from)))
}

impl EarlierOutage {
    /// A completed request's outage, with the checkpoint its prediction assumed.
    pub fn of(operation: &Operation) -> Option<Self> {
        let outage = operation.outage?;
        let checkpoint = operation.predicted_outage.as_ref().and_then(|prediction| {
            Some(CheckpointFacts {
                size_bytes: prediction.state_bytes?,
                duration_ms: prediction.checkpoint_duration_ms.unwrap_or(0),
            })
        });
        Some(Self {
            outage,
            checkpoint,
            scale_up: scales_up(&operation.original_parallelism, &operation.target_parallelism),
        })
    }
}

/// The part of an outage that grows with the state, by strategy.
pub fn state_part_ms(strategy: ResolvedStrategy, checkpoint: Option<&CheckpointFacts>) -> u64 {
    let Some(checkpoint) = checkpoint else { return 0 };
    let read_ms = checkpoint.size_bytes.saturating_mul(1000) / EXPECTED_RESTORE_BYTES_PER_SEC;
    match strategy {
        ResolvedStrategy::Savepoint => read_ms.saturating_add(checkpoint.duration_ms),
        ResolvedStrategy::InPlace | ResolvedStrategy::MsfUpdate => read_ms,
    }
}

/// The outage predicted for a rescale with `strategy` (a scale-up or not: `scale_up`) of a job
/// whose latest checkpoint is `checkpoint`, from its earlier rescales (any order; other
/// strategies are left out, and the other direction too when there are some in this one).
pub fn predict(
    strategy: ResolvedStrategy,
    earlier: &[EarlierOutage],
    checkpoint: Option<&CheckpointFacts>,
    scale_up: Option<bool>,
) -> OutagePrediction {
    let mut newest: Vec<&EarlierOutage> =
        earlier.iter().filter(|earlier| earlier.outage.strategy == strategy).collect();
    let same_direction = scale_up.filter(|up| newest.iter().any(|earlier| earlier.scale_up == Some(*up)));
    if let Some(up) = same_direction {
        newest.retain(|earlier| earlier.scale_up == Some(up));
    }
    newest.sort_by_key(|earlier| std::cmp::Reverse(earlier.outage.to_ms));
    newest.truncate(MAX_EARLIER_RESCALES);
    let mut fixed: Vec<u64> = newest
        .iter()
        .map(|earlier| {
            earlier.outage.duration_ms().saturating_sub(state_part_ms(strategy, earlier.checkpoint.as_ref()))
        })
        .collect();
    fixed.sort_unstable();
    let state_ms = state_part_ms(strategy, checkpoint);
    let (expected_ms, low_ms, high_ms) = match fixed.as_slice() {
        [] => {
            let fixed_ms = default_fixed_ms(strategy);
            (fixed_ms + state_ms, fixed_ms / 4 + state_ms / 2, fixed_ms * 5 + state_ms * 2)
        }
        observed => {
            let median = observed[observed.len() / 2];
            let expected = median + state_ms;
            // Few observations say little about the spread: at least -25 % / +50 % with one or
            // two, at least ±15 % with more.
            let (low_floor, high_floor) = if observed.len() < 3 {
                (expected * 3 / 4, expected * 3 / 2)
            } else {
                (expected * 85 / 100, expected * 115 / 100)
            };
            let low = (observed[0] + state_ms / 2).min(low_floor);
            let high = (observed[observed.len() - 1] + state_ms * 2).max(high_floor);
            (expected, low, high)
        }
    };
    OutagePrediction {
        strategy,
        expected_ms,
        low_ms,
        high_ms,
        from_rescales: fixed.len() as u32,
        scale_up: same_direction,
        state_bytes: checkpoint.map(|checkpoint| checkpoint.size_bytes),
        checkpoint_duration_ms: checkpoint.map(|checkpoint| checkpoint.duration_ms),
    }
}

/// The prediction in words: "about 0.8 s (0.7–1.2 s), from 4 earlier savepoint rescales of
/// this job; state 12.0 MB".
pub fn describe(prediction: &OutagePrediction) -> String {
    let kind = strategy_words(prediction.strategy);
    let (one, many) = match prediction.scale_up {
        Some(true) => ("scale-up", "scale-ups"),
        Some(false) => ("scale-down", "scale-downs"),
        None => ("rescale", "rescales"),
    };
    let basis = match prediction.from_rescales {
        0 => format!("no earlier {kind} rescale of this job: the product's default"),
        1 => format!("from 1 earlier {kind} {one} of this job"),
        n => format!("from {n} earlier {kind} {many} of this job"),
    };
    let state = match prediction.state_bytes {
        Some(bytes) => format!("; state {}", crate::phase::describe_bytes(bytes)),
        None => String::new(),
    };
    format!(
        "about {} ({}–{}), {basis}{state}",
        seconds(prediction.expected_ms),
        seconds(prediction.low_ms),
        seconds(prediction.high_ms)
    )
}

fn strategy_words(strategy: ResolvedStrategy) -> &'static str {
    match strategy {
        ResolvedStrategy::Savepoint => "savepoint",
        ResolvedStrategy::InPlace => "in-place",
        ResolvedStrategy::MsfUpdate => "MSF update",
    }
}

/// A duration to a tenth of a second below a minute, else in minutes.
pub fn seconds(ms: u64) -> String {
    if ms < 60_000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{:.1} min", ms as f64 / 60_000.0) }
}

/// How far off a prediction was: |measured − expected| / measured.
pub fn relative_error(prediction: &OutagePrediction, outage: &MeasuredOutage) -> f64 {
    let measured = outage.duration_ms().max(1) as f64;
    (measured - prediction.expected_ms as f64).abs() / measured
}

#[cfg(test)]
mod tests;
