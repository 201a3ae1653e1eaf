//! The notifier and mailer against a real SQLite store and a real local SMTP server.

use frontdesk_core::chat::{Chat, StartSession};
use frontdesk_core::inbox::Note;
use frontdesk_core::model::{Conversation, Membership, Organization, Site, User};
use frontdesk_core::ports::{Clock, FixedClock, SeededEntropy};
use frontdesk_core::roles::Role;
use frontdesk_core::status::StatusEvent;
use frontdesk_core::store::Store;
use frontdesk_core::team::NotificationPrefs;
use frontdesk_core::{NoteId, OrgId, SiteId, UserId};
use frontdesk_notify::{CURSOR_KEY, Mailer, Notifier, NotifyError, SmtpSecurity, SmtpSettings};
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use frontdesk_testkit::smtp::{ReceivedMail, SmtpSink};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T0: i64 = 1_763_700_000_000;
const PUBLIC_URL: &str = "https://desk.example.com/";
const WAIT: Duration = Duration::from_secs(10);

struct Fixture {
    dir: PathBuf,
    store: Arc<dyn Store>,
    chat: Chat,
    clock: Arc<FixedClock>,
    entropy: Arc<SeededEntropy>,
    sink: SmtpSink,
    mailer: Arc<Mailer>,
    keys: AtomicU32,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite"))
}

fn sink_settings(sink: &SmtpSink) -> SmtpSettings {
    SmtpSettings::plain("127.0.0.1", sink.port(), "Frontdesk <alerts@example.com>")
}

