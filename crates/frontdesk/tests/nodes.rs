//! Realtime across real processes: two `frontdesk serve` nodes on one PostgreSQL (once with the
//! PostgreSQL broker, once with NATS), a visitor on one node and an agent on the other, the
//! agent's socket moving between nodes mid-conversation; the graceful drain of WebSockets on
//! SIGTERM; and crashes: SIGKILL at random moments under a stream of visitor and agent messages,
//! on SQLite and on PostgreSQL, after which every acknowledged message is stored exactly once and
//! in order, and a widget that followed the conversation resumed without gaps or duplicates.
//! Outages go through a TCP proxy in front of the shared PostgreSQL or NATS (`TcpProxy::cut`),
//! so the service itself keeps running for the other tests: the database gone means quick 503s
//! with Retry-After and a node that heals by itself; the broker gone means frames cross nodes
//! through the outbox until NATS is back.
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
        Node::start_polling(storage, broker, name, 60_000).await
    }

    /// As [`Node::start`], reading the outbox every `poll_ms` besides the broker's wake-ups.
    async fn start_polling(storage: &[String], broker: &str, name: &str, poll_ms: u64) -> Node {
        let dir = temp_dir(name);
        let mut cmd = frontdesk(storage);
        if !storage.iter().any(|a| a == "--data-dir") {
            cmd.args(["--data-dir", &dir.display().to_string()]);
        }
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--broker", broker])
            // Slow polling: crossing nodes must be the broker's doing.
            .env("FRONTDESK_REALTIME__POLL_INTERVAL_MS", poll_ms.to_string());
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

// --- Crashes: SIGKILL under load ------------------------------------------------------------------

/// `frontdesk serve` for the crash test: no rate limits (the load is the point), one node.
async fn start_unlimited(storage: &[String], dir: &std::path::Path) -> (Child, String) {
    let mut cmd = frontdesk(storage);
    if !storage.iter().any(|a| a == "--data-dir") {
        cmd.args(["--data-dir", &dir.display().to_string()]);
    }
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("FRONTDESK_SERVER__RATE_LIMITS__MESSAGES_PER_MINUTE_PER_SESSION", "0")
        .env("FRONTDESK_SERVER__RATE_LIMITS__SESSIONS_PER_MINUTE_PER_IP", "0");
    spawn_listening(cmd).await
}

/// A small deterministic generator (xorshift), so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Sends the session's messages one after another — a visitor message, and after every third an
/// agent reply — until a request fails (the server was killed). Returns the contents that were
/// acknowledged with a 2xx, in order.
async fn write_until_failure(
    base: String,
    org: (String, String),
    session: Session,
    cookie: String,
    round: usize,
) -> Vec<String> {
    let (org_id, key) = org;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let mut acked = Vec::new();
    for i in 0.. {
        let content = format!("visitor {} round {round} #{i}", session.id);
        let r = http
            .post(format!("{base}/api/chat/message"))
            .header("X-API-Key", &key)
            .header("Origin", SHOP)
            .bearer_auth(&session.token)
            .json(&json!({"session_id": session.id, "content": content}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => acked.push(content),
            _ => return acked,
        }
        if i % 3 == 2 {
            let content = format!("agent {} round {round} #{i}", session.id);
            let r = http
                .post(format!("{base}/api/app/orgs/{org_id}/conversations/{}/messages", session.id))
                .header("Origin", &base)
                .header("Cookie", &cookie)
                .json(&json!({"content": content}))
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => acked.push(content),
                _ => return acked,
            }
        }
    }
    acked
}

/// Every message of a session, read through the public history in pages.
async fn full_history(client: &ChatClient, session: &Session) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().and_then(|m| m["seq"].as_i64()).unwrap_or(0);
        let r = client.get(&format!("/api/chat/history/{}?after_seq={after}", session.id), Some(&session.token)).await;
        assert_eq!(r.status, 200, "history: {}", r.body);
        let page = r.body["messages"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// A widget that follows one session across restarts: it reconnects to the newest node and
/// resumes from the last sequence number it saw. Returns every sequence number it received.
async fn follow(
    key: String,
    session: Session,
    mut bases: tokio::sync::watch::Receiver<String>,
    until: i64,
    done: tokio::sync::watch::Receiver<bool>,
) -> Vec<i64> {
    let mut seen: Vec<i64> = Vec::new();
    loop {
        let base = bases.borrow_and_update().clone();
        let last = seen.last().copied().unwrap_or(0);
        let url = format!(
            "{}/api/chat/ws?key={key}&token={}&after_seq={last}",
            base.replacen("http://", "ws://", 1),
            session.token
        );
        let mut request = url.into_client_request().expect("ws request");
        request.headers_mut().insert("Origin", SHOP.parse().expect("origin"));
        if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await {
            loop {
                tokio::select! {
                    frame = socket.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            let f: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                            if f["type"] == "message.created" {
                                seen.push(f["seq"].as_i64().expect("seq"));
                            }
                        }
                        Some(Ok(_)) => {}
                        // Killed: reconnect to whichever node runs next.
                        _ => break,
                    },
                    _ = bases.changed() => break,
                }
                if *done.borrow() && seen.last().copied().unwrap_or(0) >= until.max(1) {
                    return seen;
                }
            }
        }
        if *done.borrow() && seen.last().copied().unwrap_or(0) >= until.max(1) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn crash_story(storage: Vec<String>, name: &str) {
    const SESSIONS: usize = 3;
    const KILLS: usize = 4;
    let seed = u64::from(std::process::id()) * 2_654_435_761 + 1;
    println!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let org = provision(&storage).await;
    let dir = temp_dir(name);
    let (mut child, mut base) = start_unlimited(&storage, &dir).await;
    let agent = Agent::login(&base).await;
    let client = ChatClient::new(&base, &org.site_key).with_origin(SHOP);
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(client.start().await);
    }
    let (base_tx, base_rx) = tokio::sync::watch::channel(base.clone());
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let followed = sessions[0].clone();
    let (until_tx, until_rx) = tokio::sync::oneshot::channel::<i64>();
    let follower = {
        let key = org.site_key.clone();
        let bases = base_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let until = until_rx.await.unwrap_or(0);
            follow(key, followed, bases, until, done).await
        })
    };

    let mut acked: Vec<Vec<String>> = vec![Vec::new(); SESSIONS];
    for round in 0..=KILLS {
        let writers: Vec<_> = sessions
            .iter()
            .map(|s| {
                let ids = (org.org_id.clone(), org.site_key.clone());
                tokio::spawn(write_until_failure(base.clone(), ids, s.clone(), agent.cookie.clone(), round))
            })
            .collect();
        if round == KILLS {
            // The last round ends gracefully: let it write a little, then stop the writers by
            // stopping the node with SIGTERM.
            tokio::time::sleep(Duration::from_millis(300)).await;
            break_writers(&mut child).await;
        } else {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(600))).await;
            let pid = child.id().expect("running").to_string();
            let killed = std::process::Command::new("kill").args(["-KILL", &pid]).status().expect("kill");
            assert!(killed.success());
            let _ = child.wait().await;
        }
        for (i, w) in writers.into_iter().enumerate() {
            acked[i].extend(w.await.expect("writer"));
        }
        let (next_child, next_base) = start_unlimited(&storage, &dir).await;
        child = next_child;
        base = next_base;
        let _ = base_tx.send(base.clone());
    }
    let counts: Vec<usize> = acked.iter().map(Vec::len).collect();
    println!("acknowledged per session over {KILLS} kills: {counts:?}");
    assert!(counts.iter().all(|n| *n > 4 * KILLS), "every session got messages through between kills: {counts:?}");

    // Every acknowledged message is stored exactly once, in the order it was sent, and the
    // sequence numbers have no gap.
    let client = ChatClient::new(&base, &org.site_key).with_origin(SHOP);
    let mut last_seq_of_followed = 0;
    for (i, session) in sessions.iter().enumerate() {
        let history = full_history(&client, session).await;
        let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gap, no duplicate sequence number");
        let bodies: Vec<&str> = history.iter().map(|m| m["body"].as_str().unwrap_or_default()).collect();
        let mut position = 0;
        for content in &acked[i] {
            let hits = bodies.iter().filter(|b| *b == content).count();
            assert_eq!(hits, 1, "acknowledged `{content}` stored exactly once (seed {seed})");
            let at = bodies.iter().position(|b| b == content).expect("stored");
            assert!(at >= position, "`{content}` kept its order (seed {seed})");
            position = at;
        }
        if i == 0 {
            last_seq_of_followed = *seqs.last().unwrap_or(&0);
        }
    }
    // The widget that followed the first session through every crash saw each message once.
    let _ = until_tx.send(last_seq_of_followed);
    let _ = done_tx.send(true);
    let seen = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the following widget caught up")
        .expect("follower");
    assert_eq!(seen, (1..=last_seq_of_followed).collect::<Vec<_>>(), "resumed without gaps or duplicates");

    let pid = child.id().expect("running").to_string();
    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// SIGTERM: the writers' next request fails once the node is gone.
