//! The PostgreSQL broker: `NOTIFY` to publish, `LISTEN` to receive, on the store's database.
//!
//! Payloads stay small (a wake-up is an outbox id; the data is read from the database); a
//! signal over PostgreSQL's 8,000-byte payload limit is dropped. The channel is per schema
//! (`frontdesk_rt`, or `frontdesk_rt_<schema>` outside `public`), so deployments or tests sharing
//! a database in separate schemas do not hear each other.

use crate::broker::{Broker, BrokerError, Envelope, INBOX_CAPACITY, Signal};
use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::time::Duration;
use tokio::sync::mpsc;

/// PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

pub struct PgBroker {
    url: String,
    pool: PgPool,
    channel: String,
}

impl std::fmt::Debug for PgBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBroker").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl PgBroker {
    pub async fn connect(url: &str) -> Result<PgBroker, BrokerError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| BrokerError::Connect(e.to_string()))?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&pool)
            .await
            .map_err(|e| BrokerError::Connect(e.to_string()))?;
        Ok(PgBroker { url: url.to_owned(), pool, channel: channel_for(&schema) })
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// `frontdesk_rt` for `public`, else `frontdesk_rt_<schema>` (lower-case ASCII, at most 63 bytes).
fn channel_for(schema: &str) -> String {
    if schema == "public" {
        return "frontdesk_rt".to_owned();
    }
    let clean: String =
        schema.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let mut name = format!("frontdesk_rt_{clean}");
    name.truncate(63);
    name
}

#[async_trait]
impl Broker for PgBroker {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        let payload = String::from_utf8(envelope.to_json()).map_err(|e| BrokerError::Publish(e.to_string()))?;
        if payload.len() > MAX_PAYLOAD {
            tracing::debug!(bytes = payload.len(), "a realtime signal is too large for NOTIFY; dropped");
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(|e| BrokerError::Publish(e.to_string()))?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Envelope>, BrokerError> {
        let mut listener = PgListener::connect(&self.url).await.map_err(|e| BrokerError::Connect(e.to_string()))?;
        listener.listen(&self.channel).await.map_err(|e| BrokerError::Connect(e.to_string()))?;
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        tokio::spawn(async move {
            let wake = || Envelope { node: 0, signal: Signal::Wake { outbox_id: i64::MAX } };
            loop {
                // `try_recv` returns `None` when the connection dropped; the next call reconnects
                // and listens again. Whatever was notified meanwhile is lost, so read the outbox.
                let next = tokio::select! {
                    next = listener.try_recv() => next,
                    // The hub is gone: close the LISTEN connection.
                    () = tx.closed() => return,
                };
                match next {
                    Ok(Some(n)) => {
                        let Some(envelope) = Envelope::from_json(n.payload().as_bytes()) else { continue };
                        if tx.send(envelope).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("realtime: the LISTEN connection to PostgreSQL dropped; reconnecting");
                        if tx.send(wake()).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if tx.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %e, "realtime: LISTEN failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if tx.send(wake()).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_per_schema() {
        assert_eq!(channel_for("public"), "frontdesk_rt");
        assert_eq!(channel_for("t_ABC"), "frontdesk_rt_t_abc");
        assert!(channel_for(&"x".repeat(100)).len() <= 63);
    }
}
