//! The agents' dashboard: the inbox and its full-text search, read markers, assignment, private
//! notes, canned responses, the knowledge base's gap report, analytics and the audit log's filters.

use super::*;
use frontdesk_core::analytics::{ConversationStat, ReactionStat};
use frontdesk_core::inbox::{
    AssigneeFilter, CannedResponse, InboxFilter, InboxItem, MessagePreview, Note, UnansweredQuestion, preview,
};
use frontdesk_core::store::{AuditFilter, ConversionCount, PageCount};
use frontdesk_crypto::fields::{self, Seal};

const NOTE_COLS: &str = "id, org_id, conversation_id, author_id, body, html, mentions, created_at";
const CANNED_COLS: &str = "id, org_id, shortcut, title, body, created_at, updated_at";
pub(crate) const UNANSWERED_COLS: &str = "id, org_id, site_id, conversation_id, message_id, question, created_at";

/// The conversation columns qualified by the alias `c`, for queries that join other tables with
/// columns of the same names. The result columns keep the plain names `conversation_from_row` reads.
macro_rules! c_conversation_cols {
    () => {
        "c.id, c.org_id, c.site_id, c.visitor_id, c.status, c.assignee_id, c.page_url, c.locale, c.params, \
         c.last_seq, c.token_generation, c.created_at, c.updated_at, c.last_activity_at, c.status_changed_at, \
         c.escalated_at, c.first_agent_reply_at"
    };
}

/// Turns what an agent typed into an FTS5 query that means "every word, the last one as a prefix"
/// and nothing else: `"word1" "word2"*`. `None` when the text has no word.
///
/// Only runs of letters and digits survive, each a double-quoted string (a quote inside would be
/// doubled, though a run of letters and digits has none). FTS5 reads a quoted string as text, never
/// as syntax, so `OR`, `NEAR(`, `*`, `^`, `-`, `column:` and quotes from the user are inert; the
/// statement still binds the result as a parameter.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let (last, rest) = words.split_last()?;
    let quoted = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
    let mut query: Vec<String> = rest.iter().map(|w| quoted(w)).collect();
    query.push(format!("{}*", quoted(last)));
    // Phrases separated by spaces are ANDed.
    Some(query.join(" "))
}

