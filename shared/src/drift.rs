//! Changes made outside the product: how a managed job runs compared with how the product last
//! left it.
//!
//! Flink's Web UI can rescale, submit and cancel jobs, and anyone who reaches the REST API can
//! send new resource requirements. The backend's drift check reads what Flink runs for each
//! deployment with no request in progress ([`job_to_read`], [`settled`]) and compares it with
//! what the product recorded ([`compare`]); a difference the product did not cause is an
//! out-of-band change. Everything here is pure; the deployment record keeps the baseline
//! (`crate::deployment::Deployment::drift`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flink::{JobStatus, JobView, TaskStatus};

/// The audit action of a change made outside the product.
pub const OUT_OF_BAND_ACTION: &str = "out_of_band";

/// How a deployment's job runs, as far as changes from outside are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    pub job_id: String,
    /// The job's status; `None` when Flink no longer knows the job.
    #[serde(default)]
    pub status: Option<JobStatus>,
    /// Parallelism by vertex id; empty when the job does not run.
    #[serde(default)]
    pub parallelism: BTreeMap<String, u32>,
}

impl Run {
    /// A job running at `parallelism`.
    pub fn running(job_id: &str, parallelism: BTreeMap<String, u32>) -> Self {
        Self { job_id: job_id.to_owned(), status: Some(JobStatus::Running), parallelism }
    }

    /// The job ended (or Flink forgot it): it will never run again under this id.
    pub fn has_ended(&self) -> bool {
        self.status.is_none_or(JobStatus::is_terminal)
    }

    /// `RUNNING`, or `gone` when Flink no longer knows the job.
    pub fn status_label(&self) -> &'static str {
        self.status.map_or("gone", JobStatus::label)
    }
}

/// What the product approved a deployment to run: the job and its parallelism per vertex, when
/// it was adopted or when a rescale the product made completed or rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovedRun {
    pub job_id: String,
    /// Parallelism by vertex id. Empty after a request that failed: the next look at a running
    /// job records what runs.
    #[serde(default)]
    pub parallelism: BTreeMap<String, u32>,
    pub since_ms: u64,
    /// The request that made it so; `None` for what ran when the product adopted the job.
    #[serde(default)]
    pub operation_id: Option<String>,
}

impl ApprovedRun {
    pub fn run(&self) -> Run {
        Run::running(&self.job_id, self.parallelism.clone())
    }

    /// Nothing to compare with yet.
    pub fn is_unknown(&self) -> bool {
        self.parallelism.is_empty()
    }
}

/// The latest change made outside the product, as the drift check saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutOfBand {
    /// When the product noticed it.
    pub at_ms: u64,
    /// How the job ran then.
    pub seen: Run,
    /// What changed, for people.
    pub message: String,
    /// Its audit event is written (the check claims the change on the deployment first, then
    /// writes the event, then sets this).
    #[serde(default)]
    pub audited: bool,
}

/// A job in the cluster's list, as [`job_to_read`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedJob<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: JobStatus,
    pub start_time_ms: u64,
}

/// What to read of a deployment's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobToRead {
    /// Read this job's detail, then [`settled`].
    Detail(String),
    /// Already known from the list: the watched job ended or is gone, and nothing replaced it.
    Known(Run),
}

