//! Jars upload in parts straight to the store (presigned S3 URLs on LocalStack, the backend's
//! signed part URLs on the embedded store), are checked from the stored object (size, sha256,
//! zip), and are streamed from the store to a real Flink when a job is deployed from them.

use std::path::Path;
use std::time::Duration;

use harness::Browser;
use harness::api::Api;
use harness::backend::LocalBackend;
use harness::browser::{PAGE_TIMEOUT, element, texts_until};
use harness::config::TestConfig;
use harness::rig::{self, Rig};
use harness::{FlinkOptions, Scheduler};
use rescaler_backend::config::StoreConfig;
use rescaler_backend::store::S3StoreConfig;
use rescaler_shared::api::{Artifact, UploadPlan};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A zip-looking body of `len` bytes (the store checks the zip magic, not the archive).
fn fake_jar(len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    bytes
}

/// Begins an upload as `token`, PUTs each part to its URL (relative ones to `base`), answers
/// the plan and the ETags in part order.
async fn send_parts(base: &str, token: &str, name: &str, jar: &[u8]) -> anyhow::Result<(UploadPlan, Vec<String>)> {
    let path = harness::paths::scratch_dir("upload")?.join(name);
    std::fs::write(&path, jar)?;
    send_file_parts(base, token, name, &path).await
}

/// [`send_parts`] from a file, one part in memory at a time.
async fn send_file_parts(
    base: &str,
    token: &str,
    name: &str,
    path: &Path,
) -> anyhow::Result<(UploadPlan, Vec<String>)> {
    use std::io::{Read, Seek, SeekFrom};
    let len = usize::try_from(std::fs::metadata(path)?.len())?;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/api/v1/artifacts/uploads"))
        .bearer_auth(token)
        .json(&json!({ "file_name": name, "size_bytes": len }))
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "begin: {} {}", response.status(), response.text().await?);
    let plan: UploadPlan = response.json().await?;
    let part_size = usize::try_from(plan.part_size_bytes)?;
    anyhow::ensure!(plan.part_urls.len() == len.div_ceil(part_size), "{} part URLs", plan.part_urls.len());
    let mut etags = Vec::new();
    let mut file = std::fs::File::open(path)?;
    for (index, url) in plan.part_urls.iter().enumerate() {
        let url = if url.starts_with('/') { format!("{base}{url}") } else { url.clone() };
        let mut part = vec![0_u8; part_size.min(len - index * part_size)];
        file.seek(SeekFrom::Start((index * part_size) as u64))?;
        file.read_exact(&mut part)?;
        let response = http.put(&url).body(part).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "part {}: {} {}",
            index + 1,
            response.status(),
            response.text().await?
        );
        let etag = response.headers().get("etag").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
        anyhow::ensure!(!etag.is_empty(), "part {} answered no ETag", index + 1);
        etags.push(etag);
    }
    Ok((plan, etags))
}

