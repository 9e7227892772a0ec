//! The sentences operators read in events and failure reasons: parallelism, progress, durations.

use std::collections::BTreeMap;

use crate::flink::{JobStatus, JobView, ParallelismBounds, TaskStatus, describe_bounds};

/// `Source: numbers 2 → 4, Sink 2 → 4` style summary of a target against a job.
pub(super) fn describe_parallelism(job: &JobView, parallelism: &BTreeMap<String, u32>) -> String {
    if let Some(application) = &job.application {
        let wanted = parallelism.get(crate::flink::msf::APPLICATION_KEY).copied().unwrap_or(application.parallelism);
        return if wanted == application.parallelism {
            format!("parallelism {wanted}")
        } else {
            format!("parallelism {} → {wanted}", application.parallelism)
        };
    }
    let parts = job
        .vertices
        .iter()
        .filter_map(|vertex| {
            let wanted = parallelism.get(&vertex.id)?;
            Some(if *wanted == vertex.parallelism {
                format!("'{}' {wanted}", vertex.name)
            } else {
                format!("'{}' {} → {wanted}", vertex.name, vertex.parallelism)
            })
        })
        .collect::<Vec<_>>();
    if parts.is_empty() { "parallelism by vertex {}".to_owned() } else { format!("parallelism {}", parts.join(", ")) }
}

/// What still keeps `job` from running at `parallelism`.
pub(super) fn describe_progress(job: &JobView, parallelism: &BTreeMap<String, u32>) -> String {
    if job.status != JobStatus::Running {
        return format!("job is {}", job.status.label());
    }
    let pending = job
        .vertices
        .iter()
        .filter_map(|vertex| {
            let wanted = parallelism.get(&vertex.id);
            if wanted == Some(&vertex.parallelism) && vertex.status == TaskStatus::Running {
                return None;
            }
            let wanted = wanted.map_or_else(|| "none".to_owned(), u32::to_string);
            Some(format!("'{}' at {} of {wanted} ({})", vertex.name, vertex.parallelism, vertex.status.label()))
        })
        .collect::<Vec<_>>();
    if pending.is_empty() {
        if job.vertices.len() == parallelism.len() {
            "job runs at the expected parallelism".to_owned()
        } else {
            format!("job has {} vertices, {} expected", job.vertices.len(), parallelism.len())
        }
    } else {
        format!("job is RUNNING; not there yet: {}", pending.join(", "))
    }
}

/// The bounds sent to the adaptive scheduler, and when it acts on them.
pub(super) fn describe_requirements(
    job: &JobView,
    bounds: &BTreeMap<String, ParallelismBounds>,
    now_ms: u64,
) -> String {
    let sent = format!("bounds sent: {}", describe_bounds(Some(job), bounds));
    match &job.rescale_pacing {
        Some(pacing) => format!("{sent}; {}", pacing.describe(pacing.cooldown_ends_at_ms(job), now_ms)),
        None => sent,
    }
}

pub(super) fn describe_duration(duration_ms: u64) -> String {
    let seconds = duration_ms / 1000;
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else if seconds > 0 {
        format!("{seconds} s")
    } else {
        format!("{duration_ms} ms")
    }
}
