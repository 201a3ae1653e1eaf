//! The SQLite implementation of Frontdesk's [`Store`] port: one file, no server.
//!
//! Writes go through a dedicated pool of exactly one connection, and every write transaction
//! starts with `BEGIN IMMEDIATE`. SQLite allows one writer at a time anyway; queueing writers in
//! the process (instead of in SQLite's busy handler) means a transaction never fails with
//! `SQLITE_BUSY_SNAPSHOT` after it has read, and it is what makes sequence numbers and outbox ids
//! follow commit order. Reads use a separate pool of read-only connections, which WAL mode lets
//! run beside the writer.
//!
//! Ids are stored as hyphenated lower-case UUID text, times as Unix milliseconds, JSON as text.

use async_trait::async_trait;
use frontdesk_core::analytics::{ConversationStat, ReactionStat};
use frontdesk_core::audit::{AuditEvent, AuditHead, AuditRecord};
use frontdesk_core::events::{DomainEvent, OutboxEvent};
use frontdesk_core::ids::*;
use frontdesk_core::inbox::{CannedResponse, InboxFilter, InboxItem, Note, UnansweredQuestion};
use frontdesk_core::model::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::privacy::{ErasureCounts, RetentionCounts, VisitorLookup};
use frontdesk_core::roles::Role;
use frontdesk_core::scenarios::{FlowState, Scenario, ScenarioVersion};
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{
    AppendRequest, AuditFilter, ConversationFilter, ConversionCount, PageCount, StatusChange, Store, StoreError,
    StoreResult, change_status_of,
};
use frontdesk_core::team::{Invite, Member, NotificationPrefs};
use frontdesk_core::time::Timestamp;
use frontdesk_core::webhooks::{DeliveryFilter, WebhookDelivery, WebhookEndpoint};
use frontdesk_crypto::Sealer;
use frontdesk_crypto::fields::{self, Seal};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Decode, QueryBuilder, Row, Sqlite, Type};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

mod articles;
use uuid::fmt::Hyphenated;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a connection waits on a lock held by another process before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Writers queue for the one write connection; past this the store answers `Unavailable`.
const WRITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CONNECTIONS: u32 = 4;

/// How the database file is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `PRAGMA synchronous = FULL` instead of `NORMAL`.
    ///
    /// The journal is always WAL. With `NORMAL` (the default) a committed transaction survives a
    /// crash or `SIGKILL` of the process, but the last transactions before a power loss or an
    /// operating-system crash may be rolled back (the database stays consistent). `FULL` syncs
    /// the WAL on every commit, so commits also survive power loss, at the cost of an fsync per
    /// write.
    pub synchronous_full: bool,
}

/// A [`Store`] on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only connections.
    reader: SqlitePool,
    /// Encryption at rest, when a key ring is configured.
    sealer: Option<std::sync::Arc<Sealer>>,
    /// Appended messages waiting for their group commit.
    appends: std::sync::Arc<appends::AppendQueue>,
}

impl SqliteStore {
    /// Opens (creating it and its parent directories when missing) the database at `path`, and
    /// brings its schema up to date.
    pub async fn open(path: &Path, options: SqliteOptions) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", parent.display())))?;
        }
        let base = SqliteConnectOptions::new().filename(path).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        let synchronous = if options.synchronous_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
        // The group commit of appends builds statements for each batch size (up to 64 rows),
        // three kinds of them: the cache keeps them all prepared.
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .statement_cache_capacity(512);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(WRITE_ACQUIRE_TIMEOUT)
            .connect_with(writer_options)
            .await
            .map_err(map_err)?;
        if let Err(e) = MIGRATOR.run(&writer).await {
            writer.close().await;
            return Err(map_migrate_err(e));
        }
        // WAL mode is a property of the file (set by the writer above), so readers need no pragma.
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .acquire_timeout(READ_ACQUIRE_TIMEOUT)
            .connect_with(base.read_only(true))
            .await;
        let reader = match reader {
            Ok(r) => r,
            Err(e) => {
                writer.close().await;
                return Err(map_err(e));
            }
        };
        let appends = std::sync::Arc::new(appends::AppendQueue::new(appends::MAX_BATCH, appends::LANES));
        let store = SqliteStore { writer, reader, sealer: None, appends };
        if let Err(e) = store.seal_unsealed_audit().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Waits for the connections in use to be returned, then closes every connection.
    pub async fn close(&self) {
        self.reader.close().await;
        // Closed last: the last connection to close checkpoints the WAL into the main file.
        self.writer.close().await;
    }

    /// Writes a consistent copy of the database to `target` while it stays in use (`VACUUM
    /// INTO`: one read transaction, so the copy is a snapshot; writers wait only for its end).
    /// `target` must not exist.
    pub async fn backup_to(&self, target: &Path) -> StoreResult<()> {
        if target.exists() {
            return Err(StoreError::Conflict(format!("{} exists already", target.display())));
        }
        let target = target.to_str().ok_or_else(|| StoreError::Backend("the backup path is not UTF-8".to_owned()))?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(&self.writer).await.map_err(map_err)?;
        Ok(())
    }

    /// Checks a database file (a backup about to be restored): SQLite's integrity check, and
    /// that it is a Frontdesk database this version can migrate.
    pub async fn verify_file(path: &Path) -> StoreResult<()> {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(map_err)?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.map_err(map_err)?;
        let applied: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&pool).await;
        pool.close().await;
        if check != "ok" {
            return Err(StoreError::Backend(format!("integrity check: {check}")));
        }
        match applied {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(StoreError::Backend("not a Frontdesk database".to_owned())),
        }
    }

    /// Starts a write transaction on the one write connection.
    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front, so a transaction that reads and then writes
        // cannot be refused at its first write by another process's writer.
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }
}

/// The one mapping from sqlx's errors to the port's.
fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes: another process
            // held the lock past the busy timeout. Transient, so worth a retry later.
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            if matches!(primary, Some(5 | 6)) {
                return StoreError::Unavailable(db.to_string());
            }
            StoreError::Backend(db.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn map_migrate_err(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
        other => StoreError::Backend(format!("migrating the sqlite schema: {other}")),
    }
}

fn corrupt(column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable value in column {column}: {detail}"))
}

// Binding and reading helpers. Rows are read by column name.

fn id(uuid: Uuid) -> Hyphenated {
    uuid.hyphenated()
}

fn opt_id(uuid: Option<Uuid>) -> Option<Hyphenated> {
    uuid.map(Uuid::hyphenated)
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column).map_err(map_err)
}

fn uuid_at(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    Ok(get::<Hyphenated>(row, column)?.into_uuid())
}

