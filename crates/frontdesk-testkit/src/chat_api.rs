//! A black-box client for the public chat API and the scripted session lifecycle every
//! deployment must pass: in-process servers, the real binary, SQLite and PostgreSQL alike.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// One response: status, headers, JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    pub base: String,
    pub key: String,
    pub origin: Option<String>,
}

impl ChatClient {
    pub fn new(base: &str, key: &str) -> Self {
        ChatClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            origin: None,
        }
    }

    pub fn with_origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    pub fn with_key(mut self, key: &str) -> Self {
        self.key = key.to_owned();
        self
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> Reply {
        let mut req = req.header("X-API-Key", &self.key);
        if let Some(origin) = &self.origin {
            req = req.header("Origin", origin);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)), token).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body), token).await
    }

    /// Starts a session; panics unless it is created.
    pub async fn start(&self) -> Session {
        let r = self
            .post("/api/chat/session", None, &json!({"page_url": "https://shop.example.com/lamps", "locale": "en"}))
            .await;
        assert_eq!(r.status, 201, "session created: {:?}", r.body);
        Session {
            id: r.body["session_id"].as_str().expect("session_id").to_owned(),
            token: r.body["session_token"].as_str().expect("session_token").to_owned(),
            visitor_id: r.body["visitor_id"].as_str().expect("visitor_id").to_owned(),
        }
    }

    pub async fn say(&self, session: &Session, content: &str) -> Reply {
        self.post("/api/chat/message", Some(&session.token), &json!({"session_id": session.id, "content": content}))
            .await
    }

    pub async fn history(&self, session: &Session) -> Vec<Value> {
        let r = self.get(&format!("/api/chat/history/{}", session.id), Some(&session.token)).await;
        assert_eq!(r.status, 200, "history: {:?}", r.body);
        r.body["messages"].as_array().cloned().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub visitor_id: String,
}

/// The whole public lifecycle: create, message, history, rate (once), end, closed refuses
/// messages, and the errors around it. Returns the ended session, whose history holds
/// exactly the two visitor messages `"Hello"` and `"Where is my order?"`.
pub async fn session_lifecycle(client: &ChatClient) -> Session {
    let health = client.get("/api/chat/health", None).await;
    assert_eq!((health.status, health.body.clone()), (200, json!({"status": "ok"})));

    let config = client.get("/api/chat/config", None).await;
    assert_eq!(config.status, 200, "config: {:?}", config.body);
    assert!(config.body.to_string().contains("primary_color"), "config has the widget's look: {}", config.body);

    let s = client.start().await;
    let view = client.get(&format!("/api/chat/session/{}", s.id), Some(&s.token)).await;
    assert_eq!(view.status, 200, "{:?}", view.body);
    assert_eq!(view.body["status"], "active");
    assert_eq!(view.body["visitor_id"], s.visitor_id.as_str());

    let first = client.say(&s, "  Hello\u{7}  ").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["message"]["body"], "Hello", "content is trimmed and control characters removed");
    assert_eq!(first.body["message"]["seq"], 1);
    assert_eq!(first.body["message"]["author_kind"], "visitor");
    assert_eq!(first.body["session_status"], "active");
    assert!(first.body.get("reply").is_some(), "the reply field is always present");

    // With the assistant on, each visitor message is followed by its reply.
    let expected_second = first.body["reply"]["seq"].as_i64().map_or(2, |reply_seq| reply_seq + 1);
    if !first.body["reply"].is_null() {
        assert_eq!(first.body["reply"]["seq"], 2, "the reply follows the message");
    }
    let second = client.say(&s, "Where is my order?").await;
    assert_eq!(second.body["message"]["seq"], expected_second);

    let all = client.history(&s).await;
    let bodies: Vec<&str> =
        all.iter().filter(|m| m["author_kind"] == "visitor").filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(bodies, ["Hello", "Where is my order?"]);
    let seqs: Vec<i64> = all.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>(), "sequence numbers have no gaps");
    let rest = client.get(&format!("/api/chat/history/{}?after_seq=1", s.id), Some(&s.token)).await;
    assert_eq!(rest.body["messages"][0]["seq"], 2, "after_seq returns the rest: {:?}", rest.body);

    let empty = client.say(&s, " \u{0} ").await;
    assert_eq!((empty.status, empty.code()), (422, "invalid_field"), "{:?}", empty.body);
    let too_long = client.say(&s, &"x".repeat(4001)).await;
    assert_eq!((too_long.status, too_long.code()), (422, "invalid_field"));

    let not_assistant = client
        .post(
            &format!("/api/chat/message/{}/react", first.body["message"]["id"].as_str().unwrap_or("")),
            Some(&s.token),
            &json!({"session_id": s.id, "reaction": "up"}),
        )
        .await;
    assert_eq!(not_assistant.status, 422, "visitor messages take no reaction: {:?}", not_assistant.body);
    if first.body["reply"]["author_kind"] == "assistant" {
        let path = format!("/api/chat/message/{}/react", first.body["reply"]["id"].as_str().unwrap_or(""));
        let up = client.post(&path, Some(&s.token), &json!({"session_id": s.id, "reaction": "up"})).await;
        assert_eq!((up.status, up.body["reaction"].clone()), (200, json!("up")), "{:?}", up.body);
        let cleared = client.post(&path, Some(&s.token), &json!({"session_id": s.id, "reaction": null})).await;
        assert_eq!(cleared.body["reaction"], Value::Null);
    }

    let rate = client
        .post(
            &format!("/api/chat/session/{}/rate", s.id),
            Some(&s.token),
            &json!({"stars": 5, "tags": ["fast"], "feedback": "Thanks!"}),
        )
        .await;
    assert_eq!(rate.status, 201, "{:?}", rate.body);
    let again = client.post(&format!("/api/chat/session/{}/rate", s.id), Some(&s.token), &json!({"stars": 1})).await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let bad_stars =
        client.post(&format!("/api/chat/session/{}/rate", s.id), Some(&s.token), &json!({"stars": 9})).await;
    assert_eq!(bad_stars.status, 422);

    let end = client.post(&format!("/api/chat/session/{}/end", s.id), Some(&s.token), &json!({})).await;
    assert_eq!(end.status, 200, "{:?}", end.body);
    assert_eq!(end.body["status"], "closed");
    let refused = client.say(&s, "Are you there?").await;
    assert_eq!((refused.status, refused.code()), (409, "conversation_closed"), "{:?}", refused.body);
    let view = client.get(&format!("/api/chat/session/{}", s.id), Some(&s.token)).await;
    assert_eq!(view.body["rating"]["stars"], 5, "{:?}", view.body);
    s
}

