//! Realtime across real processes: two `frontdesk serve` nodes on one PostgreSQL (once with the
//! PostgreSQL broker, once with NATS), a visitor on one node and an agent on the other, the
//! agent's socket moving between nodes mid-conversation; and the graceful drain of WebSockets on
//! SIGTERM.
//!
//! The nodes poll the outbox only once a minute here, so a frame that crosses nodes within the
//! tests' timeouts was carried by the broker's wake-up, not by the poll.

use frontdesk_testkit::chat_api::{ChatClient, Session};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "support/process.rs"]
mod process;

use process::{cli_json, frontdesk, spawn_listening, temp_dir};

const SHOP: &str = "https://shop.example.com";
const EMAIL: &str = "ann@acme.test";
const PASSWORD: &str = "correct horse battery";
/// How long a frame may take to arrive.
const FRAME_WAIT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Node {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Node {
    /// `frontdesk serve` on a free port, with its own data directory (the search index) unless
    /// `storage` names one (SQLite).
    async fn start(storage: &[String], broker: &str, name: &str) -> Node {
        let dir = temp_dir(name);
        let mut cmd = frontdesk(storage);
        if !storage.iter().any(|a| a == "--data-dir") {
            cmd.args(["--data-dir", &dir.display().to_string()]);
        }
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--broker", broker])
            // Slow polling: crossing nodes must be the broker's doing.
            .env("FRONTDESK_REALTIME__POLL_INTERVAL_MS", "60000");
        let (child, base) = spawn_listening(cmd).await;
        Node { child, base, dir }
    }

    fn ws(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit by itself (after `sigterm`), successfully.
    async fn exited(mut self) {
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("stops within 20 s")
            .expect("exit status");
        assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn stop(self) {
        self.sigterm();
        self.exited().await;
    }
}

struct Org {
    org_id: String,
    site_id: String,
    site_key: String,
}

/// An organization, its owner and a site, through the CLI.
async fn provision(storage: &[String]) -> Org {
    let out = frontdesk(storage).arg("migrate").output().await.expect("migrate");
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let org = cli_json(storage, &["org", "create", "--name", "Acme"]).await;
    let org_id = org["id"].as_str().expect("org id").to_owned();
    cli_json(
        storage,
        &[
            "user",
            "create",
            "--email",
            EMAIL,
            "--name",
            "Ann",
            "--password",
            PASSWORD,
            "--org",
            &org_id,
            "--role",
            "owner",
        ],
    )
    .await;
    let site =
        cli_json(storage, &["site", "create", "--org", &org_id, "--name", "Shop", "--allowed-origin", SHOP]).await;
    Org {
        org_id,
        site_id: site["id"].as_str().expect("site id").to_owned(),
        site_key: site["public_key"].as_str().expect("public key").to_owned(),
    }
}

/// An agent's login on one node (the login session is in the database: valid on every node).
struct Agent {
    http: reqwest::Client,
    cookie: String,
}

impl Agent {
    async fn login(base: &str) -> Agent {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/api/app/login"))
            .header("Origin", base)
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status().as_u16(), 200, "login");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("login cookie")
            .to_owned();
        Agent { http, cookie }
    }

    async fn send(&self, base: &str, method: reqwest::Method, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .request(method, format!("{base}{path}"))
            .header("Origin", base)
            .header("Cookie", &self.cookie)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn socket(&self, node: &Node, query: &str) -> Socket {
        connect(&node.ws(&format!("/api/app/ws?{query}")), &node.base, Some(&self.cookie)).await
    }
}

async fn connect(url: &str, origin: &str, cookie: Option<&str>) -> Socket {
    let mut request = url.into_client_request().expect("ws request");
    request.headers_mut().insert("Origin", origin.parse().expect("origin header"));
    if let Some(cookie) = cookie {
        request.headers_mut().insert("Cookie", cookie.parse().expect("cookie header"));
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket handshake");
    socket
}

async fn widget_socket(node: &Node, key: &str, session: &Session, after_seq: i64) -> Socket {
    let url = node.ws(&format!("/api/chat/ws?key={key}&token={}&after_seq={after_seq}", session.token));
    connect(&url, SHOP, None).await
}

/// The next JSON frame of one of `types` (others are skipped).
async fn next_of(socket: &mut Socket, types: &[&str]) -> Value {
    let wait = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("a JSON frame");
                    if frame["type"].as_str().is_some_and(|t| types.contains(&t)) {
                        return frame;
                    }
                }
                Some(Ok(Message::Close(close))) => panic!("closed while waiting for {types:?}: {close:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket error while waiting for {types:?}: {e}"),
                None => panic!("socket ended while waiting for {types:?}"),
            }
        }
    };
    tokio::time::timeout(FRAME_WAIT, wait).await.unwrap_or_else(|_| panic!("no {types:?} frame within {FRAME_WAIT:?}"))
}

