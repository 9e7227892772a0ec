//! One page per route, one file per page.

pub mod artifacts;
pub mod audit;
pub mod clusters;
pub mod inbox;
pub mod job;
pub mod not_found;
pub mod request;
pub mod requests;
pub mod savepoints;
pub mod schedules;
pub mod sign_in;
