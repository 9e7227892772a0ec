//! Large objects (job jars, 50–300 MB): written in parts straight from the browser, read back
//! as a stream, so that no request and no process holds a whole jar.
//!
//! On S3 the browser `PUT`s each part to a presigned `UploadPart` URL of a multipart upload
//! and the API completes it; on the embedded directory store the parts go through the local
//! binary (`UploadTarget::ThroughApi`) and are joined on completion. Either way the object is
//! read back with [`LargeObjects::read_stream`] and copied within the store.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;

use super::{StoreError, StoreFuture};

/// Where the browser sends the parts of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// One presigned URL per part, in part order (S3 `UploadPart`); each answers an `ETag`.
    Presigned(Vec<String>),
    /// The store has no URLs of its own: the API takes the parts ([`LargeObjects::put_part`]).
    ThroughApi,
}

/// An object being read: its length, then its bytes in order.
pub struct ObjectStream {
    pub len: u64,
    pub body: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ObjectStream").field("len", &self.len).finish_non_exhaustive()
    }
}

/// What a store offers for objects too large to hold in memory.
pub trait LargeObjects: Send + Sync {
    /// Starts a multipart upload of `parts` parts to `key`; answers its id and where the parts
    /// go. Presigned URLs are valid for `valid_for`.
    fn begin_upload<'a>(
        &'a self,
        key: &'a str,
        parts: u32,
        valid_for: Duration,
    ) -> StoreFuture<'a, (String, UploadTarget)>;
    /// Stores part `part_number` (from 1) of an upload that goes [`UploadTarget::ThroughApi`];
    /// answers its entity tag. Putting a part again replaces it.
    fn put_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        part_number: u32,
        body: Bytes,
    ) -> StoreFuture<'a, String>;
    /// Joins the parts, given their entity tags in part order, into the object at `key`.
    fn complete_upload<'a>(&'a self, key: &'a str, upload_id: &'a str, etags: &'a [String]) -> StoreFuture<'a, ()>;
    /// The object at `key` as a stream, or `None` when there is none.
    fn read_stream<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<ObjectStream>>;
    /// Copies the object at `from` to `to` within the store (overwriting `to`).
    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> StoreFuture<'a, ()>;
}
