//! The conformance story on PostgreSQL, and what is particular to it: schemas, concurrent
//! nodes, error mapping. Needs `FRONTDESK_TEST_DATABASE_URL` (see `frontdesk_testkit::pg`).

use frontdesk_core::ids::*;
use frontdesk_core::model::NewMessage;
use frontdesk_core::model::{AuthorKind, Conversation};
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::time::Timestamp;
use frontdesk_store_conformance::{CONCURRENT_APPENDS, check_persisted, run_story};
use frontdesk_store_postgres::PgStore;
use frontdesk_testkit::pg::{drop_schema, fresh_database_url};
use sqlx::Connection;
use std::sync::Arc;
use uuid::Uuid;

async fn connect(url: &str) -> PgStore {
    PgStore::connect(url).await.expect("connect the postgres store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_story_passes_and_survives_reconnecting() {
    let Some(url) = fresh_database_url("the_story_passes_and_survives_reconnecting").await else { return };
    let store = connect(&url).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    store.close().await;

    let reconnected = connect(&url).await;
    check_persisted(Arc::new(reconnected.clone()), &outcome).await;
    reconnected.close().await;
    drop_schema(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once_and_share_the_data() {
    let Some(url) = fresh_database_url("nodes_starting_at_once_migrate_once_and_share_the_data").await else { return };
    // Three nodes start together on an empty schema.
    let (a, b, c) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url), PgStore::connect(&url));
    let (a, b, c) = (a.expect("node a"), b.expect("node b"), c.expect("node c"));
    let values = tokio::join!(
        a.get_or_init_setting("signing_key", "from-a"),
        b.get_or_init_setting("signing_key", "from-b"),
        c.get_or_init_setting("signing_key", "from-c"),
    );
    let values = [values.0.expect("a"), values.1.expect("b"), values.2.expect("c")];
    assert!(values.iter().all(|v| v == &values[0]), "the nodes agree on one setting: {values:?}");

    // The story on one node, its appends raced from another node too.
    let outcome = run_story(Arc::new(a.clone())).await;
    let mut tasks = Vec::new();
    for (i, node) in [a.clone(), b.clone(), c.clone()].into_iter().cycle().take(12).enumerate() {
        let message = NewMessage {
            id: MessageId(Uuid::now_v7()),
            conversation_id: outcome.ids.concurrent,
            author_kind: AuthorKind::Bot,
            author_id: None,
            body: format!("from a node {i}"),
            html: String::new(),
            citations: vec![],
            quick_replies: vec![],
            created_at: Timestamp(1),
        };
        let org = outcome.ids.org_a;
        tasks.push(tokio::spawn(async move { node.append_message(org, &message, None, false).await }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task").expect("append from a node").0.seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (CONCURRENT_APPENDS + 1..=CONCURRENT_APPENDS + 12).collect::<Vec<_>>(), "gapless across nodes");

    let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&mut raw).await.expect("migrations");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).expect("migrations dir").count();
    assert_eq!(applied, i64::try_from(files).expect("count"), "each migration applied once");
    raw.close().await.expect("close");
    for node in [a, b, c] {
        node.close().await;
    }
    drop_schema(&url).await;
}

#[tokio::test]
async fn the_tables_land_in_the_fresh_schema() {
    let Some(url) = fresh_database_url("the_tables_land_in_the_fresh_schema").await else { return };
    let store = connect(&url).await;
    let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut raw).await.expect("schema");
    assert!(schema.starts_with("t_"), "search_path from the URL is honoured: {schema}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
    )
    .bind(&schema)
    .fetch_all(&mut raw)
    .await
    .expect("tables");
    for table in ["conversations", "messages", "outbox", "settings", "_sqlx_migrations"] {
        assert!(tables.iter().any(|t| t == table), "{table} is in {schema}: {tables:?}");
    }
    raw.close().await.expect("close");
    store.close().await;
    drop_schema(&url).await;
}

#[tokio::test]
async fn schema_integrity_and_corrupt_rows() {
    let Some(url) = fresh_database_url("schema_integrity_and_corrupt_rows").await else { return };
    let store = connect(&url).await;
    let outcome = run_story(Arc::new(store.clone())).await;
    let ids = outcome.ids;

    // A conversation claiming org B on org A's site: refused by the composite foreign key.
    let a_conversation = store.get_conversation(ids.org_a, ids.cas).await.expect("conversation");
    let forged = Conversation { id: ConversationId(Uuid::now_v7()), org_id: ids.org_b, ..a_conversation };
    let refused = store.create_conversation(&forged).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "cross-tenant conversation: {refused:?}");

    // A row that does not parse is a backend error, and only that row is affected.
    let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
    sqlx::query("UPDATE conversations SET status = 'open' WHERE id = $1")
        .bind(ids.cas.0)
        .execute(&mut raw)
        .await
        .expect("corrupt the status");
    raw.close().await.expect("close");
    let read = store.get_conversation(ids.org_a, ids.cas).await;
    assert!(matches!(read, Err(StoreError::Backend(_))), "unknown status: {read:?}");
    let fine = store.get_conversation(ids.org_a, ids.lifecycle).await.expect("another conversation");
    assert_eq!(fine.status, ConversationStatus::Closed);
    store.close().await;
    drop_schema(&url).await;
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    // Port 1 on loopback: nothing listens there. The pool retries refused connections until its
    // acquire timeout (5 s), then gives up.
    let refused = PgStore::connect("postgres://postgres@127.0.0.1:1/test").await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "refused connection: {:?}", refused.err());

    let Some(url) = fresh_database_url("an_unreachable_database_is_unavailable").await else { return };
    let store = connect(&url).await;
    store.close().await;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "ping after close: {ping:?}");
    drop_schema(&url).await;
}