/// Which job shows how the deployment runs: the watched job while Flink lists it as not ended;
/// else the newest running job with the deployment's name that no deployment knows (a resubmit
/// outside the product, say from the Web UI); else the watched job as ended or gone.
pub fn job_to_read(
    watched_job_id: &str,
    name: &str,
    listing: &[ListedJob<'_>],
    known: impl Fn(&str) -> bool,
) -> JobToRead {
    let watched = listing.iter().find(|job| job.id == watched_job_id);
    if let Some(job) = watched
        && !job.status.is_terminal()
    {
        return JobToRead::Detail(job.id.to_owned());
    }
    let replacement = listing
        .iter()
        .filter(|job| job.name == name && !job.status.is_terminal() && job.id != watched_job_id && !known(job.id))
        .max_by_key(|job| job.start_time_ms);
    match (replacement, watched) {
        (Some(job), _) => JobToRead::Detail(job.id.to_owned()),
        (None, watched) => JobToRead::Known(Run {
            job_id: watched_job_id.to_owned(),
            status: watched.map(|job| job.status),
            parallelism: BTreeMap::new(),
        }),
    }
}

/// The job as a [`Run`] once it is settled: ended, or RUNNING with every vertex RUNNING. `None`
/// mid-transition (RESTARTING, CREATED vertices at parallelism 1...): look again later.
/// `None` for a job Flink does not know is read as gone.
pub fn settled(job_id: &str, job: Option<&JobView>) -> Option<Run> {
    let Some(job) = job else {
        return Some(Run { job_id: job_id.to_owned(), status: None, parallelism: BTreeMap::new() });
    };
    if job.status.is_terminal() {
        return Some(Run { job_id: job.id.clone(), status: Some(job.status), parallelism: BTreeMap::new() });
    }
    // An MSF application is settled while RUNNING (not updating, autoscaling or rolling back);
    // its configured parallelism is what an update changes (autoscaling moves only the current one).
    let running = job.status == JobStatus::Running
        && (job.application.is_some()
            || (!job.vertices.is_empty() && job.vertices.iter().all(|vertex| vertex.status == TaskStatus::Running)));
    running.then(|| Run::running(&job.id, job.parallelism_by_vertex()))
}

/// What differs between how the product last knew the job (`baseline`) and how it runs now
/// (`seen`), as a sentence; `None` when nothing does. An ended job that Flink later forgets is
/// not a change.
pub fn compare(baseline: &Run, seen: &Run) -> Option<String> {
    if baseline.job_id != seen.job_id {
        return Some(if seen.has_ended() {
            format!("job {} is {}", seen.job_id, seen.status_label())
        } else {
            format!(
                "job {} was replaced by job {} ({} at {})",
                baseline.job_id,
                seen.job_id,
                seen.status_label(),
                describe(&seen.parallelism)
            )
        });
    }
    if baseline.has_ended() && seen.has_ended() {
        return None;
    }
    if baseline.status != seen.status {
        return Some(format!("job {} is {} (was {})", seen.job_id, seen.status_label(), baseline.status_label()));
    }
    if baseline.parallelism != seen.parallelism {
        return Some(format!(
            "job {} was rescaled: {}",
            seen.job_id,
            changed_vertices(&baseline.parallelism, &seen.parallelism)
        ));
    }
    None
}

/// `parallelism 2` when every vertex has the same, else `a1b2c3d4=2, …`.
fn describe(parallelism: &BTreeMap<String, u32>) -> String {
    let mut values = parallelism.values();
    match values.next() {
        None => "no vertices".to_owned(),
        Some(first) if values.all(|value| value == first) => format!("parallelism {first}"),
        Some(_) => {
            parallelism.iter().map(|(vertex, p)| format!("{}={p}", short(vertex))).collect::<Vec<_>>().join(", ")
        }
    }
}

/// `a1b2c3d4 1 → 3, …` for every vertex whose parallelism differs (or that appeared or left).
fn changed_vertices(before: &BTreeMap<String, u32>, after: &BTreeMap<String, u32>) -> String {
    let mut vertices: Vec<&String> = before.keys().chain(after.keys()).collect();
    vertices.sort();
    vertices.dedup();
    let label = |value: Option<&u32>| value.map_or_else(|| "–".to_owned(), u32::to_string);
    vertices
        .into_iter()
        .filter(|vertex| before.get(*vertex) != after.get(*vertex))
        .map(|vertex| {
            // An MSF application has one parallelism, not vertices.
            let what = if vertex == crate::flink::msf::APPLICATION_KEY {
                "parallelism".to_owned()
            } else {
                format!("vertex {}", short(vertex))
            };
            format!("{what} {} → {}", label(before.get(vertex)), label(after.get(vertex)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
