//! The public chat API: the scripted stories shared with the binary's tests, plus what only an
//! in-process server with a controllable clock can check.

use crate::support::*;
use frontdesk_core::model::AuthorKind;
use frontdesk_server::ServerConfig;
use frontdesk_testkit::chat_api::{self, Session};
use reqwest::Method;
use serde_json::json;

/// Everything the widget does, on one backend.
async fn public_suite(server: &TestServer) {
    let client = server.chat_client();
    let ended = chat_api::session_lifecycle(&client).await;
    let view = client.get(&format!("/api/chat/session/{}", ended.id), Some(&ended.token)).await;
    assert_eq!(view.body["status"], "closed");
    let again = client.post(&format!("/api/chat/session/{}/end", ended.id), Some(&ended.token), &json!({})).await;
    assert_eq!((again.status, again.body["status"].as_str()), (200, Some("closed")), "ending twice is fine");

    chat_api::message_rate_limit(&client).await;
    chat_api::access_rules(&client, &server.other_client()).await;
    reactions(server).await;
    returning_visitor(server).await;
    visitor_sessions(server).await;
    visitor_events(server).await;
}

/// Page views and conversions are stored for the session's visitor; bad fields are 422s.
async fn visitor_events(server: &TestServer) {
    let client = server.chat_client();
    let s = client.start().await;
    let post = |body: serde_json::Value| {
        let client = &client;
        let token = s.token.clone();
        async move { client.post("/api/chat/events", Some(&token), &body).await }
    };
    let view = post(json!({"session_id": s.id, "kind": "page_view", "url": "https://shop.example.com/lamps",
        "title": "Lamps", "referrer": "https://search.example.org/?q=lamps"}))
    .await;
    assert_eq!((view.status, view.body.clone()), (202, json!({})), "{:?}", view.body);
    server.clock.advance_millis(1_000);
    let conversion =
        post(json!({"session_id": s.id, "kind": "conversion", "name": "signup", "props": {"plan": "pro", "seats": 3}}))
            .await;
    assert_eq!(conversion.status, 202, "{:?}", conversion.body);

    let site = server.site.id;
    let visitor: frontdesk_core::VisitorId = s.visitor_id.parse().expect("visitor id");
    let stored = server.chat.store.list_visitor_events(site, visitor, 10).await.expect("visitor events");
    let kinds: Vec<&str> = stored.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["conversion", "page_view"], "newest first");
    assert_eq!(stored[0].name.as_deref(), Some("signup"));
    assert_eq!(stored[0].props, json!({"plan": "pro", "seats": 3}));
    assert_eq!(stored[1].title.as_deref(), Some("Lamps"));
    assert_eq!(stored[1].conversation_id.map(|c| c.to_string()), Some(s.id.clone()));
    let elsewhere = server.chat.store.list_visitor_events(server.other_site.id, visitor, 10).await.expect("other site");
    assert!(elsewhere.is_empty());

    let long = "x".repeat(301);
    let cases = [
        (json!({"session_id": s.id, "kind": "page_view", "url": "javascript:alert(1)"}), "url"),
        (
            json!({"session_id": s.id, "kind": "page_view", "url": format!("https://a.example/{}", "x".repeat(2048))}),
            "url",
        ),
        (json!({"session_id": s.id, "kind": "page_view", "title": long}), "title"),
        (json!({"session_id": s.id, "kind": "conversion", "name": "n".repeat(101)}), "name"),
        (json!({"session_id": s.id, "kind": "conversion"}), "name"),
        (json!({"session_id": s.id, "kind": "page_view", "props": [1]}), "props"),
        (json!({"session_id": s.id, "kind": "page_view", "props": {"a": {"b": 1}}}), "props"),
        (json!({"session_id": s.id, "kind": "page_view", "props": {"a": "y".repeat(2100)}}), "props"),
        (json!({"session_id": s.id, "kind": "click"}), "kind"),
    ];
    for (body, field) in cases {
        let r = post(body).await;
        assert_error(&r, 422, "invalid_field");
        assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
    }
    assert_eq!(server.chat.store.list_visitor_events(site, visitor, 10).await.map(|e| e.len()).ok(), Some(2));

    let body = json!({"session_id": s.id, "kind": "page_view"});
    assert_error(&client.post("/api/chat/events", None, &body).await, 401, "invalid_token");
    let theirs = server.other_client().start().await;
    let foreign = json!({"session_id": theirs.id, "kind": "page_view"});
    assert_error(&client.post("/api/chat/events", Some(&theirs.token), &foreign).await, 404, "not_found");
}

