//! The audit log's hash chain: appends serialized by the one write connection, the chain read in
//! order for verification, and the sealing of events written before the chain existed.

use super::*;
use frontdesk_core::audit::{self, AuditHead, AuditRecord};

pub(crate) fn record_from_row(row: &SqliteRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        event: audit_from_row(row)?,
        seq: get(row, "seq")?,
        // Empty until an event from before the chain is sealed at open; verification reports it.
        prev_hash: get::<Option<String>>(row, "prev_hash")?.unwrap_or_default(),
        hash: get::<Option<String>>(row, "hash")?.unwrap_or_default(),
    })
}

async fn head_in(conn: &mut SqliteConnection, org_id: OrgId) -> StoreResult<Option<AuditHead>> {
    let row = sqlx::query("SELECT last_seq, last_hash FROM audit_heads WHERE org_id = ?")
        .bind(id(org_id.0))
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    row.map(|r| Ok(AuditHead { last_seq: get(&r, "last_seq")?, last_hash: get(&r, "last_hash")? })).transpose()
}

async fn set_head(conn: &mut SqliteConnection, org_id: OrgId, record: &AuditRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_heads (org_id, last_seq, last_hash) VALUES (?, ?, ?) \
         ON CONFLICT (org_id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
    )
    .bind(id(org_id.0))
    .bind(record.seq)
    .bind(&record.hash)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn append_audit_row(&self, e: &AuditEvent) -> StoreResult<AuditRecord> {
        // The write transaction is the per-organization lock: there is one writer.
        let mut tx = self.write_tx().await?;
        let head = head_in(&mut tx, e.org_id).await?;
        let record = audit::seal(e.clone(), head.as_ref());
        sqlx::query(concat!(
            "INSERT INTO audit_events (",
            audit_cols!(),
            ", seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id(e.id.0))
        .bind(id(e.org_id.0))
        .bind(opt_id(e.actor_id.map(|u| u.0)))
        .bind(&e.action)
        .bind(&e.target_kind)
        .bind(&e.target_id)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(to_json(&e.details)?)
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
            ", seq, prev_hash, hash FROM audit_events WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(id(org_id.0))
        .bind(after_seq)
        .bind(effective_limit(limit, 1000, 10_000))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(record_from_row).collect()
    }

    pub(crate) async fn audit_head_row(&self, org_id: OrgId) -> StoreResult<Option<AuditHead>> {
        let mut conn = self.reader.acquire().await.map_err(map_err)?;
        head_in(&mut conn, org_id).await
    }

    /// Seals, in order, the events the migration to the chain numbered but could not hash.
    pub(crate) async fn seal_unsealed_audit(&self) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
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
            let head = head_in(&mut tx, org_id).await?;
            let record = audit::seal(unsealed.event, head.as_ref());
            if record.seq != unsealed.seq {
                return Err(StoreError::Backend(format!(
                    "audit event {} of organization {org_id} is number {} but the chain expects {}",
                    record.event.id, unsealed.seq, record.seq
                )));
            }
            sqlx::query("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?")
                .bind(&record.prev_hash)
                .bind(&record.hash)
                .bind(id(record.event.id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            set_head(&mut tx, org_id, &record).await?;
        }
        tx.commit().await.map_err(map_err)
    }
}
