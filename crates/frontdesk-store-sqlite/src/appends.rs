//! Group commit for appended messages.
//!
//! Every message is a write transaction on the one write connection, and on SQLite the cost of a
//! transaction is mostly its round trips to sqlx's connection thread (BEGIN, read, insert,
//! update, outbox, COMMIT: each one a hand-off between threads), not the writing itself. So the
//! appends that arrive while one batch is being written wait for it and are then written together:
//! one transaction, one read of their conversations, one multi-row insert of messages, one update
//! of the conversations and one insert into the outbox — six round trips for the whole batch.
//! With no concurrency a batch is one message and nothing waits longer than before.
//!
//! The rules of an append are applied in order ([`plan_appends`]) within the batch, each on the
//! conversation as the previous append left it, so a batch writes exactly what the same appends
//! made one by one would have. An append that breaks a rule (closed conversation, status
//! compare-and-set lost, another organization's conversation) gets its error and writes nothing,
//! without failing the others. If the batch's transaction fails as a whole, each append is
//! retried alone, so one bad append cannot fail the batch it happened to share.

use crate::{SqliteStore, conversation_from_row, id, map_err, sealing, to_json};
use frontdesk_core::group_commit::{Batch, GroupCommit};
use frontdesk_core::ids::ConversationId;
use frontdesk_core::model::{Conversation, Message};
use frontdesk_core::store::{AppendRequest, StoreResult, plan_appends};
use frontdesk_crypto::fields;
use sqlx::{QueryBuilder, Sqlite};

/// At most this many appends share a transaction (their bind parameters stay far below SQLite's
/// limit, and one batch cannot hold the writer for long).
pub(crate) const MAX_BATCH: usize = 64;

/// One batch at a time: SQLite has one writer.
pub(crate) const LANES: usize = 1;

type AppendResult = StoreResult<(Message, Conversation)>;
pub(crate) type AppendQueue = GroupCommit<AppendRequest, AppendResult>;

impl SqliteStore {
    /// Appends one message, written in a batch with the appends that arrive meanwhile.
    pub(crate) async fn append_grouped(&self, request: AppendRequest) -> AppendResult {
        let write = |batch: Batch<AppendRequest, AppendResult>| {
            // In a task of its own, so that a caller who goes away mid-write (a closed HTTP
            // connection drops the request's future) cannot cut the batch of the others short.
            let store = self.clone();
            let task = tokio::spawn(async move {
                batch.write_or_one_by_one(&store, |store, requests| Box::pin(store.append_batch(requests))).await;
            });
            async move {
                if task.await.is_err() {
                    tracing::error!("a batch of appended messages panicked");
                }
            }
        };
        self.appends.submit(request, write).await.unwrap_or_else(|e| Err(e.into()))
    }

    /// Writes the batch in one transaction: one result per request, in order. `Err` only when
    /// the transaction itself failed (nothing was written).
    async fn append_batch(&self, requests: &[AppendRequest]) -> StoreResult<Vec<AppendResult>> {
        let mut tx = self.write_tx().await?;

        let mut ids: Vec<ConversationId> = requests.iter().map(|r| r.message.conversation_id).collect();
        ids.sort_unstable_by_key(|c| c.0);
        ids.dedup();
        let mut read =
            QueryBuilder::<Sqlite>::new(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id IN ("));
        let mut list = read.separated(", ");
        for c in &ids {
            list.push_bind(id(c.0));
        }
        read.push(")");
        let rows = read.build().fetch_all(&mut *tx).await.map_err(map_err)?;
        let conversations = rows.iter().map(conversation_from_row).collect::<StoreResult<Vec<_>>>()?;

        let plan = plan_appends(requests, conversations);
        if !plan.messages.is_empty() {
            let seal = self.seal();
            let mut rows = Vec::with_capacity(plan.messages.len());
            for m in &plan.messages {
                rows.push((
                    m,
                    seal.text(fields::MESSAGE_BODY, &m.body).map_err(sealing)?,
                    seal.text(fields::MESSAGE_HTML, &m.html).map_err(sealing)?,
                    to_json(&m.citations)?,
                    to_json(&m.quick_replies)?,
                    // What the full-text index reads: the body, or its word tokens when sealed.
                    seal.search_text(&m.body),
                ));
            }
            let mut insert =
                QueryBuilder::<Sqlite>::new(concat!("INSERT INTO messages (", message_cols!(), ", search_text) "));
            insert.push_values(rows, |mut b, (m, body, html, citations, quick_replies, search_text)| {
                b.push_bind(id(m.id.0))
                    .push_bind(id(m.conversation_id.0))
                    .push_bind(m.seq)
                    .push_bind(m.author_kind.as_str())
                    .push_bind(m.author_id.map(|u| id(u.0)))
                    .push_bind(body)
                    .push_bind(html)
                    .push_bind(citations)
                    .push_bind(quick_replies)
                    .push_bind(None::<String>)
                    .push_bind(m.created_at.0)
                    .push_bind(search_text);
            });
            insert.build().execute(&mut *tx).await.map_err(map_err)?;

            let mut update = QueryBuilder::<Sqlite>::new(
                "UPDATE conversations SET last_seq = v.column2, status = v.column3, updated_at = v.column4, \
                 last_activity_at = v.column5, status_changed_at = v.column6, escalated_at = v.column7, \
                 first_agent_reply_at = v.column8 FROM (",
            );
            update.push_values(&plan.conversations, |mut b, c| {
                b.push_bind(id(c.id.0))
                    .push_bind(c.last_seq)
                    .push_bind(c.status.as_str())
                    .push_bind(c.updated_at.0)
                    .push_bind(c.last_activity_at.0)
                    .push_bind(c.status_changed_at.0)
                    .push_bind(c.escalated_at.map(|t| t.0))
                    .push_bind(c.first_agent_reply_at.map(|t| t.0));
            });
            update.push(") AS v WHERE conversations.id = v.column1");
            update.build().execute(&mut *tx).await.map_err(map_err)?;

            let mut outbox =
                QueryBuilder::<Sqlite>::new("INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) ");
            let mut payloads = Vec::with_capacity(plan.events.len());
            for (org, event, at) in &plan.events {
                payloads.push((org, event, to_json(event)?, at.0));
            }
            outbox.push_values(payloads, |mut b, (org, event, payload, at)| {
                b.push_bind(id(org.0))
                    .push_bind(id(event.conversation_id().0))
                    .push_bind(event.kind())
                    .push_bind(payload)
                    .push_bind(at);
            });
            outbox.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(plan.results)
    }
}
