//! Reading savepoints where Flink wrote them — a local directory (`file:`) or S3 (`s3://`,
//! `s3a://`, `s3p://`) — without asking Flink: to find a stop's savepoint again after Flink
//! forgot the trigger, and to tell whether a catalogued savepoint is still there.
//!
//! A savepoint is complete when its `_metadata` file exists: Flink writes it last.

use std::time::UNIX_EPOCH;

use aws_sdk_s3::error::DisplayErrorContext;
use rescaler_shared::operation::normalize_location;
use rescaler_shared::phase::{FoundSavepoint, SavepointSource};

/// The file Flink writes last into a savepoint's directory.
pub const METADATA_FILE: &str = "_metadata";

/// Why savepoint storage could not be read (the search is then retried on the next pass).
#[derive(Debug, thiserror::Error)]
pub enum SavepointStorageError {
    #[error("cannot read savepoints at {location}: {detail}")]
    Unreadable { location: String, detail: String },
    #[error("savepoints at {0} cannot be read by the backend (an S3 location needs S3 access)")]
    Unsupported(String),
}

type Result<T> = std::result::Result<T, SavepointStorageError>;

/// What the backend can read savepoints from: the local file system always, S3 when it has a
/// client.
#[derive(Clone, Default)]
pub struct SavepointStorage {
    s3: Option<aws_sdk_s3::Client>,
}

/// A location, split by where it lives.
enum Place<'a> {
    Local(String),
    S3 { bucket: &'a str, key: &'a str },
}

const S3_SCHEMES: [&str; 4] = ["s3://", "s3a://", "s3p://", "s3n://"];

/// `location` is in S3 (any of the schemes Flink's S3 file systems register).
pub fn is_s3_location(location: &str) -> bool {
    S3_SCHEMES.iter().any(|scheme| location.starts_with(scheme))
}

fn place(location: &str) -> Option<Place<'_>> {
    if let Some(path) = location.strip_prefix("file:") {
        return Some(Place::Local(format!("/{}", path.trim_start_matches('/'))));
    }
    if location.starts_with('/') {
        return Some(Place::Local(location.to_owned()));
    }
    let rest = S3_SCHEMES.iter().find_map(|scheme| location.strip_prefix(scheme))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Some(Place::S3 { bucket, key: key.trim_matches('/') })
}

impl SavepointStorage {
    pub fn new(s3: Option<aws_sdk_s3::Client>) -> Self {
        Self { s3 }
    }

    /// The completed savepoints directly below `directory` (each a directory holding
    /// `_metadata`), with their locations named as `directory` names them. A directory that
    /// does not exist holds none.
    pub async fn completed_below(&self, directory: &str) -> Result<Vec<FoundSavepoint>> {
        let directory = normalize_location(directory);
        let unreadable = |detail: String| SavepointStorageError::Unreadable { location: directory.clone(), detail };
        let found = match place(&directory).ok_or_else(|| SavepointStorageError::Unsupported(directory.clone()))? {
            Place::Local(path) => local_completed_below(&path).map_err(|error| unreadable(error.to_string()))?,
            Place::S3 { bucket, key } => {
                let client = self.s3.as_ref().ok_or_else(|| SavepointStorageError::Unsupported(directory.clone()))?;
                s3_completed_below(client, bucket, key).await.map_err(unreadable)?
            }
        };
        Ok(found
            .into_iter()
            .map(|(name, taken_at_ms)| FoundSavepoint {
                location: format!("{directory}/{name}"),
                found_in: SavepointSource::SavepointDirectory,
                taken_at_ms,
            })
            .collect())
    }

    /// Whether the savepoint at `location` is complete (its `_metadata` exists), and its
    /// metadata's size in bytes.
    pub async fn metadata_size(&self, location: &str) -> Result<Option<u64>> {
        let location = normalize_location(location);
        let unreadable = |detail: String| SavepointStorageError::Unreadable { location: location.clone(), detail };
        match place(&location).ok_or_else(|| SavepointStorageError::Unsupported(location.clone()))? {
            Place::Local(path) => match std::fs::metadata(format!("{path}/{METADATA_FILE}")) {
                Ok(metadata) => Ok(Some(metadata.len())),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(unreadable(error.to_string())),
            },
            Place::S3 { bucket, key } => {
                let client = self.s3.as_ref().ok_or_else(|| SavepointStorageError::Unsupported(location.clone()))?;
                let key = format!("{key}/{METADATA_FILE}");
                match client.head_object().bucket(bucket).key(&key).send().await {
                    Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0).unsigned_abs())),
                    Err(error) if error.raw_response().is_some_and(|raw| raw.status().as_u16() == 404) => Ok(None),
                    Err(error) => Err(unreadable(DisplayErrorContext(error).to_string())),
                }
            }
        }
    }
}

/// Names of the subdirectories of `path` that hold `_metadata`, with its modification time.
fn local_completed_below(path: &str) -> std::io::Result<Vec<(String, Option<u64>)>> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(metadata) = std::fs::metadata(entry.path().join(METADATA_FILE)) else { continue };
        let modified = metadata.modified().ok().and_then(|time| time.duration_since(UNIX_EPOCH).ok());
        let modified_ms = modified.map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        found.push((entry.file_name().to_string_lossy().into_owned(), modified_ms));
    }
    Ok(found)
}

/// Names of the "directories" directly below `prefix` that hold a `_metadata` object, with
/// its modification time.
async fn s3_completed_below(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::result::Result<Vec<(String, Option<u64>)>, String> {
    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let mut found = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(&prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| DisplayErrorContext(error).to_string())?;
        for object in page.contents() {
            let Some(rest) = object.key().and_then(|key| key.strip_prefix(&prefix)) else { continue };
            let Some((name, file)) = rest.split_once('/') else { continue };
            if file == METADATA_FILE && !name.is_empty() {
                let modified_ms = object.last_modified().and_then(|time| u64::try_from(time.to_millis().ok()?).ok());
                found.push((name.to_owned(), modified_ms));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_only_complete_savepoints_below_a_local_directory() {
        let root = std::env::temp_dir().join(format!("savepoint-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("savepoint-aa-1")).expect("test setup");
        std::fs::write(root.join("savepoint-aa-1").join(METADATA_FILE), b"meta").expect("test setup");
        // An interrupted savepoint: state files, no metadata yet.
        std::fs::create_dir_all(root.join("savepoint-aa-2")).expect("test setup");
        std::fs::write(root.join("savepoint-aa-2").join("state"), b"x").expect("test setup");
        let storage = SavepointStorage::default();
        let directory = format!("file://{}", root.display());
        let found = storage.completed_below(&directory).await.expect("test setup");
        let locations: Vec<_> = found.iter().map(|found| found.location.as_str()).collect();
        assert_eq!(locations, vec![format!("file:{}/savepoint-aa-1", root.display())]);
        assert!(found[0].taken_at_ms.is_some());
        assert_eq!(storage.metadata_size(&found[0].location).await.expect("test setup"), Some(4));
        assert_eq!(storage.metadata_size(&format!("{directory}/savepoint-aa-2")).await.expect("test setup"), None);
        let missing = storage.completed_below(&format!("{directory}/nothing-here")).await.expect("test setup");
        assert!(missing.is_empty());
        assert!(matches!(
            storage.completed_below("s3://bucket/savepoints").await,
            Err(SavepointStorageError::Unsupported(_))
        ));
        std::fs::remove_dir_all(&root).expect("test setup");
    }
}
