//! The hub over a real SQLite store: the outbox follower, bounded queues, brokers between hubs.

use frontdesk_core::chat::{Chat, StartSession};
use frontdesk_core::model::Organization;
use frontdesk_core::model::Site;
use frontdesk_core::ports::{FixedClock, SeededEntropy};
use frontdesk_core::{OrgId, SiteId};
use frontdesk_realtime::hub::outbox_head;
use frontdesk_realtime::{EphemeralEvent, Hub, MemoryBroker, Party, RealtimeConfig};
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    chat: Chat,
    site: Site,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("frontdesk-hub-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite");
    let clock = Arc::new(FixedClock::at(1_763_700_000_000));
    let entropy = Arc::new(SeededEntropy::new(7));
    let chat = Chat::new(Arc::new(store), clock.clone(), entropy.clone());
    let org = Organization {
        id: OrgId::generate(&*clock, &*entropy),
        name: "Org".to_owned(),
        plan: Default::default(),
        extra_seats: 0,
        created_at: chat.clock.now(),
    };
    chat.store.create_org(&org).await.expect("org");
    let site = Site {
        id: SiteId::generate(&*clock, &*entropy),
        org_id: org.id,
        name: "Shop".to_owned(),
        public_key: "pk_hubtest0000000000000000".to_owned(),
        secret: "sk_hubtest0000000000000000".to_owned(),
        allowed_origins: Vec::new(),
        widget: Default::default(),
        widget_draft: None,
        assistant: Default::default(),
        previous_public_key: None,
        previous_key_expires_at: None,
        require_verified_identity: false,
        retention_days: None,
        created_at: chat.clock.now(),
        updated_at: chat.clock.now(),
    };
    chat.store.create_site(&site).await.expect("site");
    Fixture { chat, site, dir }
}

fn quick() -> RealtimeConfig {
    RealtimeConfig { poll_interval_ms: 50, ..RealtimeConfig::default() }
}

async fn next(sub: &mut frontdesk_realtime::Subscription) -> Arc<frontdesk_realtime::Event> {
    tokio::time::timeout(Duration::from_secs(5), sub.recv()).await.expect("an event in time").expect("not kicked")
}

#[tokio::test]
async fn the_outbox_head_is_found_by_probing() {
    let f = fixture("head").await;
    assert_eq!(outbox_head(&*f.chat.store).await.expect("head"), 0);
    for _ in 0..5 {
        let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
        f.chat.visitor_message(&f.site, c.id, "hello", None).await.expect("message");
    }
    let all = f.chat.store.outbox_after(0, 1000).await.expect("outbox");
    assert_eq!(outbox_head(&*f.chat.store).await.expect("head"), all.last().map_or(0, |e| e.id));
}

#[tokio::test]
async fn stored_messages_reach_subscribers_in_order_after_commit() {
    let f = fixture("follow").await;
    let hub = Hub::start(f.chat.store.clone(), Arc::new(MemoryBroker::new()), quick()).await.expect("hub");
    let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
    let mut sub = hub.subscribe_widget(1, f.site.org_id, c.id);
    for text in ["one", "two", "three"] {
        f.chat.visitor_message(&f.site, c.id, text, None).await.expect("message");
    }
    hub.wake();
    for (seq, text) in [(1, "one"), (2, "two"), (3, "three")] {
        let event = next(&mut sub).await;
        assert_eq!(event.seq, Some(seq));
        let frame: serde_json::Value =
            serde_json::from_slice(event.widget.as_deref().unwrap_or_default()).expect("json");
        assert_eq!((frame["type"].as_str(), frame["message"]["body"].as_str()), (Some("message.created"), Some(text)));
        assert!(frame.get("offset").is_none());
        let agent: serde_json::Value =
            serde_json::from_slice(event.agent.as_deref().unwrap_or_default()).expect("json");
        assert_eq!(agent["offset"].as_i64(), event.offset);
    }
    assert!(hub.cursor() > 0);
}

#[tokio::test]
async fn handed_over_messages_are_not_read_back_and_others_are_read_in_one_batch() {
    let f = fixture("handoff").await;
    // No polling in the way: only wake-ups move the follower.
    let config = RealtimeConfig { poll_interval_ms: 60_000, ..RealtimeConfig::default() };
    let hub = Hub::start(f.chat.store.clone(), Arc::new(MemoryBroker::new()), config).await.expect("hub");
    let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
    let mut sub = hub.subscribe_widget(1, f.site.org_id, c.id);
    // Three committed messages: the first and last handed over (as this node's writers do),
    // the middle one as if another node wrote it.
    let mut written = Vec::new();
    for text in ["mine 1", "another node's", "mine 2"] {
        let (m, _) = f.chat.visitor_message(&f.site, c.id, text, None).await.expect("message");
        written.push(m);
    }
    hub.handoff(&written[0]);
    hub.handoff(&written[2]);
    for (seq, text) in [(1, "mine 1"), (2, "another node's"), (3, "mine 2")] {
        let event = next(&mut sub).await;
        assert_eq!(event.seq, Some(seq), "in commit order");
        let frame: serde_json::Value =
            serde_json::from_slice(event.widget.as_deref().unwrap_or_default()).expect("json");
        assert_eq!(frame["message"]["body"].as_str(), Some(text));
        assert_eq!(frame["message"]["id"], serde_json::json!(written[seq as usize - 1].id));
    }
    assert_eq!(hub.follower_messages(), (2, 1), "two from the hand-off, one read from the store");
    // A hand-off of a message the follower already delivered is not delivered again.
    hub.handoff(&written[1]);
    f.chat.visitor_message(&f.site, c.id, "next", None).await.expect("message");
    hub.wake();
    let event = next(&mut sub).await;
    assert_eq!(event.seq, Some(4), "no duplicate of seq 2");
}

