//! The conformance story on PostgreSQL, and what is particular to it: schemas, concurrent
//! nodes, error mapping. Needs `FRONTDESK_TEST_DATABASE_URL` (see `frontdesk_testkit::pg`).

use frontdesk_core::ids::*;
use frontdesk_core::model::NewMessage;
use frontdesk_core::model::{AuthorKind, Conversation};
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::time::Timestamp;
use frontdesk_store_conformance::{CONCURRENT_APPENDS, check_persisted, run_dashboard, run_story};
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
async fn the_dashboard_chapter_passes() {
    let Some(url) = fresh_database_url("the_dashboard_chapter_passes").await else { return };
    let store = connect(&url).await;
    run_dashboard(Arc::new(store.clone())).await;
    store.close().await;
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

/// An outbox payload the readers can decode.
fn status_changed_payload() -> String {
    serde_json::to_string(&frontdesk_core::events::DomainEvent::StatusChanged {
        conversation_id: ConversationId(Uuid::now_v7()),
        from: ConversationStatus::Active,
        to: ConversationStatus::Escalated,
    })
    .expect("payload")
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
    let payload = status_changed_payload();
    let mut holder = sqlx::PgConnection::connect(&url).await.expect("holder connection");
    let mut other = sqlx::PgConnection::connect(&url).await.expect("other connection");
    let mut after = 0;
    for case in ["commit", "rollback", "id taken, row written late", "the committer's xid is older"] {
        if case == "the committer's xid is older" {
            // `other` takes its xid first and commits last: the snapshot's xmax is then the
            // holder's xid, and the snapshot does not list the holder as running.
            sqlx::query("BEGIN").execute(&mut other).await.expect("begin");
            sqlx::query("SELECT pg_current_xact_id()").execute(&mut other).await.expect("xid");
        }
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
        if case == "the committer's xid is older" {
            sqlx::query("COMMIT").execute(&mut other).await.expect("commit");
        }
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
    assert_eq!(store.outbox_after(0, 100).await.expect("outbox").len(), 7);
    store.close().await;
    drop_schema(&url).await;
}

/// Ids missing up to the pruned mark were deleted by retention, not handed out to a transaction
/// that may still commit them: a reader far behind (the notifier's first read from 0, the hub's
/// head probes) gets the survivors at once while other transactions run, instead of probing and
/// waiting for every pruned id and then stopping below the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_behind_the_pruned_ids_gets_the_survivors_at_once() {
    let Some(url) = fresh_database_url("a_reader_behind_the_pruned_ids_gets_the_survivors_at_once").await else {
        return;
    };
    let store = connect(&url).await;
    let payload = status_changed_payload();
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connection");
    let mut ids = Vec::new();
    for i in 0..50 {
        // One young event among the old ones: it survives below the mark.
        let created_at: i64 = if i == 20 { 10_000 } else { 0 };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (org_id, conversation_id, kind, payload, created_at) \
             VALUES (gen_random_uuid(), gen_random_uuid(), 'status_changed', $1::jsonb, $2) RETURNING id",
        )
        .bind(&payload)
        .bind(created_at)
        .fetch_one(&mut conn)
        .await
        .expect("outbox row");
        ids.push(id);
    }
    assert_eq!(store.prune_outbox(ids[39], Timestamp(1), 10_000).await.expect("prune"), 39);
    let mut busy = sqlx::PgConnection::connect(&url).await.expect("busy connection");
    sqlx::query("BEGIN").execute(&mut busy).await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut busy).await.expect("xid");
    // A later transaction completes, so snapshots list the busy one as running.
    store.get_or_init_setting("test.after_busy", "1").await.expect("a later write");
    // Taken for holes, the pruned ids would be waited for while the busy transaction runs, and
    // the read would stop below the first of them: only `ids[20]` (not a timing: the content).
    let events = store.outbox_after(0, 100).await.expect("outbox");
    let read: Vec<i64> = events.iter().map(|e| e.id).collect();
    let mut survivors = vec![ids[20]];
    survivors.extend_from_slice(&ids[40..]);
    assert_eq!(read, survivors);
    sqlx::query("ROLLBACK").execute(&mut busy).await.expect("rollback");
    store.close().await;
    drop_schema(&url).await;
}

// --- The dashboard's methods (migration 0005), where PostgreSQL has its own SQL: full-text
// search, the audit log's prefix filter, the backfill of existing rows.

mod dashboard {
    use frontdesk_core::audit::AuditEvent;
    use frontdesk_core::events::DomainEvent;
    use frontdesk_core::ids::*;
    use frontdesk_core::inbox::{AssigneeFilter, CannedResponse, InboxFilter, Note, PREVIEW_CHARS};
    use frontdesk_core::model::*;
    use frontdesk_core::plans::Plan;
    use frontdesk_core::roles::Role;
    use frontdesk_core::status::ConversationStatus::{self, Active, Escalated, Resolved};
    use frontdesk_core::store::{AuditFilter, StatusChange, Store, StoreError};
    use frontdesk_core::team::{Invite, NotificationPrefs};
    use frontdesk_core::time::Timestamp;
    use frontdesk_store_postgres::PgStore;
    use frontdesk_testkit::pg::{drop_schema, fresh_database_url};
    use sqlx::Connection;
    use uuid::Uuid;

    const T0: i64 = 1_760_000_000_000;

    fn id() -> Uuid {
        Uuid::now_v7()
    }

    /// One organization with a member, a site and a visitor; a second organization with the same.
    struct Fixture {
        store: PgStore,
        org: OrgId,
        user: UserId,
        site: SiteId,
        visitor: VisitorId,
        other_org: OrgId,
        other_user: UserId,
        other_site: SiteId,
        other_visitor: VisitorId,
    }

    fn site(org: OrgId, name: &str) -> Site {
        Site {
            id: SiteId(id()),
            org_id: org,
            name: name.to_owned(),
            public_key: format!("pk_{}", id().simple()),
            secret: format!("sk_{}", id().simple()),
            allowed_origins: vec!["https://shop.example".to_owned()],
            widget: WidgetConfig::default(),
            widget_draft: None,
            assistant: AssistantSettings::default(),
            previous_public_key: None,
            previous_key_expires_at: None,
            require_verified_identity: false,
            retention_days: None,
            created_at: Timestamp(T0),
            updated_at: Timestamp(T0),
        }
    }

