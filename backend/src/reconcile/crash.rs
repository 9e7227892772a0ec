//! Crashing on purpose, for the crash tests.

use std::time::Duration;

/// Points where a test asks the process to die (SIGKILL) right after a side effect, before its
/// result is written (`RESCALER_CRASH_AFTER`): `stop_triggered`, `savepoint_completed`,
/// `job_submitted`, `requirements_sent`, and on MSF `snapshot_requested`, `application_updated`.
#[derive(Debug, Clone, Default)]
pub struct CrashPoints(Vec<String>);

impl CrashPoints {
    pub fn from_env() -> Self {
        Self(
            std::env::var("RESCALER_CRASH_AFTER")
                .map(|value| value.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        )
    }

    pub(super) fn check(&self, point: &str) {
        if self.0.iter().any(|p| p == point) {
            tracing::warn!(crash.point = point, "crashing on purpose (RESCALER_CRASH_AFTER)");
            let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
            std::thread::sleep(Duration::from_secs(5));
            std::process::abort();
        }
    }
}
