//! Where the harness finds what `scripts/setup.sh` installed, and where it keeps run files.

use std::path::PathBuf;

/// The cache folder shared with `scripts/env.sh` (`RESCALER_CACHE`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RESCALER_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache"));
    base.join("flink-rescaler")
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// The Flink version tests use unless they ask for another (`RESCALER_FLINK_VERSION`).
pub fn default_flink_version() -> String {
    std::env::var("RESCALER_FLINK_VERSION").unwrap_or_else(|_| "2.3.0".to_owned())
}

/// FLINK_HOME of an assembled Flink distribution.
pub fn flink_home(version: &str) -> anyhow::Result<PathBuf> {
    let home = cache_dir().join(format!("flink-{version}"));
    anyhow::ensure!(
        home.join("bin/jobmanager.sh").exists(),
        "Flink {version} is not set up at {}: run `scripts/setup.sh --flink {version}`",
        home.display()
    );
    Ok(home)
}

/// A fresh scratch folder for one harness component, under the cache (not /tmp, which may be small).
pub fn scratch_dir(kind: &str) -> anyhow::Result<PathBuf> {
    let root = cache_dir().join("scratch");
    std::fs::create_dir_all(&root)?;
    let unique = format!(
        "{kind}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()
    );
    let dir = root.join(unique);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The built console (`scripts/build-console.sh` writes it).
pub fn console_dir() -> anyhow::Result<PathBuf> {
    let dir = repo_root().join("frontend/dist");
    anyhow::ensure!(dir.join("index.html").exists(), "the console is not built: run scripts/build-console.sh");
    Ok(dir)
}

/// Fresh directory stores for one test, each in its own scratch folder, removed when this is
/// dropped.
pub struct ScratchStores {
    kind: &'static str,
    dirs: std::sync::Mutex<Vec<PathBuf>>,
}

impl ScratchStores {
    pub fn new(kind: &'static str) -> Self {
        Self { kind, dirs: std::sync::Mutex::new(Vec::new()) }
    }

    /// A new, empty directory store.
    pub fn store(&self) -> anyhow::Result<std::sync::Arc<dyn rescaler_backend::store::Store>> {
        let dir = scratch_dir(self.kind)?;
        self.dirs.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(dir.clone());
        Ok(std::sync::Arc::new(rescaler_backend::store::DirStore::open(dir)?))
    }
}

impl Drop for ScratchStores {
    fn drop(&mut self) {
        for dir in self.dirs.lock().map(|dirs| dirs.clone()).unwrap_or_default() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
