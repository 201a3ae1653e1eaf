//! Outgoing webhooks against a real local receiver (axum on 127.0.0.1) that checks every
//! request's Standard Webhooks signature with its own verifier, written here from the
//! specification: retries, rotation, 410, refused private addresses, two nodes on one database.

use crate::support::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontdesk_core::ports::{Clock, FixedClock};
use frontdesk_core::store::Store;
use frontdesk_core::webhooks::{WebhookEndpoint, WebhookEventType};
use frontdesk_core::{Timestamp, WebhookEndpointId};
use frontdesk_server::ServerConfig;
use frontdesk_server::env::OsEntropy;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: String,
    json: Value,
}

impl Received {
    fn event_type(&self) -> &str {
        self.json["type"].as_str().unwrap_or_default()
    }
}

/// A webhook receiver: records each request and answers the next scripted status (204 when
/// none is left).
/// A scripted answer: 200 with a body that never finishes.
const STALLS: u16 = 299;

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let mut receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        receiver.url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let body = String::from_utf8_lossy(&body).into_owned();
                    state.got.lock().expect("lock").push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp").parse().unwrap_or(-1),
                        signatures: header("webhook-signature").split(' ').map(str::to_owned).collect(),
                        json: serde_json::from_str(&body).unwrap_or(Value::Null),
                        body,
                    });
                    let status = state.script.lock().expect("lock").pop_front().unwrap_or(204);
                    if status == STALLS {
                        // 200 at once, then a body that starts and never ends.
                        let start =
                            futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"partial")) });
                        return (
                            StatusCode::OK,
                            axum::body::Body::from_stream(futures::StreamExt::chain(start, futures::stream::pending())),
                        );
                    }
                    // A failure explains itself at length, as real receivers do; a 204 says nothing.
                    let said = if status == 204 {
                        String::new()
                    } else {
                        format!("receiver says {status}: {}", "why ".repeat(500))
                    };
                    (
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                        axum::body::Body::from(said),
                    )
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().expect("lock").extend(statuses);
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until a request matches.
    async fn wait_for(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        for _ in 0..300 {
            if let Some(r) = self.all().into_iter().find(|r| matches(r)) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver never got {what}; it got {:#?}",
            self.all().iter().map(|r| r.event_type().to_owned()).collect::<Vec<_>>()
        );
    }

    async fn wait_for_count(&self, n: usize) {
        for _ in 0..300 {
            if self.all().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.all().len());
    }

    async fn wait_for_type(&self, event_type: &str) -> Received {
        self.wait_for(event_type, |r| r.event_type() == event_type).await
    }
}

/// The receiver's verifier, from the specification: the key is the base64 after `whsec_`; the
/// signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the header holds space-separated
/// `v1,<base64 HMAC-SHA256>` entries, any one of which may match.
fn verifies(secret: &str, r: &Received) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else { return false };
    let content = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    r.signatures.iter().filter_map(|s| s.strip_prefix("v1,")).filter_map(|s| STANDARD.decode(s).ok()).any(|tag| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(content.as_bytes());
        mac.verify_slice(&tag).is_ok()
    })
}

fn private_ok() -> ServerConfig {
    let mut config = roomy_config();
    config.webhooks.allow_private = true;
    config
}

const ALL_EVENTS: [&str; 8] = [
    "conversation.created",
    "conversation.escalated",
    "conversation.resolved",
    "conversation.closed",
    "conversation.reopened",
    "message.created",
    "rating.created",
    "visitor.identified",
];

