//! Correcting a job view read through Flink's cache with the JobManager's live task counts.

use rescaler_shared::flink::{JobStatus, JobView, TaskStatus};

use super::model::{JobSummary, LiveTasks};

/// Corrects each of `views` with its job's entry in `jobs` (one read of `GET /jobs/overview`);
/// says how many changed.
pub fn freshen_views<'a>(jobs: &[JobSummary], views: impl IntoIterator<Item = &'a mut JobView>) -> usize {
    let mut changed = 0;
    for view in views {
        let Some(job) = jobs.iter().find(|job| job.id == view.id) else { continue };
        if job.live_tasks.as_ref().is_some_and(|live| live.freshen(job.status, view)) {
            changed += 1;
        }
    }
    changed
}

impl LiveTasks {
    /// Corrects `job`, read through `GET /jobs/:id`, with the job's live status and these
    /// counts (both from `GET /jobs/overview`); says whether anything changed.
    ///
    /// - The job's status is the live one.
    /// - When the live job runs or has finished every one of its tasks, and has exactly as many
    ///   as the view's vertices add up to, a vertex the view still shows starting (CREATED to
    ///   INITIALIZING) runs: it cannot have finished whole, as fewer of the job's tasks have
    ///   finished than it has. Nothing else about a vertex is inferred.
    /// - A view that turns RUNNING this way has run since the last change of a task at the
    ///   earliest, so a wait for the job to run stably never starts early.
    pub fn freshen(&self, live_status: JobStatus, job: &mut JobView) -> bool {
        if live_status == JobStatus::Unknown || job.application.is_some() {
            return false;
        }
        let mut changed = false;
        if job.status != live_status {
            if live_status == JobStatus::Running {
                job.running_since_ms = Some(job.running_since_ms.unwrap_or(0).max(self.last_modified_ms));
            }
            job.status = live_status;
            changed = true;
        }
        let finished = self.counts.count(TaskStatus::Finished);
        let running = self.counts.count(TaskStatus::Running);
        let view_tasks: u32 = job.vertices.iter().map(|vertex| vertex.parallelism).sum();
        let all_running = live_status == JobStatus::Running
            && running > 0
            && running + finished == self.counts.total()
            && self.counts.total() == view_tasks;
        if all_running {
            for vertex in &mut job.vertices {
                if is_starting(vertex.status) && vertex.parallelism > finished {
                    vertex.status = TaskStatus::Running;
                    changed = true;
                }
            }
        }
        changed
    }
}

/// On its way to running: a state a task passes through after it was scheduled.
fn is_starting(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Created | TaskStatus::Scheduled | TaskStatus::Deploying | TaskStatus::Initializing)
}

#[cfg(test)]
mod tests {
    use rescaler_shared::flink::{SchedulerKind, VertexView};

    use super::*;
    use crate::flink::TaskCounts;

    const LAST_CHANGE_MS: u64 = 5_000;

    fn live(counts: &[(TaskStatus, u32)]) -> LiveTasks {
        let mut tasks = TaskCounts::default();
        for (status, count) in counts {
            tasks.add(*status, *count);
        }
        LiveTasks { counts: tasks, last_modified_ms: LAST_CHANGE_MS }
    }

    fn view(status: JobStatus, running_since_ms: Option<u64>, vertices: &[(u32, TaskStatus)]) -> JobView {
        JobView {
            id: "job".to_owned(),
            name: "counter".to_owned(),
            status,
            scheduler: SchedulerKind::Default,
            checkpointing: true,
            has_completed_checkpoint: None,
            start_time_ms: 1_000,
            running_since_ms,
            rescale_pacing: None,
            application: None,
            vertices: vertices
                .iter()
                .enumerate()
                .map(|(index, (parallelism, status))| VertexView {
                    id: format!("v{index}"),
                    name: format!("vertex {index}"),
                    parallelism: *parallelism,
                    max_parallelism: 128,
                    status: *status,
                })
                .collect(),
        }
    }

    fn statuses(job: &JobView) -> Vec<TaskStatus> {
        job.vertices.iter().map(|vertex| vertex.status).collect()
    }

    #[test]
    fn a_stopped_job_the_cache_shows_running_reads_finished() {
        let mut job = view(JobStatus::Running, Some(2_000), &[(1, TaskStatus::Running), (1, TaskStatus::Running)]);
        let changed = live(&[(TaskStatus::Finished, 2)]).freshen(JobStatus::Finished, &mut job);
        assert!(changed);
        assert_eq!(job.status, JobStatus::Finished);
        assert_eq!(job.running_since_ms, Some(2_000), "not running again");
    }

    #[test]
    fn a_started_job_the_cache_shows_deploying_runs_since_its_last_task_change() {
        let mut job = view(JobStatus::Created, None, &[(2, TaskStatus::Deploying), (2, TaskStatus::Initializing)]);
        // One source subtask without a split finished at once; the others run.
        let changed =
            live(&[(TaskStatus::Running, 3), (TaskStatus::Finished, 1)]).freshen(JobStatus::Running, &mut job);
        assert!(changed);
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(statuses(&job), [TaskStatus::Running, TaskStatus::Running]);
        assert_eq!(job.running_since_ms, Some(LAST_CHANGE_MS));
    }

    #[test]
    fn nothing_about_vertices_is_inferred_unless_every_task_runs_or_finished() {
        let starting = [(2, TaskStatus::Deploying), (2, TaskStatus::Deploying)];
        let cases: [(&str, &[(TaskStatus, u32)]); 4] = [
            ("one still deploying", &[(TaskStatus::Running, 3), (TaskStatus::Deploying, 1)]),
            ("one failed", &[(TaskStatus::Running, 3), (TaskStatus::Failed, 1)]),
            ("more tasks than the view has (rescaled since)", &[(TaskStatus::Running, 6)]),
            ("fewer tasks than the view has", &[(TaskStatus::Running, 2)]),
        ];
        for (name, counts) in cases {
            let mut job = view(JobStatus::Running, Some(2_000), &starting);
            assert!(!live(counts).freshen(JobStatus::Running, &mut job), "{name}");
            assert_eq!(statuses(&job), [TaskStatus::Deploying, TaskStatus::Deploying], "{name}");
        }
    }

    #[test]
    fn a_vertex_that_may_have_finished_whole_is_left_as_read() {
        // Two of four tasks finished: the single-subtask vertex may be one of them.
        let mut job = view(JobStatus::Running, Some(2_000), &[(1, TaskStatus::Deploying), (3, TaskStatus::Deploying)]);
        live(&[(TaskStatus::Running, 2), (TaskStatus::Finished, 2)]).freshen(JobStatus::Running, &mut job);
        assert_eq!(statuses(&job), [TaskStatus::Deploying, TaskStatus::Running]);
        assert_eq!(job.running_since_ms, Some(2_000), "the job was running already");
    }

    #[test]
    fn a_job_failing_since_the_cache_read_no_longer_reads_running() {
        let mut job = view(JobStatus::Running, Some(2_000), &[(2, TaskStatus::Running)]);
        live(&[(TaskStatus::Canceling, 2)]).freshen(JobStatus::Restarting, &mut job);
        assert_eq!(job.status, JobStatus::Restarting);
        assert!(!job.runs_at(&[("v0".to_owned(), 2)].into()));
    }

    #[test]
    fn an_unknown_live_status_changes_nothing() {
        let mut job = view(JobStatus::Running, Some(2_000), &[(2, TaskStatus::Deploying)]);
        let before = job.clone();
        assert!(!live(&[(TaskStatus::Running, 2)]).freshen(JobStatus::Unknown, &mut job));
        assert_eq!(job, before);
    }
}
