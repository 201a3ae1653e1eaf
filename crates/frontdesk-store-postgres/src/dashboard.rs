//! The agents' dashboard: the inbox with its read markers, assignment, private notes, canned
//! responses, the knowledge base's gap report, analytics and the audit log's filters.

use super::*;
use frontdesk_core::analytics::{ConversationStat, ReactionStat};
use frontdesk_core::inbox::{
    AssigneeFilter, CannedResponse, InboxFilter, InboxItem, MessagePreview, Note, PREVIEW_CHARS, UnansweredQuestion,
    preview,
};
use frontdesk_core::store::{AuditFilter, ConversionCount, PageCount};
use frontdesk_crypto::fields::{self, Seal};

const NOTE_COLS: &str = "id, org_id, conversation_id, author_id, body, html, mentions, created_at";
const CANNED_COLS: &str = "id, org_id, shortcut, title, body, created_at, updated_at";
pub(crate) const UNANSWERED_COLS: &str = "id, org_id, site_id, conversation_id, message_id, question, created_at";

/// How much of a search text is used: a search box's worth. PostgreSQL's tsquery parser recurses
/// per operand, and a query of a hundred thousand words overflows its stack.
const SEARCH_MAX_CHARS: usize = 256;

/// A full-text search, ready to bind: the user's words as a tsquery of our own making, and the
/// raw text for `plainto_tsquery`.
#[derive(Debug, PartialEq)]
struct TextSearch {
    /// `'w1' & 'w2' & 'last':*`, for `to_tsquery('simple', …)`.
    words: String,
    /// The (shortened) text as typed, for `plainto_tsquery('simple', …)`.
    raw: String,
}

/// Turns what someone typed into a search, or `None` when it has no word to look for (such a
/// search matches nothing).
///
/// The user's text is never read as tsquery syntax: it is cut into runs of letters and digits,
/// each quoted as one lexeme (they hold no quote or backslash, and the escaping below is only a
/// second line of defence), all required, the last one also as a prefix, so a word being typed
/// already matches. The raw text also goes to `plainto_tsquery`, which ignores all syntax: it
/// matches what PostgreSQL's parser keeps whole (`support@example.com`, `1.2.3`), which the
/// split into letters and digits cannot.
fn text_search(text: &str) -> Option<TextSearch> {
    let raw: String = text.chars().take(SEARCH_MAX_CHARS).collect();
    let words: Vec<&str> = raw.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let (last, rest) = words.split_last()?;
    let quote = |word: &str| format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"));
    let mut query: Vec<String> = rest.iter().map(|w| quote(w)).collect();
    query.push(format!("{}:*", quote(last)));
    Some(TextSearch { words: query.join(" & "), raw })
}

fn stars_at(row: &PgRow, column: &str) -> StoreResult<Option<u8>> {
    match get::<Option<i16>>(row, column)? {
        Some(stars) => u8::try_from(stars).map(Some).map_err(|e| corrupt(column, e)),
        None => Ok(None),
    }
}

