//! The API Lambda: the same Router as the local binary, served by `lambda_http`.
//!
//! Configuration comes from the environment (`RESCALER_CONFIG_TOML` and the overrides of
//! `Config::apply_env`). Nothing runs in the background here: Lambda freezes between events;
//! the reconcile Lambda carries approved requests out.

use rescaler_backend::boot;
use rescaler_backend::config::Config;
use rescaler_backend::http::app;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    boot::init_tracing();
    let config = Config::from_env()?;
    let (state, _engine) = boot::build(config, "lambda-api".to_owned()).await?;
    lambda_http::run(app(state)).await
}