    async fn tenant(store: &PgStore, name: &str) -> (OrgId, UserId, SiteId, VisitorId) {
        let org = Organization {
            id: OrgId(id()),
            name: name.to_owned(),
            plan: Plan::Free,
            extra_seats: 0,
            created_at: Timestamp(T0),
        };
        store.create_org(&org).await.expect("org");
        let user = User {
            id: UserId(id()),
            email: format!("{}@{name}.example", id().simple()),
            name: format!("Agent of {name}"),
            password_hash: String::new(),
            created_at: Timestamp(T0),
        };
        store.create_user(&user).await.expect("user");
        let membership = Membership { org_id: org.id, user_id: user.id, role: Role::Owner, created_at: Timestamp(T0) };
        store.put_membership(&membership).await.expect("membership");
        let site = site(org.id, name);
        store.create_site(&site).await.expect("site");
        let visitor = Visitor {
            id: VisitorId(id()),
            site_id: site.id,
            name: Some(format!("Visitor of {name}")),
            email: Some(format!("visitor@{name}.example")),
            locale: None,
            user_id: None,
            verified: false,
            created_at: Timestamp(T0),
            last_seen_at: Timestamp(T0),
            erased_at: None,
        };
        store.create_visitor(&visitor).await.expect("visitor");
        (org.id, user.id, site.id, visitor.id)
    }

    impl Fixture {
        async fn new(url: &str) -> Fixture {
            let store = PgStore::connect(url).await.expect("connect");
            let (org, user, site, visitor) = tenant(&store, "acme").await;
            let (other_org, other_user, other_site, other_visitor) = tenant(&store, "globex").await;
            Fixture { store, org, user, site, visitor, other_org, other_user, other_site, other_visitor }
        }

        async fn conversation_in(&self, org: OrgId, site: SiteId, visitor: VisitorId, at: i64) -> Conversation {
            let c = Conversation {
                id: ConversationId(id()),
                org_id: org,
                site_id: site,
                visitor_id: visitor,
                status: Active,
                assignee_id: None,
                page_url: None,
                locale: None,
                params: serde_json::json!({}),
                last_seq: 0,
                token_generation: 0,
                created_at: Timestamp(at),
                updated_at: Timestamp(at),
                last_activity_at: Timestamp(at),
                status_changed_at: Timestamp(at),
                escalated_at: None,
                first_agent_reply_at: None,
            };
            self.store.create_conversation(&c).await.expect("conversation");
            c
        }

        async fn conversation(&self, at: i64) -> Conversation {
            self.conversation_in(self.org, self.site, self.visitor, at).await
        }

        async fn say(
            &self,
            org: OrgId,
            c: ConversationId,
            kind: AuthorKind,
            body: &str,
            at: i64,
            status: Option<StatusChange>,
        ) -> (Message, Conversation) {
            let message = NewMessage {
                id: MessageId(id()),
                conversation_id: c,
                author_kind: kind,
                author_id: None,
                body: body.to_owned(),
                html: String::new(),
                citations: vec![],
                quick_replies: vec![],
                created_at: Timestamp(at),
            };
            self.store.append_message(org, &message, status, kind == AuthorKind::Visitor).await.expect("append")
        }

        async fn search(&self, org: OrgId, text: &str) -> Vec<ConversationId> {
            let filter = InboxFilter { text: Some(text.to_owned()), ..InboxFilter::default() };
            let items =
                self.store.inbox(org, self.user, &filter).await.unwrap_or_else(|e| panic!("search {text:?}: {e}"));
            let mut ids: Vec<ConversationId> = items.into_iter().map(|i| i.conversation.id).collect();
            ids.sort();
            ids
        }

        async fn close(self, url: &str) {
            self.store.close().await;
            drop_schema(url).await;
        }
    }

