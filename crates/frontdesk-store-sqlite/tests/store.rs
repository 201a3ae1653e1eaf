//! The conformance story on SQLite, and what is particular to SQLite: files, pragmas, migrations.

use frontdesk_core::ids::*;
use frontdesk_core::inbox::InboxFilter;
use frontdesk_core::model::{AuthorKind, Conversation, NewMessage};
use frontdesk_core::plans::Plan;
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::team::NotificationPrefs;
use frontdesk_core::time::Timestamp;
use frontdesk_store_conformance::{check_persisted, run_dashboard, run_story};
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("frontdesk-{name}-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, SqliteOptions::default()).await.expect("open the sqlite store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_story_passes_and_survives_reopening() {
    let dir = TempDir::new("story");
    let path = dir.path().join("frontdesk.db");
    let store = open(&path).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    store.close().await;

    let reopened = open(&path).await;
    check_persisted(Arc::new(reopened.clone()), &outcome).await;
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_passes_with_synchronous_full_on_a_used_database() {
    let dir = TempDir::new("full");
    let path = dir.path().join("frontdesk.db");
    let store = SqliteStore::open(&path, SqliteOptions { synchronous_full: true }).await.expect("open with FULL");
    // Twice on one file: the story does not assume an empty database.
    run_story(Arc::new(store.clone())).await;
    run_story(Arc::new(store.clone())).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_chapter_passes_twice_beside_the_story() {
    let dir = TempDir::new("dashboard");
    let path = dir.path().join("frontdesk.db");
    let store = open(&path).await;
    // Beside the story's data, and twice on one file: the chapter does not assume an empty database.
    run_story(Arc::new(store.clone())).await;
    run_dashboard(Arc::new(store.clone())).await;
    run_dashboard(Arc::new(store.clone())).await;
    store.close().await;
}

#[tokio::test]
async fn open_creates_missing_parent_directories() {
    let dir = TempDir::new("dirs");
    let path = dir.path().join("a").join("b").join("frontdesk.db");
    let store = open(&path).await;
    store.ping().await.expect("ping");
    store.close().await;
    assert!(path.is_file(), "the database file exists at {}", path.display());
}

#[tokio::test]
async fn opening_again_is_idempotent_even_while_open() {
    let dir = TempDir::new("twice");
    let path = dir.path().join("frontdesk.db");
    let first = open(&path).await;
    // A second opener (another process, say) finds the migrations applied and changes nothing.
    let second = open(&path).await;
    let value = first.get_or_init_setting("k", "v").await.expect("write through the first");
    assert_eq!(second.get_or_init_setting("k", "other").await.expect("read through the second"), value);
    first.close().await;
    second.close().await;
    let third = open(&path).await;
    assert_eq!(third.get_or_init_setting("k", "other").await.expect("after reopening"), "v");
    third.close().await;

    let mut raw = raw_connection(&path).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut raw)
        .await
        .expect("count migrations");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).expect("migrations dir").count();
    assert_eq!(applied, i64::try_from(files).expect("count"), "each migration is applied once");
    raw.close().await.expect("close");
}

#[tokio::test]
async fn the_file_is_in_wal_mode() {
    let dir = TempDir::new("wal");
    let path = dir.path().join("frontdesk.db");
    let store = open(&path).await;
    // The journal mode is a property of the file, visible to any connection.
    let mut raw = raw_connection(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut raw).await.expect("journal mode");
    assert_eq!(mode, "wal");
    raw.close().await.expect("close");
    store.close().await;
}

#[tokio::test]
async fn foreign_keys_and_tenant_integrity_are_enforced_by_the_schema() {
    let dir = TempDir::new("fk");
    let store = open(&dir.path().join("frontdesk.db")).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    let ids = outcome.ids;

    // A membership in an organization that does not exist: refused (foreign_keys = ON).
    let orphan = frontdesk_core::model::Membership {
        org_id: OrgId(Uuid::now_v7()),
        user_id: ids.user_a,
        role: frontdesk_core::roles::Role::Member,
        created_at: Timestamp(0),
    };
    let refused = store.put_membership(&orphan).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "orphan membership: {refused:?}");

    // A conversation claiming org B but on org A's site: refused by the composite key.
    let a_conversation = store.get_conversation(ids.org_a, ids.cas).await.expect("conversation");
    let forged = Conversation { id: ConversationId(Uuid::now_v7()), org_id: ids.org_b, ..a_conversation };
    let refused = store.create_conversation(&forged).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "cross-tenant conversation: {refused:?}");
    store.close().await;
}

