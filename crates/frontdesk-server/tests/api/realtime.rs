//! WebSockets end to end: real routers on 127.0.0.1:0, real WebSocket clients
//! (tokio-tungstenite), real stores and brokers. Two "nodes" are two routers with separate state
//! on one PostgreSQL schema, connected by the PostgreSQL or the NATS broker.

use crate::support::{AgentClient, OWNER_EMAIL, PASSWORD, SHOP};
use frontdesk_core::chat::{Chat, StartSession};
use frontdesk_core::model::{Organization, Site};
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::FixedClock;
use frontdesk_core::roles::Role;
use frontdesk_core::store::Store;
use frontdesk_server::env::OsEntropy;
use frontdesk_server::frontdesk_realtime::{Broker, MemoryBroker, RealtimeConfig};
use frontdesk_server::webhooks::CURSOR_KEY;
use frontdesk_server::{Realtime, ServerConfig, admin};
use frontdesk_store_postgres::PgStore;
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use frontdesk_testkit::chat_api::{ChatClient, Session};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);
const START_MS: i64 = crate::support::START_MS;
const MEMBER: &str = "rt-member@northwind.test";

/// The tenants every realtime test uses, seeded once per database.
#[derive(Clone)]
struct World {
    org: Organization,
    site: Site,
    other_site: Site,
}

async fn seed(store: Arc<dyn Store>) -> World {
    let chat = Chat::new(store, Arc::new(FixedClock::at(START_MS)), Arc::new(OsEntropy));
    let org = admin::create_org(&chat, "Northwind", Plan::Pro).await.expect("org");
    let other = admin::create_org(&chat, "Contoso", Plan::Pro).await.expect("other org");
    admin::create_user(&chat, OWNER_EMAIL, "Olive Owner", PASSWORD, Some((org.id, Role::Owner))).await.expect("owner");
    admin::create_user(&chat, MEMBER, "Max Member", PASSWORD, Some((org.id, Role::Member))).await.expect("member");
    admin::create_user(&chat, "rt-outsider@contoso.test", "Otto", PASSWORD, Some((other.id, Role::Owner)))
        .await
        .expect("outsider");
    let mut site = admin::create_site(&chat, org.id, "Northwind shop", &[SHOP.to_owned()]).await.expect("site");
    // No automatic answers: these tests count messages exactly.
    site.assistant.enabled = false;
    chat.store.update_site(&site).await.expect("disable the assistant");
    let mut other_site =
        admin::create_site(&chat, other.id, "Contoso", &["https://other.example.org".to_owned()]).await.expect("site");
    other_site.assistant.enabled = false;
    chat.store.update_site(&other_site).await.expect("disable the assistant");
    World { org, site, other_site }
}

/// One server: a router with its own state over `store`.
struct Node {
    base: String,
    _shutdown: oneshot::Sender<()>,
}

fn roomy() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.rate_limits.sessions_per_minute_per_ip = 1000;
    c.rate_limits.logins_per_minute_per_ip = 1000;
    c.rate_limits.messages_per_minute_per_session = 10_000;
    c
}

impl Node {
    async fn start(store: Arc<dyn Store>, broker: Arc<dyn Broker>, config: RealtimeConfig) -> Node {
        Node::start_at(store, broker, config, Arc::new(FixedClock::at(START_MS))).await
    }

    /// As [`Node::start`], on this clock.
    async fn start_at(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        config: RealtimeConfig,
        clock: Arc<FixedClock>,
    ) -> Node {
        let realtime = Realtime { broker, config };
        let router = frontdesk_server::build_with_realtime(store, roomy(), clock, Arc::new(OsEntropy), realtime)
            .await
            .expect("build the router");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(frontdesk_server::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Node { base, _shutdown: tx }
    }

    fn ws(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    fn browser(&self, world: &World) -> ChatClient {
        ChatClient::new(&self.base, &world.site.public_key).with_origin(SHOP)
    }

    async fn agent(&self, email: &str) -> AgentClient {
        let agent = AgentClient::new(&self.base);
        let r = agent.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "login: {}", r.body);
        agent
    }

    fn widget_url(&self, world: &World, session: &Session, after_seq: Option<i64>) -> String {
        let mut url = self.ws(&format!("/api/chat/ws?key={}&token={}", world.site.public_key, session.token));
        if let Some(s) = after_seq {
            url.push_str(&format!("&after_seq={s}"));
        }
        url
    }
}

struct SqliteDir(PathBuf);

impl Drop for SqliteDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store on a fresh SQLite file.
async fn sqlite_store(name: &str) -> (Arc<dyn Store>, SqliteDir) {
    let dir = std::env::temp_dir().join(format!("frontdesk-rt-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite");
    (Arc::new(store), SqliteDir(dir))
}

/// One node on SQLite with the in-process broker.
async fn single_node(name: &str, config: RealtimeConfig) -> (Node, World, SqliteDir) {
    let (store, dir) = sqlite_store(name).await;
    let world = seed(store.clone()).await;
    let node = Node::start(store, Arc::new(MemoryBroker::new()), config).await;
    (node, world, dir)
}

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test WebSocket client.
struct Ws {
    stream: Stream,
    /// The highest inbox offset seen in any frame read (what a dashboard would keep).
    offset: i64,
}

/// The HTTP status and JSON error code of a refused handshake.
async fn refused(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    match try_connect(url, headers).await {
        Ok(_) => panic!("the handshake to {url} should have been refused"),
        Err(WsError::Http(response)) => {
            let body: Value =
                response.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            (response.status().as_u16(), body["error"]["code"].as_str().unwrap_or("").to_owned())
        }
        Err(other) => panic!("unexpected handshake error: {other}"),
    }
}

async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<Stream, WsError> {
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
        request.headers_mut().insert(name, HeaderValue::from_str(value).expect("header value"));
    }
    tokio_tungstenite::connect_async(request).await.map(|(s, _)| s)
}

impl Ws {
    async fn connect(url: &str, headers: &[(&str, &str)]) -> Ws {
        let stream = try_connect(url, headers).await.expect("the handshake succeeds");
        let mut ws = Ws { stream, offset: 0 };
        let hello = ws.next().await;
        assert_eq!((hello["v"].as_u64(), hello["type"].as_str()), (Some(1), Some("hello")), "{hello}");
        ws
    }