    fn sorted(mut ids: Vec<ConversationId>) -> Vec<ConversationId> {
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn full_text_search_matches_words_and_a_prefix_and_never_reads_syntax() {
        let Some(url) = fresh_database_url("full_text_search_matches_words_and_a_prefix_and_never_reads_syntax").await
        else {
            return;
        };
        let f = Fixture::new(&url).await;
        let refund = f.conversation(T0).await;
        f.say(f.org, refund.id, AuthorKind::Visitor, "Where is my REFUND for order 42?", T0 + 1, None).await;
        f.say(f.org, refund.id, AuthorKind::Agent, "Your parcel ships today.", T0 + 2, None).await;
        let cotton = f.conversation(T0).await;
        f.say(
            f.org,
            cotton.id,
            AuthorKind::Visitor,
            "Is the shirt 100% cotton? Write to support@shop.example",
            T0 + 3,
            None,
        )
        .await;
        let quoted = f.conversation(T0).await;
        f.say(f.org, quoted.id, AuthorKind::Visitor, "refund_policy \"quoted\" it's fine", T0 + 4, None).await;
        // Another organization says the same words: never found from the first.
        let foreign = f.conversation_in(f.other_org, f.other_site, f.other_visitor, T0).await;
        f.say(f.other_org, foreign.id, AuthorKind::Visitor, "Where is my refund order?", T0 + 5, None).await;

        assert_eq!(f.search(f.org, "refund").await, sorted(vec![refund.id, quoted.id]), "a word, any case");
        assert_eq!(f.search(f.org, "Refu").await, sorted(vec![refund.id, quoted.id]), "the last word is a prefix");
        assert_eq!(f.search(f.org, "order refund").await, vec![refund.id], "words in any order");
        assert_eq!(f.search(f.org, "refund parcel").await, Vec::<ConversationId>::new(), "all words in one message");
        assert_eq!(f.search(f.org, "ord refund").await, Vec::<ConversationId>::new(), "only the last word is a prefix");
        assert_eq!(f.search(f.other_org, "refund").await, vec![foreign.id], "scoped by organization");
        assert_eq!(f.search(f.org, "100%").await, vec![cotton.id], "`%` is not a wildcard");
        assert_eq!(f.search(f.org, "support@shop.example").await, vec![cotton.id], "an address as typed");
        assert_eq!(f.search(f.org, "it's").await, vec![quoted.id], "an apostrophe is not a quote");
        assert_eq!(
            f.search(f.org, "OR").await,
            vec![refund.id],
            "`OR` is a word (a prefix of `order`), not an operator"
        );
        assert_eq!(f.search(f.org, "\"quoted\"").await, vec![quoted.id]);
        assert_eq!(
            f.search(f.org, "refund & !cotton | x:*").await,
            Vec::<ConversationId>::new(),
            "operators are ignored"
        );
        for nothing in ["", "   ", "\"", "*", "!", ":*", "%", "_", "'", "\\", "&|!<->()"] {
            assert_eq!(f.search(f.org, nothing).await, Vec::<ConversationId>::new(), "{nothing:?} has no word");
        }
        assert_eq!(f.search(f.org, "'; DROP TABLE messages; --").await, Vec::<ConversationId>::new());
        let huge = "refund ".repeat(50_000);
        assert_eq!(
            f.search(f.org, &huge).await,
            sorted(vec![refund.id, quoted.id]),
            "a huge search is cut, not an error"
        );
        // The messages are all still there.
        let all = f.store.list_messages(refund.id, 0, 10).await.expect("messages");
        assert_eq!(all.len(), 2);
        f.close(&url).await;
    }

    #[tokio::test]
    async fn the_inbox_lists_previews_unread_counts_ratings_and_assignees() {
        let Some(url) = fresh_database_url("the_inbox_lists_previews_unread_counts_ratings_and_assignees").await else {
            return;
        };
        let f = Fixture::new(&url).await;
        let store = &f.store;
        let first = f.conversation(T0).await;
        let long = "é".repeat(PREVIEW_CHARS + 20);
        f.say(f.org, first.id, AuthorKind::Visitor, "hello", T0 + 1, None).await;
        f.say(f.org, first.id, AuthorKind::Visitor, &long, T0 + 2, None).await;
        f.say(f.org, first.id, AuthorKind::Assistant, "short answer", T0 + 3, None).await;
        let escalate = Some(StatusChange { from: Active, to: Escalated });
        let (_, second) =
            f.say(f.org, f.conversation(T0 + 10).await.id, AuthorKind::Visitor, &long, T0 + 11, escalate).await;
        let empty = f.conversation(T0 + 20).await;
        let rating = Rating {
            conversation_id: first.id,
            stars: 4,
            tags: vec![],
            feedback: None,
            created_at: Timestamp(T0 + 30),
        };
        store.create_rating(f.org, &rating).await.expect("rating");

        let all = store.inbox(f.org, f.user, &InboxFilter::default()).await.expect("inbox");
        let ids: Vec<ConversationId> = all.iter().map(|i| i.conversation.id).collect();
        // Most recently updated first: `empty` (T0+20), `second` (T0+11), `first` (T0+3).
        assert_eq!(ids, vec![empty.id, second.id, first.id]);
        let item = &all[2];
        assert_eq!(item.visitor_name.as_deref(), Some("Visitor of acme"));
        assert_eq!(item.visitor_email.as_deref(), Some("visitor@acme.example"));
        let last = item.last_message.as_ref().expect("a last message");
        assert_eq!(
            (last.author_kind, last.body.as_str(), last.created_at),
            (AuthorKind::Assistant, "short answer", Timestamp(T0 + 3))
        );
        assert_eq!((item.unread, item.rating), (3, Some(4)));
        let cut = all[1].last_message.as_ref().expect("a last message");
        assert_eq!(cut.body, frontdesk_core::inbox::preview(&long), "long bodies are previews");
        assert_eq!(cut.body.chars().count(), PREVIEW_CHARS + 1);
        assert_eq!((all[0].last_message.clone(), all[0].unread, all[0].rating), (None, 0, None));

        // Read markers: per viewer, never back, scoped.
        store.mark_read(f.org, first.id, f.user, 2).await.expect("mark read");
        store.mark_read(f.org, first.id, f.user, 1).await.expect("an older marker");
        let unread = |items: Vec<frontdesk_core::inbox::InboxItem>, c: ConversationId| {
            items.into_iter().find(|i| i.conversation.id == c).map(|i| i.unread)
        };
        let mine = store.inbox(f.org, f.user, &InboxFilter::default()).await.expect("inbox");
        assert_eq!(unread(mine, first.id), Some(1), "the marker never moves back");
        store.mark_read(f.org, first.id, f.user, 99).await.expect("past the end");
        let mine = store.inbox(f.org, f.user, &InboxFilter::default()).await.expect("inbox");
        assert_eq!(unread(mine, first.id), Some(0), "unread is never negative");
        let theirs = store.inbox(f.org, f.other_user, &InboxFilter::default()).await.expect("inbox");
        assert_eq!(unread(theirs, first.id), Some(3), "another viewer's marker");
        let refused = store.mark_read(f.other_org, first.id, f.other_user, 1).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "another org's conversation: {refused:?}");

        // Filters.
        let of = |items: Vec<frontdesk_core::inbox::InboxItem>| {
            items.into_iter().map(|i| i.conversation.id).collect::<Vec<_>>()
        };
        let escalated = InboxFilter { status: Some(Escalated), ..InboxFilter::default() };
        assert_eq!(of(store.inbox(f.org, f.user, &escalated).await.expect("inbox")), vec![second.id]);
        for (min, max, expected) in [
            (Some(4), None, vec![first.id]),
            (Some(5), None, vec![]),
            (None, Some(3), vec![]),
            (Some(1), Some(5), vec![first.id]),
        ] {
            let rated = InboxFilter { rating_min: min, rating_max: max, ..InboxFilter::default() };
            assert_eq!(of(store.inbox(f.org, f.user, &rated).await.expect("inbox")), expected, "{min:?}..{max:?}");
        }
        let other_site = InboxFilter { site_id: Some(f.other_site), ..InboxFilter::default() };
        assert!(store.inbox(f.org, f.user, &other_site).await.expect("inbox").is_empty());
        let limited = InboxFilter { limit: 1, ..InboxFilter::default() };
        assert_eq!(of(store.inbox(f.org, f.user, &limited).await.expect("inbox")), vec![empty.id]);
        // The escalation queue: oldest status change first.
        let queue = InboxFilter { oldest_first: true, ..InboxFilter::default() };
        assert_eq!(of(store.inbox(f.org, f.user, &queue).await.expect("inbox")), vec![first.id, second.id, empty.id]);

        // Assignment: a member only, scoped, with its event.
        let assigned =
            store.assign_conversation(f.org, second.id, Some(f.user), Timestamp(T0 + 40)).await.expect("assign");
        assert_eq!((assigned.assignee_id, assigned.updated_at), (Some(f.user), Timestamp(T0 + 40)));
        let not_member = store.assign_conversation(f.org, first.id, Some(f.other_user), Timestamp(T0 + 41)).await;
        assert!(matches!(not_member, Err(StoreError::NotFound)), "a non-member: {not_member:?}");
        let foreign = store.assign_conversation(f.other_org, second.id, None, Timestamp(T0 + 41)).await;
        assert!(matches!(foreign, Err(StoreError::NotFound)), "another org's conversation: {foreign:?}");
        let mine = InboxFilter { assignee: AssigneeFilter::User(f.user), ..InboxFilter::default() };
        assert_eq!(of(store.inbox(f.org, f.user, &mine).await.expect("inbox")), vec![second.id]);
        let unassigned = InboxFilter { assignee: AssigneeFilter::Unassigned, ..InboxFilter::default() };
        assert_eq!(of(store.inbox(f.org, f.user, &unassigned).await.expect("inbox")), vec![empty.id, first.id]);
        let cleared = store.assign_conversation(f.org, second.id, None, Timestamp(T0 + 42)).await.expect("unassign");
        assert_eq!(cleared.assignee_id, None);
        let events = store.outbox_after(0, 1000).await.expect("outbox");
        let assignments: Vec<Option<UserId>> = events
            .iter()
            .filter_map(|e| match &e.event {
                DomainEvent::Assigned { conversation_id, assignee_id } if *conversation_id == second.id => {
                    Some(*assignee_id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(assignments, vec![Some(f.user), None], "one event per successful assignment");
        f.close(&url).await;
    }

    #[tokio::test]
    async fn status_times_and_the_first_agent_reply() {
        let Some(url) = fresh_database_url("status_times_and_the_first_agent_reply").await else { return };
        let f = Fixture::new(&url).await;
        let c = f.conversation(T0).await;
        let change = |from: ConversationStatus, to: ConversationStatus| Some(StatusChange { from, to });
        let (_, after) = f.say(f.org, c.id, AuthorKind::Visitor, "hi", T0 + 1, None).await;
        assert_eq!(
            (after.status_changed_at, after.escalated_at, after.first_agent_reply_at),
            (Timestamp(T0), None, None)
        );
        let (_, after) =
            f.say(f.org, c.id, AuthorKind::Visitor, "a person please", T0 + 2, change(Active, Escalated)).await;
        assert_eq!((after.status_changed_at, after.escalated_at), (Timestamp(T0 + 2), Some(Timestamp(T0 + 2))));
        let (_, after) = f.say(f.org, c.id, AuthorKind::Agent, "here", T0 + 3, None).await;
        assert_eq!(after.first_agent_reply_at, Some(Timestamp(T0 + 3)));
        let (_, after) = f.say(f.org, c.id, AuthorKind::Agent, "again", T0 + 4, None).await;
        assert_eq!(after.first_agent_reply_at, Some(Timestamp(T0 + 3)), "the first reply stays");
        let (_, after) = f.say(f.org, c.id, AuthorKind::Visitor, "same", T0 + 5, change(Escalated, Escalated)).await;
        assert_eq!(after.status_changed_at, Timestamp(T0 + 2), "no change, no new time");
        let back = f
            .store
            .change_status(f.org, c.id, StatusChange { from: Escalated, to: Active }, Timestamp(T0 + 6))
            .await
            .expect("back");
        assert_eq!((back.status_changed_at, back.escalated_at), (Timestamp(T0 + 6), Some(Timestamp(T0 + 2))));
        let again = f
            .store
            .change_status(f.org, c.id, StatusChange { from: Active, to: Escalated }, Timestamp(T0 + 7))
            .await
            .expect("again");
        assert_eq!(
            (again.status_changed_at, again.escalated_at),
            (Timestamp(T0 + 7), Some(Timestamp(T0 + 2))),
            "the first escalation stays"
        );
        let done = f
            .store
            .change_status(f.org, c.id, StatusChange { from: Escalated, to: Resolved }, Timestamp(T0 + 8))
            .await
            .expect("resolve");
        assert_eq!(
            f.store.get_conversation(f.org, c.id).await.expect("read"),
            done,
            "what is returned is what is stored"
        );

        let stats = f.store.conversation_stats(f.org, None, Timestamp(T0), Timestamp(T0 + 1)).await.expect("stats");
        assert_eq!(stats.len(), 1);
        let s = &stats[0];
        assert_eq!(
            (s.id, s.status, s.escalated_at, s.first_agent_reply_at),
            (c.id, Resolved, Some(Timestamp(T0 + 2)), Some(Timestamp(T0 + 3)))
        );
        assert_eq!((s.assistant_messages, s.agent_messages, s.rating), (0, 2, None));
        assert!(
            f.store
                .conversation_stats(f.org, None, Timestamp(T0 + 1), Timestamp(T0 + 9))
                .await
                .expect("stats")
                .is_empty(),
            "[from, to) by creation"
        );
        assert!(
            f.store
                .conversation_stats(f.other_org, None, Timestamp(T0), Timestamp(T0 + 9))
                .await
                .expect("stats")
                .is_empty()
        );
        f.close(&url).await;
    }

    #[tokio::test]
    async fn notes_canned_responses_and_the_audit_filter() {
        let Some(url) = fresh_database_url("notes_canned_responses_and_the_audit_filter").await else { return };
        let f = Fixture::new(&url).await;
        let store = &f.store;
        let c = f.conversation(T0).await;
        let note = |at: i64, org: OrgId| Note {
            id: NoteId(id()),
            org_id: org,
            conversation_id: c.id,
            author_id: f.user,
            body: format!("note at {at}"),
            html: format!("<p>note at {at}</p>"),
            mentions: vec![f.user],
            created_at: Timestamp(at),
        };
        let (late, early) = (note(T0 + 2, f.org), note(T0 + 1, f.org));
        store.create_note(&late).await.expect("note");
        store.create_note(&early).await.expect("note");
        let forged = store.create_note(&note(T0 + 3, f.other_org)).await;
        assert!(matches!(forged, Err(StoreError::NotFound)), "a note on another org's conversation: {forged:?}");
        assert_eq!(store.list_notes(f.org, c.id).await.expect("notes"), vec![early.clone(), late.clone()]);
        assert!(matches!(store.list_notes(f.other_org, c.id).await, Err(StoreError::NotFound)));
        let empty = f.conversation(T0).await;
        assert_eq!(store.list_notes(f.org, empty.id).await.expect("no notes"), vec![]);
        let created: Vec<NoteId> = store
            .outbox_after(0, 1000)
            .await
            .expect("outbox")
            .into_iter()
            .filter_map(|e| match e.event {
                DomainEvent::NoteCreated { note_id, mentions, .. } if mentions == vec![f.user] => Some(note_id),
                _ => None,
            })
            .collect();
        assert_eq!(created, vec![late.id, early.id], "one event per stored note");

        // Canned responses.
        let canned = |shortcut: &str, org: OrgId| CannedResponse {
            id: CannedResponseId(id()),
            org_id: org,
            shortcut: shortcut.to_owned(),
            title: format!("Title {shortcut}"),
            body: "Body".to_owned(),
            created_at: Timestamp(T0),
            updated_at: Timestamp(T0),
        };
        let (b, a_upper, a) = (canned("b", f.org), canned("Zed", f.org), canned("a_", f.org));
        for r in [&b, &a_upper, &a] {
            store.put_canned_response(r).await.expect("canned");
        }
        assert_eq!(
            store.list_canned_responses(f.org).await.expect("list"),
            vec![a_upper.clone(), a.clone(), b.clone()],
            "byte order"
        );
        let taken = store.put_canned_response(&CannedResponse { shortcut: "b".to_owned(), ..a.clone() }).await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))), "a taken shortcut: {taken:?}");
        let edited = CannedResponse { title: "New".to_owned(), updated_at: Timestamp(T0 + 5), ..a.clone() };
        store.put_canned_response(&edited).await.expect("replace");
        let stolen = store.put_canned_response(&CannedResponse { org_id: f.other_org, ..a.clone() }).await;
        assert!(matches!(stolen, Err(StoreError::NotFound)), "another org's id: {stolen:?}");
        store.put_canned_response(&canned("b", f.other_org)).await.expect("the same shortcut in another org");
        assert!(matches!(store.delete_canned_response(f.other_org, b.id).await, Err(StoreError::NotFound)));
        store.delete_canned_response(f.org, b.id).await.expect("delete");
        assert_eq!(store.list_canned_responses(f.org).await.expect("list"), vec![a_upper, edited]);

        // The audit log: an action prefix is literal text, `_` and `%` included.
        let audit = |action: &str, at: i64, actor: Option<UserId>| AuditEvent {
            id: AuditEventId(id()),
            org_id: f.org,
            actor_id: actor,
            action: action.to_owned(),
            target_kind: "site".to_owned(),
            target_id: "x".to_owned(),
            ip: None,
            user_agent: None,
            details: serde_json::json!({}),
            created_at: Timestamp(at),
        };
        let actions = ["site.create", "site.update", "sitexcreate", "s_te.create", "s%e.create", "site"];
        for (i, action) in actions.iter().enumerate() {
            let actor = if i % 2 == 0 { Some(f.user) } else { None };
            store.append_audit(&audit(action, T0 + i as i64, actor)).await.expect("audit");
        }
        let org = f.org;
        let list = |filter: AuditFilter| async move {
            store.list_audit(org, &filter).await.expect("audit").into_iter().map(|r| r.event.action).collect::<Vec<_>>()
        };
        let by_action = |a: &str| AuditFilter { action: Some(a.to_owned()), ..AuditFilter::default() };
        assert_eq!(list(by_action("site.")).await, vec!["site.update", "site.create"], "newest first");
        assert_eq!(list(by_action("s_te.")).await, vec!["s_te.create"], "`_` is itself");
        assert_eq!(list(by_action("s%e.")).await, vec!["s%e.create"], "`%` is itself");
        assert_eq!(list(by_action("%.")).await, Vec::<String>::new());
        assert_eq!(list(by_action("site")).await, vec!["site"], "without a dot: exact");
        assert_eq!(list(by_action("site.create")).await, vec!["site.create"]);
        let mine = AuditFilter { actor_id: Some(f.user), ..AuditFilter::default() };
        assert_eq!(list(mine).await, vec!["s%e.create", "sitexcreate", "site.create"]);
        let range =
            AuditFilter { from: Some(Timestamp(T0 + 1)), to: Some(Timestamp(T0 + 3)), ..AuditFilter::default() };
        assert_eq!(list(range).await, vec!["sitexcreate", "site.update"], "[from, to)");
        assert_eq!(list(AuditFilter { limit: 2, ..AuditFilter::default() }).await, vec!["site", "s%e.create"]);
        assert!(store.list_audit(f.other_org, &AuditFilter::default()).await.expect("audit").is_empty());
        f.close(&url).await;
    }