#[tokio::test]
async fn a_row_that_does_not_parse_is_a_backend_error() {
    let dir = TempDir::new("corrupt");
    let path = dir.path().join("frontdesk.db");
    let store = open(&path).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    let ids = outcome.ids;

    let mut raw = raw_connection(&path).await;
    sqlx::query("UPDATE conversations SET status = 'open' WHERE id = ?")
        .bind(ids.cas.to_string())
        .execute(&mut raw)
        .await
        .expect("corrupt the status");
    raw.close().await.expect("close");

    let read = store.get_conversation(ids.org_a, ids.cas).await;
    assert!(matches!(read, Err(StoreError::Backend(_))), "unknown status: {read:?}");
    // Other rows are unaffected.
    let fine = store.get_conversation(ids.org_a, ids.lifecycle).await.expect("another conversation");
    assert_eq!(fine.status, ConversationStatus::Closed);
    store.close().await;
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let dir = TempDir::new("closed");
    let store = open(&dir.path().join("frontdesk.db")).await;
    store.close().await;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "ping after close: {ping:?}");
    let write = store.get_or_init_setting("k", "v").await;
    assert!(matches!(write, Err(StoreError::Unavailable(_))), "write after close: {write:?}");
}

async fn raw_connection(path: &Path) -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    sqlx::SqliteConnection::connect_with(&options).await.expect("raw connection")
}

/// FTS5's own check that the index holds exactly the text of `messages` (rank 1 compares it with
/// the external content table).
async fn search_index_is_consistent(raw: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").execute(raw).await?;
    Ok(())
}

fn search(text: &str) -> InboxFilter {
    InboxFilter { text: Some(text.to_owned()), ..InboxFilter::default() }
}

async fn found(store: &SqliteStore, org: OrgId, text: &str) -> Vec<ConversationId> {
    let viewer = UserId(Uuid::now_v7());
    let items = store.inbox(org, viewer, &search(text)).await.expect("search");
    items.into_iter().map(|i| i.conversation.id).collect()
}