fn inbox_item_from_row(seal: Seal<'_>, row: &PgRow) -> StoreResult<InboxItem> {
    let last_message = match get::<Option<String>>(row, "last_author_kind")? {
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

fn note_from_row(row: &PgRow) -> StoreResult<Note> {
    Ok(Note {
        id: NoteId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        conversation_id: ConversationId(get(row, "conversation_id")?),
        author_id: UserId(get(row, "author_id")?),
        body: get(row, "body")?,
        html: get(row, "html")?,
        mentions: json_at(row, "mentions")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn canned_from_row(row: &PgRow) -> StoreResult<CannedResponse> {
    Ok(CannedResponse {
        id: CannedResponseId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        shortcut: get(row, "shortcut")?,
        title: get(row, "title")?,
        body: get(row, "body")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

pub(crate) fn unanswered_from_row(seal: Seal<'_>, row: &PgRow) -> StoreResult<UnansweredQuestion> {
    Ok(UnansweredQuestion {
        id: UnansweredId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        site_id: SiteId(get(row, "site_id")?),
        conversation_id: ConversationId(get(row, "conversation_id")?),
        message_id: MessageId(get(row, "message_id")?),
        question: seal.open(fields::UNANSWERED_QUESTION, get(row, "question")?).map_err(sealing)?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn count_at(row: &PgRow, column: &str) -> StoreResult<i64> {
    get(row, column)
}

impl PgStore {
    pub(crate) async fn inbox_rows(
        &self,
        org_id: OrgId,
        viewer: UserId,
        filter: &InboxFilter,
    ) -> StoreResult<Vec<InboxItem>> {
        let search = match filter.text.as_deref() {
            // Sealed bodies are indexed as word tokens: the words searched for become tokens too.
            Some(text) => match text_search(&self.seal().search_query(text)) {
                Some(search) => Some(search),
                // Nothing to look for: nothing matches (and no query is worth sending).
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        // The conversation's columns come from the subquery under their own names, so
        // `conversation_from_row` reads them; every other column has a name of its own.
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT c.*, v.name AS visitor_name, v.email AS visitor_email, m.author_kind AS last_author_kind, \
             m.created_at AS last_created_at, GREATEST(c.last_seq - COALESCE(r.seq, 0), 0) AS unread, \
             rt.stars AS rating, left(m.body, ",
        );
        // One character more than a preview keeps: enough for `preview` to know it must cut,
        // without reading whole long messages for a list.
        q.push_bind(i32::try_from(PREVIEW_CHARS + 1).unwrap_or(i32::MAX));
        q.push(concat!(") AS last_body FROM (SELECT ", conversation_cols!(), " FROM conversations WHERE org_id = "));
        q.push_bind(org_id.0);
        q.push(
            ") c LEFT JOIN visitors v ON v.id = c.visitor_id \
             LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq \
             LEFT JOIN ratings rt ON rt.conversation_id = c.id \
             LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = ",
        );
        q.push_bind(viewer.0);
        q.push(" WHERE TRUE");
        if let Some(status) = filter.status {
            q.push(" AND c.status = ").push_bind(status.as_str());
        }
        if let Some(site_id) = filter.site_id {
            q.push(" AND c.site_id = ").push_bind(site_id.0);
        }
        match filter.assignee {
            AssigneeFilter::Anyone => {}
            AssigneeFilter::Unassigned => {
                q.push(" AND c.assignee_id IS NULL");
            }
            AssigneeFilter::User(user) => {
                q.push(" AND c.assignee_id = ").push_bind(user.0);
            }
        }
        // A bound leaves out unrated conversations: a comparison with NULL is never true.
        if let Some(min) = filter.rating_min {
            q.push(" AND rt.stars >= ").push_bind(i16::from(min));
        }
        if let Some(max) = filter.rating_max {
            q.push(" AND rt.stars <= ").push_bind(i16::from(max));
        }
        if let Some(search) = search {
            // The same expression as the `messages_search_fts` index, so the index answers it.
            q.push(
                " AND EXISTS (SELECT 1 FROM messages fm WHERE fm.conversation_id = c.id \
                 AND to_tsvector('simple', fm.search_text) @@ (to_tsquery('simple', ",
            )
            .push_bind(search.words)
            .push(") || plainto_tsquery('simple', ")
            .push_bind(search.raw)
            .push(")))");
        }
        if let Some(after) = filter.after {
            // The rows after the cursor in the order below (key, then id as the tie-break).
            let (column, later) =
                if filter.oldest_first { ("c.status_changed_at", ">") } else { ("c.updated_at", "<") };
            q.push(format_args!(" AND ({column} {later} ")).push_bind(after.at.0);
            q.push(format_args!(" OR ({column} = ")).push_bind(after.at.0);
            q.push(format_args!(" AND c.id {later} ")).push_bind(after.id.0).push("))");
        }
        if filter.oldest_first {
            q.push(" ORDER BY c.status_changed_at ASC, c.id ASC");
        } else {
            q.push(" ORDER BY c.updated_at DESC, c.id DESC");
        }
        q.push(" LIMIT ").push_bind(effective_limit(filter.limit, 50, 200));
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|r| inbox_item_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn mark_read_row(
        &self,
        org_id: OrgId,
        id: ConversationId,
        user_id: UserId,
        seq: i64,
    ) -> StoreResult<()> {
        // Written only for a conversation of the organization; the marker never moves back, even
        // when two tabs report out of order.
        let done = sqlx::query(
            "INSERT INTO conversation_reads (conversation_id, user_id, seq) \
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND org_id = $4) \
             ON CONFLICT (conversation_id, user_id) DO UPDATE \
             SET seq = GREATEST(conversation_reads.seq, EXCLUDED.seq)",
        )
        .bind(id.0)
        .bind(user_id.0)
        .bind(seq)
        .bind(org_id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn assign_conversation_row(
        &self,
        org_id: OrgId,
        id: ConversationId,
        assignee: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        if let Some(user) = assignee {
            // KEY SHARE keeps the membership from being deleted until this commits, without
            // blocking a change of its role.
            let member: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2 FOR KEY SHARE")
                    .bind(org_id.0)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
            if member.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        // Times never move backwards, as in `change_status`.
        let row = sqlx::query(concat!(
            "UPDATE conversations SET assignee_id = $1, updated_at = GREATEST(updated_at, $2) \
             WHERE id = $3 AND org_id = $4 RETURNING ",
            conversation_cols!()
        ))
        .bind(assignee.map(|u| u.0))
        .bind(at.0)
        .bind(id.0)
        .bind(org_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let conversation = conversation_from_row(&row)?;
        let event = DomainEvent::Assigned { conversation_id: id, assignee_id: assignee };
        insert_events(&mut tx, org_id, &[event], Some(at)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(conversation)
    }

    pub(crate) async fn create_note_row(&self, note: &Note) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Inserted only on a conversation of the note's organization: anything else is "not found".
        let done = sqlx::query(&format!(
            "INSERT INTO notes ({NOTE_COLS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $3 AND org_id = $2)"
        ))
        .bind(note.id.0)
        .bind(note.org_id.0)
        .bind(note.conversation_id.0)
        .bind(note.author_id.0)
        .bind(&note.body)
        .bind(&note.html)
        .bind(Json(&note.mentions))
        .bind(note.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        expect_one_row(done)?;
        let event = DomainEvent::NoteCreated {
            conversation_id: note.conversation_id,
            note_id: note.id,
            author_id: note.author_id,
            mentions: note.mentions.clone(),
        };
        insert_events(&mut tx, note.org_id, &[event], Some(note.created_at)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn list_note_rows(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Vec<Note>> {
        // One query tells both: no row means no such conversation in the organization; a row
        // without a note means a conversation without notes.
        let rows = sqlx::query(
            "SELECT c.id AS conversation, n.id, n.org_id, n.conversation_id, n.author_id, n.body, n.html, \
             n.mentions, n.created_at \
             FROM conversations c LEFT JOIN notes n ON n.conversation_id = c.id AND n.org_id = c.org_id \
             WHERE c.id = $1 AND c.org_id = $2 ORDER BY n.created_at, n.id",
        )
        .bind(id.0)
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut notes = Vec::with_capacity(rows.len());
        for row in &rows {
            if get::<Option<Uuid>>(row, "id")?.is_some() {
                notes.push(note_from_row(row)?);
            }
        }
        Ok(notes)
    }

    pub(crate) async fn put_canned_response_row(&self, r: &CannedResponse) -> StoreResult<()> {
        // Replaces by id, only within the organization: an id of another organization updates
        // nothing and is "not found". A shortcut taken by another response of the organization
        // violates UNIQUE (org_id, shortcut), which no ON CONFLICT clause here absorbs.
        let done = sqlx::query(&format!(
            "INSERT INTO canned_responses ({CANNED_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET shortcut = EXCLUDED.shortcut, title = EXCLUDED.title, \
             body = EXCLUDED.body, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at \
             WHERE canned_responses.org_id = EXCLUDED.org_id"
        ))
        .bind(r.id.0)
        .bind(r.org_id.0)
        .bind(&r.shortcut)
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.created_at.0)
        .bind(r.updated_at.0)
        .execute(&self.pool)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict("the shortcut is taken".to_owned()),
            other => other,
        })?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_canned_response_row(&self, org_id: OrgId, id: CannedResponseId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM canned_responses WHERE id = $1 AND org_id = $2")
            .bind(id.0)
            .bind(org_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn list_canned_response_rows(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>> {
        // Byte order ("C"), whatever the database's collation: the order SQLite gives too.
        let rows = sqlx::query(&format!(
            "SELECT {CANNED_COLS} FROM canned_responses WHERE org_id = $1 ORDER BY shortcut COLLATE \"C\", id"
        ))
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(canned_from_row).collect()
    }

    pub(crate) async fn record_unanswered_row(&self, u: &UnansweredQuestion) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO unanswered_questions ({UNANSWERED_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(u.id.0)
        .bind(u.org_id.0)
        .bind(u.site_id.0)
        .bind(u.conversation_id.0)
        .bind(u.message_id.0)
        .bind(self.seal().text(fields::UNANSWERED_QUESTION, &u.question).map_err(sealing)?)
        .bind(u.created_at.0)
        .execute(&self.pool)
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
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {UNANSWERED_COLS} FROM unanswered_questions WHERE org_id = "
        ));
        q.push_bind(org_id.0);
        q.push(" AND created_at >= ").push_bind(since.0);
        if let Some(site_id) = site_id {
            q.push(" AND site_id = ").push_bind(site_id.0);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(effective_limit(limit, 500, 2000));
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|r| unanswered_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn conversation_stat_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversationStat>> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT c.id, c.site_id, c.created_at, c.status, c.escalated_at, c.first_agent_reply_at, \
             COALESCE(rt.stars, c.erased_rating) AS rating, \
             mc.assistant_messages + c.erased_assistant_messages AS assistant_messages, \
             mc.agent_messages + c.erased_agent_messages AS agent_messages \
             FROM conversations c LEFT JOIN ratings rt ON rt.conversation_id = c.id \
             CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE author_kind = ",
        );
        q.push_bind(AuthorKind::Assistant.as_str());
        q.push(") AS assistant_messages, count(*) FILTER (WHERE author_kind = ");
        q.push_bind(AuthorKind::Agent.as_str());
        q.push(") AS agent_messages FROM messages WHERE conversation_id = c.id) mc WHERE c.org_id = ");
        q.push_bind(org_id.0);
        q.push(" AND c.created_at >= ").push_bind(from.0);
        q.push(" AND c.created_at < ").push_bind(to.0);
        if let Some(site_id) = site_id {
            q.push(" AND c.site_id = ").push_bind(site_id.0);
        }
        q.push(" ORDER BY c.created_at, c.id");
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ConversationStat {
                    id: ConversationId(get(row, "id")?),
                    site_id: SiteId(get(row, "site_id")?),
                    created_at: ts_at(row, "created_at")?,
                    status: status_at(row, "status")?,
                    escalated_at: opt_ts_at(row, "escalated_at")?,
                    first_agent_reply_at: opt_ts_at(row, "first_agent_reply_at")?,
                    rating: stars_at(row, "rating")?,
                    assistant_messages: count_at(row, "assistant_messages")?,
                    agent_messages: count_at(row, "agent_messages")?,
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
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT m.created_at, m.reaction FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.reaction IS NOT NULL AND c.org_id = ",
        );
        q.push_bind(org_id.0);
        q.push(" AND m.created_at >= ").push_bind(from.0);
        q.push(" AND m.created_at < ").push_bind(to.0);
        if let Some(site_id) = site_id {
            q.push(" AND c.site_id = ").push_bind(site_id.0);
        }
        q.push(" ORDER BY m.created_at, m.id");
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
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

    /// Starts a query over the visitor events of `kind` of the organization's sites (or one of
    /// them) in `[from, to)`, aliased `e`; the caller adds the grouping.
    fn visitor_events_in_range<'a>(
        select: &str,
        kind: VisitorEventKind,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> QueryBuilder<'a, Postgres> {
        let mut q = QueryBuilder::<Postgres>::new(select);
        q.push(" FROM visitor_events e JOIN sites s ON s.id = e.site_id WHERE s.org_id = ");
        q.push_bind(org_id.0);
        q.push(" AND e.kind = ").push_bind(kind.as_str());
        q.push(" AND e.created_at >= ").push_bind(from.0);
        q.push(" AND e.created_at < ").push_bind(to.0);
        if let Some(site_id) = site_id {
            q.push(" AND e.site_id = ").push_bind(site_id.0);
        }
        q
    }

    pub(crate) async fn top_page_rows(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PageCount>> {
        // Byte order ("C") for the title and the tie-break, whatever the database's collation:
        // what SQLite does too.
        let mut q = Self::visitor_events_in_range(
            "SELECT e.url, max(e.title COLLATE \"C\") AS title, count(*) AS views, \
             count(DISTINCT e.visitor_id) AS visitors",
            VisitorEventKind::PageView,
            org_id,
            site_id,
            from,
            to,
        );
        q.push(" AND e.url IS NOT NULL GROUP BY e.url ORDER BY views DESC, e.url COLLATE \"C\" LIMIT ");
        q.push_bind(effective_limit(limit, 20, 100));
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(PageCount {
                    url: get(row, "url")?,
                    title: get(row, "title")?,
                    views: count_at(row, "views")?,
                    visitors: count_at(row, "visitors")?,
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
        let mut q = Self::visitor_events_in_range(
            "SELECT e.name, count(*) AS count, count(DISTINCT e.visitor_id) AS visitors",
            VisitorEventKind::Conversion,
            org_id,
            site_id,
            from,
            to,
        );
        q.push(" AND e.name IS NOT NULL GROUP BY e.name ORDER BY count DESC, e.name COLLATE \"C\"");
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ConversionCount {
                    name: get(row, "name")?,
                    count: count_at(row, "count")?,
                    visitors: count_at(row, "visitors")?,
                })
            })
            .collect()
    }

    pub(crate) async fn list_audit_rows(
        &self,
        org_id: OrgId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<frontdesk_core::audit::AuditRecord>> {
        let mut q = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            audit_cols!(),
            ", seq, prev_hash, hash FROM audit_events WHERE org_id = "
        ));
        q.push_bind(org_id.0);
        if let Some(actor) = filter.actor_id {
            q.push(" AND actor_id = ").push_bind(actor.0);
        }
        if let Some(action) = filter.action.as_deref() {
            if action.ends_with('.') {
                // A plain string comparison, not LIKE: `_` and `%` in the filter are themselves.
                q.push(" AND starts_with(action, ").push_bind(action.to_owned()).push(")");
            } else {
                q.push(" AND action = ").push_bind(action.to_owned());
            }
        }
        if let Some(from) = filter.from {
            q.push(" AND created_at >= ").push_bind(from.0);
        }
        if let Some(to) = filter.to {
            q.push(" AND created_at < ").push_bind(to.0);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(effective_limit(filter.limit, 100, 10_000));
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(super::audit::record_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_lexemes_and_the_last_a_prefix() {
        let s = text_search("Refund  order-42").expect("words");
        assert_eq!(s.words, "'Refund' & 'order' & '42':*");
        assert_eq!(s.raw, "Refund  order-42");
        assert_eq!(text_search("naïve").expect("a word").words, "'naïve':*");
    }

    #[test]
    fn search_syntax_is_never_passed_through() {
        for hostile in ["", "   ", "\"", "*", "!", ":*", "%", "_", "&|!<->()", "'"] {
            assert_eq!(text_search(hostile), None, "{hostile:?} has no word");
        }
        let s = text_search("'; DROP TABLE messages; --").expect("words");
        assert_eq!(s.words, "'DROP' & 'TABLE' & 'messages':*");
        assert_eq!(text_search("OR").expect("a word").words, "'OR':*");
        assert_eq!(text_search("a:*b!c").expect("words").words, "'a' & 'b' & 'c':*");
    }

    #[test]
    fn long_searches_are_cut_on_characters() {
        let long = "é".repeat(SEARCH_MAX_CHARS * 2);
        let s = text_search(&long).expect("a word");
        assert_eq!(s.raw.chars().count(), SEARCH_MAX_CHARS);
    }
}
