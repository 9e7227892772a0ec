//! The sample jobs (`tests/sample-job`), compiled with `javac` + `jar` against the Flink version
//! that will run them, into one jar cached by the hash of every source file. The jar's manifest
//! names [`ENTRY_CLASS`] (the keyed counter); the load-test job is submitted with
//! [`LOAD_TEST_ENTRY_CLASS`] as the run's entry class.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::paths::{cache_dir, repo_root};

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The keyed counter's source file.
pub fn source_file() -> PathBuf {
    repo_root().join("tests/sample-job/src/rescaler/sample/KeyedCounterJob.java")
}

/// Every Java source of the sample jobs, sorted by path.
pub fn source_files() -> anyhow::Result<Vec<PathBuf>> {
    let dir = repo_root().join("tests/sample-job/src/rescaler/sample");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "java") {
            files.push(path);
        }
    }
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no Java sources in {}", dir.display());
    Ok(files)
}

/// The main class, as written in the jar's manifest: the keyed counter (`KeyedCounterJob`).
pub const ENTRY_CLASS: &str = "rescaler.sample.KeyedCounterJob";

/// The load-test job's main class (`LoadTestJob`), in the same jar.
pub const LOAD_TEST_ENTRY_CLASS: &str = "rescaler.sample.LoadTestJob";

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
    let sources = source_files()?;
    // Names and contents of every source, in order: a changed, added or removed file changes it.
    let mut hashed = Vec::new();
    for path in &sources {
        hashed.extend_from_slice(path.file_name().map(|name| name.as_encoded_bytes()).unwrap_or_default());
        hashed.push(0);
        hashed.extend(std::fs::read(path)?);
        hashed.push(0);
    }
    let dir = cache_dir().join("sample-job").join(format!("{flink_version}-{}", fingerprint(&hashed)));
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
        .args(&sources)
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