#[tokio::test]
async fn migrating_an_existing_database_backfills_times_and_the_search_index() {
    let dir = TempDir::new("upgrade");
    let path = dir.path().join("frontdesk.db");
    // The schema as it was before 0005: the same files, applied by a migrator that stops at 0004.
    let old = dir.path().join("migrations");
    std::fs::create_dir_all(&old).expect("migrations dir");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let version: u32 = name.split('_').next().and_then(|v| v.parse().ok()).expect("numbered migration");
        if version < 5 {
            std::fs::copy(entry.path(), old.join(&name)).expect("copy migration");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.as_path()).await.expect("old migrations");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut raw = sqlx::SqliteConnection::connect_with(&options).await.expect("raw connection");
    migrator.run(&mut raw).await.expect("migrate to 0004");

    let (org, user, site, visitor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (escalated, active) = (Uuid::now_v7(), Uuid::now_v7());
    let statements: Vec<(&str, Vec<String>)> = vec![
        ("INSERT INTO organizations (id, name, created_at) VALUES (?, 'Old', 1000)", vec![org.to_string()]),
        (
            "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, 'Olga', 'x', 1000)",
            vec![user.to_string(), format!("olga.{}@example.com", user.simple())],
        ),
        (
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, 'owner', 1000)",
            vec![org.to_string(), user.to_string()],
        ),
        (
            "INSERT INTO sites (id, org_id, name, public_key, secret, allowed_origins, widget, created_at, updated_at) \
             VALUES (?, ?, 'Old site', ?, 'sk_old', '[]', '{}', 1000, 1000)",
            vec![site.to_string(), org.to_string(), format!("pk_{}", site.simple())],
        ),
        (
            "INSERT INTO visitors (id, site_id, name, created_at, last_seen_at) VALUES (?, ?, 'Vic', 1000, 1000)",
            vec![visitor.to_string(), site.to_string()],
        ),
    ];
    for (sql, binds) in statements {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b);
        }
        q.execute(&mut raw).await.expect(sql);
    }
    for (conversation, status, last_seq, updated_at) in [(escalated, "escalated", 2, 5000), (active, "active", 1, 4000)]
    {
        sqlx::query(
            "INSERT INTO conversations (id, org_id, site_id, visitor_id, status, params, last_seq, created_at, \
             updated_at, last_activity_at) VALUES (?, ?, ?, ?, ?, '{}', ?, 2000, ?, ?)",
        )
        .bind(conversation.to_string())
        .bind(org.to_string())
        .bind(site.to_string())
        .bind(visitor.to_string())
        .bind(status)
        .bind(last_seq)
        .bind(updated_at)
        .bind(updated_at)
        .execute(&mut raw)
        .await
        .expect("old conversation");
    }
    for (conversation, seq, kind, body) in [
        (escalated, 1, "visitor", "Bonjour, ma commande est perdue"),
        (escalated, 2, "agent", "Je regarde tout de suite"),
        (active, 1, "visitor", "Where is the lighthouse?"),
    ] {
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, author_kind, body, html, citations, quick_replies, \
             created_at) VALUES (?, ?, ?, ?, ?, '', '[]', '[]', 3000)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(conversation.to_string())
        .bind(seq)
        .bind(kind)
        .bind(body)
        .execute(&mut raw)
        .await
        .expect("old message");
    }
    raw.close().await.expect("close");

    let store = open(&path).await;
    let (org_id, site_id) = (OrgId(org), SiteId(site));
    let o = store.get_org(org_id).await.expect("old org");
    assert_eq!((o.plan, o.extra_seats), (Plan::Free, 0), "existing organizations are on the free plan");
    let s = store.get_site(org_id, site_id).await.expect("old site");
    assert_eq!((s.widget_draft, s.previous_public_key, s.previous_key_expires_at), (None, None, None));
    let e = store.get_conversation(org_id, ConversationId(escalated)).await.expect("escalated");
    assert_eq!((e.status_changed_at, e.escalated_at), (Timestamp(5000), Some(Timestamp(5000))), "backfilled");
    let a = store.get_conversation(org_id, ConversationId(active)).await.expect("active");
    assert_eq!((a.status_changed_at, a.escalated_at), (Timestamp(4000), None), "backfilled");
    let members = store.list_members(org_id).await.expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].notify, NotificationPrefs::default(), "existing members get every alert");

    // Messages written before the migration are searchable, and new ones are indexed beside them.
    assert_eq!(found(&store, org_id, "commande").await, [ConversationId(escalated)]);
    assert_eq!(found(&store, org_id, "lightho").await, [ConversationId(active)]);
    let next = NewMessage {
        id: MessageId(Uuid::now_v7()),
        conversation_id: ConversationId(active),
        author_kind: AuthorKind::Visitor,
        author_id: None,
        body: "The lighthouse keeper, please".to_owned(),
        html: String::new(),
        citations: vec![],
        quick_replies: vec![],
        created_at: Timestamp(6000),
    };
    store.append_message(org_id, &next, None, true).await.expect("append after the migration");
    assert_eq!(found(&store, org_id, "keeper").await, [ConversationId(active)]);
    assert_eq!(found(&store, org_id, "lighthouse").await, [ConversationId(active)], "listed once");
    assert!(found(&store, org_id, "perdue keeper").await.is_empty());
    store.close().await;

    let mut raw = raw_connection(&path).await;
    search_index_is_consistent(&mut raw).await.expect("the index matches the messages");
    let unnumbered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE search_rowid IS NULL")
        .fetch_one(&mut raw)
        .await
        .expect("count");
    assert_eq!(unnumbered, 0, "every message has its search row id");
    raw.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_search_index_follows_edits_deletes_and_vacuum() {
    let dir = TempDir::new("fts");
    let path = dir.path().join("frontdesk.db");
    let store = open(&path).await;
    run_dashboard(Arc::new(store.clone())).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    let org = outcome.ids.org_a;

    // Inputs the query builder must survive: thousands of words, one enormous word.
    let many = (0..5000).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    assert!(found(&store, org, &many).await.is_empty(), "thousands of words");
    assert!(found(&store, org, &"x".repeat(100_000)).await.is_empty(), "one enormous word");
    // Only the lifecycle's first message ("Hello, I need help with my invoice") has both words.
    assert_eq!(found(&store, org, "need help").await, [outcome.ids.lifecycle]);
    assert_eq!(found(&store, org, "message").await, [outcome.ids.concurrent]);
    store.close().await;

    let mut raw = raw_connection(&path).await;
    search_index_is_consistent(&mut raw).await.expect("consistent after the chapter's writes and reactions");
    // Edits of the text (no method does this today; an operator or a later feature might).
    let message = outcome.snapshot.messages[0][0].id.to_string();
    // (The index reads `search_text`: the body, or its tokens when bodies are sealed.)
    sqlx::query("UPDATE messages SET body = 'zebra crossing', search_text = 'zebra crossing' WHERE id = ?")
        .bind(&message)
        .execute(&mut raw)
        .await
        .expect("edit a body");
    // Deletes through the cascade from a conversation.
    sqlx::query("DELETE FROM conversations WHERE id = ?")
        .bind(outcome.ids.concurrent.to_string())
        .execute(&mut raw)
        .await
        .expect("delete a conversation");
    search_index_is_consistent(&mut raw).await.expect("consistent after an edit and a cascade");
    sqlx::query("VACUUM").execute(&mut raw).await.expect("vacuum");
    search_index_is_consistent(&mut raw).await.expect("consistent after VACUUM");
    raw.close().await.expect("close");

    let store = open(&path).await;
    assert_eq!(found(&store, org, "zebra").await, [outcome.ids.lifecycle], "the edited text is found");
    assert!(found(&store, org, "need help").await.is_empty(), "the old text is gone");
    assert!(found(&store, org, "message").await.is_empty(), "a deleted conversation's messages are gone");
    store.close().await;

    // The check above can fail: an edit the triggers do not see leaves the index stale.
    let mut raw = raw_connection(&path).await;
    sqlx::query("DROP TRIGGER messages_fts_update").execute(&mut raw).await.expect("drop the trigger");
    sqlx::query("UPDATE messages SET search_text = 'stale' WHERE id = ?")
        .bind(&message)
        .execute(&mut raw)
        .await
        .expect("edit");
    assert!(search_index_is_consistent(&mut raw).await.is_err(), "the integrity check notices a stale index");
    raw.close().await.expect("close");
}

