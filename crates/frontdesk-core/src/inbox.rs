//! What the agents' inbox reads: filters, list items, private notes and canned responses.

use crate::ids::*;
use crate::model::{AuthorKind, Conversation};
use crate::status::ConversationStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whose conversations to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssigneeFilter {
    #[default]
    Anyone,
    Unassigned,
    User(UserId),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboxFilter {
    pub status: Option<ConversationStatus>,
    pub site_id: Option<SiteId>,
    pub assignee: AssigneeFilter,
    /// Only rated conversations with at least / at most this many stars.
    pub rating_min: Option<u8>,
    pub rating_max: Option<u8>,
    /// Full-text search over message bodies (words, any order; SQLite FTS5, PostgreSQL tsvector).
    pub text: Option<String>,
    /// Oldest status change first (the escalation queue); otherwise most recently updated first.
    pub oldest_first: bool,
    /// At most this many (0 means 50; capped at 200).
    pub limit: u32,
    /// The next page: only conversations after this one in the list's order.
    pub after: Option<InboxCursor>,
}

/// Where a page of the inbox ends: the sort key and id of its last conversation (keyset paging,
/// so a page costs the same however deep it is). A conversation that changes while someone
/// pages moves to the top of the list, where the live list shows it, and is not repeated below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxCursor {
    /// `updated_at` for the newest-first order, `status_changed_at` for the oldest-first one.
    pub at: Timestamp,
    pub id: ConversationId,
}

impl InboxCursor {
    /// The cursor after `item` in the order `oldest_first` chooses.
    pub fn after(item: &InboxItem, oldest_first: bool) -> Self {
        let c = &item.conversation;
        InboxCursor { at: if oldest_first { c.status_changed_at } else { c.updated_at }, id: c.id }
    }

    /// The cursor as an API client carries it: `<milliseconds>.<conversation id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.0, self.id)
    }

    /// The inverse of [`InboxCursor::encode`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        Some(InboxCursor { at: Timestamp(at.parse().ok()?), id: id.parse().ok()? })
    }
}

/// The newest message, shortened for the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagePreview {
    pub author_kind: AuthorKind,
    /// The Markdown source, at most [`PREVIEW_CHARS`] characters.
    pub body: String,
    pub created_at: Timestamp,
}

/// How long a preview may be.
pub const PREVIEW_CHARS: usize = 140;

/// Shortens `body` to a preview on a character boundary.
pub fn preview(body: &str) -> String {
    match body.char_indices().nth(PREVIEW_CHARS) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}

/// One row of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InboxItem {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub last_message: Option<MessagePreview>,
    /// Messages after the viewing agent's read marker.
    pub unread: i64,
    pub rating: Option<u8>,
}

/// A private note on a conversation: agents see it, visitors never do. Notes have no place in
/// the message sequence, so the widget's resume never sees a gap or a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Note {
    pub id: NoteId,
    pub org_id: OrgId,
    pub conversation_id: ConversationId,
    pub author_id: UserId,
    pub body: String,
    pub html: String,
    /// Teammates mentioned with `@name` or `@email`: each gets a notification.
    pub mentions: Vec<UserId>,
    pub created_at: Timestamp,
}

/// A saved reply agents insert with `/shortcut`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub org_id: OrgId,
    /// Letters, digits, `-` and `_`; unique in the organization.
    pub shortcut: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A visitor question the assistant declined to answer: the knowledge base's gap report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnansweredQuestion {
    pub id: UnansweredId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub question: String,
    pub created_at: Timestamp,
}

/// The teammates a note mentions: `@` followed by a member's email, the part of it before the
/// `@`, or their name without spaces (all case-insensitive). Each member once, in member order.
pub fn mentions(text: &str, members: &[crate::team::Member]) -> Vec<UserId> {
    let handles: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '!' | '?' | ':'))
        .filter_map(|word| word.strip_prefix('@'))
        .map(|h| h.trim_end_matches('.').to_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    members
        .iter()
        .filter(|m| {
            let email = m.email.to_lowercase();
            let local = email.split('@').next().unwrap_or_default().to_owned();
            let name: String = m.name.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
            handles.iter().any(|h| *h == email || *h == local || (!name.is_empty() && *h == name))
        })
        .map(|m| m.user_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: &str, name: &str, n: u128) -> crate::team::Member {
        crate::team::Member {
            user_id: UserId(uuid::Uuid::from_u128(n)),
            email: email.to_owned(),
            name: name.to_owned(),
            role: crate::roles::Role::Member,
            notify: Default::default(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn mentions_match_emails_local_parts_and_names() {
        let team = [member("ada@example.com", "Ada Lovelace", 1), member("bob@example.com", "Bob", 2)];
        let ids = |text: &str| mentions(text, &team);
        assert_eq!(ids("@ada@example.com please look"), vec![team[0].user_id]);
        assert_eq!(ids("cc @BOB."), vec![team[1].user_id]);
        assert_eq!(ids("@adalovelace and @bob, thanks"), vec![team[0].user_id, team[1].user_id]);
        assert!(ids("mail ada@example.com without an at-sign prefix").is_empty());
        assert!(ids("@carol @").is_empty());
    }

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        let cursor = InboxCursor { at: Timestamp(1_763_700_000_123), id: ConversationId(uuid::Uuid::from_u128(7)) };
        let text = cursor.encode();
        assert_eq!(text, "1763700000123.00000000-0000-0000-0000-000000000007");
        assert_eq!(InboxCursor::parse(&text), Some(cursor));
        for bad in ["", "123", "abc.00000000-0000-0000-0000-000000000007", "123.not-a-uuid", ".", "1.2.3"] {
            assert_eq!(InboxCursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn previews_cut_on_characters_not_bytes() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(PREVIEW_CHARS + 10);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
    }
}
