//! GDPR: finding a visitor's data, erasing it in one transaction, and the retention job's deletes.

use super::*;
use crate::dashboard::{UNANSWERED_COLS, unanswered_from_row};
use frontdesk_core::privacy::{ErasureCounts, RetentionCounts, VisitorLookup};

/// The conversations of one visitor in one organization, as a subquery (binds: visitor, org).
const VISITOR_CONVERSATIONS: &str = "SELECT id FROM conversations WHERE visitor_id = ? AND org_id = ?";

impl SqliteStore {
    pub(crate) async fn find_visitor_rows(&self, org_id: OrgId, lookup: &VisitorLookup) -> StoreResult<Vec<Visitor>> {
        let (condition, value) = match lookup {
            VisitorLookup::Id(visitor_id) => ("id = ?", id(visitor_id.0).to_string()),
            // Sealed emails cannot be compared in SQL: every visitor of the organization is read
            // and compared once opened (an export or erasure is rare; the list is one org's).
            VisitorLookup::Email(email) if self.seal().is_on() => ("? IS NOT NULL", email.to_lowercase()),
            // SQLite's lower() folds ASCII only: addresses with other characters are all read and
            // compared below, with Unicode case folding.
            VisitorLookup::Email(email) => ("(lower(email) = ? OR email GLOB '*[^ -~]*')", email.to_lowercase()),
        };
        let rows = sqlx::query(&format!(
            concat!(
                "SELECT ",
                visitor_cols!(),
                " FROM visitors WHERE {} AND site_id IN (SELECT id FROM sites WHERE org_id = ?) ORDER BY created_at, id"
            ),
            condition
        ))
        .bind(value)
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let visitors: Vec<Visitor> = rows.iter().map(|r| self.visitor_from_row(r)).collect::<StoreResult<_>>()?;
        Ok(match lookup {
            VisitorLookup::Email(email) => {
                let wanted = email.to_lowercase();
                visitors
                    .into_iter()
                    .filter(|v| v.email.as_deref().is_some_and(|e| e.to_lowercase() == wanted))
                    .collect()
            }
            _ => visitors,
        })
    }

    pub(crate) async fn visitor_conversation_rows(
        &self,
        org_id: OrgId,
        visitor_id: VisitorId,
    ) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            conversation_cols!(),
            " FROM conversations WHERE org_id = ? AND visitor_id = ? ORDER BY created_at, id"
        ))
        .bind(id(org_id.0))
        .bind(id(visitor_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(conversation_from_row).collect()
    }

    pub(crate) async fn visitor_event_rows(
        &self,
        site_id: SiteId,
        visitor_id: VisitorId,
    ) -> StoreResult<Vec<VisitorEvent>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            visitor_event_cols!(),
            " FROM visitor_events WHERE site_id = ? AND visitor_id = ? ORDER BY created_at, id"
        ))
        .bind(id(site_id.0))
        .bind(id(visitor_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(visitor_event_from_row).collect()
    }

    pub(crate) async fn conversation_unanswered_rows(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        let rows = sqlx::query(&format!(
            "SELECT {UNANSWERED_COLS} FROM unanswered_questions WHERE org_id = ? AND conversation_id = ? \
             ORDER BY created_at, id"
        ))
        .bind(id(org_id.0))
        .bind(id(conversation_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| unanswered_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn erase_visitor_rows(
        &self,
        org_id: OrgId,
        visitor_id: VisitorId,
        at: Timestamp,
    ) -> StoreResult<ErasureCounts> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT site_id FROM visitors WHERE id = ? AND site_id IN (SELECT id FROM sites WHERE org_id = ?)",
        )
        .bind(id(visitor_id.0))
        .bind(id(org_id.0))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let site_id = uuid_at(&row, "site_id")?;

        // What analytics count is moved onto the conversation before the rows go; the session
        // tokens stop working (a new generation) and what the widget sent is cleared.
        let conversations = sqlx::query(
            "UPDATE conversations SET \
             erased_assistant_messages = erased_assistant_messages + (SELECT COUNT(*) FROM messages m \
               WHERE m.conversation_id = conversations.id AND m.author_kind = 'assistant'), \
             erased_agent_messages = erased_agent_messages + (SELECT COUNT(*) FROM messages m \
               WHERE m.conversation_id = conversations.id AND m.author_kind = 'agent'), \
             erased_rating = COALESCE((SELECT stars FROM ratings r WHERE r.conversation_id = conversations.id), erased_rating), \
             params = '{}', page_url = NULL, token_generation = token_generation + 1 \
             WHERE visitor_id = ? AND org_id = ?",
        )
        .bind(id(visitor_id.0))
        .bind(id(org_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();

        let mut counts = ErasureCounts { conversations, ..ErasureCounts::default() };
        // The messages' delete trigger takes their words out of the full-text index.
        for (table, count) in [
            ("messages", &mut counts.messages),
            ("ratings", &mut counts.ratings),
            ("notes", &mut counts.notes),
            ("unanswered_questions", &mut counts.unanswered_questions),
            ("conversation_flows", &mut counts.scenario_runs),
            // Outgoing webhook deliveries of these conversations' events, by the conversation
            // stored with each: the outbox event itself may be pruned already.
            ("webhook_deliveries", &mut counts.webhook_deliveries),
        ] {
            *count = sqlx::query(&format!("DELETE FROM {table} WHERE conversation_id IN ({VISITOR_CONVERSATIONS})"))
                .bind(id(visitor_id.0))
                .bind(id(org_id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        counts.visitor_events = sqlx::query("DELETE FROM visitor_events WHERE visitor_id = ? AND site_id = ?")
            .bind(id(visitor_id.0))
            .bind(id(site_id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        sqlx::query(
            "UPDATE visitors SET name = NULL, email = NULL, locale = NULL, user_id = NULL, verified = 0, \
             erased_at = ? WHERE id = ?",
        )
        .bind(at.0)
        .bind(id(visitor_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(counts)
    }

    pub(crate) async fn purge_expired_rows(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<RetentionCounts> {
        let limit = i64::from(limit.max(1));
        let mut tx = self.write_tx().await?;
        let mine = sqlx::query("SELECT 1 FROM sites WHERE id = ? AND org_id = ?")
            .bind(id(site_id.0))
            .bind(id(org_id.0))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if mine.is_none() {
            return Ok(RetentionCounts::default());
        }
        // Messages (and their search entries), ratings, notes, questions and runs cascade.
        let conversations = sqlx::query(
            "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations WHERE site_id = ? \
             AND last_activity_at < ? AND updated_at < ? LIMIT ?)",
        )
        .bind(id(site_id.0))
        .bind(before.0)
        .bind(before.0)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        let visitor_events = sqlx::query(
            "DELETE FROM visitor_events WHERE id IN (SELECT id FROM visitor_events WHERE site_id = ? \
             AND created_at < ? LIMIT ?)",
        )
        .bind(id(site_id.0))
        .bind(before.0)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        let visitors = sqlx::query(
            "DELETE FROM visitors WHERE id IN (SELECT v.id FROM visitors v WHERE v.site_id = ? \
             AND v.last_seen_at < ? AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = v.id) LIMIT ?)",
        )
        .bind(id(site_id.0))
        .bind(before.0)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(RetentionCounts { conversations, visitor_events, visitors })
    }
}
