//! Types and pure logic used by both the backend and the console.
//!
//! Nothing here does I/O: no tokio, reqwest or AWS. The crate builds for wasm32 and native.

pub mod access;
pub mod api;
pub mod api_page;
pub mod console_path;
pub mod deployment;
pub mod downtime;
pub mod drift;
pub mod flink;
pub mod flink_rescales;
pub mod history;
pub mod notify;
pub mod operation;
pub mod phase;
pub mod preflight;
pub mod recommend;
pub mod recurring;
pub mod schedule;
pub mod user_action;
