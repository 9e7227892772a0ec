//! The sample stateful job (`tests/sample-job`), compiled with `javac` + `jar` against the
//! Flink version that will run it, and cached by source hash.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::paths::{cache_dir, repo_root};

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The job's source file.
pub fn source_file() -> PathBuf {
    repo_root().join("tests/sample-job/src/rescaler/sample/KeyedCounterJob.java")
}

/// The main class, as written in the jar's manifest.
pub const ENTRY_CLASS: &str = "rescaler.sample.KeyedCounterJob";

fn fingerprint(bytes: &[u8]) -> String {
    // FNV-1a: enough to notice that the source changed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Builds (once per source version and Flink version) and returns the jar's path.
pub fn jar_for(flink_home: &Path, flink_version: &str) -> anyhow::Result<PathBuf> {
    let _guard = BUILD_LOCK.lock().map_err(|_| anyhow::anyhow!("sample job build lock poisoned"))?;
    let source = std::fs::read(source_file())?;
    let dir = cache_dir().join("sample-job").join(format!("{flink_version}-{}", fingerprint(&source)));
    let jar = dir.join("keyed-counter.jar");
    if jar.exists() {
        return Ok(jar);
    }
    let classes = dir.join(format!("classes-{}", std::process::id()));
    std::fs::create_dir_all(&classes)?;
    let status = Command::new("javac")
        .arg("-nowarn")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(format!("{}/lib/*", flink_home.display()))
        .arg(source_file())
        .status()?;
    anyhow::ensure!(status.success(), "javac failed on the sample job");
    let partial = dir.join(format!("keyed-counter-{}.jar", std::process::id()));
    let status =
        Command::new("jar").arg("cfe").arg(&partial).arg(ENTRY_CLASS).arg("-C").arg(&classes).arg(".").status()?;
    anyhow::ensure!(status.success(), "jar failed on the sample job");
    // Rename is atomic: another test process either sees the whole jar or none.
    std::fs::rename(&partial, &jar)?;
    let _ = std::fs::remove_dir_all(&classes);
    Ok(jar)
}
