//! The conformance story on SQLite, and what is particular to SQLite: files, pragmas, migrations.

use frontdesk_core::ids::*;
use frontdesk_core::model::Conversation;
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::time::Timestamp;
use frontdesk_store_conformance::{check_persisted, run_story};
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
