//! One vertex's parallelism from its true processing rate and its target rate: no change while
//! the utilisation stays in the band around the target, otherwise the fewest subtasks that take
//! the target rate at the target utilisation (plus the catch-up rate), within the limits and, for
//! a keyed vertex, rounded up to a divisor of its key groups.

use super::input::{GraphVertex, Policy};
use super::rates::TargetRate;

/// Whether the current parallelism fits the target rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// The utilisation stays within the band.
    Fits,
    /// Above the band, or the backlog would not be worked off in time.
    More,
    /// Below the band.
    Fewer,
}

/// The sizing of one vertex.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sizing {
    pub need: Need,
    /// The fewest subtasks for the target, before limits and alignment (the current parallelism
    /// when it fits).
    pub computed: u32,
    /// After limits and alignment.
    pub target: u32,
    /// The target rate over the current capacity.
    pub utilisation_now: f64,
    /// The target rate over the capacity at `target`.
    pub utilisation_at_target: f64,
    /// `computed` was outside these limits (lowest, highest) and was clamped.
    pub limited: Option<(u32, u32)>,
    /// The clamped value was raised to `target`, a divisor of this `max_parallelism`.
    pub aligned_to: Option<u32>,
}

/// Sizes `vertex` for `target`, given what one subtask takes at full busy time.
pub(super) fn size(vertex: &GraphVertex, rate_per_subtask: f64, target: TargetRate, policy: &Policy) -> Sizing {
    let current = vertex.parallelism.max(1);
    let capacity_now = rate_per_subtask * f64::from(current);
    let utilisation_now = utilisation(target.rate, capacity_now);
    let need = need(capacity_now, target, policy);
    if need == Need::Fits {
        return Sizing {
            need,
            computed: current,
            target: current,
            utilisation_now,
            utilisation_at_target: utilisation_now,
            limited: None,
            aligned_to: None,
        };
    }
    let required = target.rate / target_utilisation(policy) + target.catch_up;
    let computed = subtasks_for(required, rate_per_subtask);
    let (lowest, highest) = limits(vertex, policy);
    let clamped = computed.clamp(lowest, highest);
    let aligned = align(vertex, clamped, highest, policy);
    Sizing {
        need,
        computed,
        target: aligned,
        utilisation_now,
        utilisation_at_target: utilisation(target.rate, rate_per_subtask * f64::from(aligned)),
        limited: (clamped != computed).then_some((lowest, highest)),
        aligned_to: (aligned != clamped).then_some(vertex.max_parallelism),
    }
}

/// The band test, as the Flink autoscaler does it: more subtasks when the capacity is below the
/// catch-up rate plus the target rate at the band's top; fewer when it is above the catch-up rate
/// plus the target rate at the band's bottom.
fn need(capacity_now: f64, target: TargetRate, policy: &Policy) -> Need {
    let band = policy.utilisation_band.max(0.0);
    let top = (target_utilisation(policy) + band).min(1.0);
    let bottom = target_utilisation(policy) - band;
    if capacity_now < target.catch_up + target.rate / top {
        Need::More
    } else if bottom > 0.0 && capacity_now > target.catch_up + target.rate / bottom {
        Need::Fewer
    } else {
        Need::Fits
    }
}

/// The policy's target utilisation, kept to a usable 1–100 % (the default when not a number).
pub(super) fn target_utilisation(policy: &Policy) -> f64 {
    let wanted = policy.target_utilisation;
    if wanted.is_nan() { Policy::default().target_utilisation } else { wanted.clamp(0.01, 1.0) }
}

fn utilisation(rate: f64, capacity: f64) -> f64 {
    if capacity.is_finite() && capacity > 0.0 { rate / capacity } else { 0.0 }
}

/// The fewest subtasks that give `required` records per second (0 for an infinite subtask rate).
fn subtasks_for(required: f64, rate_per_subtask: f64) -> u32 {
    let subtasks = (required / rate_per_subtask - 1e-9).ceil();
    if subtasks.is_nan() || subtasks <= 0.0 {
        0
    } else if subtasks >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        subtasks as u32
    }
}

/// The lowest and highest parallelism allowed: the policy's limits, and never above the vertex's
/// key groups.
pub(super) fn limits(vertex: &GraphVertex, policy: &Policy) -> (u32, u32) {
    let key_groups = if vertex.max_parallelism > 0 { vertex.max_parallelism } else { u32::MAX };
    let highest = policy.max_parallelism.unwrap_or(u32::MAX).min(key_groups).max(1);
    (policy.min_parallelism.max(1).min(highest), highest)
}

/// For a keyed vertex, the smallest divisor of its key groups from `parallelism` up to `highest`,
/// so that every subtask gets as many key groups. Without one, `parallelism` stays. A scale-down
/// whose divisor is not below the current parallelism is no change: rounding up would undo it
/// (and the unrounded value would leave the divisor the last scale-up rounded to). Likewise no
/// change is not turned into a scale-up.
fn align(vertex: &GraphVertex, parallelism: u32, highest: u32, policy: &Policy) -> u32 {
    if !(policy.align_keyed && vertex.keyed && vertex.max_parallelism > 0) {
        return parallelism;
    }
    let current = vertex.parallelism;
    match smallest_divisor(vertex.max_parallelism, parallelism.max(1), highest) {
        Some(divisor) if parallelism > current || divisor < current => divisor,
        Some(_) => current,
        None => parallelism,
    }
}

/// The smallest divisor of `n` in `from..=to`, in about √n steps.
fn smallest_divisor(n: u32, from: u32, to: u32) -> Option<u32> {
    let to = to.min(n);
    let mut best: Option<u32> = None;
    let mut small = 1u32;
    while u64::from(small) * u64::from(small) <= u64::from(n) {
        if n.is_multiple_of(small) {
            for divisor in [small, n / small] {
                if (from..=to).contains(&divisor) && best.is_none_or(|best| divisor < best) {
                    best = Some(divisor);
                }
            }
        }
        small += 1;
    }
    best
}
