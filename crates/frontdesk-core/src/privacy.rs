//! GDPR: everything an organization holds about a visitor (the export), erasing it, and the
//! per-site retention period. The documents here are the API's and the command line's shapes.

use crate::error::CoreError;
use crate::ids::*;
use crate::inbox::{Note, UnansweredQuestion};
use crate::model::{Conversation, Message, Rating, Visitor, VisitorEvent};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use utoipa::ToSchema;

/// The `format` of an export: a reader can tell which shape it holds.
pub const EXPORT_FORMAT: &str = "frontdesk.visitor-export.v1";
/// The retention periods a site may set, in days.
pub const RETENTION_DAYS: RangeInclusive<u32> = 1..=3650;
/// The longest email address (RFC 5321 allows 254; a little slack for what sites send).
const MAX_EMAIL_CHARS: usize = 320;
/// Messages read per page while exporting.
const MESSAGE_PAGE: u32 = 1000;

/// Whom an export or erasure is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitorLookup {
    /// One visitor (a device) of any of the organization's sites.
    Id(VisitorId),
    /// Every visitor of the organization's sites with this email, compared case-insensitively.
    Email(String),
}

impl VisitorLookup {
    /// From the API's or the command line's `visitor_id` / `email`: exactly one of them.
    pub fn parse(visitor_id: Option<&str>, email: Option<&str>) -> Result<VisitorLookup, CoreError> {
        let invalid =
            |field: &str, message: &str| CoreError::Invalid { field: field.to_owned(), message: message.to_owned() };
        match (visitor_id.map(str::trim).filter(|s| !s.is_empty()), email.map(str::trim).filter(|s| !s.is_empty())) {
            (Some(_), Some(_)) => Err(invalid("visitor_id", "give a visitor id or an email, not both")),
            (None, None) => Err(invalid("visitor_id", "give a visitor id or an email")),
            // A malformed id names no visitor: "not found", like another organization's.
            (Some(id), None) => id.parse().map(VisitorLookup::Id).map_err(|_| CoreError::NotFound("visitor")),
            (None, Some(email)) => {
                if email.chars().count() > MAX_EMAIL_CHARS || !email.contains('@') {
                    return Err(invalid("email", "an email address such as ada@example.com"));
                }
                Ok(VisitorLookup::Email(email.to_lowercase()))
            }
        }
    }
}

/// What one erasure removed. Counts are of rows deleted (or, for `conversations`, anonymized).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErasureCounts {
    /// Conversations kept without their content (status, times, site: the analytics).
    pub conversations: u64,
    pub messages: u64,
    pub ratings: u64,
    pub visitor_events: u64,
    pub notes: u64,
    pub unanswered_questions: u64,
    pub scenario_runs: u64,
    /// Outgoing webhook deliveries of the visitor's events (their payloads carry what was said).
    pub webhook_deliveries: u64,
}

impl ErasureCounts {
    pub fn add(&mut self, other: ErasureCounts) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.ratings += other.ratings;
        self.visitor_events += other.visitor_events;
        self.notes += other.notes;
        self.unanswered_questions += other.unanswered_questions;
        self.scenario_runs += other.scenario_runs;
        self.webhook_deliveries += other.webhook_deliveries;
    }
}

/// What one pass of the retention job deleted on a site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionCounts {
    /// With their messages, rating, notes, unanswered questions and scenario run.
    pub conversations: u64,
    pub visitor_events: u64,
    /// Visitors left with no conversation who were last seen before the cut-off.
    pub visitors: u64,
}

impl RetentionCounts {
    pub fn add(&mut self, other: RetentionCounts) {
        self.conversations += other.conversations;
        self.visitor_events += other.visitor_events;
        self.visitors += other.visitors;
    }

    pub fn is_empty(&self) -> bool {
        *self == RetentionCounts::default()
    }
}

/// Everything the organization holds about the visitors one lookup found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisitorExport {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    pub exported_at: Timestamp,
    pub org_id: OrgId,
    pub visitors: Vec<ExportedVisitor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportedVisitor {
    /// The identity fields: name, email, locale, the site's user id and whether it was verified.
    pub visitor: Visitor,
    pub site_name: String,
    /// Page views and conversions, oldest first.
    pub events: Vec<VisitorEvent>,
    /// Oldest first.
    pub conversations: Vec<ExportedConversation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportedConversation {
    pub conversation: Conversation,
    /// Every message, whoever wrote it (visitor, assistant, bot, agent, system), with reactions.
    pub messages: Vec<Message>,
    pub rating: Option<Rating>,
    /// Agents' private notes: they are about the person, so they are part of the export.
    pub notes: Vec<Note>,
    /// The visitor's questions the assistant could not answer (the gap report keeps them).
    pub unanswered_questions: Vec<UnansweredQuestion>,
    pub scenario_run: Option<ExportedScenarioRun>,
}

/// What a bot scenario collected in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportedScenarioRun {
    pub scenario_id: ScenarioId,
    pub version: i64,
    /// The variables the run collected (the visitor's answers, HTTP results).
    #[schema(value_type = Object)]
    pub vars: serde_json::Value,
    pub updated_at: Timestamp,
}

