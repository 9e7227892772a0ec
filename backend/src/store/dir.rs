//! [`DirStore`]: the store in a local directory, for the single-binary local mode.
//!
//! Conditional writes hold across threads and processes: each check-and-write runs under an
//! exclusive lock on `<root>/.lock`, and documents are replaced by an atomic rename.

mod large;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Store, StoreError, StoreFuture, StoreResult, Version, validate_key};

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// Opens (and creates) a store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> StoreResult<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(unavailable)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Runs `body` while holding the store's exclusive lock, on a blocking thread.
    async fn locked<T: Send + 'static>(
        &self,
        body: impl FnOnce() -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let lock_path = self.root.join(".lock");
        tokio::task::spawn_blocking(move || {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(unavailable)?;
            lock.lock().map_err(unavailable)?;
            let result = body();
            let _ = lock.unlock();
            result
        })
        .await
        .map_err(|error| StoreError::Unavailable { detail: error.to_string() })?
    }
}

fn unavailable(error: std::io::Error) -> StoreError {
    StoreError::Unavailable { detail: error.to_string() }
}

fn version_of(body: &[u8]) -> Version {
    Version(hex::encode(Sha256::digest(body)))
}

fn read(path: &Path) -> StoreResult<Option<Bytes>> {
    match std::fs::read(path) {
        Ok(body) => Ok(Some(Bytes::from(body))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(unavailable(error)),
    }
}

fn write_atomically(path: &Path, body: &[u8]) -> StoreResult<()> {
    let parent = path.parent().ok_or_else(|| StoreError::Unavailable { detail: "key has no parent".into() })?;
    std::fs::create_dir_all(parent).map_err(unavailable)?;
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, body).map_err(unavailable)?;
    std::fs::rename(&partial, path).map_err(unavailable)
}

impl Store for DirStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<(Bytes, Version)>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let body = tokio::task::spawn_blocking(move || read(&path))
                .await
                .map_err(|error| StoreError::Unavailable { detail: error.to_string() })??;
            Ok(body.map(|body| {
                let version = version_of(&body);
                (body, version)
            }))
        })
    }

    fn create<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            let path = self.path(key)?;
            let key = key.to_owned();
            self.locked(move || {
                if path.exists() {
                    return Err(StoreError::Conflict { key });
                }
                write_atomically(&path, &body)?;
                Ok(version_of(&body))
            })
            .await
        })
    }

    fn replace<'a>(&'a self, key: &'a str, body: Bytes, expected: &'a Version) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            let path = self.path(key)?;
            let key = key.to_owned();
            let expected = expected.clone();
            self.locked(move || {
                match read(&path)? {
                    Some(current) if version_of(&current) == expected => {}
                    _ => return Err(StoreError::Conflict { key }),
                }
                write_atomically(&path, &body)?;
                Ok(version_of(&body))
            })
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            self.locked(move || match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(unavailable(error)),
            })
            .await
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let root = self.root.clone();
            let prefix = prefix.to_owned();
            tokio::task::spawn_blocking(move || {
                let mut keys = Vec::new();
                // Only walk the directory the prefix names, not the whole store.
                let start = match prefix.rfind('/') {
                    Some(slash) => root.join(&prefix[..slash]),
                    None => root.clone(),
                };
                walk(&root, &start, &mut keys)?;
                keys.retain(|key| key.starts_with(&prefix));
                keys.sort();
                Ok(keys)
            })
            .await
            .map_err(|error| StoreError::Unavailable { detail: error.to_string() })?
        })
    }

    fn large_objects(&self) -> Option<&dyn super::large::LargeObjects> {
        Some(self)
    }

    fn kind(&self) -> &'static str {
        "dir"
    }
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) -> StoreResult<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(unavailable(error)),
    };
    for entry in entries {
        let entry = entry.map_err(unavailable)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.contains(".partial-") {
            continue;
        }
        if entry.file_type().map_err(unavailable)?.is_dir() {
            walk(root, &path, keys)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            keys.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
