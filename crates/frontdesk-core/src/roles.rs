//! Roles and the one permission table every private endpoint consults.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn allows(self, permission: Permission) -> bool {
        PERMISSIONS.iter().find(|(p, _)| *p == permission).is_some_and(|(_, roles)| roles.contains(&self))
    }
}

/// What a member of an organization may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read conversations, their messages and visitors.
    ReadConversations,
    /// Reply, assign, and change a conversation's status.
    HandleConversations,
    /// Create sites and change their settings and keys.
    ManageSites,
    /// Edit the knowledge base.
    ManageKnowledge,
    /// Edit bot scenarios.
    ManageBots,
    /// Invite and remove members, change roles below owner.
    ManageTeam,
    /// Read and export the audit log.
    ReadAuditLog,
    /// Billing, deleting the organization, transferring ownership.
    ManageBilling,
    /// Export and erase visitor data (GDPR).
    ManagePrivacy,
    /// Outgoing webhooks: endpoints, their secrets, the delivery log.
    ManageWebhooks,
}

use Role::{Admin, Member, Owner};

/// The permission table: one row per permission, naming the roles that hold it.
pub const PERMISSIONS: &[(Permission, &[Role])] = &[
    (Permission::ReadConversations, &[Owner, Admin, Member]),
    (Permission::HandleConversations, &[Owner, Admin, Member]),
    (Permission::ManageSites, &[Owner, Admin]),
    (Permission::ManageKnowledge, &[Owner, Admin]),
    (Permission::ManageBots, &[Owner, Admin]),
    (Permission::ManageTeam, &[Owner, Admin]),
    (Permission::ReadAuditLog, &[Owner, Admin]),
    (Permission::ManagePrivacy, &[Owner, Admin]),
    (Permission::ManageWebhooks, &[Owner, Admin]),
    (Permission::ManageBilling, &[Owner]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_every_permission_once() {
        let all = [
            Permission::ReadConversations,
            Permission::HandleConversations,
            Permission::ManageSites,
            Permission::ManageKnowledge,
            Permission::ManageBots,
            Permission::ManageTeam,
            Permission::ReadAuditLog,
            Permission::ManageBilling,
            Permission::ManagePrivacy,
            Permission::ManageWebhooks,
        ];
        for p in all {
            assert_eq!(PERMISSIONS.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
            // The owner can do everything.
            assert!(Owner.allows(p));
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn members_work_the_inbox_only() {
        assert!(Member.allows(Permission::HandleConversations));
        assert!(!Member.allows(Permission::ManageSites));
        assert!(!Member.allows(Permission::ManageTeam));
        assert!(Admin.allows(Permission::ManageSites));
        assert!(!Admin.allows(Permission::ManageBilling));
        assert!(Admin.allows(Permission::ManageWebhooks));
        assert!(!Member.allows(Permission::ManageWebhooks));
    }

    #[test]
    fn roles_parse_from_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
