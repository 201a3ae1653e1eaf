//! The `Broker` port: how nodes tell each other that something happened.
//!
//! A broker carries no data that matters for correctness: stored changes are read from the
//! outbox by every node (a `Wake` only makes that happen sooner), and ephemeral signals are
//! best effort by definition. So every adapter may drop messages under pressure or during an
//! outage; when it knows it did (a reconnect, a lagging reader) it reports a `Wake` so the node
//! reads the outbox at once.

use async_trait::async_trait;
use frontdesk_core::{ConversationId, OrgId, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

use crate::frames::EphemeralEvent;

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Signal {
    /// The outbox has events up to `outbox_id`: read it.
    Wake { outbox_id: i64 },
    /// A typing/thinking/delta/read signal for a conversation's subscribers.
    Ephemeral { org_id: OrgId, conversation_id: ConversationId, event: EphemeralEvent },
    /// The agents connected to the sending node in this organization (replaces its last report).
    Presence { org_id: OrgId, users: Vec<UserId> },
}

/// A signal and the node that sent it (nodes ignore their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub node: u64,
    #[serde(flatten)]
    pub signal: Signal,
}

impl Envelope {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Option<Envelope> {
        serde_json::from_slice(bytes).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("cannot publish: {0}")]
    Publish(String),
    #[error("invalid broker setting: {0}")]
    Setting(String),
}

/// How many signals may wait between a broker adapter and the hub.
pub const INBOX_CAPACITY: usize = 4096;

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// `memory`, `postgres` or `nats`, for logs.
    fn name(&self) -> &'static str;

    /// Sends to every node (this one included; the hub skips its own). Best effort.
    async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError>;

    /// Starts receiving what every node publishes. Called once per hub.
    async fn subscribe(&self) -> Result<mpsc::Receiver<Envelope>, BrokerError>;

    /// Whether another node may hear what this one publishes. Only the in-process broker can
    /// know that nobody does (one hub in the process); the hub then publishes nothing, which
    /// spares a hand-off to its publishing task for every typing signal.
    fn reaches_others(&self) -> bool {
        true
    }
}

/// The in-process broker: the default for one node. One instance shared by several hubs in a
/// process (tests) connects them.
#[derive(Debug, Clone)]
pub struct MemoryBroker {
    tx: broadcast::Sender<Arc<Envelope>>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker { tx: broadcast::channel(1024).0 }
    }
}

impl MemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        if self.reaches_others() {
            let _ = self.tx.send(Arc::new(envelope.clone()));
        }
        Ok(())
    }

    fn reaches_others(&self) -> bool {
        self.tx.receiver_count() > 1
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Envelope>, BrokerError> {
        let mut rx = self.tx.subscribe();
        let (out, inbox) = mpsc::channel(INBOX_CAPACITY);
        tokio::spawn(async move {
            loop {
                let envelope = match rx.recv().await {
                    Ok(e) => (*e).clone(),
                    // Missed some: read the outbox to make up for it.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        Envelope { node: 0, signal: Signal::Wake { outbox_id: i64::MAX } }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if out.send(envelope).await.is_err() {
                    return;
                }
            }
        });
        Ok(inbox)
    }
}

/// Which broker a `broker` setting names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSetting {
    Memory,
    Postgres,
    /// `nats://host:port`, with an optional `?subject=` (default `frontdesk.realtime`).
    Nats {
        url: String,
        subject: String,
    },
}

pub const DEFAULT_NATS_SUBJECT: &str = "frontdesk.realtime";

impl BrokerSetting {
    pub fn parse(text: &str) -> Result<BrokerSetting, BrokerError> {
        let text = text.trim();
        match text {
            "" | "memory" => Ok(BrokerSetting::Memory),
            "postgres" | "postgresql" => Ok(BrokerSetting::Postgres),
            _ if text.starts_with("nats://") || text.starts_with("tls://") => {
                let (url, subject) = match text.split_once("?subject=") {
                    Some((url, subject)) if !subject.is_empty() => (url, subject),
                    Some(_) => return Err(BrokerError::Setting("an empty NATS subject".to_owned())),
                    None => (text, DEFAULT_NATS_SUBJECT),
                };
                if !subject.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
                    return Err(BrokerError::Setting(format!("`{subject}` is not a plain NATS subject")));
                }
                Ok(BrokerSetting::Nats { url: url.to_owned(), subject: subject.to_owned() })
            }
            other => Err(BrokerError::Setting(format!("`{other}`: expected memory, postgres, or nats://host:port"))),
        }
    }
}

/// Connects the broker a setting names. `postgres` needs the PostgreSQL database URL (the
/// store's): LISTEN/NOTIFY runs on the same database.
pub async fn connect_broker(setting: &str, database_url: Option<&str>) -> Result<Arc<dyn Broker>, BrokerError> {
    match BrokerSetting::parse(setting)? {
        BrokerSetting::Memory => Ok(Arc::new(MemoryBroker::new())),
        BrokerSetting::Postgres => {
            let url =
                database_url.filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://")).ok_or_else(
                    || BrokerError::Setting("broker = \"postgres\" needs a PostgreSQL database_url".to_owned()),
                )?;
            Ok(Arc::new(crate::pg::PgBroker::connect(url).await?))
        }
        BrokerSetting::Nats { url, subject } => Ok(Arc::new(crate::nats::NatsBroker::connect(&url, &subject).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert_eq!(BrokerSetting::parse("memory").ok(), Some(BrokerSetting::Memory));
        assert_eq!(BrokerSetting::parse("postgres").ok(), Some(BrokerSetting::Postgres));
        assert_eq!(
            BrokerSetting::parse("nats://127.0.0.1:4222").ok(),
            Some(BrokerSetting::Nats {
                url: "nats://127.0.0.1:4222".to_owned(),
                subject: DEFAULT_NATS_SUBJECT.to_owned()
            })
        );
        assert_eq!(
            BrokerSetting::parse("nats://h:1?subject=fd.test-1").ok(),
            Some(BrokerSetting::Nats { url: "nats://h:1".to_owned(), subject: "fd.test-1".to_owned() })
        );
        assert!(BrokerSetting::parse("redis://x").is_err());
        assert!(BrokerSetting::parse("nats://h:1?subject=a b").is_err());
    }

    #[test]
    fn envelopes_round_trip() {
        let e = Envelope { node: 7, signal: Signal::Wake { outbox_id: 42 } };
        assert_eq!(Envelope::from_json(&e.to_json()), Some(e));
        assert_eq!(Envelope::from_json(b"{}"), None);
    }

    #[tokio::test]
    async fn the_memory_broker_connects_hubs_of_one_process() {
        let broker = MemoryBroker::new();
        let mut a = broker.subscribe().await.expect("subscribe");
        assert!(!broker.reaches_others(), "one hub alone has nobody to tell");
        let _b = broker.subscribe().await.expect("subscribe");
        assert!(broker.reaches_others());
        let e = Envelope { node: 1, signal: Signal::Wake { outbox_id: 3 } };
        broker.publish(&e).await.expect("publish");
        assert_eq!(a.recv().await, Some(e));
    }
}