    async fn widget(node: &Node, world: &World, session: &Session, after_seq: Option<i64>) -> Ws {
        Ws::connect(&node.widget_url(world, session, after_seq), &[("Origin", SHOP)]).await
    }

    /// A widget (resuming from 0) whose socket has a 4 KB receive buffer: when it stops reading,
    /// the server's side of the connection fills up quickly. Its `hello` is left unread.
    async fn widget_with_small_buffer(node: &Node, world: &World, session: &Session) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let addr: std::net::SocketAddr = node.base.trim_start_matches("http://").parse().expect("addr");
        let tcp = socket.connect(addr).await.expect("connect");
        let mut request = node.widget_url(world, session, Some(0)).into_client_request().expect("request");
        request.headers_mut().insert("Origin", HeaderValue::from_static(SHOP));
        let (stream, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await.expect("handshake");
        Ws { stream, offset: 0 }
    }

    async fn agent(node: &Node, agent: &AgentClient, query: &str) -> Ws {
        let cookie = format!("fd_session={}", agent.cookie().expect("logged in"));
        Ws::connect(&node.ws(&format!("/api/app/ws{query}")), &[("Cookie", &cookie), ("Origin", &node.base)]).await
    }

    async fn send(&mut self, frame: Value) {
        self.stream.send(Message::Text(frame.to_string().into())).await.expect("send a frame");
    }

    /// The next JSON frame (pings skipped); panics on close or after the wait.
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait")
                .expect("the socket is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                    self.offset = self.offset.max(frame["offset"].as_i64().unwrap_or(0));
                    return frame;
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message: {other:?}"),
            }
        }
    }

    /// The next frame of this type, skipping presence and other types.
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Frames that arrive within `ms`.
    async fn drain(&mut self, ms: u64) -> Vec<Value> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                self.offset = self.offset.max(frame["offset"].as_i64().unwrap_or(0));
                frames.push(frame);
            }
        }
        frames
    }

    /// The close code the server ends with (frames before it are skipped).
    async fn close_code(&mut self) -> Option<u16> {
        // One deadline for the whole wait: heartbeat pings must not keep extending it.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await.expect("closed within the wait") {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

fn of_type<'a>(frames: &'a [Value], kind: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == kind).collect()
}

fn seqs(frames: &[Value]) -> Vec<i64> {
    of_type(frames, "message.created").iter().filter_map(|f| f["seq"].as_i64()).collect()
}

fn quick() -> RealtimeConfig {
    RealtimeConfig { poll_interval_ms: 100, ..RealtimeConfig::default() }
}

/// A visitor and an agent talk: each sees the other's messages, typing and read marks live.
async fn converse(visitor_node: &Node, agent_node: &Node, world: &World) {
    let browser = visitor_node.browser(world);
    let session = browser.start().await;
    let mut widget = Ws::widget(visitor_node, world, &session, Some(0)).await;
    let resumed = widget.next_of("resumed").await;
    assert_eq!((resumed["last_seq"].as_i64(), resumed["status"].as_str()), (Some(0), Some("active")));
    let owner = agent_node.agent(OWNER_EMAIL).await;
    let mut agent = Ws::agent(agent_node, &owner, "?live=true").await;
    let resumed = agent.next_of("resumed").await;
    let start = resumed["offset"].as_i64().expect("offset");

    assert_eq!(browser.say(&session, "Do you ship to Norway?").await.status, 200);
    let created = agent.next_of("message.created").await;
    assert_eq!(created["message"]["body"], "Do you ship to Norway?");
    assert_eq!((created["seq"].as_i64(), created["conversation_id"].as_str()), (Some(1), Some(session.id.as_str())));
    assert_eq!(created["org_id"], json!(world.org.id));
    assert!(created["offset"].as_i64().is_some_and(|o| o > start), "{created}");
    let own = widget.next_of("message.created").await;
    assert_eq!((own["seq"].as_i64(), own.get("offset")), (Some(1), None), "widgets see no inbox offsets");

    widget.send(json!({"v": 1, "type": "typing", "on": true})).await;
    let typing = agent.next_of("typing").await;
    assert_eq!((typing["from"].as_str(), typing["on"].as_bool()), (Some("visitor"), Some(true)), "{typing}");
    agent.send(json!({"type": "typing", "conversation_id": session.id, "on": true})).await;
    let typing = widget.next_of("typing").await;
    assert_eq!((typing["from"].as_str(), typing["on"].as_bool()), (Some("agent"), Some(true)), "{typing}");

    let path = format!("/api/app/orgs/{}/conversations/{}/messages", world.org.id, session.id);
    assert_eq!(owner.post(&path, &json!({"content": "Yes, in 3 days."})).await.status, 201);
    let reply = widget.next_of("message.created").await;
    assert_eq!((reply["seq"].as_i64(), reply["message"]["author_kind"].as_str()), (Some(2), Some("agent")));
    let status = widget.next_of("conversation.status_changed").await;
    assert_eq!((status["from"].as_str(), status["to"].as_str()), (Some("active"), Some("escalated")));
    let escalation = agent.next_of("notification").await;
    assert_eq!(escalation["kind"], "escalation");

    widget.send(json!({"type": "read", "seq": 2})).await;
    let read = agent.next_of("read").await;
    assert_eq!((read["by"].as_str(), read["seq"].as_i64()), (Some("visitor"), Some(2)));
    agent.send(json!({"type": "ping", "nonce": 7})).await;
    assert_eq!(agent.next_of("pong").await["nonce"], 7);
}