/// Writes one outbox row on `conn` (inside whatever transaction it has open); returns its id.
async fn outbox_row(conn: &mut sqlx::PgConnection, payload: &str) -> i64 {
    use sqlx::Row;
    let row = sqlx::query(
        "INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) \
         VALUES (gen_random_uuid(), gen_random_uuid(), 'status_changed', $1::jsonb, 0) RETURNING id",
    )
    .bind(payload)
    .fetch_one(&mut *conn)
    .await
    .expect("outbox row");
    row.get("id")
}

/// Outbox ids are not taken in commit order any more (no global lock): a reader must never
/// return a later id while an earlier one can still commit, or a follower's cursor would pass
/// it for good. Here a transaction holds id `k` open while `k + 1` commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_outbox_never_returns_an_id_past_one_that_can_still_commit() {
    let Some(url) = fresh_database_url("the_outbox_never_returns_an_id_past_one_that_can_still_commit").await else {
        return;
    };
    let store = connect(&url).await;
    let payload = serde_json::to_string(&frontdesk_core::events::DomainEvent::StatusChanged {
        conversation_id: ConversationId(Uuid::now_v7()),
        from: ConversationStatus::Active,
        to: ConversationStatus::Escalated,
    })
    .expect("payload");
    let mut holder = sqlx::PgConnection::connect(&url).await.expect("holder connection");
    let mut other = sqlx::PgConnection::connect(&url).await.expect("other connection");
    let mut after = 0;
    for case in ["commit", "rollback", "id taken, row written late"] {
        sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
        let k = if case == "id taken, row written late" {
            // The window between taking the id and inserting the row: nothing in the index yet.
            sqlx::query("SELECT pg_current_xact_id()").execute(&mut holder).await.expect("xid");
            let id: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('outbox', 'id'))")
                .fetch_one(&mut holder)
                .await
                .expect("nextval");
            id
        } else {
            outbox_row(&mut holder, &payload).await
        };
        let later = outbox_row(&mut other, &payload).await;
        assert_eq!(later, k + 1, "ids are taken in order");
        let reader = {
            let store = store.clone();
            tokio::spawn(async move { store.outbox_after(after, 100).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!reader.is_finished(), "{case}: the reader waits while id {k} can still commit");
        match case {
            "rollback" => {
                sqlx::query("ROLLBACK").execute(&mut holder).await.expect("rollback");
            }
            "id taken, row written late" => {
                sqlx::query(
                    "INSERT INTO outbox (id, org_id, conversation_id, kind, payload, created_at) \
                     OVERRIDING SYSTEM VALUE \
                     VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'status_changed', $2::jsonb, 0)",
                )
                .bind(k)
                .bind(&payload)
                .execute(&mut holder)
                .await
                .expect("late row");
                sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
            }
            _ => {
                sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
            }
        }
        let events = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .expect("the reader goes on once the holder is done")
            .expect("join")
            .expect("outbox");
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        if case == "rollback" {
            assert_eq!(ids, vec![k + 1], "a rolled-back id is a hole for good, not a wait for ever");
        } else {
            assert_eq!(ids, vec![k, k + 1], "{case}: the late commit is read, in id order");
        }
        after = k + 1;
    }
    // The probes left nothing behind.
    assert_eq!(store.outbox_after(0, 100).await.expect("outbox").len(), 5);
    store.close().await;
    drop_schema(&url).await;
}
