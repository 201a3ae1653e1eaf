//! The WebSocket protocol, version 1: JSON text frames, each with `"v": 1` and a `"type"`.
//! Every frame is described in `docs/protocol.md`; this module is the one place that writes
//! server frames and reads client frames.

use bytes::Bytes;
use frontdesk_core::events::DomainEvent;
use frontdesk_core::model::Message;
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::{ConversationId, NoteId, OrgId, SiteId, UserId, VisitorId};
use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;

/// Who did something in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Visitor,
    Agent,
}

/// Signals that are never stored: they travel through the broker only, and a client that was
/// away simply does not get them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EphemeralEvent {
    /// Someone started (`on: true`) or stopped typing.
    Typing { from: Party, user_id: Option<UserId>, on: bool },
    /// The assistant or a bot is working: `stage` such as "Searching the help center…";
    /// `None` clears the indicator (a new message clears it too).
    Thinking { stage: Option<String> },
    /// A piece of an answer being generated; `stream_id` groups the pieces of one answer. The
    /// stored message (`message.created`) replaces them.
    Delta { stream_id: String, text: String },
    /// Someone has seen the conversation up to `seq`.
    Read { by: Party, user_id: Option<UserId>, seq: i64 },
}

#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    v: u32,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: T,
}

/// Serializes one frame. Serialization of these plain structs cannot fail; if it ever did, the
/// frame would be an `error` frame rather than a panic.
pub fn frame<T: Serialize>(kind: &str, body: T) -> Bytes {
    match serde_json::to_vec(&Frame { v: PROTOCOL_VERSION, kind, body }) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::from_static(br#"{"v":1,"type":"error","code":"internal","message":"unserializable frame"}"#),
    }
}

/// Where an agent's copy of an outbox frame sits in the inbox stream.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StreamPos {
    pub org_id: OrgId,
    /// The outbox event id: the agent's resume offset.
    pub offset: i64,
}

#[derive(Serialize)]
struct MessageCreated<'a> {
    conversation_id: ConversationId,
    seq: i64,
    message: &'a Message,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pos: Option<StreamPos>,
}

pub fn message_created(message: &Message, pos: Option<StreamPos>) -> Bytes {
    frame(
        "message.created",
        MessageCreated { conversation_id: message.conversation_id, seq: message.seq, message, pos },
    )
}

#[derive(Serialize)]
struct StatusChanged {
    conversation_id: ConversationId,
    from: ConversationStatus,
    to: ConversationStatus,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pos: Option<StreamPos>,
}

pub fn status_changed(
    conversation_id: ConversationId,
    from: ConversationStatus,
    to: ConversationStatus,
    pos: Option<StreamPos>,
) -> Bytes {
    frame("conversation.status_changed", StatusChanged { conversation_id, from, to, pos })
}

#[derive(Serialize)]
struct Assigned {
    conversation_id: ConversationId,
    assignee_id: Option<UserId>,
    #[serde(flatten)]
    pos: StreamPos,
}

#[derive(Serialize)]
struct NoteCreated<'a> {
    conversation_id: ConversationId,
    note_id: NoteId,
    author_id: UserId,
    mentions: &'a [UserId],
    #[serde(flatten)]
    pos: StreamPos,
}

#[derive(Serialize)]
struct Notification {
    kind: &'static str,
    conversation_id: ConversationId,
    /// For a `mention`: the teammate it is for (every agent of the org gets the frame; the
    /// dashboard shows it to this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_id: Option<SiteId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor_id: Option<VisitorId>,
    #[serde(flatten)]
    pos: StreamPos,
}

