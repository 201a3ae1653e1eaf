//! WebSockets: `GET /api/chat/ws` for the widget and `GET /api/app/ws` for agents.
//!
//! The socket only carries what follows from the REST API (messages are sent with `POST`); the
//! protocol is in `docs/protocol.md` and its frames in `frontdesk_realtime::frames`. Each
//! connection is one task holding the socket, a heartbeat timer and a token bucket for the
//! client's frames. Until it has caught up, the hub queues its frames; then the hub writes them
//! straight into the socket ([`link`]), so a live delivery does not wake the task at all.

mod link;
mod sessions;
mod upgrade;

pub use sessions::WidgetSessions;

use crate::app_api::Agent;
use crate::chat_api::{API_KEY_HEADER, SessionCtx, authorize};
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Extension, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use frontdesk_core::chat::HISTORY_PAGE;
use frontdesk_core::roles::Permission;
use frontdesk_core::store::StoreError;
use frontdesk_core::{ConversationId, OrgId, SiteId, UserId};
use frontdesk_realtime::frames::{self, ClientFrame, Hello};
use frontdesk_realtime::hub::ConnectionGuard;
use frontdesk_realtime::{EphemeralEvent, Party, Subscription, close};
use futures::{SinkExt, StreamExt};
use link::{Link, LinkStream};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use upgrade::{Upgrade, Upgraded};

type Socket = WebSocketStream<LinkStream>;

/// The socket's read buffer: client frames are small (typing, read marks), so a small buffer
/// keeps idle connections cheap. Larger frames still work, up to `max_frame_bytes`.
const READ_BUFFER: usize = 1024;
/// Bytes that may wait in the socket's write buffer before a send waits.
const MAX_WRITE_BUFFER: usize = 64 * 1024;
/// Conversations an agent connection remembers having checked (typing, read marks).
const CHECKED_CONVERSATIONS: usize = 1024;

/// The close reason of a draining server (code 1001).
pub const GOING_AWAY_REASON: &str = "server shutting down: reconnect (any node) and resume";

/// Graceful shutdown of the sockets, which outlive the HTTP requests that opened them: once
/// started, every connection sends close 1001 ([`GOING_AWAY_REASON`]) and ends. Each connection
/// holds a clone of `alive`; [`crate::serve`] waits until none is left.
#[derive(Clone)]
pub struct Drain {
    started: tokio::sync::watch::Receiver<bool>,
    /// Never sent on: its clones are counted by being dropped.
    _alive: tokio::sync::mpsc::Sender<()>,
}

impl Drain {
    /// The handle for the connections, the switch that starts draining, and the receiver that
    /// yields `None` once every connection (and every handle) is gone.
    pub fn new() -> (Drain, tokio::sync::watch::Sender<bool>, tokio::sync::mpsc::Receiver<()>) {
        let (start, started) = tokio::sync::watch::channel(false);
        let (alive, gone) = tokio::sync::mpsc::channel(1);
        (Drain { started, _alive: alive }, start, gone)
    }

