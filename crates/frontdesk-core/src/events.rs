//! Domain events. Each is written to the outbox in the same transaction as the change it
//! describes; realtime fan-out, webhooks and notifications read them from there.

use crate::ids::*;
use crate::model::{AuthorKind, Conversation, Message, Reaction};
use crate::status::ConversationStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    ConversationCreated {
        conversation_id: ConversationId,
        site_id: SiteId,
        visitor_id: VisitorId,
    },
    MessageCreated {
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: i64,
        author_kind: AuthorKind,
    },
    StatusChanged {
        conversation_id: ConversationId,
        from: ConversationStatus,
        to: ConversationStatus,
    },
    RatingCreated {
        conversation_id: ConversationId,
        stars: u8,
    },
    ReactionSet {
        conversation_id: ConversationId,
        message_id: MessageId,
        reaction: Option<Reaction>,
    },
    Assigned {
        conversation_id: ConversationId,
        assignee_id: Option<UserId>,
    },
    /// A private note: only agents hear of it; `mentions` are notified.
    NoteCreated {
        conversation_id: ConversationId,
        note_id: NoteId,
        author_id: UserId,
        mentions: Vec<UserId>,
    },
    /// The widget's `identify` told who the visitor is, in this conversation (session).
    VisitorIdentified {
        conversation_id: ConversationId,
        site_id: SiteId,
        visitor_id: VisitorId,
        verified: bool,
    },
}

impl DomainEvent {
    /// A stable name, stored beside the JSON for filtering (`message.created`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConversationCreated { .. } => "conversation.created",
            Self::MessageCreated { .. } => "message.created",
            Self::StatusChanged { .. } => "conversation.status_changed",
            Self::RatingCreated { .. } => "rating.created",
            Self::ReactionSet { .. } => "message.reaction_set",
            Self::Assigned { .. } => "conversation.assigned",
            Self::NoteCreated { .. } => "note.created",
            Self::VisitorIdentified { .. } => "visitor.identified",
        }
    }

    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Self::ConversationCreated { conversation_id, .. }
            | Self::MessageCreated { conversation_id, .. }
            | Self::StatusChanged { conversation_id, .. }
            | Self::RatingCreated { conversation_id, .. }
            | Self::ReactionSet { conversation_id, .. }
            | Self::Assigned { conversation_id, .. }
            | Self::NoteCreated { conversation_id, .. }
            | Self::VisitorIdentified { conversation_id, .. } => *conversation_id,
        }
    }

    /// The events an appended message produces; stores call this so every backend writes the same.
    pub fn for_message(
        message: &Message,
        status_change: Option<(ConversationStatus, ConversationStatus)>,
    ) -> Vec<Self> {
        let mut events = vec![Self::MessageCreated {
            conversation_id: message.conversation_id,
            message_id: message.id,
            seq: message.seq,
            author_kind: message.author_kind,
        }];
        if let Some((from, to)) = status_change.filter(|(f, t)| f != t) {
            events.push(Self::StatusChanged { conversation_id: message.conversation_id, from, to });
        }
        events
    }

    pub fn for_new_conversation(c: &Conversation) -> Self {
        Self::ConversationCreated { conversation_id: c.id, site_id: c.site_id, visitor_id: c.visitor_id }
    }
}

/// An event as read back from the outbox, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Increasing with commit order within one backend; the realtime layer's stream offset.
    pub id: i64,
    pub org_id: OrgId,
    pub event: DomainEvent,
    pub created_at: Timestamp,
}
