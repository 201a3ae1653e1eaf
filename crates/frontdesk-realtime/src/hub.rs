//! The hub: one per node. It follows the outbox, keeps the subscriptions of this node's
//! connections, and hands each connection the frames meant for it: through a bounded queue while
//! it catches up, then straight to its socket ([`Outlet`]).
//!
//! Ordering and gaps: the follower reads the outbox in id order (`Store::outbox_after` never
//! returns an id while a smaller one can still commit: PostgreSQL waits for the transactions
//! holding missing ids; SQLite has one writer) and delivers each
//! event to the subscribers present at that moment, then advances its cursor — both under the
//! subscription lock. A connection that subscribes and then reads the database therefore misses
//! nothing: an event delivered before it subscribed was committed before its read.
//!
//! Hand-off: a node's writers give the hub the messages they just committed ([`Hub::handoff`]);
//! the follower still reads the outbox rows (order, offsets, cursor) but takes those messages
//! from the hand-off instead of reading them back, and reads the others (written by other nodes)
//! with one `Store::messages_by_ids` per page.

use crate::broker::{Broker, Envelope, Signal};
use crate::frames::{self, EphemeralEvent};
use crate::{RealtimeConfig, RealtimeError};
use bytes::Bytes;
use frontdesk_core::MessageId;
use frontdesk_core::events::OutboxEvent;
use frontdesk_core::model::Message;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::{ConversationId, OrgId, UserId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// Outbox events read per query.
const OUTBOX_PAGE: u32 = 500;
/// Messages handed to the hub by this node's writers, kept until the follower reaches their
/// outbox event; beyond this the oldest are forgotten (the follower then reads them).
const HANDOFF_CAPACITY: usize = 4096;
/// Signals waiting to be published to the broker; beyond this they are dropped (best effort).
const BROKER_QUEUE: usize = 4096;
/// Each node repeats its presence this often; other nodes forget it after `PRESENCE_TTL`.
const PRESENCE_EVERY: Duration = Duration::from_secs(20);
const PRESENCE_TTL: Duration = Duration::from_secs(60);

/// One delivery: the frame as widgets and as agents see it (either may be absent), shared by
/// every recipient.
#[derive(Debug)]
pub struct Event {
    pub widget: Option<Bytes>,
    pub agent: Option<Bytes>,
    /// For `message.created`: the message's sequence number (widgets de-duplicate by it).
    pub seq: Option<i64>,
    /// For frames from the outbox: the event id (agents de-duplicate by it).
    pub offset: Option<i64>,
    /// The local connection that caused it (it does not get its own typing back); 0 for none.
    pub origin: u64,
}

enum Keys {
    Widget { org: OrgId, conversation: ConversationId },
    Agent { user: UserId, orgs: Vec<OrgId> },
}

struct Slot {
    id: u64,
    tx: mpsc::Sender<Arc<Event>>,
    kicked: AtomicBool,
    kick: Notify,
    keys: Keys,
    /// Set once the connection has caught up ([`Subscription::go_live`]): from then on the hub
    /// writes its frames straight to it instead of queueing them.
    live: OnceLock<Live>,
}

/// Where a live connection's frames go, and what it already has.
#[derive(Clone)]
struct Live {
    outlet: Arc<dyn Outlet>,
    /// Frames at or below this seq (widget) or offset (agent) were sent by the catch-up.
    skip_upto: i64,
}

/// A connection the hub writes to directly: the transport side of a live subscription.
pub trait Outlet: Send + Sync + 'static {
    /// Sends one frame (`payload` is its JSON text) now, or buffers what the socket cannot take
    /// yet. False when the connection's buffer is full: it is then kicked (4008) and resumes.
    fn offer(&self, payload: &Bytes) -> bool;
}

impl Event {
    /// The frame widgets get and its position (seq) for de-duplication.
    fn for_widgets(&self) -> (Option<&Bytes>, Option<i64>) {
        (self.widget.as_ref(), self.seq)
    }

    /// The frame agents get and its position (outbox offset).
    fn for_agents(&self) -> (Option<&Bytes>, Option<i64>) {
        (self.agent.as_ref(), self.offset)
    }
}