    #[tokio::test]
    async fn team_invites_plans_keys_settings_and_visitor_insights() {
        let Some(url) = fresh_database_url("team_invites_plans_keys_settings_and_visitor_insights").await else {
            return;
        };
        let f = Fixture::new(&url).await;
        let store = &f.store;

        store.set_org_plan(f.org, Plan::Pro, u32::MAX).await.expect("plan");
        let org = store.get_org(f.org).await.expect("org");
        assert_eq!((org.plan, org.extra_seats), (Plan::Pro, u32::MAX), "every u32 fits");
        assert!(matches!(store.set_org_plan(OrgId(id()), Plan::Pro, 1).await, Err(StoreError::NotFound)));

        // Members and their preferences.
        let members = store.list_members(f.org).await.expect("members");
        assert_eq!(members.len(), 1);
        assert_eq!(
            (members[0].user_id, members[0].role, members[0].notify),
            (f.user, Role::Owner, NotificationPrefs::default())
        );
        let quiet = NotificationPrefs { email_escalations: false, email_mentions: true };
        store.set_notification_prefs(f.org, f.user, quiet).await.expect("prefs");
        assert_eq!(store.list_members(f.org).await.expect("members")[0].notify, quiet);
        assert!(matches!(store.set_notification_prefs(f.org, f.other_user, quiet).await, Err(StoreError::NotFound)));
        // A role change keeps the preferences.
        let admin = Membership { org_id: f.org, user_id: f.user, role: Role::Admin, created_at: Timestamp(T0 + 9) };
        store.put_membership(&admin).await.expect("role");
        let members = store.list_members(f.org).await.expect("members");
        assert_eq!((members[0].role, members[0].notify, members[0].created_at), (Role::Admin, quiet, Timestamp(T0)));

        // Invitations.
        let invite = Invite {
            id: InviteId(id()),
            org_id: f.org,
            email: "new@acme.example".to_owned(),
            role: Role::Member,
            invited_by: Some(f.user),
            created_at: Timestamp(T0 + 1),
            expires_at: Timestamp(T0 + 100),
            accepted_at: None,
        };
        store.create_invite(&invite).await.expect("invite");
        let twice = store.create_invite(&Invite { id: InviteId(id()), ..invite.clone() }).await;
        assert!(matches!(twice, Err(StoreError::Conflict(_))), "a second pending invitation: {twice:?}");
        store
            .create_invite(&Invite { id: InviteId(id()), org_id: f.other_org, invited_by: None, ..invite.clone() })
            .await
            .expect("same address, other org");
        assert_eq!(store.get_invite(invite.id).await.expect("get"), invite);
        assert_eq!(store.list_invites(f.org).await.expect("list"), vec![invite.clone()]);
        let newcomer = User {
            id: UserId(id()),
            email: "new@acme.example".to_owned(),
            name: "New".to_owned(),
            password_hash: String::new(),
            created_at: Timestamp(T0 + 2),
        };
        store.create_user(&newcomer).await.expect("user");
        let joining =
            Membership { org_id: f.org, user_id: newcomer.id, role: Role::Member, created_at: Timestamp(T0 + 3) };
        let elsewhere = Membership { org_id: f.other_org, ..joining.clone() };
        assert!(
            matches!(store.accept_invite(invite.id, &elsewhere, Timestamp(T0 + 3)).await, Err(StoreError::NotFound)),
            "an invitation only admits to its org"
        );
        assert!(matches!(store.get_membership(f.other_org, newcomer.id).await, Err(StoreError::NotFound)));
        store.accept_invite(invite.id, &joining, Timestamp(T0 + 3)).await.expect("accept");
        let again = store.accept_invite(invite.id, &joining, Timestamp(T0 + 4)).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "accepted twice: {again:?}");
        assert!(matches!(
            store.accept_invite(InviteId(id()), &joining, Timestamp(T0 + 4)).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.get_invite(invite.id).await.expect("get").accepted_at, Some(Timestamp(T0 + 3)));
        assert_eq!(store.get_membership(f.org, newcomer.id).await.expect("member"), joining);
        assert!(store.list_invites(f.org).await.expect("list").is_empty(), "accepted ones are left out");
        store
            .create_invite(&Invite { id: InviteId(id()), ..invite.clone() })
            .await
            .expect("a new invitation once the last was accepted");
        assert!(matches!(store.delete_invite(f.other_org, invite.id).await, Err(StoreError::NotFound)));
        store.delete_invite(f.org, invite.id).await.expect("delete");
        assert!(matches!(store.get_invite(invite.id).await, Err(StoreError::NotFound)));
        store.delete_membership(f.org, newcomer.id).await.expect("remove");
        assert!(matches!(store.delete_membership(f.org, newcomer.id).await, Err(StoreError::NotFound)));

        // Key rotation and the widget draft.
        let mut site = store.get_site(f.org, f.site).await.expect("site");
        let old_key = site.public_key.clone();
        site.previous_public_key = Some(old_key.clone());
        site.previous_key_expires_at = Some(Timestamp(T0 + 86_400_000));
        site.public_key = format!("pk_{}", id().simple());
        site.widget_draft = Some(WidgetConfig { title: "Draft".to_owned(), ..WidgetConfig::default() });
        store.update_site(&site).await.expect("rotate");
        assert_eq!(store.get_site(f.org, f.site).await.expect("site"), site);
        assert_eq!(store.get_site_by_public_key(&old_key).await.expect("by old key"), site);
        assert_eq!(store.get_site_by_public_key(&site.public_key).await.expect("by new key"), site);
        site.widget_draft = None;
        site.previous_public_key = None;
        site.previous_key_expires_at = None;
        store.update_site(&site).await.expect("publish");
        assert_eq!(store.get_site(f.org, f.site).await.expect("site"), site);
        assert!(matches!(store.get_site_by_public_key(&old_key).await, Err(StoreError::NotFound)));

        // Settings: compare-and-set.
        store.get_or_init_setting("cursor", "1").await.expect("init");
        assert!(!store.compare_and_set_setting("cursor", "0", "2").await.expect("cas"), "a stale value");
        assert!(store.compare_and_set_setting("cursor", "1", "2").await.expect("cas"));
        assert!(!store.compare_and_set_setting("absent", "", "1").await.expect("cas"), "an absent key");
        assert_eq!(store.get_or_init_setting("cursor", "x").await.expect("read"), "2");

        // Visitor insights: page views and conversions of the org's sites in [from, to).
        let event = |kind: VisitorEventKind,
                     url: Option<&str>,
                     title: Option<&str>,
                     name: Option<&str>,
                     at: i64,
                     visitor: VisitorId,
                     site: SiteId| VisitorEvent {
            id: VisitorEventId(id()),
            site_id: site,
            visitor_id: visitor,
            conversation_id: None,
            kind,
            url: url.map(str::to_owned),
            title: title.map(str::to_owned),
            referrer: None,
            name: name.map(str::to_owned),
            props: serde_json::json!({}),
            created_at: Timestamp(at),
        };
        let second_visitor = Visitor {
            id: VisitorId(id()),
            site_id: f.site,
            name: None,
            email: None,
            locale: None,
            user_id: None,
            verified: false,
            created_at: Timestamp(T0),
            last_seen_at: Timestamp(T0),
            erased_at: None,
        };
        store.create_visitor(&second_visitor).await.expect("visitor");
        use VisitorEventKind::{Conversion, PageView};
        let events = [
            event(PageView, Some("/a"), Some("A"), None, T0 + 1, f.visitor, f.site),
            event(PageView, Some("/a"), Some("B"), None, T0 + 2, f.visitor, f.site),
            event(PageView, Some("/a"), None, None, T0 + 3, second_visitor.id, f.site),
            event(PageView, Some("/b"), None, None, T0 + 4, f.visitor, f.site),
            event(PageView, None, None, None, T0 + 4, f.visitor, f.site),
            event(PageView, Some("/late"), None, None, T0 + 50, f.visitor, f.site),
            event(PageView, Some("/a"), None, None, T0 + 4, f.other_visitor, f.other_site),
            event(Conversion, None, None, Some("signup"), T0 + 5, f.visitor, f.site),
            event(Conversion, None, None, Some("signup"), T0 + 6, f.visitor, f.site),
            event(Conversion, None, None, Some("buy"), T0 + 6, second_visitor.id, f.site),
            event(Conversion, None, None, None, T0 + 6, second_visitor.id, f.site),
        ];
        for e in &events {
            store.append_visitor_event(e).await.expect("event");
        }
        let pages = store.top_pages(f.org, None, Timestamp(T0), Timestamp(T0 + 50), 0).await.expect("pages");
        let pages: Vec<(String, Option<String>, i64, i64)> =
            pages.into_iter().map(|p| (p.url, p.title, p.views, p.visitors)).collect();
        assert_eq!(pages, vec![("/a".to_owned(), Some("B".to_owned()), 3, 2), ("/b".to_owned(), None, 1, 1)]);
        assert_eq!(
            store.top_pages(f.org, Some(f.site), Timestamp(T0), Timestamp(T0 + 51), 1).await.expect("pages").len(),
            1
        );
        assert!(
            store
                .top_pages(f.org, Some(f.other_site), Timestamp(T0), Timestamp(T0 + 51), 0)
                .await
                .expect("pages")
                .is_empty()
        );
        let conversions =
            store.conversion_counts(f.org, None, Timestamp(T0), Timestamp(T0 + 50)).await.expect("conversions");
        let conversions: Vec<(String, i64, i64)> =
            conversions.into_iter().map(|c| (c.name, c.count, c.visitors)).collect();
        assert_eq!(conversions, vec![("signup".to_owned(), 2, 1), ("buy".to_owned(), 1, 1)]);
        f.close(&url).await;
    }

