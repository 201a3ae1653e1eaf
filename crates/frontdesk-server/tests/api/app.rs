//! The private app API: login sessions, CSRF, tenant scoping, permissions, the inbox, sites and
//! the audit log.

use crate::support::*;
use frontdesk_server::ServerConfig;
use frontdesk_testkit::chat_api::Reply;
use reqwest::Method;
use serde_json::{Value, json};

/// The agents' whole day, on one backend.
async fn app_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let org = server.org.id;
    let conversations = format!("/api/app/orgs/{org}/conversations");

    // A visitor writes in.
    let client = server.chat_client();
    let s = client.start().await;
    assert_eq!(client.say(&s, "My lamp flickers").await.status, 200);

    // The inbox: filters, detail.
    let list = member.get(&format!("{conversations}?status=active&site_id={}", server.site.id)).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert!(ids(&list.body["conversations"]).contains(&s.id), "{:?}", list.body);
    let escalated = member.get(&format!("{conversations}?status=escalated")).await;
    assert!(!ids(&escalated.body["conversations"]).contains(&s.id));
    assert_error(&member.get(&format!("{conversations}?status=open")).await, 422, "invalid_field");
    assert_error(&member.get(&format!("{conversations}?site_id=zzz")).await, 422, "invalid_field");
    let one = format!("{conversations}/{}", s.id);
    let detail = member.get(&one).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(detail.body["conversation"]["id"], s.id.as_str());
    assert_eq!(detail.body["messages"][0]["body"], "My lamp flickers");
    assert_eq!(detail.body["visitor"]["id"], s.visitor_id.as_str());
    assert_eq!(detail.body["rating"], Value::Null);

    // A member replies and works the status.
    let reply = member.post(&format!("{one}/messages"), &json!({"content": "Let me **check**."})).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["message"]["author_kind"], "agent");
    assert_eq!(reply.body["message"]["author_id"], json!(server.member.id));
    assert_eq!(reply.body["message"]["html"], "<p>Let me <strong>check</strong>.</p>");
    assert_eq!(reply.body["conversation"]["status"], "escalated");
    let seen = client.history(&s).await;
    assert_eq!(seen.last().map(|m| m["body"].clone()), Some(json!("Let me **check**.")), "the visitor sees the reply");
    assert_error(&member.post(&format!("{one}/messages"), &json!({"content": "  "})).await, 422, "invalid_field");

    let status = format!("{one}/status");
    let resolved = member.post(&status, &json!({"action": "resolve"})).await;
    assert_eq!((resolved.status, resolved.body["status"].as_str()), (200, Some("resolved")), "{:?}", resolved.body);
    assert_error(&member.post(&status, &json!({"action": "resolve"})).await, 409, "conflict");
    let reopened = owner.post(&status, &json!({"action": "reopen"})).await;
    assert_eq!(reopened.body["status"], "escalated");
    let bad = owner.post(&status, &json!({"action": "archive"})).await;
    assert_error(&bad, 422, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "action");
    let closed = owner.post(&status, &json!({"action": "close"})).await;
    assert_eq!(closed.body["status"], "closed");
    assert_error(
        &owner.post(&format!("{one}/messages"), &json!({"content": "hello?"})).await,
        409,
        "conversation_closed",
    );
    assert_error(&client.say(&s, "hello?").await, 409, "conversation_closed");

    // Tenants: another organization's things are never found, whoever asks and however.
    let other_org = server.other_org.id;
    assert_error(&member.get(&format!("/api/app/orgs/{other_org}/conversations")).await, 404, "not_found");
    assert_error(&outsider.get(&one).await, 404, "not_found");
    assert_error(&outsider.post(&format!("{one}/messages"), &json!({"content": "hi"})).await, 404, "not_found");
    let theirs = server.other_client().start().await;
    let via_own_org = format!("/api/app/orgs/{other_org}/conversations/{}", s.id);
    assert_error(&outsider.get(&via_own_org).await, 404, "not_found");
    assert_eq!(outsider.get(&format!("/api/app/orgs/{other_org}/conversations/{}", theirs.id)).await.status, 200);
    assert_error(&owner.get(&format!("{conversations}/{}", theirs.id)).await, 404, "not_found");
    assert_error(&owner.get(&format!("{conversations}/not-an-id")).await, 404, "not_found");
    assert_error(&owner.get("/api/app/orgs/not-an-id/conversations").await, 404, "not_found");

    // Sites: members read, owners manage; secrets never leave.
    let sites = format!("/api/app/orgs/{org}/sites");
    let listed = member.get(&sites).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["sites"][0]["public_key"], server.site.public_key.as_str());
    assert!(!listed.body.to_string().contains(&server.site.secret), "the site secret is never returned");
    assert!(!listed.body.to_string().contains("sk_"));
    assert_error(&member.post(&sites, &json!({"name": "Blog"})).await, 403, "forbidden");
    let created = owner
        .post(&sites, &json!({"name": "Blog", "allowed_origins": ["https://Blog.Northwind.io/"], "widget": {"title": "Blog help"}}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["allowed_origins"], json!(["https://blog.northwind.io"]));
    assert!(created.body.get("secret").is_none());
    let key = created.body["public_key"].as_str().unwrap_or_default().to_owned();
    let site_path = format!("{sites}/{}", created.body["id"].as_str().unwrap_or_default());
    assert_eq!(member.get(&site_path).await.body["widget"]["title"], "Blog help");
    assert_error(&owner.post(&sites, &json!({"name": "x", "allowed_origins": ["blog"]})).await, 422, "invalid_field");
    assert_error(&owner.post(&sites, &json!({"name": "x", "colour": "red"})).await, 422, "invalid_field");

    // The new site works at once, and an origin change takes effect at once (cache invalidated).
    let blog =
        frontdesk_testkit::chat_api::ChatClient::new(&server.base, &key).with_origin("https://blog.northwind.io");
    assert_eq!(blog.get("/api/chat/config", None).await.body["widget"]["title"], "Blog help");
    let moved =
        frontdesk_testkit::chat_api::ChatClient::new(&server.base, &key).with_origin("https://help.northwind.io");
    assert_error(&moved.get("/api/chat/config", None).await, 403, "origin_not_allowed");
    assert_error(&member.patch(&site_path, &json!({"name": "Nope"})).await, 403, "forbidden");
    let patched =
        owner.patch(&site_path, &json!({"name": "Help", "allowed_origins": ["https://help.northwind.io"]})).await;
    assert_eq!((patched.status, patched.body["name"].as_str()), (200, Some("Help")), "{:?}", patched.body);
    let now_ok = moved.get("/api/chat/config", None).await;
    assert_eq!((now_ok.status, now_ok.body["site_name"].as_str()), (200, Some("Help")));
    assert_error(&blog.get("/api/chat/config", None).await, 403, "origin_not_allowed");
    let bad_patch = owner.patch(&site_path, &json!({"allowed_origins": ["*"]})).await;
    assert_error(&bad_patch, 422, "invalid_field");
    assert_eq!(bad_patch.body["error"]["field"], "allowed_origins");
    assert_error(&outsider.get(&site_path).await, 404, "not_found");
    let other_site_here = format!("{sites}/{}", server.other_site.id);
    assert_error(&owner.get(&other_site_here).await, 404, "not_found");

    // The audit log: owners read it, members may not.
    let audit_path = format!("/api/app/orgs/{org}/audit?limit=200");
    assert_error(&member.get(&audit_path).await, 403, "forbidden");
    let audit = owner.get(&audit_path).await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    let events = audit.body["events"].as_array().cloned().unwrap_or_default();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in [
        "user.login",
        "conversation.reply",
        "conversation.resolve",
        "conversation.reopen",
        "conversation.close",
        "site.create",
        "site.update",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let reply_event = events.iter().find(|e| e["action"] == "conversation.reply").cloned().unwrap_or_default();
    assert_eq!(reply_event["actor_id"], json!(server.member.id));
    assert_eq!(reply_event["target_kind"], "conversation");
    assert_eq!(reply_event["target_id"], s.id.as_str());
    assert_eq!(reply_event["ip"], "127.0.0.1");
    assert!(actions.iter().all(|a| !a.is_empty()));
    // Only this organization's events.
    let outsider_audit = outsider.get(&format!("/api/app/orgs/{other_org}/audit")).await;
    let theirs: Vec<Value> = outsider_audit.body["events"].as_array().cloned().unwrap_or_default();
    assert!(theirs.iter().all(|e| e["org_id"] == json!(other_org)), "{theirs:?}");
    assert!(!theirs.iter().any(|e| e["action"] == "site.create"));
    assert!(theirs.iter().any(|e| e["action"] == "user.login" && e["actor_id"] == json!(server.outsider.id)));

    // Logout ends the session and is audited.
    let out = member.post("/api/app/logout", &json!({})).await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").is_some_and(|c| c.starts_with("fd_session=;") && c.contains("Max-Age=0")));
    assert_error(&member.get("/api/app/me").await, 401, "not_authenticated");
    let after = owner.get(&audit_path).await;
    assert!(after.body["events"].as_array().is_some_and(|e| e.iter().any(|e| e["action"] == "user.logout")));
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().map(|l| l.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[tokio::test]
async fn sqlite_app_api() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_app_api", roomy_config()).await.expect("sqlite");
    app_suite(&server).await;
}

#[tokio::test]
async fn postgres_app_api() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_app_api", roomy_config()).await else {
        return;
    };
    app_suite(&server).await;
}

