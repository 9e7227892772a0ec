//! One vertex's recommendation: its sizing over the evaluation window, with the holds applied,
//! and the reason in words.

use std::collections::BTreeMap;

use super::holds::{LowNeed, damping_wait, ineffective_scale_up};
use super::input::{Policy, Rescale};
use super::output::{Verdict, VertexFigures, VertexRecommendation};
use super::plan::VertexPlan;
use super::sizing::{Need, Sizing, target_utilisation};
use super::words;

/// What every vertex's decision shares.
pub(super) struct Context<'a> {
    pub policy: &'a Policy,
    pub history: &'a [Rescale],
    /// Why no change is allowed now, when the last one is too recent.
    pub too_soon: Option<String>,
    /// Vertices whose need is below their parallelism, and for how long.
    pub low_need: &'a BTreeMap<String, LowNeed>,
    /// The last change (with its stabilisation interval) is more recent than the evaluation
    /// window's start: only the samples after it counted.
    pub settling: bool,
}

/// The recommendation for the vertex of `plan`.
pub(super) fn decide(plan: &VertexPlan<'_>, context: &Context<'_>) -> VertexRecommendation {
    let vertex = plan.vertex;
    let (verdict, target, reason) = match (plan.load, plan.sizing) {
        (None, _) => (Verdict::NotEnoughData, vertex.parallelism, not_enough_samples(plan, context)),
        (Some(load), _) if load.busy.is_none() => {
            let verb = if vertex.source { "emits" } else { "takes" };
            let reason = format!(
                "{} reports no busy time, so its own need is unknown; it {verb} {}; keep {}",
                vertex.name,
                words::rate(load.rate_in),
                words::subtasks(vertex.parallelism)
            );
            (Verdict::NoChange, vertex.parallelism, reason)
        }
        (Some(load), _) if load.busy_without_records() => {
            let verb = if vertex.source { "emits" } else { "takes" };
            let reason = format!(
                "{} is {} busy but {verb} no records (its time goes to timers, or it is stuck), so what it \
                 could take is unknown; keep {}",
                vertex.name,
                words::percent(load.busy.unwrap_or(0.0)),
                words::subtasks(vertex.parallelism)
            );
            (Verdict::NotEnoughData, vertex.parallelism, reason)
        }
        (Some(_), None) => {
            let input = plan.missing_input.map_or("an input", |input| input.name.as_str());
            (
                Verdict::NotEnoughData,
                vertex.parallelism,
                format!("{} cannot be sized: {input} has not enough data", vertex.name),
            )
        }
        (Some(_), Some(sizing)) => sized(plan, sizing, context),
    };
    VertexRecommendation {
        id: vertex.id.clone(),
        name: vertex.name.clone(),
        current: vertex.parallelism,
        target,
        verdict,
        reason,
        figures: figures(plan),
    }
}

/// The verdict, target and reason of a vertex that could be sized.
fn sized(plan: &VertexPlan<'_>, sizing: Sizing, context: &Context<'_>) -> (Verdict, u32, String) {
    let vertex = plan.vertex;
    let current = vertex.parallelism;
    let head = head(plan);
    if sizing.need == Need::Fits {
        let band = band(context.policy);
        let reason = if takes_its_target(plan) {
            format!("{head}, within the target {band}; keep {}", words::subtasks(current))
        } else {
            format!(
                "{head}; at {} it runs at {}, within the target {band}; keep it",
                words::subtasks(current),
                words::percent(sizing.utilisation_now)
            )
        };
        return (Verdict::NoChange, current, reason);
    }
    let sized = format!("{head}; {}", at_target(vertex.name.as_str(), sizing));
    if sizing.target == current {
        return (Verdict::NoChange, current, format!("{sized}; keep {}", words::subtasks(current)));
    }
    if let Some(wait) = &context.too_soon {
        return (Verdict::HeldBack, current, format!("{sized}, but {wait}"));
    }
    if sizing.target > current {
        let rate_now = plan.load.and_then(|load| load.rate_per_subtask(current)).map(|rate| rate * f64::from(current));
        return match ineffective_scale_up(vertex, context.history, rate_now, context.policy) {
            Some(ineffective) => (Verdict::HeldBack, current, format!("{sized}, but {ineffective}")),
            None => (Verdict::ScaleUp, sizing.target, sized),
        };
    }
    let low_need = context.low_need.get(&vertex.id);
    match damping_wait(vertex, low_need, context.policy) {
        Some(wait) => (Verdict::HeldBack, current, format!("{sized}, but {wait}")),
        None => {
            let peak = low_need.map_or(sizing.target, |need| need.peak.max(sizing.target));
            let reason = if peak > sizing.target {
                format!("{sized}; it needed {} within the last {}", words::subtasks(peak), damping(context.policy))
            } else {
                sized
            };
            (Verdict::ScaleDown, peak, reason)
        }
    }
}

