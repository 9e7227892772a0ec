//! Child processes that cannot outlive the test that started them.
//!
//! Each child gets its own process group (so helpers it forks die with it), `PR_SET_PDEATHSIG`
//! (so the kernel kills it if the test process dies, even by SIGKILL), a PID file under the
//! cache (so a later run reaps what an earlier, crashed run left), and a guard whose `Drop`
//! kills the whole group.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::paths::cache_dir;

fn pid_dir() -> PathBuf {
    cache_dir().join("run/pids")
}

fn process_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills the process groups recorded by runs whose test process is gone.
pub fn reap_stale() {
    let Ok(entries) = fs::read_dir(pid_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((owner, group)) = name.split_once('.') else { continue };
        let (Ok(owner), Ok(group)) = (owner.parse::<i32>(), group.parse::<i32>()) else { continue };
        if !process_alive(owner) {
            // SAFETY: plain syscall on a process group id read from our own PID file.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = fs::remove_file(entry.path());
            tracing::info!(process.group = group, owner.pid = owner, "reaped a stale process group");
        }
    }
}

/// A running child process; dropping it kills its whole process group.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    pid_file: PathBuf,
}

impl ChildGuard {
    /// Starts `command` with stdout and stderr appended to `log_file`.
    pub fn spawn(name: &str, mut command: Command, log_file: &Path) -> anyhow::Result<Self> {
        reap_stale();
        let log = fs::OpenOptions::new().create(true).append(true).open(log_file)?;
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0);
        // SAFETY: prctl is async-signal-safe; called between fork and exec in the child.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|error| anyhow::anyhow!("cannot start {name}: {error}"))?;
        fs::create_dir_all(pid_dir())?;
        let pid_file = pid_dir().join(format!("{}.{}", std::process::id(), child.id()));
        fs::write(&pid_file, name)?;
        tracing::info!(process.name = name, process.pid = child.id(), "started");
        Ok(Self { name: name.to_owned(), child, pid_file })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process has exited (it crashed or was killed).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits up to `timeout` for the process to exit by itself; answers how it ended.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Kills the process group now and waits for the leader.
    pub fn kill(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: plain syscall on the process group this guard created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.pid_file);
        tracing::info!(process.name = %self.name, process.pid = group, "stopped");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