/// The frames an outbox event becomes: `(for the conversation's widgets, for the org's agents)`.
/// An event can yield several agent frames (a status change to `escalated` is also a
/// notification); `message` must be the stored message of a `MessageCreated`.
pub fn outbox_frames(
    offset: i64,
    org_id: OrgId,
    event: &DomainEvent,
    message: Option<&Message>,
) -> (Option<Bytes>, Vec<Bytes>) {
    let pos = Some(StreamPos { org_id, offset });
    match event {
        DomainEvent::MessageCreated { .. } => match message {
            Some(m) => (Some(message_created(m, None)), vec![message_created(m, pos)]),
            None => (None, Vec::new()),
        },
        DomainEvent::StatusChanged { conversation_id, from, to } => {
            let mut agent = vec![status_changed(*conversation_id, *from, *to, pos)];
            if *to == ConversationStatus::Escalated {
                agent.push(frame(
                    "notification",
                    Notification {
                        kind: "escalation",
                        conversation_id: *conversation_id,
                        user_id: None,
                        site_id: None,
                        visitor_id: None,
                        pos: StreamPos { org_id, offset },
                    },
                ));
            }
            (Some(status_changed(*conversation_id, *from, *to, None)), agent)
        }
        DomainEvent::ConversationCreated { conversation_id, site_id, visitor_id } => (
            None,
            vec![frame(
                "notification",
                Notification {
                    kind: "new_conversation",
                    conversation_id: *conversation_id,
                    user_id: None,
                    site_id: Some(*site_id),
                    visitor_id: Some(*visitor_id),
                    pos: StreamPos { org_id, offset },
                },
            )],
        ),
        DomainEvent::Assigned { conversation_id, assignee_id } => (
            None,
            vec![frame(
                "conversation.assigned",
                Assigned {
                    conversation_id: *conversation_id,
                    assignee_id: *assignee_id,
                    pos: StreamPos { org_id, offset },
                },
            )],
        ),
        // Notes are private: agents only, never the widget.
        DomainEvent::NoteCreated { conversation_id, note_id, author_id, mentions } => {
            let pos = StreamPos { org_id, offset };
            let mut agent = vec![frame(
                "note.created",
                NoteCreated {
                    conversation_id: *conversation_id,
                    note_id: *note_id,
                    author_id: *author_id,
                    mentions,
                    pos,
                },
            )];
            agent.extend(mentions.iter().filter(|m| *m != author_id).map(|user| {
                frame(
                    "notification",
                    Notification {
                        kind: "mention",
                        conversation_id: *conversation_id,
                        user_id: Some(*user),
                        site_id: None,
                        visitor_id: None,
                        pos,
                    },
                )
            }));
            (None, agent)
        }
        // Ratings and reactions are shown when a conversation is opened; no live frame yet.
        DomainEvent::RatingCreated { .. } | DomainEvent::ReactionSet { .. } => (None, Vec::new()),
        // The visitor panel shows identities when opened; webhooks are what announce them.
        DomainEvent::VisitorIdentified { .. } => (None, Vec::new()),
    }
}

#[derive(Serialize)]
struct Ephemeral<'a> {
    conversation_id: ConversationId,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<OrgId>,
    #[serde(flatten)]
    body: EphemeralBody<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EphemeralBody<'a> {
    Typing {
        from: Party,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<UserId>,
        on: bool,
    },
    Thinking {
        stage: Option<&'a str>,
        timeout_ms: u64,
    },
    Delta {
        stream_id: &'a str,
        text: &'a str,
    },
    Read {
        by: Party,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<UserId>,
        seq: i64,
    },
}

/// An ephemeral signal as a frame; agents' copies also name the organization.
pub fn ephemeral(
    conversation_id: ConversationId,
    org_id: Option<OrgId>,
    event: &EphemeralEvent,
    thinking_timeout_ms: u64,
) -> Bytes {
    let (kind, body) = match event {
        EphemeralEvent::Typing { from, user_id, on } => {
            ("typing", EphemeralBody::Typing { from: *from, user_id: *user_id, on: *on })
        }
        EphemeralEvent::Thinking { stage } => {
            ("thinking", EphemeralBody::Thinking { stage: stage.as_deref(), timeout_ms: thinking_timeout_ms })
        }
        EphemeralEvent::Delta { stream_id, text } => ("message.delta", EphemeralBody::Delta { stream_id, text }),
        EphemeralEvent::Read { by, user_id, seq } => {
            ("read", EphemeralBody::Read { by: *by, user_id: *user_id, seq: *seq })
        }
    };
    frame(kind, Ephemeral { conversation_id, org_id, body })
}

#[derive(Serialize)]
struct WidgetPresence {
    online_agents: usize,
}

#[derive(Serialize)]
struct AgentPresence<'a> {
    org_id: OrgId,
    online_agents: usize,
    user_ids: &'a [UserId],
}

/// Presence for widgets: only how many agents are online.
pub fn presence_for_widget(online: usize) -> Bytes {
    frame("presence", WidgetPresence { online_agents: online })
}

/// Presence for agents: who is online in the organization.
pub fn presence_for_agent(org_id: OrgId, users: &[UserId]) -> Bytes {
    frame("presence", AgentPresence { org_id, online_agents: users.len(), user_ids: users })
}