/// `counter is 92 % busy at 1.4k rec/s`, with the rate it should take when that differs from what
/// it takes, and the catch-up rate when there is a backlog.
fn head(plan: &VertexPlan<'_>) -> String {
    let vertex = plan.vertex;
    let Some(load) = plan.load else { return vertex.name.clone() };
    let mut head = format!(
        "{} is {} busy at {}",
        vertex.name,
        words::percent(load.busy.unwrap_or(0.0)),
        words::rate(load.rate_in)
    );
    if let Some(target) = plan.target {
        if differs(target.rate, load.rate_in) {
            head.push_str(&format!(" and should take {}", words::rate(target.rate)));
        }
        if target.catch_up > 0.0 {
            let backlog = match (vertex.source, load.backlog) {
                (true, Some(backlog)) => format!("its backlog of {} records", words::count(backlog)),
                _ => "the backlog upstream".to_owned(),
            };
            head.push_str(&format!(", plus {} to work off {backlog}", words::rate(target.catch_up)));
        }
    }
    head
}

/// The vertex should take what it takes now (within 5 %), with no backlog to work off.
fn takes_its_target(plan: &VertexPlan<'_>) -> bool {
    match (plan.load, plan.target) {
        (Some(load), Some(target)) => target.catch_up <= 0.0 && !differs(target.rate, load.rate_in),
        _ => false,
    }
}

/// Two rates more than 5 % apart.
fn differs(rate: f64, other: f64) -> bool {
    (rate - other).abs() > 0.05 * other.max(1.0)
}

/// `at 3 subtasks it would run at 61 %`, with what the limits and the alignment changed.
fn at_target(name: &str, sizing: Sizing) -> String {
    let mut text = format!(
        "at {} it would run at {}",
        words::subtasks(sizing.target),
        words::percent(sizing.utilisation_at_target)
    );
    if let Some((lowest, highest)) = sizing.limited {
        text.push_str(&format!(" ({name} would need {}; the limits are {lowest}–{highest})", sizing.computed));
    }
    if let Some(max_parallelism) = sizing.aligned_to {
        text.push_str(&format!(
            " (rounded up to a divisor of its {max_parallelism} key groups, so every subtask gets as many)"
        ));
    }
    text
}

fn not_enough_samples(plan: &VertexPlan<'_>, context: &Context<'_>) -> String {
    let policy = context.policy;
    let samples =
        if plan.samples == 1 { "1 usable sample".to_owned() } else { format!("{} usable samples", plan.samples) };
    let range = if context.settling {
        format!("since the last change and its {} to settle", words::duration(policy.stabilisation_ms))
    } else {
        format!("in the last {}", words::duration(policy.evaluation_window_ms))
    };
    format!("{} has {samples} {range}; {} are needed", plan.vertex.name, policy.min_samples.max(1))
}

/// The band in words: `60–80 %`.
fn band(policy: &Policy) -> String {
    let target = target_utilisation(policy);
    let band = policy.utilisation_band.max(0.0);
    format!("{:.0}–{}", ((target - band) * 100.0).max(0.0), words::percent((target + band).min(1.0)))
}

fn damping(policy: &Policy) -> String {
    words::duration(policy.scale_down_damping_ms)
}

fn figures(plan: &VertexPlan<'_>) -> Option<VertexFigures> {
    let load = plan.load?;
    Some(VertexFigures {
        samples: load.samples,
        busy: load.busy,
        backpressured: load.backpressured,
        rate: load.rate_in,
        rate_per_subtask: load.rate_per_subtask(plan.vertex.parallelism).filter(|rate| rate.is_finite()),
        target_rate: plan.target.map(|target| target.rate),
        catch_up_rate: plan.target.map(|target| target.catch_up),
        utilisation_now: plan.sizing.map(|sizing| sizing.utilisation_now),
        utilisation_at_target: plan.sizing.map(|sizing| sizing.utilisation_at_target),
    })
}