async fn complete(base: &str, token: &str, upload_id: &str, etags: &[String]) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/artifacts/uploads/{upload_id}/complete"))
        .bearer_auth(token)
        .json(&json!({ "etags": etags }))
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jar_uploads_in_parts_through_signed_urls_to_the_embedded_store() -> anyhow::Result<()> {
    harness::init_tracing();
    let backend = LocalBackend::start_with_dir_store(Vec::new()).await?;
    let base = backend.url();
    let jar = fake_jar(40 * 1024 * 1024 + 12_345);
    let (plan, etags) = send_parts(&base, "alice-token", "job-1.0.jar", &jar).await?;
    assert_eq!(plan.part_urls.len(), 3);

    // The parts' ETags are checked: a wrong one is refused and nothing is registered.
    let mut wrong = etags.clone();
    wrong[1] = "0".repeat(64);
    let (status, body) = complete(&base, "alice-token", &plan.upload_id, &wrong).await?;
    assert_eq!(status, 422, "{body}");
    // Only the uploader completes it.
    let (status, body) = complete(&base, "bob-token", &plan.upload_id, &etags).await?;
    assert_eq!(status, 403, "{body}");

    let (status, body) = complete(&base, "alice-token", &plan.upload_id, &etags).await?;
    assert_eq!(status, 201, "{body}");
    let artifact: Artifact = serde_json::from_value(body)?;
    assert_eq!(artifact.sha256, hex::encode(Sha256::digest(&jar)));
    assert_eq!((artifact.size_bytes, artifact.file_name.as_str()), (jar.len() as u64, "job-1.0.jar"));
    // Completing again answers the same artifact.
    let (status, again) = complete(&base, "alice-token", &plan.upload_id, &etags).await?;
    assert_eq!((status, again["sha256"].as_str()), (201, Some(artifact.sha256.as_str())));
    let (_, listed) = Api::new(base.clone()).get("/artifacts", "victor").await?;
    assert!(listed.to_string().contains(&artifact.sha256), "{listed}");
    let stored = backend.state.records.artifact_stream(&artifact.sha256).await?.expect("the jar is stored");
    assert_eq!(stored.len, jar.len() as u64);

    // Bad input: a viewer, a file that is not a jar, a size out of range, a forged part URL.
    let http = reqwest::Client::new();
    let begin = |token: &'static str, body: Value| {
        http.post(format!("{base}/api/v1/artifacts/uploads")).bearer_auth(token).json(&body).send()
    };
    assert_eq!(begin("victor-token", json!({"file_name": "a.jar", "size_bytes": 10})).await?.status(), 403);
    assert_eq!(begin("alice-token", json!({"file_name": "a.zip", "size_bytes": 10})).await?.status(), 422);
    assert_eq!(begin("alice-token", json!({"file_name": "a.jar", "size_bytes": 0})).await?.status(), 422);
    assert_eq!(begin("alice-token", json!({"file_name": "a.jar"})).await?.status(), 400);
    let (plan, _) = send_parts(&base, "alice-token", "small.jar", &fake_jar(1000)).await?;
    let forged = format!("{base}{}", plan.part_urls[0].replace("signature=", "signature=0"));
    let response = http.put(&forged).body(fake_jar(1000)).send().await?;
    assert_eq!(response.status(), 403);
    let envelope: Value = response.json().await?;
    assert_eq!(envelope["error"]["code"], "forbidden");
    // A part of the wrong size, and a body that is not a jar.
    let response = http.put(format!("{base}{}", plan.part_urls[0])).body(vec![0_u8; 10]).send().await?;
    assert_eq!(response.status(), 422);
    let (plan, etags) = send_parts(&base, "alice-token", "text.jar", b"not a zip at all").await?;
    let (status, body) = complete(&base, "alice-token", &plan.upload_id, &etags).await?;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("not a jar"), "{body}");
    // Nothing of a refused upload stays in the store.
    let staging = format!("uploads/{}/jar", plan.upload_id);
    assert!(backend.state.records.store().get(&staging).await?.is_none(), "{staging} kept");
    Ok(())
}

/// The sample job's jar padded with `padding` bytes of incompressible resource, stored (not
/// deflated), so the jar is that much larger and still runs.
fn padded_sample_jar(sample: &Path, out: &Path, padding: usize) -> anyhow::Result<()> {
    let script = "import sys, zipfile, os, shutil\n\
                  src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])\n\
                  shutil.copyfile(src, dst)\n\
                  with zipfile.ZipFile(dst, 'a', compression=zipfile.ZIP_STORED) as jar:\n\
                  \x20   with jar.open('padding/random.bin', 'w', force_zip64=True) as entry:\n\
                  \x20       left = size\n\
                  \x20       while left > 0:\n\
                  \x20           chunk = os.urandom(min(left, 1 << 20)); entry.write(chunk); left -= len(chunk)\n";
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(sample)
        .arg(out)
        .arg(padding.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "padding the jar failed");
    Ok(())
}

