//! The reconcile Lambda: run by a schedule and invoked asynchronously on approval; passes over
//! the active operations until none is left or the invocation's time is nearly up.

use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, service_fn};
use rescaler_backend::boot;
use rescaler_backend::config::Config;
use serde_json::{Value, json};

/// Stop starting passes when less than this is left of the invocation.
const SAFETY_MARGIN: Duration = Duration::from_secs(15);

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
            loop {
                let report = engine.pass().await?;
                passes += 1;
                let Some(next) = report.next_in else { break };
                let next = next.min(Duration::from_millis(250));
                if Instant::now() + next + SAFETY_MARGIN > deadline {
                    break;
                }
                tokio::time::sleep(next).await;
            }
            // Awaited here, not left in the background: the invocation freezes once it answers.
            if let Some(notifier) = &engine.notifier {
                notifier.deliver_due(&engine.owner).await;
            }
            Ok::<Value, lambda_runtime::Error>(json!({ "passes": passes }))
        }
    }))
    .await
}
