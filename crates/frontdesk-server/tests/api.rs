//! The server's one integration-test binary: the real router on 127.0.0.1 over real stores,
//! exercised over HTTP.

#[path = "api/app.rs"]
mod app;
#[path = "api/chat.rs"]
mod chat;
#[path = "api/ops.rs"]
mod ops;
#[path = "api/support.rs"]
mod support;