/// The history view's listing: this visitor's sessions on this site only, newest first, each
/// with its last message.
async fn visitor_sessions(server: &TestServer) {
    let client = server.chat_client();
    let first = client.start().await;
    let said = client.say(&first, "Where is my parcel?").await;
    assert_eq!(said.status, 200, "{:?}", said.body);
    let r = client.post("/api/chat/session", None, &json!({"visitor_id": first.visitor_id})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (second_id, second_token) =
        (r.body["session_id"].as_str().unwrap_or("").to_owned(), r.body["session_token"].as_str().unwrap_or(""));
    // Another visitor on the same site, and a session on another site.
    let stranger = client.start().await;
    let elsewhere = server.other_client().start().await;

    let list = client.get("/api/chat/visitor/sessions", Some(second_token)).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let sessions = list.body["sessions"].as_array().cloned().unwrap_or_default();
    let mut ids: Vec<&str> = sessions.iter().filter_map(|s| s["session_id"].as_str()).collect();
    // Newest first by last update; the test clock may give both the same time, so compare sets.
    let times: Vec<&str> = sessions.iter().filter_map(|s| s["updated_at"].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    ids.sort_unstable();
    let mut expected = [second_id.as_str(), first.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "this visitor's sessions only");
    let by_id = |id: &str| sessions.iter().find(|s| s["session_id"] == id).cloned().unwrap_or_default();
    let (fresh, older) = (by_id(&second_id), by_id(&first.id));
    assert_eq!((&fresh["last_message"], &fresh["status"]), (&json!(null), &json!("active")));
    let last = &older["last_message"];
    let history = client.history(&first).await;
    let newest = history.last().cloned().unwrap_or_default();
    assert_eq!(
        (&last["author_kind"], &last["body"], &last["created_at"]),
        (&newest["author_kind"], &newest["body"], &newest["created_at"])
    );
    assert!(sessions.iter().all(|s| s.get("session_token").is_none()), "no tokens handed out");
    assert!(!ids.contains(&stranger.id.as_str()));

    let none = client.get("/api/chat/visitor/sessions", None).await;
    assert_error(&none, 401, "invalid_token");
    let other_site = client.get("/api/chat/visitor/sessions", Some(&elsewhere.token)).await;
    assert_error(&other_site, 404, "not_found");
}

/// Reactions go on assistant and bot messages only, and can be cleared.
async fn reactions(server: &TestServer) {
    let client = server.chat_client();
    let s = client.start().await;
    let visitor = client.say(&s, "Do you ship to Belgium?").await;
    let id = s.id.parse().expect("session id");
    let (answer, _) = server
        .chat
        .automated_message(server.org.id, id, AuthorKind::Assistant, "Yes, in 3 days.".to_owned(), vec![], vec![])
        .await
        .expect("assistant message");

    let path = format!("/api/chat/message/{}/react", answer.id);
    let up = client.post(&path, Some(&s.token), &json!({"session_id": s.id, "reaction": "up"})).await;
    assert_eq!((up.status, up.body["reaction"].as_str()), (200, Some("up")), "{:?}", up.body);
    assert_eq!(up.body["author_kind"], "assistant");
    let cleared = client.post(&path, Some(&s.token), &json!({"session_id": s.id, "reaction": null})).await;
    assert_eq!((cleared.status, cleared.body["reaction"].clone()), (200, json!(null)));
    let bad = client.post(&path, Some(&s.token), &json!({"session_id": s.id, "reaction": "sideways"})).await;
    assert_error(&bad, 422, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "reaction");

    let on_visitor = format!("/api/chat/message/{}/react", visitor.body["message"]["id"].as_str().unwrap_or(""));
    let r = client.post(&on_visitor, Some(&s.token), &json!({"session_id": s.id, "reaction": "down"})).await;
    assert_error(&r, 422, "invalid_field");

    // The visitor's message, the assistant's own reply to it (the help center is empty: a decline),
    // and the message written through the use case.
    let history = client.history(&s).await;
    let kinds: Vec<&str> = history.iter().filter_map(|m| m["author_kind"].as_str()).collect();
    assert_eq!(kinds, ["visitor", "assistant", "assistant"]);
    assert_eq!(history[1]["id"], visitor.body["reply"]["id"]);
    let after = client.get(&format!("/api/chat/history/{}?after_seq=2", s.id), Some(&s.token)).await;
    assert_eq!(after.body["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(after.body["messages"][0]["id"], json!(answer.id));
    let none = client.get(&format!("/api/chat/history/{}?after_seq=3", s.id), Some(&s.token)).await;
    assert_eq!(none.body["messages"], json!([]));
    let bad_seq = client.get(&format!("/api/chat/history/{}?after_seq=abc", s.id), Some(&s.token)).await;
    assert_error(&bad_seq, 422, "invalid_field");
}

/// A visitor id from an earlier session on this site is reused; another site's is not.
async fn returning_visitor(server: &TestServer) {
    let client = server.chat_client();
    let first = client.start().await;
    let again = client.post("/api/chat/session", None, &json!({"visitor_id": first.visitor_id})).await;
    assert_eq!((again.status, again.body["visitor_id"].as_str()), (201, Some(first.visitor_id.as_str())));
    assert_ne!(again.body["session_id"].as_str(), Some(first.id.as_str()));
    let elsewhere =
        server.other_client().post("/api/chat/session", None, &json!({"visitor_id": first.visitor_id})).await;
    assert_eq!(elsewhere.status, 201);
    assert_ne!(elsewhere.body["visitor_id"].as_str(), Some(first.visitor_id.as_str()));
    let bad = client.post("/api/chat/session", None, &json!({"visitor_id": "nope", "locale": "en"})).await;
    assert_error(&bad, 422, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "visitor_id");
    let empty = crate::support::raw(
        Method::POST,
        &format!("{}/api/chat/session", server.base),
        &[("X-API-Key", &server.site.public_key)],
        None,
    )
    .await;
    assert_eq!(empty.status, 201, "a session needs no body: {:?}", empty.body);
}

#[tokio::test]
async fn sqlite_public_api() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_public_api", roomy_config()).await.expect("sqlite");
    public_suite(&server).await;
}

#[tokio::test]
async fn postgres_public_api() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_public_api", roomy_config()).await else {
        return;
    };
    public_suite(&server).await;
}

#[tokio::test]
async fn session_tokens_expire_after_inactivity_and_slide_with_use() {
    let config = ServerConfig { session_ttl_secs: 3600, ..roomy_config() };
    let server = TestServer::start(Backend::Sqlite, "token_expiry", config).await.expect("sqlite");
    let client = server.chat_client();
    let created = client.post("/api/chat/session", None, &json!({})).await;
    assert_eq!(created.body["expires_at"], "2025-11-21T05:40:00Z", "{:?}", created.body);
    let s = Session {
        id: created.body["session_id"].as_str().unwrap_or_default().to_owned(),
        token: created.body["session_token"].as_str().unwrap_or_default().to_owned(),
        visitor_id: String::new(),
    };
    let path = format!("/api/chat/session/{}", s.id);

    // Used 50 minutes in: the window moves to 50 + 60 minutes.
    server.clock.advance_seconds(50 * 60);
    let r = client.get(&path, Some(&s.token)).await;
    assert_eq!((r.status, r.body["expires_at"].as_str()), (200, Some("2025-11-21T06:30:00Z")), "{:?}", r.body);
    // 59 minutes after that use, still alive; then 61 idle minutes end it.
    server.clock.advance_seconds(59 * 60);
    assert_eq!(client.get(&path, Some(&s.token)).await.status, 200);
    server.clock.advance_seconds(61 * 60);
    let expired = client.get(&path, Some(&s.token)).await;
    assert_error(&expired, 401, "token_expired");
    assert_error(&client.say(&s, "still there?").await, 401, "token_expired");
}

#[tokio::test]
async fn tokens_are_checked_in_order_and_bound_to_their_session() {
    let server = TestServer::start(Backend::Sqlite, "token_rules", roomy_config()).await.expect("sqlite");
    let client = server.chat_client();
    let mine = client.start().await;
    let other = client.start().await;
    let path = format!("/api/chat/session/{}", mine.id);

    assert_error(&client.get(&path, None).await, 401, "invalid_token");
    assert_error(&client.get(&path, Some("v1.AAAA.BBBB")).await, 401, "invalid_token");
    assert_error(&client.get(&path, Some(&other.token)).await, 401, "invalid_token");
    // A token with a forged payload but a genuine signature from elsewhere.
    let (_, sig) = other.token.rsplit_once('.').unwrap_or_default();
    let (payload, _) = mine.token.rsplit_once('.').unwrap_or_default();
    assert_error(&client.get(&path, Some(&format!("{payload}.{sig}"))).await, 401, "invalid_token");
    // The key is checked before the token, the origin before the token too.
    assert_error(&client.clone().with_key("").get(&path, Some(&mine.token)).await, 401, "missing_api_key");
    assert_error(&client.clone().with_key("sk_nothere").get(&path, Some(&mine.token)).await, 401, "invalid_api_key");
    let evil = client.clone().with_origin("https://evil.example.net");
    assert_error(&evil.get(&path, Some("garbage")).await, 403, "origin_not_allowed");
    // Malformed and unknown session ids are simply not found.
    assert_error(&client.get("/api/chat/session/not-a-uuid", Some(&mine.token)).await, 404, "not_found");
    let unknown = format!("/api/chat/session/{}", uuid::Uuid::now_v7());
    assert_error(&client.get(&unknown, Some(&mine.token)).await, 404, "not_found");
    // The other site's session through this site's key, with this site's token: not found.
    let theirs = server.other_client().start().await;
    assert_error(&client.get(&format!("/api/chat/session/{}", theirs.id), Some(&mine.token)).await, 404, "not_found");
    // ...and this site's session through the other site's key, with its own token: not found either.
    assert_error(&server.other_client().get(&path, Some(&mine.token)).await, 404, "not_found");
    assert_eq!(client.get(&path, Some(&mine.token)).await.status, 200);
}

#[tokio::test]
async fn events_are_limited_per_session_apart_from_messages() {
    let mut config = roomy_config();
    config.rate_limits.events_per_minute_per_session = 2;
    let server = TestServer::start(Backend::Sqlite, "events_limit", config).await.expect("sqlite");
    let client = server.chat_client();
    let s = client.start().await;
    let body = json!({"session_id": s.id, "kind": "page_view", "url": "https://shop.example.com/"});
    for _ in 0..2 {
        assert_eq!(client.post("/api/chat/events", Some(&s.token), &body).await.status, 202);
    }
    let limited = client.post("/api/chat/events", Some(&s.token), &body).await;
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(client.say(&s, "Still here").await.status, 200, "messages have their own allowance");
}

#[tokio::test]
async fn message_limit_recovers_after_retry_after() {
    let server = TestServer::start(Backend::Sqlite, "message_limit", roomy_config()).await.expect("sqlite");
    let client = server.chat_client();
    let s = client.start().await;
    for i in 0..20 {
        assert_eq!(client.say(&s, &format!("m{i}")).await.status, 200);
    }
    let refused = client.say(&s, "m20").await;
    assert_error(&refused, 429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("3"));
    // Another session is not affected.
    let t = client.start().await;
    assert_eq!(client.say(&t, "hello").await.status, 200);
    server.clock.advance_seconds(3);
    assert_eq!(client.say(&s, "m20 again").await.status, 200);
    assert_error(&client.say(&s, "m21").await, 429, "rate_limited");
}

#[tokio::test]
async fn session_creation_is_limited_per_client_ip() {
    let mut config = ServerConfig::default();
    config.rate_limits.sessions_per_minute_per_ip = 3;
    let server = TestServer::start(Backend::Sqlite, "session_limit", config).await.expect("sqlite");
    let client = server.chat_client();
    for _ in 0..3 {
        client.start().await;
    }
    let r = client.post("/api/chat/session", None, &json!({})).await;
    assert_error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    // X-Forwarded-For is not trusted by default: a forged one does not get around the limit.
    let forged = raw(
        Method::POST,
        &format!("{}/api/chat/session", server.base),
        &[("X-API-Key", &server.site.public_key), ("X-Forwarded-For", "203.0.113.7")],
        None,
    )
    .await;
    assert_error(&forged, 429, "rate_limited");
    server.clock.advance_seconds(60);
    client.start().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let mut config = ServerConfig { trust_forwarded_for: true, ..ServerConfig::default() };
    config.rate_limits.sessions_per_minute_per_ip = 1;
    let server = TestServer::start(Backend::Sqlite, "forwarded_for", config).await.expect("sqlite");
    let url = format!("{}/api/chat/session", server.base);
    let key = server.site.public_key.clone();
    let from = |ip: &'static str| {
        let (url, key) = (url.clone(), key.clone());
        async move { raw(Method::POST, &url, &[("X-API-Key", &key), ("X-Forwarded-For", ip)], None).await }
    };
    assert_eq!(from("203.0.113.7, 10.0.0.1").await.status, 201);
    assert_error(&from("203.0.113.7").await, 429, "rate_limited");
    assert_eq!(from("203.0.113.8").await.status, 201);
}

