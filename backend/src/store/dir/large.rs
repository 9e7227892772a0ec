//! [`LargeObjects`] on the directory store: parts go through the local binary into
//! `<root>/.uploads/<upload id>/<part>`, are joined by streaming into a temporary file renamed
//! over the object, and objects are read back in 256 KB chunks.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::DirStore;
use crate::store::large::{LargeObjects, ObjectStream, UploadTarget};
use crate::store::{StoreError, StoreFuture, StoreResult};

const CHUNK: usize = 256 * 1024;

fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable { detail: detail.to_string() }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(unavailable)?
}

/// An upload id names a directory: 32 hex characters, nothing else.
fn upload_dir(root: &Path, upload_id: &str) -> StoreResult<PathBuf> {
    if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::InvalidKey { key: upload_id.to_owned() });
    }
    Ok(root.join(".uploads").join(upload_id))
}

/// The entity tag of a part: the hex sha256 of its bytes.
fn etag_of(path: &Path) -> StoreResult<String> {
    let mut file = std::fs::File::open(path).map_err(unavailable)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; CHUNK];
    loop {
        let read = file.read(&mut buffer).map_err(unavailable)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

fn join_parts(parts_dir: &Path, target: &Path, etags: &[String]) -> StoreResult<()> {
    let parent = target.parent().ok_or_else(|| unavailable("an object needs a parent directory"))?;
    std::fs::create_dir_all(parent).map_err(unavailable)?;
    let temporary = parent.join(format!(".{}.joining", uuid::Uuid::new_v4().simple()));
    let mut out = std::fs::File::create(&temporary).map_err(unavailable)?;
    for (index, expected) in etags.iter().enumerate() {
        let part = parts_dir.join((index + 1).to_string());
        if !part.exists() || etag_of(&part)? != *expected {
            let _ = std::fs::remove_file(&temporary);
            return Err(StoreError::Conflict { key: format!("part {} of the upload", index + 1) });
        }
        let mut input = std::fs::File::open(&part).map_err(unavailable)?;
        std::io::copy(&mut input, &mut out).map_err(unavailable)?;
    }
    out.flush().map_err(unavailable)?;
    out.sync_all().map_err(unavailable)?;
    std::fs::rename(&temporary, target).map_err(unavailable)?;
    let _ = std::fs::remove_dir_all(parts_dir);
    Ok(())
}

impl LargeObjects for DirStore {
    fn begin_upload<'a>(
        &'a self,
        key: &'a str,
        _parts: u32,
        _valid_for: Duration,
    ) -> StoreFuture<'a, (String, UploadTarget)> {
        Box::pin(async move {
            self.path(key)?;
            let upload_id = uuid::Uuid::new_v4().simple().to_string();
            let dir = upload_dir(self.root(), &upload_id)?;
            blocking(move || std::fs::create_dir_all(dir).map_err(unavailable)).await?;
            Ok((upload_id, UploadTarget::ThroughApi))
        })
    }

    fn put_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        part_number: u32,
        body: Bytes,
    ) -> StoreFuture<'a, String> {
        Box::pin(async move {
            self.path(key)?;
            let dir = upload_dir(self.root(), upload_id)?;
            blocking(move || {
                if !dir.is_dir() {
                    return Err(StoreError::InvalidKey { key: format!("upload {}", dir.display()) });
                }
                let part = dir.join(part_number.to_string());
                let temporary = dir.join(format!("{part_number}.writing"));
                std::fs::write(&temporary, &body).map_err(unavailable)?;
                std::fs::rename(&temporary, &part).map_err(unavailable)?;
                Ok(hex::encode(Sha256::digest(&body)))
            })
            .await
        })
    }

    fn complete_upload<'a>(&'a self, key: &'a str, upload_id: &'a str, etags: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let target = self.path(key)?;
            let dir = upload_dir(self.root(), upload_id)?;
            let etags = etags.to_vec();
            blocking(move || join_parts(&dir, &target, &etags)).await
        })
    }

    fn read_stream<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<ObjectStream>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let file = match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(unavailable(error)),
            };
            let len = file.metadata().await.map_err(unavailable)?.len();
            let body = futures::stream::unfold(Some(file), |file| async move {
                use tokio::io::AsyncReadExt;
                let mut file = file?;
                let mut buffer = vec![0_u8; CHUNK];
                match file.read(&mut buffer).await {
                    Ok(0) => None,
                    Ok(read) => {
                        buffer.truncate(read);
                        Some((Ok(Bytes::from(buffer)), Some(file)))
                    }
                    Err(error) => Some((Err(unavailable(error)), None)),
                }
            })
            .boxed();
            Ok(Some(ObjectStream { len, body }))
        })
    }

    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (from, to) = (self.path(from)?, self.path(to)?);
            blocking(move || {
                let parent = to.parent().ok_or_else(|| unavailable("an object needs a parent directory"))?;
                std::fs::create_dir_all(parent).map_err(unavailable)?;
                let temporary = parent.join(format!(".{}.copying", uuid::Uuid::new_v4().simple()));
                std::fs::copy(&from, &temporary).map_err(unavailable)?;
                std::fs::rename(&temporary, &to).map_err(unavailable)
            })
            .await
        })
    }
}
