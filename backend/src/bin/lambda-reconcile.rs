//! The reconcile Lambda: run by a schedule (every minute, `infra/template.yaml`) and invoked
//! asynchronously on approval; passes over the active operations while one of them is due again
//! soon (a phase that moves fast: stopping, restarting, verifying), and ends the invocation when
//! none is: requests that wait for approval, for their not-before or for a maintenance window
//! are looked at again by the next scheduled run, not by a Lambda kept running for them. So a
//! waiting request starts within one schedule period of its time, or at once when that time
//! falls within [`IDLE_AFTER`] of a pass.

use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, service_fn};
use rescaler_backend::boot;
use rescaler_backend::config::Config;
use rescaler_backend::reconcile::PassReport;
use serde_json::{Value, json};

/// Stop starting passes when less than this is left of the invocation.
const SAFETY_MARGIN: Duration = Duration::from_secs(15);
/// End the invocation when no operation is due again within this: the waits of approval (10 s
/// polls), of a not-before or a window (30 s polls) are left to the next scheduled run.
const IDLE_AFTER: Duration = Duration::from_secs(5);
/// Longest sleep between passes while one is due soon.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// How long to sleep before the next pass of this invocation, or `None` to end it.
fn next_sleep(report: &PassReport, now: Instant, deadline: Instant) -> Option<Duration> {
    let next = report.next_in.filter(|next| *next <= IDLE_AFTER)?.min(MAX_SLEEP);
    (now + next + SAFETY_MARGIN <= deadline).then_some(next)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    boot::init_tracing();
    let config = Config::from_env()?;
    let (_state, engine) = boot::build(config, format!("lambda-reconcile-{}", std::process::id())).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let engine = engine.clone();
        async move {
            let deadline = Instant::now()
                + event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
            let mut passes = 0u32;
            let last = loop {
                let report = engine.pass().await?;
                passes += 1;
                match next_sleep(&report, Instant::now(), deadline) {
                    Some(next) => tokio::time::sleep(next).await,
                    None => break report,
                }
            };
            // Awaited here, not left in the background: the invocation freezes once it answers.
            if let Some(notifier) = &engine.notifier {
                notifier.deliver_due(&engine.owner).await;
            }
            let next_in_ms = last.next_in.map(|next| next.as_millis() as u64);
            let answer = json!({
                "passes": passes,
                "next_in_ms": next_in_ms,
                "operations": last.operations,
                "quiet": last.quiet,
            });
            Ok::<Value, lambda_runtime::Error>(answer)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_passes_again_only_when_an_operation_is_due_soon() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let report =
            |next_in: Option<u64>| PassReport { operations: 1, quiet: 0, next_in: next_in.map(Duration::from_millis) };
        let cases = [
            (None, None, "nothing active"),
            (Some(100), Some(100), "a fast phase polls"),
            (Some(3_000), Some(250), "due soon: at most 250 ms asleep"),
            (Some(5_000), Some(250), "due within IDLE_AFTER"),
            (Some(10_000), None, "awaiting approval: left to the next run"),
            (Some(30_000), None, "awaiting a window: left to the next run"),
        ];
        for (next_in, sleep, name) in cases {
            assert_eq!(next_sleep(&report(next_in), now, deadline), sleep.map(Duration::from_millis), "{name}");
        }
        let late = now + SAFETY_MARGIN;
        assert_eq!(next_sleep(&report(Some(100)), now, late), None, "the invocation's time is nearly up");
    }
}