#[tokio::test]
async fn cors_echoes_allowed_origins_and_answers_preflights() {
    let server = TestServer::start(Backend::Sqlite, "cors", roomy_config()).await.expect("sqlite");
    let browser = server.browser();
    let config = browser.get("/api/chat/config", None).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(config.header("vary"), Some("Origin"));
    assert_eq!(config.header("access-control-expose-headers"), Some("Retry-After"));
    assert_eq!(config.body["site_name"], "Northwind shop");

    // Subdomain patterns work; errors to an allowed origin are readable too.
    let sub = server.chat_client().with_origin("https://blog.northwind.test");
    let s = sub.start().await;
    assert_eq!(sub.get(&format!("/api/chat/session/{}", s.id), Some(&s.token)).await.status, 200);
    let unauthorized = sub.get(&format!("/api/chat/session/{}", s.id), None).await;
    assert_error(&unauthorized, 401, "invalid_token");
    assert_eq!(unauthorized.header("access-control-allow-origin"), Some("https://blog.northwind.test"));

    // An origin allowed for another site only is refused here, without CORS headers.
    let cross = server.chat_client().with_origin(OTHER_SHOP);
    let r = cross.get("/api/chat/config", None).await;
    assert_error(&r, 403, "origin_not_allowed");
    assert!(r.header("access-control-allow-origin").is_none());
    // Without an Origin (a server), the key alone is enough.
    assert_eq!(server.chat_client().get("/api/chat/config", None).await.status, 200);
    // Never a wildcard.
    assert!(server.chat_client().get("/api/chat/health", None).await.header("access-control-allow-origin").is_none());

    let preflight = |origin: &'static str, path: &'static str| {
        let base = server.base.clone();
        async move {
            raw(
                Method::OPTIONS,
                &format!("{base}{path}"),
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "x-api-key, content-type"),
                ],
                None,
            )
            .await
        }
    };
    let ok = preflight(SHOP, "/api/chat/message").await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET, POST, OPTIONS"));
    assert_eq!(ok.header("access-control-allow-headers"), Some("X-API-Key, Authorization, Content-Type"));
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert_eq!(ok.header("vary"), Some("Origin"));
    assert_eq!(preflight(OTHER_SHOP, "/api/chat/session").await.status, 204, "allowed by some site");
    let refused = preflight("https://evil.example.net", "/api/chat/message").await;
    assert_error(&refused, 403, "origin_not_allowed");
    assert!(refused.header("access-control-allow-origin").is_none());
    assert!(refused.header("access-control-allow-methods").is_none());
}

