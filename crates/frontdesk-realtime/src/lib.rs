//! Frontdesk's realtime layer: what turns stored changes into WebSocket frames on every node.
//!
//! - [`Hub`]: one per node. It follows the outbox (`Store::outbox_after`) after commit, turns
//!   each [`frontdesk_core::events::DomainEvent`] into protocol frames (serialized once, shared by
//!   every recipient), and puts them on bounded per-connection queues. A connection whose queue is
//!   full is kicked (close code 4008) and resumes; nothing grows without bound.
//! - [`Broker`]: the port between nodes. It carries small wake-ups ("the outbox moved") and the
//!   ephemeral signals that are never stored (typing, thinking, streamed deltas, read marks,
//!   presence). Adapters: in-process ([`MemoryBroker`]), PostgreSQL LISTEN/NOTIFY
//!   ([`pg::PgBroker`]) and NATS ([`nats::NatsBroker`]). A lost broker message costs latency,
//!   never data: every node also polls the outbox.
//! - [`frames`]: the wire protocol (version [`frames::PROTOCOL_VERSION`]), documented in
//!   `docs/protocol.md`.

pub mod broker;
pub mod frames;
pub mod hub;
pub mod nats;
pub mod pg;

pub use broker::{Broker, BrokerError, Envelope, MemoryBroker, Signal, connect_broker};
pub use frames::{EphemeralEvent, Party};
pub use hub::{Event, Hub, Outlet, Subscription};

use serde::Deserialize;

/// Tunables of the realtime layer (`[realtime]` in the settings file).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// The server pings every connection this often.
    pub heartbeat_secs: u64,
    /// A connection that sent nothing (not even a pong) for this long is closed (4010).
    pub idle_timeout_secs: u64,
    /// Largest client frame accepted; larger ones close the connection (1009).
    pub max_frame_bytes: usize,
    /// Frames waiting to be written to one connection; when full the connection is closed
    /// (4008, "slow consumer") and the client resumes.
    pub send_queue: usize,
    /// The same for agents' connections, which carry every conversation of their organizations
    /// (and a burst when a node catches up on the outbox).
    pub agent_send_queue: usize,
    /// Sustained client frames per second per connection (bursts of twice that are allowed);
    /// above it the connection is closed (4009).
    pub client_frames_per_second: u32,
    /// An agent resuming from an outbox offset more than this many events old gets `reset`.
    pub resume_window_events: i64,
    /// The outbox is read at least this often even without a wake-up (a missed broker message
    /// or another node's write costs at most this much latency).
    pub poll_interval_ms: u64,
    /// Clients clear a `thinking` indicator after this long without a reply.
    pub thinking_timeout_secs: u64,
    /// A write to a connection that takes longer than this closes it (4008).
    pub write_timeout_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        RealtimeConfig {
            heartbeat_secs: 25,
            idle_timeout_secs: 60,
            max_frame_bytes: 4096,
            send_queue: 256,
            agent_send_queue: 4096,
            client_frames_per_second: 10,
            resume_window_events: 10_000,
            poll_interval_ms: 250,
            thinking_timeout_secs: 30,
            write_timeout_secs: 10,
        }
    }
}

impl RealtimeConfig {
    /// Refuses settings that cannot work (zeros where a positive number is needed).
    pub fn validate(&self) -> Result<(), RealtimeError> {
        for (name, value) in [
            ("heartbeat_secs", self.heartbeat_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("max_frame_bytes", self.max_frame_bytes as u64),
            ("send_queue", self.send_queue as u64),
            ("agent_send_queue", self.agent_send_queue as u64),
            ("client_frames_per_second", u64::from(self.client_frames_per_second)),
            ("poll_interval_ms", self.poll_interval_ms),
            ("write_timeout_secs", self.write_timeout_secs),
        ] {
            if value == 0 {
                return Err(RealtimeError::Config(format!("realtime.{name} must be positive")));
            }
        }
        if self.resume_window_events < 0 {
            return Err(RealtimeError::Config("realtime.resume_window_events must not be negative".to_owned()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("invalid realtime configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Store(#[from] frontdesk_core::store::StoreError),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
}

/// WebSocket close codes the server uses (documented in `docs/protocol.md`).
pub mod close {
    /// The server is shutting down or restarting: reconnect (to any node) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame: the protocol is JSON text only.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A frame larger than `max_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The send queue overflowed or a write stalled: reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many client frames.
    pub const RATE_LIMITED: u16 = 4009;
    /// Nothing heard from the client (not even a pong) within the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4010;
    /// The credentials ended: the agent logged out or the login expired, or the widget's session
    /// token was revoked. Do not resume with them: log in again / start a new session.
    pub const SESSION_ENDED: u16 = 4001;
    /// The agent's organizations changed (a membership was removed or a role lost access):
    /// reconnect, and the new socket carries what the agent may see now.
    pub const ACCESS_CHANGED: u16 = 4003;
}
