//! The cluster list answers what each cluster's schedule holds a request starting now for
//! (`ClusterSummary::hold`), computed by the server in the window's named time zone, which the
//! console shows without the tz database.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rescaler_backend::config::Config;
use rescaler_backend::http::app;
use rescaler_backend::reconcile::now_ms;
use rescaler_shared::api::ClusterSummary;
use rescaler_shared::schedule::{Zone, ZoneName};
use tower::ServiceExt;

const HOUR_MS: u64 = 3_600_000;

/// A configuration with cluster `berlin` open from `opens_ms` (Berlin time) for an hour, every
/// day, and cluster `always` without windows.
fn config(store: &std::path::Path, opens_ms: u64) -> anyhow::Result<Config> {
    let berlin = Zone::Named(ZoneName::try_from("Europe/Berlin".to_owned()).map_err(anyhow::Error::msg)?);
    let minute = berlin.local_ms(opens_ms).rem_euclid(86_400_000) / 60_000;
    let clock = |minute: i64| format!("{:02}:{:02}", minute / 60 % 24, minute % 60);
    let text = format!(
        "[store]\nkind = \"dir\"\npath = \"{}\"\n[auth]\nmode = \"tokens\"\n[[auth.users]]\nname = \"alice\"\ntoken = \"alice-token\"\nroles = {{ \"*\" = \"viewer\" }}\n\
         [[clusters]]\nid = \"berlin\"\nname = \"Berlin\"\nrest_url = \"http://127.0.0.1:9\"\n\
         [[clusters.windows]]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nstart = \"{}\"\nend = \"{}\"\ntime_zone = \"Europe/Berlin\"\n\
         [[clusters]]\nid = \"always\"\nname = \"Always\"\nrest_url = \"http://127.0.0.1:9\"\n",
        store.display(),
        clock(minute),
        clock(minute + 60),
    );
    Ok(Config::parse(&text)?)
}

#[tokio::test]
async fn the_cluster_list_answers_the_hold_in_the_window_zone() -> anyhow::Result<()> {
    let store = tempfile::tempdir()?;
    // Two hours from now, to the minute: the window is closed now, whatever the time of day.
    let opens_ms = (now_ms() + 2 * HOUR_MS) / 60_000 * 60_000;
    let (state, _engine) =
        rescaler_backend::boot::build(config(store.path(), opens_ms)?, "hold-test".to_owned()).await?;
    let request = Request::get("/api/v1/clusters").header("authorization", "Bearer alice-token").body(Body::empty())?;
    let response = app(state).oneshot(request).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let clusters: Vec<ClusterSummary> = serde_json::from_slice(&bytes)?;
    let berlin = clusters.iter().find(|cluster| cluster.id == "berlin").expect("the berlin cluster");
    let hold = berlin.hold.as_ref().expect("the window is closed: a hold");
    assert_eq!(hold.until_ms, Some(opens_ms));
    let said =
        Zone::Named(ZoneName::try_from("Europe/Berlin".to_owned()).map_err(anyhow::Error::msg)?).describe(opens_ms);
    assert!(said.contains("(Europe/Berlin, UTC+0"), "{said}");
    assert_eq!(hold.wait, format!("the next maintenance window opens at {said}"));
    assert!(hold.from_ms <= now_ms() && hold.from_ms + 60_000 > now_ms(), "answered for now: {hold:?}");
    assert_eq!(berlin.schedule.windows[0].time_zone.as_ref().map(ZoneName::name), Some("Europe/Berlin"));
    let always = clusters.iter().find(|cluster| cluster.id == "always").expect("the always cluster");
    assert_eq!(always.hold, None, "no windows: nothing holds a start");
    Ok(())
}
