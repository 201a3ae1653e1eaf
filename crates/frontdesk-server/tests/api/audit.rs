//! The audit log's hash chain over HTTP: exports carry the chain, `…/audit/verify` reports an
//! intact log, and an event edited directly in the database (past its trigger) is found at its
//! number.

use crate::support::*;
use serde_json::{Value, json};

const AGENT: &str = "audit-test/1.0";

async fn chain_suite(backend: Backend, name: &str) {
    let Some(server) = TestServer::start(backend, name, roomy_config()).await else { return };
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let org = server.org.id;
    let verify = format!("/api/app/orgs/{org}/audit/verify");

    // A few administrative actions, one with a user agent of its own.
    let site = format!("/api/app/orgs/{org}/sites/{}", server.site.id);
    assert_eq!(owner.patch(&site, &json!({"name": "Northwind store"})).await.status, 200);
    let cookie = format!("fd_session={}", owner.cookie().unwrap_or_default());
    let rotated = raw(
        reqwest::Method::POST,
        &format!("{}{site}/keys/rotate", server.base),
        &[("Origin", &server.base), ("Cookie", &cookie), ("User-Agent", AGENT), ("Content-Type", "application/json")],
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);

    let intact = owner.get(&verify).await;
    assert_eq!(intact.status, 200, "{:?}", intact.body);
    assert_eq!((intact.body["ok"].clone(), intact.body["first_broken"].clone()), (json!(true), Value::Null));
    let checked = intact.body["checked"].as_u64().unwrap_or_default();
    assert!(checked >= 3, "logins and the two site actions: {}", intact.body);
    assert_error(&member.get(&verify).await, 403, "forbidden");

    // The log shows each event's place in the chain, linked to the one before.
    let listed = owner.get(&format!("/api/app/orgs/{org}/audit?limit=200")).await;
    let mut events = listed.body["events"].as_array().cloned().unwrap_or_default();
    events.sort_by_key(|e| e["seq"].as_i64());
    assert_eq!(events.len() as u64, checked);
    for pair in events.windows(2) {
        assert_eq!(pair[1]["seq"].as_i64(), pair[0]["seq"].as_i64().map(|s| s + 1));
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    let rotate = events.iter().find(|e| e["action"] == "site.key_rotate").cloned().unwrap_or_default();
    assert_eq!(
        (&rotate["actor_id"], &rotate["ip"], &rotate["user_agent"], &rotate["target_id"]),
        (&json!(server.owner.id), &json!("127.0.0.1"), &json!(AGENT), &json!(server.site.id)),
        "who, from where, on what: {rotate}"
    );
    let update = events.iter().find(|e| e["action"] == "site.update").cloned().unwrap_or_default();
    assert_eq!(update["details"]["fields"], json!(["name"]), "what changed: {update}");

    // The CSV export carries the chain; taking it is itself recorded, with who and from where.
    let csv = reqwest::Client::new()
        .get(format!("{}/api/app/orgs/{org}/audit?format=csv", server.base))
        .header("Cookie", &cookie)
        .header("User-Agent", AGENT)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("seq,id,created_at,actor_id,action,target_kind,target_id,ip,user_agent,details,prev_hash,hash")
    );
    let rotate_hash = rotate["hash"].as_str().unwrap_or("?");
    assert!(lines.any(|l| l.ends_with(&format!("\"{rotate_hash}\""))), "the hash is exported: {text}");
    let exports = owner.get(&format!("/api/app/orgs/{org}/audit?action=audit.export")).await;
    let export = exports.body["events"][0].clone();
    assert_eq!((&export["details"]["format"], &export["user_agent"]), (&json!("csv"), &json!(AGENT)), "{export}");
    assert_eq!(export["details"]["events"].as_u64(), Some(checked));

    // Someone edits an event straight in the database, getting past the trigger first.
    let tampered = rotate["seq"].as_i64().expect("seq");
    let rows = tamper(&server.database, &org.to_string(), tampered).await;
    assert_eq!(rows, 1, "one event edited");

    let broken = owner.get(&verify).await;
    assert_eq!(broken.status, 200);
    assert_eq!(broken.body["ok"], false, "{}", broken.body);
    assert_eq!(broken.body["checked"].as_i64(), Some(tampered - 1), "{}", broken.body);
    assert_eq!(
        broken.body["first_broken"],
        json!({"seq": tampered, "id": rotate["id"], "reason": "hash_mismatch"}),
        "found at the edited event"
    );

    // Another organization's chain is its own, and intact.
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let theirs = outsider.get(&format!("/api/app/orgs/{}/audit/verify", server.other_org.id)).await;
    assert_eq!(theirs.body["ok"], true, "{}", theirs.body);
    assert_error(&outsider.get(&verify).await, 404, "not_found");
}

/// Rewrites the details of one event with the append-only trigger out of the way for this
/// transaction only (it is put back before commit), as someone with database access could.
async fn tamper(database: &Database, org: &str, seq: i64) -> u64 {
    use sqlx::Connection;
    match database {
        Database::SqliteFile(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("open the file");
            let mut tx = conn.begin().await.expect("begin");
            let trigger: String = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_update'",
            )
            .fetch_one(&mut *tx)
            .await
            .expect("the trigger exists");
            let update = "UPDATE audit_events SET details = '{\"forged\":true}' WHERE org_id = ? AND seq = ?";
            let refused = sqlx::query(update).bind(org).bind(seq).execute(&mut *tx).await;
            assert!(refused.is_err(), "the trigger refuses the edit");
            sqlx::query("DROP TRIGGER audit_events_no_update").execute(&mut *tx).await.expect("drop");
            let done = sqlx::query(update).bind(org).bind(seq).execute(&mut *tx).await.expect("edit");
            sqlx::query(&trigger).execute(&mut *tx).await.expect("put the trigger back");
            tx.commit().await.expect("commit");
            done.rows_affected()
        }
        Database::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            let update = "UPDATE audit_events SET details = '{\"forged\": true}' WHERE org_id = $1::uuid AND seq = $2";
            let refused = sqlx::query(update).bind(org).bind(seq).execute(&mut conn).await;
            assert!(refused.is_err(), "the trigger refuses the edit");
            let mut tx = conn.begin().await.expect("begin");
            sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
                .execute(&mut *tx)
                .await
                .expect("disable");
            let done = sqlx::query(update).bind(org).bind(seq).execute(&mut *tx).await.expect("edit");
            sqlx::query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
                .execute(&mut *tx)
                .await
                .expect("enable");
            tx.commit().await.expect("commit");
            done.rows_affected()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_verify_finds_an_event_edited_in_the_database() {
    chain_suite(Backend::Sqlite, "server_sqlite_audit_chain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verify_finds_an_event_edited_in_the_database() {
    chain_suite(Backend::Postgres, "server_postgres_audit_chain").await;
}
