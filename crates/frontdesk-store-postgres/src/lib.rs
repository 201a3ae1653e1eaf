//! The PostgreSQL implementation of Frontdesk's [`Store`] port, for running several nodes
//! against one database.
//!
//! Appends and status changes lock the conversation's row (`SELECT … FOR UPDATE`), which makes
//! sequence numbers gapless and compare-and-set exact under any number of nodes. Outbox ids come
//! from an identity sequence and concurrent transactions may commit them out of order; so that a
//! reader that has seen id `n` never later finds a smaller id committing, `outbox_after` returns a
//! range only once every id below its last row is settled: committed, or never to be (it waits
//! for the running transaction holding a missing id, with a rolled-back probe insert of that id).
//! Ids up to `outbox_pruned.up_to` that are missing were deleted by retention, not holes.
//! Writers never wait for each other, so commits (and their WAL flushes) are grouped.
//!
//! Times are Unix milliseconds (BIGINT), JSON is JSONB, ids are `uuid`.

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
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Decode, Postgres, QueryBuilder, Row, Type};
use std::time::Duration;
use uuid::Uuid;

mod articles;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Commits no longer wait for each other (no global outbox lock), so more connections mean more
/// transactions sharing each WAL flush (group commit); the pool opens them only under load.
const MAX_CONNECTIONS: u32 = 24;
/// Connections reserved for the realtime reads (the outbox follower and agents' catch-ups).
const REALTIME_CONNECTIONS: u32 = 3;
/// How long an outbox read waits for the transactions that may still commit a missing id before
/// it returns only the events below it (the rest comes with a later read).
const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// Past this without a free connection the store answers `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// A few connections of its own for the realtime reads (`outbox_after`, `messages_by_ids`),
    /// so the outbox follower never queues behind the requests that fill `pool`.
    realtime: PgPool,
    /// Encryption at rest, when a key ring is configured.
    sealer: Option<std::sync::Arc<Sealer>>,
    /// Appended messages waiting for their group commit.
    appends: std::sync::Arc<appends::AppendQueue>,
}

impl PgStore {
    /// Connects (a pool of up to 24 connections, plus 3 for the realtime reads) and brings the schema up to date. Nodes starting
    /// at once are fine: sqlx serializes migrations with an advisory lock.
    ///
    /// The schema lands in the first schema of the connection's `search_path`.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(map_err)?;
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(map_migrate_err(e));
        }
        // Lazy: its connections open when the realtime layer first reads (and reconnect alone).
        let realtime = PgPoolOptions::new()
            .max_connections(REALTIME_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(pool.connect_options().as_ref().clone());
        let appends = std::sync::Arc::new(appends::AppendQueue::new(appends::MAX_BATCH, appends::LANES));
        let store = PgStore { pool, realtime, sealer: None, appends };
        if let Err(e) = store.seal_unsealed_audit().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Waits for the connections in use to be returned, then closes every connection.
    pub async fn close(&self) {
        self.realtime.close().await;
        self.pool.close().await;
    }

    async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
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
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if code == "23505" {
                // unique_violation
                return StoreError::Conflict(db.message().to_owned());
            }
            // Class 08: connection exceptions; 57P01-57P03: the server is shutting down or
            // starting; 53300: too many connections. All pass; the caller may retry later.
            if code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "53300") {
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
        other => StoreError::Backend(format!("migrating the postgres schema: {other}")),
    }
}

fn corrupt(column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable value in column {column}: {detail}"))
}

// Reading helpers. Rows are read by column name.

fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(map_err)
}

fn ts_at(row: &PgRow, column: &str) -> StoreResult<Timestamp> {
    get::<i64>(row, column).map(Timestamp)
}

fn opt_ts_at(row: &PgRow, column: &str) -> StoreResult<Option<Timestamp>> {
    get::<Option<i64>>(row, column).map(|t| t.map(Timestamp))
}

/// A nullable JSON column: SQL `NULL` is `None`.
fn opt_json_at<T: DeserializeOwned>(row: &PgRow, column: &str) -> StoreResult<Option<T>> {
    match get::<Option<serde_json::Value>>(row, column)? {
        Some(value) => serde_json::from_value(value).map(Some).map_err(|e| corrupt(column, e)),
        None => Ok(None),
    }
}

fn json_at<T: DeserializeOwned>(row: &PgRow, column: &str) -> StoreResult<T> {
    let value: serde_json::Value = get(row, column)?;
    serde_json::from_value(value).map_err(|e| corrupt(column, e))
}

fn status_at(row: &PgRow, column: &str) -> StoreResult<ConversationStatus> {
    let text: String = get(row, column)?;
    ConversationStatus::parse(&text).ok_or_else(|| corrupt(column, text))
}

