//! The team: members, invitations and what each member wants to be told.

use crate::ids::*;
use crate::roles::Role;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which email alerts a member receives (in-app notifications always arrive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NotificationPrefs {
    /// A conversation of the organization was escalated to a person.
    pub email_escalations: bool,
    /// A teammate mentioned them in a private note.
    pub email_mentions: bool,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs { email_escalations: true, email_mentions: true }
    }
}

/// A member of an organization as the team screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub notify: NotificationPrefs,
    pub created_at: Timestamp,
}

/// An invitation to join an organization. The link's token is never stored: it is signed by the
/// server and names the invitation's id and expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Invite {
    pub id: InviteId,
    pub org_id: OrgId,
    /// Lower-cased.
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}
