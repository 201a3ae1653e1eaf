//! The audit log's hash chain: appends serialized per organization by locking its chain head,
//! the chain read in order for verification, and the sealing of events written before the chain
//! existed.

use super::*;
use frontdesk_core::audit::{self, AuditHead, AuditRecord, GENESIS_HASH};

/// Taken by the sealing at start-up, so that nodes starting together seal once.
const SEAL_LOCK: i64 = 0x6175_6469_745f_7365; // "audit_se"

pub(crate) fn record_from_row(row: &PgRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        event: audit_from_row(row)?,
        seq: get(row, "seq")?,
        // Empty until an event from before the chain is sealed at start-up; verification reports it.
        prev_hash: get::<Option<String>>(row, "prev_hash")?.unwrap_or_default(),
        hash: get::<Option<String>>(row, "hash")?.unwrap_or_default(),
    })
}

/// Locks the organization's chain head for the rest of the transaction, creating it (empty) if
/// the organization has no event yet. Every append to one organization queues here.
async fn lock_head(conn: &mut PgConnection, org_id: OrgId) -> StoreResult<AuditHead> {
    sqlx::query("INSERT INTO audit_heads (org_id, last_seq, last_hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING")
        .bind(org_id.0)
        .bind(GENESIS_HASH)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    let row = sqlx::query("SELECT last_seq, last_hash FROM audit_heads WHERE org_id = $1 FOR UPDATE")
        .bind(org_id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(AuditHead { last_seq: get(&row, "last_seq")?, last_hash: get(&row, "last_hash")? })
}

async fn set_head(conn: &mut PgConnection, org_id: OrgId, record: &AuditRecord) -> StoreResult<()> {
    sqlx::query("UPDATE audit_heads SET last_seq = $2, last_hash = $3 WHERE org_id = $1")
        .bind(org_id.0)
        .bind(record.seq)
        .bind(&record.hash)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// An empty head (created by `lock_head`) links to nothing.
fn linked(head: AuditHead) -> Option<AuditHead> {
    (head.last_seq > 0).then_some(head)
}

impl PgStore {
    pub(crate) async fn append_audit_row(&self, e: &AuditEvent) -> StoreResult<AuditRecord> {
        let mut tx = self.begin().await?;
        let head = linked(lock_head(&mut tx, e.org_id).await?);
        let record = audit::seal(e.clone(), head.as_ref());
        sqlx::query(concat!(
            "INSERT INTO audit_events (",
            audit_cols!(),
            ", seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(e.id.0)
        .bind(e.org_id.0)
        .bind(e.actor_id.map(|u| u.0))
        .bind(&e.action)
        .bind(&e.target_kind)
        .bind(&e.target_id)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.details)
        .bind(e.created_at.0)
        .bind(record.seq)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        set_head(&mut tx, e.org_id, &record).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(record)
    }

    pub(crate) async fn audit_chain_rows(
        &self,
        org_id: OrgId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_cols!(),
            ", seq, prev_hash, hash FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(org_id.0)
        .bind(after_seq)
        .bind(effective_limit(limit, 1000, 10_000))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(record_from_row).collect()
    }

    pub(crate) async fn audit_head_row(&self, org_id: OrgId) -> StoreResult<Option<AuditHead>> {
        let row = sqlx::query("SELECT last_seq, last_hash FROM audit_heads WHERE org_id = $1 AND last_seq > 0")
            .bind(org_id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| Ok(AuditHead { last_seq: get(&r, "last_seq")?, last_hash: get(&r, "last_hash")? })).transpose()
    }

    /// Seals, in order, the events the migration to the chain numbered but could not hash.
    pub(crate) async fn seal_unsealed_audit(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(SEAL_LOCK).execute(&mut *tx).await.map_err(map_err)?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_cols!(),
            ", seq, prev_hash, hash FROM audit_events WHERE hash IS NULL ORDER BY org_id, seq"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        for row in &rows {
            let unsealed = record_from_row(row)?;
            let org_id = unsealed.event.org_id;
            let head = linked(lock_head(&mut tx, org_id).await?);
            let record = audit::seal(unsealed.event, head.as_ref());
            if record.seq != unsealed.seq {
                return Err(StoreError::Backend(format!(
                    "audit event {} of organization {org_id} is number {} but the chain expects {}",
                    record.event.id, unsealed.seq, record.seq
                )));
            }
            sqlx::query("UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE id = $1")
                .bind(record.event.id.0)
                .bind(&record.prev_hash)
                .bind(&record.hash)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            set_head(&mut tx, org_id, &record).await?;
        }
        tx.commit().await.map_err(map_err)
    }
}
