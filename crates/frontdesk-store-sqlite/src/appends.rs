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
//! The rules of an append ([`append_to`]) are applied in order within the batch, each on the
//! conversation as the previous append left it, so a batch writes exactly what the same appends
//! made one by one would have. An append that breaks a rule (closed conversation, status
//! compare-and-set lost, another organization's conversation) gets its error and writes nothing,
//! without failing the others. If the batch's transaction fails as a whole, each append is
//! retried alone, so one bad append cannot fail the batch it happened to share.

use crate::{SqliteStore, conversation_from_row, id, map_err, sealing, to_json};
use frontdesk_core::events::DomainEvent;
use frontdesk_core::group_commit::{Batch, GroupCommit};
use frontdesk_core::ids::{ConversationId, OrgId};
use frontdesk_core::model::{Conversation, Message, NewMessage};
use frontdesk_core::store::{StatusChange, StoreError, StoreResult, append_to};
use frontdesk_crypto::fields;
use sqlx::{QueryBuilder, Sqlite};
use std::collections::HashMap;

/// At most this many appends share a transaction (their bind parameters stay far below SQLite's
/// limit, and one batch cannot hold the writer for long).
pub(crate) const MAX_BATCH: usize = 64;

/// One batch at a time: SQLite has one writer.
pub(crate) const LANES: usize = 1;

type AppendResult = StoreResult<(Message, Conversation)>;
pub(crate) type AppendQueue = GroupCommit<AppendRequest, AppendResult>;

/// One append waiting for its batch.
pub(crate) struct AppendRequest {
    pub org_id: OrgId,
    pub message: NewMessage,
    pub status: Option<StatusChange>,
    pub visitor_activity: bool,
}

impl SqliteStore {
    /// Appends one message, written in a batch with the appends that arrive meanwhile.
    pub(crate) async fn append_grouped(&self, request: AppendRequest) -> AppendResult {
        let write = |batch: Batch<AppendRequest, AppendResult>| {
            // In a task of its own, so that a caller who goes away mid-write (a closed HTTP
            // connection drops the request's future) cannot cut the batch of the others short.
            let store = self.clone();
            let task = tokio::spawn(async move { store.write_batch(batch).await });
            async move {
                if task.await.is_err() {
                    tracing::error!("a batch of appended messages panicked");
                }
            }
        };
        self.appends.submit(request, write).await.unwrap_or_else(|e| Err(StoreError::Backend(e.to_string())))
    }

    async fn write_batch(&self, batch: Batch<AppendRequest, AppendResult>) {
        let requests = batch.requests();
        let results = match self.append_batch(requests).await {
            Ok(results) => results,
            Err(e) if requests.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::debug!(error = %e, size = requests.len(), "a batch of appends failed; writing them one by one");
                let mut results = Vec::with_capacity(requests.len());
                for request in requests {
                    results.push(match self.append_batch(std::slice::from_ref(request)).await {
                        Ok(mut one) => one.pop().unwrap_or_else(|| Err(StoreError::Backend("no result".to_owned()))),
                        Err(e) => Err(e),
                    });
                }
                results
            }
        };
        batch.finish(results);
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
        let mut conversations: HashMap<ConversationId, Conversation> = HashMap::with_capacity(ids.len());
        for row in read.build().fetch_all(&mut *tx).await.map_err(map_err)? {
            let c = conversation_from_row(&row)?;
            conversations.insert(c.id, c);
        }

        let mut results = Vec::with_capacity(requests.len());
        let mut stored: Vec<Message> = Vec::new();
        let mut events: Vec<(OrgId, DomainEvent, i64)> = Vec::new();
        let mut changed: Vec<ConversationId> = Vec::new();
        for request in requests {
            let conversation_id = request.message.conversation_id;
            let result = match conversations.get(&conversation_id).filter(|c| c.org_id == request.org_id) {
                None => Err(StoreError::NotFound),
                Some(current) => append_to(current, &request.message, request.status, request.visitor_activity),
            };
            if let Ok((message, conversation)) = &result {
                let transition = request.status.map(|c| (c.from, c.to));
                for event in DomainEvent::for_message(message, transition) {
                    events.push((request.org_id, event, message.created_at.0));
                }
                if !changed.contains(&conversation_id) {
                    changed.push(conversation_id);
                }
                stored.push(message.clone());
                conversations.insert(conversation_id, conversation.clone());
            }
            results.push(result);
        }

        if !stored.is_empty() {
            let seal = self.seal();
            let mut rows = Vec::with_capacity(stored.len());
            for m in &stored {
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
            update.push_values(changed.iter().filter_map(|c| conversations.get(c)), |mut b, c| {
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
            let mut payloads = Vec::with_capacity(events.len());
            for (org, event, at) in &events {
                payloads.push((org, event, to_json(event)?, *at));
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
        Ok(results)
    }
}
