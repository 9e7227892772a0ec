//! The integration tests: one binary, one module per capability, all on real parts.

/// The harness itself: a real Flink cluster runs the sample job submitted over REST.
mod flink_harness;
/// The store contract, on a directory and on the real S3 server, races included.
mod store_contract;
/// Headless Chromium loads the console served by the local binary and reads it.
mod browser_console;
/// The rescale engine: savepoint and in-place rescales, rollback, on real Flink and S3.
mod rescale_engine;