async fn break_writers(child: &mut Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("stops").expect("status");
    assert!(exit.success(), "graceful stop exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_message_on_sqlite() {
    let dir = temp_dir("crash-sqlite");
    crash_story(vec!["--data-dir".to_owned(), dir.display().to_string()], "crash-sqlite-index").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_message_on_postgres() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("sigkill_under_load_on_postgres").await else {
        return;
    };
    crash_story(vec!["--database-url".to_owned(), url], "crash-pg").await;
}

// --- Outages: the database goes away and comes back -----------------------------------------------

/// `url` with its `host:port` replaced by `proxy`, and the original address.
fn through_proxy(url: &str, proxy: std::net::SocketAddr) -> (String, std::net::SocketAddr) {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let upstream: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .expect("the database address resolves")
        .next()
        .expect("an address");
    (url.replacen(host_port, &proxy.to_string(), 1), upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_heals_by_itself() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("a_database_outage").await else { return };
    let (_, upstream) = through_proxy(&url, "127.0.0.1:1".parse().expect("addr"));
    let proxy = frontdesk_testkit::proxy::TcpProxy::start(upstream).await;
    let (proxied, _) = through_proxy(&url, proxy.addr);
    let org = provision(&["--database-url".to_owned(), url.clone()]).await;
    let node = Node::start(&["--database-url".to_owned(), proxied], "memory", "outage").await;
    let client = ChatClient::new(&node.base, &org.site_key).with_origin(SHOP);
    let session = client.start().await;
    let agent = Agent::login(&node.base).await;
    let mut agent_ws = agent.socket(&node, "live=true").await;
    assert_eq!(client.say(&session, "before the outage").await.status, 200);
    assert_eq!(next_of(&mut agent_ws, &["message.created"]).await["message"]["body"], "before the outage");

    // Down: a clear 503 with Retry-After, quickly — never a hang, never a crash.
    proxy.cut();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let r = client.say(&session, "during the outage").await;
        assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.body);
        assert!(r.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)));
        assert!(started.elapsed() < Duration::from_secs(12), "answered in {:?}", started.elapsed());
        let health = client.get("/api/chat/health", None).await;
        assert_eq!(health.status, 503, "{}", health.body);
    }

    // Back: the node reconnects by itself, writes succeed and realtime delivery resumes.
    proxy.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = client.say(&session, "after the outage").await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "only 503 while reconnecting: {}", r.body);
        assert!(std::time::Instant::now() < deadline, "the node reconnects within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut seen = Vec::new();
    while !seen.iter().any(|b| b == "after the outage") {
        let f = next_of(&mut agent_ws, &["message.created", "reset"]).await;
        assert_ne!(f["type"], "reset", "the socket's offset stays valid across the outage");
        seen.push(f["message"]["body"].as_str().unwrap_or_default().to_owned());
    }
    assert!(!seen.iter().any(|b| b == "during the outage"), "refused messages were not stored: {seen:?}");
    let history = client.history(&session).await;
    let bodies: Vec<&str> = history.iter().filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(bodies.iter().filter(|b| **b == "after the outage").count(), 1);
    assert!(!bodies.contains(&"during the outage"));
    node.stop().await;
}