/// `0` means `default`; anything above `max` is `max`.
fn effective_limit(limit: u32, default: u32, max: u32) -> i64 {
    i64::from(if limit == 0 { default } else { limit.min(max) })
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

/// The column is an INTEGER; the API keeps the value within a few thousand days.
fn retention_days_column(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

// After the column macros, which they use (macros are in scope below their definition only).
mod appends;
mod audit;
mod billing;
mod dashboard;
mod privacy;
mod scenarios;
mod sealing;
mod team;
mod webhooks;

fn org_from_row(row: &PgRow) -> StoreResult<Organization> {
    let plan: String = get(row, "plan")?;
    let extra_seats: i64 = get(row, "extra_seats")?;
    Ok(Organization {
        id: OrgId(get(row, "id")?),
        name: get(row, "name")?,
        plan: Plan::parse(&plan).ok_or_else(|| corrupt("plan", plan))?,
        extra_seats: u32::try_from(extra_seats).map_err(|e| corrupt("extra_seats", e))?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: UserId(get(row, "id")?),
        email: get(row, "email")?,
        name: get(row, "name")?,
        password_hash: get(row, "password_hash")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn membership_from_row(row: &PgRow) -> StoreResult<Membership> {
    let role: String = get(row, "role")?;
    Ok(Membership {
        org_id: OrgId(get(row, "org_id")?),
        user_id: UserId(get(row, "user_id")?),
        role: Role::parse(&role).ok_or_else(|| corrupt("role", role))?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn session_from_row(row: &PgRow) -> StoreResult<LoginSession> {
    Ok(LoginSession {
        token_hash: get(row, "token_hash")?,
        user_id: UserId(get(row, "user_id")?),
        created_at: ts_at(row, "created_at")?,
        last_seen_at: ts_at(row, "last_seen_at")?,
        expires_at: ts_at(row, "expires_at")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
    })
}

fn raw_site_from_row(row: &PgRow) -> StoreResult<Site> {
    Ok(Site {
        id: SiteId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        name: get(row, "name")?,
        public_key: get(row, "public_key")?,
        secret: get(row, "secret")?,
        allowed_origins: json_at(row, "allowed_origins")?,
        widget: json_at(row, "widget")?,
        widget_draft: opt_json_at(row, "widget_draft")?,
        assistant: json_at(row, "assistant")?,
        previous_public_key: get(row, "previous_public_key")?,
        previous_key_expires_at: opt_ts_at(row, "previous_key_expires_at")?,
        require_verified_identity: get(row, "require_verified_identity")?,
        retention_days: get::<Option<i32>>(row, "retention_days")?
            .map(|d| u32::try_from(d).map_err(|_| corrupt("retention_days", d)))
            .transpose()?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn raw_visitor_from_row(row: &PgRow) -> StoreResult<Visitor> {
    Ok(Visitor {
        id: VisitorId(get(row, "id")?),
        site_id: SiteId(get(row, "site_id")?),
        name: get(row, "name")?,
        email: get(row, "email")?,
        locale: get(row, "locale")?,
        user_id: get(row, "user_id")?,
        verified: get(row, "verified")?,
        created_at: ts_at(row, "created_at")?,
        last_seen_at: ts_at(row, "last_seen_at")?,
        erased_at: opt_ts_at(row, "erased_at")?,
    })
}

fn conversation_from_row(row: &PgRow) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: ConversationId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        site_id: SiteId(get(row, "site_id")?),
        visitor_id: VisitorId(get(row, "visitor_id")?),
        status: status_at(row, "status")?,
        assignee_id: get::<Option<Uuid>>(row, "assignee_id")?.map(UserId),
        page_url: get(row, "page_url")?,
        locale: get(row, "locale")?,
        params: get(row, "params")?,
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

fn raw_message_from_row(row: &PgRow) -> StoreResult<Message> {
    let author_kind: String = get(row, "author_kind")?;
    let reaction: Option<String> = get(row, "reaction")?;
    let reaction = match reaction {
        Some(r) => Some(Reaction::parse(&r).ok_or_else(|| corrupt("reaction", r))?),
        None => None,
    };
    Ok(Message {
        id: MessageId(get(row, "id")?),
        conversation_id: ConversationId(get(row, "conversation_id")?),
        seq: get(row, "seq")?,
        author_kind: AuthorKind::parse(&author_kind).ok_or_else(|| corrupt("author_kind", author_kind))?,
        author_id: get::<Option<Uuid>>(row, "author_id")?.map(UserId),
        body: get(row, "body")?,
        html: get(row, "html")?,
        citations: json_at(row, "citations")?,
        quick_replies: json_at(row, "quick_replies")?,
        reaction,
        created_at: ts_at(row, "created_at")?,
    })
}

fn rating_from_row(row: &PgRow) -> StoreResult<Rating> {
    let stars: i16 = get(row, "stars")?;
    Ok(Rating {
        conversation_id: ConversationId(get(row, "conversation_id")?),
        stars: u8::try_from(stars).map_err(|e| corrupt("stars", e))?,
        tags: json_at(row, "tags")?,
        feedback: get(row, "feedback")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn audit_from_row(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: AuditEventId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        actor_id: get::<Option<Uuid>>(row, "actor_id")?.map(UserId),
        action: get(row, "action")?,
        target_kind: get(row, "target_kind")?,
        target_id: get(row, "target_id")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        details: get(row, "details")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn visitor_event_from_row(row: &PgRow) -> StoreResult<VisitorEvent> {
    let kind: String = get(row, "kind")?;
    Ok(VisitorEvent {
        id: VisitorEventId(get(row, "id")?),
        site_id: SiteId(get(row, "site_id")?),
        visitor_id: VisitorId(get(row, "visitor_id")?),
        conversation_id: get::<Option<Uuid>>(row, "conversation_id")?.map(ConversationId),
        kind: VisitorEventKind::parse(&kind).ok_or_else(|| corrupt("kind", kind))?,
        url: get(row, "url")?,
        title: get(row, "title")?,
        referrer: get(row, "referrer")?,
        name: get(row, "name")?,
        props: get(row, "props")?,
        created_at: ts_at(row, "created_at")?,
    })
}

fn outbox_from_row(row: &PgRow) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        id: get(row, "id")?,
        org_id: OrgId(get(row, "org_id")?),
        event: json_at(row, "payload")?,
        created_at: ts_at(row, "created_at")?,
    })
}

/// Writes events to the outbox inside the caller's transaction, stamped `at` (the database's
/// clock when `None`). Writers do not wait for each other: ids may commit out of order, and
/// `outbox_after` waits for the missing ones. For that, a transaction must have its xid before
/// it takes an id: `pg_current_xact_id()` in the `WHERE` runs before the identity default.
async fn insert_events(
    conn: &mut PgConnection,
    org_id: OrgId,
    events: &[DomainEvent],
    at: Option<Timestamp>,
) -> StoreResult<()> {
    for event in events {
        sqlx::query(
            "INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) \
             SELECT $1, $2, $3, $4, COALESCE($5, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) \
             WHERE pg_current_xact_id() IS NOT NULL",
        )
        .bind(org_id.0)
        .bind(event.conversation_id().0)
        .bind(event.kind())
        .bind(Json(event))
        .bind(at.map(|t| t.0))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

/// The conversation, if it belongs to `org_id`, locked until the caller's transaction ends.
async fn lock_conversation(conn: &mut PgConnection, org_id: OrgId, id: ConversationId) -> StoreResult<Conversation> {
    let row = sqlx::query(concat!(
        "SELECT ",
        conversation_cols!(),
        " FROM conversations WHERE id = $1 AND org_id = $2 FOR UPDATE"
    ))
    .bind(id.0)
    .bind(org_id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)?;
    conversation_from_row(&row)
}

fn expect_one_row(result: sqlx::postgres::PgQueryResult) -> StoreResult<()> {
    if result.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Encryption at rest: values of the sealed columns pass through the key ring on the way in and out.
impl PgStore {
    /// Turns on encryption at rest with `sealer`'s key ring.
    pub fn with_sealer(mut self, sealer: std::sync::Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    fn seal(&self) -> Seal<'_> {
        Seal::new(self.sealer.as_deref())
    }

    fn site_from_row(&self, row: &PgRow) -> StoreResult<Site> {
        self.seal().open_site(raw_site_from_row(row)?).map_err(sealing)
    }

    fn visitor_from_row(&self, row: &PgRow) -> StoreResult<Visitor> {
        self.seal().open_visitor(raw_visitor_from_row(row)?).map_err(sealing)
    }

    fn message_from_row(&self, row: &PgRow) -> StoreResult<Message> {
        self.seal().open_message(raw_message_from_row(row)?).map_err(sealing)
    }
}

/// A value of a sealed column that does not open: a missing key or a corrupt row.
fn sealing(e: frontdesk_crypto::CryptoError) -> StoreError {
    StoreError::Backend(format!("encryption at rest: {e}"))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn get_or_init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        // A concurrent insert of the same key waits for the first to commit, then does nothing;
        // the SELECT (a new snapshot under READ COMMITTED) then sees the winner's value.
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn compare_and_set_setting(&self, key: &str, expected: &str, value: &str) -> StoreResult<bool> {
        // The row lock the UPDATE takes makes concurrent callers with the same `expected` queue;
        // the later one re-checks the condition on the committed value and updates nothing.
        let done = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
            .bind(value)
            .bind(key)
            .bind(expected)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO organizations (", org_cols!(), ") VALUES ($1, $2, $3, $4, $5)"))
            .bind(org.id.0)
            .bind(&org.name)
            .bind(org.plan.as_str())
            .bind(i64::from(org.extra_seats))
            .bind(org.created_at.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organization> {
        let row = sqlx::query(concat!("SELECT ", org_cols!(), " FROM organizations WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        org_from_row(&row)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(concat!("SELECT ", org_cols!(), " FROM organizations ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(org_from_row).collect()
    }

    async fn set_org_plan(&self, id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()> {
        self.set_org_plan_row(id, plan, extra_seats).await
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

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(user.id.0)
            .bind(user.email.to_lowercase())
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(user.created_at.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        user_from_row(&row)
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<User> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE email = $1"))
            .bind(email.to_lowercase())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        user_from_row(&row)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn put_membership(&self, m: &Membership) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        team::upsert_membership(&mut conn, m).await
    }

    async fn get_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<Membership> {
        let row =
            sqlx::query(concat!("SELECT ", membership_cols!(), " FROM memberships WHERE org_id = $1 AND user_id = $2"))
                .bind(org_id.0)
                .bind(user_id.0)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        membership_from_row(&row)
    }

    async fn list_memberships_of_user(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            membership_cols!(),
            " FROM memberships WHERE user_id = $1 ORDER BY created_at, org_id"
        ))
        .bind(user_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(membership_from_row).collect()
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

    async fn create_login_session(&self, s: &LoginSession) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO login_sessions (", session_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&s.token_hash)
            .bind(s.user_id.0)
            .bind(s.created_at.0)
            .bind(s.last_seen_at.0)
            .bind(s.expires_at.0)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_login_session(&self, token_hash: &str) -> StoreResult<LoginSession> {
        let row = sqlx::query(concat!("SELECT ", session_cols!(), " FROM login_sessions WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_one(&self.pool)
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
        let done = sqlx::query("UPDATE login_sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(seen_at.0)
            .bind(expires_at.0)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn delete_login_session(&self, token_hash: &str) -> StoreResult<()> {
        // Deleting a session that is gone already is not an error: logging out twice is fine.
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM login_sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, token_hash"
        ))
        .bind(user_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn delete_login_sessions_of_user(&self, user_id: UserId, keep: Option<&str>) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1 AND ($2::text IS NULL OR token_hash <> $2)")
            .bind(user_id.0)
            .bind(keep)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_totp(&self, user_id: UserId) -> StoreResult<Option<TotpState>> {
        let row = sqlx::query("SELECT secret, enabled, last_step FROM user_totp WHERE user_id = $1")
            .bind(user_id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(TotpState {
                secret: self.seal().open(fields::TOTP_SECRET, get(&r, "secret")?).map_err(sealing)?,
                enabled: get(&r, "enabled")?,
                last_step: get(&r, "last_step")?,
            })
        })
        .transpose()
    }

    async fn put_totp(&self, user_id: UserId, state: &TotpState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_totp (user_id, secret, enabled, last_step) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, enabled = EXCLUDED.enabled, \
             last_step = EXCLUDED.last_step",
        )
        .bind(user_id.0)
        .bind(self.seal().text(fields::TOTP_SECRET, &state.secret).map_err(sealing)?)
        .bind(state.enabled)
        .bind(state.last_step)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_totp(&self, user_id: UserId) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(user_id.0)
            .execute(&self.pool)
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
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id.0)
        .bind(created_at.0)
        .bind(expires_at.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn take_password_reset(&self, token_hash: &str, at: Timestamp) -> StoreResult<UserId> {
        // One statement: of two concurrent uses, only one finds it unused.
        let row = sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id",
        )
        .bind(at.0)
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(UserId(get(&row, "user_id")?))
    }

    async fn create_site(&self, site: &Site) -> StoreResult<()> {
        let site = &self.seal().seal_site(site).map_err(sealing)?;
        sqlx::query(concat!(
            "INSERT INTO sites (",
            site_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(site.id.0)
        .bind(site.org_id.0)
        .bind(&site.name)
        .bind(&site.public_key)
        .bind(&site.secret)
        .bind(Json(&site.allowed_origins))
        .bind(Json(&site.widget))
        // `None` is SQL NULL, not a JSON `null`.
        .bind(site.widget_draft.as_ref().map(Json))
        .bind(Json(&site.assistant))
        .bind(&site.previous_public_key)
        .bind(site.previous_key_expires_at.map(|t| t.0))
        .bind(site.require_verified_identity)
        .bind(site.retention_days.map(retention_days_column))
        .bind(site.created_at.0)
        .bind(site.updated_at.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_site(&self, org_id: OrgId, id: SiteId) -> StoreResult<Site> {
        let row = sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites WHERE id = $1 AND org_id = $2"))
            .bind(id.0)
            .bind(org_id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        self.site_from_row(&row)
    }

    async fn get_site_by_public_key(&self, public_key: &str) -> StoreResult<Site> {
        // Keys are random, so at most one site has this key; should a current key ever equal
        // another site's previous one, the current key wins.
        let row = sqlx::query(concat!(
            "SELECT ",
            site_cols!(),
            " FROM sites WHERE public_key = $1 OR previous_public_key = $1 ORDER BY public_key = $1 DESC LIMIT 1"
        ))
        .bind(public_key)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        self.site_from_row(&row)
    }

    async fn list_sites(&self, org_id: OrgId) -> StoreResult<Vec<Site>> {
        let rows =
            sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites WHERE org_id = $1 ORDER BY created_at, id"))
                .bind(org_id.0)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter().map(|r| self.site_from_row(r)).collect()
    }

    async fn list_all_sites(&self) -> StoreResult<Vec<Site>> {
        let rows = sqlx::query(concat!("SELECT ", site_cols!(), " FROM sites ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(|r| self.site_from_row(r)).collect()
    }

    async fn update_site(&self, site: &Site) -> StoreResult<()> {
        let site = &self.seal().seal_site(site).map_err(sealing)?;
        let done = sqlx::query(
            "UPDATE sites SET name = $1, public_key = $2, secret = $3, allowed_origins = $4, widget = $5, \
             assistant = $6, updated_at = $7, widget_draft = $10, previous_public_key = $11, \
             previous_key_expires_at = $12, require_verified_identity = $13, retention_days = $14 \
             WHERE id = $8 AND org_id = $9",
        )
        .bind(&site.name)
        .bind(&site.public_key)
        .bind(&site.secret)
        .bind(Json(&site.allowed_origins))
        .bind(Json(&site.widget))
        .bind(Json(&site.assistant))
        .bind(site.updated_at.0)
        .bind(site.id.0)
        .bind(site.org_id.0)
        .bind(site.widget_draft.as_ref().map(Json))
        .bind(&site.previous_public_key)
        .bind(site.previous_key_expires_at.map(|t| t.0))
        .bind(site.require_verified_identity)
        .bind(site.retention_days.map(retention_days_column))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn create_visitor(&self, v: &Visitor) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO visitors (",
            visitor_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(v.id.0)
        .bind(v.site_id.0)
        .bind(self.seal().opt(fields::VISITOR_NAME, v.name.as_deref()).map_err(sealing)?)
        .bind(self.seal().opt(fields::VISITOR_EMAIL, v.email.as_deref()).map_err(sealing)?)
        .bind(&v.locale)
        .bind(&v.user_id)
        .bind(v.verified)
        .bind(v.created_at.0)
        .bind(v.last_seen_at.0)
        .bind(v.erased_at.map(|t| t.0))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_visitor(&self, site_id: SiteId, id: VisitorId) -> StoreResult<Visitor> {
        let row = sqlx::query(concat!("SELECT ", visitor_cols!(), " FROM visitors WHERE id = $1 AND site_id = $2"))
            .bind(id.0)
            .bind(site_id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        self.visitor_from_row(&row)
    }

    async fn touch_visitor(&self, site_id: SiteId, id: VisitorId, seen_at: Timestamp) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE visitors SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id = $2 AND site_id = $3")
                .bind(seen_at.0)
                .bind(id.0)
                .bind(site_id.0)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn identify_visitor(
        &self,
        site_id: SiteId,
        id: VisitorId,
        conversation_id: ConversationId,
        who: &VisitorIdentity,
    ) -> StoreResult<Visitor> {
        let mut tx = self.begin().await?;
        // The session it was said in: the visitor's, on this site (its org names the event's).
        let org: Uuid =
            sqlx::query_scalar("SELECT org_id FROM conversations WHERE id = $1 AND site_id = $2 AND visitor_id = $3")
                .bind(conversation_id.0)
                .bind(site_id.0)
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        // One statement: the given fields replace, the others stay; `verified` follows `user_id`.
        let row = sqlx::query(concat!(
            "UPDATE visitors SET name = COALESCE($1, name), email = COALESCE($2, email), ",
            "verified = CASE WHEN $3::text IS NULL THEN verified ELSE $4 END, user_id = COALESCE($3, user_id) ",
            "WHERE id = $5 AND site_id = $6 RETURNING ",
            visitor_cols!()
        ))
        .bind(self.seal().opt(fields::VISITOR_NAME, who.name.as_deref()).map_err(sealing)?)
        .bind(self.seal().opt(fields::VISITOR_EMAIL, who.email.as_deref()).map_err(sealing)?)
        .bind(&who.user_id)
        .bind(who.verified)
        .bind(id.0)
        .bind(site_id.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let visitor = self.visitor_from_row(&row)?;
        let event = DomainEvent::VisitorIdentified {
            conversation_id,
            site_id,
            visitor_id: id,
            verified: visitor.verified && visitor.user_id.is_some(),
        };
        insert_events(&mut tx, OrgId(org), &[event], None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(visitor)
    }

    async fn verified_visitors(&self, site_id: SiteId, user_id: &str) -> StoreResult<Vec<VisitorId>> {
        let rows = sqlx::query(
            "SELECT id FROM visitors WHERE site_id = $1 AND user_id = $2 AND verified ORDER BY created_at, id LIMIT 50",
        )
        .bind(site_id.0)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| Ok(VisitorId(get(r, "id")?))).collect()
    }

    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO conversations (",
            conversation_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(c.id.0)
        .bind(c.org_id.0)
        .bind(c.site_id.0)
        .bind(c.visitor_id.0)
        .bind(c.status.as_str())
        .bind(c.assignee_id.map(|u| u.0))
        .bind(&c.page_url)
        .bind(&c.locale)
        .bind(&c.params)
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

    async fn get_conversation_for_site(&self, site_id: SiteId, id: ConversationId) -> StoreResult<Conversation> {
        let row =
            sqlx::query(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id = $1 AND site_id = $2"))
                .bind(id.0)
                .bind(site_id.0)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        conversation_from_row(&row)
    }

    async fn get_conversation(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Conversation> {
        let row =
            sqlx::query(concat!("SELECT ", conversation_cols!(), " FROM conversations WHERE id = $1 AND org_id = $2"))
                .bind(id.0)
                .bind(org_id.0)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        conversation_from_row(&row)
    }

    async fn list_conversations(&self, org_id: OrgId, filter: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        let mut q = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            conversation_cols!(),
            " FROM conversations WHERE org_id = "
        ));
        q.push_bind(org_id.0);
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(site_id) = filter.site_id {
            q.push(" AND site_id = ").push_bind(site_id.0);
        }
        if let Some(visitor_id) = filter.visitor_id {
            q.push(" AND visitor_id = ").push_bind(visitor_id.0);
        }
        q.push(" ORDER BY updated_at DESC, id DESC LIMIT ").push_bind(effective_limit(filter.limit, 50, 200));
        let rows = q.build().fetch_all(&self.pool).await.map_err(map_err)?;
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
        self.assign_conversation_row(org_id, id, assignee, at).await
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
        id: ConversationId,
        change: StatusChange,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        let current = lock_conversation(&mut tx, org_id, id).await?;
        // `None`: nothing changes, so no write and no event.
        let Some(conversation) = change_status_of(&current, change, at)? else { return Ok(current) };
        sqlx::query("UPDATE conversations SET status = $1, updated_at = $2, status_changed_at = $4, escalated_at = $5 WHERE id = $3")
            .bind(conversation.status.as_str())
            .bind(conversation.updated_at.0)
            .bind(id.0)
            .bind(conversation.status_changed_at.0)
            .bind(conversation.escalated_at.map(|t| t.0))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let event = DomainEvent::StatusChanged { conversation_id: id, from: change.from, to: change.to };
        insert_events(&mut tx, org_id, &[event], Some(at)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(conversation)
    }

    async fn revoke_session_tokens(&self, org_id: OrgId, id: ConversationId) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE conversations SET token_generation = token_generation + 1 WHERE id = $1 AND org_id = $2 \
             RETURNING token_generation",
        )
        .bind(id.0)
        .bind(org_id.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        get(&row, "token_generation")
    }

    async fn touch_conversation(&self, id: ConversationId, at: Timestamp) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE conversations SET last_activity_at = GREATEST(last_activity_at, $1) WHERE id = $2")
                .bind(at.0)
                .bind(id.0)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        expect_one_row(done)
    }

    async fn list_messages(&self, id: ConversationId, after_seq: i64, limit: u32) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(id.0)
        .bind(after_seq)
        .bind(effective_limit(limit, frontdesk_core::chat::HISTORY_PAGE, 1000))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| self.message_from_row(r)).collect()
    }

    async fn get_message(&self, conversation_id: ConversationId, id: MessageId) -> StoreResult<Message> {
        let row =
            sqlx::query(concat!("SELECT ", message_cols!(), " FROM messages WHERE id = $1 AND conversation_id = $2"))
                .bind(id.0)
                .bind(conversation_id.0)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        self.message_from_row(&row)
    }

    async fn set_reaction(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        id: MessageId,
        reaction: Option<Reaction>,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE messages SET reaction = $1 WHERE id = $2 AND conversation_id = $3 ",
            "AND EXISTS (SELECT 1 FROM conversations WHERE id = $3 AND org_id = $4) RETURNING ",
            message_cols!()
        ))
        .bind(reaction.map(Reaction::as_str))
        .bind(id.0)
        .bind(conversation_id.0)
        .bind(org_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let message = self.message_from_row(&row)?;
        let event = DomainEvent::ReactionSet { conversation_id, message_id: id, reaction };
        insert_events(&mut tx, org_id, &[event], None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(message)
    }

    async fn create_rating(&self, org_id: OrgId, rating: &Rating) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        lock_conversation(&mut tx, org_id, rating.conversation_id).await?;
        sqlx::query(concat!("INSERT INTO ratings (", rating_cols!(), ") VALUES ($1, $2, $3, $4, $5)"))
            .bind(rating.conversation_id.0)
            .bind(i16::from(rating.stars))
            .bind(Json(&rating.tags))
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
        let row = sqlx::query(concat!("SELECT ", rating_cols!(), " FROM ratings WHERE conversation_id = $1"))
            .bind(conversation_id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        rating_from_row(&row)
    }

    async fn prune_outbox(&self, up_to_id: i64, before: Timestamp, limit: u32) -> StoreResult<u64> {
        // The primary key's range, from its start: the oldest events come first. In the same
        // statement the pruned mark moves up to the largest id deleted (see `outbox_after`).
        let deleted: i64 = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
               WHERE id <= $1 AND created_at < $2 ORDER BY id LIMIT $3) RETURNING id), \
             mark AS (INSERT INTO outbox_pruned (singleton, up_to) \
               SELECT TRUE, max(id) FROM gone HAVING count(*) > 0 \
               ON CONFLICT (singleton) DO UPDATE SET up_to = GREATEST(outbox_pruned.up_to, EXCLUDED.up_to)) \
             SELECT count(*) FROM gone",
        )
        .bind(up_to_id)
        .bind(before.0)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    async fn prune_webhook_deliveries(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE status != 'pending' AND updated_at < $1 LIMIT $2)",
        )
        .bind(before.0)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .execute(&self.pool)
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
                "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
             WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 RETURNING tat",
            )
            .bind(key)
            .bind(now.0)
            .bind(interval_ms)
            .bind(tolerance_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            if moved.is_some() {
                return Ok(None);
            }
        }
        let tat: Option<i64> = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let excess = tat.unwrap_or(now.0).max(now.0) + interval_ms - now.0 - tolerance_ms;
        Ok(if excess > 0 { Some(excess) } else { None })
    }

    async fn prune_rate_limits(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE tat < $1")
            .bind(before.0)
            .execute(&self.pool)
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
        self.put_canned_response_row(response).await
    }

    async fn delete_canned_response(&self, org_id: OrgId, id: CannedResponseId) -> StoreResult<()> {
        self.delete_canned_response_row(org_id, id).await
    }

    async fn list_canned_responses(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>> {
        self.list_canned_response_rows(org_id).await
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
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM visitors WHERE id = $3 AND site_id = $2)"
        ))
        .bind(e.id.0)
        .bind(e.site_id.0)
        .bind(e.visitor_id.0)
        .bind(e.conversation_id.map(|c| c.0))
        .bind(e.kind.as_str())
        .bind(&e.url)
        .bind(&e.title)
        .bind(&e.referrer)
        .bind(&e.name)
        .bind(&e.props)
        .bind(e.created_at.0)
        .execute(&self.pool)
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
            " FROM visitor_events WHERE site_id = $1 AND visitor_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(site_id.0)
        .bind(visitor_id.0)
        .bind(effective_limit(limit, 50, 500))
        .fetch_all(&self.pool)
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

    async fn token_generations(&self, ids: &[(SiteId, ConversationId)]) -> StoreResult<Vec<(ConversationId, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let site_ids: Vec<Uuid> = ids.iter().map(|(s, _)| s.0).collect();
        let conversation_ids: Vec<Uuid> = ids.iter().map(|(_, c)| c.0).collect();
        let rows = sqlx::query(
            "SELECT id, token_generation FROM conversations \
             WHERE (site_id, id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))",
        )
        .bind(&site_ids)
        .bind(&conversation_ids)
        .fetch_all(&self.realtime)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok((ConversationId(r.try_get("id").map_err(map_err)?), r.try_get("token_generation").map_err(map_err)?))
            })
            .collect()
    }

    async fn messages_by_ids(&self, ids: &[(ConversationId, MessageId)]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let message_ids: Vec<Uuid> = ids.iter().map(|(_, m)| m.0).collect();
        let conversation_ids: Vec<Uuid> = ids.iter().map(|(c, _)| c.0).collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE (id, conversation_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
        ))
        .bind(&message_ids)
        .bind(&conversation_ids)
        .fetch_all(&self.realtime)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| self.message_from_row(r)).collect()
    }

    async fn all_articles(&self, site_id: Option<SiteId>) -> StoreResult<Vec<frontdesk_core::knowledge::Article>> {
        self.all_article_rows(site_id).await
    }

    async fn article_versions(&self) -> StoreResult<Vec<frontdesk_core::store::ArticleVersion>> {
        self.article_version_rows().await
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let limit = effective_limit(limit, 100, 1000);
        let mut conn = self.realtime.acquire().await.map_err(map_err)?;
        // The rows and, from the same snapshot, the transactions that were still running and how
        // far the outbox was pruned.
        let rows = sqlx::query(
            "SELECT id, org_id, payload, created_at, \
             ARRAY(SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x) AS running, \
             (SELECT up_to FROM outbox_pruned) AS pruned \
             FROM outbox WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
        let events: Vec<OutboxEvent> = rows.iter().map(outbox_from_row).collect::<StoreResult<_>>()?;
        let (running, pruned): (Vec<String>, Option<i64>) = match rows.first() {
            Some(row) => (get(row, "running")?, get(row, "pruned")?),
            None => (Vec::new(), None),
        };
        let Some(last) = events.last().map(|e| e.id) else { return Ok(events) };
        // Ids missing up to the pruned mark were deleted, not handed out to a running transaction:
        // a reader far behind must not take (and wait for) each of them as a hole.
        let settled = after.max(pruned.unwrap_or(0));
        let holes = holes_in(settled, &events);
        if holes.is_empty() {
            // Every id up to `last` is committed: nothing can appear below it.
            return Ok(events);
        }
        // An id below `last` is missing. It was handed out before `last` was, so before this
        // snapshot, to a transaction that had already written (see `insert_events`): one still
        // running, or one that is over (the id is lost for good). An empty `running` proves
        // nothing: the snapshot lists only transactions below its xmax (the last finished xid
        // + 1), and a holder whose xid is newer than the last commit's is above it. Most often
        // the holder's row is already in the index: wait for it, and read the range again.
        settle_holes(&mut conn, &holes).await?;
        let events = outbox_range(&mut conn, after, last, limit).await?;
        if holes_in(settled, &events).is_empty() {
            return Ok(events);
        }
        // Still missing: a rolled-back id, or a holder between taking the id and inserting its
        // row. Wait for every transaction that was running at the first read (the snapshot's,
        // and those above its xmax, which only the lock table shows); then the range is final.
        // If they take too long, return only what is below the first missing id.
        let mut running = running;
        running.extend(transactions_with_xids(&mut conn).await?);
        if wait_finished(&mut conn, &running).await? {
            return outbox_range(&mut conn, after, last, limit).await;
        }
        let first_hole = holes_in(settled, &events).first().copied().unwrap_or(i64::MAX);
        Ok(events.into_iter().take_while(|e| e.id < first_hole).collect())
    }
}

/// Outbox events with `after < id <= last`, in order.
async fn outbox_range(conn: &mut PgConnection, after: i64, last: i64, limit: i64) -> StoreResult<Vec<OutboxEvent>> {
    let rows = sqlx::query(
        "SELECT id, org_id, payload, created_at FROM outbox WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(last)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    rows.iter().map(outbox_from_row).collect()
}

/// The xids of the transactions running now (each holds the lock on its own xid), whatever the
/// snapshot's xmax.
async fn transactions_with_xids(conn: &mut PgConnection) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT transactionid::text FROM pg_locks \
         WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)
}

/// Waits (at most `SETTLE_WAIT`) until none of these transactions is still running; returns
/// whether that happened.
async fn wait_finished(conn: &mut PgConnection, xids: &[String]) -> StoreResult<bool> {
    let deadline = std::time::Instant::now() + SETTLE_WAIT;
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM unnest($1::text[]) AS x WHERE pg_xact_status(x::xid8) = 'in progress'",
        )
        .bind(xids)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
        if running == 0 {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        // Sleep on the server: this crate has no timer of its own.
        sqlx::query("SELECT pg_sleep(0.002)").execute(&mut *conn).await.map_err(map_err)?;
    }
}

/// The ids in `(after, last event]` that no event has (events at or below `after`, the survivors
/// of pruning below its mark, count for nothing).
fn holes_in(after: i64, events: &[OutboxEvent]) -> Vec<i64> {
    let mut holes = Vec::new();
    // Identity values start at 1.
    let mut expected = after.saturating_add(1).max(1);
    for event in events {
        while expected < event.id {
            holes.push(expected);
            expected += 1;
        }
        expected = expected.max(event.id.saturating_add(1));
    }
    holes
}

/// Waits until no running transaction can still commit an outbox row with one of these ids.
///
/// Outbox ids come from an identity sequence, so a missing id below a visible one was handed out
/// before that row committed, to a transaction that is either still running (and will commit or
/// roll back) or is over (the id is lost for good). Inserting the same id makes PostgreSQL's
/// unique check wait for a running holder to finish; the probe is then rolled back, so it never
/// leaves a row, and the sequence never hands these ids out again.
async fn settle_holes(conn: &mut PgConnection, holes: &[i64]) -> StoreResult<()> {
    for chunk in holes.chunks(10_000) {
        sqlx::query("BEGIN").execute(&mut *conn).await.map_err(map_err)?;
        let probe = sqlx::query(
            "INSERT INTO outbox (id, org_id, conversation_id, kind, payload, created_at) OVERRIDING SYSTEM VALUE \
             SELECT h, '00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000', \
             'probe', 'null', 0 FROM unnest($1::bigint[]) AS h ON CONFLICT (id) DO NOTHING",
        )
        .bind(chunk)
        .execute(&mut *conn)
        .await;
        let rollback = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        probe.map_err(map_err)?;
        rollback.map_err(map_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_the_missing_ids_up_to_the_last_event() {
        let event = |id| OutboxEvent {
            id,
            org_id: OrgId(Uuid::nil()),
            event: DomainEvent::StatusChanged {
                conversation_id: ConversationId(Uuid::nil()),
                from: ConversationStatus::Active,
                to: ConversationStatus::Resolved,
            },
            created_at: Timestamp(0),
        };
        assert_eq!(holes_in(3, &[event(4), event(5)]), Vec::<i64>::new());
        assert_eq!(holes_in(3, &[event(6), event(8)]), vec![4, 5, 7]);
        assert_eq!(holes_in(0, &[]), Vec::<i64>::new());
        assert_eq!(holes_in(-5, &[event(2)]), vec![1]);
        // Past the pruned mark (10): a survivor below it opens no hole.
        assert_eq!(holes_in(10, &[event(4), event(12), event(13)]), vec![11]);
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(effective_limit(0, 50, 200), 50);
        assert_eq!(effective_limit(7, 50, 200), 7);
        assert_eq!(effective_limit(10_000, 50, 200), 200);
    }

    #[test]
    fn connection_errors_are_unavailable_and_missing_rows_not_found() {
        assert!(matches!(map_err(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(map_err(sqlx::Error::PoolClosed), StoreError::Unavailable(_)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(map_err(sqlx::Error::Io(io)), StoreError::Unavailable(_)));
        assert!(matches!(map_err(sqlx::Error::RowNotFound), StoreError::NotFound));
        assert!(matches!(map_err(sqlx::Error::Protocol("odd".to_owned())), StoreError::Backend(_)));
    }
}