#[tokio::test]
async fn a_visitor_and_an_agent_converse_live() {
    let (node, world, _dir) = single_node("converse", quick()).await;
    converse(&node, &node, &world).await;
}

#[tokio::test]
async fn a_visitor_and_an_agent_converse_live_on_postgres() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("realtime::converse_on_postgres").await else { return };
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.expect("postgres"));
    let world = seed(store.clone()).await;
    let node = Node::start(store, Arc::new(MemoryBroker::new()), quick()).await;
    converse(&node, &node, &world).await;
    frontdesk_testkit::pg::drop_schema(&url).await;
}

#[tokio::test]
async fn a_widget_that_reconnects_gets_exactly_what_it_missed() {
    let (node, world, _dir) = single_node("widget-resume", quick()).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let mut widget = Ws::widget(&node, &world, &session, None).await;
    widget.send(json!({"type": "resume", "after_seq": 0})).await;
    widget.next_of("resumed").await;
    for text in ["one", "two"] {
        assert_eq!(browser.say(&session, text).await.status, 200);
    }
    assert_eq!(widget.next_of("message.created").await["seq"], 1);
    assert_eq!(widget.next_of("message.created").await["seq"], 2);
    // The connection dies without a goodbye; three messages are sent meanwhile.
    drop(widget);
    let owner = node.agent(OWNER_EMAIL).await;
    let path = format!("/api/app/orgs/{}/conversations/{}/messages", world.org.id, session.id);
    assert_eq!(browser.say(&session, "three").await.status, 200);
    assert_eq!(owner.post(&path, &json!({"content": "four"})).await.status, 201);
    assert_eq!(browser.say(&session, "five").await.status, 200);

    let mut widget = Ws::widget(&node, &world, &session, Some(2)).await;
    let mut frames = Vec::new();
    loop {
        let f = widget.next().await;
        let done = f["type"] == "resumed";
        frames.push(f);
        if done {
            break;
        }
    }
    assert_eq!(seqs(&frames), vec![3, 4, 5], "exactly the missed messages, in order");
    let bodies: Vec<&str> =
        of_type(&frames, "message.created").iter().filter_map(|f| f["message"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["three", "four", "five"]);
    assert_eq!(frames.last().map(|f| f["last_seq"].clone()), Some(json!(5)));
    assert_eq!(browser.say(&session, "six").await.status, 200);
    let later = widget.drain(600).await;
    assert_eq!(seqs(&later), vec![6], "then live, with no duplicate");
    // A second resume on the same connection is refused, without closing it.
    widget.send(json!({"type": "resume", "after_seq": 0})).await;
    assert_eq!(widget.next_of("error").await["code"], "already_resumed");
}

#[tokio::test]
async fn resuming_while_messages_arrive_loses_and_duplicates_nothing() {
    let (node, world, _dir) = single_node("resume-race", quick()).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let writer = {
        let (browser, session) = (browser.clone(), session.clone());
        tokio::spawn(async move {
            for i in 0..40 {
                assert_eq!(browser.say(&session, &format!("m{i}")).await.status, 200);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut widget = Ws::widget(&node, &world, &session, Some(0)).await;
    writer.await.expect("writer");
    let mut got = Vec::new();
    while got.len() < 40 {
        let f = widget.next().await;
        if let Some(seq) = f["seq"].as_i64().filter(|_| f["type"] == "message.created") {
            got.push(seq);
        }
    }
    assert_eq!(got, (1..=40).collect::<Vec<i64>>());
    assert!(seqs(&widget.drain(400).await).is_empty(), "nothing twice");
}

#[tokio::test]
async fn an_agent_resumes_from_its_offset_and_gets_reset_when_it_is_too_old() {
    let config = RealtimeConfig { resume_window_events: 5, ..quick() };
    let (node, world, _dir) = single_node("agent-resume", config).await;
    let owner = node.agent(OWNER_EMAIL).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let mut agent = Ws::agent(&node, &owner, "").await;
    agent.send(json!({"type": "resume"})).await;
    agent.next_of("resumed").await;
    assert_eq!(browser.say(&session, "first").await.status, 200);
    let first = agent.next_of("message.created").await;
    let offset = first["offset"].as_i64().expect("offset");
    drop(agent);

    // Missed: two messages, of which the second is in another organization's... no: the other
    // organization's conversation must not show up at all.
    let other = ChatClient::new(&node.base, &world.other_site.public_key);
    let other_session = other.start().await;
    assert_eq!(other.say(&other_session, "not yours").await.status, 200);
    assert_eq!(browser.say(&session, "second").await.status, 200);
    assert_eq!(browser.say(&session, "third").await.status, 200);

    let mut agent = Ws::agent(&node, &owner, &format!("?offset={offset}")).await;
    let mut frames = Vec::new();
    loop {
        let f = agent.next().await;
        let done = f["type"] == "resumed";
        frames.push(f);
        if done {
            break;
        }
    }
    let bodies: Vec<&str> =
        of_type(&frames, "message.created").iter().filter_map(|f| f["message"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["second", "third"], "exactly the missed messages of the agent's organization");
    let offsets: Vec<i64> = frames.iter().filter_map(|f| f["offset"].as_i64()).collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]) && offsets.iter().all(|o| *o > offset), "{offsets:?}");
    assert_eq!(browser.say(&session, "fourth").await.status, 200);
    let live = agent.next_of("message.created").await;
    assert_eq!(live["message"]["body"], "fourth", "then live, nothing twice");
    drop(agent);

    // From the very beginning: older than the window of 5 events.
    let mut agent = Ws::agent(&node, &owner, "?offset=0").await;
    let reset = agent.next().await;
    assert_eq!(reset["type"], "reset", "{reset}");
    assert!(reset["offset"].as_i64().is_some_and(|o| o > offset));
    assert_eq!(browser.say(&session, "fifth").await.status, 200);
    assert_eq!(agent.next_of("message.created").await["message"]["body"], "fifth", "live after the reset");
}

/// Every outbox id, oldest first.
async fn outbox_ids(store: &dyn Store) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let page = store.outbox_after(ids.last().copied().unwrap_or(0), 1000).await.expect("outbox");
        if page.is_empty() {
            return ids;
        }
        ids.extend(page.iter().map(|e| e.id));
    }
}

/// The retention job prunes outbox events older than a week, only those the webhook dispatcher
/// has enqueued and only below the resume window; an agent resuming within the window still gets
/// exactly what it missed, and an older offset gets `reset`.
async fn the_retention_job_prunes_the_outbox(store: Arc<dyn Store>) {
    const WINDOW: i64 = 3;
    let world = seed(store.clone()).await;
    let clock = Arc::new(FixedClock::at(START_MS));
    let chat = Chat::new(store.clone(), clock.clone(), Arc::new(OsEntropy));
    let conversation = chat.start_session(&world.site, StartSession::default()).await.expect("session").0.id;
    let say = |text: String| {
        let chat = chat.clone();
        let site = world.site.clone();
        async move { chat.visitor_message(&site, conversation, &text, None).await.expect("message") }
    };
    let pass = || async {
        clock.advance_seconds(2);
        frontdesk_server::retention::run_once(&chat, 1, WINDOW).await.expect("the pass").expect("claimed");
    };
    // No node runs yet: nothing moves the webhook cursor but this test.
    for i in 1..=5 {
        say(format!("old {i}")).await;
    }
    let old = outbox_ids(&*store).await;
    assert_eq!(old.len(), 6, "conversation.created and five messages");
    // The dispatcher enqueued the first three, then its node went down.
    let cursor = old[2].to_string();
    assert_eq!(store.get_or_init_setting(CURSOR_KEY, &cursor).await.expect("cursor"), cursor);
    clock.advance_seconds(8 * 86_400);
    for i in 1..=2 {
        say(format!("recent {i}")).await;
    }
    let all = outbox_ids(&*store).await;
    let (recent, head) = (all[old.len()..].to_vec(), all[all.len() - 1]);

    pass().await;
    let kept: Vec<i64> = all.iter().copied().filter(|id| *id > old[2]).collect();
    assert_eq!(outbox_ids(&*store).await, kept, "only what the dispatcher has enqueued goes");

    // The dispatcher catches up: now the resume window is the bound (ids are consecutive on a
    // fresh database, so an old event is within it).
    assert!(store.compare_and_set_setting(CURSOR_KEY, &cursor, &head.to_string()).await.expect("cursor"));
    pass().await;
    let kept: Vec<i64> = all.iter().copied().filter(|id| *id > head - WINDOW).collect();
    assert!(kept.contains(&old[5]), "{kept:?}");
    assert_eq!(outbox_ids(&*store).await, kept, "the last {WINDOW} ids stay for resuming agents");

    // With more recent events the window moves past the old ones: those go, recent ones stay
    // whatever the bound.
    for i in 3..=5 {
        say(format!("recent {i}")).await;
    }
    let now = outbox_ids(&*store).await;
    let head = now[now.len() - 1];
    let cursor = store.get_or_init_setting(CURSOR_KEY, "0").await.expect("cursor");
    assert!(store.compare_and_set_setting(CURSOR_KEY, &cursor, &head.to_string()).await.expect("cursor"));
    pass().await;
    let survivors = outbox_ids(&*store).await;
    assert!(recent.iter().all(|id| *id <= head - WINDOW), "the bound passes the first recent events");
    assert_eq!(survivors[..recent.len()], recent[..], "younger than a week: kept");
    assert_eq!(survivors.len(), recent.len() + 3, "{survivors:?}");

    // A node on this database: an agent within the window replays what it missed; an offset whose
    // events may be gone gets `reset`.
    let config = RealtimeConfig { resume_window_events: WINDOW, ..quick() };
    let node = Node::start_at(store.clone(), Arc::new(MemoryBroker::new()), config, clock.clone()).await;
    let owner = node.agent(OWNER_EMAIL).await;
    let mut agent = Ws::agent(&node, &owner, &format!("?offset={}", head - WINDOW)).await;
    let mut bodies = Vec::new();
    loop {
        let f = agent.next().await;
        if f["type"] == "resumed" {
            assert_eq!(f["offset"].as_i64(), Some(head), "{f}");
            break;
        }
        if f["type"] == "message.created" {
            bodies.push(f["message"]["body"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(bodies, ["recent 3", "recent 4", "recent 5"]);
    drop(agent);
    let mut agent = Ws::agent(&node, &owner, &format!("?offset={}", old[2])).await;
    let reset = agent.next_of("reset").await;
    assert_eq!(reset["offset"].as_i64(), Some(head), "{reset}");
}

#[tokio::test]
async fn the_retention_job_prunes_the_outbox_on_sqlite() {
    let (store, _dir) = sqlite_store("outbox-pruning").await;
    the_retention_job_prunes_the_outbox(store).await;
}

#[tokio::test]
async fn the_retention_job_prunes_the_outbox_on_postgres() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("realtime::outbox_pruning").await else { return };
    the_retention_job_prunes_the_outbox(Arc::new(PgStore::connect(&url).await.expect("postgres"))).await;
    frontdesk_testkit::pg::drop_schema(&url).await;
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_with_4008_and_can_resume() {
    let config =
        RealtimeConfig { send_queue: 8, client_frames_per_second: 1_000_000, write_timeout_secs: 20, ..quick() };
    let (node, world, _dir) = single_node("slow-consumer", config).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    // A widget that does not read, with a small receive buffer.
    let mut slow = Ws::widget_with_small_buffer(&node, &world, &session).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // An agent floods the conversation with typing signals.
    let member = node.agent(MEMBER).await;
    let mut flood = Ws::agent(&node, &member, "?live=true").await;
    let on = json!({"type": "typing", "conversation_id": session.id, "on": true}).to_string();
    for _ in 0..20_000 {
        flood.stream.feed(Message::Text(on.clone().into())).await.expect("feed");
    }
    flood.stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(slow.close_code().await, Some(4008), "closed as a slow consumer");
    // It resumes: nothing was lost (typing is not stored, messages are).
    assert_eq!(browser.say(&session, "still there?").await.status, 200);
    let mut widget = Ws::widget(&node, &world, &session, Some(0)).await;
    assert_eq!(widget.next_of("message.created").await["message"]["body"], "still there?");
    // The flooding agent was never affected.
    flood.send(json!({"type": "ping"})).await;
    flood.next_of("pong").await;
    drop(flood);
}

#[tokio::test]
async fn client_frames_are_limited_and_checked() {
    let config = RealtimeConfig { client_frames_per_second: 5, max_frame_bytes: 512, ..quick() };
    let (node, world, _dir) = single_node("limits", config).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let mut widget = Ws::widget(&node, &world, &session, Some(0)).await;
    widget.send(json!({"type": "dance"})).await;
    assert_eq!(widget.next_of("error").await["code"], "malformed_frame");
    widget.send(json!({"type": "ping", "nonce": "x".repeat(600)})).await;
    assert_eq!(widget.close_code().await, Some(1009), "a frame above max_frame_bytes");

    let mut widget = Ws::widget(&node, &world, &session, Some(0)).await;
    for _ in 0..30 {
        if widget.stream.send(Message::Text(json!({"type": "ping"}).to_string().into())).await.is_err() {
            break;
        }
    }
    assert_eq!(widget.close_code().await, Some(4009), "rate limited");
}

/// The hub writes live frames straight into the socket; what the socket cannot take waits in the
/// connection's backlog. A reader that stops reading while thousands of frames arrive still gets
/// every one of them, whole (no frame split by another) and in order, once it reads again.
#[tokio::test]
async fn a_reader_that_falls_behind_gets_every_frame_whole_and_in_order() {
    let config = RealtimeConfig {
        send_queue: 1_000_000,
        client_frames_per_second: 1_000_000,
        write_timeout_secs: 30,
        ..quick()
    };
    let (node, world, _dir) = single_node("backlog", config).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    // A widget with a small receive buffer, so the server's side fills up while it is not read.
    let mut behind = Ws::widget_with_small_buffer(&node, &world, &session).await;
    behind.next_of("resumed").await;

    // While it reads nothing, an agent sends 20,000 read marks (~2 MB of frames) and a message.
    let member = node.agent(MEMBER).await;
    let mut agent = Ws::agent(&node, &member, "?live=true").await;
    agent.next_of("resumed").await;
    const MARKS: i64 = 20_000;
    for seq in 1..=MARKS {
        let mark = json!({"type": "read", "conversation_id": session.id, "seq": seq}).to_string();
        agent.stream.feed(Message::Text(mark.into())).await.expect("feed");
    }
    agent.stream.flush().await.expect("flush");
    // The server reads an agent's frames in order: its pong means every mark was delivered.
    agent.send(json!({"type": "ping"})).await;
    agent.next_of("pong").await;
    let path = format!("/api/app/orgs/{}/conversations/{}/messages", world.org.id, session.id);
    assert_eq!(member.post(&path, &json!({"content": "after the marks"})).await.status, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Every frame parses (`next` panics otherwise), the marks come in order, then the message.
    let mut expected = 1;
    let last = loop {
        let frame = behind.next().await;
        match frame["type"].as_str() {
            Some("read") => {
                assert_eq!(frame["seq"], expected, "read marks arrive in order, none missing");
                expected += 1;
            }
            Some("message.created") => break frame,
            _ => {}
        }
    };
    assert_eq!(expected, MARKS + 1, "every read mark arrived before the message");
    assert_eq!(last["message"]["body"], "after the marks");
}

#[tokio::test]
async fn handshakes_are_authenticated_like_the_rest_api() {
    let (node, world, _dir) = single_node("auth", quick()).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let key = &world.site.public_key;
    let url = |key: &str, token: &str| node.ws(&format!("/api/chat/ws?key={key}&token={token}"));

    assert_eq!(refused(&url(key, "forged.token"), &[("Origin", SHOP)]).await, (401, "invalid_token".to_owned()));
    assert_eq!(refused(&node.ws("/api/chat/ws"), &[("Origin", SHOP)]).await, (401, "missing_api_key".to_owned()));
    assert_eq!(
        refused(&url(&world.other_site.public_key, &session.token), &[]).await,
        (404, "not_found".to_owned()),
        "another site's key with this session's token"
    );
    assert_eq!(
        refused(&url(key, &session.token), &[("Origin", "https://evil.example")]).await,
        (403, "origin_not_allowed".to_owned())
    );
    assert_eq!(refused(&node.ws("/api/app/ws"), &[]).await, (401, "not_authenticated".to_owned()));
    let owner = node.agent(OWNER_EMAIL).await;
    let cookie = format!("fd_session={}", owner.cookie().expect("cookie"));
    assert_eq!(
        refused(&node.ws("/api/app/ws"), &[("Cookie", &cookie), ("Origin", "https://evil.example")]).await,
        (403, "origin_not_allowed".to_owned()),
        "cross-site WebSocket hijacking"
    );
    assert_eq!(refused(&node.ws("/api/app/ws"), &[("Cookie", "fd_session=nope")]).await.0, 401);

    // A request that is authenticated but not a WebSocket upgrade gets the API's JSON error.
    let plain = reqwest::Client::new()
        .get(format!("{}/api/chat/ws?key={key}&token={}", node.base, session.token))
        .header("Origin", SHOP)
        .send()
        .await
        .expect("request");
    assert_eq!(plain.status(), 400);
    let body: Value = plain.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "malformed_request");

    // An outsider's socket sees nothing of this organization, and cannot type in it.
    let outsider = node.agent("rt-outsider@contoso.test").await;
    let mut theirs = Ws::agent(&node, &outsider, "?live=true").await;
    theirs.next_of("resumed").await;
    theirs.send(json!({"type": "typing", "conversation_id": session.id, "on": true})).await;
    assert_eq!(theirs.next_of("error").await["code"], "not_found");
    assert_eq!(browser.say(&session, "private").await.status, 200);
    assert!(of_type(&theirs.drain(500).await, "message.created").is_empty());
}

#[tokio::test]
async fn a_frame_sent_right_behind_the_upgrade_request_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (node, world, _dir) = single_node("pipelined", quick()).await;
    let session = node.browser(&world).start().await;
    // The handshake and a client frame in one write, before the server's 101 is read: the
    // frame reaches the server together with the request, so the server has it buffered
    // already when it takes the connection over.
    let path = format!("/api/chat/ws?key={}&token={}", world.site.public_key, session.token);
    let host = node.base.trim_start_matches("http://").to_owned();
    let mut bytes = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {SHOP}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    let payload = br#"{"type":"ping","nonce":"right-behind"}"#;
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    bytes.extend_from_slice(&[0x81, 0x80 | payload.len() as u8]);
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let mut tcp = TcpStream::connect(&host).await.expect("connect");
    tcp.write_all(&bytes).await.expect("write");

    let mut seen = Vec::new();
    let answered = tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains(r#""type":"pong""#) {
                return text.into_owned();
            }
        }
    })
    .await
    .expect("a pong within the wait");
    assert!(answered.starts_with("HTTP/1.1 101"), "{answered}");
    assert!(answered.contains(r#""nonce":"right-behind""#), "{answered}");
}

/// Two nodes on one PostgreSQL schema: a visitor on A and an agent on B converse; the agent's
/// connection moves to A and resumes with no gap.
async fn two_nodes(url: &str, broker_a: Arc<dyn Broker>, broker_b: Arc<dyn Broker>) {
    // The outbox poll is slow here: only the broker's wake-ups make delivery fast.
    let config = RealtimeConfig { poll_interval_ms: 30_000, ..RealtimeConfig::default() };
    let store_a: Arc<dyn Store> = Arc::new(PgStore::connect(url).await.expect("postgres"));
    let store_b: Arc<dyn Store> = Arc::new(PgStore::connect(url).await.expect("postgres"));
    let world = seed(store_a.clone()).await;
    let a = Node::start(store_a, broker_a, config.clone()).await;
    let b = Node::start(store_b, broker_b, config).await;

    let browser = a.browser(&world);
    let session = browser.start().await;
    let mut widget = Ws::widget(&a, &world, &session, Some(0)).await;
    widget.next_of("resumed").await;
    let owner = b.agent(OWNER_EMAIL).await;
    let mut agent = Ws::agent(&b, &owner, "?live=true").await;
    agent.next_of("resumed").await;
    let fast = Duration::from_secs(5);

    let sent = std::time::Instant::now();
    assert_eq!(browser.say(&session, "hello from A").await.status, 200);
    let created = agent.next_of("message.created").await;
    assert_eq!(created["message"]["body"], "hello from A");
    assert!(sent.elapsed() < fast, "delivered by the broker's wake-up, not the slow poll");
    let path = format!("/api/app/orgs/{}/conversations/{}/messages", world.org.id, session.id);
    assert_eq!(owner.post(&path, &json!({"content": "hello from B"})).await.status, 201);
    assert_eq!(widget.next_of("message.created").await["message"]["body"], "hello from A", "its own, first");
    assert_eq!(widget.next_of("message.created").await["message"]["body"], "hello from B");

    widget.send(json!({"type": "typing", "on": true})).await;
    assert_eq!(agent.next_of("typing").await["from"], "visitor");
    agent.send(json!({"type": "typing", "conversation_id": session.id, "on": false})).await;
    let typing = widget.next_of("typing").await;
    assert_eq!((typing["from"].as_str(), typing["on"].as_bool()), (Some("agent"), Some(false)));

    // The agent's last offset, then its connection drops; the visitor goes on meanwhile.
    agent.drain(500).await;
    let last = agent.offset;
    drop(agent);
    for text in ["while away 1", "while away 2"] {
        assert_eq!(browser.say(&session, text).await.status, 200);
    }
    // It reconnects to node A.
    let owner_on_a = AgentClient::new(&a.base);
    *owner_on_a.cookie.lock().expect("cookie") = owner.cookie();
    let mut agent = Ws::agent(&a, &owner_on_a, &format!("?offset={last}")).await;
    let mut frames = Vec::new();
    loop {
        let f = agent.next().await;
        let done = f["type"] == "resumed";
        frames.push(f);
        if done {
            break;
        }
    }
    let bodies: Vec<&str> =
        of_type(&frames, "message.created").iter().filter_map(|f| f["message"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["while away 1", "while away 2"], "no gap, nothing twice");
    assert_eq!(browser.say(&session, "back live").await.status, 200);
    assert_eq!(agent.next_of("message.created").await["message"]["body"], "back live");
    assert!(of_type(&agent.drain(300).await, "message.created").is_empty());
}

#[tokio::test]
async fn two_nodes_on_the_postgres_broker() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("realtime::two_nodes_on_the_postgres_broker").await
    else {
        return;
    };
    let a = frontdesk_server::frontdesk_realtime::connect_broker("postgres", Some(&url)).await.expect("broker A");
    let b = frontdesk_server::frontdesk_realtime::connect_broker("postgres", Some(&url)).await.expect("broker B");
    two_nodes(&url, a, b).await;
    frontdesk_testkit::pg::drop_schema(&url).await;
}

#[tokio::test]
async fn two_nodes_on_the_nats_broker() {
    let Some(nats) = frontdesk_testkit::nats::nats_url("realtime::two_nodes_on_the_nats_broker").await else { return };
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("realtime::two_nodes_on_the_nats_broker").await else {
        return;
    };
    let setting = format!("{nats}?subject={}", frontdesk_testkit::nats::unique_subject());
    let a = frontdesk_server::frontdesk_realtime::connect_broker(&setting, None).await.expect("broker A");
    let b = frontdesk_server::frontdesk_realtime::connect_broker(&setting, None).await.expect("broker B");
    two_nodes(&url, a, b).await;
    frontdesk_testkit::pg::drop_schema(&url).await;
}

/// While the assistant works the widget sees a "thinking" stage and the answer streaming in, and
/// then the stored reply, which is what a reconnecting client gets.
#[tokio::test]
async fn the_assistant_shows_it_is_thinking_and_streams_its_answer() {
    let (node, world, _dir) = single_node("assistant_stream", quick()).await;
    let raw = "Delivery to Belgium takes 1–2 working days [P1].";
    let llm = crate::assistant::fake_llm(raw, 200).await;
    let owner = node.agent(OWNER_EMAIL).await;
    let article = owner
        .post(
            &format!("/api/app/orgs/{}/articles", world.org.id),
            &json!({"site_id": world.site.id, "title": "Shipping and delivery", "body": crate::assistant::SHIPPING,
                    "status": "published"}),
        )
        .await;
    assert_eq!(article.status, 201, "{}", article.body);
    let assistant = json!({"enabled": true, "provider": {"kind": "openai", "base_url": llm, "model": "test"}});
    let site = owner
        .patch(&format!("/api/app/orgs/{}/sites/{}", world.org.id, world.site.id), &json!({ "assistant": assistant }))
        .await;
    assert_eq!(site.status, 200, "{}", site.body);

    let client = node.browser(&world);
    let s = client.start().await;
    let mut ws = Ws::widget(&node, &world, &s, Some(0)).await;
    ws.next_of("resumed").await;
    let r = client.say(&s, "How many working days does delivery to Belgium take?").await;
    assert_eq!(r.body["reply"]["body"], "Delivery to Belgium takes 1–2 working days.", "{}", r.body);

    let frames = ws.drain(1500).await;
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).filter(|k| *k != "presence").collect();
    let thinking = of_type(&frames, "thinking");
    assert_eq!(thinking.first().map(|f| f["stage"].clone()), Some(json!("Searching the help center…")), "{kinds:?}");
    assert_eq!(thinking.last().map(|f| f["stage"].clone()), Some(Value::Null), "the indicator is cleared");
    let streamed: String = of_type(&frames, "message.delta").iter().filter_map(|f| f["text"].as_str()).collect();
    assert_eq!(streamed, raw, "every piece of the answer was streamed");
    assert_eq!(seqs(&frames), [1, 2], "the visitor's message, then the stored answer");
    let first_delta = kinds.iter().position(|k| *k == "message.delta").expect("deltas");
    let last_created = kinds.iter().rposition(|k| *k == "message.created").expect("created");
    assert!(first_delta < last_created, "the stored answer follows its pieces: {kinds:?}");
}

#[tokio::test]
async fn logging_out_or_losing_the_membership_closes_open_agent_sockets() {
    let config = RealtimeConfig { heartbeat_secs: 1, ..quick() };
    let (node, world, _dir) = single_node("revocation", config).await;
    let owner = node.agent(OWNER_EMAIL).await;
    let member = node.agent(MEMBER).await;

    // A second login of the member keeps its socket when the first one logs out.
    let other_login = node.agent(MEMBER).await;
    let mut kept = Ws::agent(&node, &other_login, "?live=true").await;
    let mut socket = Ws::agent(&node, &member, "?live=true").await;
    assert_eq!(member.post("/api/app/logout", &json!({})).await.status, 204);
    assert_eq!(socket.close_code().await, Some(4001), "logged out: the socket ends within a heartbeat");
    kept.send(json!({"type": "ping"})).await;
    kept.next_of("pong").await;

    // Removed from the organization: the open socket is told its access changed.
    let me = other_login.get("/api/app/me").await;
    let member_id = me.body["user"]["id"].as_str().unwrap_or_default().to_owned();
    let removed =
        owner.send(reqwest::Method::DELETE, &format!("/api/app/orgs/{}/members/{member_id}", world.org.id), None).await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    assert_eq!(kept.close_code().await, Some(4003));
    // And a new socket carries nothing of that organization.
    let cookie = format!("fd_session={}", other_login.cookie().expect("logged in"));
    let url = node.ws("/api/app/ws?live=true");
    let mut fresh = Ws {
        stream: try_connect(&url, &[("Cookie", &cookie), ("Origin", &node.base)]).await.expect("connect"),
        offset: 0,
    };
    let hello = fresh.next().await;
    assert_eq!((hello["type"].as_str(), hello["org_ids"].clone()), (Some("hello"), json!([])), "{hello}");
}

#[tokio::test]
async fn revoking_a_sessions_tokens_closes_its_widget_socket_and_refuses_the_token() {
    let config = RealtimeConfig { heartbeat_secs: 1, ..quick() };
    let (node, world, _dir) = single_node("token-revocation", config).await;
    let browser = node.browser(&world);
    let session = browser.start().await;
    let mut widget = Ws::widget(&node, &world, &session, Some(0)).await;
    // Another visitor's socket on the same node, checked by the same sweep.
    let other = browser.start().await;
    let mut bystander = Ws::widget(&node, &world, &other, Some(0)).await;
    bystander.next_of("resumed").await;
    let owner = node.agent(OWNER_EMAIL).await;
    let revoked = owner
        .post(&format!("/api/app/orgs/{}/conversations/{}/revoke-tokens", world.org.id, session.id), &json!({}))
        .await;
    assert_eq!((revoked.status, revoked.body["token_generation"].clone()), (200, json!(1)), "{:?}", revoked.body);
    assert_eq!(widget.close_code().await, Some(4001), "the open socket ends within a heartbeat");
    // The other session's socket lives on through the sweeps since.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(browser.say(&other, "I am still here").await.status, 200);
    assert_eq!(bystander.next_of("message.created").await["message"]["body"], "I am still here");
    let r = browser.say(&session, "still me?").await;
    assert_eq!((r.status, r.code()), (401, "token_expired"), "{:?}", r.body);
    let (status, code) = refused(&node.widget_url(&world, &session, Some(0)), &[("Origin", SHOP)]).await;
    assert_eq!((status, code.as_str()), (401, "token_expired"));
}
