//! Free loopback ports.

use std::net::TcpListener;
use std::sync::Mutex;

/// Ports handed out by this process, so two components never get the same one.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A loopback TCP port that was free a moment ago and that this process has not handed out.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().map_err(|_| anyhow::anyhow!("port registry poisoned"))?;
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port found")
}