impl Live {
    /// Writes the frame unless the catch-up already sent it; false when the outlet is full.
    fn offer(&self, (frame, position): (Option<&Bytes>, Option<i64>)) -> bool {
        let Some(frame) = frame else { return true };
        position.is_some_and(|p| p <= self.skip_upto) || self.outlet.offer(frame)
    }
}

impl Slot {
    /// Queues the event, or writes it if the connection is live; a full queue or buffer kicks
    /// the connection (returns false).
    fn offer(&self, event: &Arc<Event>) -> bool {
        if event.origin == self.id {
            return true;
        }
        if let Some(live) = self.live.get() {
            return self.offer_live(live, event);
        }
        match self.tx.try_send(event.clone()) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(_)) => self.kick(),
        }
    }

    fn offer_live(&self, live: &Live, event: &Event) -> bool {
        let frame = match self.keys {
            Keys::Widget { .. } => event.for_widgets(),
            Keys::Agent { .. } => event.for_agents(),
        };
        live.offer(frame) || self.kick()
    }

    fn kick(&self) -> bool {
        self.kicked.store(true, Ordering::Release);
        self.kick.notify_one();
        false
    }

    async fn until_kicked(&self) {
        // `notify_one` leaves a permit when no one waits, so a kick between the check and the
        // wait is not missed.
        while !self.kicked.load(Ordering::Acquire) {
            self.kick.notified().await;
        }
    }
}

/// A subscriber as a topic lists it. A live connection's outlet is copied in (by
/// [`Subscription::go_live`]) so that delivering to a conversation reads one contiguous list
/// and goes straight to each socket, instead of first visiting each subscriber's slot: with
/// thousands of connections, every one of those visits is a cache miss.
struct Member {
    id: u64,
    direct: Option<Live>,
    slot: Arc<Slot>,
}

impl Member {
    fn new(slot: &Arc<Slot>) -> Member {
        Member { id: slot.id, direct: None, slot: slot.clone() }
    }

    /// As [`Slot::offer`], with `frame` the side of the event this list's subscribers get.
    fn offer(&self, event: &Arc<Event>, frame: (Option<&Bytes>, Option<i64>)) -> bool {
        if event.origin == self.id {
            return true;
        }
        match &self.direct {
            Some(live) => live.offer(frame) || self.slot.kick(),
            None => self.slot.offer(event),
        }
    }
}

/// Who gets what. Organization-wide widget deliveries (presence) are rare; their list goes
/// through the slots. The lists deliveries use all the time (a conversation's widgets, an
/// organization's agents) carry live connections' outlets.
#[derive(Default)]
struct Topics {
    conversations: HashMap<ConversationId, Vec<Member>>,
    org_agents: HashMap<OrgId, Vec<Member>>,
    org_widgets: HashMap<OrgId, Vec<Member>>,
}

fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Member>>, key: K, id: u64) {
    if let Some(list) = map.get_mut(&key) {
        list.retain(|m| m.id != id);
        if list.is_empty() {
            map.remove(&key);
        }
    }
}

fn go_live_in<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Member>>, key: K, id: u64, live: &Live) {
    for member in map.get_mut(&key).into_iter().flatten().filter(|m| m.id == id) {
        member.direct = Some(live.clone());
    }
}

impl Topics {
    fn remove(&mut self, slot: &Slot) {
        match &slot.keys {
            Keys::Widget { org, conversation } => {
                remove_from(&mut self.conversations, *conversation, slot.id);
                remove_from(&mut self.org_widgets, *org, slot.id);
            }
            Keys::Agent { orgs, .. } => {
                for org in orgs {
                    remove_from(&mut self.org_agents, *org, slot.id);
                }
            }
        }
    }

    /// Hands the slot's live outlet to the lists that deliver to it directly.
    fn go_live(&mut self, slot: &Slot, live: &Live) {
        match &slot.keys {
            Keys::Widget { conversation, .. } => go_live_in(&mut self.conversations, *conversation, slot.id, live),
            Keys::Agent { orgs, .. } => {
                for org in orgs {
                    go_live_in(&mut self.org_agents, *org, slot.id, live);
                }
            }
        }
    }

