//! [`LargeObjects`] on S3: a multipart upload whose parts the browser `PUT`s to presigned
//! `UploadPart` URLs, `CompleteMultipartUpload` by the API, `GetObject` read as a stream, and
//! `CopyObject` (multipart copy is not needed below S3's 5 GB copy limit; jars are far below it).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;

use super::{S3Store, classify};
use crate::store::large::{LargeObjects, ObjectStream, UploadTarget};
use crate::store::{StoreError, StoreFuture};

fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable { detail: detail.to_string() }
}

impl LargeObjects for S3Store {
    fn begin_upload<'a>(
        &'a self,
        key: &'a str,
        parts: u32,
        valid_for: Duration,
    ) -> StoreFuture<'a, (String, UploadTarget)> {
        Box::pin(async move {
            let object_key = self.object_key(key)?;
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&object_key)
                .content_type("application/java-archive")
                .send()
                .await
                .map_err(|error| classify(key, error))?;
            let upload_id = created.upload_id().ok_or_else(|| unavailable("S3 answered no upload id"))?.to_owned();
            let presigning = PresigningConfig::expires_in(valid_for).map_err(unavailable)?;
            let mut urls = Vec::with_capacity(parts as usize);
            for part_number in 1..=parts {
                let presigned = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(&object_key)
                    .upload_id(&upload_id)
                    .part_number(i32::try_from(part_number).map_err(unavailable)?)
                    .presigned(presigning.clone())
                    .await
                    .map_err(|error| classify(key, error))?;
                urls.push(presigned.uri().to_owned());
            }
            Ok((upload_id, UploadTarget::Presigned(urls)))
        })
    }

    fn put_part<'a>(
        &'a self,
        key: &'a str,
        _upload_id: &'a str,
        _part_number: u32,
        _body: bytes::Bytes,
    ) -> StoreFuture<'a, String> {
        Box::pin(async move { Err(unavailable(format!("{key}: S3 takes the parts at their presigned URLs"))) })
    }

    fn complete_upload<'a>(&'a self, key: &'a str, upload_id: &'a str, etags: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let object_key = self.object_key(key)?;
            let mut parts = Vec::with_capacity(etags.len());
            for (index, etag) in etags.iter().enumerate() {
                let part_number = i32::try_from(index + 1).map_err(unavailable)?;
                // S3 answers ETags quoted; the API takes them with or without.
                let etag = if etag.starts_with('"') { etag.clone() } else { format!("\"{etag}\"") };
                parts.push(CompletedPart::builder().part_number(part_number).e_tag(etag).build());
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&object_key)
                .upload_id(upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|error| match error.as_service_error().and_then(|service| service.code()) {
                    // The parts sent differ from the ETags given: the caller's to fix.
                    Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") => {
                        StoreError::Conflict { key: format!("a part of {key}") }
                    }
                    _ => classify(key, error),
                })?;
            Ok(())
        })
    }

    fn read_stream<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<ObjectStream>> {
        Box::pin(async move {
            let object_key = self.object_key(key)?;
            let output = match self.client.get_object().bucket(&self.bucket).key(&object_key).send().await {
                Ok(output) => output,
                Err(aws_sdk_s3::error::SdkError::ServiceError(service)) if service.err().is_no_such_key() => {
                    return Ok(None);
                }
                Err(error) => return Err(classify(key, error)),
            };
            let len = output
                .content_length()
                .and_then(|len| u64::try_from(len).ok())
                .ok_or_else(|| unavailable(format!("{key}: S3 answered no Content-Length")))?;
            let key = key.to_owned();
            let body = futures::stream::unfold(Some(output.body), move |body| {
                let key = key.clone();
                async move {
                    let mut body = body?;
                    match body.next().await {
                        Some(Ok(bytes)) => Some((Ok(bytes), Some(body))),
                        Some(Err(error)) => Some((Err(unavailable(format!("reading {key}: {error}"))), None)),
                        None => None,
                    }
                }
            })
            .boxed();
            Ok(Some(ObjectStream { len, body }))
        })
    }

    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let source = format!("{}/{}", self.bucket, self.object_key(from)?);
            self.client
                .copy_object()
                .bucket(&self.bucket)
                .key(self.object_key(to)?)
                .copy_source(source)
                .send()
                .await
                .map_err(|error| classify(to, error))?;
            Ok(())
        })
    }
}
