//! Jars: upload, list, run (with the restore mode under the name this Flink version takes) and
//! delete.

use reqwest::Method;

use super::RestFlinkClient;
use super::http::{decode, millis, segment};
use crate::flink::error::flink_errors;
use crate::flink::{FlinkError, FlinkResult, JarInfo, RunJar, wire};

impl RestFlinkClient {
    pub(super) async fn upload(&self, file_name: &str, jar: crate::flink::JarBody) -> FlinkResult<String> {
        let what = format!("the upload of {file_name}");
        // Flink keeps only files whose name ends with `.jar`. Its `rest.server.max-content-length`
        // (100 MiB by default) must exceed the jar.
        let body = reqwest::Body::wrap_stream(jar.stream);
        let part = reqwest::multipart::Part::stream_with_length(body, jar.len).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("jarfile", part);
        let request = self.request(Method::POST, "/jars/upload").multipart(form).timeout(self.upload_timeout);
        let (status, body) = self.exchange(&what, request).await?;
        let uploaded: wire::JarUploadResponse = decode(&what, status, &body)?;
        if uploaded.status != "success" {
            return Err(FlinkError::undecodable(&what, format!("upload status {:?}", uploaded.status)));
        }
        uploaded
            .filename
            .rsplit('/')
            .next()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| FlinkError::undecodable(&what, format!("file name {:?}", uploaded.filename)))
    }

    pub(super) async fn jars(&self) -> FlinkResult<Vec<JarInfo>> {
        let list: wire::JarList = self.get("the jar list", "/jars").await?;
        Ok(list
            .files
            .into_iter()
            .map(|file| JarInfo {
                id: file.id,
                name: file.name,
                uploaded_ms: millis(file.uploaded),
                entry_classes: file.entry.into_iter().map(|entry| entry.name).collect(),
            })
            .collect())
    }

    pub(super) async fn run(&self, jar_id: &str, run: &RunJar) -> FlinkResult<String> {
        let what = format!("the run of jar {jar_id}");
        let restore_mode = if run.savepoint_path.is_some() { Some(run.restore_mode.wire_name()) } else { None };
        let claim_field = match restore_mode {
            Some(_) => self.flink_version().await?.uses_claim_mode(),
            None => false,
        };
        let body = wire::JarRunRequest {
            job_id: run.job_id.as_deref(),
            entry_class: run.entry_class.as_deref(),
            program_args: &run.program_args,
            parallelism: run.parallelism,
            savepoint_path: run.savepoint_path.as_deref(),
            allow_non_restored_state: run.allow_non_restored_state,
            claim_mode: restore_mode.filter(|_| claim_field),
            restore_mode: restore_mode.filter(|_| !claim_field),
            flink_configuration: run.effective_configuration(),
        };
        let path = format!("/jars/{}/run", segment(jar_id));
        let (status, text) = self.exchange(&what, self.request(Method::POST, &path).json(&body)).await?;
        if !status.is_success() {
            let errors = flink_errors(&text);
            let mentions = |needle: &str| errors.iter().any(|error| error.contains(needle));
            // 1.x: DuplicateJobSubmissionException; 2.x: DuplicateApplicationSubmissionException
            // (a jar run is an application whose id is the job id). Both for running and for
            // finished jobs.
            if mentions("DuplicateJobSubmissionException") || mentions("DuplicateApplicationSubmissionException") {
                return Err(FlinkError::DuplicateJob { job_id: run.job_id.clone().unwrap_or_default() });
            }
            if mentions("Jar file") && mentions("does not exist") {
                return Err(FlinkError::NotFound { what: format!("jar {jar_id}") });
            }
            return Err(FlinkError::from_status(&what, status, &text));
        }
        let started: wire::JarRunResponse = decode(&what, status, &text)?;
        Ok(started.jobid)
    }

    pub(super) async fn delete(&self, jar_id: &str) -> FlinkResult<()> {
        let what = format!("jar {jar_id}");
        let path = format!("/jars/{}", segment(jar_id));
        let (status, body) = self.exchange(&what, self.request(Method::DELETE, &path)).await?;
        if status.is_success() {
            return Ok(());
        }
        // Flink answers 400 "File ... does not exist" for an unknown jar.
        if flink_errors(&body).iter().any(|error| error.contains("does not exist")) {
            return Err(FlinkError::NotFound { what });
        }
        Err(FlinkError::from_status(&what, status, &body))
    }
}