#[tokio::test]
async fn a_full_queue_kicks_the_connection_instead_of_growing() {
    let f = fixture("kick").await;
    let config = RealtimeConfig { send_queue: 4, ..quick() };
    let hub = Hub::start(f.chat.store.clone(), Arc::new(MemoryBroker::new()), config).await.expect("hub");
    let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
    let mut slow = hub.subscribe_widget(1, f.site.org_id, c.id);
    let mut typist = hub.subscribe_widget(2, f.site.org_id, c.id);
    for i in 0..10 {
        hub.publish_ephemeral_from(
            2,
            f.site.org_id,
            c.id,
            EphemeralEvent::Typing { from: Party::Visitor, user_id: None, on: i % 2 == 0 },
        );
    }
    assert!(slow.recv().await.is_none(), "kicked: the client must reconnect and resume");
    // The sender does not get its own signals, so its queue is empty and it is not kicked.
    assert!(tokio::time::timeout(Duration::from_millis(100), typist.recv()).await.is_err());
}

#[tokio::test]
async fn hubs_sharing_a_broker_share_ephemeral_signals() {
    let f = fixture("broker").await;
    let broker = Arc::new(MemoryBroker::new());
    let a = Hub::start(f.chat.store.clone(), broker.clone(), quick()).await.expect("hub a");
    let b = Hub::start(f.chat.store.clone(), broker, quick()).await.expect("hub b");
    let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
    let mut on_b = b.subscribe_widget(1, f.site.org_id, c.id);
    a.publish_ephemeral(
        f.site.org_id,
        c.id,
        EphemeralEvent::Thinking { stage: Some("Searching the help center…".to_owned()) },
    );
    let event = next(&mut on_b).await;
    let frame: serde_json::Value = serde_json::from_slice(event.widget.as_deref().unwrap_or_default()).expect("json");
    assert_eq!(
        (frame["type"].as_str(), frame["stage"].as_str()),
        (Some("thinking"), Some("Searching the help center…"))
    );
}

/// An outlet that keeps what it is given, and refuses once it holds `room` frames.
struct Recorder {
    frames: std::sync::Mutex<Vec<serde_json::Value>>,
    room: usize,
}

impl frontdesk_realtime::Outlet for Recorder {
    fn offer(&self, payload: &bytes::Bytes) -> bool {
        let mut frames = self.frames.lock().expect("frames");
        if frames.len() >= self.room {
            return false;
        }
        frames.push(serde_json::from_slice(payload).expect("a JSON frame"));
        true
    }
}

#[tokio::test]
async fn going_live_hands_the_queue_to_the_outlet_then_writes_each_frame_as_it_is_delivered() {
    let f = fixture("live").await;
    let hub = Hub::start(f.chat.store.clone(), Arc::new(MemoryBroker::new()), quick()).await.expect("hub");
    let (c, _) = f.chat.start_session(&f.site, StartSession::default()).await.expect("session");
    let mut sub = hub.subscribe_widget(1, f.site.org_id, c.id);
    // While the connection catches up, three messages are stored and queued for it.
    for text in ["one", "two", "three"] {
        f.chat.visitor_message(&f.site, c.id, text, None).await.expect("message");
    }
    hub.wake();
    while hub.cursor() < outbox_head(&*f.chat.store).await.expect("head") {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Its catch-up read sent seq 1 already: the outlet gets 2 and 3 from the queue, in order.
    let outlet = Arc::new(Recorder { frames: Default::default(), room: 4 });
    assert!(sub.go_live(1, outlet.clone()), "not kicked");
    let bodies = |outlet: &Recorder| -> Vec<String> {
        let frames = outlet.frames.lock().expect("frames");
        frames.iter().filter_map(|f| f["message"]["body"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(bodies(&outlet), ["two", "three"]);

    // Live: the hub writes each new frame to the outlet itself; the queue stays empty.
    let typing = |on| EphemeralEvent::Typing { from: Party::Agent, user_id: None, on };
    hub.publish_ephemeral(f.site.org_id, c.id, typing(true));
    assert_eq!(outlet.frames.lock().expect("frames")[2]["type"], "typing", "written during the publish");
    f.chat.visitor_message(&f.site, c.id, "four", None).await.expect("message");
    hub.wake();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while bodies(&outlet).len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the live message reaches the outlet");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bodies(&outlet), ["two", "three", "four"]);

    // The outlet is full: the next frame kicks the connection, and nothing more is offered.
    hub.publish_ephemeral(f.site.org_id, c.id, typing(false));
    assert!(sub.recv().await.is_none(), "kicked: the client must reconnect and resume");
    hub.publish_ephemeral(f.site.org_id, c.id, typing(true));
    assert_eq!(outlet.frames.lock().expect("frames").len(), 4);
}