/// The visitors a lookup names; an unknown (or another organization's) id is `NotFound`, an
/// email nobody has is an empty list.
pub async fn find_visitors(
    store: &dyn Store,
    org_id: OrgId,
    lookup: &VisitorLookup,
) -> Result<Vec<Visitor>, CoreError> {
    let visitors = store.find_visitors(org_id, lookup).await?;
    if visitors.is_empty() && matches!(lookup, VisitorLookup::Id(_)) {
        return Err(CoreError::NotFound("visitor"));
    }
    Ok(visitors)
}

/// Builds the export of every visitor the lookup finds.
pub async fn export(
    store: &dyn Store,
    org_id: OrgId,
    lookup: &VisitorLookup,
    at: Timestamp,
) -> Result<VisitorExport, CoreError> {
    let mut visitors = Vec::new();
    for visitor in find_visitors(store, org_id, lookup).await? {
        visitors.push(export_visitor(store, org_id, visitor).await?);
    }
    Ok(VisitorExport { format: EXPORT_FORMAT.to_owned(), exported_at: at, org_id, visitors })
}

async fn export_visitor(store: &dyn Store, org_id: OrgId, visitor: Visitor) -> Result<ExportedVisitor, CoreError> {
    let site = store.get_site(org_id, visitor.site_id).await.map_err(|e| CoreError::from_store(e, "site"))?;
    let events = store.visitor_event_history(visitor.site_id, visitor.id).await?;
    let mut conversations = Vec::new();
    for conversation in store.visitor_conversations(org_id, visitor.id).await? {
        conversations.push(export_conversation(store, org_id, conversation).await?);
    }
    Ok(ExportedVisitor { visitor, site_name: site.name, events, conversations })
}

async fn export_conversation(
    store: &dyn Store,
    org_id: OrgId,
    conversation: Conversation,
) -> Result<ExportedConversation, CoreError> {
    let mut messages: Vec<Message> = Vec::new();
    loop {
        let after = messages.last().map_or(0, |m| m.seq);
        let page = store.list_messages(conversation.id, after, MESSAGE_PAGE).await?;
        let done = page.len() < MESSAGE_PAGE as usize;
        messages.extend(page);
        if done {
            break;
        }
    }
    let rating = match store.get_rating(conversation.id).await {
        Ok(r) => Some(r),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let notes = store.list_notes(org_id, conversation.id).await?;
    let unanswered_questions = store.conversation_unanswered(org_id, conversation.id).await?;
    let scenario_run = store.get_flow_state(org_id, conversation.id).await?.map(|state| ExportedScenarioRun {
        scenario_id: state.scenario_id,
        version: state.version,
        vars: state.run.get("run").and_then(|run| run.get("vars")).cloned().unwrap_or(serde_json::Value::Null),
        updated_at: state.updated_at,
    });
    Ok(ExportedConversation { conversation, messages, rating, notes, unanswered_questions, scenario_run })
}

/// Erases every visitor the lookup finds, each in its own transaction; returns whom and the
/// summed counts.
pub async fn erase(
    store: &dyn Store,
    org_id: OrgId,
    lookup: &VisitorLookup,
    at: Timestamp,
) -> Result<(Vec<VisitorId>, ErasureCounts), CoreError> {
    let mut erased = Vec::new();
    let mut counts = ErasureCounts::default();
    for visitor in find_visitors(store, org_id, lookup).await? {
        counts.add(store.erase_visitor(org_id, visitor.id, at).await?);
        erased.push(visitor.id);
    }
    Ok((erased, counts))
}

/// Checks a site's retention period.
pub fn validate_retention(days: Option<u32>) -> Result<Option<u32>, CoreError> {
    match days {
        Some(d) if !RETENTION_DAYS.contains(&d) => Err(CoreError::Invalid {
            field: "retention_days".to_owned(),
            message: format!(
                "between {} and {} days, or null to keep forever",
                RETENTION_DAYS.start(),
                RETENTION_DAYS.end()
            ),
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_takes_exactly_one_of_id_and_email() {
        assert!(matches!(VisitorLookup::parse(None, None), Err(CoreError::Invalid { .. })));
        assert!(matches!(VisitorLookup::parse(Some("x"), Some("a@b.c")), Err(CoreError::Invalid { .. })));
        assert!(matches!(VisitorLookup::parse(Some("not-an-id"), None), Err(CoreError::NotFound(_))));
        assert!(matches!(VisitorLookup::parse(None, Some("nobody")), Err(CoreError::Invalid { .. })));
        assert_eq!(
            VisitorLookup::parse(None, Some(" Ada@Example.COM ")).ok(),
            Some(VisitorLookup::Email("ada@example.com".to_owned()))
        );
    }

    #[test]
    fn retention_is_one_day_to_ten_years_or_forever() {
        assert!(validate_retention(Some(0)).is_err());
        assert!(validate_retention(Some(3651)).is_err());
        assert_eq!(validate_retention(Some(30)).ok(), Some(Some(30)));
        assert_eq!(validate_retention(None).ok(), Some(None));
    }
}