#[derive(Serialize)]
pub struct Hello<'a> {
    pub protocol: u32,
    /// `visitor` or `agent`.
    pub role: &'a str,
    pub connection_id: u64,
    pub heartbeat_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_frame_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_ids: Option<&'a [OrgId]>,
}

#[derive(Serialize)]
struct ResumedWidget {
    conversation_id: ConversationId,
    last_seq: i64,
    status: ConversationStatus,
    /// How many missed messages were sent before this frame.
    replayed: usize,
}

pub fn resumed_widget(
    conversation_id: ConversationId,
    last_seq: i64,
    status: ConversationStatus,
    replayed: usize,
) -> Bytes {
    frame("resumed", ResumedWidget { conversation_id, last_seq, status, replayed })
}

#[derive(Serialize)]
struct ResumedAgent {
    offset: i64,
    replayed: usize,
}

pub fn resumed_agent(offset: i64, replayed: usize) -> Bytes {
    frame("resumed", ResumedAgent { offset, replayed })
}

#[derive(Serialize)]
struct Reset {
    offset: i64,
    reason: &'static str,
}

/// The offset is older than the resume window: refetch over REST; live frames follow from `offset`.
pub fn reset(offset: i64) -> Bytes {
    frame("reset", Reset { offset, reason: "offset_out_of_window" })
}

#[derive(Serialize)]
struct Pong<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a serde_json::Value>,
}

pub fn pong(nonce: Option<&serde_json::Value>) -> Bytes {
    frame("pong", Pong { nonce })
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    code: &'a str,
    message: &'a str,
}

/// A non-fatal error about one client frame.
pub fn error(code: &str, message: &str) -> Bytes {
    frame("error", ErrorFrame { code, message })
}

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Widget: `after_seq` (the last sequence number it has; 0 for all). Agent: `offset` (the
    /// last inbox offset it processed; absent for "live from now").
    Resume {
        #[serde(default)]
        after_seq: Option<i64>,
        #[serde(default)]
        offset: Option<i64>,
    },
    /// Typing on or off; agents name the conversation.
    Typing {
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        on: bool,
    },
    /// Seen up to `seq`; agents name the conversation.
    Read {
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        seq: i64,
    },
    /// Answered with `pong` echoing `nonce`.
    Ping {
        #[serde(default)]
        nonce: Option<serde_json::Value>,
    },
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    v: Option<u32>,
    #[serde(flatten)]
    frame: ClientFrame,
}

/// Reads a client frame; the error is a message for an `error` frame.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, String> {
    let incoming: Incoming = serde_json::from_str(text).map_err(|e| format!("not a valid frame: {e}"))?;
    match incoming.v {
        None | Some(PROTOCOL_VERSION) => Ok(incoming.frame),
        Some(other) => Err(format!("protocol version {other} is not supported (this server speaks 1)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(b: &Bytes) -> serde_json::Value {
        serde_json::from_slice(b).unwrap_or_default()
    }

    #[test]
    fn client_frames_parse_with_or_without_version() {
        assert_eq!(
            parse_client_frame(r#"{"v":1,"type":"resume","after_seq":3}"#),
            Ok(ClientFrame::Resume { after_seq: Some(3), offset: None })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"typing","on":true}"#),
            Ok(ClientFrame::Typing { conversation_id: None, on: true })
        );
        assert!(parse_client_frame(r#"{"v":2,"type":"ping"}"#).is_err());
        assert!(parse_client_frame(r#"{"type":"shout"}"#).is_err());
        assert!(parse_client_frame("not json").is_err());
    }

    #[test]
    fn frames_carry_version_and_type() {
        let f = json(&pong(Some(&serde_json::json!("n1"))));
        assert_eq!((f["v"].as_u64(), f["type"].as_str(), f["nonce"].as_str()), (Some(1), Some("pong"), Some("n1")));
        let conversation_id = ConversationId(uuid::Uuid::nil());
        let typing = EphemeralEvent::Typing { from: Party::Agent, user_id: None, on: true };
        let f = json(&ephemeral(conversation_id, None, &typing, 30_000));
        assert_eq!(
            (f["type"].as_str(), f["from"].as_str(), f["on"].as_bool()),
            (Some("typing"), Some("agent"), Some(true))
        );
        assert!(f.get("org_id").is_none(), "widgets' copies do not name the organization");
        let thinking = EphemeralEvent::Thinking { stage: None };
        let f = json(&ephemeral(conversation_id, None, &thinking, 30_000));
        assert!(f["stage"].is_null() && f["timeout_ms"] == 30_000);
    }
}
