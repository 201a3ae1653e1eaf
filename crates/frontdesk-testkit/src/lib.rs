//! Helpers for the workspace's integration tests. Never a dependency of production code.

pub mod chat_api;
pub mod nats;
pub mod pg;
pub mod proxy;
pub mod smtp;
