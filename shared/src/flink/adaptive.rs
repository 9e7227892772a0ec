//! The adaptive scheduler, as far as an in-place rescale depends on it: which scheduler a job
//! runs on (every version), the bounds to send (FLINK-34311), and when Flink acts on them (its
//! cooldown, by version).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{JobView, SchedulerKind, leading_number};

/// The parallelism range the adaptive scheduler may run a vertex at
/// (`PUT /jobs/:id/resource-requirements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParallelismBounds {
    pub lower: u32,
    pub upper: u32,
}

impl ParallelismBounds {
    /// Up to `upper`, given the slots (lower bound 1 lets the job run with fewer).
    pub fn up_to(upper: u32) -> Self {
        Self { lower: 1, upper }
    }
}

/// The bounds that rescale a job to `target`: the upper bound is the target, and the lower bound
/// stays where it was unless the target is below it (`min(target, current lower)`; 1 for a vertex
/// whose bounds are not known). A lower bound raised to the target would make the adaptive
/// scheduler wait for, or fail without, slots it cannot get (FLINK-34311); the verification
/// checks that the job reached the target.
pub fn rescale_bounds(
    target: &BTreeMap<String, u32>,
    current: Option<&BTreeMap<String, ParallelismBounds>>,
) -> BTreeMap<String, ParallelismBounds> {
    target
        .iter()
        .map(|(vertex, &parallelism)| {
            let current_lower = current.and_then(|bounds| bounds.get(vertex)).map_or(1, |bounds| bounds.lower.max(1));
            (vertex.clone(), ParallelismBounds { lower: current_lower.min(parallelism), upper: parallelism })
        })
        .collect()
}

/// Bounds in words, by vertex name where the job names the vertex: `Counter [1, 3], Source [1, 3]`.
pub fn describe_bounds(job: Option<&JobView>, bounds: &BTreeMap<String, ParallelismBounds>) -> String {
    bounds
        .iter()
        .map(|(vertex, bounds)| {
            let name = job
                .and_then(|job| job.vertices.iter().find(|candidate| candidate.id == *vertex))
                .map_or(vertex.as_str(), |found| found.name.as_str());
            format!("{name} [{}, {}]", bounds.lower, bounds.upper)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which scheduler a job's JobManager configuration (`GET /jobs/:id/jobmanager/config`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfiguredScheduler {
    /// `jobmanager.scheduler: adaptive`.
    Adaptive,
    /// `scheduler-mode: reactive` (the adaptive scheduler, which then scales by itself).
    Reactive,
    /// Any other value of `jobmanager.scheduler` (`default`, `ng`, `adaptivebatch`).
    Other,
    /// Neither key is set.
    Unset,
}

impl ConfiguredScheduler {
    pub fn from_config<'a>(value_of: impl Fn(&str) -> Option<&'a str>) -> Self {
        let is = |key: &str, expected: &str| value_of(key).is_some_and(|v| v.trim().eq_ignore_ascii_case(expected));
        if is("scheduler-mode", "reactive") {
            Self::Reactive
        } else if is("jobmanager.scheduler", "adaptive") {
            Self::Adaptive
        } else if value_of("jobmanager.scheduler").is_some_and(|value| !value.trim().is_empty()) {
            Self::Other
        } else {
            Self::Unset
        }
    }

    /// The scheduler, given whether `GET /jobs/:id/resource-requirements` answered with the
    /// bounds (`Some(true)`), answered an error (`Some(false)`: only the adaptive scheduler has
    /// requirements), or was not reached (`None`). Adaptive only when both agree or the
    /// configuration leaves it to the answer; never a guess.
    pub fn decide(self, requirements_answered: Option<bool>) -> SchedulerKind {
        match (self, requirements_answered) {
            (Self::Reactive, _) => SchedulerKind::Reactive,
            (Self::Other, _) => SchedulerKind::Default,
            (Self::Adaptive | Self::Unset, Some(true)) => SchedulerKind::Adaptive,
            (Self::Unset, Some(false)) => SchedulerKind::Default,
            // Configured adaptive without requirements, or the answer is not known.
            (Self::Adaptive, Some(false)) | (_, None) => SchedulerKind::Unknown,
        }
    }

    /// Whether the requirements endpoint must be asked to decide.
    pub fn needs_requirements_probe(self) -> bool {
        matches!(self, Self::Adaptive | Self::Unset)
    }
}

/// When the adaptive scheduler acts on new resource requirements, from the job's JobManager
/// configuration: not before its cooldown has passed since the job last started running (its
/// last rescale or restart). 1.18 acts at once; 1.19 and 1.20 wait
/// `jobmanager.adaptive-scheduler.scaling-interval.min`; 2.x wait
/// `jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling` (30 s by default on both),
/// then, with fewer slots than the target needs, up to
/// `jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout` (60 s) for more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RescalePacing {
    pub cooldown_ms: u64,
    /// The configuration key of the cooldown; `None` where the version has none (1.18).
    #[serde(default)]
    pub cooldown_key: Option<String>,
    /// How long 2.x wait for the target's slots after the cooldown before rescaling to fewer.
    #[serde(default)]
    pub stabilization_ms: Option<u64>,
}

