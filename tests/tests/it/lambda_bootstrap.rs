//! The packaged Lambda `bootstrap`s (scripts/package-lambda.sh, cargo-lambda + zig) run as
//! Lambda runs them, against a local Runtime API, and answer real event payloads.

use std::time::{Duration, Instant};

use harness::lambda_runtime_api::RuntimeApi;
use harness::paths::{repo_root, scratch_dir};
use harness::process::ChildGuard;

fn start(binary: &str, api: &RuntimeApi, store: &std::path::Path) -> anyhow::Result<ChildGuard> {
    let config = format!(
        "[store]\nkind = \"dir\"\npath = \"{}\"\n\n[auth]\nmode = \"tokens\"\n[[auth.users]]\nname = \"alice\"\ntoken = \"alice-token\"\nroles = {{ \"*\" = \"requester\" }}\n",
        store.display()
    );
    let command = api.bootstrap(binary, "test", config)?;
    ChildGuard::spawn(binary, command, &store.join(format!("{binary}.log")))
}

#[tokio::test]
async fn packaged_bootstraps_answer_real_events_through_the_runtime_api() -> anyhow::Result<()> {
    let work = scratch_dir("lambda-bootstrap")?;
    let api = RuntimeApi::start().await?;
    let started = Instant::now();
    let _function = start("lambda-api", &api, &work)?;
    let fixtures = repo_root().join("tests/fixtures/apigw");
    let health = api.invoke(&std::fs::read(fixtures.join("healthz.json"))?, Duration::from_secs(20)).await?;
    let first_response = started.elapsed();
    let health = health.map_err(|e| anyhow::anyhow!("function error: {e}"))?;
    assert_eq!(health["statusCode"], 200, "{health}");
    println!("lambda-api: first response {} ms after process start", first_response.as_millis());
    for (fixture, status) in [("me-alice.json", 200), ("me-anonymous.json", 401), ("rescales-bad-json.json", 400)] {
        let answer = api.invoke(&std::fs::read(fixtures.join(fixture))?, Duration::from_secs(10)).await?;
        let answer = answer.map_err(|e| anyhow::anyhow!("{fixture}: function error: {e}"))?;
        assert_eq!(answer["statusCode"], status, "{fixture}: {answer}");
    }

    let api = RuntimeApi::start().await?;
    let _reconciler = start("lambda-reconcile", &api, &work)?;
    let schedule = br#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-24T08:40:00Z","region":"eu-west-1","resources":["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/rescaler"],"detail":{}}"#;
    let answer =
        api.invoke(schedule, Duration::from_secs(20)).await?.map_err(|e| anyhow::anyhow!("reconcile error: {e}"))?;
    assert_eq!(answer["passes"], 1, "no active operation: one pass, then done: {answer}");
    Ok(())
}
