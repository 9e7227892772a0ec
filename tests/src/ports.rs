//! Free loopback ports.

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use crate::paths::cache_dir;

/// Ports handed out by this process, with the lock file that claims each for it: two components
/// never get the same one, in this process or in another test process of the run (nextest runs
/// each test in a process of its own). The kernel drops the locks when the process ends.
static HANDED_OUT: Mutex<Vec<(u16, File)>> = Mutex::new(Vec::new());

/// Claims `port` for this process unless another live process holds it.
fn claim(port: u16) -> anyhow::Result<Option<File>> {
    let dir = cache_dir().join("run/ports");
    std::fs::create_dir_all(&dir)?;
    let file = File::options().create(true).truncate(false).write(true).open(dir.join(port.to_string()))?;
    // SAFETY: flock on a descriptor this function owns.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    Ok(locked.then_some(file))
}

/// A loopback TCP port that was free a moment ago and that no test process has handed out.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().map_err(|_| anyhow::anyhow!("port registry poisoned"))?;
        if handed_out.iter().any(|(taken, _)| *taken == port) {
            continue;
        }
        if let Some(lock) = claim(port)? {
            handed_out.push((port, lock));
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port found")
}
