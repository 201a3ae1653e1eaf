//! The audit log: who did what to which thing, from where.

use crate::ids::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub org_id: OrgId,
    /// The acting user; `None` for the system or the command line.
    pub actor_id: Option<UserId>,
    /// A dotted verb such as `conversation.resolve` or `site.create`.
    pub action: String,
    /// `conversation`, `site`, `user`, …
    pub target_kind: String,
    pub target_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: Timestamp,
}