    async fn started(&mut self) {
        // An error means the switch was dropped: the server is gone, so drain too.
        let _ = self.started.wait_for(|s| *s).await;
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/chat/ws", get(widget_ws)).route("/api/app/ws", get(agent_ws))
}

/// After every successful state-changing request, the outbox follower reads at once (the
/// request may have committed outbox events) and tells the other nodes.
pub async fn wake_after_writes(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(req).await;
    if write && response.status().is_success() {
        st.hub.wake();
    }
    response
}

#[derive(Debug, Default, Deserialize)]
struct WidgetQuery {
    /// The site's public key (browsers cannot set `X-API-Key` on a WebSocket).
    key: Option<String>,
    /// The session token (browsers cannot set `Authorization` either).
    token: Option<String>,
    /// Resume at once from this sequence number (same as a first `resume` frame).
    after_seq: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct AgentQuery {
    /// Resume at once from this inbox offset.
    offset: Option<i64>,
    /// Resume at once, live from now (`?live=true`), without an offset.
    live: Option<bool>,
}

fn query<T: serde::de::DeserializeOwned + Default>(parts: &Parts) -> Result<T, ApiError> {
    if parts.uri.query().is_none() {
        return Ok(T::default());
    }
    Query::<T>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::new(ErrorCode::MalformedRequest, "malformed query parameters"))
}

/// A widget's session, checked exactly as the REST API checks it: key, Origin allowlist, token
/// signature, the session belonging to the key's site, generation and expiry.
struct WidgetAuth {
    site_id: SiteId,
    org_id: OrgId,
    conversation_id: ConversationId,
    generation: i64,
    after_seq: Option<i64>,
}

impl FromRequestParts<AppState> for WidgetAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let q: WidgetQuery = query(parts)?;
        if !parts.headers.contains_key(API_KEY_HEADER)
            && let Some(value) = q.key.as_deref().and_then(|k| HeaderValue::from_str(k).ok())
        {
            parts.headers.insert(API_KEY_HEADER, value);
        }
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && let Some(value) = q.token.as_deref().and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            parts.headers.insert(header::AUTHORIZATION, value);
        }
        let ctx = SessionCtx::from_request_parts(parts, st).await?;
        let conversation = authorize(st, &ctx, ctx.claims.session_id).await?;
        Ok(WidgetAuth {
            site_id: conversation.site_id,
            org_id: conversation.org_id,
            conversation_id: conversation.id,
            generation: ctx.claims.generation,
            after_seq: q.after_seq,
        })
    }
}

/// An agent: the login cookie, from this server's own origin when the browser names one
/// (cross-site WebSocket hijacking), and the organizations whose conversations they may read.
struct AgentAuth {
    user: UserId,
    /// The login session's token hash, checked again on every heartbeat.
    session_hash: String,
    /// Organizations whose conversations the agent reads.
    orgs: Vec<OrgId>,
    /// Of those, the ones where the agent may also handle them (typing).
    handles: Vec<OrgId>,
    resume: Option<Option<i64>>,
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let q: AgentQuery = query(parts)?;
        if let Some(origin) = http::header_str(&parts.headers, &header::ORIGIN) {
            let own = http::own_origins(st.public_origin.as_deref(), http::header_str(&parts.headers, &header::HOST));
            if !http::csrf_allows(&own, Some(origin)) {
                return Err(ApiError::new(ErrorCode::OriginNotAllowed, "the dashboard's socket is for its own origin"));
            }
        }
        let Agent { user } = Agent::from_request_parts(parts, st).await?;
        let session_hash = http::cookie(&parts.headers, http::SESSION_COOKIE)
            .map(frontdesk_core::keys::hash_token)
            .unwrap_or_default();
        let memberships = st.chat.store.list_memberships_of_user(user.id).await?;
        let orgs =
            memberships.iter().filter(|m| m.role.allows(Permission::ReadConversations)).map(|m| m.org_id).collect();
        let handles =
            memberships.iter().filter(|m| m.role.allows(Permission::HandleConversations)).map(|m| m.org_id).collect();
        let resume = match (q.offset, q.live) {
            (Some(offset), _) => Some(Some(offset)),
            (None, Some(true)) => Some(None),
            _ => None,
        };
        Ok(AgentAuth { user: user.id, session_hash, orgs, handles, resume })
    }
}

