//! Jar uploads in parts, straight to the store: `uploads/<id>.json` records the intent before
//! the store's multipart upload starts; completing it joins the parts under
//! `uploads/<id>/jar`, reads that object once as a stream to learn its sha256 and size (and
//! that it is a zip), copies it to `artifacts/<sha256>/jar` and registers the artifact. No step
//! holds the jar in memory, and completing again answers the same artifact.
//!
//! [`Records::artifact_stream`] reads a stored jar as a stream whose end checks the sha256: a
//! jar that changed in the store fails its upload to Flink instead of running.

use bytes::Bytes;
use futures::StreamExt;
use rescaler_shared::api::Artifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Records, ignore_conflict};
use crate::store::large::{LargeObjects, ObjectStream, UploadTarget};
use crate::store::{JsonStore, StoreError};

/// How every jar (a zip file) starts: the local file header's signature.
pub const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Size of every part but the last (S3 wants at least 5 MiB but for the last part).
pub const PART_BYTES: u64 = 16 * 1024 * 1024;
/// The largest jar accepted (Flink fat jars are commonly 50–300 MB).
pub const MAX_UPLOAD_BYTES: u64 = 1024 * 1024 * 1024;
/// How long the part URLs stay valid.
pub const UPLOAD_VALID_FOR_MS: u64 = 3_600_000;
const UPLOAD_VALID_FOR: std::time::Duration = std::time::Duration::from_millis(UPLOAD_VALID_FOR_MS);

/// An upload in parts, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactUploadRecord {
    pub id: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub parts: u32,
    pub uploaded_by: String,
    pub created_at_ms: u64,
    /// The store's multipart upload, once started.
    #[serde(default)]
    pub store_upload_id: Option<String>,
    /// The artifact it became, once completed.
    #[serde(default)]
    pub artifact_sha256: Option<String>,
}

/// Why an upload cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Invalid(String),
    #[error("no upload {0}")]
    NotFound(String),
    #[error("only {0} may complete this upload")]
    NotUploader(String),
    #[error("the store keeps no large objects")]
    Unsupported,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn record_key(id: &str) -> String {
    format!("uploads/{id}.json")
}

fn staging_key(id: &str) -> String {
    format!("uploads/{id}/jar")
}

fn valid_id(id: &str) -> Result<(), UploadError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(UploadError::NotFound(id.to_owned()))
    }
}

impl Records {
    fn large(&self) -> Result<&dyn LargeObjects, UploadError> {
        self.store.large_objects().ok_or(UploadError::Unsupported)
    }