async fn create_endpoint(owner: &AgentClient, org: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = owner.post(&format!("/api/app/orgs/{org}/webhooks"), &json!({"url": url, "event_types": events})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["endpoint"]["id"].as_str().unwrap_or_default().to_owned();
    let secret = r.body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (id, secret)
}

async fn deliveries(owner: &AgentClient, org: &str, query: &str) -> Vec<Value> {
    let r = owner.get(&format!("/api/app/orgs/{org}/webhook-deliveries{query}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the delivery log shows the delivery in this state.
async fn wait_for_delivery(owner: &AgentClient, org: &str, id: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        if let Some(d) = deliveries(owner, org, "?limit=200").await.into_iter().find(|d| d["id"] == id) {
            if matches(&d) {
                return d;
            }
            last = d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery {id} never reached the state; last: {last}");
}

async fn events_signed_and_retried(server: &TestServer) {
    let receiver = Receiver::start().await;
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id.to_string();
    let (endpoint, secret) = create_endpoint(&owner, &org, &receiver.url, &ALL_EVENTS).await;
    let list = owner.get(&format!("/api/app/orgs/{org}/webhooks")).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["endpoints"][0]["id"], endpoint.as_str());
    assert!(!list.body.to_string().contains(&secret), "lists never show the secret");

    // A conversation's events reach the receiver, signed, with what a receiver needs.
    let visitor = server.chat_client();
    let session = visitor.start().await;
    assert_eq!(visitor.say(&session, "My lamp flickers").await.status, 200);
    let created = receiver.wait_for_type("conversation.created").await;
    assert_eq!(created.json["data"]["conversation"]["id"], session.id.as_str());
    let message = receiver
        .wait_for("the visitor's message", |r| {
            r.event_type() == "message.created" && r.json["data"]["message"]["body"] == "My lamp flickers"
        })
        .await;
    assert_eq!(message.json["data"]["message"]["author_kind"], "visitor");
    assert_eq!(message.json["data"]["conversation"]["visitor_id"], session.visitor_id.as_str());
    assert!(message.json["timestamp"].as_str().is_some_and(|t| Timestamp::parse_rfc3339(t).is_some()));
    let identified = visitor
        .post(
            "/api/chat/identify",
            Some(&session.token),
            &json!({"session_id": session.id, "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(identified.status, 200, "{:?}", identified.body);
    let who = receiver.wait_for_type("visitor.identified").await;
    assert_eq!(who.json["data"]["visitor"]["email"], "ada@example.com");
    assert_eq!(who.json["data"]["conversation"]["id"], session.id.as_str());

    let status = |action: &'static str| {
        let path = format!("/api/app/orgs/{org}/conversations/{}/status", session.id);
        let owner = &owner;
        async move {
            let r = owner.post(&path, &json!({"action": action})).await;
            assert_eq!(r.status, 200, "{action}: {:?}", r.body);
        }
    };
    status("escalate").await;
    let escalated = receiver.wait_for_type("conversation.escalated").await;
    assert_eq!(escalated.json["data"]["conversation"]["status"], "escalated");
    assert_eq!(escalated.json["data"]["previous_status"], "active");
    status("resolve").await;
    receiver.wait_for_type("conversation.resolved").await;
    status("reopen").await;
    let reopened = receiver.wait_for_type("conversation.reopened").await;
    assert_eq!(reopened.json["data"]["previous_status"], "resolved");
    let rated = visitor
        .post(&format!("/api/chat/session/{}/rate", session.id), Some(&session.token), &json!({"stars": 4}))
        .await;
    assert_eq!(rated.status, 201, "{:?}", rated.body);
    assert_eq!(receiver.wait_for_type("rating.created").await.json["data"]["rating"]["stars"], 4);
    status("close").await;
    receiver.wait_for_type("conversation.closed").await;

    // Every request verifies, each delivery has its own id, each attempt is stamped with the
    // server's clock.
    let got = receiver.all();
    for r in &got {
        assert!(verifies(&secret, r), "signature of {} {:?}", r.event_type(), r.signatures);
        assert!(!verifies("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r), "another secret does not verify");
        assert_eq!(r.timestamp, server.clock.now().unix_seconds());
        assert!(r.id.starts_with("msg_"), "{}", r.id);
    }
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "one webhook-id per delivery");
    let mut tampered = message.clone();
    tampered.body = tampered.body.replace("flickers", "is fine");
    assert!(!verifies(&secret, &tampered), "a changed body does not verify");

    // A 500 is retried once the backoff has passed, with the same webhook-id and body.
    receiver.answer_next(&[500]);
    let before = receiver.all().len();
    let test = owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/test"), &json!({})).await;
    assert_eq!(test.status, 202, "{:?}", test.body);
    let delivery = test.body["id"].as_str().unwrap_or_default().to_owned();
    let failed = wait_for_delivery(&owner, &org, &delivery, |d| d["attempts"] == 1).await;
    assert_eq!((failed["status"].as_str(), failed["last_status_code"].as_i64()), (Some("pending"), Some(500)));
    let said = failed["last_response"].as_str().unwrap_or_default();
    assert!(said.starts_with("receiver says 500: why why"), "the start of the answer is kept: {failed}");
    assert!(said.ends_with('…') && said.len() <= 1024 + '…'.len_utf8(), "at most 1 KiB of it: {}", said.len());
    let due = failed["next_attempt_at"].as_str().and_then(Timestamp::parse_rfc3339).expect("a next attempt");
    assert!(due > server.clock.now() && due <= server.clock.now().plus_seconds(5), "first retry within 5 s: {due:?}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(receiver.all().len(), before + 1, "no retry before it is due (the clock has not moved)");
    server.clock.advance_seconds(6);
    let ok = wait_for_delivery(&owner, &org, &delivery, |d| d["status"] == "succeeded").await;
    assert_eq!((ok["attempts"].as_i64(), ok["last_status_code"].as_i64()), (Some(2), Some(204)));
    assert!(ok["last_response"].is_null(), "a 204 has nothing to say, and the 500's words are gone: {ok}");

    let attempts: Vec<Received> = receiver.all().into_iter().skip(before).collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].id.as_str(), attempts[0].body.as_str()),
        (attempts[1].id.as_str(), attempts[1].body.as_str())
    );
    assert_eq!(attempts[1].event_type(), "webhook.test");
    assert_eq!(ok["message_id"], attempts[0].id.as_str());

    // Redelivery sends it again, same id.
    let again = owner.post(&format!("/api/app/orgs/{org}/webhook-deliveries/{delivery}/redeliver"), &json!({})).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    wait_for_delivery(&owner, &org, &delivery, |d| d["attempts"] == 3 && d["status"] == "succeeded").await;
    assert_eq!(receiver.all().last().map(|r| r.id.clone()), Some(attempts[0].id.clone()));

    // A 200 whose body stalls is delivered (the receiver has the event): not retried, and the log
    // keeps what arrived.
    receiver.answer_next(&[STALLS]);
    let test = owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/test"), &json!({})).await;
    let stalled_delivery = test.body["id"].as_str().unwrap_or_default().to_owned();
    let stalled = wait_for_delivery(&owner, &org, &stalled_delivery, |d| d["attempts"] == 1).await;
    assert_eq!((stalled["status"].as_str(), stalled["last_status_code"].as_i64()), (Some("succeeded"), Some(200)));
    assert_eq!(stalled["last_response"], "partial", "{stalled}");

    // Rotation: both secrets sign for 24 hours, each signature verifies with one of them.
    let rotated = owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/secret/rotate"), &json!({})).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new_secret, secret);
    let read = owner.get(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/secret")).await;
    assert_eq!(read.body["secret"], new_secret.as_str());
    let n = receiver.all().len();
    owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/test"), &json!({})).await;
    let during = receiver
        .wait_for("a test during rotation", |r| r.event_type() == "webhook.test" && r.signatures.len() == 2)
        .await;
    assert!(receiver.all().len() > n);
    assert!(verifies(&new_secret, &during) && verifies(&secret, &during), "{:?}", during.signatures);
    for one in &during.signatures {
        let single = Received { signatures: vec![one.clone()], ..during.clone() };
        assert!(verifies(&new_secret, &single) != verifies(&secret, &single), "each signature is by one secret");
    }
    server.clock.advance_seconds(86_400 + 1);
    let n = receiver.all().len();
    owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/test"), &json!({})).await;
    receiver.wait_for_count(n + 1).await;
    let after = receiver.all().into_iter().nth(n).expect("the test after rotation");
    assert_eq!(after.signatures.len(), 1);
    assert!(verifies(&new_secret, &after) && !verifies(&secret, &after), "the old secret no longer signs");

    let audit = owner.get(&format!("/api/app/orgs/{org}/audit?action=webhook.")).await;
    let actions: HashSet<String> = audit.body["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for action in
        ["webhook.create", "webhook.test", "webhook.redeliver", "webhook.secret_rotate", "webhook.secret_read"]
    {
        assert!(actions.contains(action), "{action} in {actions:?}");
    }
    assert!(!audit.body.to_string().contains(&new_secret), "secrets stay out of the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_events_are_signed_and_retried() {
    let server = TestServer::start(Backend::Sqlite, "webhooks_signed", private_ok()).await.expect("sqlite");
    events_signed_and_retried(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_are_signed_and_retried() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_webhooks_signed", private_ok()).await else {
        return;
    };
    events_signed_and_retried(&server).await;
}

#[tokio::test]
async fn a_410_disables_the_endpoint() {
    let server = TestServer::start(Backend::Sqlite, "webhooks_gone", private_ok()).await.expect("sqlite");
    let receiver = Receiver::start().await;
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id.to_string();
    let (endpoint, _) = create_endpoint(&owner, &org, &receiver.url, &["message.created"]).await;
    receiver.answer_next(&[410]);
    let test = owner.post(&format!("/api/app/orgs/{org}/webhooks/{endpoint}/test"), &json!({})).await;
    let delivery = test.body["id"].as_str().unwrap_or_default().to_owned();
    let failed = wait_for_delivery(&owner, &org, &delivery, |d| d["status"] == "failed").await;
    assert_eq!((failed["attempts"].as_i64(), failed["last_status_code"].as_i64()), (Some(1), Some(410)));
    let list = owner.get(&format!("/api/app/orgs/{org}/webhooks")).await;
    let e = &list.body["endpoints"][0];
    assert_eq!(e["enabled"], false, "{e}");
    assert!(e["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{e}");
    let audit = owner.get(&format!("/api/app/orgs/{org}/audit?action=webhook.disable")).await;
    assert_eq!(audit.body["events"][0]["target_id"], endpoint.as_str(), "{}", audit.body);
    assert!(audit.body["events"][0]["actor_id"].is_null(), "the server did it: {}", audit.body);

    // Nothing more is enqueued for it, and it cannot be redelivered to until it is enabled.
    let visitor = server.chat_client();
    let session = visitor.start().await;
    assert_eq!(visitor.say(&session, "Anyone there?").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(deliveries(&owner, &org, "").await.len(), 1, "no delivery for a disabled endpoint");
    assert_eq!(receiver.all().len(), 1);
    let refused = owner.post(&format!("/api/app/orgs/{org}/webhook-deliveries/{delivery}/redeliver"), &json!({})).await;
    assert_error(&refused, 409, "conflict");
    let enabled = owner.patch(&format!("/api/app/orgs/{org}/webhooks/{endpoint}"), &json!({"enabled": true})).await;
    assert_eq!((enabled.body["enabled"].clone(), enabled.body["disabled_reason"].clone()), (json!(true), Value::Null));
    assert_eq!(visitor.say(&session, "Hello again").await.status, 200);
    receiver.wait_for("the message after re-enabling", |r| r.json["data"]["message"]["body"] == "Hello again").await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let server = TestServer::start(Backend::Sqlite, "webhooks_private", roomy_config()).await.expect("sqlite");
    let receiver = Receiver::start().await;
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id.to_string();
    let port = receiver.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/hooks").to_owned();
    for url in [
        receiver.url.clone(),
        format!("http://localhost:{port}/hooks"),
        format!("http://[::1]:{port}/"),
        "http://10.0.0.8/x".to_owned(),
        "http://169.254.169.254/latest".to_owned(),
    ] {
        let r = owner
            .post(&format!("/api/app/orgs/{org}/webhooks"), &json!({"url": url, "event_types": ["message.created"]}))
            .await;
        assert_error(&r, 422, "invalid_field");
        assert_eq!(r.body["error"]["field"], "url", "{url}");
    }
    for (body, field) in [
        (json!({"url": "ftp://example.com/x", "event_types": ["message.created"]}), "url"),
        (json!({"url": "https://hooks.example.com/x", "event_types": []}), "event_types"),
        (json!({"url": "https://hooks.example.com/x", "event_types": ["conversation.assigned"]}), "event_types"),
    ] {
        let r = owner.post(&format!("/api/app/orgs/{org}/webhooks"), &body).await;
        assert_error(&r, 422, "invalid_field");
        assert_eq!(r.body["error"]["field"], field, "{body}");
    }
    // An endpoint whose address is private when it is sent to (a name that now resolves to one,
    // written here directly) is refused at the attempt, and never retried.
    let now = server.clock.now();
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(&*server.chat.clock, &*server.chat.entropy),
        org_id: server.org.id,
        url: receiver.url.clone(),
        description: String::new(),
        event_types: vec![WebhookEventType::MessageCreated],
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    server.chat.store.create_webhook_endpoint(&endpoint).await.expect("endpoint");
    let test = owner.post(&format!("/api/app/orgs/{org}/webhooks/{}/test", endpoint.id), &json!({})).await;
    let delivery = test.body["id"].as_str().unwrap_or_default().to_owned();
    let failed = wait_for_delivery(&owner, &org, &delivery, |d| d["status"] == "failed").await;
    assert!(failed["last_error"].as_str().is_some_and(|e| e.contains("refused")), "{failed}");
    assert!(failed["next_attempt_at"].is_null());
    assert!(receiver.all().is_empty(), "nothing reached the private address");
}

async fn start_node(store: Arc<dyn Store>, clock: Arc<FixedClock>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let router = frontdesk_server::build(store, private_ok(), clock, Arc::new(OsEntropy)).await.expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(frontdesk_server::serve(listener, router, async move {
        let _ = rx.await;
    }));
    (base, tx)
}

/// Two nodes on one database: each event reaches the receiver exactly once.
async fn two_nodes_deliver_once(server: &TestServer, second_store: Arc<dyn Store>) {
    let receiver = Receiver::start().await;
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id.to_string();
    let (_, secret) = create_endpoint(&owner, &org, &receiver.url, &["conversation.created", "message.created"]).await;
    let (second, stop) = start_node(second_store, server.clock.clone()).await;
    let nodes = [
        frontdesk_testkit::chat_api::ChatClient::new(&server.base, &server.site.public_key),
        frontdesk_testkit::chat_api::ChatClient::new(&second, &server.site.public_key),
    ];
    let mut conversations = Vec::new();
    for i in 0..6 {
        let node = &nodes[i % 2];
        let s = node.start().await;
        assert_eq!(node.say(&s, &format!("question {i}")).await.status, 200);
        conversations.push(s.id);
    }
    for id in &conversations {
        receiver
            .wait_for("each conversation.created", |r| {
                r.event_type() == "conversation.created" && r.json["data"]["conversation"]["id"] == id.as_str()
            })
            .await;
    }
    for i in 0..6 {
        let body = format!("question {i}");
        receiver.wait_for("each message", |r| r.json["data"]["message"]["body"] == body.as_str()).await;
    }
    // Time for a duplicate to show up, if any would.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let got = receiver.all();
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "each delivery reached the receiver once");
    let visitor_messages = got.iter().filter(|r| r.json["data"]["message"]["author_kind"] == "visitor").count();
    assert_eq!(visitor_messages, 6);
    assert_eq!(got.iter().filter(|r| r.event_type() == "conversation.created").count(), 6);
    assert!(got.iter().all(|r| verifies(&secret, r)));
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_nodes_deliver_each_event_once() {
    let server = TestServer::start(Backend::Sqlite, "webhooks_nodes", private_ok()).await.expect("sqlite");
    two_nodes_deliver_once(&server, server.chat.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_deliver_each_event_once() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_webhooks_nodes", private_ok()).await else {
        return;
    };
    two_nodes_deliver_once(&server, server.chat.store.clone()).await;
}