#[tokio::test]
async fn every_error_is_json_with_a_stable_code() {
    let config = ServerConfig { max_body_bytes: 1024, ..roomy_config() };
    let server = TestServer::start(Backend::Sqlite, "errors", config).await.expect("sqlite");
    let client = server.chat_client();
    let s = client.start().await;
    let url = format!("{}/api/chat/message", server.base);
    let auth = format!("Bearer {}", s.token);
    let key = server.site.public_key.clone();
    let headers = [("X-API-Key", key.as_str()), ("Authorization", auth.as_str()), ("Content-Type", "application/json")];

    let big = serde_json::to_vec(&json!({"session_id": s.id, "content": "x".repeat(2000)})).unwrap_or_default();
    assert_error(&raw(Method::POST, &url, &headers, Some(big)).await, 413, "payload_too_large");

    let wrong_type = serde_json::to_vec(&json!({"session_id": s.id, "content": 42})).unwrap_or_default();
    let r = raw(Method::POST, &url, &headers, Some(wrong_type)).await;
    assert_error(&r, 422, "invalid_field");
    assert_eq!(r.body["error"]["field"], "content");

    let missing = serde_json::to_vec(&json!({"session_id": s.id})).unwrap_or_default();
    let r = raw(Method::POST, &url, &headers, Some(missing)).await;
    assert_error(&r, 422, "invalid_field");
    assert_eq!(r.body["error"]["field"], "content");

    assert_error(
        &raw(Method::POST, &url, &headers, Some(b"{\"session_id\": ".to_vec())).await,
        400,
        "malformed_request",
    );
    let text = [headers[0], headers[1], ("Content-Type", "text/plain")];
    assert_error(&raw(Method::POST, &url, &text, Some(b"{}".to_vec())).await, 400, "malformed_request");

    let unknown = raw(Method::GET, &format!("{}/no/such/thing", server.base), &[], None).await;
    assert_error(&unknown, 404, "not_found");
    assert_error(&client.get("/api/chat/nope", None).await, 404, "not_found");
    let wrong_method = raw(Method::GET, &url, &[("X-API-Key", key.as_str())], None).await;
    assert_error(&wrong_method, 405, "method_not_allowed");
    let wrong_method =
        raw(Method::DELETE, &format!("{}/api/app/me", server.base), &[("Origin", &server.base)], None).await;
    assert_error(&wrong_method, 405, "method_not_allowed");
}