    /// Delivers to a conversation's widgets and its organization's agents.
    fn deliver(&mut self, org: OrgId, conversation: Option<ConversationId>, event: &Arc<Event>) {
        let mut kicked = Vec::new();
        if event.widget.is_some() {
            let list = match conversation {
                Some(c) => self.conversations.get(&c),
                None => self.org_widgets.get(&org),
            };
            for member in list.into_iter().flatten() {
                if !member.offer(event, event.for_widgets()) {
                    kicked.push(member.slot.clone());
                }
            }
        }
        if event.agent.is_some() {
            for member in self.org_agents.get(&org).into_iter().flatten() {
                if !member.offer(event, event.for_agents()) {
                    kicked.push(member.slot.clone());
                }
            }
        }
        // A kicked connection gets nothing more: its queue stays bounded.
        for slot in kicked {
            self.remove(&slot);
        }
    }
}

#[derive(Default)]
struct Presence {
    local: HashMap<OrgId, HashMap<UserId, u32>>,
    remote: HashMap<OrgId, HashMap<u64, (Vec<UserId>, Instant)>>,
    last: HashMap<OrgId, Vec<UserId>>,
}

impl Presence {
    fn local_users(&self, org: OrgId) -> Vec<UserId> {
        self.local.get(&org).map(|m| m.keys().copied().collect()).unwrap_or_default()
    }

    fn online(&self, org: OrgId) -> Vec<UserId> {
        let mut users = self.local_users(org);
        if let Some(nodes) = self.remote.get(&org) {
            for (list, _) in nodes.values() {
                users.extend_from_slice(list);
            }
        }
        users.sort();
        users.dedup();
        users
    }

    /// The new list when it changed since last announced.
    fn changed(&mut self, org: OrgId) -> Option<Vec<UserId>> {
        let now = self.online(org);
        let before = self.last.get(&org);
        if before.is_some_and(|b| *b == now) || (before.is_none() && now.is_empty()) {
            return None;
        }
        if now.is_empty() {
            self.last.remove(&org);
        } else {
            self.last.insert(org, now.clone());
        }
        Some(now)
    }
}

/// Committed messages handed over by this node's writers, by id, in the order they came.
///
/// Each is tagged with the number of follower rounds started before it came. A round that
/// started after a message was handed over normally reads its outbox event (the message was
/// committed before the hand-off), so when round `r` completes, every message tagged below `r`
/// is dropped: the cache holds about one round's messages. Dropping one the follower has not
/// reached yet costs only a database read later, never the event.
#[derive(Default)]
struct Handoff {
    messages: HashMap<MessageId, Message>,
    order: VecDeque<(MessageId, u64)>,
    /// Follower rounds started.
    rounds: u64,
}

impl Handoff {
    fn put(&mut self, message: &Message) {
        if self.messages.insert(message.id, message.clone()).is_none() {
            self.order.push_back((message.id, self.rounds));
        }
        while self.order.len() > HANDOFF_CAPACITY {
            if let Some((old, _)) = self.order.pop_front() {
                self.messages.remove(&old);
            }
        }
    }

    /// Takes the message if it is here (the follower delivers it once).
    fn take(&mut self, id: MessageId) -> Option<Message> {
        self.messages.remove(&id)
    }

    /// A follower round starts; returns its number.
    fn round_started(&mut self) -> u64 {
        self.rounds += 1;
        self.rounds
    }

    /// Round `round` read the outbox to its end: drops what was handed over before it started.
    fn round_done(&mut self, round: u64) {
        while let Some(&(id, tag)) = self.order.front() {
            if tag >= round {
                break;
            }
            self.order.pop_front();
            self.messages.remove(&id);
        }
    }
}

struct HubInner {
    node: u64,
    store: Arc<dyn Store>,
    config: RealtimeConfig,
    broker_name: &'static str,
    /// Whether anything published can reach another node ([`Broker::reaches_others`]).
    broker: Arc<dyn Broker>,
    topics: Mutex<Topics>,
    presence: Mutex<Presence>,
    /// The last outbox id delivered on this node.
    cursor: AtomicI64,
    /// Messages this node committed, waiting for the follower (see [`Hub::handoff`]).
    handoff: Mutex<Handoff>,
    /// Messages the follower took from the hand-off, and read from the database.
    handed: AtomicU64,
    fetched: AtomicU64,
    wake: Arc<Notify>,
    local_wake: AtomicBool,
    out: mpsc::Sender<Envelope>,
    next_connection: AtomicU64,
    connections: AtomicUsize,
    /// Dropped with the hub: its background tasks stop.
    _shutdown: watch::Sender<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The node's realtime hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("node", &self.inner.node)
            .field("broker", &self.inner.broker_name)
            .field("cursor", &self.cursor())
            .finish_non_exhaustive()
    }
}