const KEY_1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_2: &str = "k2:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

fn sealer(ring: &str) -> Arc<frontdesk_crypto::Sealer> {
    Arc::new(frontdesk_crypto::Sealer::new(frontdesk_crypto::KeyRing::parse(ring).expect("key ring")))
}

/// Every value of the sealed columns, as the file holds them.
async fn raw_sealed_values(raw: &mut sqlx::SqliteConnection) -> Vec<String> {
    let mut values = Vec::new();
    for (table, column) in
        [("messages", "body"), ("messages", "html"), ("visitors", "name"), ("visitors", "email"), ("sites", "secret")]
    {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} != ''"))
                .fetch_all(&mut *raw)
                .await
                .expect("raw read");
        values.extend(rows.into_iter().map(|(v,)| v));
    }
    values
}

/// What the sealed columns hold, read through the store: messages, a visitor, a site.
async fn read_back(
    store: &SqliteStore,
    ids: &frontdesk_store_conformance::StoryIds,
) -> (Vec<frontdesk_core::model::Message>, frontdesk_core::model::Visitor, frontdesk_core::model::Site) {
    let mut messages = store.list_messages(ids.lifecycle, 0, 500).await.expect("lifecycle messages");
    messages.extend(store.list_messages(ids.concurrent, 0, 500).await.expect("concurrent messages"));
    let visitor = store.get_visitor(ids.site_a, ids.visitor_a).await.expect("visitor");
    let site = store.get_site(ids.org_a, ids.site_a).await.expect("site");
    (messages, visitor, site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn encryption_at_rest_keeps_the_story_and_rotates_keys() {
    let dir = TempDir::new("sealed");
    let path = dir.path().join("frontdesk.db");
    // Data written before encryption was turned on.
    let plain = open(&path).await;
    let before = run_story(Arc::new(plain.clone())).await;
    plain.close().await;

    // With a key ring: the story passes unchanged (every value opens again) …
    let store = open(&path).await.with_sealer(sealer(KEY_1));
    let outcome = run_story(Arc::new(store.clone())).await;
    check_persisted(Arc::new(store.clone()), &before).await;
    // … and a whole word still finds a message, a prefix does not (tokens, not text).
    let ids = outcome.ids;
    let message = NewMessage {
        id: MessageId(Uuid::now_v7()),
        conversation_id: ids.concurrent,
        author_kind: AuthorKind::Agent,
        author_id: Some(ids.user_a),
        body: "The replacement ZEBRA lamp ships Monday".to_owned(),
        html: "<p>The replacement ZEBRA lamp ships Monday</p>".to_owned(),
        citations: Vec::new(),
        quick_replies: Vec::new(),
        created_at: Timestamp(1_800_000_000_000),
    };
    store.append_message(ids.org_a, &message, None, false).await.expect("append");
    assert_eq!(found(&store, ids.org_a, "zebra LAMP").await, [ids.concurrent]);
    assert!(found(&store, ids.org_a, "zeb").await.is_empty(), "no prefix search over sealed bodies");
    let seen = read_back(&store, &ids).await;
    assert_eq!(seen.0.last().map(|m| m.body.as_str()), Some(message.body.as_str()));

    // New values are sealed in the file; older ones are not until `reseal`.
    let mut raw = raw_connection(&path).await;
    let (body,): (String,) = sqlx::query_as("SELECT body FROM messages WHERE id = ?")
        .bind(message.id.0.hyphenated().to_string())
        .fetch_one(&mut raw)
        .await
        .expect("raw body");
    assert!(body.starts_with("fdenc:1:k1:") && !body.contains("ZEBRA"), "{body}");
    let (tokens,): (String,) = sqlx::query_as("SELECT search_text FROM messages WHERE id = ?")
        .bind(message.id.0.hyphenated().to_string())
        .fetch_one(&mut raw)
        .await
        .expect("raw tokens");
    assert!(!tokens.to_lowercase().contains("zebra"), "{tokens}");
    assert!(raw_sealed_values(&mut raw).await.iter().any(|v| !v.starts_with("fdenc:1:")), "older data is still plain");
    while store.reseal(7).await.expect("reseal") > 0 {}
    assert!(raw_sealed_values(&mut raw).await.iter().all(|v| v.starts_with("fdenc:1:k1:")));
    search_index_is_consistent(&mut raw).await.expect("the index follows the rewritten tokens");
    store.close().await;

    // Rotation: k2 becomes primary, k1 still opens; reseal moves everything to k2.
    let rotated = open(&path).await.with_sealer(sealer(&format!("{KEY_2}\n{KEY_1}")));
    assert_eq!(read_back(&rotated, &ids).await, seen, "the same data through the rotated ring");
    let mut total = 0;
    loop {
        let n = rotated.reseal(50).await.expect("reseal");
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(total > 10, "values were re-sealed: {total}");
    assert!(raw_sealed_values(&mut raw).await.iter().all(|v| v.starts_with("fdenc:1:k2:")));
    assert_eq!(found(&rotated, ids.org_a, "zebra").await, [ids.concurrent], "tokens follow the new key");
    rotated.close().await;

    // k1 can go now. A ring without the key a value was sealed with is an error, never garbage.
    let only_k2 = open(&path).await.with_sealer(sealer(KEY_2));
    assert_eq!(read_back(&only_k2, &ids).await, seen, "the same data with the new key alone");
    only_k2.close().await;
    // Without a key ring nothing opens: sealed values come back sealed (a store cannot tell them
    // from text a visitor typed while encryption was off, so it does not try).
    let no_keys = open(&path).await;
    let listed = no_keys.list_messages(ids.concurrent, 0, 500).await.expect("list without keys");
    assert!(listed.iter().all(|m| m.body.starts_with("fdenc:1:k2:") && !m.body.contains("ZEBRA")));
    let wrong = open(&path).await.with_sealer(sealer(KEY_1));
    assert!(matches!(wrong.list_messages(ids.concurrent, 0, 500).await, Err(StoreError::Backend(_))));
}

/// Copies the crate's migrations numbered below `before` into `dir`: the schema as it was.
async fn migrate_below(dir: &Path, db: &Path, before: u32) -> sqlx::SqliteConnection {
    let old = dir.join(format!("migrations-below-{before}"));
    std::fs::create_dir_all(&old).expect("migrations dir");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let version: u32 = name.split('_').next().and_then(|v| v.parse().ok()).expect("numbered migration");
        if version < before {
            std::fs::copy(entry.path(), old.join(&name)).expect("copy migration");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.as_path()).await.expect("old migrations");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db).create_if_missing(true);
    let mut raw = sqlx::SqliteConnection::connect_with(&options).await.expect("raw connection");
    migrator.run(&mut raw).await.expect("migrate the old schema");
    raw
}

#[tokio::test]
async fn events_from_before_the_chain_are_sealed_in_order_and_the_database_refuses_changes() {
    use frontdesk_core::audit::{self, AuditEvent, GENESIS_HASH};
    let dir = TempDir::new("audit-chain");
    let path = dir.path().join("frontdesk.db");
    let mut raw = migrate_below(dir.path(), &path, 11).await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    // Out of insertion order on purpose: the chain follows the time they happened.
    for (org, action, at) in [(org_a, "a.second", 2000), (org_b, "b.only", 1500), (org_a, "a.first", 1000)] {
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, actor_id, action, target_kind, target_id, ip, user_agent, \
             details, created_at) VALUES (?, ?, NULL, ?, 'site', 's', '192.0.2.7', NULL, ?, ?)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(org.to_string())
        .bind(action)
        .bind(r#"{"z":1,"a":["x"]}"#)
        .bind(at)
        .execute(&mut raw)
        .await
        .expect("an event from before the chain");
    }
    raw.close().await.expect("close");

    let store = open(&path).await;
    let chain_a = store.audit_chain(OrgId(org_a), 0, 0).await.expect("chain A");
    assert_eq!(
        chain_a.iter().map(|r| (r.seq, r.event.action.as_str())).collect::<Vec<_>>(),
        [(1, "a.first"), (2, "a.second")]
    );
    assert_eq!(chain_a[0].prev_hash, GENESIS_HASH);
    let head_a = store.audit_head(OrgId(org_a)).await.expect("head A");
    assert!(audit::verify_chain(OrgId(org_a), &chain_a, head_a.as_ref()).ok, "sealed chain A verifies");
    let chain_b = store.audit_chain(OrgId(org_b), 0, 0).await.expect("chain B");
    let head_b = store.audit_head(OrgId(org_b)).await.expect("head B");
    assert!(audit::verify_chain(OrgId(org_b), &chain_b, head_b.as_ref()).ok && chain_b.len() == 1);

    // New events continue the sealed chain.
    let next = AuditEvent { id: AuditEventId(Uuid::now_v7()), created_at: Timestamp(3000), ..chain_a[1].event.clone() };
    let sealed = store.append_audit(&next).await.expect("append");
    assert_eq!((sealed.seq, &sealed.prev_hash), (3, &chain_a[1].hash));
    store.close().await;

    // Reopening seals nothing twice.
    let store = open(&path).await;
    assert_eq!(store.audit_chain(OrgId(org_a), 0, 0).await.expect("chain A again")[..2], chain_a[..]);
    store.close().await;

    // The database itself refuses to change or remove an event, sealed or not.
    let mut raw = raw_connection(&path).await;
    let id = chain_a[0].event.id.to_string();
    for sql in [
        "UPDATE audit_events SET action = 'forged' WHERE id = ?",
        "UPDATE audit_events SET details = '{}' WHERE id = ?",
        "UPDATE audit_events SET hash = NULL WHERE id = ?",
        "DELETE FROM audit_events WHERE id = ?",
    ] {
        let refused = sqlx::query(sql).bind(&id).execute(&mut raw).await;
        let message = refused.expect_err(sql).to_string();
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events").fetch_one(&mut raw).await.expect("count");
    assert_eq!(left, 4);
    raw.close().await.expect("close");
}