/// The 21st message within a minute is refused with 429 and a `Retry-After` in seconds.
pub async fn message_rate_limit(client: &ChatClient) {
    let s = client.start().await;
    for i in 1..=20 {
        let r = client.say(&s, &format!("message {i}")).await;
        assert_eq!(r.status, 200, "message {i}: {:?}", r.body);
    }
    let r = client.say(&s, "one too many").await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{:?}", r.body);
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let visitor = client.history(&s).await.into_iter().filter(|m| m["author_kind"] == "visitor").count();
    assert_eq!(visitor, 20, "the refused message was not stored");
}

/// Keys, tokens, origins and tenants: each failure has its code.
pub async fn access_rules(client: &ChatClient, other_site: &ChatClient) {
    let s = client.start().await;
    let theirs = other_site.start().await;

    let no_key = client.clone().with_key("").get("/api/chat/config", None).await;
    assert_eq!((no_key.status, no_key.code()), (401, "missing_api_key"), "{:?}", no_key.body);
    let bad_key = client.clone().with_key("pk_00000000000000000000000000000000").get("/api/chat/config", None).await;
    assert_eq!((bad_key.status, bad_key.code()), (401, "invalid_api_key"));

    let forged = format!("{}x", s.token);
    let r = client.say(&Session { token: forged, ..s.clone() }, "hi").await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"), "{:?}", r.body);
    let other = client.start().await;
    let r = client.say(&Session { token: other.token.clone(), ..s.clone() }, "hi").await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"), "another session's token: {:?}", r.body);
    let r = client.get(&format!("/api/chat/history/{}", s.id), None).await;
    assert_eq!(r.status, 401, "a session id alone is never enough");

    let r = client.get(&format!("/api/chat/session/{}", theirs.id), Some(&s.token)).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "another site's session: {:?}", r.body);
    let r = client.get(&format!("/api/chat/history/{}", theirs.id), Some(&theirs.token)).await;
    assert_eq!(r.status, 404, "another site's session, even with its token, through this site's key");

    let evil = client.clone().with_origin("https://evil.example.net");
    let r = evil.say(&s, "hi").await;
    assert_eq!((r.status, r.code()), (403, "origin_not_allowed"), "{:?}", r.body);
    assert!(r.header("access-control-allow-origin").is_none());

    let malformed = reqwest::Client::new()
        .post(format!("{}/api/chat/message", client.base))
        .header("X-API-Key", &client.key)
        .bearer_auth(&s.token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(malformed.status().as_u16(), 400);
    let body: Value = malformed.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "malformed_request");

    let unknown = client.get("/api/chat/nope", None).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
}