#[tokio::test]
async fn login_me_and_logout() {
    let server = TestServer::start(Backend::Sqlite, "login", roomy_config()).await.expect("sqlite");
    let agent = AgentClient::new(&server.base);
    assert_error(&agent.get("/api/app/me").await, 401, "not_authenticated");

    let wrong = agent.login(OWNER_EMAIL, "not the password").await;
    assert_error(&wrong, 401, "invalid_credentials");
    let unknown = agent.login("nobody@northwind.test", PASSWORD).await;
    assert_error(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.body["error"]["message"], unknown.body["error"]["message"], "no hint which one was wrong");
    assert!(wrong.header("set-cookie").is_none());

    let ok = agent.login("  OWNER@northwind.test ", PASSWORD).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let cookie = ok.header("set-cookie").unwrap_or_default().to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag on plain http: {cookie}");
    assert_eq!(ok.body["user"]["email"], OWNER_EMAIL);
    assert!(ok.body["user"].get("password_hash").is_none());
    assert_eq!(ok.body["memberships"], json!([{"org_id": server.org.id, "org_name": "Northwind", "role": "owner"}]));

    let me = agent.get("/api/app/me").await;
    assert_eq!((me.status, me.body["user"]["id"].clone()), (200, json!(server.owner.id)));
    // Only the token's hash is stored: the cookie's token is not a key in the database.
    let token = agent.cookie().unwrap_or_default();
    assert!(server.chat.store.get_login_session(&token).await.is_err());
    assert!(server.chat.store.get_login_session(&frontdesk_core::keys::hash_token(&token)).await.is_ok());

    // A forged cookie is nobody.
    let forged = AgentClient::new(&server.base);
    *forged.cookie.lock().expect("lock") = Some("x".repeat(43));
    assert_error(&forged.get("/api/app/me").await, 401, "not_authenticated");

    assert_eq!(agent.post("/api/app/logout", &json!({})).await.status, 204);
    assert_error(&agent.get("/api/app/me").await, 401, "not_authenticated");
    // Logging out again is harmless.
    assert_eq!(agent.post("/api/app/logout", &json!({})).await.status, 204);
}

