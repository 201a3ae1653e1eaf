//! The NATS broker (core NATS, no JetStream): one subject for every node.
//!
//! NATS delivers at most once; a node that was disconnected missed whatever was published
//! meanwhile, so on every (re)connection the adapter reports a `Wake` and the node reads the
//! outbox.

use crate::broker::{Broker, BrokerError, Envelope, INBOX_CAPACITY, Signal};
use async_trait::async_trait;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

type Waker = Arc<Mutex<Vec<mpsc::Sender<Envelope>>>>;

pub struct NatsBroker {
    client: async_nats::Client,
    subject: String,
    /// The hubs' inboxes, told to read the outbox when the connection comes back.
    on_reconnect: Waker,
}

impl std::fmt::Debug for NatsBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBroker").field("subject", &self.subject).finish_non_exhaustive()
    }
}

fn wake_all(targets: &Waker) {
    let targets = targets.lock().unwrap_or_else(|e| e.into_inner());
    for tx in targets.iter() {
        let _ = tx.try_send(Envelope { node: 0, signal: Signal::Wake { outbox_id: i64::MAX } });
    }
}

impl NatsBroker {
    /// Connects to `url` (`nats://host:port`). Fails when the server cannot be reached now;
    /// later outages are survived (the client reconnects by itself).
    pub async fn connect(url: &str, subject: &str) -> Result<NatsBroker, BrokerError> {
        let on_reconnect: Waker = Arc::default();
        let targets = on_reconnect.clone();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                let targets = targets.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => wake_all(&targets),
                        async_nats::Event::Disconnected => {
                            tracing::warn!("realtime: disconnected from NATS; reconnecting");
                        }
                        other => tracing::debug!(event = %other, "realtime: NATS event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| BrokerError::Connect(e.to_string()))?;
        Ok(NatsBroker { client, subject: subject.to_owned(), on_reconnect })
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }
}

#[async_trait]
impl Broker for NatsBroker {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        self.client
            .publish(self.subject.clone(), envelope.to_json().into())
            .await
            .map_err(|e| BrokerError::Publish(e.to_string()))
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Envelope>, BrokerError> {
        let mut subscriber =
            self.client.subscribe(self.subject.clone()).await.map_err(|e| BrokerError::Connect(e.to_string()))?;
        // Make sure the server has the subscription before anyone relies on it.
        self.client.flush().await.map_err(|e| BrokerError::Connect(e.to_string()))?;
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        self.on_reconnect.lock().unwrap_or_else(|e| e.into_inner()).push(tx.clone());
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    m = subscriber.next() => m,
                    () = tx.closed() => {
                        let _ = subscriber.unsubscribe().await;
                        return;
                    }
                };
                let Some(message) = message else { return };
                let Some(envelope) = Envelope::from_json(&message.payload) else { continue };
                if tx.send(envelope).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}
