//! Plans, members, notification preferences, invitations, and the settings' compare-and-set.

use super::*;
use frontdesk_core::team::{Invite, Member, NotificationPrefs};

const INVITE_COLS: &str = "id, org_id, email, role, invited_by, created_at, expires_at, accepted_at";

fn role_at(row: &SqliteRow, column: &str) -> StoreResult<Role> {
    let role: String = get(row, column)?;
    Role::parse(&role).ok_or_else(|| corrupt(column, role))
}

fn member_from_row(row: &SqliteRow) -> StoreResult<Member> {
    Ok(Member {
        user_id: UserId(uuid_at(row, "user_id")?),
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: role_at(row, "role")?,
        notify: json_at(row, "notify")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn invite_from_row(row: &SqliteRow) -> StoreResult<Invite> {
    Ok(Invite {
        id: InviteId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        email: get(row, "email")?,
        role: role_at(row, "role")?,
        invited_by: opt_uuid_at(row, "invited_by")?.map(UserId),
        created_at: ts_at(row, "created_at")?,
        expires_at: ts_at(row, "expires_at")?,
        accepted_at: opt_ts_at(row, "accepted_at")?,
    })
}

/// Adds the membership, or changes the role of an existing one (keeping its age and preferences).
/// Shared by `put_membership` and `accept_invite`, so both mean the same.
pub(crate) async fn upsert_membership(conn: &mut SqliteConnection, m: &Membership) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(id(m.org_id.0))
    .bind(id(m.user_id.0))
    .bind(m.role.as_str())
    .bind(m.created_at.0)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn compare_and_set_setting_row(
        &self,
        key: &str,
        expected: &str,
        value: &str,
    ) -> StoreResult<bool> {
        // One statement: the comparison and the write cannot be separated by another writer.
        let done = sqlx::query("UPDATE settings SET value = ? WHERE key = ? AND value = ?")
            .bind(value)
            .bind(key)
            .bind(expected)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn set_org_plan_row(&self, org_id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()> {
        let done = sqlx::query("UPDATE organizations SET plan = ?, extra_seats = ? WHERE id = ?")
            .bind(plan.as_str())
            .bind(i64::from(extra_seats))
            .bind(id(org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn list_member_rows(&self, org_id: OrgId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, u.name, m.role, m.notify, m.created_at \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ? ORDER BY m.created_at, m.user_id",
        )
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(member_from_row).collect()
    }

    pub(crate) async fn delete_membership_row(&self, org_id: OrgId, user_id: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = ? AND user_id = ?")
            .bind(id(org_id.0))
            .bind(id(user_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn set_notification_prefs_row(
        &self,
        org_id: OrgId,
        user_id: UserId,
        prefs: NotificationPrefs,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE memberships SET notify = ? WHERE org_id = ? AND user_id = ?")
            .bind(to_json(&prefs)?)
            .bind(id(org_id.0))
            .bind(id(user_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn create_invite_row(&self, i: &Invite) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO invites ({INVITE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(id(i.id.0))
            .bind(id(i.org_id.0))
            .bind(&i.email)
            .bind(i.role.as_str())
            .bind(opt_id(i.invited_by.map(|u| u.0)))
            .bind(i.created_at.0)
            .bind(i.expires_at.0)
            .bind(i.accepted_at.map(|t| t.0))
            .execute(&self.writer)
            .await
            .map_err(|e| match map_err(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("the organization has a pending invitation for this address".to_owned())
                }
                other => other,
            })?;
        Ok(())
    }

    pub(crate) async fn get_invite_row(&self, invite_id: InviteId) -> StoreResult<Invite> {
        let row = sqlx::query(&format!("SELECT {INVITE_COLS} FROM invites WHERE id = ?"))
            .bind(id(invite_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        invite_from_row(&row)
    }

    pub(crate) async fn list_invite_rows(&self, org_id: OrgId) -> StoreResult<Vec<Invite>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITE_COLS} FROM invites WHERE org_id = ? AND accepted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(invite_from_row).collect()
    }

    pub(crate) async fn delete_invite_row(&self, org_id: OrgId, invite_id: InviteId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM invites WHERE id = ? AND org_id = ?")
            .bind(id(invite_id.0))
            .bind(id(org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn accept_invite_row(
        &self,
        invite_id: InviteId,
        m: &Membership,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // The membership must be in the invitation's organization: an invitation of another
        // organization is "not found", like everything else across tenants.
        let done =
            sqlx::query("UPDATE invites SET accepted_at = ? WHERE id = ? AND org_id = ? AND accepted_at IS NULL")
                .bind(at.0)
                .bind(id(invite_id.0))
                .bind(id(m.org_id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if done.rows_affected() == 0 {
            let accepted: Option<Option<i64>> =
                sqlx::query_scalar("SELECT accepted_at FROM invites WHERE id = ? AND org_id = ?")
                    .bind(id(invite_id.0))
                    .bind(id(m.org_id.0))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
            return Err(match accepted {
                Some(_) => StoreError::Conflict("invitation already accepted".to_owned()),
                None => StoreError::NotFound,
            });
        }
        // Dropping the transaction on an error here rolls the acceptance back.
        upsert_membership(&mut tx, m).await?;
        tx.commit().await.map_err(map_err)
    }
}
