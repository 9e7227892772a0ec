//! The rescale console's backend: configuration, the durable store, the Flink client, the
//! reconcile engine and the HTTP API. The binaries in `src/bin` are thin adapters.

pub mod auth;
pub mod boot;
pub mod cluster;
pub mod config;
pub mod downtime;
pub mod drift;
pub mod flink;
pub mod http;
pub mod kick;
pub mod notify;
pub mod recommendations;
pub mod reconcile;
pub mod requests;
pub mod records;
pub mod sampler;
pub mod savepoint_storage;
pub mod secrets;
pub mod store;
