//! The conversation state machine.
//!
//! `active` (AI or bot answering) → `escalated` (a human is needed or talking) → `resolved`
//! (an agent resolved it; the visitor writing again reopens it) → `closed` (read-only, terminal).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Active,
    Escalated,
    Resolved,
    Closed,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 4] = [Self::Active, Self::Escalated, Self::Resolved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What happens to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusEvent {
    /// The visitor wrote a message.
    VisitorMessage,
    /// An agent wrote a reply: a human has taken the conversation.
    AgentReply,
    /// A human is asked for (by the visitor, a keyword, the assistant's policy or an agent).
    Escalate,
    /// An agent marks it resolved.
    Resolve,
    /// An agent reopens a resolved conversation.
    Reopen,
    /// The visitor ends it, or a policy does.
    Close,
}

impl StatusEvent {
    pub const ALL: [StatusEvent; 6] =
        [Self::VisitorMessage, Self::AgentReply, Self::Escalate, Self::Resolve, Self::Reopen, Self::Close];
}

/// Why a transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the conversation is closed and read-only")]
    Closed,
    #[error("the conversation is already {0}")]
    AlreadyThere(&'static str),
    #[error("a {0} conversation cannot be reopened")]
    NotReopenable(&'static str),
}

use ConversationStatus::{Active, Closed, Escalated, Resolved};
use StatusEvent::{AgentReply, Close, Escalate, Reopen, Resolve, VisitorMessage};

/// The transition table: `(from, event) → to`. Anything missing is refused by [`next_status`].
pub const TRANSITIONS: &[(ConversationStatus, StatusEvent, ConversationStatus)] = &[
    (Active, VisitorMessage, Active),
    (Active, AgentReply, Escalated),
    (Active, Escalate, Escalated),
    (Active, Resolve, Resolved),
    (Active, Close, Closed),
    (Escalated, VisitorMessage, Escalated),
    (Escalated, AgentReply, Escalated),
    (Escalated, Resolve, Resolved),
    (Escalated, Close, Closed),
    // A resolved conversation was last handled by a person: writing again brings it back to them.
    (Resolved, VisitorMessage, Escalated),
    (Resolved, AgentReply, Escalated),
    (Resolved, Escalate, Escalated),
    (Resolved, Reopen, Escalated),
    (Resolved, Close, Closed),
];

pub fn next_status(from: ConversationStatus, event: StatusEvent) -> Result<ConversationStatus, TransitionError> {
    if let Some((_, _, to)) = TRANSITIONS.iter().find(|(f, e, _)| *f == from && *e == event) {
        return Ok(*to);
    }
    Err(match (from, event) {
        (Closed, _) => TransitionError::Closed,
        (_, Reopen) => TransitionError::NotReopenable(from.as_str()),
        _ => TransitionError::AlreadyThere(from.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, written out: every status × every event.
    #[test]
    fn every_status_and_event_has_the_documented_outcome() {
        use TransitionError as E;
        let expected: [(ConversationStatus, [Result<ConversationStatus, TransitionError>; 6]); 4] = [
            //            visitor msg     agent reply     escalate                      resolve                         reopen                          close
            (
                Active,
                [Ok(Active), Ok(Escalated), Ok(Escalated), Ok(Resolved), Err(E::NotReopenable("active")), Ok(Closed)],
            ),
            (
                Escalated,
                [
                    Ok(Escalated),
                    Ok(Escalated),
                    Err(E::AlreadyThere("escalated")),
                    Ok(Resolved),
                    Err(E::NotReopenable("escalated")),
                    Ok(Closed),
                ],
            ),
            (
                Resolved,
                [
                    Ok(Escalated),
                    Ok(Escalated),
                    Ok(Escalated),
                    Err(E::AlreadyThere("resolved")),
                    Ok(Escalated),
                    Ok(Closed),
                ],
            ),
            (Closed, [Err(E::Closed), Err(E::Closed), Err(E::Closed), Err(E::Closed), Err(E::Closed), Err(E::Closed)]),
        ];
        for (from, outcomes) in expected {
            for (event, outcome) in StatusEvent::ALL.into_iter().zip(outcomes) {
                assert_eq!(next_status(from, event), outcome, "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn statuses_parse_from_their_names() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConversationStatus::parse("open"), None);
    }
}