/// Peak resident memory of this process so far (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:").map(|rest| rest.trim().trim_end_matches(" kB").trim().to_owned())
            })
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// Lets the console's origin `PUT` parts into the rig's bucket and read their ETags, as the
/// template's CORS rule does for the records bucket.
async fn allow_console_uploads(rig: &Rig, console_origin: &str) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let rule = CorsRule::builder()
        .allowed_origins(console_origin)
        .allowed_methods("PUT")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3600)
        .build()?;
    rig.s3
        .client()
        .put_bucket_cors()
        .bucket(&rig.bucket)
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
        .send()
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_160_mb_jar_goes_from_the_console_by_presigned_urls_to_localstack_then_streams_to_flink() -> anyhow::Result<()>
{
    harness::init_tracing();
    let _console = harness::browser::CONSOLE_TEST.lock().await;
    let rig = Rig::start(FlinkOptions::default().with_scheduler(Scheduler::Default)).await?;
    let port = harness::ports::free_port()?;
    let console_origin = format!("http://127.0.0.1:{port}");
    let mut config = TestConfig::new()
        .with_console()?
        .with_cluster(rig::cluster_config(&rig.flink))
        .with_listen(format!("127.0.0.1:{port}"))
        .build();
    // The records are in the rig's bucket: the page's connect-src names its server.
    config.store = StoreConfig::S3(S3StoreConfig {
        bucket: rig.bucket.clone(),
        endpoint: Some(rig.s3.endpoint().to_owned()),
        region: Some(harness::s3::REGION.to_owned()),
        ..S3StoreConfig::default()
    });
    allow_console_uploads(&rig, &console_origin).await?;
    let backend = LocalBackend::start(config, rig.records.store().clone(), true).await?;
    let base = backend.url();
    let work = harness::paths::scratch_dir("large-jar")?;
    let jar_path = work.join("keyed-counter-fat.jar");
    padded_sample_jar(&rig.flink.sample_job_jar()?, &jar_path, 160 * 1024 * 1024)?;
    let size = std::fs::metadata(&jar_path)?.len();
    assert!(size >= 150 * 1024 * 1024, "{size} bytes");
    let sha256 = {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&jar_path)?, &mut hasher)?;
        hex::encode(hasher.finalize())
    };
    let before = peak_rss_mib();

    // alice uploads it in the console: the parts go from Chromium to LocalStack directly.
    let browser = Browser::start().await?;
    let client = &browser.client;
    client.goto(&base).await?;
    element(client, "#token-input").await?.send_keys("alice-token").await?;
    element(client, "#sign-in-button").await?.click().await?;
    texts_until(client, "#signed-in-user", PAGE_TIMEOUT, |names| names == ["alice"]).await?;
    client.goto(&format!("{base}/artifacts")).await?;
    element(client, "#jar-file").await?.send_keys(&jar_path.display().to_string()).await?;
    element(client, "#upload-button").await?.click().await?;
    let uploaded = texts_until(client, "#uploaded-sha256", Duration::from_secs(240), |shas| !shas[0].is_empty()).await;
    if uploaded.is_err() {
        browser.screenshot("jar-upload-failed").await?;
    }
    assert_eq!(uploaded?, [sha256.clone()], "the console's artifact is the file's");
    browser.screenshot("jar-upload-done").await?;
    element(client, &format!("#artifacts-table tr[data-artifact-sha256='{sha256}']")).await?;
    let suffix = format!("artifacts/{sha256}/jar");
    let mut pages = rig.s3.client().list_objects_v2().bucket(&rig.bucket).into_paginator().send();
    let mut stored = None;
    while let Some(page) = pages.next().await {
        let page = page?;
        stored =
            stored.or_else(|| page.contents().iter().find(|o| o.key().is_some_and(|k| k.ends_with(&suffix))).cloned());
    }
    assert_eq!(stored.and_then(|object| object.size()), Some(i64::try_from(size)?), "the jar is in the bucket");
    browser.close().await?;

    // An admin deploys a job from it: the backend streams the jar from S3 to Flink.
    let api = Api::new(base.clone());
    let deploy =
        json!({ "artifact_sha256": sha256, "parallelism": 1, "entry_class": harness::sample_job::ENTRY_CLASS });
    let (status, deployed) = api.post(&format!("/clusters/{}/deployments", rig::CLUSTER_ID), "admin", deploy).await?;
    assert_eq!(status, 201, "{deployed}");
    let job_id = deployed["job_id"].as_str().unwrap_or_default().to_owned();
    rig.wait_for_checkpoint(&job_id).await?;
    let jars = rig.client.list_jars().await?;
    assert!(jars.iter().any(|jar| jar.name == format!("rescaler-{sha256}.jar")), "{jars:?}");

    // A savepoint rescale resubmits it at parallelism 2.
    let request = json!({ "cluster_id": rig::CLUSTER_ID, "job_id": job_id, "target": {"kind": "uniform", "parallelism": 2},
                          "strategy": "savepoint", "reason": "the fat jar at 2" });
    let (status, created) = api.post("/rescales", "alice", request).await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let (status, approved) = api.post(&format!("/rescales/{id}/approve"), "bob", json!({})).await?;
    assert_eq!(status, 200, "{approved}");
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let done = loop {
        let (_, operation) = api.get(&format!("/rescales/{id}"), "alice").await?;
        let phase = operation["phase"]["phase"].as_str().unwrap_or_default().to_owned();
        if phase == "completed" {
            break operation;
        }
        anyhow::ensure!(!matches!(phase.as_str(), "failed" | "rolled_back"), "the rescale ended {phase}: {operation}");
        anyhow::ensure!(std::time::Instant::now() < deadline, "not completed in time: {operation}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let new_job = done["new_job_id"].as_str().unwrap_or_default().to_owned();
    let job = rig.job(&new_job).await?;
    assert!(job.vertices.iter().all(|vertex| vertex.parallelism == 2), "{job:?}");
    let after = peak_rss_mib();
    // The backend runs in this process (tests beside it add to the figure): a jar held whole
    // by the completion, the deploy or the resubmission would add its 160 MiB.
    println!(
        "peak RSS of the test process: {before} MiB before the upload, {after} MiB after the upload, the deploy and the rescale ({size} byte jar)"
    );
    assert!(after < before + 100, "the jar was held in memory: peak RSS {before} → {after} MiB");
    Ok(())
}
