//! The NATS server for multi-node tests: `FRONTDESK_TEST_NATS_URL`, or `nats://127.0.0.1:4222`.
//!
//! Like [`crate::pg`]: when no server answers, a test is skipped with a line on stderr, except in
//! CI (`CI=true`), where that is an error.

use std::time::Duration;

pub const NATS_URL_VAR: &str = "FRONTDESK_TEST_NATS_URL";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The NATS URL to use, once a TCP connection to it succeeded; `None` (after printing
/// `SKIPPED (not run): …`) when nothing answers outside CI. Panics in CI when nothing answers.
pub async fn nats_url(test_name: &str) -> Option<String> {
    let url = std::env::var(NATS_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NATS_URL.to_owned());
    let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp).trim_end_matches('/');
    let reachable = matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(host_port)).await,
        Ok(Ok(_))
    );
    if reachable {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test_name}: no NATS server at {url} but CI=true: NATS tests must run in CI");
    }
    eprintln!("SKIPPED (not run): {test_name} needs a NATS server at {url} ({NATS_URL_VAR})");
    None
}

/// A subject no other test uses, for brokers sharing one NATS server.
pub fn unique_subject() -> String {
    format!("frontdesk.test.{}", uuid::Uuid::now_v7().simple())
}