fn note_from_row(row: &SqliteRow) -> StoreResult<Note> {
    Ok(Note {
        id: NoteId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        conversation_id: ConversationId(uuid_at(row, "conversation_id")?),
        author_id: UserId(uuid_at(row, "author_id")?),
        body: get(row, "body")?,
        html: get(row, "html")?,
        mentions: json_at(row, "mentions")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn canned_from_row(row: &SqliteRow) -> StoreResult<CannedResponse> {
    Ok(CannedResponse {
        id: CannedResponseId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        shortcut: get(row, "shortcut")?,
        title: get(row, "title")?,
        body: get(row, "body")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

pub(crate) fn unanswered_from_row(seal: Seal<'_>, row: &SqliteRow) -> StoreResult<UnansweredQuestion> {
    Ok(UnansweredQuestion {
        id: UnansweredId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        conversation_id: ConversationId(uuid_at(row, "conversation_id")?),
        message_id: MessageId(uuid_at(row, "message_id")?),
        question: seal.open(fields::UNANSWERED_QUESTION, get(row, "question")?).map_err(sealing)?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn stars_at(row: &SqliteRow, column: &str) -> StoreResult<Option<u8>> {
    match get::<Option<i64>>(row, column)? {
        Some(stars) => u8::try_from(stars).map(Some).map_err(|e| corrupt(column, e)),
        None => Ok(None),
    }
}

fn inbox_item_from_row(seal: Seal<'_>, row: &SqliteRow) -> StoreResult<InboxItem> {
    let last_kind: Option<String> = get(row, "last_author_kind")?;
    let last_message = match last_kind {
        Some(kind) => {
            let body = seal.open(fields::MESSAGE_BODY, get(row, "last_body")?).map_err(sealing)?;
            Some(MessagePreview {
                author_kind: AuthorKind::parse(&kind).ok_or_else(|| corrupt("author_kind", kind))?,
                body: preview(&body),
                created_at: ts_at(row, "last_created_at")?,
            })
        }
        None => None,
    };
    Ok(InboxItem {
        conversation: conversation_from_row(row)?,
        visitor_name: seal.open_opt(fields::VISITOR_NAME, get(row, "visitor_name")?).map_err(sealing)?,
        visitor_email: seal.open_opt(fields::VISITOR_EMAIL, get(row, "visitor_email")?).map_err(sealing)?,
        last_message,
        unread: get(row, "unread")?,
        rating: stars_at(row, "rating")?,
    })
}

/// `AND <site column> = ?` when a site is given.
fn push_site(q: &mut QueryBuilder<'_, Sqlite>, column: &str, site_id: Option<SiteId>) {
    if let Some(site_id) = site_id {
        q.push(format_args!(" AND {column} = ")).push_bind(id(site_id.0));
    }
}

impl SqliteStore {
    pub(crate) async fn inbox_rows(
        &self,
        org_id: OrgId,
        viewer: UserId,
        filter: &InboxFilter,
    ) -> StoreResult<Vec<InboxItem>> {
        let fts = match filter.text.as_deref() {
            // Sealed bodies are indexed as word tokens: the words searched for become tokens too.
            Some(text) => match fts_query(&self.seal().search_query(text)) {
                Some(query) => Some(query),
                // Nothing to search for: nothing matches (rather than everything).
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut q = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            c_conversation_cols!(),
            ", v.name AS visitor_name, v.email AS visitor_email, \
             m.author_kind AS last_author_kind, m.body AS last_body, m.created_at AS last_created_at, \
             MAX(c.last_seq - COALESCE(r.seq, 0), 0) AS unread, rt.stars AS rating \
             FROM conversations c \
             JOIN visitors v ON v.id = c.visitor_id \
             LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq \
             LEFT JOIN ratings rt ON rt.conversation_id = c.id \
             LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = "
        ));
        q.push_bind(id(viewer.0));
        q.push(" WHERE c.org_id = ").push_bind(id(org_id.0));
        if let Some(status) = filter.status {
            q.push(" AND c.status = ").push_bind(status.as_str());
        }
        push_site(&mut q, "c.site_id", filter.site_id);
        match filter.assignee {
            AssigneeFilter::Anyone => {}
            AssigneeFilter::Unassigned => {
                q.push(" AND c.assignee_id IS NULL");
            }
            AssigneeFilter::User(user) => {
                q.push(" AND c.assignee_id = ").push_bind(id(user.0));
            }
        }
        // Unrated conversations have NULL stars, which no comparison lets through.
        if let Some(min) = filter.rating_min {
            q.push(" AND rt.stars >= ").push_bind(i64::from(min));
        }
        if let Some(max) = filter.rating_max {
            q.push(" AND rt.stars <= ").push_bind(i64::from(max));
        }
        if let Some(query) = fts {
            // Uncorrelated, so the full-text match runs once, not once per conversation.
            q.push(
                " AND c.id IN (SELECT fm.conversation_id FROM messages_fts \
                 JOIN messages fm ON fm.search_rowid = messages_fts.rowid WHERE messages_fts MATCH ",
            )
            .push_bind(query)
            .push(")");
        }
        if let Some(after) = filter.after {
            // The rows after the cursor in the order below (key, then id as the tie-break).
            let (column, later) =
                if filter.oldest_first { ("c.status_changed_at", ">") } else { ("c.updated_at", "<") };
            q.push(format_args!(" AND ({column} {later} ")).push_bind(after.at.0);
            q.push(format_args!(" OR ({column} = ")).push_bind(after.at.0);
            q.push(format_args!(" AND c.id {later} ")).push_bind(id(after.id.0)).push("))");
        }
        q.push(if filter.oldest_first {
            " ORDER BY c.status_changed_at ASC, c.id ASC"
        } else {
            " ORDER BY c.updated_at DESC, c.id DESC"
        });
        q.push(" LIMIT ").push_bind(effective_limit(filter.limit, 50, 200));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(|r| inbox_item_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn mark_read_row(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        user_id: UserId,
        seq: i64,
    ) -> StoreResult<()> {
        // Inserts only for a conversation of the organization; MAX keeps the marker from moving
        // back when two tabs report out of order.
        let done = sqlx::query(
            "INSERT INTO conversation_reads (conversation_id, user_id, seq) \
             SELECT id, ?, ? FROM conversations WHERE id = ? AND org_id = ? \
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        )
        .bind(id(user_id.0))
        .bind(seq)
        .bind(id(conversation_id.0))
        .bind(id(org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn assign_row(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        assignee: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        let mut tx = self.write_tx().await?;
        let current = conversation_in_tx(&mut tx, org_id, conversation_id).await?;
        if let Some(user) = assignee {
            let member: Option<i64> = sqlx::query_scalar("SELECT 1 FROM memberships WHERE org_id = ? AND user_id = ?")
                .bind(id(org_id.0))
                .bind(id(user.0))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if member.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        // Like every other write, updated_at never moves back (another node's clock may be behind).
        let row = sqlx::query(concat!(
            "UPDATE conversations SET assignee_id = ?, updated_at = ? WHERE id = ? RETURNING ",
            conversation_cols!()
        ))
        .bind(opt_id(assignee.map(|u| u.0)))
        .bind(current.updated_at.max(at).0)
        .bind(id(conversation_id.0))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let conversation = conversation_from_row(&row)?;
        let event = DomainEvent::Assigned { conversation_id, assignee_id: assignee };
        insert_events(&mut tx, org_id, &[event], Some(at)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(conversation)
    }

    pub(crate) async fn create_note_row(&self, n: &Note) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        conversation_in_tx(&mut tx, n.org_id, n.conversation_id).await?;
        sqlx::query(&format!("INSERT INTO notes ({NOTE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(id(n.id.0))
            .bind(id(n.org_id.0))
            .bind(id(n.conversation_id.0))
            .bind(id(n.author_id.0))
            .bind(&n.body)
            .bind(&n.html)
            .bind(to_json(&n.mentions)?)
            .bind(n.created_at.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let event = DomainEvent::NoteCreated {
            conversation_id: n.conversation_id,
            note_id: n.id,
            author_id: n.author_id,
            mentions: n.mentions.clone(),
        };
        insert_events(&mut tx, n.org_id, &[event], Some(n.created_at)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn list_note_rows(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Vec<Note>> {
        // The existence check and the list read one snapshot.
        let mut tx = self.reader.begin().await.map_err(map_err)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = ? AND org_id = ?")
            .bind(id(conversation_id.0))
            .bind(id(org_id.0))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let rows = sqlx::query(&format!(
            "SELECT {NOTE_COLS} FROM notes WHERE conversation_id = ? AND org_id = ? ORDER BY created_at, id"
        ))
        .bind(id(conversation_id.0))
        .bind(id(org_id.0))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        rows.iter().map(note_from_row).collect()
    }

    pub(crate) async fn put_canned_row(&self, r: &CannedResponse) -> StoreResult<()> {
        // One statement: a new id inserts; an id of this organization is replaced (keeping its
        // created_at); an id of another organization matches the WHERE of no row, so nothing is
        // written and the answer is "not found". A taken shortcut fails the UNIQUE constraint.
        let done = sqlx::query(&format!(
            "INSERT INTO canned_responses ({CANNED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET shortcut = excluded.shortcut, title = excluded.title, \
             body = excluded.body, updated_at = excluded.updated_at \
             WHERE canned_responses.org_id = excluded.org_id"
        ))
        .bind(id(r.id.0))
        .bind(id(r.org_id.0))
        .bind(&r.shortcut)
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.created_at.0)
        .bind(r.updated_at.0)
        .execute(&self.writer)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict("the shortcut is in use".to_owned()),
            other => other,
        })?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_canned_row(&self, org_id: OrgId, response_id: CannedResponseId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM canned_responses WHERE id = ? AND org_id = ?")
            .bind(id(response_id.0))
            .bind(id(org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn list_canned_rows(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>> {
        let rows =
            sqlx::query(&format!("SELECT {CANNED_COLS} FROM canned_responses WHERE org_id = ? ORDER BY shortcut, id"))
                .bind(id(org_id.0))
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
        rows.iter().map(canned_from_row).collect()
    }

    pub(crate) async fn record_unanswered_row(&self, u: &UnansweredQuestion) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO unanswered_questions ({UNANSWERED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"))
            .bind(id(u.id.0))
            .bind(id(u.org_id.0))
            .bind(id(u.site_id.0))
            .bind(id(u.conversation_id.0))
            .bind(id(u.message_id.0))
            .bind(self.seal().text(fields::UNANSWERED_QUESTION, &u.question).map_err(sealing)?)
            .bind(u.created_at.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn list_unanswered_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {UNANSWERED_COLS} FROM unanswered_questions WHERE org_id = "));
        q.push_bind(id(org_id.0));
        q.push(" AND created_at >= ").push_bind(since.0);
        push_site(&mut q, "site_id", site_id);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(effective_limit(limit, 500, 2000));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(|r| unanswered_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn conversation_stat_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversationStat>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT c.id, c.site_id, c.created_at, c.status, c.escalated_at, c.first_agent_reply_at, \
             COALESCE(rt.stars, c.erased_rating) AS rating, c.erased_assistant_messages + \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'assistant') \
               AS assistant_messages, c.erased_agent_messages + \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent') \
               AS agent_messages \
             FROM conversations c LEFT JOIN ratings rt ON rt.conversation_id = c.id WHERE c.org_id = ",
        );
        q.push_bind(id(org_id.0));
        q.push(" AND c.created_at >= ").push_bind(from.0);
        q.push(" AND c.created_at < ").push_bind(to.0);
        push_site(&mut q, "c.site_id", site_id);
        q.push(" ORDER BY c.created_at, c.id");
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ConversationStat {
                    id: ConversationId(uuid_at(row, "id")?),
                    site_id: SiteId(uuid_at(row, "site_id")?),
                    created_at: ts_at(row, "created_at")?,
                    status: status_at(row, "status")?,
                    escalated_at: opt_ts_at(row, "escalated_at")?,
                    first_agent_reply_at: opt_ts_at(row, "first_agent_reply_at")?,
                    rating: stars_at(row, "rating")?,
                    assistant_messages: get(row, "assistant_messages")?,
                    agent_messages: get(row, "agent_messages")?,
                })
            })
            .collect()
    }

    pub(crate) async fn reaction_stat_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ReactionStat>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT m.created_at, m.reaction FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.reaction IS NOT NULL AND c.org_id = ",
        );
        q.push_bind(id(org_id.0));
        q.push(" AND m.created_at >= ").push_bind(from.0);
        q.push(" AND m.created_at < ").push_bind(to.0);
        push_site(&mut q, "c.site_id", site_id);
        q.push(" ORDER BY m.created_at");
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                let reaction: String = get(row, "reaction")?;
                Ok(ReactionStat {
                    at: ts_at(row, "created_at")?,
                    reaction: Reaction::parse(&reaction).ok_or_else(|| corrupt("reaction", reaction))?,
                })
            })
            .collect()
    }

    pub(crate) async fn top_page_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PageCount>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT e.url, MAX(e.title) AS title, COUNT(*) AS views, COUNT(DISTINCT e.visitor_id) AS visitors \
             FROM visitor_events e JOIN sites s ON s.id = e.site_id \
             WHERE e.kind = 'page_view' AND e.url IS NOT NULL AND s.org_id = ",
        );
        q.push_bind(id(org_id.0));
        q.push(" AND e.created_at >= ").push_bind(from.0);
        q.push(" AND e.created_at < ").push_bind(to.0);
        push_site(&mut q, "e.site_id", site_id);
        // The URL breaks ties, so equal counts list in a stable order.
        q.push(" GROUP BY e.url ORDER BY views DESC, e.url LIMIT ").push_bind(effective_limit(limit, 20, 100));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(PageCount {
                    url: get(row, "url")?,
                    title: get(row, "title")?,
                    views: get(row, "views")?,
                    visitors: get(row, "visitors")?,
                })
            })
            .collect()
    }

    pub(crate) async fn conversion_count_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversionCount>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT e.name, COUNT(*) AS count, COUNT(DISTINCT e.visitor_id) AS visitors \
             FROM visitor_events e JOIN sites s ON s.id = e.site_id \
             WHERE e.kind = 'conversion' AND e.name IS NOT NULL AND s.org_id = ",
        );
        q.push_bind(id(org_id.0));
        q.push(" AND e.created_at >= ").push_bind(from.0);
        q.push(" AND e.created_at < ").push_bind(to.0);
        push_site(&mut q, "e.site_id", site_id);
        q.push(" GROUP BY e.name ORDER BY count DESC, e.name");
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ConversionCount {
                    name: get(row, "name")?,
                    count: get(row, "count")?,
                    visitors: get(row, "visitors")?,
                })
            })
            .collect()
    }

    pub(crate) async fn list_audit_rows(
        &self,
        org_id: OrgId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<frontdesk_core::audit::AuditRecord>> {
        let mut q = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            audit_cols!(),
            ", seq, prev_hash, hash FROM audit_events WHERE org_id = "
        ));
        q.push_bind(id(org_id.0));
        if let Some(actor) = filter.actor_id {
            q.push(" AND actor_id = ").push_bind(id(actor.0));
        }
        match filter.action.as_deref() {
            // A prefix compares the leading characters, so `%` and `_` mean themselves (LIKE would
            // need escaping, and is case-insensitive in SQLite).
            Some(prefix) if prefix.ends_with('.') => {
                q.push(" AND substr(action, 1, length(").push_bind(prefix.to_owned()).push(")) = ");
                q.push_bind(prefix.to_owned());
            }
            Some(action) => {
                q.push(" AND action = ").push_bind(action.to_owned());
            }
            None => {}
        }
        if let Some(from) = filter.from {
            q.push(" AND created_at >= ").push_bind(from.0);
        }
        if let Some(to) = filter.to {
            q.push(" AND created_at < ").push_bind(to.0);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(effective_limit(filter.limit, 100, 10_000));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(super::audit::record_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn search_text_becomes_quoted_words_with_a_final_prefix() {
        assert_eq!(fts_query("parcel").as_deref(), Some("\"parcel\"*"));
        assert_eq!(fts_query("  Tracking   parcel ").as_deref(), Some("\"Tracking\" \"parcel\"*"));
        assert_eq!(fts_query("parcel OR invoice").as_deref(), Some("\"parcel\" \"OR\" \"invoice\"*"));
        assert_eq!(fts_query("NEAR(a b)").as_deref(), Some("\"NEAR\" \"a\" \"b\"*"));
        assert_eq!(fts_query("body:parcel*").as_deref(), Some("\"body\" \"parcel\"*"));
        assert_eq!(fts_query("'; DROP TABLE messages; --").as_deref(), Some("\"DROP\" \"TABLE\" \"messages\"*"));
        assert_eq!(fts_query("café 12345").as_deref(), Some("\"café\" \"12345\"*"));
    }

    #[test]
    fn text_without_a_word_is_no_query() {
        for text in ["", "   ", "\"", "*", "%", "_", "-", "\"\"", "()", ":*", "<->"] {
            assert_eq!(fts_query(text), None, "{text:?}");
        }
    }
}