fn opt_uuid_at(row: &SqliteRow, column: &str) -> StoreResult<Option<Uuid>> {
    Ok(get::<Option<Hyphenated>>(row, column)?.map(Hyphenated::into_uuid))
}

fn ts_at(row: &SqliteRow, column: &str) -> StoreResult<Timestamp> {
    get::<i64>(row, column).map(Timestamp)
}

fn opt_ts_at(row: &SqliteRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp))
}

fn json_at<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|e| corrupt(column, e))
}

fn opt_json_at<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<Option<T>> {
    match get::<Option<String>>(row, column)? {
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| corrupt(column, e)),
        None => Ok(None),
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot serialize: {e}")))
}

fn opt_to_json<T: Serialize>(value: Option<&T>) -> StoreResult<Option<String>> {
    value.map(to_json).transpose()
}

fn status_at(row: &SqliteRow, column: &str) -> StoreResult<ConversationStatus> {
    let text: String = get(row, column)?;
    ConversationStatus::parse(&text).ok_or_else(|| corrupt(column, text))
}

/// `0` means `default`; anything above `max` is `max`.
fn effective_limit(limit: u32, default: u32, max: u32) -> i64 {
    i64::from(if limit == 0 { default } else { limit.min(max) })
}

/// The database's clock in Unix milliseconds, for events whose trait method carries no time.
macro_rules! db_now {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

// Column lists, as macros so that `concat!` builds each statement at compile time.

macro_rules! org_cols {
    () => {
        "id, name, plan, extra_seats, created_at"
    };
}
macro_rules! user_cols {
    () => {
        "id, email, name, password_hash, created_at"
    };
}
macro_rules! membership_cols {
    () => {
        "org_id, user_id, role, created_at"
    };
}
macro_rules! session_cols {
    () => {
        "token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent"
    };
}
macro_rules! site_cols {
    () => {
        "id, org_id, name, public_key, secret, allowed_origins, widget, widget_draft, assistant, previous_public_key, \
         previous_key_expires_at, require_verified_identity, retention_days, created_at, updated_at"
    };
}
macro_rules! visitor_cols {
    () => {
        "id, site_id, name, email, locale, user_id, verified, created_at, last_seen_at, erased_at"
    };
}
macro_rules! conversation_cols {
    () => {
        "id, org_id, site_id, visitor_id, status, assignee_id, page_url, locale, params, last_seq, \
         token_generation, created_at, updated_at, last_activity_at, status_changed_at, escalated_at, \
         first_agent_reply_at"
    };
}
macro_rules! message_cols {
    () => {
        "id, conversation_id, seq, author_kind, author_id, body, html, citations, quick_replies, reaction, created_at"
    };
}
macro_rules! rating_cols {
    () => {
        "conversation_id, stars, tags, feedback, created_at"
    };
}
macro_rules! visitor_event_cols {
    () => {
        "id, site_id, visitor_id, conversation_id, kind, url, title, referrer, name, props, created_at"
    };
}

macro_rules! audit_cols {
    () => {
        "id, org_id, actor_id, action, target_kind, target_id, ip, user_agent, details, created_at"
    };
}

// Declared after the column macros, which are in scope only below their definitions.
mod appends;
mod audit;
mod billing;
mod dashboard;
mod privacy;
mod scenarios;
mod sealing;
mod team;
mod webhooks;

fn org_from_row(row: &SqliteRow) -> StoreResult<Organization> {
    let plan: String = get(row, "plan")?;
    let extra_seats: i64 = get(row, "extra_seats")?;
    Ok(Organization {
        id: OrgId(uuid_at(row, "id")?),
        name: get(row, "name")?,
        plan: Plan::parse(&plan).ok_or_else(|| corrupt("plan", plan))?,
        extra_seats: u32::try_from(extra_seats).map_err(|e| corrupt("extra_seats", e))?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: UserId(uuid_at(row, "id")?),
        email: get(row, "email")?,
        name: get(row, "name")?,
        password_hash: get(row, "password_hash")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn membership_from_row(row: &SqliteRow) -> StoreResult<Membership> {
    let role: String = get(row, "role")?;
    Ok(Membership {
        org_id: OrgId(uuid_at(row, "org_id")?),
        user_id: UserId(uuid_at(row, "user_id")?),
        role: Role::parse(&role).ok_or_else(|| corrupt("role", role))?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<LoginSession> {
    Ok(LoginSession {
        token_hash: get(row, "token_hash")?,
        user_id: UserId(uuid_at(row, "user_id")?),
        created_at: ts_at(row, "created_at")?,
        last_seen_at: ts_at(row, "last_seen_at")?,
        expires_at: ts_at(row, "expires_at")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
    })
}

fn raw_site_from_row(row: &SqliteRow) -> StoreResult<Site> {
    Ok(Site {
        id: SiteId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        name: get(row, "name")?,
        public_key: get(row, "public_key")?,
        secret: get(row, "secret")?,
        allowed_origins: json_at(row, "allowed_origins")?,
        widget: json_at(row, "widget")?,
        widget_draft: opt_json_at(row, "widget_draft")?,
        assistant: json_at(row, "assistant")?,
        previous_public_key: get(row, "previous_public_key")?,
        previous_key_expires_at: opt_ts_at(row, "previous_key_expires_at")?,
        require_verified_identity: get::<i64>(row, "require_verified_identity")? != 0,
        retention_days: get::<Option<i64>>(row, "retention_days")?
            .map(|d| u32::try_from(d).map_err(|_| corrupt("retention_days", d)))
            .transpose()?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn raw_visitor_from_row(row: &SqliteRow) -> StoreResult<Visitor> {
    Ok(Visitor {
        id: VisitorId(uuid_at(row, "id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        name: get(row, "name")?,
        email: get(row, "email")?,
        locale: get(row, "locale")?,
        user_id: get(row, "user_id")?,
        verified: get::<i64>(row, "verified")? != 0,
        created_at: ts_at(row, "created_at")?,
        last_seen_at: ts_at(row, "last_seen_at")?,
        erased_at: opt_ts_at(row, "erased_at")?,
    })
}

fn conversation_from_row(row: &SqliteRow) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: ConversationId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        visitor_id: VisitorId(uuid_at(row, "visitor_id")?),
        status: status_at(row, "status")?,
        assignee_id: opt_uuid_at(row, "assignee_id")?.map(UserId),
        page_url: get(row, "page_url")?,
        locale: get(row, "locale")?,
        params: json_at(row, "params")?,
        last_seq: get(row, "last_seq")?,
        token_generation: get(row, "token_generation")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
        last_activity_at: ts_at(row, "last_activity_at")?,
        status_changed_at: ts_at(row, "status_changed_at")?,
        escalated_at: opt_ts_at(row, "escalated_at")?,
        first_agent_reply_at: opt_ts_at(row, "first_agent_reply_at")?,
    })
}

fn raw_message_from_row(row: &SqliteRow) -> StoreResult<Message> {
    let author_kind: String = get(row, "author_kind")?;
    let reaction: Option<String> = get(row, "reaction")?;
    let reaction = match reaction {
        Some(r) => Some(Reaction::parse(&r).ok_or_else(|| corrupt("reaction", r))?),
        None => None,
    };
    Ok(Message {
        id: MessageId(uuid_at(row, "id")?),
        conversation_id: ConversationId(uuid_at(row, "conversation_id")?),
        seq: get(row, "seq")?,
        author_kind: AuthorKind::parse(&author_kind).ok_or_else(|| corrupt("author_kind", author_kind))?,
        author_id: opt_uuid_at(row, "author_id")?.map(UserId),
        body: get(row, "body")?,
        html: get(row, "html")?,
        citations: json_at(row, "citations")?,
        quick_replies: json_at(row, "quick_replies")?,
        reaction,
        created_at: ts_at(row, "created_at")?,
    })
}

fn rating_from_row(row: &SqliteRow) -> StoreResult<Rating> {
    let stars: i64 = get(row, "stars")?;
    Ok(Rating {
        conversation_id: ConversationId(uuid_at(row, "conversation_id")?),
        stars: u8::try_from(stars).map_err(|e| corrupt("stars", e))?,
        tags: json_at(row, "tags")?,
        feedback: get(row, "feedback")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: AuditEventId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        actor_id: opt_uuid_at(row, "actor_id")?.map(UserId),
        action: get(row, "action")?,
        target_kind: get(row, "target_kind")?,
        target_id: get(row, "target_id")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        details: json_at(row, "details")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn visitor_event_from_row(row: &SqliteRow) -> StoreResult<VisitorEvent> {
    let kind: String = get(row, "kind")?;
    Ok(VisitorEvent {
        id: VisitorEventId(uuid_at(row, "id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        visitor_id: VisitorId(uuid_at(row, "visitor_id")?),
        conversation_id: opt_uuid_at(row, "conversation_id")?.map(ConversationId),
        kind: VisitorEventKind::parse(&kind).ok_or_else(|| corrupt("kind", kind))?,
        url: get(row, "url")?,
        title: get(row, "title")?,
        referrer: get(row, "referrer")?,
        name: get(row, "name")?,
        props: json_at(row, "props")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn outbox_from_row(row: &SqliteRow) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        id: get(row, "id")?,
        org_id: OrgId(uuid_at(row, "org_id")?),
        event: json_at(row, "payload")?,
        created_at: ts_at(row, "created_at")?,
    })
}

/// Writes events to the outbox inside the caller's transaction, stamped `at` (the database's
/// clock when `None`).
async fn insert_events(
    conn: &mut SqliteConnection,
    org_id: OrgId,
    events: &[DomainEvent],
    at: Option<Timestamp>,
) -> StoreResult<()> {
    for event in events {
        sqlx::query(concat!(
            "INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) VALUES (?, ?, ?, ?, COALESCE(?, ",
            db_now!(),
            "))"
        ))
        .bind(id(org_id.0))
        .bind(id(event.conversation_id().0))
        .bind(event.kind())
        .bind(to_json(event)?)
        .bind(at.map(|t| t.0))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

/// The conversation, if it belongs to `org_id`, read inside the caller's transaction.
async fn conversation_in_tx(
    conn: &mut SqliteConnection,
    org_id: OrgId,
    id_: ConversationId,
) -> StoreResult<Conversation> {
    let row = sqlx::query(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id = ? AND org_id = ?"))
        .bind(id(id_.0))
        .bind(id(org_id.0))
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
    conversation_from_row(&row)
}

fn expect_one_row(result: sqlx::sqlite::SqliteQueryResult) -> StoreResult<()> {
    if result.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Encryption at rest: values of the sealed columns pass through the key ring on the way in and out.
impl SqliteStore {
    /// Turns on encryption at rest with `sealer`'s key ring.
    pub fn with_sealer(mut self, sealer: std::sync::Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    fn seal(&self) -> Seal<'_> {
        Seal::new(self.sealer.as_deref())
    }

    fn site_from_row(&self, row: &SqliteRow) -> StoreResult<Site> {
        self.seal().open_site(raw_site_from_row(row)?).map_err(sealing)
    }

    fn visitor_from_row(&self, row: &SqliteRow) -> StoreResult<Visitor> {
        self.seal().open_visitor(raw_visitor_from_row(row)?).map_err(sealing)
    }

    fn message_from_row(&self, row: &SqliteRow) -> StoreResult<Message> {
        self.seal().open_message(raw_message_from_row(row)?).map_err(sealing)
    }
}

/// A value of a sealed column that does not open: a missing key or a corrupt row.
fn sealing(e: frontdesk_crypto::CryptoError) -> StoreError {
    StoreError::Backend(format!("encryption at rest: {e}"))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(map_err)?;
        Ok(())
    }

    async fn get_or_init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    async fn compare_and_set_setting(&self, key: &str, expected: &str, value: &str) -> StoreResult<bool> {
        self.compare_and_set_setting_row(key, expected, value).await
    }

    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO organizations (", org_cols!(), ") VALUES (?, ?, ?, ?, ?)"))
            .bind(id(org.id.0))
            .bind(&org.name)
            .bind(org.plan.as_str())
            .bind(i64::from(org.extra_seats))
            .bind(org.created_at.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_org_plan(&self, org_id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()> {
        self.set_org_plan_row(org_id, plan, extra_seats).await
    }

    async fn apply_subscription(
        &self,
        org_id: OrgId,
        event_id: &str,
        subscription: &frontdesk_core::billing::Subscription,
        received_at: Timestamp,
    ) -> StoreResult<frontdesk_core::billing::SubscriptionApplied> {
        self.apply_subscription_row(org_id, event_id, subscription, received_at).await
    }

    async fn get_subscription(&self, org_id: OrgId) -> StoreResult<Option<frontdesk_core::billing::Subscription>> {
        self.get_subscription_row(org_id).await
    }

    async fn find_org_by_subscription(&self, subscription_id: &str) -> StoreResult<OrgId> {
        self.find_org_by_subscription_row(subscription_id).await
    }

    async fn get_org(&self, org_id: OrgId) -> StoreResult<Organization> {
        let row = sqlx::query(concat!("SELECT ", org_cols!(), " FROM organizations WHERE id = ?"))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        org_from_row(&row)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(concat!("SELECT ", org_cols!(), " FROM organizations ORDER BY created_at, id"))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(org_from_row).collect()
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(id(user.id.0))
            .bind(user.email.to_lowercase())
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(user.created_at.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_user(&self, user_id: UserId) -> StoreResult<User> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = ?"))
            .bind(id(user_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        user_from_row(&row)
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<User> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE email = ?"))
            .bind(email.to_lowercase())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        user_from_row(&row)
    }

    async fn set_password_hash(&self, user_id: UserId, hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id(user_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn put_membership(&self, m: &Membership) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(map_err)?;
        team::upsert_membership(&mut conn, m).await
    }

    async fn list_members(&self, org_id: OrgId) -> StoreResult<Vec<Member>> {
        self.list_member_rows(org_id).await
    }

    async fn delete_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<()> {
        self.delete_membership_row(org_id, user_id).await
    }

    async fn set_notification_prefs(
        &self,
        org_id: OrgId,
        user_id: UserId,
        prefs: NotificationPrefs,
    ) -> StoreResult<()> {
        self.set_notification_prefs_row(org_id, user_id, prefs).await
    }

    async fn create_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.create_invite_row(invite).await
    }

    async fn get_invite(&self, id: InviteId) -> StoreResult<Invite> {
        self.get_invite_row(id).await
    }

    async fn list_invites(&self, org_id: OrgId) -> StoreResult<Vec<Invite>> {
        self.list_invite_rows(org_id).await
    }

    async fn delete_invite(&self, org_id: OrgId, id: InviteId) -> StoreResult<()> {
        self.delete_invite_row(org_id, id).await
    }

    async fn accept_invite(&self, id: InviteId, membership: &Membership, at: Timestamp) -> StoreResult<()> {
        self.accept_invite_row(id, membership, at).await
    }

    async fn get_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<Membership> {
        let row =
            sqlx::query(concat!("SELECT ", membership_cols!(), " FROM memberships WHERE org_id = ? AND user_id = ?"))
                .bind(id(org_id.0))
                .bind(id(user_id.0))
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        membership_from_row(&row)
    }

    async fn list_memberships_of_user(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            membership_cols!(),
            " FROM memberships WHERE user_id = ? ORDER BY created_at, org_id"
        ))
        .bind(id(user_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(membership_from_row).collect()
    }

    async fn create_login_session(&self, s: &LoginSession) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO login_sessions (", session_cols!(), ") VALUES (?, ?, ?, ?, ?, ?, ?)"))
            .bind(&s.token_hash)
            .bind(id(s.user_id.0))
            .bind(s.created_at.0)
            .bind(s.last_seen_at.0)
            .bind(s.expires_at.0)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_login_session(&self, token_hash: &str) -> StoreResult<LoginSession> {
        let row = sqlx::query(concat!("SELECT ", session_cols!(), " FROM login_sessions WHERE token_hash = ?"))
            .bind(token_hash)
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        session_from_row(&row)
    }

    async fn touch_login_session(
        &self,
        token_hash: &str,
        seen_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE login_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?")
            .bind(seen_at.0)
            .bind(expires_at.0)
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn delete_login_session(&self, token_hash: &str) -> StoreResult<()> {
        // Deleting a session that is gone already is not an error: logging out twice is fine.
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM login_sessions WHERE user_id = ? ORDER BY last_seen_at DESC, token_hash"
        ))
        .bind(id(user_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn delete_login_sessions_of_user(&self, user_id: UserId, keep: Option<&str>) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE user_id = ? AND (? IS NULL OR token_hash <> ?)")
            .bind(id(user_id.0))
            .bind(keep)
            .bind(keep)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_totp(&self, user_id: UserId) -> StoreResult<Option<TotpState>> {
        let row = sqlx::query("SELECT secret, enabled, last_step FROM user_totp WHERE user_id = ?")
            .bind(id(user_id.0))
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(TotpState {
                secret: self.seal().open(fields::TOTP_SECRET, get(&r, "secret")?).map_err(sealing)?,
                enabled: get::<i64>(&r, "enabled")? != 0,
                last_step: get(&r, "last_step")?,
            })
        })
        .transpose()
    }

    async fn put_totp(&self, user_id: UserId, state: &TotpState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_totp (user_id, secret, enabled, last_step) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, enabled = excluded.enabled, \
             last_step = excluded.last_step",
        )
        .bind(id(user_id.0))
        .bind(self.seal().text(fields::TOTP_SECRET, &state.secret).map_err(sealing)?)
        .bind(i64::from(state.enabled))
        .bind(state.last_step)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_totp(&self, user_id: UserId) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_totp WHERE user_id = ?")
            .bind(id(user_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ?")
            .bind(step)
            .bind(id(user_id.0))
            .bind(step)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: UserId,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(id(user_id.0))
            .bind(created_at.0)
            .bind(expires_at.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn take_password_reset(&self, token_hash: &str, at: Timestamp) -> StoreResult<UserId> {
        // One statement: of two concurrent uses, only one finds it unused.
        let row = sqlx::query(
            "UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? \
             RETURNING user_id",
        )
        .bind(at.0)
        .bind(token_hash)
        .bind(at.0)
        .fetch_one(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(UserId(uuid_at(&row, "user_id")?))
    }

    async fn create_site(&self, site: &Site) -> StoreResult<()> {
        let site = &self.seal().seal_site(site).map_err(sealing)?;
        sqlx::query(concat!(
            "INSERT INTO sites (",
            site_cols!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id(site.id.0))
        .bind(id(site.org_id.0))
        .bind(&site.name)
        .bind(&site.public_key)
        .bind(&site.secret)
        .bind(to_json(&site.allowed_origins)?)
        .bind(to_json(&site.widget)?)
        .bind(opt_to_json(site.widget_draft.as_ref())?)
        .bind(to_json(&site.assistant)?)
        .bind(&site.previous_public_key)
        .bind(site.previous_key_expires_at.map(|t| t.0))
        .bind(i64::from(site.require_verified_identity))
        .bind(site.retention_days.map(i64::from))
        .bind(site.created_at.0)
        .bind(site.updated_at.0)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_site(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Site> {
        let row = sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites WHERE id = ? AND org_id = ?"))
            .bind(id(site_id.0))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        self.site_from_row(&row)
    }

    async fn get_site_by_public_key(&self, public_key: &str) -> StoreResult<Site> {
        // A current key wins over another site's previous one (keys are random, so that takes a
        // collision, but the answer should not depend on the row order).
        let row = sqlx::query(concat!(
            "SELECT ",
            site_cols!(),
            " FROM sites WHERE public_key = ? OR previous_public_key = ? ORDER BY public_key = ? DESC LIMIT 1"
        ))
        .bind(public_key)
        .bind(public_key)
        .bind(public_key)
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        self.site_from_row(&row)
    }

    async fn list_sites(&self, org_id: OrgId) -> StoreResult<Vec<Site>> {
        let rows =
            sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites WHERE org_id = ? ORDER BY created_at, id"))
                .bind(id(org_id.0))
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
        rows.iter().map(|r| self.site_from_row(r)).collect()
    }

    async fn list_all_sites(&self) -> StoreResult<Vec<Site>> {
        let rows = sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites ORDER BY created_at, id"))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(|r| self.site_from_row(r)).collect()
    }

    async fn update_site(&self, site: &Site) -> StoreResult<()> {
        let site = &self.seal().seal_site(site).map_err(sealing)?;
        let done = sqlx::query(
            "UPDATE sites SET name = ?, public_key = ?, secret = ?, allowed_origins = ?, widget = ?, widget_draft = ?, \
             assistant = ?, previous_public_key = ?, previous_key_expires_at = ?, require_verified_identity = ?, \
             retention_days = ?, updated_at = ? WHERE id = ? AND org_id = ?",
        )
        .bind(&site.name)
        .bind(&site.public_key)
        .bind(&site.secret)
        .bind(to_json(&site.allowed_origins)?)
        .bind(to_json(&site.widget)?)
        .bind(opt_to_json(site.widget_draft.as_ref())?)
        .bind(to_json(&site.assistant)?)
        .bind(&site.previous_public_key)
        .bind(site.previous_key_expires_at.map(|t| t.0))
        .bind(i64::from(site.require_verified_identity))
        .bind(site.retention_days.map(i64::from))
        .bind(site.updated_at.0)
        .bind(id(site.id.0))
        .bind(id(site.org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn create_visitor(&self, v: &Visitor) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO visitors (", visitor_cols!(), ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(id(v.id.0))
            .bind(id(v.site_id.0))
            .bind(self.seal().opt(fields::VISITOR_NAME, v.name.as_deref()).map_err(sealing)?)
            .bind(self.seal().opt(fields::VISITOR_EMAIL, v.email.as_deref()).map_err(sealing)?)
            .bind(&v.locale)
            .bind(&v.user_id)
            .bind(i64::from(v.verified))
            .bind(v.created_at.0)
            .bind(v.last_seen_at.0)
            .bind(v.erased_at.map(|t| t.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_visitor(&self, site_id: SiteId, visitor_id: VisitorId) -> StoreResult<Visitor> {
        let row = sqlx::query(concat!("SELECT ", visitor_cols!(), " FROM visitors WHERE id = ? AND site_id = ?"))
            .bind(id(visitor_id.0))
            .bind(id(site_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        self.visitor_from_row(&row)
    }

    async fn touch_visitor(&self, site_id: SiteId, visitor_id: VisitorId, seen_at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE visitors SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ? AND site_id = ?")
            .bind(seen_at.0)
            .bind(id(visitor_id.0))
            .bind(id(site_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn identify_visitor(
        &self,
        site_id: SiteId,
        visitor_id: VisitorId,
        conversation_id: ConversationId,
        who: &VisitorIdentity,
    ) -> StoreResult<Visitor> {
        let mut tx = self.write_tx().await?;
        // The session it was said in: the visitor's, on this site (its org names the event's).
        let org: Hyphenated =
            sqlx::query_scalar("SELECT org_id FROM conversations WHERE id = ? AND site_id = ? AND visitor_id = ?")
                .bind(id(conversation_id.0))
                .bind(id(site_id.0))
                .bind(id(visitor_id.0))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        // One statement: the given fields replace, the others stay; `verified` follows `user_id`.
        let row = sqlx::query(concat!(
            "UPDATE visitors SET name = COALESCE(?, name), email = COALESCE(?, email), ",
            "verified = CASE WHEN ? IS NULL THEN verified ELSE ? END, user_id = COALESCE(?, user_id) ",
            "WHERE id = ? AND site_id = ? RETURNING ",
            visitor_cols!()
        ))
        .bind(self.seal().opt(fields::VISITOR_NAME, who.name.as_deref()).map_err(sealing)?)
        .bind(self.seal().opt(fields::VISITOR_EMAIL, who.email.as_deref()).map_err(sealing)?)
        .bind(&who.user_id)
        .bind(i64::from(who.verified))
        .bind(&who.user_id)
        .bind(id(visitor_id.0))
        .bind(id(site_id.0))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let visitor = self.visitor_from_row(&row)?;
        let event = DomainEvent::VisitorIdentified {
            conversation_id,
            site_id,
            visitor_id,
            verified: visitor.verified && visitor.user_id.is_some(),
        };
        insert_events(&mut tx, OrgId(org.into_uuid()), &[event], None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(visitor)
    }

    async fn verified_visitors(&self, site_id: SiteId, user_id: &str) -> StoreResult<Vec<VisitorId>> {
        let rows = sqlx::query(
            "SELECT id FROM visitors WHERE site_id = ? AND user_id = ? AND verified = 1 ORDER BY created_at, id LIMIT 50",
        )
        .bind(id(site_id.0))
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| Ok(VisitorId(uuid_at(r, "id")?))).collect()
    }

    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO conversations (",
            conversation_cols!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id(c.id.0))
        .bind(id(c.org_id.0))
        .bind(id(c.site_id.0))
        .bind(id(c.visitor_id.0))
        .bind(c.status.as_str())
        .bind(opt_id(c.assignee_id.map(|u| u.0)))
        .bind(&c.page_url)
        .bind(&c.locale)
        .bind(to_json(&c.params)?)
        .bind(c.last_seq)
        .bind(c.token_generation)
        .bind(c.created_at.0)
        .bind(c.updated_at.0)
        .bind(c.last_activity_at.0)
        .bind(c.status_changed_at.0)
        .bind(c.escalated_at.map(|t| t.0))
        .bind(c.first_agent_reply_at.map(|t| t.0))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_events(&mut tx, c.org_id, &[DomainEvent::for_new_conversation(c)], Some(c.created_at)).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_conversation_for_site(
        &self,
        site_id: SiteId,
        conversation_id: ConversationId,
    ) -> StoreResult<Conversation> {
        let row =
            sqlx::query(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id = ? AND site_id = ?"))
                .bind(id(conversation_id.0))
                .bind(id(site_id.0))
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        conversation_from_row(&row)
    }

    async fn get_conversation(&self, org_id: OrgId, conversation_id: ConversationId) -> StoreResult<Conversation> {
        let row =
            sqlx::query(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id = ? AND org_id = ?"))
                .bind(id(conversation_id.0))
                .bind(id(org_id.0))
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        conversation_from_row(&row)
    }

    async fn list_conversations(&self, org_id: OrgId, filter: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        let mut q = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            conversation_cols!(),
            " FROM conversations WHERE org_id = "
        ));
        q.push_bind(id(org_id.0));
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(site_id) = filter.site_id {
            q.push(" AND site_id = ").push_bind(id(site_id.0));
        }
        if let Some(visitor_id) = filter.visitor_id {
            q.push(" AND visitor_id = ").push_bind(id(visitor_id.0));
        }
        q.push(" ORDER BY updated_at DESC, id DESC LIMIT ").push_bind(effective_limit(filter.limit, 50, 200));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn inbox(&self, org_id: OrgId, viewer: UserId, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>> {
        self.inbox_rows(org_id, viewer, filter).await
    }

    async fn mark_read(&self, org_id: OrgId, id: ConversationId, user_id: UserId, seq: i64) -> StoreResult<()> {
        self.mark_read_row(org_id, id, user_id, seq).await
    }

    async fn assign_conversation(
        &self,
        org_id: OrgId,
        id: ConversationId,
        assignee: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        self.assign_row(org_id, id, assignee, at).await
    }

    async fn create_note(&self, note: &Note) -> StoreResult<()> {
        self.create_note_row(note).await
    }

    async fn list_notes(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Vec<Note>> {
        self.list_note_rows(org_id, id).await
    }

    async fn append_message(
        &self,
        org_id: OrgId,
        message: &NewMessage,
        status: Option<StatusChange>,
        visitor_activity: bool,
    ) -> StoreResult<(Message, Conversation)> {
        let request = AppendRequest { org_id, message: message.clone(), status, visitor_activity };
        self.append_grouped(request).await
    }

    async fn change_status(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        change: StatusChange,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        let mut tx = self.write_tx().await?;
        let current = conversation_in_tx(&mut tx, org_id, conversation_id).await?;
        // `None`: nothing changes, so no write and no event.
        let Some(conversation) = change_status_of(&current, change, at)? else { return Ok(current) };
        sqlx::query(
            "UPDATE conversations SET status = ?, updated_at = ?, status_changed_at = ?, escalated_at = ? WHERE id = ?",
        )
        .bind(conversation.status.as_str())
        .bind(conversation.updated_at.0)
        .bind(conversation.status_changed_at.0)
        .bind(conversation.escalated_at.map(|t| t.0))
        .bind(id(conversation_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let event = DomainEvent::StatusChanged { conversation_id, from: change.from, to: change.to };
        insert_events(&mut tx, org_id, &[event], Some(at)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(conversation)
    }

    async fn revoke_session_tokens(&self, org_id: OrgId, conversation_id: ConversationId) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE conversations SET token_generation = token_generation + 1 WHERE id = ? AND org_id = ? \
             RETURNING token_generation",
        )
        .bind(id(conversation_id.0))
        .bind(id(org_id.0))
        .fetch_one(&self.writer)
        .await
        .map_err(map_err)?;
        get(&row, "token_generation")
    }

    async fn touch_conversation(&self, conversation_id: ConversationId, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE conversations SET last_activity_at = MAX(last_activity_at, ?) WHERE id = ?")
            .bind(at.0)
            .bind(id(conversation_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn list_messages(
        &self,
        conversation_id: ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(id(conversation_id.0))
        .bind(after_seq)
        .bind(effective_limit(limit, frontdesk_core::chat::HISTORY_PAGE, 1000))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| self.message_from_row(r)).collect()
    }

    async fn get_message(&self, conversation_id: ConversationId, message_id: MessageId) -> StoreResult<Message> {
        let row =
            sqlx::query(concat!("SELECT ", message_cols!(), " FROM messages WHERE id = ? AND conversation_id = ?"))
                .bind(id(message_id.0))
                .bind(id(conversation_id.0))
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        self.message_from_row(&row)
    }

    async fn token_generations(&self, ids: &[(SiteId, ConversationId)]) -> StoreResult<Vec<(ConversationId, i64)>> {
        let mut out = Vec::with_capacity(ids.len());
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in ids.chunks(500) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT id, site_id, token_generation FROM conversations WHERE id IN (");
            let mut list = q.separated(", ");
            for (_, conversation_id) in chunk {
                list.push_bind(id(conversation_id.0));
            }
            q.push(")");
            for row in q.build().fetch_all(&self.reader).await.map_err(map_err)? {
                let pair = (SiteId(uuid_at(&row, "site_id")?), ConversationId(uuid_at(&row, "id")?));
                if chunk.contains(&pair) {
                    out.push((pair.1, get(&row, "token_generation")?));
                }
            }
        }
        Ok(out)
    }

    async fn messages_by_ids(&self, ids: &[(ConversationId, MessageId)]) -> StoreResult<Vec<Message>> {
        let mut out = Vec::with_capacity(ids.len());
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in ids.chunks(500) {
            let mut q =
                QueryBuilder::<Sqlite>::new(concat!("SELECT ", message_cols!(), " FROM messages WHERE id IN ("));
            let mut list = q.separated(", ");
            for (_, message_id) in chunk {
                list.push_bind(id(message_id.0));
            }
            q.push(")");
            let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
            for row in &rows {
                let message = self.message_from_row(row)?;
                if chunk.iter().any(|(c, m)| *m == message.id && *c == message.conversation_id) {
                    out.push(message);
                }
            }
        }
        Ok(out)
    }

    async fn set_reaction(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        message_id: MessageId,
        reaction: Option<Reaction>,
    ) -> StoreResult<Message> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE messages SET reaction = ? WHERE id = ? AND conversation_id = ? ",
            "AND EXISTS (SELECT 1 FROM conversations WHERE id = ? AND org_id = ?) RETURNING ",
            message_cols!()
        ))
        .bind(reaction.map(Reaction::as_str))
        .bind(id(message_id.0))
        .bind(id(conversation_id.0))
        .bind(id(conversation_id.0))
        .bind(id(org_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let message = self.message_from_row(&row)?;
        let event = DomainEvent::ReactionSet { conversation_id, message_id, reaction };
        insert_events(&mut tx, org_id, &[event], None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(message)
    }

    async fn create_rating(&self, org_id: OrgId, rating: &Rating) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        conversation_in_tx(&mut tx, org_id, rating.conversation_id).await?;
        sqlx::query(concat!("INSERT INTO ratings (", rating_cols!(), ") VALUES (?, ?, ?, ?, ?)"))
            .bind(id(rating.conversation_id.0))
            .bind(i64::from(rating.stars))
            .bind(to_json(&rating.tags)?)
            .bind(&rating.feedback)
            .bind(rating.created_at.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| match map_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict("conversation already rated".to_owned()),
                other => other,
            })?;
        let event = DomainEvent::RatingCreated { conversation_id: rating.conversation_id, stars: rating.stars };
        insert_events(&mut tx, org_id, &[event], Some(rating.created_at)).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_rating(&self, conversation_id: ConversationId) -> StoreResult<Rating> {
        let row = sqlx::query(concat!("SELECT ", rating_cols!(), " FROM ratings WHERE conversation_id = ?"))
            .bind(id(conversation_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        rating_from_row(&row)
    }

    async fn prune_webhook_deliveries(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE status != 'pending' AND updated_at < ? LIMIT ?)",
        )
        .bind(before.0)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn rate_limit_hit(
        &self,
        key: &str,
        now: Timestamp,
        interval_ms: i64,
        tolerance_ms: i64,
        count: bool,
    ) -> StoreResult<Option<i64>> {
        if count {
            // One statement: the arrival time moves on only when the event is allowed.
            let moved: Option<i64> = sqlx::query_scalar(
                "INSERT INTO rate_limits (key, tat) VALUES (?1, ?2 + ?3) \
             ON CONFLICT (key) DO UPDATE SET tat = MAX(rate_limits.tat, ?2) + ?3 \
             WHERE MAX(rate_limits.tat, ?2) + ?3 - ?2 <= ?4 RETURNING tat",
            )
            .bind(key)
            .bind(now.0)
            .bind(interval_ms)
            .bind(tolerance_ms)
            .fetch_optional(&self.writer)
            .await
            .map_err(map_err)?;
            if moved.is_some() {
                return Ok(None);
            }
        }
        let tat: Option<i64> = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        let excess = tat.unwrap_or(now.0).max(now.0) + interval_ms - now.0 - tolerance_ms;
        Ok(if excess > 0 { Some(excess) } else { None })
    }

    async fn prune_rate_limits(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE tat < ?")
            .bind(before.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        self.reseal_rows(limit).await
    }

    async fn create_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        self.create_webhook_endpoint_row(endpoint).await
    }

    async fn get_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<WebhookEndpoint> {
        self.get_webhook_endpoint_row(org_id, id).await
    }

    async fn list_webhook_endpoints(&self, org_id: OrgId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.list_webhook_endpoint_rows(org_id).await
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        self.update_webhook_endpoint_row(endpoint).await
    }

    async fn delete_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<()> {
        self.delete_webhook_endpoint_row(org_id, id).await
    }

    async fn create_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<u64> {
        self.create_webhook_delivery_rows(deliveries).await
    }

    async fn get_webhook_delivery(&self, org_id: OrgId, id: WebhookDeliveryId) -> StoreResult<WebhookDelivery> {
        self.get_webhook_delivery_row(org_id, id).await
    }

    async fn list_webhook_deliveries(
        &self,
        org_id: OrgId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.list_webhook_delivery_rows(org_id, filter).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.claim_webhook_delivery_rows(now, lease_until, limit).await
    }

    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        self.update_webhook_delivery_row(delivery).await
    }

    async fn create_scenario(&self, scenario: &Scenario) -> StoreResult<()> {
        self.create_scenario_row(scenario).await
    }

    async fn get_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<Scenario> {
        self.get_scenario_row(org_id, id).await
    }

    async fn list_scenarios(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Vec<Scenario>> {
        self.list_scenario_rows(org_id, site_id).await
    }

    async fn update_scenario(&self, scenario: &Scenario) -> StoreResult<()> {
        self.update_scenario_row(scenario).await
    }

    async fn delete_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<()> {
        self.delete_scenario_row(org_id, id).await
    }

    async fn publish_scenario(
        &self,
        org_id: OrgId,
        id: ScenarioId,
        document: &serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<Scenario> {
        self.publish_scenario_row(org_id, id, document, at).await
    }

    async fn get_scenario_version(&self, org_id: OrgId, id: ScenarioId, version: i64) -> StoreResult<ScenarioVersion> {
        self.get_scenario_version_row(org_id, id, version).await
    }

    async fn set_start_scenario(&self, org_id: OrgId, site_id: SiteId, id: Option<ScenarioId>) -> StoreResult<()> {
        self.set_start_scenario_row(org_id, site_id, id).await
    }

    async fn published_scenarios(
        &self,
        org_id: OrgId,
        site_id: SiteId,
    ) -> StoreResult<Vec<(Scenario, ScenarioVersion)>> {
        self.published_scenario_rows(org_id, site_id).await
    }

    async fn get_flow_state(&self, org_id: OrgId, conversation_id: ConversationId) -> StoreResult<Option<FlowState>> {
        self.get_flow_row(org_id, conversation_id).await
    }

    async fn put_flow_state(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        state: Option<&FlowState>,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        self.put_flow_row(org_id, conversation_id, state, expected).await
    }

    async fn due_flow_states(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<FlowState>> {
        self.due_flow_rows(now, limit).await
    }

    async fn put_canned_response(&self, response: &CannedResponse) -> StoreResult<()> {
        self.put_canned_row(response).await
    }

    async fn delete_canned_response(&self, org_id: OrgId, id: CannedResponseId) -> StoreResult<()> {
        self.delete_canned_row(org_id, id).await
    }

    async fn list_canned_responses(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>> {
        self.list_canned_rows(org_id).await
    }

    async fn record_unanswered(&self, question: &UnansweredQuestion) -> StoreResult<()> {
        self.record_unanswered_row(question).await
    }

    async fn list_unanswered(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        self.list_unanswered_rows(org_id, site_id, since, limit).await
    }

    async fn conversation_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversationStat>> {
        self.conversation_stat_rows(org_id, site_id, from, to).await
    }

    async fn reaction_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ReactionStat>> {
        self.reaction_stat_rows(org_id, site_id, from, to).await
    }

    async fn top_pages(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PageCount>> {
        self.top_page_rows(org_id, site_id, from, to, limit).await
    }

    async fn conversion_counts(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversionCount>> {
        self.conversion_count_rows(org_id, site_id, from, to).await
    }

    async fn append_visitor_event(&self, e: &VisitorEvent) -> StoreResult<()> {
        // Inserted only when the visitor belongs to the site: anything else is "not found".
        let done = sqlx::query(concat!(
            "INSERT INTO visitor_events (", visitor_event_cols!(),
            ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM visitors WHERE id = ? AND site_id = ?)"
        ))
        .bind(id(e.id.0))
        .bind(id(e.site_id.0))
        .bind(id(e.visitor_id.0))
        .bind(opt_id(e.conversation_id.map(|c| c.0)))
        .bind(e.kind.as_str())
        .bind(&e.url)
        .bind(&e.title)
        .bind(&e.referrer)
        .bind(&e.name)
        .bind(to_json(&e.props)?)
        .bind(e.created_at.0)
        .bind(id(e.visitor_id.0))
        .bind(id(e.site_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_visitor_events(
        &self,
        site_id: SiteId,
        visitor_id: VisitorId,
        limit: u32,
    ) -> StoreResult<Vec<VisitorEvent>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            visitor_event_cols!(),
            " FROM visitor_events WHERE site_id = ? AND visitor_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(id(site_id.0))
        .bind(id(visitor_id.0))
        .bind(effective_limit(limit, 50, 500))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(visitor_event_from_row).collect()
    }

    async fn find_visitors(&self, org_id: OrgId, lookup: &VisitorLookup) -> StoreResult<Vec<Visitor>> {
        self.find_visitor_rows(org_id, lookup).await
    }

    async fn visitor_conversations(&self, org_id: OrgId, visitor_id: VisitorId) -> StoreResult<Vec<Conversation>> {
        self.visitor_conversation_rows(org_id, visitor_id).await
    }

    async fn visitor_event_history(&self, site_id: SiteId, visitor_id: VisitorId) -> StoreResult<Vec<VisitorEvent>> {
        self.visitor_event_rows(site_id, visitor_id).await
    }

    async fn conversation_unanswered(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        self.conversation_unanswered_rows(org_id, conversation_id).await
    }

    async fn erase_visitor(&self, org_id: OrgId, visitor_id: VisitorId, at: Timestamp) -> StoreResult<ErasureCounts> {
        self.erase_visitor_rows(org_id, visitor_id, at).await
    }

    async fn purge_expired(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<RetentionCounts> {
        self.purge_expired_rows(org_id, site_id, before, limit).await
    }

    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<AuditRecord> {
        self.append_audit_row(e).await
    }

    async fn list_audit(&self, org_id: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.list_audit_rows(org_id, filter).await
    }

    async fn audit_chain(&self, org_id: OrgId, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.audit_chain_rows(org_id, after_seq, limit).await
    }

    async fn audit_head(&self, org_id: OrgId) -> StoreResult<Option<AuditHead>> {
        self.audit_head_row(org_id).await
    }

    async fn create_article(&self, article: &frontdesk_core::knowledge::Article) -> StoreResult<()> {
        self.create_article_row(article).await
    }

    async fn get_article(
        &self,
        org_id: OrgId,
        id: frontdesk_core::knowledge::ArticleId,
    ) -> StoreResult<frontdesk_core::knowledge::Article> {
        self.get_article_row(org_id, id).await
    }

    async fn get_article_by_external_key(
        &self,
        site_id: SiteId,
        key: &str,
    ) -> StoreResult<frontdesk_core::knowledge::Article> {
        self.get_article_by_key_row(site_id, key).await
    }

    async fn update_article(&self, article: &frontdesk_core::knowledge::Article) -> StoreResult<()> {
        self.update_article_row(article).await
    }

    async fn delete_article(&self, org_id: OrgId, id: frontdesk_core::knowledge::ArticleId) -> StoreResult<()> {
        self.delete_article_row(org_id, id).await
    }

    async fn list_articles(
        &self,
        org_id: OrgId,
        filter: &frontdesk_core::store::ArticleFilter,
    ) -> StoreResult<Vec<frontdesk_core::knowledge::Article>> {
        self.list_article_rows(org_id, filter).await
    }

    async fn all_articles(&self, site_id: Option<SiteId>) -> StoreResult<Vec<frontdesk_core::knowledge::Article>> {
        self.all_article_rows(site_id).await
    }

    async fn article_versions(&self) -> StoreResult<Vec<frontdesk_core::store::ArticleVersion>> {
        self.article_version_rows().await
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let rows = sqlx::query("SELECT id, org_id, payload, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after)
            .bind(effective_limit(limit, 100, 1000))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn prune_outbox(&self, up_to_id: i64, before: Timestamp, limit: u32) -> StoreResult<u64> {
        // The primary key's range, from its start: the oldest events come first.
        let done = sqlx::query(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE id <= ? AND created_at < ? ORDER BY id LIMIT ?)",
        )
        .bind(up_to_id)
        .bind(before.0)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("frontdesk-unit-{name}-{}", Uuid::now_v7().simple())).join("db.sqlite")
    }

    async fn pragma(pool: &SqlitePool, name: &str) -> String {
        // Pragma names cannot be bound; these are constants of this test.
        let row = sqlx::query(&format!("PRAGMA {name}")).fetch_one(pool).await.expect("read pragma");
        row.try_get::<String, _>(0).or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string())).expect("pragma value")
    }

    #[tokio::test]
    async fn connections_have_the_documented_pragmas() {
        for (full, synchronous) in [(false, "1"), (true, "2")] {
            let path = temp_path("pragmas");
            let store = SqliteStore::open(&path, SqliteOptions { synchronous_full: full }).await.expect("open");
            assert_eq!(pragma(&store.writer, "journal_mode").await, "wal");
            assert_eq!(pragma(&store.writer, "foreign_keys").await, "1");
            assert_eq!(pragma(&store.writer, "busy_timeout").await, "5000");
            assert_eq!(pragma(&store.writer, "synchronous").await, synchronous, "NORMAL is 1, FULL is 2");
            assert_eq!(pragma(&store.reader, "journal_mode").await, "wal");
            assert_eq!(pragma(&store.reader, "busy_timeout").await, "5000");
            assert_eq!(store.writer.options().get_max_connections(), 1, "one writer");
            store.close().await;
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[tokio::test]
    async fn reader_connections_cannot_write() {
        let path = temp_path("readonly");
        let store = SqliteStore::open(&path, SqliteOptions::default()).await.expect("open");
        let write = sqlx::query("INSERT INTO settings (key, value) VALUES ('k', 'v')").execute(&store.reader).await;
        assert!(write.is_err(), "a write through the reader pool must fail");
        store.close().await;
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(effective_limit(0, 50, 200), 50);
        assert_eq!(effective_limit(7, 50, 200), 7);
        assert_eq!(effective_limit(10_000, 50, 200), 200);
    }
}