/// The newest outbox id (0 when empty), found with `outbox_after(_, 1)` probes: doubling, then
/// bisection — about 2·log2(id) indexed lookups.
pub async fn outbox_head(store: &dyn Store) -> Result<i64, StoreError> {
    let exists_after = |after: i64| async move { store.outbox_after(after, 1).await.map(|v| !v.is_empty()) };
    if !exists_after(0).await? {
        return Ok(0);
    }
    let (mut lo, mut hi) = (0i64, 1i64);
    while exists_after(hi).await? {
        lo = hi;
        hi = hi.saturating_mul(2);
        if hi == i64::MAX {
            break;
        }
    }
    // Some id is > lo and none is > hi.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists_after(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

impl Hub {
    /// Starts the hub: finds the outbox head (live delivery starts after it), subscribes to the
    /// broker, and spawns the outbox follower, the broker reader and writer and the presence
    /// ticker. They stop when the last clone of the hub is dropped.
    pub async fn start(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        config: RealtimeConfig,
    ) -> Result<Hub, RealtimeError> {
        config.validate()?;
        let head = outbox_head(&*store).await?;
        let inbox = broker.subscribe().await?;
        let (out, outgoing) = mpsc::channel(BROKER_QUEUE);
        let (shutdown, shutdown_rx) = watch::channel(());
        let node = (uuid::Uuid::now_v7().as_u128() as u64) | 1;
        let inner = Arc::new(HubInner {
            node,
            store,
            broker_name: broker.name(),
            broker: broker.clone(),
            config,
            topics: Mutex::default(),
            presence: Mutex::default(),
            cursor: AtomicI64::new(head),
            handoff: Mutex::default(),
            handed: AtomicU64::new(0),
            fetched: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            local_wake: AtomicBool::new(false),
            out,
            next_connection: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            _shutdown: shutdown,
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(follow_outbox(weak.clone(), inner.wake.clone(), shutdown_rx.clone()));
        tokio::spawn(read_broker(weak.clone(), inbox, shutdown_rx.clone()));
        tokio::spawn(write_broker(broker, outgoing));
        tokio::spawn(presence_ticker(weak, shutdown_rx));
        tracing::info!(broker = inner.broker_name, outbox_head = head, "realtime hub started");
        Ok(Hub { inner })
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn broker_name(&self) -> &'static str {
        self.inner.broker_name
    }

    /// The last outbox id this node delivered.
    pub fn cursor(&self) -> i64 {
        self.inner.cursor.load(Ordering::Acquire)
    }

    /// Open WebSocket connections on this node.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Tells the follower that this node committed outbox events: it reads the outbox at once
    /// and tells the other nodes. Call after any store write outside a request handler (the
    /// server calls it after every successful state-changing request).
    pub fn wake(&self) {
        self.inner.local_wake.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }

    /// Hands this node's follower a message that is **already committed** (call it only after
    /// the store's write returned), and wakes the follower: when it reaches the message's outbox
    /// event it uses this copy instead of reading the message back from the database. The
    /// follower still reads the outbox for the order and the cursor, so nothing is delivered
    /// that was not stored, and in commit order.
    pub fn handoff(&self, message: &Message) {
        lock(&self.inner.handoff).put(message);
        self.wake();
    }

    /// How many messages the follower took from the hand-off, and how many it read from the
    /// database (other nodes' messages, or ones it reached before their hand-off).
    pub fn follower_messages(&self) -> (u64, u64) {
        (self.inner.handed.load(Ordering::Relaxed), self.inner.fetched.load(Ordering::Relaxed))
    }

    /// Registers a connection (for ids and counts); dropping the guard unregisters it.
    pub fn open_connection(&self) -> ConnectionGuard {
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { hub: self.inner.clone(), id: self.inner.next_connection.fetch_add(1, Ordering::Relaxed) }
    }

    fn slot(&self, id: u64, keys: Keys) -> (Arc<Slot>, mpsc::Receiver<Arc<Event>>) {
        let capacity = match keys {
            Keys::Widget { .. } => self.inner.config.send_queue,
            Keys::Agent { .. } => self.inner.config.agent_send_queue,
        };
        let (tx, rx) = mpsc::channel(capacity);
        (
            Arc::new(Slot { id, tx, kicked: AtomicBool::new(false), kick: Notify::new(), keys, live: OnceLock::new() }),
            rx,
        )
    }

    /// A widget connection's subscription to its conversation (and its organization's presence).
    pub fn subscribe_widget(&self, connection_id: u64, org: OrgId, conversation: ConversationId) -> Subscription {
        let (slot, rx) = self.slot(connection_id, Keys::Widget { org, conversation });
        {
            let mut t = lock(&self.inner.topics);
            t.conversations.entry(conversation).or_default().push(Member::new(&slot));
            t.org_widgets.entry(org).or_default().push(Member::new(&slot));
        }
        Subscription { hub: self.inner.clone(), slot, rx }
    }

    /// An agent connection's subscription to its organizations' inbox streams. Returns the
    /// cursor at the moment of subscribing: every outbox event after it will be queued.
    pub fn subscribe_agent(&self, connection_id: u64, user: UserId, orgs: Vec<OrgId>) -> (Subscription, i64) {
        let (slot, rx) = self.slot(connection_id, Keys::Agent { user, orgs: orgs.clone() });
        let cursor = {
            let mut t = lock(&self.inner.topics);
            for org in &orgs {
                t.org_agents.entry(*org).or_default().push(Member::new(&slot));
            }
            self.inner.cursor.load(Ordering::Acquire)
        };
        let mut changed = Vec::new();
        {
            let mut p = lock(&self.inner.presence);
            for org in &orgs {
                let count = p.local.entry(*org).or_default().entry(user).or_insert(0);
                *count += 1;
                if *count == 1 {
                    changed.push(*org);
                }
            }
        }
        self.inner.presence_changed(&changed);
        (Subscription { hub: self.inner.clone(), slot, rx }, cursor)
    }

    /// Publishes an ephemeral signal (typing, thinking, delta, read) to the conversation's
    /// widgets and its organization's agents on every node. Never stored.
    ///
    /// This is the hook for the assistant: `Thinking { stage: Some("Searching the help
    /// center…") }` while it works, `Delta { stream_id, text }` for each generated piece, and the
    /// stored reply (a normal `message.created`) replaces both.
    pub fn publish_ephemeral(&self, org: OrgId, conversation: ConversationId, event: EphemeralEvent) {
        self.publish_ephemeral_from(0, org, conversation, event);
    }

    /// As [`Hub::publish_ephemeral`], on behalf of local connection `origin` (which does not get
    /// it back).
    pub fn publish_ephemeral_from(&self, origin: u64, org: OrgId, conversation: ConversationId, event: EphemeralEvent) {
        self.inner.deliver_ephemeral(origin, org, conversation, &event);
        self.inner.send(Signal::Ephemeral { org_id: org, conversation_id: conversation, event });
    }

    /// How many of the organization's agents have a dashboard open, on any node.
    pub fn agents_online(&self, org: OrgId) -> usize {
        lock(&self.inner.presence).online(org).len()
    }

    /// The presence frame a widget of this organization gets on resume.
    pub fn widget_presence(&self, org: OrgId) -> Bytes {
        frames::presence_for_widget(lock(&self.inner.presence).online(org).len())
    }

    /// The presence frame an agent gets on resume.
    pub fn agent_presence(&self, org: OrgId) -> Bytes {
        frames::presence_for_agent(org, &lock(&self.inner.presence).online(org))
    }

    /// One page of an agent's catch-up: the frames of outbox events after `after` in `orgs`.
    pub async fn replay_page(&self, after: i64, orgs: &[OrgId]) -> Result<ReplayPage, StoreError> {
        let events = self.inner.store.outbox_after(after, OUTBOX_PAGE).await?;
        let done = events.len() < OUTBOX_PAGE as usize;
        let last = events.last().map_or(after, |e| e.id);
        let wanted: Vec<OutboxEvent> = events.into_iter().filter(|e| orgs.contains(&e.org_id)).collect();
        let mut frames = Vec::new();
        for (event, message) in self.inner.with_messages(wanted, false).await? {
            let (_, agent) = frames::outbox_frames(event.id, event.org_id, &event.event, message.as_ref());
            frames.extend(agent.into_iter().map(|f| (event.id, f)));
        }
        Ok(ReplayPage { frames, last, done })
    }
}

/// A page of outbox frames for one agent.
pub struct ReplayPage {
    /// `(offset, frame)` in offset order.
    pub frames: Vec<(i64, Bytes)>,
    /// The last outbox id read (the next page starts after it).
    pub last: i64,
    /// No more events after this page (for now).
    pub done: bool,
}

impl HubInner {
    fn send(&self, signal: Signal) {
        if !self.broker.reaches_others() {
            return;
        }
        if self.out.try_send(Envelope { node: self.node, signal }).is_err() {
            tracing::debug!("realtime: the broker queue is full; a signal was dropped");
        }
    }

    fn deliver_ephemeral(&self, origin: u64, org: OrgId, conversation: ConversationId, event: &EphemeralEvent) {
        let timeout_ms = self.config.thinking_timeout_secs.saturating_mul(1000);
        let ev = Arc::new(Event {
            widget: Some(frames::ephemeral(conversation, None, event, timeout_ms)),
            agent: Some(frames::ephemeral(conversation, Some(org), event, timeout_ms)),
            seq: None,
            offset: None,
            origin,
        });
        lock(&self.topics).deliver(org, Some(conversation), &ev);
    }

    /// Announces and delivers the presence of organizations whose online agents changed.
    fn presence_changed(&self, orgs: &[OrgId]) {
        for org in orgs {
            let (users, local) = {
                let mut p = lock(&self.presence);
                (p.changed(*org), p.local_users(*org))
            };
            self.send(Signal::Presence { org_id: *org, users: local });
            if let Some(users) = users {
                let ev = Arc::new(Event {
                    widget: Some(frames::presence_for_widget(users.len())),
                    agent: Some(frames::presence_for_agent(*org, &users)),
                    seq: None,
                    offset: None,
                    origin: 0,
                });
                lock(&self.topics).deliver(*org, None, &ev);
            }
        }
    }

    /// The stored message of each `message.created` event, in order: from the hand-off when
    /// `handed` (the follower) and it is there, the rest with one `messages_by_ids` read. A
    /// message that is not found (deleted since) gives `None`.
    async fn with_messages(
        &self,
        events: Vec<OutboxEvent>,
        handed: bool,
    ) -> Result<Vec<(OutboxEvent, Option<Message>)>, StoreError> {
        use frontdesk_core::events::DomainEvent;
        let mut found: HashMap<MessageId, Message> = HashMap::new();
        let mut missing = Vec::new();
        {
            let mut handoff = handed.then(|| lock(&self.handoff));
            for event in &events {
                if let DomainEvent::MessageCreated { conversation_id, message_id, .. } = &event.event {
                    match handoff.as_mut().and_then(|h| h.take(*message_id)) {
                        Some(m) => {
                            found.insert(m.id, m);
                        }
                        None => missing.push((*conversation_id, *message_id)),
                    }
                }
            }
        }
        self.handed.fetch_add(found.len() as u64, Ordering::Relaxed);
        self.fetched.fetch_add(missing.len() as u64, Ordering::Relaxed);
        if !missing.is_empty() {
            for m in self.store.messages_by_ids(&missing).await? {
                found.insert(m.id, m);
            }
        }
        Ok(events
            .into_iter()
            .map(|event| {
                let message = match &event.event {
                    DomainEvent::MessageCreated { message_id, .. } => found.get(message_id).cloned(),
                    _ => None,
                };
                (event, message)
            })
            .collect())
    }

    /// Reads the outbox after the cursor and delivers everything found. Returns whether the
    /// cursor moved.
    async fn catch_up(&self) -> Result<bool, StoreError> {
        let start = self.cursor.load(Ordering::Acquire);
        let round = lock(&self.handoff).round_started();
        loop {
            let cursor = self.cursor.load(Ordering::Acquire);
            let events = self.store.outbox_after(cursor, OUTBOX_PAGE).await?;
            let full = events.len() == OUTBOX_PAGE as usize;
            if events.is_empty() {
                break;
            }
            let ready = self.with_messages(events, true).await?;
            let complete = ready.len();
            let mut prepared = Vec::with_capacity(ready.len());
            for (event, message) in &ready {
                let (widget, agent) = frames::outbox_frames(event.id, event.org_id, &event.event, message.as_ref());
                let conversation = event.event.conversation_id();
                let seq = message.as_ref().map(|m| m.seq);
                let mut agent = agent.into_iter();
                let first = Arc::new(Event { widget, agent: agent.next(), seq, offset: Some(event.id), origin: 0 });
                let rest: Vec<Arc<Event>> = agent
                    .map(|a| {
                        Arc::new(Event { widget: None, agent: Some(a), seq: None, offset: Some(event.id), origin: 0 })
                    })
                    .collect();
                prepared.push((event.id, event.org_id, conversation, first, rest));
            }
            {
                let mut t = lock(&self.topics);
                for (id, org, conversation, first, rest) in &prepared {
                    t.deliver(*org, Some(*conversation), first);
                    for ev in rest {
                        t.deliver(*org, Some(*conversation), ev);
                    }
                    self.cursor.store(*id, Ordering::Release);
                }
            }
            if !full || complete < OUTBOX_PAGE as usize {
                break;
            }
        }
        // The outbox was read to its end: what was handed over before this round is delivered.
        lock(&self.handoff).round_done(round);
        Ok(self.cursor.load(Ordering::Acquire) > start)
    }

    fn on_signal(&self, envelope: Envelope) {
        if envelope.node == self.node {
            return;
        }
        match envelope.signal {
            Signal::Wake { outbox_id } => {
                if outbox_id > self.cursor.load(Ordering::Acquire) {
                    self.wake.notify_one();
                }
            }
            Signal::Ephemeral { org_id, conversation_id, event } => {
                self.deliver_ephemeral(0, org_id, conversation_id, &event);
            }
            Signal::Presence { org_id, users } => {
                {
                    let mut p = lock(&self.presence);
                    let nodes = p.remote.entry(org_id).or_default();
                    if users.is_empty() {
                        nodes.remove(&envelope.node);
                    } else {
                        nodes.insert(envelope.node, (users, Instant::now()));
                    }
                }
                self.deliver_presence_if_changed(org_id);
            }
        }
    }

    fn deliver_presence_if_changed(&self, org: OrgId) {
        let changed = lock(&self.presence).changed(org);
        if let Some(users) = changed {
            let ev = Arc::new(Event {
                widget: Some(frames::presence_for_widget(users.len())),
                agent: Some(frames::presence_for_agent(org, &users)),
                seq: None,
                offset: None,
                origin: 0,
            });
            lock(&self.topics).deliver(org, None, &ev);
        }
    }
}

/// A connection's registration; its id is unique on this node.
pub struct ConnectionGuard {
    hub: Arc<HubInner>,
    id: u64,
}

impl ConnectionGuard {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.hub.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's queue of frames. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<HubInner>,
    slot: Arc<Slot>,
    rx: mpsc::Receiver<Arc<Event>>,
}

impl Subscription {
    /// The next frame; `None` once the queue overflowed (the connection must close with 4008:
    /// what is still queued is stale by then, the client resumes instead).
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        if self.kicked() {
            return None;
        }
        tokio::select! {
            biased;
            () = self.slot.until_kicked() => None,
            event = self.rx.recv() => event,
        }
    }

    /// Resolves once the connection was kicked: all a live subscription's task waits for (the
    /// hub writes its frames itself).
    pub async fn until_kicked(&self) {
        self.slot.until_kicked().await
    }

    /// Whether the queue overflowed (the connection must close with 4008).
    pub fn kicked(&self) -> bool {
        self.slot.kicked.load(Ordering::Acquire)
    }

    /// Switches the connection to direct delivery once it has caught up: what was queued
    /// meanwhile (after `skip_upto`) is written to `outlet` first, then every new frame as the
    /// hub delivers it, with no queue and no wake-up of the connection's task. Returns false if
    /// the connection was kicked (it must close with 4008); [`Subscription::recv`] then yields
    /// `None`, and nothing else after going live.
    pub fn go_live(&mut self, skip_upto: i64, outlet: Arc<dyn Outlet>) -> bool {
        // Under the topics lock no delivery runs: nothing slips between the queue and the outlet.
        let mut topics = lock(&self.hub.topics);
        if self.kicked() {
            return false;
        }
        let live = Live { outlet, skip_upto };
        while let Ok(event) = self.rx.try_recv() {
            if event.origin != self.slot.id && !self.slot.offer_live(&live, &event) {
                topics.remove(&self.slot);
                return false;
            }
        }
        // Set once per subscription: a second call finds it set and changes nothing.
        if self.slot.live.get().is_none() {
            topics.go_live(&self.slot, &live);
            let _ = self.slot.live.set(live);
        }
        true
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.hub.topics).remove(&self.slot);
        if let Keys::Agent { user, orgs } = &self.slot.keys {
            let mut changed = Vec::new();
            {
                let mut p = lock(&self.hub.presence);
                for org in orgs {
                    if let Some(users) = p.local.get_mut(org) {
                        if let Some(count) = users.get_mut(user) {
                            *count = count.saturating_sub(1);
                            if *count == 0 {
                                users.remove(user);
                                changed.push(*org);
                            }
                        }
                        if users.is_empty() {
                            p.local.remove(org);
                        }
                    }
                }
            }
            self.hub.presence_changed(&changed);
        }
    }
}

async fn follow_outbox(hub: Weak<HubInner>, wake: Arc<Notify>, mut shutdown: watch::Receiver<()>) {
    let mut failing = false;
    loop {
        let poll = match hub.upgrade() {
            Some(h) => Duration::from_millis(h.config.poll_interval_ms),
            None => return,
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
        let Some(h) = hub.upgrade() else { return };
        let local = h.local_wake.swap(false, Ordering::AcqRel);
        match h.catch_up().await {
            Ok(moved) => {
                if failing {
                    tracing::info!("realtime: reading the outbox works again");
                    failing = false;
                }
                if moved && local {
                    h.send(Signal::Wake { outbox_id: h.cursor.load(Ordering::Acquire) });
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "realtime: cannot read the outbox; retrying");
                    failing = true;
                }
                // Keep the wake-up for the retry.
                if local {
                    h.local_wake.store(true, Ordering::Release);
                }
            }
        }
    }
}

async fn read_broker(hub: Weak<HubInner>, mut inbox: mpsc::Receiver<Envelope>, mut shutdown: watch::Receiver<()>) {
    loop {
        let envelope = tokio::select! {
            e = inbox.recv() => e,
            _ = shutdown.changed() => return,
        };
        let Some(h) = hub.upgrade() else { return };
        match envelope {
            Some(e) => h.on_signal(e),
            None => {
                tracing::error!(
                    broker = h.broker_name,
                    "realtime: the broker stopped; other nodes' signals are lost, the outbox is still polled"
                );
                return;
            }
        }
    }
}

async fn write_broker(broker: Arc<dyn Broker>, mut outgoing: mpsc::Receiver<Envelope>) {
    let mut failing = false;
    while let Some(envelope) = outgoing.recv().await {
        match broker.publish(&envelope).await {
            Ok(()) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(broker = broker.name(), error = %e, "realtime: cannot publish to the broker");
                    failing = true;
                }
            }
        }
    }
}

async fn presence_ticker(hub: Weak<HubInner>, mut shutdown: watch::Receiver<()>) {
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Some(h) = hub.upgrade() else { return };
        let (announce, expired) = {
            let mut p = lock(&h.presence);
            let announce: Vec<(OrgId, Vec<UserId>)> =
                p.local.iter().map(|(org, users)| (*org, users.keys().copied().collect())).collect();
            let mut expired = Vec::new();
            for (org, nodes) in p.remote.iter_mut() {
                let before = nodes.len();
                nodes.retain(|_, (_, at)| at.elapsed() < PRESENCE_TTL);
                if nodes.len() != before {
                    expired.push(*org);
                }
            }
            p.remote.retain(|_, nodes| !nodes.is_empty());
            (announce, expired)
        };
        for (org_id, users) in announce {
            h.send(Signal::Presence { org_id, users });
        }
        for org in expired {
            h.deliver_presence_if_changed(org);
        }
    }
}
