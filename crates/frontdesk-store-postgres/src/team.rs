//! The team: plans, members with their notification preferences, and invitations.

use super::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::team::{Invite, Member, NotificationPrefs};

const INVITE_COLS: &str = "id, org_id, email, role, invited_by, created_at, expires_at, accepted_at";

fn role_at(row: &PgRow, column: &str) -> StoreResult<Role> {
    let role: String = get(row, column)?;
    Role::parse(&role).ok_or_else(|| corrupt(column, role))
}

fn member_from_row(row: &PgRow) -> StoreResult<Member> {
    Ok(Member {
        user_id: UserId(get(row, "user_id")?),
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: role_at(row, "role")?,
        notify: json_at(row, "notify")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn invite_from_row(row: &PgRow) -> StoreResult<Invite> {
    Ok(Invite {
        id: InviteId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        email: get(row, "email")?,
        role: role_at(row, "role")?,
        invited_by: get::<Option<Uuid>>(row, "invited_by")?.map(UserId),
        created_at: ts_at(row, "created_at")?,
        expires_at: ts_at(row, "expires_at")?,
        accepted_at: opt_ts_at(row, "accepted_at")?,
    })
}

/// Adds the membership, or changes the role of an existing one (keeping its notification
/// preferences and its `created_at`).
pub(crate) async fn upsert_membership(conn: &mut PgConnection, m: &Membership) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(m.org_id.0)
    .bind(m.user_id.0)
    .bind(m.role.as_str())
    .bind(m.created_at.0)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl PgStore {
    pub(crate) async fn set_org_plan_row(&self, id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()> {
        let done = sqlx::query("UPDATE organizations SET plan = $1, extra_seats = $2 WHERE id = $3")
            .bind(plan.as_str())
            .bind(i64::from(extra_seats))
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn list_member_rows(&self, org_id: OrgId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, u.name, m.role, m.notify, m.created_at \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 ORDER BY m.created_at, m.user_id",
        )
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(member_from_row).collect()
    }

    pub(crate) async fn delete_membership_row(&self, org_id: OrgId, user_id: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id.0)
            .bind(user_id.0)
            .execute(&self.pool)
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
        let done = sqlx::query("UPDATE memberships SET notify = $1 WHERE org_id = $2 AND user_id = $3")
            .bind(Json(prefs))
            .bind(org_id.0)
            .bind(user_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn create_invite_row(&self, i: &Invite) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO invites ({INVITE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(i.id.0)
            .bind(i.org_id.0)
            // Lower-cased like users' emails, so the pending-invitation index ignores case.
            .bind(i.email.to_lowercase())
            .bind(i.role.as_str())
            .bind(i.invited_by.map(|u| u.0))
            .bind(i.created_at.0)
            .bind(i.expires_at.0)
            .bind(i.accepted_at.map(|t| t.0))
            .execute(&self.pool)
            .await
            .map_err(|e| match map_err(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("a pending invitation exists for this email".to_owned())
                }
                other => other,
            })?;
        Ok(())
    }

    pub(crate) async fn get_invite_row(&self, id: InviteId) -> StoreResult<Invite> {
        let row = sqlx::query(&format!("SELECT {INVITE_COLS} FROM invites WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        invite_from_row(&row)
    }

    pub(crate) async fn list_invite_rows(&self, org_id: OrgId) -> StoreResult<Vec<Invite>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITE_COLS} FROM invites WHERE org_id = $1 AND accepted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(invite_from_row).collect()
    }

    pub(crate) async fn delete_invite_row(&self, org_id: OrgId, id: InviteId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM invites WHERE id = $1 AND org_id = $2")
            .bind(id.0)
            .bind(org_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn accept_invite_row(&self, id: InviteId, m: &Membership, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The invitation must be of the membership's organization: an id of another organization
        // is "not found", so an invitation never grants a seat elsewhere. Of two concurrent
        // accepts, the second waits on the row lock, re-checks `accepted_at` and updates nothing.
        let accepted =
            sqlx::query("UPDATE invites SET accepted_at = $1 WHERE id = $2 AND org_id = $3 AND accepted_at IS NULL")
                .bind(at.0)
                .bind(id.0)
                .bind(m.org_id.0)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if accepted.rows_affected() == 0 {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM invites WHERE id = $1 AND org_id = $2")
                .bind(id.0)
                .bind(m.org_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("invitation already accepted".to_owned()),
                None => StoreError::NotFound,
            });
        }
        upsert_membership(&mut tx, m).await?;
        tx.commit().await.map_err(map_err)
    }
}
