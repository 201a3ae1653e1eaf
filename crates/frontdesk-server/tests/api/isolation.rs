//! The isolation matrix: every private endpoint × every kind of caller (owner, admin, member,
//! no session, the owner of another organization). What each may do is read from the permission
//! table itself, so the test and the table cannot drift apart: a role the table allows is never
//! refused (401/403/404), a role it does not is refused with 403 `forbidden`, no session is 401,
//! and another organization's member finds nothing (404) — through our organization's path, and
//! through their own organization's path with our ids.

use crate::support::*;
use frontdesk_core::roles::{Permission, Role};
use reqwest::Method;
use serde_json::{Value, json};

/// Who may call an endpoint: any member of the organization, or roles holding a permission.
#[derive(Clone, Copy)]
enum Needs {
    AnyMember,
    Permission(Permission),
}

impl Needs {
    fn allows(self, role: Role) -> bool {
        match self {
            Needs::AnyMember => true,
            Needs::Permission(p) => role.allows(p),
        }
    }
}

/// One call: method, path under `/api/app/orgs/{org}` (with our ids filled in), body.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn call(method: Method, path: String, body: Option<Value>) -> Call {
    Call { method, path, body }
}

/// Things the calls act on. Destructive calls get a fresh target for every caller.
struct Targets {
    conversation: String,
    visitor: String,
    site: String,
    article: String,
}

