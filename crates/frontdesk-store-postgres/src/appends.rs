//! Group commit for appended messages.
//!
//! On PostgreSQL the cost of an append is mostly per transaction: six round trips to a backend
//! (BEGIN, lock the conversation, insert, update, outbox, COMMIT) and a WAL flush, each paid in
//! the server's CPU on a small machine. So the appends that arrive on this node while one batch
//! is being written wait for it and are then written together, with one statement of each kind
//! for the whole batch (arrays through `UNNEST`, so every batch size uses the same prepared
//! statements). With no concurrency a batch is one message.
//!
//! The batch locks its conversations in id order (`FOR UPDATE`), as every batch on every node
//! does, so two nodes' batches cannot deadlock on each other. The rules of an append
//! ([`plan_appends`]) are applied in order within the batch, each on the conversation as the
//! previous append left it; an append that breaks a rule gets its error and writes nothing,
//! without failing the others. If the transaction fails as a whole, each append is retried
//! alone, so one bad append cannot fail the batch it happened to share.

use crate::{PgStore, conversation_from_row, map_err, sealing};
use frontdesk_core::events::DomainEvent;
use frontdesk_core::group_commit::{Batch, GroupCommit};
use frontdesk_core::ids::OrgId;
use frontdesk_core::model::{Conversation, Message};
use frontdesk_core::store::{AppendRequest, StoreError, StoreResult, plan_appends};
use frontdesk_core::time::Timestamp;
use frontdesk_crypto::fields;
use uuid::Uuid;

/// At most this many appends share a transaction.
pub(crate) const MAX_BATCH: usize = 64;

/// Batches written at once by one node: while one waits for its commit (the WAL flush), the
/// next can be on its way.
pub(crate) const LANES: usize = 3;

type AppendResult = StoreResult<(Message, Conversation)>;
pub(crate) type AppendQueue = GroupCommit<AppendRequest, AppendResult>;

impl PgStore {
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
        let mut tx = self.begin().await?;

        let mut ids: Vec<Uuid> = requests.iter().map(|r| r.message.conversation_id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        // In id order, like every batch: row locks taken in one order cannot deadlock.
        let rows = sqlx::query(concat!(
            "SELECT ",
            conversation_cols!(),
            " FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let conversations = rows.iter().map(conversation_from_row).collect::<StoreResult<Vec<_>>>()?;

        let plan = plan_appends(requests, conversations);
        if !plan.messages.is_empty() {
            self.insert_messages(&mut tx, &plan.messages).await?;
            update_conversations(&mut tx, &plan.conversations).await?;
            insert_events(&mut tx, &plan.events).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(plan.results)
    }

    async fn insert_messages(&self, tx: &mut sqlx::PgConnection, stored: &[Message]) -> StoreResult<()> {
        let seal = self.seal();
        let n = stored.len();
        let (mut ids, mut conversations, mut seqs, mut kinds, mut authors) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut bodies, mut htmls, mut citations, mut quick_replies, mut times, mut search) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for m in stored {
            ids.push(m.id.0);
            conversations.push(m.conversation_id.0);
            seqs.push(m.seq);
            kinds.push(m.author_kind.as_str());
            authors.push(m.author_id.map(|u| u.0));
            bodies.push(seal.text(fields::MESSAGE_BODY, &m.body).map_err(sealing)?);
            htmls.push(seal.text(fields::MESSAGE_HTML, &m.html).map_err(sealing)?);
            citations.push(to_json(&m.citations)?);
            quick_replies.push(to_json(&m.quick_replies)?);
            times.push(m.created_at.0);
            // What the full-text index reads: the body, or its word tokens when sealed.
            search.push(seal.search_text(&m.body));
        }
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, author_kind, author_id, body, html, citations, \
             quick_replies, reaction, created_at, search_text) \
             SELECT id, conversation_id, seq, author_kind, author_id, body, html, citations::jsonb, \
             quick_replies::jsonb, NULL, created_at, search_text \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::uuid[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::bigint[], $11::text[]) \
             AS m(id, conversation_id, seq, author_kind, author_id, body, html, citations, quick_replies, \
             created_at, search_text)",
        )
        .bind(ids)
        .bind(conversations)
        .bind(seqs)
        .bind(kinds)
        .bind(authors)
        .bind(bodies)
        .bind(htmls)
        .bind(citations)
        .bind(quick_replies)
        .bind(times)
        .bind(search)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

async fn update_conversations(tx: &mut sqlx::PgConnection, changed: &[Conversation]) -> StoreResult<()> {
    let (mut ids, mut seqs, mut statuses, mut updated, mut activity, mut status_changed, mut escalated, mut replied) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in changed {
        ids.push(c.id.0);
        seqs.push(c.last_seq);
        statuses.push(c.status.as_str());
        updated.push(c.updated_at.0);
        activity.push(c.last_activity_at.0);
        status_changed.push(c.status_changed_at.0);
        escalated.push(c.escalated_at.map(|t| t.0));
        replied.push(c.first_agent_reply_at.map(|t| t.0));
    }
    sqlx::query(
        "UPDATE conversations SET last_seq = v.last_seq, status = v.status, updated_at = v.updated_at, \
         last_activity_at = v.last_activity_at, status_changed_at = v.status_changed_at, \
         escalated_at = v.escalated_at, first_agent_reply_at = v.first_agent_reply_at \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], \
         $8::bigint[]) AS v(id, last_seq, status, updated_at, last_activity_at, status_changed_at, escalated_at, \
         first_agent_reply_at) WHERE conversations.id = v.id",
    )
    .bind(ids)
    .bind(seqs)
    .bind(statuses)
    .bind(updated)
    .bind(activity)
    .bind(status_changed)
    .bind(escalated)
    .bind(replied)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// The batch's events, in order. As for single events, the transaction id is taken before the
/// outbox ids (see `insert_events` in the crate root: the reader's "never skips" argument).
async fn insert_events(tx: &mut sqlx::PgConnection, events: &[(OrgId, DomainEvent, Timestamp)]) -> StoreResult<()> {
    let n = events.len();
    let (mut orgs, mut conversations, mut kinds, mut payloads, mut times) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (org, event, at) in events {
        orgs.push(org.0);
        conversations.push(event.conversation_id().0);
        kinds.push(event.kind());
        payloads.push(to_json(event)?);
        times.push(at.0);
    }
    sqlx::query(
        "INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) \
         SELECT org_id, conversation_id, kind, payload::jsonb, created_at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY \
         AS e(org_id, conversation_id, kind, payload, created_at, n) \
         WHERE pg_current_xact_id() IS NOT NULL ORDER BY n",
    )
    .bind(orgs)
    .bind(conversations)
    .bind(kinds)
    .bind(payloads)
    .bind(times)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot encode JSON: {e}")))
}