#[tokio::test]
async fn login_sessions_expire_when_idle() {
    let config = ServerConfig { login_ttl_secs: 3600, ..roomy_config() };
    let server = TestServer::start(Backend::Sqlite, "login_expiry", config).await.expect("sqlite");
    let agent = server.login(MEMBER_EMAIL).await;
    server.clock.advance_seconds(3000);
    assert_eq!(agent.get("/api/app/me").await.status, 200, "used within the hour: extended");
    server.clock.advance_seconds(3000);
    assert_eq!(agent.get("/api/app/me").await.status, 200);
    server.clock.advance_seconds(3601);
    assert_error(&agent.get("/api/app/me").await, 401, "not_authenticated");
}

#[tokio::test]
async fn state_changing_requests_need_our_own_origin() {
    let server = TestServer::start(Backend::Sqlite, "csrf", roomy_config()).await.expect("sqlite");
    let body = Some(serde_json::to_vec(&json!({"email": OWNER_EMAIL, "password": PASSWORD})).unwrap_or_default());
    let login_url = format!("{}/api/app/login", server.base);
    let json_type = ("Content-Type", "application/json");
    assert_error(&raw(Method::POST, &login_url, &[json_type], body.clone()).await, 403, "csrf_rejected");
    let evil = [json_type, ("Origin", "https://evil.example.net")];
    assert_error(&raw(Method::POST, &login_url, &evil, body.clone()).await, 403, "csrf_rejected");
    let other_port = [json_type, ("Origin", "http://127.0.0.1:1")];
    assert_error(&raw(Method::POST, &login_url, &other_port, body.clone()).await, 403, "csrf_rejected");

    // With a valid cookie too: the cookie alone never authorizes a change.
    let agent = server.login(OWNER_EMAIL).await;
    let s = server.chat_client().start().await;
    let reply_url = format!("{}/api/app/orgs/{}/conversations/{}/messages", server.base, server.org.id, s.id);
    let cookie = format!("fd_session={}", agent.cookie().unwrap_or_default());
    let forged = [json_type, ("Cookie", cookie.as_str()), ("Origin", "https://evil.example.net")];
    let reply = Some(b"{\"content\":\"hi\"}".to_vec());
    assert_error(&raw(Method::POST, &reply_url, &forged, reply.clone()).await, 403, "csrf_rejected");
    let no_origin = [json_type, ("Cookie", cookie.as_str())];
    assert_error(&raw(Method::POST, &reply_url, &no_origin, reply.clone()).await, 403, "csrf_rejected");
    let own = [json_type, ("Cookie", cookie.as_str()), ("Origin", server.base.as_str())];
    assert_eq!(raw(Method::POST, &reply_url, &own, reply).await.status, 201);
    // Reads need no Origin.
    let me = raw(Method::GET, &format!("{}/api/app/me", server.base), &[("Cookie", cookie.as_str())], None).await;
    assert_eq!(me.status, 200);
}