const DEFAULT_COOLDOWN_MS: u64 = 30_000;
const DEFAULT_STABILIZATION_MS: u64 = 60_000;
const COOLDOWN_KEY_2X: &str = "jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling";
const COOLDOWN_KEY_1X: &str = "jobmanager.adaptive-scheduler.scaling-interval.min";
const STABILIZATION_KEY_2X: &str = "jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout";

impl RescalePacing {
    /// From the version and the job's configuration; `None` for a version that does not start
    /// with `major.minor`. A value Flink would not parse takes the default.
    pub fn from_config<'a>(flink_version: &str, value_of: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let mut numbers = flink_version.trim().trim_start_matches('v').split('.');
        let major = leading_number(numbers.next()?)?;
        let minor = leading_number(numbers.next()?)?;
        let duration = |key: &str| value_of(key).and_then(parse_duration_ms);
        Some(match (major, minor) {
            (1, ..=18) => Self { cooldown_ms: 0, cooldown_key: None, stabilization_ms: None },
            (1, _) => Self {
                cooldown_ms: duration(COOLDOWN_KEY_1X).unwrap_or(DEFAULT_COOLDOWN_MS),
                cooldown_key: Some(COOLDOWN_KEY_1X.to_owned()),
                stabilization_ms: None,
            },
            _ => {
                // The 1.x key is the deprecated name of the 2.x one.
                let (key, cooldown_ms) = if let Some(ms) = duration(COOLDOWN_KEY_2X) {
                    (COOLDOWN_KEY_2X, ms)
                } else if let Some(ms) = duration(COOLDOWN_KEY_1X) {
                    (COOLDOWN_KEY_1X, ms)
                } else {
                    (COOLDOWN_KEY_2X, DEFAULT_COOLDOWN_MS)
                };
                Self {
                    cooldown_ms,
                    cooldown_key: Some(key.to_owned()),
                    stabilization_ms: Some(duration(STABILIZATION_KEY_2X).unwrap_or(DEFAULT_STABILIZATION_MS)),
                }
            }
        })
    }

    /// The earliest time Flink acts on requirements sent at `now_ms` to `job`: once its cooldown
    /// since the job last started running has passed (the whole cooldown from now when Flink does
    /// not say when the job started running).
    pub fn acts_at_ms(&self, job: &JobView, now_ms: u64) -> u64 {
        self.cooldown_ends_at_ms(job).unwrap_or_else(|| now_ms.saturating_add(self.cooldown_ms)).max(now_ms)
    }

    /// When the job's cooldown ends: its cooldown after it last started running; `None` when
    /// Flink does not say when that was.
    pub fn cooldown_ends_at_ms(&self, job: &JobView) -> Option<u64> {
        job.running_since_ms.map(|since| since.saturating_add(self.cooldown_ms))
    }

    /// For pre-flight and progress: when Flink will act on requirements sent at `now_ms`, in
    /// words, given when the job's cooldown ends ([`Self::cooldown_ends_at_ms`]).
    pub fn describe(&self, cooldown_ends_at_ms: Option<u64>, now_ms: u64) -> String {
        let Some(key) = &self.cooldown_key else {
            return "Flink's adaptive scheduler acts on the new requirements at once (Flink 1.18 has no cooldown)"
                .to_owned();
        };
        let acts_at_ms = cooldown_ends_at_ms.unwrap_or_else(|| now_ms.saturating_add(self.cooldown_ms));
        let wait_ms = acts_at_ms.saturating_sub(now_ms);
        let when = if wait_ms == 0 {
            "at once (its cooldown has passed)".to_owned()
        } else {
            format!("in about {} s, when its cooldown ends", wait_ms.div_ceil(1000))
        };
        let stabilization = self
            .stabilization_ms
            .map(|ms| {
                format!(
                    "; with fewer free slots than the target needs it waits up to {} s more for them",
                    ms.div_ceil(1000)
                )
            })
            .unwrap_or_default();
        format!(
            "Flink's adaptive scheduler acts on the new requirements {when} ({key}: {} s after the job last \
             started running){stabilization}",
            self.cooldown_ms.div_ceil(1000)
        )
    }
}