// --- Outages: the broker goes away and comes back -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_falls_back_to_the_outbox_and_heals() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("a_broker_outage").await else { return };
    let Some(nats) = frontdesk_testkit::nats::nats_url("a_broker_outage").await else { return };
    let (_, upstream) = through_proxy(&nats, "127.0.0.1:1".parse().expect("addr"));
    let proxy = frontdesk_testkit::proxy::TcpProxy::start(upstream).await;
    let broker = format!("nats://{}?subject={}", proxy.addr, frontdesk_testkit::nats::unique_subject());
    let storage = vec!["--database-url".to_owned(), url];
    let org = provision(&storage).await;
    // The outbox is read every 3 s besides the broker's wake-ups: with the broker up a frame
    // crosses nodes in well under a second, without it within about 3 s.
    let a = Node::start_polling(&storage, &broker, "broker-a", 3_000).await;
    let b = Node::start_polling(&storage, &broker, "broker-b", 3_000).await;
    let visitor = ChatClient::new(&a.base, &org.site_key).with_origin(SHOP);
    let session = visitor.start().await;
    let agent = Agent::login(&b.base).await;
    let mut agent_ws = agent.socket(&b, "live=true").await;
    let mut expected = Vec::new();
    let mut received = Vec::new();
    // Sends on node A; returns how long node B's agent took to get it.
    async fn crossing(
        visitor: &ChatClient,
        session: &Session,
        ws: &mut Socket,
        text: String,
        expected: &mut Vec<String>,
        received: &mut Vec<String>,
    ) -> Duration {
        let started = std::time::Instant::now();
        assert_eq!(visitor.say(session, &text).await.status, 200);
        expected.push(text.clone());
        loop {
            let f = next_of(ws, &["message.created"]).await;
            let body = f["message"]["body"].as_str().unwrap_or_default().to_owned();
            if f["message"]["author_kind"] != "visitor" {
                continue;
            }
            received.push(body.clone());
            if body == text {
                return started.elapsed();
            }
        }
    }
    let fast = crossing(&visitor, &session, &mut agent_ws, "broker up".into(), &mut expected, &mut received).await;
    assert!(fast < Duration::from_millis(1500), "through the broker: {fast:?}");

    // NATS is gone: frames still cross nodes, through the outbox.
    proxy.cut();
    for i in 0..3 {
        let took =
            crossing(&visitor, &session, &mut agent_ws, format!("broker down {i}"), &mut expected, &mut received).await;
        assert!(took < Duration::from_secs(8), "through the outbox: {took:?}");
    }

    // NATS is back: the nodes reconnect by themselves and frames are fast again.
    proxy.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut i = 0;
    loop {
        let took =
            crossing(&visitor, &session, &mut agent_ws, format!("broker back {i}"), &mut expected, &mut received).await;
        if took < Duration::from_millis(800) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the broker path heals within 40 s");
        i += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Nothing lost, nothing twice, in order.
    assert_eq!(received, expected);
    a.stop().await;
    b.stop().await;
}
