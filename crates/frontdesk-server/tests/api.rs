//! The server's one integration-test binary: the real router on 127.0.0.1 over real stores,
//! exercised over HTTP.

#[path = "api/app.rs"]
mod app;
#[path = "api/assistant.rs"]
mod assistant;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/billing.rs"]
mod billing;
#[path = "api/chat.rs"]
mod chat;
#[path = "api/dashboard.rs"]
mod dashboard;
#[path = "api/flows.rs"]
mod flows;
#[path = "api/isolation.rs"]
mod isolation;
#[path = "api/knowledge.rs"]
mod knowledge;
#[path = "api/ops.rs"]
mod ops;
#[path = "api/privacy.rs"]
mod privacy;
#[path = "api/realtime.rs"]
mod realtime;
#[path = "api/support.rs"]
mod support;
#[path = "api/tls.rs"]
mod tls;
#[path = "api/webhooks.rs"]
mod webhooks;