    /// Rows written before 0005 get their new columns from the migration: a conversation's last
    /// update stands for its last status change, and for its escalation when it is escalated.
    #[tokio::test]
    async fn the_dashboard_migration_backfills_existing_rows() {
        let Some(url) = fresh_database_url("the_dashboard_migration_backfills_existing_rows").await else { return };
        // Migrations 0001-0004 only, from a copy of their files (same checksums as the real ones).
        let dir = std::env::temp_dir().join(format!("frontdesk-pg-migrations-{}", id().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        for entry in std::fs::read_dir(source).expect("migrations") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            if name.as_str() < "0005" {
                std::fs::copy(&path, dir.join(&name)).expect("copy");
            }
        }
        let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
        sqlx::migrate::Migrator::new(dir.as_path())
            .await
            .expect("old migrator")
            .run(&mut raw)
            .await
            .expect("0001-0004");
        std::fs::remove_dir_all(&dir).expect("clean up");
        let (org, site, visitor, user) = (id(), id(), id(), id());
        let (escalated, active) = (id(), id());
        for statement in [
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, 'old', 1)",
            "INSERT INTO sites (id, org_id, name, public_key, secret, allowed_origins, widget, created_at, updated_at) \
             VALUES ($2, $1, 'site', 'pk_old', 'sk_old', '[]', '{}', 1, 1)",
            "INSERT INTO visitors (id, site_id, created_at, last_seen_at) VALUES ($3, $2, 1, 1)",
            "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($4, 'old@example.com', 'Old', '', 1)",
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $4, 'owner', 1)",
            "INSERT INTO conversations (id, org_id, site_id, visitor_id, status, params, created_at, updated_at, last_activity_at) \
             VALUES ($5, $1, $2, $3, 'escalated', '{}', 10, 70, 10), ($6, $1, $2, $3, 'active', '{}', 10, 90, 10)",
        ] {
            sqlx::query(statement)
                .bind(org)
                .bind(site)
                .bind(visitor)
                .bind(user)
                .bind(escalated)
                .bind(active)
                .execute(&mut raw)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        raw.close().await.expect("close");

        let store = PgStore::connect(&url).await.expect("0005 runs on connect");
        let e = store.get_conversation(OrgId(org), ConversationId(escalated)).await.expect("escalated");
        assert_eq!(
            (e.status_changed_at, e.escalated_at, e.first_agent_reply_at),
            (Timestamp(70), Some(Timestamp(70)), None)
        );
        let a = store.get_conversation(OrgId(org), ConversationId(active)).await.expect("active");
        assert_eq!((a.status_changed_at, a.escalated_at), (Timestamp(90), None));
        let o = store.get_org(OrgId(org)).await.expect("org");
        assert_eq!((o.plan, o.extra_seats), (Plan::Free, 0));
        let s = store.get_site_by_public_key("pk_old").await.expect("site");
        assert_eq!((s.widget_draft, s.previous_public_key, s.previous_key_expires_at), (None, None, None));
        let members = store.list_members(OrgId(org)).await.expect("members");
        assert_eq!(members[0].notify, NotificationPrefs::default(), "the default preferences");
        store.close().await;
        drop_schema(&url).await;
    }
}