async fn send_frame(socket: &mut Socket, frame: Value) {
    socket.send(Message::Text(frame.to_string().into())).await.expect("send a frame");
}

/// The whole multi-node story on one broker setting.
async fn two_nodes(storage: Vec<String>, broker: &str) {
    let org = provision(&storage).await;
    let a = Node::start(&storage, broker, "a").await;
    let b = Node::start(&storage, broker, "b").await;

    let agent = Agent::login(&b.base).await;
    // Only the realtime path: no assistant reply in between.
    agent
        .send(
            &b.base,
            reqwest::Method::PATCH,
            &format!("/api/app/orgs/{}/sites/{}", org.org_id, org.site_id),
            &json!({"assistant": {"enabled": false}}),
        )
        .await;

    // The agent on node B, live from now.
    let mut agent_ws = agent.socket(&b, "live=true").await;
    next_of(&mut agent_ws, &["resumed", "reset"]).await;

    // The visitor on node A.
    let visitor = ChatClient::new(&a.base, &org.site_key).with_origin(SHOP);
    let session = visitor.start().await;
    let mut visitor_ws = widget_socket(&a, &org.site_key, &session, 0).await;
    let resumed = next_of(&mut visitor_ws, &["resumed"]).await;
    assert_eq!(resumed["last_seq"], 0);

    // Visitor (A) → agent (B).
    let r = visitor.say(&session, "Hello from node A").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let created = next_of(&mut agent_ws, &["message.created"]).await;
    assert_eq!(created["conversation_id"], session.id.as_str());
    assert_eq!(created["seq"], 1);
    assert_eq!(created["message"]["body"], "Hello from node A");
    let mut offset = created["offset"].as_i64().expect("offset");
    // The widget gets its own message too.
    assert_eq!(next_of(&mut visitor_ws, &["message.created"]).await["seq"], 1);

    // Agent (B, over REST) → visitor (A).
    let path = format!("/api/app/orgs/{}/conversations/{}/messages", org.org_id, session.id);
    agent.send(&b.base, reqwest::Method::POST, &path, &json!({"content": "Hi, Ann here from node B"})).await;
    let reply = next_of(&mut visitor_ws, &["message.created"]).await;
    assert_eq!(reply["seq"], 2);
    assert_eq!(reply["message"]["body"], "Hi, Ann here from node B");
    // The agent's own socket sees its reply too (and its status change).
    loop {
        let f = next_of(&mut agent_ws, &["message.created", "conversation.status_changed"]).await;
        offset = offset.max(f["offset"].as_i64().expect("offset"));
        if f["type"] == "message.created" {
            assert_eq!(f["seq"], 2, "{f}");
            break;
        }
    }

    // Typing, both ways, across nodes (never stored: broker only).
    send_frame(&mut visitor_ws, json!({"v": 1, "type": "typing", "on": true})).await;
    let typing = next_of(&mut agent_ws, &["typing"]).await;
    assert_eq!(typing["from"], "visitor");
    assert_eq!(typing["on"], true);
    assert_eq!(typing["conversation_id"], session.id.as_str());
    send_frame(&mut agent_ws, json!({"v": 1, "type": "typing", "conversation_id": session.id, "on": true})).await;
    let typing = next_of(&mut visitor_ws, &["typing"]).await;
    assert_eq!(typing["from"], "agent");
    assert_eq!(typing["on"], true);

    // The agent's connection moves to node A: while it is away the visitor writes twice.
    agent_ws.close(None).await.expect("close the agent's socket");
    drop(agent_ws);
    for text in ["While you were away 1", "While you were away 2"] {
        let r = visitor.say(&session, text).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let mut agent_ws = agent.socket(&a, &format!("offset={offset}")).await;
    let mut seqs = Vec::new();
    loop {
        let f = next_of(&mut agent_ws, &["message.created", "resumed", "reset"]).await;
        assert_ne!(f["type"], "reset", "the offset is within the window");
        if f["type"] == "resumed" {
            break;
        }
        assert!(f["offset"].as_i64().expect("offset") > offset, "nothing at or before the offset comes again");
        seqs.push(f["seq"].as_i64().expect("seq"));
    }
    // Then live, on the new node: the next message, once.
    let r = visitor.say(&session, "Are you there?").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let live = next_of(&mut agent_ws, &["message.created"]).await;
    seqs.push(live["seq"].as_i64().expect("seq"));
    assert_eq!(live["message"]["body"], "Are you there?");
    assert_eq!(seqs, vec![3, 4, 5], "no gap and no duplicate after moving nodes");

    // The visitor, still on A, got its own messages in order with nothing missing.
    let mut visitor_seqs = Vec::new();
    while visitor_seqs.len() < 3 {
        let f = next_of(&mut visitor_ws, &["message.created"]).await;
        visitor_seqs.push(f["seq"].as_i64().expect("seq"));
    }
    assert_eq!(visitor_seqs, vec![3, 4, 5]);

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn two_nodes_on_postgres_with_the_postgres_broker() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("two_nodes_on_postgres_with_the_postgres_broker").await
    else {
        return;
    };
    two_nodes(vec!["--database-url".to_owned(), url], "postgres").await;
}

#[tokio::test]
async fn two_nodes_on_postgres_with_nats() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("two_nodes_on_postgres_with_nats").await else {
        return;
    };
    let Some(nats) = frontdesk_testkit::nats::nats_url("two_nodes_on_postgres_with_nats").await else {
        return;
    };
    let broker = format!("{}?subject={}", nats.trim_end_matches('/'), frontdesk_testkit::nats::unique_subject());
    two_nodes(vec!["--database-url".to_owned(), url], &broker).await;
}

