//! How long a restarted job may take to run at its target: long enough for its state.
//!
//! A fixed timeout rolls back a large job for being slow, and its rollback times out the same
//! way. The budget starts from the configured verify timeout and grows with what the job is:
//! restoring reads back what a checkpoint wrote, so it scales with the latest checkpoint's
//! size and duration.

use serde::{Deserialize, Serialize};

use super::messages::describe_duration;

/// The job's latest completed checkpoint, as the budget needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFacts {
    /// Bytes of the full state.
    pub size_bytes: u64,
    /// Trigger to completion, in milliseconds.
    pub duration_ms: u64,
}

/// Restore throughput assumed when reading state back (download and deserialization), in
/// bytes per second: deliberately low (object stores give a single TaskManager 50–200 MB/s).
pub const ASSUMED_RESTORE_BYTES_PER_SEC: u64 = 25 * 1024 * 1024;
/// Scheduling, deployment and start-up before state is read, and a margin.
pub const RESTORE_OVERHEAD_MS: u64 = 60_000;
/// A restore reads what a checkpoint wrote, and more slowly: this many checkpoint durations.
pub const CHECKPOINT_DURATION_FACTOR: u64 = 3;
/// No budget grows past this, however large the state: someone should look by then.
pub const MAX_RESTORE_BUDGET_MS: u64 = 2 * 60 * 60 * 1000;

/// The verify timeout for a job with this checkpoint: never less than `configured_ms`.
pub fn restore_budget_ms(configured_ms: u64, checkpoint: Option<&CheckpointFacts>) -> u64 {
    let Some(checkpoint) = checkpoint else { return configured_ms };
    let reading_ms = checkpoint.size_bytes.saturating_mul(1000) / ASSUMED_RESTORE_BYTES_PER_SEC;
    let from_state = RESTORE_OVERHEAD_MS
        .saturating_add(reading_ms)
        .saturating_add(checkpoint.duration_ms.saturating_mul(CHECKPOINT_DURATION_FACTOR))
        .min(MAX_RESTORE_BUDGET_MS);
    configured_ms.max(from_state)
}

/// The budget in words, for the execution event.
pub fn describe_budget(budget_ms: u64, configured_ms: u64, checkpoint: Option<&CheckpointFacts>) -> String {
    match checkpoint {
        Some(checkpoint) if budget_ms > configured_ms => format!(
            "the restarted job has up to {} to run at its target (latest checkpoint: {} in {}; configured: {})",
            describe_duration(budget_ms),
            describe_bytes(checkpoint.size_bytes),
            describe_duration(checkpoint.duration_ms),
            describe_duration(configured_ms)
        ),
        _ => format!("the restarted job has up to {} to run at its target", describe_duration(budget_ms)),
    }
}

/// A byte count in binary units, as operators read it: "12.0 MB".
pub fn describe_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_state_and_never_falls_below_the_configuration() {
        let configured = 120_000;
        assert_eq!(restore_budget_ms(configured, None), configured);
        let tiny = CheckpointFacts { size_bytes: 10_000, duration_ms: 200 };
        assert_eq!(restore_budget_ms(configured, Some(&tiny)), configured, "tiny state keeps the configured wait");
        // 50 GiB written in 4 minutes: 2048 s to read at 25 MiB/s, + 12 min, + 1 min.
        let large = CheckpointFacts { size_bytes: 50 * 1024 * 1024 * 1024, duration_ms: 240_000 };
        assert_eq!(restore_budget_ms(configured, Some(&large)), 60_000 + 2_048_000 + 720_000);
        let enormous = CheckpointFacts { size_bytes: u64::MAX, duration_ms: u64::MAX };
        assert_eq!(restore_budget_ms(configured, Some(&enormous)), MAX_RESTORE_BUDGET_MS);
        assert_eq!(restore_budget_ms(3 * MAX_RESTORE_BUDGET_MS, Some(&enormous)), 3 * MAX_RESTORE_BUDGET_MS);
        let words = describe_budget(restore_budget_ms(configured, Some(&large)), configured, Some(&large));
        assert!(words.contains("50.0 GB in 4 min"), "{words}");
    }
}