fn sealer(ring: &str) -> Arc<frontdesk_crypto::Sealer> {
    Arc::new(frontdesk_crypto::Sealer::new(frontdesk_crypto::KeyRing::parse(ring).expect("key ring")))
}

/// Every value of the sealed text columns, as the database holds them.
async fn raw_sealed_values(raw: &mut sqlx::PgConnection) -> Vec<String> {
    let mut values = Vec::new();
    for (table, column) in
        [("messages", "body"), ("messages", "html"), ("visitors", "name"), ("visitors", "email"), ("sites", "secret")]
    {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} != ''"))
                .fetch_all(&mut *raw)
                .await
                .expect("raw read");
        values.extend(rows);
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn encryption_at_rest_keeps_the_story_and_rotates_keys() {
    const KEY_1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_2: &str = "k2:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let Some(url) = fresh_database_url("encryption_at_rest").await else { return };
    let plain = connect(&url).await;
    let before = run_story(Arc::new(plain.clone())).await;
    plain.close().await;

    let store = connect(&url).await.with_sealer(sealer(KEY_1));
    let outcome = run_story(Arc::new(store.clone())).await;
    check_persisted(Arc::new(store.clone()), &before).await;
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
    let search = |text: &str| frontdesk_core::inbox::InboxFilter {
        text: Some(text.to_owned()),
        ..frontdesk_core::inbox::InboxFilter::default()
    };
    let viewer = UserId(Uuid::now_v7());
    let hits = store.inbox(ids.org_a, viewer, &search("zebra LAMP")).await.expect("search");
    assert_eq!(hits.iter().map(|i| i.conversation.id).collect::<Vec<_>>(), [ids.concurrent]);
    assert!(store.inbox(ids.org_a, viewer, &search("zeb")).await.expect("search").is_empty());
    let seen = store.list_messages(ids.concurrent, 0, 500).await.expect("list");
    assert_eq!(seen.last().map(|m| m.body.as_str()), Some(message.body.as_str()));

    let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
    let body: String = sqlx::query_scalar("SELECT body FROM messages WHERE id = $1")
        .bind(message.id.0)
        .fetch_one(&mut raw)
        .await
        .expect("raw body");
    assert!(body.starts_with("fdenc:1:k1:") && !body.contains("ZEBRA"), "{body}");
    assert!(raw_sealed_values(&mut raw).await.iter().any(|v| !v.starts_with("fdenc:1:")), "older data is plain");
    store.close().await;

    // Rotation: k2 primary, k1 still opens; reseal until nothing is left.
    let rotated = connect(&url).await.with_sealer(sealer(&format!("{KEY_2};{KEY_1}")));
    while rotated.reseal(50).await.expect("reseal") > 0 {}
    assert!(raw_sealed_values(&mut raw).await.iter().all(|v| v.starts_with("fdenc:1:k2:")));
    let hits = rotated.inbox(ids.org_a, viewer, &search("zebra")).await.expect("search");
    assert_eq!(hits.iter().map(|i| i.conversation.id).collect::<Vec<_>>(), [ids.concurrent], "tokens follow the key");
    rotated.close().await;
    let only_k2 = connect(&url).await.with_sealer(sealer(KEY_2));
    assert_eq!(only_k2.list_messages(ids.concurrent, 0, 500).await.expect("list with k2"), seen);
    let wrong = connect(&url).await.with_sealer(sealer(KEY_1));
    assert!(matches!(wrong.list_messages(ids.concurrent, 0, 500).await, Err(StoreError::Backend(_))));
    only_k2.close().await;
    wrong.close().await;
    raw.close().await.expect("close");
    drop_schema(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_chain_is_sealed_from_old_events_shared_by_nodes_and_refuses_changes() {
    use frontdesk_core::audit::{self, AuditEvent, GENESIS_HASH};
    let Some(url) =
        fresh_database_url("the_audit_chain_is_sealed_from_old_events_shared_by_nodes_and_refuses_changes").await
    else {
        return;
    };
    // The schema as it was before the chain: the crate's migrations below 0011.
    let old = std::env::temp_dir().join(format!("frontdesk-pg-below-11-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&old).expect("migrations dir");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let version: u32 = name.split('_').next().and_then(|v| v.parse().ok()).expect("numbered migration");
        if version < 11 {
            std::fs::copy(entry.path(), old.join(&name)).expect("copy migration");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.as_path()).await.expect("old migrations");
    let mut raw = sqlx::PgConnection::connect(&url).await.expect("raw connection");
    migrator.run(&mut raw).await.expect("migrate the old schema");
    let _ = std::fs::remove_dir_all(&old);
    let org = Uuid::now_v7();
    for (action, at) in [("old.second", 2000_i64), ("old.first", 1000)] {
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, actor_id, action, target_kind, target_id, ip, user_agent, \
             details, created_at) VALUES ($1, $2, NULL, $3, 'site', 's', NULL, 'ua', $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(org)
        .bind(action)
        .bind(serde_json::json!({ "zeta": 1, "alpha": { "b": [1.5, null], "a": "x" } }))
        .bind(at)
        .execute(&mut raw)
        .await
        .expect("an event from before the chain");
    }

    // Three nodes start together: the old events are sealed once, in the order they happened.
    let (a, b, c) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url), PgStore::connect(&url));
    let nodes = [a.expect("node a"), b.expect("node b"), c.expect("node c")];
    let sealed = nodes[1].audit_chain(OrgId(org), 0, 0).await.expect("chain");
    assert_eq!(
        sealed.iter().map(|r| (r.seq, r.event.action.as_str())).collect::<Vec<_>>(),
        [(1, "old.first"), (2, "old.second")]
    );
    assert_eq!(sealed[0].prev_hash, GENESIS_HASH);

    // Then they append to the same organization at once: one chain, no gap, no fork.
    let mut tasks = Vec::new();
    for (i, node) in nodes.iter().cycle().take(30).enumerate() {
        let node = node.clone();
        let event = AuditEvent {
            id: AuditEventId(Uuid::now_v7()),
            action: format!("node.append.{i}"),
            created_at: Timestamp(3000 + i as i64),
            ..sealed[0].event.clone()
        };
        tasks.push(tokio::spawn(async move { node.append_audit(&event).await }));
    }
    for task in tasks {
        task.await.expect("task").expect("append from a node");
    }
    let chain = nodes[2].audit_chain(OrgId(org), 0, 0).await.expect("chain");
    let head = nodes[0].audit_head(OrgId(org)).await.expect("head");
    assert_eq!(chain.len(), 32);
    let verdict = audit::verify_chain(OrgId(org), &chain, head.as_ref());
    assert!(verdict.ok, "{:?}", verdict.first_broken);
    assert_eq!(&chain[..2], &sealed[..], "sealed once: later nodes did not reseal");

    // The database refuses to change or remove an event.
    for sql in [
        "UPDATE audit_events SET action = 'forged' WHERE id = $1",
        "UPDATE audit_events SET details = '{}' WHERE id = $1",
        "UPDATE audit_events SET hash = NULL WHERE id = $1",
        "DELETE FROM audit_events WHERE id = $1",
    ] {
        let refused = sqlx::query(sql).bind(chain[0].event.id.0).execute(&mut raw).await;
        let message = refused.expect_err(sql).to_string();
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let truncate = sqlx::query("TRUNCATE audit_events").execute(&mut raw).await;
    assert!(truncate.expect_err("truncate").to_string().contains("append-only"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events").fetch_one(&mut raw).await.expect("count");
    assert_eq!(left, 32);
    raw.close().await.expect("close");
    for node in nodes {
        node.close().await;
    }
    drop_schema(&url).await;
}
