//! The emails' words: plain text, one function per kind, no I/O.

use frontdesk_core::{ConversationId, Timestamp};

/// How much of the visitor's last message an escalation email quotes.
pub const EMAIL_PREVIEW_CHARS: usize = 300;
/// How much of a note a mention email quotes (notes are short; this only bounds a huge one).
const NOTE_CHARS: usize = 2_000;

const FOOTER_ESCALATIONS: &str = "You get this email because escalation alerts are on for you in Frontdesk \
     (Team → Notifications).";
const FOOTER_MENTIONS: &str =
    "You get this email because mention alerts are on for you in Frontdesk (Team → Notifications).";

/// Cuts `text` to at most `max_chars` characters on a character boundary, adding `…` when cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
        None => text.to_owned(),
    }
}

/// The dashboard's page of one conversation.
pub fn conversation_link(public_url: &str, id: ConversationId) -> String {
    format!("{}/app/#/conversations/{id}", public_url.trim_end_matches('/'))
}

/// Each line behind `> `, the way plain-text mail quotes.
fn quote(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { ">".to_owned() } else { format!("> {l}") }).collect::<Vec<_>>().join("\n")
}

/// A conversation waits for a person.
pub(crate) fn escalation_email(
    site_name: &str,
    visitor: Option<&str>,
    last_message: Option<&str>,
    link: &str,
) -> (String, String) {
    let subject = format!("Conversation escalated — {site_name}");
    let who = visitor.map_or_else(|| "The visitor".to_owned(), |v| v.to_owned());
    let said = match last_message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!("{who} wrote:\n\n{}\n\n", quote(&shorten(m, EMAIL_PREVIEW_CHARS))),
        None => String::new(),
    };
    let text = format!(
        "A conversation on {site_name} was handed to a person and is waiting for an answer.\n\n\
         {said}Open the conversation:\n{link}\n\n-- \n{FOOTER_ESCALATIONS}\n"
    );
    (subject, text)
}

/// A teammate mentioned the recipient in a private note.
pub(crate) fn mention_email(author_name: &str, site_name: &str, note: &str, link: &str) -> (String, String) {
    let subject = format!("{author_name} mentioned you — {site_name}");
    let text = format!(
        "{author_name} mentioned you in a private note on a conversation on {site_name}:\n\n{}\n\n\
         Open the conversation:\n{link}\n\n-- \n{FOOTER_MENTIONS}\n",
        quote(&shorten(note, NOTE_CHARS))
    );
    (subject, text)
}

/// The email of a team invitation: `(subject, text)`. `link` is the signed acceptance link.
pub fn invite_email(org_name: &str, inviter_name: &str, link: &str, expires_at: Timestamp) -> (String, String) {
    let subject = format!("{inviter_name} invited you to {org_name} on Frontdesk");
    let text = format!(
        "{inviter_name} invited you to join {org_name} on Frontdesk, where the team answers its \
         customers' chats.\n\n\
         Accept the invitation:\n{link}\n\n\
         The link works until {}. If you did not expect this invitation, ignore this email.\n",
        readable_time(expires_at)
    );
    (subject, text)
}

/// `2025-11-21 04:40 UTC`: the RFC 3339 form without seconds.
fn readable_time(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    match (text.get(..10), text.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_counts_characters() {
        assert_eq!(shorten("  short  ", 10), "short");
        let long = "ü".repeat(EMAIL_PREVIEW_CHARS + 5);
        let cut = shorten(&long, EMAIL_PREVIEW_CHARS);
        assert_eq!(cut.chars().count(), EMAIL_PREVIEW_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn links_join_the_public_url_once() {
        let id: ConversationId = "01890a5d-ac96-774b-bcce-b302099a8057".parse().expect("uuid");
        let expected = "https://desk.example.com/app/#/conversations/01890a5d-ac96-774b-bcce-b302099a8057";
        assert_eq!(conversation_link("https://desk.example.com/", id), expected);
        assert_eq!(conversation_link("https://desk.example.com", id), expected);
    }

    #[test]
    fn escalations_quote_the_message() {
        let (subject, text) = escalation_email("Shop", Some("Ada"), Some("Where is\nmy order?"), "https://l");
        assert_eq!(subject, "Conversation escalated — Shop");
        assert!(text.contains("Ada wrote:\n\n> Where is\n> my order?\n"), "{text}");
        assert!(text.contains("https://l\n"), "{text}");
        let (_, bare) = escalation_email("Shop", None, None, "https://l");
        assert!(!bare.contains("wrote:"), "{bare}");
    }

    #[test]
    fn invitations_name_the_org_the_inviter_and_the_expiry() {
        let (subject, text) =
            invite_email("Acme", "Grace", "https://desk.example.com/invite#t", Timestamp(1_763_700_000_123));
        assert_eq!(subject, "Grace invited you to Acme on Frontdesk");
        assert!(text.contains("https://desk.example.com/invite#t\n"), "{text}");
        assert!(text.contains("until 2025-11-21 04:40 UTC."), "{text}");
    }
}