async fn fresh_canned(owner: &AgentClient, org: &str, n: &mut u32) -> String {
    *n += 1;
    let r = owner
        .post(
            &format!("/api/app/orgs/{org}/canned-responses"),
            &json!({"shortcut": format!("c{n}"), "title": "T", "body": "B"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_owned()
}

async fn fresh_scenario(owner: &AgentClient, org: &str, site: &str) -> String {
    let r = owner.post(&format!("/api/app/orgs/{org}/sites/{site}/scenarios"), &json!({"name": "Bot"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_owned()
}

/// A visitor with a conversation, to be erased. Started through the chat use case: earlier
/// callers rotate the site's key, so the test's copy of it may no longer open a session.
async fn fresh_visitor(server: &TestServer) -> String {
    let site = server.chat.store.get_site(server.org.id, server.site.id).await.expect("site");
    let start = frontdesk_core::chat::StartSession { visitor_id: None, page_url: None, locale: None, params: None };
    let (_, visitor) = server.chat.start_session(&site, start).await.expect("a session");
    visitor.id.to_string()
}

async fn fresh_webhook(owner: &AgentClient, org: &str) -> String {
    let r = owner
        .post(
            &format!("/api/app/orgs/{org}/webhooks"),
            &json!({"url": "https://hooks.example.com/frontdesk", "event_types": ["message.created"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["endpoint"]["id"].as_str().unwrap_or_default().to_owned()
}

/// A delivery of a fresh endpoint (a test event; the receiver's name does not resolve here, so
/// it stays in the log as a pending or failed delivery).
async fn fresh_delivery(owner: &AgentClient, org: &str, webhook: &str) -> String {
    let r = owner.post(&format!("/api/app/orgs/{org}/webhooks/{webhook}/test"), &json!({})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_owned()
}

async fn fresh_invite(owner: &AgentClient, org: &str, n: &mut u32) -> String {
    *n += 1;
    let r =
        owner.post(&format!("/api/app/orgs/{org}/invites"), &json!({"email": format!("inv{n}@northwind.test")})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["invite"]["id"].as_str().unwrap_or_default().to_owned()
}

async fn fresh_member(server: &TestServer, n: &mut u32) -> String {
    *n += 1;
    let user = frontdesk_server::admin::create_user(
        &server.chat,
        &format!("m{n}@northwind.test"),
        "Temp",
        PASSWORD,
        Some((server.org.id, Role::Member)),
    )
    .await
    .expect("member");
    user.id.to_string()
}

/// Every private endpoint under an organization, for one caller.
async fn calls(server: &TestServer, owner: &AgentClient, t: &Targets, n: &mut u32) -> Vec<(Needs, Call)> {
    use Needs::{AnyMember, Permission as P};
    use Permission::*;
    let org = server.org.id.to_string();
    let (c, s, a) = (&t.conversation, &t.site, &t.article);
    let canned = fresh_canned(owner, &org, n).await;
    let canned_to_delete = fresh_canned(owner, &org, n).await;
    let invite = fresh_invite(owner, &org, n).await;
    let member_to_change = fresh_member(server, n).await;
    let member_to_remove = fresh_member(server, n).await;
    let draft = json!({"widget": {"title": "Draft"}});
    let scenario = fresh_scenario(owner, &org, s).await;
    let scenario_to_delete = fresh_scenario(owner, &org, s).await;
    let webhook = fresh_webhook(owner, &org).await;
    let webhook_to_delete = fresh_webhook(owner, &org).await;
    let delivery = fresh_delivery(owner, &org, &webhook).await;
    let visitor_to_erase = fresh_visitor(server).await;
    let flow =
        json!({"schema": 1, "start": "hi", "nodes": [{"id": "hi", "type": "message", "text": "Hi"}], "edges": []});
    vec![
        (AnyMember, call(Method::GET, String::new(), None)),
        (P(ReadConversations), call(Method::GET, "/conversations?q=lamp&assignee=me".into(), None)),
        (P(ReadConversations), call(Method::GET, "/conversations/summary".into(), None)),
        (P(ReadConversations), call(Method::GET, format!("/conversations/{c}"), None)),
        (P(ReadConversations), call(Method::GET, format!("/conversations/{c}/visitor"), None)),
        (P(ReadConversations), call(Method::POST, format!("/conversations/{c}/read"), Some(json!({"seq": 1})))),
        (
            P(HandleConversations),
            call(Method::POST, format!("/conversations/{c}/messages"), Some(json!({"content": "hi"}))),
        ),
        (
            P(HandleConversations),
            call(Method::POST, format!("/conversations/{c}/notes"), Some(json!({"content": "note"}))),
        ),
        (
            P(HandleConversations),
            call(Method::POST, format!("/conversations/{c}/assign"), Some(json!({"assignee_id": null}))),
        ),
        (
            P(HandleConversations),
            call(Method::POST, format!("/conversations/{c}/status"), Some(json!({"action": "escalate"}))),
        ),
        (AnyMember, call(Method::GET, "/canned-responses".into(), None)),
        (
            P(ManageKnowledge),
            call(
                Method::POST,
                "/canned-responses".into(),
                Some(json!({"shortcut": format!("new{n}"), "title": "t", "body": "b"})),
            ),
        ),
        (
            P(ManageKnowledge),
            call(
                Method::PUT,
                format!("/canned-responses/{canned}"),
                Some(json!({"shortcut": format!("c{n}x"), "title": "t", "body": "b"})),
            ),
        ),
        (P(ManageKnowledge), call(Method::DELETE, format!("/canned-responses/{canned_to_delete}"), None)),
        (AnyMember, call(Method::GET, "/members".into(), None)),
        (P(ManageTeam), call(Method::PATCH, format!("/members/{member_to_change}"), Some(json!({"role": "member"})))),
        (P(ManageTeam), call(Method::DELETE, format!("/members/{member_to_remove}"), None)),
        (P(ManageTeam), call(Method::POST, "/invites".into(), Some(json!({"email": format!("x{n}@northwind.test")})))),
        (P(ManageTeam), call(Method::DELETE, format!("/invites/{invite}"), None)),
        (
            AnyMember,
            call(
                Method::PUT,
                "/notifications".into(),
                Some(json!({"email_escalations": true, "email_mentions": true})),
            ),
        ),
        (AnyMember, call(Method::GET, "/sites".into(), None)),
        (P(ManageSites), call(Method::POST, "/sites".into(), Some(json!({"name": "New", "allowed_origins": []})))),
        (AnyMember, call(Method::GET, format!("/sites/{s}"), None)),
        (P(ManageSites), call(Method::PATCH, format!("/sites/{s}"), Some(draft))),
        (P(ManageSites), call(Method::POST, format!("/sites/{s}/widget/publish"), Some(json!({})))),
        (P(ManageSites), call(Method::POST, format!("/sites/{s}/widget/discard"), Some(json!({})))),
        (AnyMember, call(Method::GET, format!("/sites/{s}/embed"), None)),
        (P(ManageSites), call(Method::POST, format!("/sites/{s}/keys/rotate"), Some(json!({})))),
        (P(ManageSites), call(Method::GET, format!("/sites/{s}/secret"), None)),
        (P(ManageSites), call(Method::POST, format!("/sites/{s}/secret/rotate"), Some(json!({})))),
        (P(ReadConversations), call(Method::GET, format!("/sites/{s}/search?q=lamp"), None)),
        (P(ReadConversations), call(Method::GET, "/articles".into(), None)),
        (
            P(ManageKnowledge),
            call(Method::POST, "/articles".into(), Some(json!({"site_id": s, "title": "New", "body": "Body"}))),
        ),
        (P(ReadConversations), call(Method::GET, format!("/articles/{a}"), None)),
        (P(ManageKnowledge), call(Method::PATCH, format!("/articles/{a}"), Some(json!({"title": "Renamed"})))),
        (P(ManageKnowledge), call(Method::POST, format!("/articles/{a}/publish"), Some(json!({})))),
        (P(ManageKnowledge), call(Method::POST, format!("/articles/{a}/unpublish"), Some(json!({})))),
        (P(ManageSites), call(Method::GET, "/analytics".into(), None)),
        (P(ManageSites), call(Method::GET, "/insights".into(), None)),
        (P(ManageKnowledge), call(Method::GET, "/unanswered".into(), None)),
        (P(ReadAuditLog), call(Method::GET, "/audit?action=site.".into(), None)),
        (P(ReadAuditLog), call(Method::GET, "/audit/verify".into(), None)),
        (P(ManagePrivacy), call(Method::GET, format!("/privacy/export?visitor_id={}", t.visitor), None)),
        (P(ManagePrivacy), call(Method::GET, "/privacy/export?email=nobody%40northwind.test".into(), None)),
        (P(ManagePrivacy), call(Method::POST, "/privacy/erase".into(), Some(json!({"visitor_id": visitor_to_erase})))),
        (P(ManageBots), call(Method::GET, format!("/sites/{s}/scenarios"), None)),
        (P(ManageBots), call(Method::POST, format!("/sites/{s}/scenarios"), Some(json!({"name": "New bot"})))),
        (P(ManageBots), call(Method::GET, format!("/scenarios/{scenario}"), None)),
        (P(ManageBots), call(Method::PUT, format!("/scenarios/{scenario}"), Some(json!({"document": flow.clone()})))),
        (P(ManageBots), call(Method::POST, format!("/scenarios/{scenario}/validate"), Some(json!({"document": flow})))),
        (P(ManageBots), call(Method::POST, format!("/scenarios/{scenario}/publish"), Some(json!({})))),
        (P(ManageBots), call(Method::POST, format!("/scenarios/{scenario}/start"), Some(json!({"start": false})))),
        (
            P(ManageBots),
            call(Method::POST, format!("/scenarios/{scenario}/simulate"), Some(json!({"event": {"type": "start"}}))),
        ),
        (P(ManageBots), call(Method::DELETE, format!("/scenarios/{scenario_to_delete}"), None)),
        (P(ManageWebhooks), call(Method::GET, "/webhooks".into(), None)),
        (
            P(ManageWebhooks),
            call(
                Method::POST,
                "/webhooks".into(),
                Some(json!({"url": "https://hooks.example.com/new", "event_types": ["rating.created"]})),
            ),
        ),
        (P(ManageWebhooks), call(Method::PATCH, format!("/webhooks/{webhook}"), Some(json!({"description": "CRM"})))),
        (P(ManageWebhooks), call(Method::GET, format!("/webhooks/{webhook}/secret"), None)),
        (P(ManageWebhooks), call(Method::POST, format!("/webhooks/{webhook}/secret/rotate"), Some(json!({})))),
        (P(ManageWebhooks), call(Method::POST, format!("/webhooks/{webhook}/test"), Some(json!({})))),
        (P(ManageWebhooks), call(Method::GET, format!("/webhook-deliveries?endpoint_id={webhook}"), None)),
        (P(ManageWebhooks), call(Method::POST, format!("/webhook-deliveries/{delivery}/redeliver"), Some(json!({})))),
        (P(ManageWebhooks), call(Method::DELETE, format!("/webhooks/{webhook_to_delete}"), None)),
    ]
}

/// Whether the path names one of our things (so another organization's path with it must be 404).
fn names_an_id(path: &str) -> bool {
    path.split(['/', '?']).any(|segment| uuid::Uuid::parse_str(segment).is_ok())
}

async fn isolation_matrix(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let admin_user = frontdesk_server::admin::create_user(
        &server.chat,
        "admin@northwind.test",
        "Ada Admin",
        PASSWORD,
        Some((server.org.id, Role::Admin)),
    )
    .await
    .expect("admin");
    assert_eq!(admin_user.email, "admin@northwind.test");
    let admin = server.login("admin@northwind.test").await;
    let member = server.login(MEMBER_EMAIL).await;
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let anonymous = AgentClient::new(&server.base);

    let visitor = server.chat_client();
    let session = visitor.start().await;
    assert_eq!(visitor.say(&session, "My lamp flickers").await.status, 200);
    let article = owner
        .post(
            &format!("/api/app/orgs/{}/articles", server.org.id),
            &json!({"site_id": server.site.id, "title": "Lamps", "body": "All about lamps."}),
        )
        .await;
    assert_eq!(article.status, 201, "{:?}", article.body);
    let targets = Targets {
        conversation: session.id.clone(),
        visitor: session.visitor_id.clone(),
        site: server.site.id.to_string(),
        article: article.body["id"].as_str().unwrap_or_default().to_owned(),
    };

    let ours = format!("/api/app/orgs/{}", server.org.id);
    let theirs = format!("/api/app/orgs/{}", server.other_org.id);
    let mut n = 0;
    let mut checked = 0;
    let callers: [(&str, &AgentClient, Option<Role>); 5] = [
        ("owner", &owner, Some(Role::Owner)),
        ("admin", &admin, Some(Role::Admin)),
        ("member", &member, Some(Role::Member)),
        ("no session", &anonymous, None),
        ("another organization's owner", &outsider, None),
    ];
    for (who, client, role) in callers {
        for (needs, c) in calls(server, &owner, &targets, &mut n).await {
            let r = client.send(c.method.clone(), &format!("{ours}{}", c.path), c.body.as_ref()).await;
            let what = format!("{who}: {} {}{} → {} {}", c.method, ours, c.path, r.status, r.body);
            match (who, role) {
                (_, Some(role)) if needs.allows(role) => {
                    assert!(!matches!(r.status, 401 | 403 | 404), "allowed by the table: {what}");
                }
                (_, Some(_)) => assert_eq!((r.status, r.code()), (403, "forbidden"), "refused by the table: {what}"),
                ("no session", None) => {
                    assert_eq!((r.status, r.code()), (401, "not_authenticated"), "{what}");
                }
                _ => {
                    assert_eq!((r.status, r.code()), (404, "not_found"), "{what}");
                    if names_an_id(&c.path) {
                        let via_own =
                            client.send(c.method.clone(), &format!("{theirs}{}", c.path), c.body.as_ref()).await;
                        assert_eq!(
                            (via_own.status, via_own.code()),
                            (404, "not_found"),
                            "our ids through their own organization: {} {theirs}{} → {}",
                            c.method,
                            c.path,
                            via_own.body
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 40, "the matrix covers every endpoint for every caller ({checked})");
}

/// Seats are not what this test is about: every caller gets fresh invitations and members.
fn unlimited() -> frontdesk_server::ServerConfig {
    let mut config = roomy_config();
    config.billing = frontdesk_server::config::Billing::Off;
    config
}

#[tokio::test]
async fn sqlite_isolation_matrix() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_isolation", unlimited()).await.expect("sqlite");
    isolation_matrix(&server).await;
}

#[tokio::test]
async fn postgres_isolation_matrix() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_isolation", unlimited()).await else {
        return;
    };
    isolation_matrix(&server).await;
}

/// Strings that break SQL built by concatenation, LIKE patterns, FTS syntax or tsquery syntax.
const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE messages; --",
    "\" OR 1=1 --",
    "%",
    "_",
    "\\",
    "*",
    "NEAR(a b)",
    "a:* & !b | (c <-> d)",
    "1) UNION SELECT password_hash FROM users --",
    "\0",
];

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every filter and search parameter of the private API takes hostile text: the answer is a
/// result (usually empty) or 422, never a server error, and nothing is lost afterwards.
async fn injection_through_every_filter(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let visitor = server.chat_client();
    let session = visitor.start().await;
    assert_eq!(visitor.say(&session, "Where is my parcel?").await.status, 200);
    let org = format!("/api/app/orgs/{}", server.org.id);
    let site = server.site.id;
    let params = [
        "/conversations?q=",
        "/conversations?status=",
        "/conversations?site_id=",
        "/conversations?assignee=",
        "/conversations?sort=",
        "/articles?q=",
        "/articles?site_id=",
        "/audit?action=",
        "/audit?actor_id=",
        "/audit?from=",
        "/analytics?from=",
        "/analytics?site_id=",
        "/insights?to=",
        "/unanswered?site_id=",
    ];
    let search = format!("/sites/{site}/search?q=");
    for hostile in INJECTIONS {
        for p in params.iter().copied().chain([search.as_str()]) {
            let r = owner.get(&format!("{org}{p}{}", encode(hostile))).await;
            assert!(matches!(r.status, 200 | 422), "{p}{hostile:?} → {} {}", r.status, r.body);
            if r.status == 200 {
                let text = r.body.to_string();
                assert!(!text.contains("$argon2"), "no password hash ever leaks: {p}{hostile:?}");
            }
        }
    }
    // NUL cannot be stored by PostgreSQL: refused in bodies too, before any write.
    let nul_message = visitor.say(&session, "before\u{0}after").await;
    assert_eq!((nul_message.status, nul_message.code()), (422, "invalid_field"), "{:?}", nul_message.body);
    let note = owner.post(&format!("{org}/conversations/{}/notes", session.id), &json!({"content": "a\u{0}b"})).await;
    assert_eq!((note.status, note.code()), (422, "invalid_field"), "{:?}", note.body);
    // Everything is still there.
    let list = owner.get(&format!("{org}/conversations?q=parcel")).await;
    assert!(
        list.body["conversations"].as_array().is_some_and(|c| c.iter().any(|c| c["id"] == session.id.as_str())),
        "{:?}",
        list.body
    );
    assert_eq!(visitor.history(&session).await.first().map(|m| m["body"].clone()), Some(json!("Where is my parcel?")));
    assert_eq!(owner.get("/api/app/me").await.status, 200);
}

#[tokio::test]
async fn sqlite_injection_through_every_filter() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_injection", roomy_config()).await.expect("sqlite");
    injection_through_every_filter(&server).await;
}

#[tokio::test]
async fn postgres_injection_through_every_filter() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_injection", roomy_config()).await else {
        return;
    };
    injection_through_every_filter(&server).await;
}