/// A duration as Flink's configuration writes it (`30 s`, `1min`, `500ms`, `2 h`; a bare number
/// is milliseconds); `None` when it is not one.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config<'a>(entries: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |key| entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    #[test]
    fn durations_as_flink_writes_them() {
        assert_eq!(parse_duration_ms("30 s"), Some(30_000));
        assert_eq!(parse_duration_ms("1s"), Some(1_000));
        assert_eq!(parse_duration_ms("2min"), Some(120_000));
        assert_eq!(parse_duration_ms("1500"), Some(1_500));
        assert_eq!(parse_duration_ms(" 5 minutes "), Some(300_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms("3 fortnights"), None);
    }

    #[test]
    fn lower_bound_never_rises_to_the_target() {
        let target = BTreeMap::from([("a".to_owned(), 3), ("b".to_owned(), 2)]);
        let current = BTreeMap::from([
            ("a".to_owned(), ParallelismBounds { lower: 1, upper: 2 }),
            ("b".to_owned(), ParallelismBounds { lower: 4, upper: 4 }),
        ]);
        let bounds = rescale_bounds(&target, Some(&current));
        assert_eq!(bounds["a"], ParallelismBounds { lower: 1, upper: 3 });
        assert_eq!(bounds["b"], ParallelismBounds { lower: 2, upper: 2 }, "min(target, current lower)");
        let unknown = rescale_bounds(&target, None);
        assert_eq!(unknown["a"], ParallelismBounds { lower: 1, upper: 3 });
    }

    #[test]
    fn the_scheduler_is_adaptive_only_when_the_requirements_answer() {
        let adaptive = ConfiguredScheduler::from_config(config(&[("jobmanager.scheduler", "adaptive")]));
        assert_eq!(adaptive, ConfiguredScheduler::Adaptive);
        assert_eq!(adaptive.decide(Some(true)), SchedulerKind::Adaptive);
        assert_eq!(adaptive.decide(Some(false)), SchedulerKind::Unknown);
        assert_eq!(adaptive.decide(None), SchedulerKind::Unknown);
        let unset = ConfiguredScheduler::from_config(config(&[]));
        assert_eq!(unset.decide(Some(false)), SchedulerKind::Default);
        assert_eq!(unset.decide(Some(true)), SchedulerKind::Adaptive);
        let default = ConfiguredScheduler::from_config(config(&[("jobmanager.scheduler", "default")]));
        assert!(!default.needs_requirements_probe());
        assert_eq!(default.decide(None), SchedulerKind::Default);
        let reactive = ConfiguredScheduler::from_config(config(&[
            ("jobmanager.scheduler", "adaptive"),
            ("scheduler-mode", "REACTIVE"),
        ]));
        assert_eq!(reactive.decide(Some(true)), SchedulerKind::Reactive);
    }

    #[test]
    fn cooldown_by_version() {
        let set = [(COOLDOWN_KEY_2X, "5 s"), (COOLDOWN_KEY_1X, "7 s"), (STABILIZATION_KEY_2X, "2 s")];
        let v2 = RescalePacing::from_config("2.3.0", config(&set)).expect("a version");
        assert_eq!((v2.cooldown_ms, v2.stabilization_ms), (5_000, Some(2_000)));
        let v2_deprecated =
            RescalePacing::from_config("2.0.1", config(&[(COOLDOWN_KEY_1X, "7 s")])).expect("a version");
        assert_eq!(v2_deprecated.cooldown_ms, 7_000);
        assert_eq!(v2_deprecated.cooldown_key.as_deref(), Some(COOLDOWN_KEY_1X));
        let v2_default = RescalePacing::from_config("2.3.0", config(&[])).expect("a version");
        assert_eq!((v2_default.cooldown_ms, v2_default.stabilization_ms), (30_000, Some(60_000)));
        let v120 = RescalePacing::from_config("1.20.5", config(&set)).expect("a version");
        assert_eq!((v120.cooldown_ms, v120.stabilization_ms), (7_000, None));
        assert_eq!(RescalePacing::from_config("1.19.0", config(&[])).expect("a version").cooldown_ms, 30_000);
        let v118 = RescalePacing::from_config("1.18.1", config(&set)).expect("a version");
        assert_eq!((v118.cooldown_ms, v118.cooldown_key), (0, None));
        assert!(RescalePacing::from_config("banana", config(&[])).is_none());
    }
}