async fn fixture(name: &str, sink: SmtpSink) -> Fixture {
    let dir = std::env::temp_dir().join(format!("frontdesk-notify-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = open_store(&dir).await;
    let clock = Arc::new(FixedClock::at(T0));
    let entropy = Arc::new(SeededEntropy::new(11));
    let chat = Chat::new(store.clone(), clock.clone(), entropy.clone());
    let mailer = Arc::new(
        Mailer::new(&sink_settings(&sink)).expect("mailer").with_retry_delays(&[Duration::from_millis(50); 2]),
    );
    Fixture { dir, store, chat, clock, entropy, sink, mailer, keys: AtomicU32::new(0) }
}

impl Fixture {
    fn notifier(&self) -> Notifier {
        self.notifier_on(self.store.clone())
    }

    fn notifier_on(&self, store: Arc<dyn Store>) -> Notifier {
        Notifier::new(store, self.mailer.clone(), PUBLIC_URL, self.clock.clone())
    }

    async fn org(&self, name: &str) -> (Organization, Site) {
        let now = self.clock.now();
        let org = Organization {
            id: OrgId::generate(&*self.clock, &*self.entropy),
            name: name.to_owned(),
            plan: Default::default(),
            extra_seats: 0,
            created_at: now,
        };
        self.store.create_org(&org).await.expect("org");
        let n = self.keys.fetch_add(1, Ordering::SeqCst);
        let site = Site {
            id: SiteId::generate(&*self.clock, &*self.entropy),
            org_id: org.id,
            name: format!("{name} Shop"),
            public_key: format!("pk_notifytest{n:012}"),
            secret: format!("sk_notifytest{n:012}"),
            allowed_origins: Vec::new(),
            widget: Default::default(),
            widget_draft: None,
            assistant: Default::default(),
            previous_public_key: None,
            previous_key_expires_at: None,
            require_verified_identity: false,
            retention_days: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_site(&site).await.expect("site");
        (org, site)
    }

    async fn member(&self, org: OrgId, name: &str, role: Role, prefs: NotificationPrefs) -> User {
        let now = self.clock.now();
        let user = User {
            id: UserId::generate(&*self.clock, &*self.entropy),
            email: format!("{}@example.com", name.to_lowercase()),
            name: name.to_owned(),
            password_hash: String::new(),
            created_at: now,
        };
        self.store.create_user(&user).await.expect("user");
        self.store
            .put_membership(&Membership { org_id: org, user_id: user.id, role, created_at: now })
            .await
            .expect("m");
        self.store.set_notification_prefs(org, user.id, prefs).await.expect("prefs");
        user
    }

    /// A conversation where the visitor wrote `text`, then asked for a person.
    async fn escalated(&self, site: &Site, text: &str) -> Conversation {
        let (c, _) = self.chat.start_session(site, StartSession::default()).await.expect("session");
        self.chat.visitor_message(site, c.id, text, None).await.expect("message");
        self.chat.change_status(site.org_id, c.id, StatusEvent::Escalate).await.expect("escalate")
    }

    async fn note(&self, c: &Conversation, author: UserId, body: &str, mentions: Vec<UserId>) -> Note {
        let note = Note {
            id: NoteId::generate(&*self.clock, &*self.entropy),
            org_id: c.org_id,
            conversation_id: c.id,
            author_id: author,
            body: body.to_owned(),
            html: format!("<p>{body}</p>"),
            mentions,
            created_at: self.clock.now(),
        };
        self.store.create_note(&note).await.expect("note");
        note
    }
}

const ALL: NotificationPrefs = NotificationPrefs { email_escalations: true, email_mentions: true };
const NONE: NotificationPrefs = NotificationPrefs { email_escalations: false, email_mentions: false };

fn recipients(mail: &[ReceivedMail]) -> Vec<String> {
    let mut to: Vec<String> = mail.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

fn link(c: &Conversation) -> String {
    format!("https://desk.example.com/app/#/conversations/{}", c.id)
}

#[tokio::test]
async fn an_escalation_emails_exactly_the_opted_in_members() {
    let f = fixture("escalation", SmtpSink::start().await).await;
    let (acme, site) = f.org("Acme").await;
    let (other, other_site) = f.org("Other").await;
    f.member(acme.id, "Owner", Role::Owner, ALL).await;
    f.member(acme.id, "Quiet", Role::Admin, NotificationPrefs { email_escalations: false, email_mentions: true }).await;
    f.member(acme.id, "Agent", Role::Member, ALL).await;
    f.member(other.id, "Stranger", Role::Owner, ALL).await;
    let notifier = f.notifier();

    // A conversation that only talks to the assistant emails nobody.
    let (calm, _) = f.chat.start_session(&site, StartSession::default()).await.expect("session");
    f.chat.visitor_message(&site, calm.id, "just browsing", None).await.expect("message");
    assert_eq!(notifier.tick().await.expect("tick"), 0);

    let long = format!("My order never arrived. {}THE-TAIL", "Please help. ".repeat(40));
    let c = f.escalated(&site, &long).await;
    assert_eq!(notifier.tick().await.expect("tick"), 2);
    let mail = f.sink.wait_for(2, WAIT).await;
    assert_eq!(recipients(&mail), ["agent@example.com", "owner@example.com"]);
    for m in &mail {
        assert_eq!(m.from, "alerts@example.com");
        assert_eq!(m.subject(), "Conversation escalated — Acme Shop");
        assert_eq!(m.header("To").as_deref(), Some(m.to[0].as_str()), "one recipient per email");
        let body = m.body_text();
        assert!(body.contains("> My order never arrived. Please help."), "{body}");
        assert!(body.contains('…') && !body.contains("THE-TAIL"), "the message is shortened: {body}");
        assert!(body.contains(&link(&c)), "{body}");
    }

    // Nothing is sent twice; the other organization's escalation goes to its own member only.
    assert_eq!(notifier.tick().await.expect("tick"), 0);
    f.escalated(&other_site, "hello?").await;
    assert_eq!(notifier.tick().await.expect("tick"), 1);
    let mail = f.sink.wait_for(3, WAIT).await;
    assert_eq!(mail.len(), 3);
    assert_eq!(mail[2].to, ["stranger@example.com"]);
    assert_eq!(mail[2].subject(), "Conversation escalated — Other Shop");
}

#[tokio::test]
async fn a_mention_emails_only_the_mentioned_member() {
    let f = fixture("mention", SmtpSink::start().await).await;
    let (acme, site) = f.org("Acme").await;
    let (other, _) = f.org("Other").await;
    // Nobody wants escalation email here, so the escalation below sends nothing.
    let no_escalations = NotificationPrefs { email_escalations: false, email_mentions: true };
    let author = f.member(acme.id, "Grace", Role::Admin, no_escalations).await;
    let mentioned = f.member(acme.id, "Ada", Role::Member, no_escalations).await;
    let bystander = f.member(acme.id, "Linus", Role::Member, no_escalations).await;
    let opted_out = f.member(acme.id, "Quiet", Role::Member, NONE).await;
    let outsider = f.member(other.id, "Stranger", Role::Owner, ALL).await;
    let notifier = f.notifier();
    let c = f.escalated(&site, "where is my parcel?").await;
    assert_eq!(notifier.tick().await.expect("tick"), 0);

    let body = "@Ada can you check the tracking number?";
    f.note(&c, author.id, body, vec![mentioned.id, author.id, opted_out.id, outsider.id, mentioned.id]).await;
    assert_eq!(notifier.tick().await.expect("tick"), 1);
    let mail = f.sink.wait_for(1, WAIT).await;
    assert_eq!(recipients(&mail), ["ada@example.com"]);
    assert_eq!(mail[0].subject(), "Grace mentioned you — Acme Shop");
    let text = mail[0].body_text();
    assert!(text.contains(&format!("> {body}")), "{text}");
    assert!(text.contains(&link(&c)), "{text}");

    // A note without mentions emails nobody.
    f.note(&c, author.id, "internal remark", Vec::new()).await;
    assert_eq!(notifier.tick().await.expect("tick"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.sink.messages().len(), 1, "bystander {} got nothing", bystander.email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notifiers_on_one_database_send_each_email_once() {
    let f = fixture("nodes", SmtpSink::start().await).await;
    let (acme, site) = f.org("Acme").await;
    f.member(acme.id, "Owner", Role::Owner, ALL).await;
    f.member(acme.id, "Agent", Role::Member, ALL).await;
    // A second connection pool on the same file: another server node.
    let second_store = open_store(&f.dir).await;

    // Running side by side while escalations arrive.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(f.notifier().run(stopped.clone()));
    let b = tokio::spawn(f.notifier_on(second_store.clone()).run(stopped));
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for i in 0..10 {
        let c = f.escalated(&site, &format!("question {i}")).await;
        for to in ["owner@example.com", "agent@example.com"] {
            expected.insert((to.to_owned(), link(&c)), 1);
        }
    }
    let mail = f.sink.wait_for(20, WAIT).await;
    assert_eq!(mail.len(), 20);
    stop.send_replace(true);
    for node in [a, b] {
        tokio::time::timeout(Duration::from_secs(5), node).await.expect("stops on shutdown").expect("no panic");
    }

    // Both nodes racing for the same backlog: more than one batch (each escalation writes
    // several outbox events), both starting from the same cursor.
    for i in 0..40 {
        let c = f.escalated(&site, &format!("backlog {i}")).await;
        for to in ["owner@example.com", "agent@example.com"] {
            expected.insert((to.to_owned(), link(&c)), 1);
        }
    }
    let (one, two) = (f.notifier(), f.notifier_on(second_store));
    let (x, y) = tokio::join!(one.tick(), two.tick());
    let (x, y) = (x.expect("tick"), y.expect("tick"));
    assert_eq!(x + y, 80, "the backlog's emails are sent once between the nodes ({x} + {y})");
    f.sink.wait_for(100, WAIT).await;
    // Time for a duplicate to show up, were one sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mail = f.sink.messages();

    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &mail {
        let body = m.body_text();
        let link = body.lines().find(|l| l.starts_with("https://")).expect("a link").to_owned();
        *seen.entry((m.to[0].clone(), link)).or_default() += 1;
    }
    assert_eq!(seen, expected, "every escalation emailed to each member exactly once");
    let cursor = f.store.get_or_init_setting(CURSOR_KEY, "0").await.expect("cursor");
    let head = f.store.outbox_after(0, 10_000).await.expect("outbox").last().map(|e| e.id).expect("events");
    assert_eq!(cursor, head.to_string(), "the shared cursor reached the outbox's end");
}

#[tokio::test]
async fn a_transient_refusal_is_retried() {
    let f = fixture("retry", SmtpSink::start_failing(1).await).await;
    let (acme, site) = f.org("Acme").await;
    f.member(acme.id, "Owner", Role::Owner, ALL).await;
    let notifier = f.notifier();
    f.escalated(&site, "anyone there?").await;
    assert_eq!(notifier.tick().await.expect("tick"), 1);
    assert_eq!(f.sink.refused_data(), 1, "the first DATA was refused");
    assert_eq!(recipients(&f.sink.wait_for(1, WAIT).await), ["owner@example.com"]);

    // Without retries the same refusal is an error, and it says it was transient.
    let once = Mailer::new(&sink_settings(&f.sink)).expect("mailer").with_retry_delays(&[]);
    f.sink.fail_next_data(1);
    match once.send("ada@example.com", "s", "t").await {
        Err(NotifyError::Smtp(e)) => assert!(e.is_transient(), "{e}"),
        other => panic!("expected a transient SMTP error, got {other:?}"),
    }
    assert_eq!(f.sink.refused_data(), 2);
    // A refusal that outlasts the retries fails too, after every attempt.
    f.sink.fail_next_data(3);
    assert!(f.mailer.send("ada@example.com", "s", "t").await.is_err());
    assert_eq!(f.sink.refused_data(), 5);
    assert_eq!(f.sink.messages().len(), 1);
}

#[tokio::test]
async fn history_from_before_the_start_is_not_emailed() {
    let f = fixture("history", SmtpSink::start().await).await;
    let (acme, site) = f.org("Acme").await;
    f.member(acme.id, "Owner", Role::Owner, ALL).await;
    for i in 0..3 {
        f.escalated(&site, &format!("old question {i}")).await;
    }
    // The notifier first starts ten minutes later; one escalation came 30 s before that.
    f.clock.advance_seconds(570);
    let recent = f.escalated(&site, "just before the start").await;
    f.clock.advance_seconds(30);
    let notifier = f.notifier();
    assert_eq!(notifier.tick().await.expect("tick"), 1, "only the escalation within the grace minute");
    let mail = f.sink.wait_for(1, WAIT).await;
    assert!(mail[0].body_text().contains(&link(&recent)), "{}", mail[0].body_text());

    let fresh = f.escalated(&site, "a new question").await;
    assert_eq!(notifier.tick().await.expect("tick"), 1);
    let mail = f.sink.wait_for(2, WAIT).await;
    assert_eq!(mail.len(), 2);
    assert!(mail[1].body_text().contains(&link(&fresh)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.sink.messages().len(), 2);
}

/// Collects everything `tracing` writes while the guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn the_password_and_bodies_never_reach_debug_output_or_logs() {
    const PASSWORD: &str = "pw-7d1c-never-printed";
    let sink = SmtpSink::start_failing(1).await;
    let settings = SmtpSettings {
        username: Some("alerts".to_owned()),
        password: Some(PASSWORD.to_owned()),
        ..sink_settings(&sink)
    };
    assert_eq!(settings.security, SmtpSecurity::None);
    let mailer = Mailer::new(&settings).expect("mailer").with_retry_delays(&[Duration::from_millis(20)]);
    for text in [format!("{settings:?}"), format!("{mailer:?}")] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(text.contains("alerts"), "{text}");
    }

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // One refusal (logged and retried), then delivery with the password.
    mailer.send("ada@example.com", "Subject line", "BODY-MARKER-1 secret customer words").await.expect("sent");
    // Each attempt is a connection of its own, and each logged in with the password.
    assert_eq!(sink.logins(), vec![("alerts".to_owned(), PASSWORD.to_owned()); 2], "the password was really used");
    // A failure that is returned and logged by the caller.
    sink.fail_next_data(2);
    let err = mailer.send("ada@example.com", "Subject", "BODY-MARKER-2").await.expect_err("refused twice");
    tracing::warn!(error = %err, "caller logs the failure");

    // The notifier's own logs, on a store with an escalation.
    let f = fixture("logs", SmtpSink::start().await).await;
    let (acme, site) = f.org("Acme").await;
    f.member(acme.id, "Owner", Role::Owner, ALL).await;
    f.escalated(&site, "BODY-MARKER-3 my card number is 4111").await;
    let notifier = Notifier::new(f.store.clone(), Arc::new(mailer), PUBLIC_URL, f.clock.clone());
    tracing::info!(notifier = ?notifier, "debug of the notifier");
    assert_eq!(notifier.tick().await.expect("tick"), 1);
    let delivered = sink.wait_for(2, WAIT).await;
    assert!(delivered[1].body_text().contains("BODY-MARKER-3"), "the body was in the email");

    let text = logs.text();
    assert!(text.contains("retrying"), "the retry was logged: {text}");
    assert!(text.contains("caller logs the failure"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains("BODY-MARKER"), "{text}");
    assert!(!err.to_string().contains(PASSWORD));
}