fn socket_config(st: &AppState) -> WebSocketConfig {
    let max = st.hub.config().max_frame_bytes;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// The widget's socket: `?key=pk_…&token=…` (or the usual headers), optionally `&after_seq=N`.
async fn widget_ws(
    State(st): State<AppState>,
    drain: Option<Extension<Drain>>,
    auth: WidgetAuth,
    ws: Upgrade,
) -> Response {
    let initial = auth.after_seq.map(Resume::Seq);
    let who = Who::Widget {
        site_id: auth.site_id,
        org_id: auth.org_id,
        conversation_id: auth.conversation_id,
        generation: auth.generation,
    };
    ws.respond(move |io| run(st, io, who, initial, drain.map(|Extension(d)| d)))
}

/// The dashboard's socket: the login cookie; optionally `?offset=N` or `?live=true`.
async fn agent_ws(
    State(st): State<AppState>,
    drain: Option<Extension<Drain>>,
    auth: AgentAuth,
    ws: Upgrade,
) -> Response {
    let initial = auth.resume.map(Resume::Offset);
    let who = Who::Agent {
        user: auth.user,
        session_hash: auth.session_hash,
        orgs: auth.orgs,
        handles: auth.handles,
        checked: HashMap::new(),
    };
    ws.respond(move |io| run(st, io, who, initial, drain.map(|Extension(d)| d)))
}

enum Who {
    Widget {
        site_id: SiteId,
        org_id: OrgId,
        conversation_id: ConversationId,
        /// The token's generation: bumping the conversation's revokes this socket too.
        generation: i64,
    },
    Agent {
        user: UserId,
        session_hash: String,
        orgs: Vec<OrgId>,
        handles: Vec<OrgId>,
        /// Conversations already shown to be in one of `orgs`.
        checked: HashMap<ConversationId, OrgId>,
    },
}

enum Resume {
    Seq(i64),
    Offset(Option<i64>),
}

/// Why a connection ends: a close frame to send, or nothing (the peer is gone).
enum End {
    Close(u16, &'static str),
    Gone,
}

/// A token bucket for the client's frames.
struct Bucket {
    tokens: f32,
    rate: f32,
    at: Instant,
}

impl Bucket {
    fn new(per_second: u32) -> Self {
        let rate = per_second as f32;
        Bucket { tokens: rate * 2.0, rate, at: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f32() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate * 2.0);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Conn {
    st: AppState,
    guard: ConnectionGuard,
    /// The socket as the hub writes to it once the connection is live.
    link: Arc<Link>,
    /// A widget's registration with this node's session sweep.
    session: Option<sessions::OpenSession>,
    who: Who,
    sub: Option<Subscription>,
    bucket: Bucket,
    heard: Instant,
    write_timeout: Duration,
}

async fn run(st: AppState, io: Upgraded, who: Who, initial: Option<Resume>, drain: Option<Drain>) {
    let config = st.hub.config().clone();
    let capacity = match who {
        Who::Widget { .. } => config.send_queue,
        Who::Agent { .. } => config.agent_send_queue,
    };
    let link = Link::new(io, capacity);
    let mut socket = WebSocketStream::from_raw_socket(link.stream(), Role::Server, Some(socket_config(&st))).await;
    let guard = st.hub.open_connection();
    let session = match who {
        Who::Widget { site_id, conversation_id, generation, .. } => {
            Some(st.widget_sessions.open(guard.id(), site_id, conversation_id, generation))
        }
        Who::Agent { .. } => None,
    };
    let mut conn = Conn {
        link,
        session,
        bucket: Bucket::new(config.client_frames_per_second),
        heard: Instant::now(),
        write_timeout: Duration::from_secs(config.write_timeout_secs),
        st,
        guard,
        who,
        sub: None,
    };
    // Held until the close frame is sent: the server waits for it.
    let mut drain = drain;
    let end = match drain.as_mut() {
        Some(drain) => {
            let draining = drain.started();
            tokio::select! {
                end = conn.serve(&mut socket, initial, &config) => end,
                () = draining => End::Close(close::GOING_AWAY, GOING_AWAY_REASON),
            }
        }
        None => conn.serve(&mut socket, initial, &config).await,
    };
    // The hub writes nothing more: no data frame may follow the close frame.
    conn.sub = None;
    if let End::Close(code, reason) = end {
        let frame = CloseFrame { code: code.into(), reason: Utf8Bytes::from_static(reason) };
        let _ = tokio::time::timeout(conn.write_timeout, socket.send(Message::Close(Some(frame)))).await;
    }
}

async fn session_ended(session: &Option<sessions::OpenSession>) {
    match session {
        Some(s) => s.ended.notified().await,
        None => std::future::pending().await,
    }
}

async fn until_kicked(sub: &Option<Subscription>) {
    match sub {
        Some(s) => s.until_kicked().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn serve(
        &mut self,
        socket: &mut Socket,
        initial: Option<Resume>,
        config: &frontdesk_realtime::RealtimeConfig,
    ) -> End {
        let hello = {
            let (role, conversation_id, org_ids) = match &self.who {
                Who::Widget { conversation_id, .. } => ("visitor", Some(*conversation_id), None),
                Who::Agent { orgs, .. } => ("agent", None, Some(orgs.as_slice())),
            };
            frames::frame(
                "hello",
                Hello {
                    protocol: frames::PROTOCOL_VERSION,
                    role,
                    connection_id: self.guard.id(),
                    heartbeat_secs: config.heartbeat_secs,
                    idle_timeout_secs: config.idle_timeout_secs,
                    max_frame_bytes: config.max_frame_bytes,
                    conversation_id,
                    org_ids,
                },
            )
        };
        if let Err(end) = self.send(socket, hello).await {
            return end;
        }
        if let Some(resume) = initial
            && let Err(end) = self.resume(socket, resume).await
        {
            return end;
        }
        let heartbeat = Duration::from_secs(config.heartbeat_secs);
        let idle = Duration::from_secs(config.idle_timeout_secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pump = pump(self.link.clone(), self.write_timeout);
        tokio::pin!(pump);
        loop {
            let step = tokio::select! {
                end = &mut pump => Err(end),
                () = session_ended(&self.session) => Err(End::Close(close::SESSION_ENDED, "session ended")),
                incoming = socket.next() => match incoming {
                    Some(Ok(message)) => self.on_message(socket, message).await,
                    Some(Err(e)) => Err(read_error(e)),
                    None => Err(End::Gone),
                },
                () = until_kicked(&self.sub) => Err(End::Close(close::SLOW_CONSUMER, "slow consumer: resume")),
                _ = tick.tick() => {
                    if self.heard.elapsed() >= idle {
                        Err(End::Close(close::IDLE_TIMEOUT, "idle timeout"))
                    } else if let Some(end) = self.revoked().await {
                        Err(end)
                    } else {
                        self.send_message(socket, Message::Ping(Bytes::new())).await
                    }
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Whether an agent's credentials still hold, checked on every heartbeat so a logout or a
    /// removed membership closes open sockets on every node within one heartbeat. A database
    /// error keeps the socket (it is not a verdict). Widgets are checked all at once by the
    /// node's session sweep ([`sessions::WidgetSessions`]).
    async fn revoked(&self) -> Option<End> {
        let store = &self.st.chat.store;
        match &self.who {
            Who::Widget { .. } => None,
            Who::Agent { user, session_hash, orgs, .. } => {
                let now = self.st.now();
                match store.get_login_session(session_hash).await {
                    Ok(s) if s.user_id == *user && now < s.expires_at => {}
                    Ok(_) | Err(StoreError::NotFound) => {
                        return Some(End::Close(close::SESSION_ENDED, "logged out: log in again"));
                    }
                    Err(_) => return None,
                }
                let memberships = store.list_memberships_of_user(*user).await.ok()?;
                let still = orgs.iter().all(|org| {
                    memberships.iter().any(|m| m.org_id == *org && m.role.allows(Permission::ReadConversations))
                });
                (!still).then_some(End::Close(close::ACCESS_CHANGED, "access changed: reconnect"))
            }
        }
    }

    async fn send_message(&self, socket: &mut Socket, message: Message) -> Result<(), End> {
        match tokio::time::timeout(self.write_timeout, socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(close::SLOW_CONSUMER, "write stalled: resume")),
        }
    }

    async fn send(&self, socket: &mut Socket, frame: Bytes) -> Result<(), End> {
        let text = Utf8Bytes::try_from(frame).map_err(|_| End::Close(1011, "internal error"))?;
        self.send_message(socket, Message::Text(text)).await
    }

    async fn on_message(&mut self, socket: &mut Socket, message: Message) -> Result<(), End> {
        self.heard = Instant::now();
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => return Err(End::Close(close::UNSUPPORTED_DATA, "text frames only")),
            // A raw frame only comes from reading without a message layer, which this is not.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
            Message::Close(_) => return Err(End::Gone),
        };
        if !self.bucket.take() {
            return Err(End::Close(close::RATE_LIMITED, "too many frames"));
        }
        let frame = match frames::parse_client_frame(text.as_str()) {
            Ok(f) => f,
            Err(message) => return self.send(socket, frames::error("malformed_frame", &message)).await,
        };
        match frame {
            ClientFrame::Ping { nonce } => self.send(socket, frames::pong(nonce.as_ref())).await,
            ClientFrame::Resume { after_seq, offset } => {
                if self.sub.is_some() {
                    return self.send(socket, frames::error("already_resumed", "resume once per connection")).await;
                }
                let resume = match self.who {
                    Who::Widget { .. } => Resume::Seq(after_seq.unwrap_or(0)),
                    Who::Agent { .. } => Resume::Offset(offset),
                };
                self.resume(socket, resume).await
            }
            ClientFrame::Typing { conversation_id, on } => {
                self.signal(socket, conversation_id, Permission::HandleConversations, |by, user_id| {
                    EphemeralEvent::Typing { from: by, user_id, on }
                })
                .await
            }
            ClientFrame::Read { conversation_id, seq } => {
                if seq < 0 {
                    return self.send(socket, frames::error("invalid_field", "seq must not be negative")).await;
                }
                self.signal(socket, conversation_id, Permission::ReadConversations, |by, user_id| {
                    EphemeralEvent::Read { by, user_id, seq }
                })
                .await
            }
        }
    }

    /// Publishes a typing or read signal for the widget's conversation, or for the conversation
    /// an agent names (which must be in one of their organizations, with `permission`).
    async fn signal(
        &mut self,
        socket: &mut Socket,
        conversation: Option<ConversationId>,
        permission: Permission,
        make: impl FnOnce(Party, Option<UserId>) -> EphemeralEvent,
    ) -> Result<(), End> {
        let id = self.guard.id();
        let hub = self.st.hub.clone();
        let reply = match &mut self.who {
            Who::Widget { org_id, conversation_id, .. } => {
                hub.publish_ephemeral_from(id, *org_id, *conversation_id, make(Party::Visitor, None));
                None
            }
            Who::Agent { user, orgs, handles, checked, .. } => match conversation {
                None => Some(frames::error("invalid_field", "conversation_id is required")),
                Some(conversation) => {
                    let org = match checked.get(&conversation) {
                        Some(org) => Some(*org),
                        None => {
                            let mut found = None;
                            for org in orgs.iter() {
                                match self.st.chat.store.get_conversation(*org, conversation).await {
                                    Ok(_) => {
                                        found = Some(*org);
                                        break;
                                    }
                                    Err(StoreError::NotFound) => {}
                                    Err(_) => return Err(End::Close(1011, "database unavailable: reconnect")),
                                }
                            }
                            if let Some(org) = found {
                                if checked.len() >= CHECKED_CONVERSATIONS {
                                    checked.clear();
                                }
                                checked.insert(conversation, org);
                            }
                            found
                        }
                    };
                    let allowed = if permission == Permission::HandleConversations { &*handles } else { &*orgs };
                    match org {
                        Some(org) if allowed.contains(&org) => {
                            hub.publish_ephemeral_from(id, org, conversation, make(Party::Agent, Some(*user)));
                            None
                        }
                        Some(_) => Some(frames::error("forbidden", "your role does not allow this")),
                        None => Some(frames::error("not_found", "no such conversation")),
                    }
                }
            },
        };
        match reply {
            Some(frame) => self.send(socket, frame).await,
            None => Ok(()),
        }
    }

    /// Caught up to `skip_upto` (a seq for widgets, an outbox offset for agents): from now on
    /// the hub writes this connection's frames itself, after dropping those the catch-up sent.
    fn go_live(&mut self, skip_upto: i64) -> Result<(), End> {
        let outlet: Arc<dyn frontdesk_realtime::Outlet> = self.link.clone();
        match self.sub.as_mut().map(|sub| sub.go_live(skip_upto, outlet)) {
            Some(false) => Err(End::Close(close::SLOW_CONSUMER, "slow consumer: resume")),
            _ => Ok(()),
        }
    }

    /// Subscribes first, then sends what the client missed from the database, then live frames
    /// follow; a live frame the catch-up already sent is dropped ([`Conn::go_live`]).
    async fn resume(&mut self, socket: &mut Socket, resume: Resume) -> Result<(), End> {
        let unavailable = || End::Close(1011, "database unavailable: reconnect and resume");
        let hub = self.st.hub.clone();
        let id = self.guard.id();
        match (&self.who, resume) {
            (Who::Widget { site_id, org_id, conversation_id, .. }, resume) => {
                let after_seq = match resume {
                    Resume::Seq(s) => s.max(0),
                    Resume::Offset(_) => 0,
                };
                let (site_id, org_id, conversation_id) = (*site_id, *org_id, *conversation_id);
                self.sub = Some(hub.subscribe_widget(id, org_id, conversation_id));
                let store = &self.st.chat.store;
                let mut last = after_seq;
                let mut replayed = 0;
                loop {
                    let page =
                        store.list_messages(conversation_id, last, HISTORY_PAGE).await.map_err(|_| unavailable())?;
                    for message in &page {
                        self.send(socket, frames::message_created(message, None)).await?;
                        last = message.seq;
                        replayed += 1;
                    }
                    if page.len() < HISTORY_PAGE as usize {
                        break;
                    }
                }
                let conversation =
                    store.get_conversation_for_site(site_id, conversation_id).await.map_err(|_| unavailable())?;
                self.send(socket, frames::resumed_widget(conversation_id, last, conversation.status, replayed)).await?;
                self.send(socket, hub.widget_presence(org_id)).await?;
                self.go_live(last)
            }
            (Who::Agent { user, orgs, .. }, resume) => {
                let offset = match resume {
                    Resume::Offset(o) => o,
                    Resume::Seq(_) => None,
                };
                let orgs = orgs.clone();
                let (sub, cursor) = hub.subscribe_agent(id, *user, orgs.clone());
                self.sub = Some(sub);
                let window = hub.config().resume_window_events;
                let skip_upto = match offset {
                    None => {
                        self.send(socket, frames::resumed_agent(cursor, 0)).await?;
                        cursor
                    }
                    Some(o) if o >= cursor => {
                        self.send(socket, frames::resumed_agent(o, 0)).await?;
                        o
                    }
                    Some(o) if cursor - o > window => {
                        self.send(socket, frames::reset(cursor)).await?;
                        cursor
                    }
                    Some(o) => {
                        let mut after = o;
                        let mut replayed = 0;
                        loop {
                            let page = hub.replay_page(after, &orgs).await.map_err(|_| unavailable())?;
                            for (_, frame) in page.frames {
                                self.send(socket, frame).await?;
                                replayed += 1;
                            }
                            after = page.last;
                            if page.done || after >= cursor {
                                break;
                            }
                        }
                        self.send(socket, frames::resumed_agent(after, replayed)).await?;
                        after
                    }
                };
                for org in &orgs {
                    self.send(socket, hub.agent_presence(*org)).await?;
                }
                self.go_live(skip_upto)
            }
        }
    }
}

fn read_error(e: WsError) -> End {
    match e {
        WsError::Capacity(_) => End::Close(close::TOO_BIG, "frame too large"),
        WsError::Protocol(_) => End::Close(1002, "protocol error"),
        _ => End::Gone,
    }
}

/// Writes what the hub could not write at once, as the socket takes it. Ends the connection
/// when a write fails (the peer is gone) or stalls for the write timeout (a slow consumer).
async fn pump(link: Arc<Link>, write_timeout: Duration) -> End {
    loop {
        std::future::poll_fn(|cx| link.poll_owed(cx)).await;
        match tokio::time::timeout(write_timeout, std::future::poll_fn(|cx| link.poll_drain(cx))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return End::Gone,
            Err(_) => return End::Close(close::SLOW_CONSUMER, "write stalled: resume"),
        }
    }
}
