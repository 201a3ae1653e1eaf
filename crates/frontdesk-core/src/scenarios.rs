//! Bot scenarios as the store keeps them. The document itself (its schema, validation and the
//! interpreter) belongs to `frontdesk-flows`; here it is opaque JSON, so the domain and the
//! stores do not depend on the interpreter.

use crate::ids::{ConversationId, OrgId, ScenarioId, SiteId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A scenario: its draft, and the number of its latest published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Scenario {
    pub id: ScenarioId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub name: String,
    /// The document being edited (see `docs/flows.md`).
    #[schema(value_type = Object)]
    pub draft: serde_json::Value,
    /// The latest published version (1, 2, …); `None` before the first publish.
    pub published_version: Option<i64>,
    pub published_at: Option<Timestamp>,
    /// The site's start scenario: it handles new conversations (at most one per site).
    pub starts_conversations: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A published version: never changed afterwards, so a conversation running it is never broken
/// by a later publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioVersion {
    pub scenario_id: ScenarioId,
    pub version: i64,
    pub document: serde_json::Value,
    pub published_at: Timestamp,
}

/// The scenario a conversation is running, stored with it so that a restart or another node
/// resumes it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    pub conversation_id: ConversationId,
    pub org_id: OrgId,
    pub scenario_id: ScenarioId,
    pub version: i64,
    /// The interpreter's run state (opaque here).
    pub run: serde_json::Value,
    /// When a timer of the run (an unanswered question, a wait) fires.
    pub due_at: Option<Timestamp>,
    /// Bumped by every write: a write based on an older state is refused.
    pub revision: i64,
    pub updated_at: Timestamp,
}

/// The longest scenario name.
pub const MAX_NAME_CHARS: usize = 100;
/// Scenarios per site.
pub const MAX_PER_SITE: usize = 50;