/// SIGTERM: every open WebSocket gets close 1001 with a reason that says to resume elsewhere,
/// before the process exits (successfully).
#[tokio::test]
async fn sigterm_closes_websockets_with_1001_then_exits() {
    let data = temp_dir("drain-db");
    let storage = vec!["--data-dir".to_owned(), data.display().to_string()];
    let org = provision(&storage).await;
    let node = Node::start(&storage, "memory", "drain").await;
    let agent = Agent::login(&node.base).await;
    let mut agent_ws = agent.socket(&node, "live=true").await;
    next_of(&mut agent_ws, &["resumed", "reset"]).await;
    let visitor = ChatClient::new(&node.base, &org.site_key).with_origin(SHOP);
    let session = visitor.start().await;
    let mut visitor_ws = widget_socket(&node, &org.site_key, &session, 0).await;
    next_of(&mut visitor_ws, &["resumed"]).await;

    node.sigterm();
    for (who, socket) in [("agent", &mut agent_ws), ("visitor", &mut visitor_ws)] {
        let close = tokio::time::timeout(FRAME_WAIT, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(close))) => return close,
                    Some(Ok(_)) => {}
                    other => panic!("{who}: the socket ended without a close frame: {other:?}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{who}: no close frame within {FRAME_WAIT:?}"));
        let close = close.unwrap_or_else(|| panic!("{who}: a close frame without a code"));
        assert_eq!(u16::from(close.code), 1001, "{who}: going away");
        assert!(close.reason.as_str().contains("resume"), "{who}: the reason says to resume: {:?}", close.reason);
    }
    node.exited().await;
    let _ = std::fs::remove_dir_all(data);
}