#[tokio::test]
async fn with_a_public_url_only_its_origin_passes_and_cookies_are_secure() {
    let config = ServerConfig { public_url: Some("https://desk.example.com/app".to_owned()), ..roomy_config() };
    let server = TestServer::start(Backend::Sqlite, "public_url", config).await.expect("sqlite");
    let mut agent = AgentClient::new(&server.base);
    assert_error(&agent.login(OWNER_EMAIL, PASSWORD).await, 403, "csrf_rejected");
    agent.origin = Some("https://desk.example.com".to_owned());
    let ok = agent.login(OWNER_EMAIL, PASSWORD).await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("set-cookie").is_some_and(|c| c.ends_with("; Secure")), "{:?}", ok.header("set-cookie"));
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_logins_are_limited_per_ip() {
    let mut config = ServerConfig::default();
    config.rate_limits.login_failures_per_account_per_15min = 3;
    config.rate_limits.logins_per_minute_per_ip = 1000;
    let server = TestServer::start(Backend::Sqlite, "lockout", config).await.expect("sqlite");
    let agent = AgentClient::new(&server.base);
    for _ in 0..3 {
        assert_error(&agent.login(MEMBER_EMAIL, "wrong password!").await, 401, "invalid_credentials");
    }
    let locked = agent.login(MEMBER_EMAIL, PASSWORD).await;
    assert_error(&locked, 429, "account_locked");
    assert_eq!(locked.header("retry-after"), Some("300"));
    // Other accounts are not affected; the lock lifts with time.
    assert_eq!(agent.login(OWNER_EMAIL, PASSWORD).await.status, 200);
    server.clock.advance_seconds(300);
    assert_eq!(agent.login(MEMBER_EMAIL, PASSWORD).await.status, 200);
    // Failed logins are audited for the account's organizations.
    let audit = server.login(OWNER_EMAIL).await.get(&format!("/api/app/orgs/{}/audit", server.org.id)).await;
    let failures = audit.body["events"].as_array().map(|e| {
        e.iter().filter(|e| e["action"] == "user.login_failed" && e["actor_id"] == json!(server.member.id)).count()
    });
    assert_eq!(failures, Some(3));

    let mut limited = ServerConfig::default();
    limited.rate_limits.logins_per_minute_per_ip = 2;
    let server = TestServer::start(Backend::Sqlite, "login_ip_limit", limited).await.expect("sqlite");
    let agent = AgentClient::new(&server.base);
    assert_eq!(agent.login(OWNER_EMAIL, PASSWORD).await.status, 200);
    assert_error(&agent.login(OWNER_EMAIL, "wrong password!").await, 401, "invalid_credentials");
    let r: Reply = agent.login(OWNER_EMAIL, PASSWORD).await;
    assert_error(&r, 429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("30"));
}
