//! Uploading a jar straight to the store: the API hands out one URL per part
//! (`POST /api/v1/artifacts/uploads`), the browser `PUT`s each slice of the file to its URL
//! (presigned S3, or the backend's own signed URLs on the embedded store) and keeps its `ETag`,
//! then the API completes the upload and answers the artifact. The file is never read whole:
//! each part is a slice of it that the browser streams.

use gloo_net::http::Method;
use gloo_net::http::RequestBuilder;
use rescaler_shared::api::{Artifact, BeginUpload, CompleteUpload};
use web_sys::File;

use crate::api::{ApiFailure, Client};

/// How far an upload got, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub sent_bytes: u64,
    pub total_bytes: u64,
}

/// Uploads `file` as `client`'s user; `progress` is told after every part.
pub async fn upload_jar(client: Client, file: File, progress: impl Fn(Progress)) -> Result<Artifact, ApiFailure> {
    let total_bytes = file.size() as u64;
    let plan = client.clone().begin_upload(&BeginUpload { file_name: file.name(), size_bytes: total_bytes }).await?;
    let mut etags = Vec::with_capacity(plan.part_urls.len());
    progress(Progress { sent_bytes: 0, total_bytes });
    for (index, url) in plan.part_urls.iter().enumerate() {
        let start = index as u64 * plan.part_size_bytes;
        let end = (start + plan.part_size_bytes).min(total_bytes);
        let slice = file
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| ApiFailure::Undecodable { detail: "the browser cannot slice the file".to_owned() })?;
        etags.push(put_part(url, slice, index + 1).await?);
        progress(Progress { sent_bytes: end, total_bytes });
    }
    client.complete_upload(&plan.upload_id, &CompleteUpload { etags }).await
}

/// `PUT`s one part; answers the `ETag` the store gave it.
async fn put_part(url: &str, part: web_sys::Blob, number: usize) -> Result<String, ApiFailure> {
    let network = |error: gloo_net::Error| ApiFailure::Network { detail: format!("part {number}: {error}") };
    let response =
        RequestBuilder::new(url).method(Method::PUT).body(part).map_err(network)?.send().await.map_err(network)?;
    if !response.ok() {
        let status = response.status();
        let detail = response.text().await.unwrap_or_default();
        return Err(ApiFailure::Api {
            status,
            code: "upload_part_refused".to_owned(),
            message: format!(
                "the store refused part {number} ({status}): {}",
                detail.chars().take(200).collect::<String>()
            ),
        });
    }
    response.headers().get("etag").filter(|etag| !etag.is_empty()).ok_or_else(|| ApiFailure::Undecodable {
        detail: format!("part {number} answered no ETag (the bucket's CORS must expose it)"),
    })
}
