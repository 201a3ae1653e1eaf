//! GDPR over HTTP: exporting a visitor (by id and by email), erasing them (then the export holds
//! nothing personal, their session token is refused, analytics still count the conversation),
//! and the retention job (only the site's old conversations; once with two nodes on one database).

use crate::support::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const EMAIL: &str = "Ada.Lovelace@Example.org";

/// A visitor who leaves a trace of every kind; returns the chat client and session.
async fn ada_leaves_traces(
    server: &TestServer,
    owner: &AgentClient,
) -> (frontdesk_testkit::chat_api::ChatClient, frontdesk_testkit::chat_api::Session) {
    let widget = server.browser();
    let session = widget.start().await;
    let identify = widget
        .post(
            "/api/chat/identify",
            Some(&session.token),
            &json!({"session_id": session.id, "name": "Ada Lovelace", "email": EMAIL}),
        )
        .await;
    assert_eq!(identify.status, 200, "{}", identify.body);
    assert_eq!(widget.say(&session, "My passport is QX-771 and the lamp flickers").await.status, 200);
    let event = widget
        .post(
            "/api/chat/events",
            Some(&session.token),
            &json!({"session_id": session.id, "kind": "page_view", "url": "https://shop.northwind.test/account/ada", "title": "Ada's account"}),
        )
        .await;
    assert!(event.status < 300, "{}", event.body);
    let org = server.org.id;
    let c = &session.id;
    let reply = owner
        .post(
            &format!("/api/app/orgs/{org}/conversations/{c}/messages"),
            &json!({"content": "Hello Ada, checking QX-771"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let note = owner
        .post(&format!("/api/app/orgs/{org}/conversations/{c}/notes"), &json!({"content": "Ada prefers email"}))
        .await;
    assert!(note.status < 300, "{}", note.body);
    let rate = widget
        .post(
            &format!("/api/chat/session/{c}/rate"),
            Some(&session.token),
            &json!({"stars": 5, "feedback": "Ada says thanks"}),
        )
        .await;
    assert!(rate.status < 300, "{}", rate.body);
    (widget, session)
}

fn conversations_in(report: &Value) -> (i64, i64) {
    (report["conversations"].as_i64().unwrap_or(-1), report["ratings"].as_i64().unwrap_or(-1))
}

async fn export_and_erase(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id;
    let (widget, session) = ada_leaves_traces(server, &owner).await;

    let by_id = owner.get(&format!("/api/app/orgs/{org}/privacy/export?visitor_id={}", session.visitor_id)).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    assert!(by_id.header("content-disposition").is_some_and(|d| d.starts_with("attachment")), "a file");
    let doc = &by_id.body;
    assert_eq!(doc["format"], "frontdesk.visitor-export.v1");
    let visitor = &doc["visitors"][0];
    assert_eq!(doc["visitors"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (visitor["visitor"]["name"].as_str(), visitor["visitor"]["email"].as_str()),
        (Some("Ada Lovelace"), Some(EMAIL.to_lowercase().as_str()))
    );
    assert_eq!(visitor["site_name"], "Northwind shop");
    assert_eq!(visitor["events"][0]["url"], "https://shop.northwind.test/account/ada");
    let conversation = &visitor["conversations"][0];
    let bodies: Vec<&str> = conversation["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["body"].as_str()).collect())
        .unwrap_or_default();
    assert!(bodies.contains(&"My passport is QX-771 and the lamp flickers"), "the visitor's message: {bodies:?}");
    assert!(bodies.contains(&"Hello Ada, checking QX-771"), "the agent's message: {bodies:?}");
    assert!(
        conversation["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["author_kind"] == "assistant")),
        "the assistant's too"
    );
    assert_eq!(conversation["rating"]["feedback"], "Ada says thanks");
    assert_eq!(conversation["notes"][0]["body"], "Ada prefers email");
    assert!(conversation["unanswered_questions"].is_array());

    // By email, in any case: the same person.
    let by_email = owner
        .get(&format!("/api/app/orgs/{org}/privacy/export?email={}", EMAIL.to_uppercase().replace('@', "%40")))
        .await;
    assert_eq!(by_email.status, 200, "{}", by_email.body);
    assert_eq!(by_email.body["visitors"][0]["visitor"]["id"].as_str(), Some(session.visitor_id.as_str()));
    let nobody = owner.get(&format!("/api/app/orgs/{org}/privacy/export?email=nobody%40example.org")).await;
    assert_eq!(nobody.body["visitors"], json!([]), "an email nobody has: an empty export");
    assert_error(&owner.get(&format!("/api/app/orgs/{org}/privacy/export")).await, 422, "invalid_field");
    assert_error(
        &owner.get(&format!("/api/app/orgs/{org}/privacy/export?email=not-an-email")).await,
        422,
        "invalid_field",
    );
    // Another organization's visitor is not found, by its owner's own path either.
    let other = server.other_client();
    let theirs = other.start().await;
    assert_error(
        &owner.get(&format!("/api/app/orgs/{org}/privacy/export?visitor_id={}", theirs.visitor_id)).await,
        404,
        "not_found",
    );
    assert_error(
        &owner.post(&format!("/api/app/orgs/{org}/privacy/erase"), &json!({"visitor_id": theirs.visitor_id})).await,
        404,
        "not_found",
    );

    let before = owner.get(&format!("/api/app/orgs/{org}/analytics")).await;
    assert_eq!(before.status, 200, "{}", before.body);

    let erased =
        owner.post(&format!("/api/app/orgs/{org}/privacy/erase"), &json!({"email": EMAIL.to_lowercase()})).await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["visitors"], json!([session.visitor_id]));
    let counts = &erased.body["counts"];
    assert_eq!(
        (
            counts["conversations"].as_i64(),
            counts["ratings"].as_i64(),
            counts["notes"].as_i64(),
            counts["visitor_events"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert!(counts["messages"].as_i64().is_some_and(|n| n >= 3), "{counts}");

    // The export now holds nothing personal.
    let after = owner.get(&format!("/api/app/orgs/{org}/privacy/export?visitor_id={}", session.visitor_id)).await;
    assert_eq!(after.status, 200, "{}", after.body);
    let text = after.body.to_string();
    for personal in ["Ada", "Lovelace", "QX-771", "example.org", "flickers", "account/ada", "thanks"] {
        assert!(!text.to_lowercase().contains(&personal.to_lowercase()), "{personal} survived the erasure: {text}");
    }
    assert!(!after.body["visitors"][0]["visitor"]["erased_at"].is_null(), "the erasure is recorded");
    assert_eq!(after.body["visitors"][0]["conversations"][0]["messages"], json!([]));
    let by_email = owner.get(&format!("/api/app/orgs/{org}/privacy/export?email={}", EMAIL.replace('@', "%40"))).await;
    assert_eq!(by_email.body["visitors"], json!([]), "the email is gone");

    // The old session token is refused; the old visitor id starts over as a stranger.
    assert_error(&widget.say(&session, "Still me").await, 401, "token_expired");
    let again = widget.post("/api/chat/session", None, &json!({"visitor_id": session.visitor_id})).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_ne!(again.body["visitor_id"].as_str(), Some(session.visitor_id.as_str()), "a fresh visitor");

    // Analytics still count the conversation and its stars.
    let later = owner.get(&format!("/api/app/orgs/{org}/analytics")).await;
    assert_eq!(conversations_in(&later.body).1, conversations_in(&before.body).1, "ratings kept: {}", later.body);
    assert_eq!(
        conversations_in(&later.body).0,
        conversations_in(&before.body).0 + 1,
        "the erased conversation still counts, plus the new one"
    );

    // Audited with ids and counts only.
    let audit = owner.get(&format!("/api/app/orgs/{org}/audit?action=privacy.")).await;
    let events = audit.body["events"].as_array().cloned().unwrap_or_default();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"privacy.erase") && actions.contains(&"privacy.export"), "{actions:?}");
    let logged = audit.body.to_string().to_lowercase();
    assert!(
        !logged.contains("lovelace") && !logged.contains("example.org"),
        "no personal data in the audit log: {logged}"
    );

    // A member may not.
    let member = server.login(MEMBER_EMAIL).await;
    assert_error(
        &member.get(&format!("/api/app/orgs/{org}/privacy/export?visitor_id={}", session.visitor_id)).await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn sqlite_export_then_erase() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_privacy", roomy_config()).await.expect("sqlite");
    export_and_erase(&server).await;
}

#[tokio::test]
async fn postgres_export_then_erase() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_privacy", roomy_config()).await else {
        return;
    };
    export_and_erase(&server).await;
}

async fn conversation_status(owner: &AgentClient, org: impl std::fmt::Display, id: &str) -> u16 {
    owner.get(&format!("/api/app/orgs/{org}/conversations/{id}")).await.status
}

async fn retention(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id;
    let site = server.site.id;
    for bad in [json!(0), json!(3651), json!("30")] {
        let r = owner.patch(&format!("/api/app/orgs/{org}/sites/{site}"), &json!({"retention_days": bad})).await;
        assert!(matches!(r.status, 400 | 422), "{bad}: {}", r.body);
    }
    let set = owner.patch(&format!("/api/app/orgs/{org}/sites/{site}"), &json!({"retention_days": 30})).await;
    assert_eq!((set.status, set.body["retention_days"].as_i64()), (200, Some(30)), "{}", set.body);
    let cleared = owner.patch(&format!("/api/app/orgs/{org}/sites/{site}"), &json!({"retention_days": null})).await;
    assert_eq!(cleared.body["retention_days"], Value::Null, "null keeps forever");
    let kept = owner.patch(&format!("/api/app/orgs/{org}/sites/{site}"), &json!({"name": "Northwind"})).await;
    assert_eq!(kept.body["retention_days"], Value::Null, "absent leaves it");
    owner.patch(&format!("/api/app/orgs/{org}/sites/{site}"), &json!({"retention_days": 30})).await;

    // Another site of the organization keeps everything.
    let forever = frontdesk_server::admin::create_site(&server.chat, org, "Northwind blog", &[]).await.expect("site");
    let old = server.chat_client().start().await;
    assert_eq!(server.chat_client().say(&old, "an old wombat question").await.status, 200);
    let blog = frontdesk_testkit::chat_api::ChatClient::new(&server.base, &forever.public_key);
    let old_elsewhere = blog.start().await;

    server.clock.advance_seconds(31 * 86_400);
    let recent = server.chat_client().start().await;
    // A month later the login has expired too.
    let owner = server.login(OWNER_EMAIL).await;

    // A second node on the same database: the pass is claimed once.
    let second = frontdesk_server::build(
        server.chat.store.clone(),
        retention_config(),
        server.clock.clone(),
        Arc::new(frontdesk_server::env::OsEntropy),
    )
    .await
    .expect("a second node");
    let mut gone = false;
    for _ in 0..100 {
        if conversation_status(&owner, org, &old.id).await == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the job deleted the old conversation");
    // Both nodes tick a few more times: nothing more happens.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(conversation_status(&owner, org, &recent.id).await, 200, "a recent conversation stays");
    assert_eq!(conversation_status(&owner, org, &old_elsewhere.id).await, 200, "another site's retention is its own");
    let audit = owner.get(&format!("/api/app/orgs/{org}/audit?action=retention.purge")).await;
    let events = audit.body["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "one pass, by one node: {}", audit.body);
    assert_eq!(events[0]["target_id"].as_str(), Some(site.to_string().as_str()));
    assert_eq!(events[0]["details"]["counts"]["conversations"], 1);
    assert_eq!(events[0]["actor_id"], Value::Null);
    drop(second);
}

fn retention_config() -> frontdesk_server::ServerConfig {
    let mut config = roomy_config();
    config.retention_interval_secs = 1;
    config
}

#[tokio::test]
async fn sqlite_retention_deletes_only_old_conversations_once() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_retention", retention_config()).await.expect("sqlite");
    retention(&server).await;
}

#[tokio::test]
async fn postgres_retention_deletes_only_old_conversations_once() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_retention", retention_config()).await
    else {
        return;
    };
    retention(&server).await;
}