    /// Records an upload of `size_bytes` in parts and starts it in the store; answers where its
    /// parts go.
    pub async fn begin_upload(
        &self,
        file_name: &str,
        size_bytes: u64,
        uploaded_by: &str,
        now_ms: u64,
    ) -> Result<(ArtifactUploadRecord, UploadTarget), UploadError> {
        if !(1..=MAX_UPLOAD_BYTES).contains(&size_bytes) {
            return Err(UploadError::Invalid(format!("a jar must have 1 to {MAX_UPLOAD_BYTES} bytes")));
        }
        let large = self.large()?;
        let parts = u32::try_from(size_bytes.div_ceil(PART_BYTES)).unwrap_or(u32::MAX);
        let mut record = ArtifactUploadRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            file_name: file_name.to_owned(),
            size_bytes,
            parts,
            uploaded_by: uploaded_by.to_owned(),
            created_at_ms: now_ms,
            store_upload_id: None,
            artifact_sha256: None,
        };
        let version = self.store.create_json(&record_key(&record.id), &record).await?;
        let (store_upload_id, target) = large.begin_upload(&staging_key(&record.id), parts, UPLOAD_VALID_FOR).await?;
        record.store_upload_id = Some(store_upload_id);
        self.store.replace_json(&record_key(&record.id), &record, &version).await?;
        Ok((record, target))
    }

    /// The upload `id`, if recorded.
    pub async fn upload_record(&self, id: &str) -> Result<ArtifactUploadRecord, UploadError> {
        valid_id(id)?;
        let found = self.store.get_json::<ArtifactUploadRecord>(&record_key(id)).await?;
        found.map(|(record, _)| record).ok_or_else(|| UploadError::NotFound(id.to_owned()))
    }

    /// Stores one part of an upload whose parts go through the API; answers its entity tag.
    pub async fn put_upload_part(&self, id: &str, part_number: u32, body: Bytes) -> Result<String, UploadError> {
        let record = self.upload_record(id).await?;
        if !(1..=record.parts).contains(&part_number) {
            return Err(UploadError::Invalid(format!(
                "part {part_number} is not one of the upload's {} parts",
                record.parts
            )));
        }
        let expected = if part_number < record.parts {
            PART_BYTES
        } else {
            record.size_bytes - PART_BYTES * u64::from(record.parts - 1)
        };
        if body.len() as u64 != expected {
            return Err(UploadError::Invalid(format!(
                "part {part_number} must have {expected} bytes, not {}",
                body.len()
            )));
        }
        let store_upload_id = record.store_upload_id.ok_or_else(|| UploadError::NotFound(id.to_owned()))?;
        Ok(self.large()?.put_part(&staging_key(id), &store_upload_id, part_number, body).await?)
    }

    /// Joins the parts (entity tags in part order), checks the jar and registers it as an
    /// artifact. Only its uploader completes an upload; completing again answers the artifact.
    pub async fn complete_upload(
        &self,
        id: &str,
        etags: &[String],
        caller: &str,
        now_ms: u64,
    ) -> Result<Artifact, UploadError> {
        valid_id(id)?;
        let (mut record, version) = self
            .store
            .get_json::<ArtifactUploadRecord>(&record_key(id))
            .await?
            .ok_or_else(|| UploadError::NotFound(id.to_owned()))?;
        if record.uploaded_by != caller {
            return Err(UploadError::NotUploader(record.uploaded_by));
        }
        if let Some(sha256) = &record.artifact_sha256
            && let Some(artifact) = self.artifact(sha256).await?
        {
            return Ok(artifact);
        }
        if etags.len() != record.parts as usize {
            return Err(UploadError::Invalid(format!("the upload has {} parts, not {}", record.parts, etags.len())));
        }
        let large = self.large()?;
        let staging = staging_key(id);
        let store_upload_id = record.store_upload_id.clone().ok_or_else(|| UploadError::NotFound(id.to_owned()))?;
        // A completion that crashed after joining finds the object there and goes on.
        if let Err(error) = large.complete_upload(&staging, &store_upload_id, etags).await {
            if large.read_stream(&staging).await?.is_none() {
                return Err(match error {
                    StoreError::Conflict { key } => {
                        UploadError::Invalid(format!("{key} differs from what was sent: send it again"))
                    }
                    other => other.into(),
                });
            }
        }
        let object = large.read_stream(&staging).await?.ok_or_else(|| UploadError::NotFound(id.to_owned()))?;
        let (sha256, size, zip) = digest(object).await?;
        let refusal = if size != record.size_bytes {
            Some(format!("the upload has {size} bytes, not the {} announced", record.size_bytes))
        } else if !zip {
            Some(format!("{} is not a jar (zip) file", record.file_name))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            // Nothing of a refused upload stays (the bucket's lifecycle rule backs this up).
            self.store.delete(&staging).await?;
            return Err(UploadError::Invalid(refusal));
        }
        if self.artifact(&sha256).await?.is_none() {
            large.copy(&staging, &format!("artifacts/{sha256}/jar")).await?;
            let artifact = Artifact {
                sha256: sha256.clone(),
                file_name: record.file_name.clone(),
                size_bytes: size,
                uploaded_by: record.uploaded_by.clone(),
                uploaded_at_ms: now_ms,
            };
            ignore_conflict(self.store.create_json(&format!("artifacts/{sha256}/meta.json"), &artifact).await)?;
        }
        record.artifact_sha256 = Some(sha256.clone());
        ignore_conflict(self.store.replace_json(&record_key(id), &record, &version).await.map(|_| ()))?;
        self.store.delete(&staging).await?;
        self.artifact(&sha256).await?.ok_or_else(|| UploadError::NotFound(sha256))
    }

    /// A stored jar as a stream whose end checks its sha256 (a mismatch is the stream's last
    /// item, an error); `None` when the store has no such jar.
    pub async fn artifact_stream(&self, sha256: &str) -> Result<Option<ObjectStream>, UploadError> {
        let key = format!("artifacts/{sha256}/jar");
        let Some(object) = self.large()?.read_stream(&key).await? else { return Ok(None) };
        let expected = sha256.to_owned();
        let checked = futures::stream::unfold((object.body, Some(Sha256::new())), move |(mut body, hasher)| {
            let (expected, key) = (expected.clone(), key.clone());
            async move {
                let mut hasher = hasher?;
                match body.next().await {
                    Some(Ok(bytes)) => {
                        hasher.update(&bytes);
                        Some((Ok(bytes), (body, Some(hasher))))
                    }
                    Some(Err(error)) => Some((Err(error), (body, None))),
                    None if hex::encode(hasher.finalize()) == expected => None,
                    None => Some((
                        Err(StoreError::Corrupt { key, detail: "sha256 does not match".to_owned() }),
                        (body, None),
                    )),
                }
            }
        })
        .boxed();
        Ok(Some(ObjectStream { len: object.len, body: checked }))
    }
}

/// The sha256, the length and whether it starts as a zip file does, read in one pass.
async fn digest(object: ObjectStream) -> Result<(String, u64, bool), UploadError> {
    let mut body = object.body;
    let mut hasher = Sha256::new();
    let (mut size, mut head) = (0_u64, Vec::<u8>::with_capacity(4));
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if head.len() < 4 {
            head.extend(chunk.iter().take(4 - head.len()));
        }
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), size, head.as_slice() == ZIP_MAGIC))
}
