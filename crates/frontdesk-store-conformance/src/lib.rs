//! The story every [`Store`] backend must pass.
//!
//! [`run_story`] drives every method of the port through one realistic script (two tenants, a
//! conversation's whole life, races) and asserts what each call returns. It ends by reading a
//! [`Snapshot`] of everything it wrote; after the backend is closed and opened again,
//! [`check_persisted`] reads the same snapshot and asserts nothing was lost.
//!
//! The story creates its own organizations, users and keys (seeded per run), so it also runs
//! against a database that holds other data; it needs a multi-threaded Tokio runtime for its
//! races to be real.

use frontdesk_core::audit::{AuditEvent, AuditRecord};
use frontdesk_core::chat::{Chat, StartSession};
use frontdesk_core::error::CoreError;
use frontdesk_core::events::{DomainEvent, OutboxEvent};
use frontdesk_core::ids::*;
use frontdesk_core::kb::{ArticleDraft, KnowledgeBase};
use frontdesk_core::keys;
use frontdesk_core::knowledge::{Article, ArticleStatus};
use frontdesk_core::model::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::{Clock, FixedClock, SeededEntropy};
use frontdesk_core::roles::Role;
use frontdesk_core::status::{ConversationStatus, StatusEvent};
use frontdesk_core::store::{
    ArticleFilter, AuditFilter, ConversationFilter, StatusChange, Store, StoreError, StoreResult,
};
use frontdesk_core::time::Timestamp;
use serde_json::json;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

mod dashboard;
mod privacy;
pub use dashboard::{run_dashboard, run_dashboard_seeded};

/// 2025-10-09T08:53:20Z: every time in the story is this plus whole seconds.
const START_MS: i64 = 1_760_000_000_000;
/// Appends racing on one conversation.
pub const CONCURRENT_APPENDS: i64 = 25;

use ConversationStatus::{Active, Closed, Escalated, Resolved};

/// What [`check_persisted`] needs: the ids the story created and what the store held for them
/// when the story ended.
#[derive(Debug, Clone)]
pub struct StoryOutcome {
    pub backend: &'static str,
    pub ids: StoryIds,
    /// The settings the story initialized, with their values.
    pub settings: Vec<(String, String)>,
    /// Read at the end of the story.
    pub snapshot: Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryIds {
    pub org_a: OrgId,
    pub org_b: OrgId,
    pub user_a: UserId,
    pub user_b: UserId,
    pub site_a: SiteId,
    pub site_b: SiteId,
    pub visitor_a: VisitorId,
    /// Went through the whole life: active, escalated, resolved, reopened, closed; rated.
    pub lifecycle: ConversationId,
    /// Took the racing appends.
    pub concurrent: ConversationId,
    /// Took the compare-and-set races; ends resolved, without messages.
    pub cas: ConversationId,
    /// Organization B's one conversation.
    pub conversation_b: ConversationId,
}

/// Everything the story wrote, as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub orgs: Vec<Organization>,
    pub users: Vec<User>,
    pub memberships: Vec<Membership>,
    pub session: LoginSession,
    pub sites: Vec<Site>,
    pub visitor_a: Visitor,
    pub conversations: Vec<Conversation>,
    /// Per conversation of `conversations`, in the same order.
    pub messages: Vec<Vec<Message>>,
    pub rating: Rating,
    pub settings: Vec<(String, String)>,
    pub audit_a: Vec<AuditRecord>,
    pub audit_b: Vec<AuditRecord>,
    /// The outbox events of the story's two organizations, oldest first.
    pub outbox: Vec<OutboxEvent>,
    /// Every article of the two sites, by id.
    pub articles: Vec<Article>,
}

#[track_caller]
fn ok<T>(result: StoreResult<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: expected success, got {e:?}"),
    }
}

#[track_caller]
fn core_ok<T>(result: Result<T, CoreError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: expected success, got {e:?}"),
    }
}

#[track_caller]
fn not_found<T: Debug>(result: StoreResult<T>, what: &str) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn conflict<T: Debug>(result: StoreResult<T>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// No filter, at most `limit` events.
fn audit_limit(limit: u32) -> AuditFilter {
    AuditFilter { limit, ..AuditFilter::default() }
}

/// A seed that differs between runs, so the story can run twice against one database.
fn fresh_seed() -> u64 {
    // The random half of a UUIDv7 (time comes in through the Clock port, not from here).
    uuid::Uuid::now_v7().as_u64_pair().1 | 1
}

/// Runs the story with a fresh seed. Panics (with what and why) on the first deviation.
pub async fn run_story(store: Arc<dyn Store>) -> StoryOutcome {
    run_story_seeded(store, fresh_seed()).await
}

/// Runs the story with the given seed for ids, keys and e-mail addresses.
pub async fn run_story_seeded(store: Arc<dyn Store>, seed: u64) -> StoryOutcome {
    let clock = Arc::new(FixedClock::at(START_MS));
    let entropy = Arc::new(SeededEntropy::new(seed));
    let chat = Chat::new(store.clone(), clock.clone(), entropy.clone());
    let tick = || clock.advance_seconds(1);
    let tag = keys::random_base62(&*entropy, 10).to_lowercase();

    // --- Health.
    let backend = store.backend();
    assert!(!backend.is_empty(), "backend() names the backend");
    ok(store.ping().await, "ping");

    // --- Settings: the first value wins, for later and for concurrent callers.
    let key = format!("story.{tag}.signing_key");
    assert_eq!(ok(store.get_or_init_setting(&key, "first").await, "init setting"), "first");
    assert_eq!(
        ok(store.get_or_init_setting(&key, "second").await, "re-init setting"),
        "first",
        "get_or_init_setting returns the stored value, not the new one"
    );
    let race_key = format!("story.{tag}.race");
    let mut racers = Vec::new();
    for i in 0..8 {
        let (store, race_key) = (store.clone(), race_key.clone());
        racers.push(tokio::spawn(async move { store.get_or_init_setting(&race_key, &format!("node-{i}")).await }));
    }
    let mut agreed = BTreeSet::new();
    for racer in racers {
        agreed.insert(ok(racer.await.expect("setting racer panicked"), "racing get_or_init_setting"));
    }
    assert_eq!(agreed.len(), 1, "concurrent get_or_init_setting callers agree on one value: {agreed:?}");
    let race_value = agreed.into_iter().next().unwrap_or_default();
    assert!(race_value.starts_with("node-"), "the agreed value is one of the proposals: {race_value}");
    let settings = vec![(key, "first".to_owned()), (race_key, race_value)];

    // --- Organizations.
    let org_a = Organization {
        id: OrgId::generate(&*clock, &*entropy),
        name: "Acme".to_owned(),
        plan: Plan::Free,
        extra_seats: 0,
        created_at: clock.now(),
    };
    tick();
    // A paid plan with extra seats: both columns must round-trip.
    let org_b = Organization {
        id: OrgId::generate(&*clock, &*entropy),
        name: "Globex".to_owned(),
        plan: Plan::Pro,
        extra_seats: 3,
        created_at: clock.now(),
    };
    ok(store.create_org(&org_a).await, "create org A");
    ok(store.create_org(&org_b).await, "create org B");
    assert_eq!(ok(store.get_org(org_a.id).await, "get org A"), org_a);
    assert_eq!(ok(store.get_org(org_b.id).await, "get org B"), org_b);
    let orgs = ok(store.list_orgs().await, "list orgs");
    assert!(orgs.contains(&org_a) && orgs.contains(&org_b), "list_orgs has both orgs: {orgs:?}");
    not_found(store.get_org(OrgId::generate(&*clock, &*entropy)).await, "get unknown org");

    // --- Users: e-mail addresses are stored lower-cased and unique regardless of case.
    tick();
    let mut user_a = User {
        id: UserId::generate(&*clock, &*entropy),
        email: format!("Alice.{tag}@Example.COM"),
        name: "Alice".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: clock.now(),
    };
    ok(store.create_user(&user_a).await, "create user A");
    user_a.email = user_a.email.to_lowercase();
    assert_eq!(ok(store.get_user(user_a.id).await, "get user A"), user_a, "the email is stored lower-cased");
    assert_eq!(ok(store.get_user_by_email(&user_a.email).await, "user A by email"), user_a);
    assert_eq!(
        ok(store.get_user_by_email(&user_a.email.to_uppercase()).await, "user A by upper-cased email"),
        user_a,
        "lookup by email ignores case"
    );
    let impostor = User {
        id: UserId::generate(&*clock, &*entropy),
        email: format!("ALICE.{tag}@example.com"),
        name: "Mallory".to_owned(),
        password_hash: String::new(),
        created_at: clock.now(),
    };
    conflict(store.create_user(&impostor).await, "an email taken in another case");
    not_found(store.get_user(impostor.id).await, "the refused user was not stored");
    let user_b = User {
        id: UserId::generate(&*clock, &*entropy),
        email: format!("bob.{tag}@globex.example"),
        name: "Bob".to_owned(),
        password_hash: "$argon2id$v=19$bob".to_owned(),
        created_at: clock.now(),
    };
    ok(store.create_user(&user_b).await, "create user B");
    user_a.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA".to_owned();
    ok(store.set_password_hash(user_a.id, &user_a.password_hash).await, "set password hash");
    assert_eq!(ok(store.get_user(user_a.id).await, "user A after new password"), user_a);
    not_found(store.set_password_hash(impostor.id, "x").await, "set password of an unknown user");
    not_found(store.get_user_by_email("nobody@example.com").await, "unknown email");

    // --- Memberships.
    tick();
    let member_a = Membership { org_id: org_a.id, user_id: user_a.id, role: Role::Owner, created_at: clock.now() };
    let member_b = Membership { org_id: org_b.id, user_id: user_b.id, role: Role::Owner, created_at: clock.now() };
    let mut a_in_b = Membership { org_id: org_b.id, user_id: user_a.id, role: Role::Member, created_at: clock.now() };
    ok(store.put_membership(&member_a).await, "put membership A");
    ok(store.put_membership(&member_b).await, "put membership B");
    ok(store.put_membership(&a_in_b).await, "put membership of A in B");
    tick();
    a_in_b.role = Role::Admin;
    let promoted = Membership { created_at: clock.now(), ..a_in_b.clone() };
    ok(store.put_membership(&promoted).await, "change the role of A in B");
    assert_eq!(ok(store.get_membership(org_a.id, user_a.id).await, "membership A"), member_a);
    assert_eq!(
        ok(store.get_membership(org_b.id, user_a.id).await, "membership of A in B"),
        a_in_b,
        "put_membership changes the role and keeps the original created_at"
    );
    not_found(store.get_membership(org_a.id, user_b.id).await, "membership of B's user in org A");
    let of_a = ok(store.list_memberships_of_user(user_a.id).await, "memberships of A");
    assert_eq!(of_a.len(), 2, "user A is in two orgs: {of_a:?}");
    assert!(of_a.contains(&member_a) && of_a.contains(&a_in_b), "memberships of A: {of_a:?}");
    assert_eq!(ok(store.list_memberships_of_user(user_b.id).await, "memberships of B"), vec![member_b.clone()]);

    // --- Login sessions.
    tick();
    let mut session = LoginSession {
        token_hash: keys::hash_token(&format!("token-1-{tag}")),
        user_id: user_a.id,
        created_at: clock.now(),
        last_seen_at: clock.now(),
        expires_at: clock.now().plus_seconds(3600),
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("Mozilla/5.0 (story)".to_owned()),
    };
    ok(store.create_login_session(&session).await, "create login session");
    assert_eq!(ok(store.get_login_session(&session.token_hash).await, "get login session"), session);
    conflict(store.create_login_session(&session).await, "a token hash used twice");
    tick();
    session.last_seen_at = clock.now();
    session.expires_at = clock.now().plus_seconds(7200);
    ok(store.touch_login_session(&session.token_hash, session.last_seen_at, session.expires_at).await, "touch session");
    assert_eq!(ok(store.get_login_session(&session.token_hash).await, "touched session"), session);
    let doomed = LoginSession {
        token_hash: keys::hash_token(&format!("token-2-{tag}")),
        ip: None,
        user_agent: None,
        ..session.clone()
    };
    ok(store.create_login_session(&doomed).await, "create second session");
    assert_eq!(ok(store.get_login_session(&doomed.token_hash).await, "second session"), doomed);
    ok(store.delete_login_session(&doomed.token_hash).await, "log out");
    not_found(store.get_login_session(&doomed.token_hash).await, "deleted session");
    ok(store.delete_login_session(&doomed.token_hash).await, "logging out twice is not an error");
    not_found(store.touch_login_session(&doomed.token_hash, clock.now(), clock.now()).await, "touch deleted session");

    // --- Sites.
    tick();
    let site_a = Site {
        id: SiteId::generate(&*clock, &*entropy),
        org_id: org_a.id,
        name: "Acme shop".to_owned(),
        public_key: keys::new_public_key(&*entropy),
        secret: keys::new_site_secret(&*entropy),
        allowed_origins: vec!["https://acme.example".to_owned()],
        widget: WidgetConfig::default(),
        widget_draft: None,
        assistant: AssistantSettings::default(),
        previous_public_key: None,
        previous_key_expires_at: None,
        require_verified_identity: false,
        retention_days: None,
        created_at: clock.now(),
        updated_at: clock.now(),
    };
    let site_b = Site {
        id: SiteId::generate(&*clock, &*entropy),
        org_id: org_b.id,
        name: "Globex".to_owned(),
        public_key: keys::new_public_key(&*entropy),
        secret: keys::new_site_secret(&*entropy),
        allowed_origins: vec![],
        widget: WidgetConfig { language: "nl".to_owned(), ..WidgetConfig::default() },
        widget_draft: None,
        previous_public_key: None,
        previous_key_expires_at: None,
        require_verified_identity: false,
        retention_days: None,
        // The stored API key must come back: only API responses mask it.
        assistant: AssistantSettings {
            system_prompt: "You are Globex's helper.".to_owned(),
            provider: ProviderSettings::Openai {
                base_url: "http://127.0.0.1:11434/v1".to_owned(),
                model: "mistral".to_owned(),
                api_key: Some("sk-test-key".to_owned()),
            },
            escalation_keywords: vec!["refund".to_owned()],
            low_confidence: LowConfidenceAction::Escalate,
            ..AssistantSettings::default()
        },
        created_at: clock.now(),
        updated_at: clock.now(),
    };
    ok(store.create_site(&site_a).await, "create site A");
    ok(store.create_site(&site_b).await, "create site B");
    assert_eq!(ok(store.get_site(org_a.id, site_a.id).await, "site A"), site_a);
    not_found(store.get_site(org_a.id, site_b.id).await, "site of org B read through org A");
    assert_eq!(ok(store.get_site_by_public_key(&site_b.public_key).await, "site B by key"), site_b);
    not_found(store.get_site_by_public_key("pk_unknown").await, "unknown public key");
    let copycat = Site { id: SiteId::generate(&*clock, &*entropy), ..site_b.clone() };
    conflict(store.create_site(&copycat).await, "a public key used twice");

    tick();
    let site_a = Site {
        name: "Acme store".to_owned(),
        public_key: keys::new_public_key(&*entropy),
        secret: keys::new_site_secret(&*entropy),
        allowed_origins: vec!["https://acme.example".to_owned(), "https://www.acme.example".to_owned()],
        widget: WidgetConfig {
            title: "Acme help".to_owned(),
            primary_color: "#ff5500".to_owned(),
            position: WidgetPosition::BottomLeft,
            quick_replies: vec!["Where is my order?".to_owned()],
            suggestions: vec![SuggestionRule {
                id: "pricing".to_owned(),
                url_pattern: "https://acme.example/pricing*".to_owned(),
                message: "Questions about plans? 💬".to_owned(),
                triggers: SuggestionTriggers {
                    seconds_on_page: Some(20),
                    scroll_percent: Some(50),
                    selector_visible: Some("#plans".to_owned()),
                },
            }],
            channels: vec![Channel {
                kind: "email".to_owned(),
                label: "Mail us".to_owned(),
                url: "mailto:help@acme.example".to_owned(),
            }],
            show_branding: false,
            ..WidgetConfig::default()
        },
        updated_at: clock.now(),
        ..site_a
    };
    ok(store.update_site(&site_a).await, "update site A");
    assert_eq!(ok(store.get_site(org_a.id, site_a.id).await, "updated site A"), site_a, "update_site round-trips");
    let hijack = Site { org_id: org_a.id, name: "hijacked".to_owned(), ..site_b.clone() };
    not_found(store.update_site(&hijack).await, "update site B through org A");
    assert_eq!(ok(store.get_site(org_b.id, site_b.id).await, "site B after refused update"), site_b);
    let stealing = Site { public_key: site_b.public_key.clone(), ..site_a.clone() };
    conflict(store.update_site(&stealing).await, "update to a public key in use");
    assert_eq!(ok(store.list_sites(org_a.id).await, "sites of A"), vec![site_a.clone()]);
    assert_eq!(ok(store.list_sites(org_b.id).await, "sites of B"), vec![site_b.clone()]);
    let all_sites = ok(store.list_all_sites().await, "all sites");
    assert!(all_sites.contains(&site_a) && all_sites.contains(&site_b), "list_all_sites has both sites");

    // --- Visitors and conversations, started the way the widget starts them.
    tick();
    let start = StartSession {
        visitor_id: None,
        page_url: Some("https://acme.example/pricing".to_owned()),
        locale: Some("en".to_owned()),
        params: Some(json!({"plan": "pro", "cart_items": 3})),
    };
    let (lifecycle, mut visitor_a) = core_ok(chat.start_session(&site_a, start).await, "start session");
    assert_eq!(ok(store.get_visitor(site_a.id, visitor_a.id).await, "visitor A"), visitor_a);
    not_found(store.get_visitor(site_b.id, visitor_a.id).await, "visitor of site A read through site B");
    assert_eq!(ok(store.get_conversation(org_a.id, lifecycle.id).await, "conversation"), lifecycle);
    assert_eq!(ok(store.get_conversation_for_site(site_a.id, lifecycle.id).await, "conversation by site"), lifecycle);
    not_found(store.get_conversation_for_site(site_b.id, lifecycle.id).await, "conversation of site A via site B");
    let unknown = ConversationId::generate(&*clock, &*entropy);
    assert_eq!(
        ok(
            store
                .token_generations(&[(site_a.id, lifecycle.id), (site_b.id, lifecycle.id), (site_a.id, unknown)])
                .await,
            "token generations"
        ),
        vec![(lifecycle.id, lifecycle.token_generation)],
        "only the conversation named with its own site"
    );
    assert!(ok(store.token_generations(&[]).await, "token generations of none").is_empty());
    not_found(store.get_conversation(org_b.id, lifecycle.id).await, "conversation of org A via org B");
    not_found(
        store.get_conversation(org_a.id, ConversationId::generate(&*clock, &*entropy)).await,
        "unknown conversation",
    );

    tick();
    visitor_a.last_seen_at = clock.now();
    ok(store.touch_visitor(site_a.id, visitor_a.id, clock.now()).await, "touch visitor");
    assert_eq!(ok(store.get_visitor(site_a.id, visitor_a.id).await, "touched visitor"), visitor_a);
    not_found(store.touch_visitor(site_b.id, visitor_a.id, clock.now()).await, "touch visitor through another site");

    tick();
    let again = StartSession { visitor_id: Some(visitor_a.id), ..StartSession::default() };
    let (cas, returning) = core_ok(chat.start_session(&site_a, again).await, "start a second session");
    assert_eq!(returning.id, visitor_a.id, "a known visitor is reused");
    visitor_a.last_seen_at = clock.now();
    let elsewhere = StartSession { visitor_id: Some(visitor_a.id), ..StartSession::default() };
    let (conversation_b, visitor_b) = core_ok(chat.start_session(&site_b, elsewhere).await, "session on site B");
    assert_ne!(visitor_b.id, visitor_a.id, "a visitor id of another site is not reused");
    assert_eq!(conversation_b.org_id, org_b.id);

    // --- A conversation's life.
    tick();
    let (m1, c) = core_ok(
        chat.visitor_message(&site_a, lifecycle.id, "Hello, I need help with my invoice", None).await,
        "visitor message",
    );
    assert_eq!((m1.seq, c.last_seq, c.status), (1, 1, Active), "first message");
    assert_eq!(m1.reaction, None);
    assert_eq!(c.updated_at, clock.now(), "appending sets updated_at");
    assert_eq!(c.last_activity_at, clock.now(), "a visitor message is visitor activity");
    let visitor_active_at = clock.now();

    tick();
    let citation = Citation {
        article_id: "kb-42".to_owned(),
        title: "Invoices".to_owned(),
        url: Some("https://acme.example/help/invoices".to_owned()),
    };
    let (m2, c) = core_ok(
        chat.automated_message(
            org_a.id,
            lifecycle.id,
            AuthorKind::Assistant,
            "Invoices are under **Billing**.".to_owned(),
            vec![citation],
            vec!["Talk to a human".to_owned()],
        )
        .await,
        "assistant message",
    );
    assert_eq!((m2.seq, c.status), (2, Active));
    assert_eq!(c.last_activity_at, visitor_active_at, "an assistant message is not visitor activity");
    assert_eq!(c.updated_at, clock.now());

    tick();
    let (m3, c) = core_ok(chat.agent_reply(org_a.id, user_a.id, lifecycle.id, "Hi, Alice here.").await, "agent reply");
    assert_eq!((m3.seq, c.status), (3, Escalated), "an agent reply escalates");
    assert_eq!(m3.author_id, Some(user_a.id));

    tick();
    let c = core_ok(chat.change_status(org_a.id, lifecycle.id, StatusEvent::Resolve).await, "resolve");
    assert_eq!((c.status, c.last_seq, c.updated_at), (Resolved, 3, clock.now()), "resolved");

    tick();
    let (m4, c) = core_ok(chat.visitor_message(&site_a, lifecycle.id, "One more thing", None).await, "visitor reopens");
    assert_eq!((m4.seq, c.status), (4, Escalated), "a visitor message reopens a resolved conversation");

    // Reactions, on the assistant's message.
    tick();
    let up = core_ok(chat.react(&site_a, lifecycle.id, m2.id, Some(Reaction::Up)).await, "react");
    assert_eq!(up.reaction, Some(Reaction::Up));
    assert_eq!(ok(store.get_message(lifecycle.id, m2.id).await, "reacted message").reaction, Some(Reaction::Up));
    not_found(
        store.set_reaction(org_b.id, lifecycle.id, m2.id, Some(Reaction::Down)).await,
        "react through another org",
    );
    not_found(
        store.set_reaction(org_a.id, cas.id, m2.id, Some(Reaction::Down)).await,
        "react via another conversation",
    );
    tick();
    let cleared = ok(store.set_reaction(org_a.id, lifecycle.id, m2.id, None).await, "clear reaction");
    assert_eq!(cleared, Message { reaction: None, ..m2.clone() }, "a cleared reaction is None");

    tick();
    let closed = core_ok(chat.end_session(&site_a, lifecycle.id).await, "end session");
    assert_eq!((closed.status, closed.updated_at), (Closed, clock.now()));
    assert_eq!(
        core_ok(chat.end_session(&site_a, lifecycle.id).await, "end an ended session").status,
        Closed,
        "ending twice is fine"
    );

    // A closed conversation is read-only, whatever the caller asks.
    tick();
    match chat.visitor_message(&site_a, lifecycle.id, "Hello?", None).await {
        Err(CoreError::ConversationClosed) => {}
        other => panic!("a visitor message to a closed conversation: expected ConversationClosed, got {other:?}"),
    }
    let late = NewMessage {
        id: MessageId::generate(&*clock, &*entropy),
        conversation_id: lifecycle.id,
        author_kind: AuthorKind::System,
        author_id: None,
        body: "late".to_owned(),
        html: "<p>late</p>".to_owned(),
        citations: vec![],
        quick_replies: vec![],
        created_at: clock.now(),
    };
    conflict(store.append_message(org_a.id, &late, None, false).await, "append to closed without status change");
    let stay_closed = StatusChange { from: Closed, to: Closed };
    conflict(
        store.append_message(org_a.id, &late, Some(stay_closed), true).await,
        "append to closed with closed→closed",
    );
    conflict(
        store.change_status(org_a.id, lifecycle.id, StatusChange { from: Closed, to: Escalated }, clock.now()).await,
        "reopen a closed conversation",
    );
    not_found(store.get_message(lifecycle.id, late.id).await, "the refused message was not stored");
    let lifecycle_now = ok(store.get_conversation(org_a.id, lifecycle.id).await, "closed conversation");
    assert_eq!(lifecycle_now, closed, "refused writes changed nothing");

    let history = ok(store.list_messages(lifecycle.id, 0, 100).await, "history");
    let expected = vec![m1.clone(), cleared.clone(), m3.clone(), m4.clone()];
    assert_eq!(history, expected, "the history is every message in order, as stored");
    assert_eq!(ok(store.list_messages(lifecycle.id, 2, 1).await, "page after 2"), vec![m3.clone()]);
    assert!(ok(store.list_messages(lifecycle.id, 4, 10).await, "page after the end").is_empty());
    assert_eq!(ok(store.get_message(lifecycle.id, m3.id).await, "get message"), m3);
    not_found(store.get_message(cas.id, m3.id).await, "message through another conversation");
    // The realtime follower's batch read: every named message once, whatever the order asked;
    // a pair naming another conversation, or no message, is left out.
    let mut batch = ok(
        store
            .messages_by_ids(&[
                (lifecycle.id, m4.id),
                (lifecycle.id, m1.id),
                (cas.id, m3.id),
                (lifecycle.id, late.id),
                (lifecycle.id, cleared.id),
            ])
            .await,
        "messages by ids",
    );
    batch.sort_by_key(|m| m.seq);
    assert_eq!(batch, vec![m1.clone(), cleared.clone(), m4.clone()], "messages by ids: exactly the stored pairs");
    assert!(ok(store.messages_by_ids(&[]).await, "messages by no ids").is_empty());

    // Ratings: one per conversation, allowed once closed.
    tick();
    let rating = core_ok(
        chat.rate(&site_a, lifecycle.id, 5, &["helpful".to_owned(), "fast".to_owned()], Some("Thanks!")).await,
        "rate",
    );
    assert_eq!(ok(store.get_rating(lifecycle.id).await, "rating"), rating);
    match chat.rate(&site_a, lifecycle.id, 1, &[], None).await {
        Err(CoreError::Conflict(_)) => {}
        other => panic!("rating twice: expected Conflict, got {other:?}"),
    }
    conflict(store.create_rating(org_a.id, &Rating { stars: 2, ..rating.clone() }).await, "store: rating twice");
    assert_eq!(ok(store.get_rating(lifecycle.id).await, "rating after refused second"), rating);
    let foreign_rating = Rating { conversation_id: cas.id, ..rating.clone() };
    not_found(store.create_rating(org_b.id, &foreign_rating).await, "rate a conversation of another org");
    not_found(store.get_rating(cas.id).await, "no rating was stored");

    // --- Compare-and-set on the status.
    tick();
    let stale = StatusChange { from: Resolved, to: Closed };
    conflict(store.change_status(org_a.id, cas.id, stale, clock.now()).await, "change status from a stale status");
    let stale_message = NewMessage {
        id: MessageId::generate(&*clock, &*entropy),
        conversation_id: cas.id,
        author_kind: AuthorKind::Visitor,
        author_id: None,
        body: "stale".to_owned(),
        html: "<p>stale</p>".to_owned(),
        citations: vec![],
        quick_replies: vec![],
        created_at: clock.now(),
    };
    conflict(
        store
            .append_message(org_a.id, &stale_message, Some(StatusChange { from: Escalated, to: Escalated }), true)
            .await,
        "append with a stale status",
    );
    not_found(store.append_message(org_b.id, &stale_message, None, true).await, "append through another org");
    not_found(
        store.change_status(org_b.id, cas.id, StatusChange { from: Active, to: Escalated }, clock.now()).await,
        "change status through another org",
    );
    let untouched = ok(store.get_conversation(org_a.id, cas.id).await, "conversation after refused writes");
    assert_eq!(untouched, cas, "refused writes changed nothing");
    assert!(ok(store.list_messages(cas.id, 0, 10).await, "no messages").is_empty());

    tick();
    let escalated = ok(
        store.change_status(org_a.id, cas.id, StatusChange { from: Active, to: Escalated }, clock.now()).await,
        "escalate",
    );
    assert_eq!((escalated.status, escalated.updated_at), (Escalated, clock.now()));

    // Racing resolvers: exactly one wins.
    tick();
    let mut resolvers = Vec::new();
    for _ in 0..10 {
        let (store, org, id, at) = (store.clone(), org_a.id, cas.id, clock.now());
        resolvers.push(tokio::spawn(async move {
            store.change_status(org, id, StatusChange { from: Escalated, to: Resolved }, at).await
        }));
    }
    let (mut won, mut lost) = (0, 0);
    for resolver in resolvers {
        match resolver.await.expect("resolver panicked") {
            Ok(c) => {
                assert_eq!(c.status, Resolved);
                won += 1;
            }
            Err(StoreError::Conflict(_)) => lost += 1,
            Err(e) => panic!("racing change_status: expected success or Conflict, got {e:?}"),
        }
    }
    assert_eq!((won, lost), (1, 9), "exactly one of ten racing compare-and-sets wins");

    // touch_conversation only moves forward.
    tick();
    ok(store.touch_conversation(cas.id, clock.now()).await, "touch conversation");
    let touched_at = clock.now();
    ok(store.touch_conversation(cas.id, Timestamp(START_MS)).await, "touch with an older time");
    let touched = ok(store.get_conversation(org_a.id, cas.id).await, "touched conversation");
    assert_eq!(touched.last_activity_at, touched_at, "last_activity_at never moves back");
    not_found(
        store.touch_conversation(ConversationId::generate(&*clock, &*entropy), clock.now()).await,
        "touch unknown conversation",
    );

    // --- Racing appends: gapless, unique sequence numbers.
    tick();
    let fresh = StartSession { page_url: Some("https://acme.example/".to_owned()), ..StartSession::default() };
    let (concurrent, visitor_c) = core_ok(chat.start_session(&site_a, fresh).await, "session for the race");
    assert_ne!(visitor_c.id, visitor_a.id);
    tick();
    let mut appenders = Vec::new();
    for i in 0..CONCURRENT_APPENDS {
        let (store, org) = (store.clone(), org_a.id);
        let message = NewMessage {
            id: MessageId::generate(&*clock, &*entropy),
            conversation_id: concurrent.id,
            author_kind: AuthorKind::Visitor,
            author_id: None,
            body: format!("message {i}"),
            html: format!("<p>message {i}</p>"),
            citations: vec![],
            quick_replies: vec![],
            created_at: clock.now().plus_millis(i),
        };
        appenders.push(tokio::spawn(async move { store.append_message(org, &message, None, true).await }));
    }
    let mut seqs = Vec::new();
    for appender in appenders {
        let (message, conversation) = ok(appender.await.expect("appender panicked"), "racing append");
        assert_eq!(conversation.last_seq, message.seq, "the returned conversation is the one after this append");
        seqs.push(message.seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=CONCURRENT_APPENDS).collect::<Vec<_>>(), "racing appends get 1..=N, no gap, no repeat");
    let raced = ok(store.list_messages(concurrent.id, 0, 100).await, "raced history");
    assert_eq!(raced.iter().map(|m| m.seq).collect::<Vec<_>>(), seqs, "history in sequence order");
    let raced_conversation = ok(store.get_conversation(org_a.id, concurrent.id).await, "raced conversation");
    assert_eq!(raced_conversation.last_seq, CONCURRENT_APPENDS);
    assert_eq!(raced_conversation.status, Active);
    assert_eq!(
        raced_conversation.last_activity_at,
        clock.now().plus_millis(CONCURRENT_APPENDS - 1),
        "last_activity_at is the newest visitor message's, whatever the commit order"
    );

    // --- Listing conversations: org-scoped, filtered, newest first.
    let all_a = ok(store.list_conversations(org_a.id, &ConversationFilter::default()).await, "list A");
    let ids = |list: &[Conversation]| list.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&all_a),
        vec![concurrent.id, cas.id, lifecycle.id],
        "org A's conversations, newest updated_at first"
    );
    assert!(all_a.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));
    let filter = |status, site_id, visitor_id, limit| ConversationFilter { status, site_id, visitor_id, limit };
    let closed_list = ok(store.list_conversations(org_a.id, &filter(Some(Closed), None, None, 0)).await, "closed");
    assert_eq!(ids(&closed_list), vec![lifecycle.id], "status filter");
    let resolved_list =
        ok(store.list_conversations(org_a.id, &filter(Some(Resolved), None, None, 0)).await, "resolved");
    assert_eq!(ids(&resolved_list), vec![cas.id], "status filter");
    let by_site = ok(store.list_conversations(org_a.id, &filter(None, Some(site_a.id), None, 0)).await, "by site");
    assert_eq!(by_site.len(), 3, "site filter");
    let cross = ok(store.list_conversations(org_a.id, &filter(None, Some(site_b.id), None, 0)).await, "site B via A");
    assert!(cross.is_empty(), "another org's site lists nothing: {cross:?}");
    let by_visitor =
        ok(store.list_conversations(org_a.id, &filter(None, None, Some(visitor_a.id), 0)).await, "by visitor");
    assert_eq!(ids(&by_visitor), vec![cas.id, lifecycle.id], "visitor filter");
    let newest = ok(store.list_conversations(org_a.id, &filter(None, None, None, 1)).await, "limit 1");
    assert_eq!(ids(&newest), vec![concurrent.id], "limit");
    let combined = ok(
        store.list_conversations(org_a.id, &filter(Some(Active), Some(site_a.id), Some(visitor_a.id), 0)).await,
        "and",
    );
    assert!(combined.is_empty(), "filters combine with AND: {combined:?}");
    let all_b = ok(store.list_conversations(org_b.id, &ConversationFilter::default()).await, "list B");
    assert_eq!(ids(&all_b), vec![conversation_b.id], "org B sees only its conversation");

    // --- Audit log: newest first, per org.
    let mut audit = Vec::new();
    for (i, action) in ["site.create", "site.update", "conversation.resolve"].into_iter().enumerate() {
        tick();
        let event = AuditEvent {
            id: AuditEventId::generate(&*clock, &*entropy),
            org_id: org_a.id,
            actor_id: if i == 0 { None } else { Some(user_a.id) },
            action: action.to_owned(),
            target_kind: if i == 2 { "conversation" } else { "site" }.to_owned(),
            target_id: if i == 2 { lifecycle.id.to_string() } else { site_a.id.to_string() },
            ip: Some("198.51.100.1".to_owned()),
            user_agent: if i == 1 { None } else { Some("curl/8".to_owned()) },
            details: json!({"step": i, "names": ["a", "b"], "nested": {"ok": true}}),
            created_at: clock.now(),
        };
        let record = ok(store.append_audit(&event).await, "append audit");
        assert_eq!((record.event, record.seq), (event.clone(), i as i64 + 1), "stored as given, numbered");
        audit.push(event);
    }
    let audit_b = AuditEvent {
        id: AuditEventId::generate(&*clock, &*entropy),
        org_id: org_b.id,
        actor_id: Some(user_b.id),
        action: "site.create".to_owned(),
        target_kind: "site".to_owned(),
        target_id: site_b.id.to_string(),
        ip: None,
        user_agent: None,
        details: json!({}),
        created_at: clock.now(),
    };
    ok(store.append_audit(&audit_b).await, "append audit B");
    audit.reverse();
    let events = |records: Vec<AuditRecord>| records.into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert_eq!(
        events(ok(store.list_audit(org_a.id, &audit_limit(10)).await, "audit A")),
        audit,
        "audit newest first, org A only"
    );
    assert_eq!(
        events(ok(store.list_audit(org_a.id, &audit_limit(2)).await, "audit A, 2")),
        audit[..2].to_vec(),
        "audit limit"
    );
    assert_eq!(events(ok(store.list_audit(org_b.id, &audit_limit(10)).await, "audit B")), vec![audit_b.clone()]);

    // --- Visitor events: per site and visitor, newest first.
    let mut visits = Vec::new();
    for (i, kind) in
        [VisitorEventKind::PageView, VisitorEventKind::PageView, VisitorEventKind::Conversion].into_iter().enumerate()
    {
        tick();
        let conversion = kind == VisitorEventKind::Conversion;
        let event = VisitorEvent {
            id: VisitorEventId::generate(&*clock, &*entropy),
            site_id: site_a.id,
            visitor_id: visitor_a.id,
            conversation_id: if i == 1 { None } else { Some(lifecycle.id) },
            kind,
            url: Some(format!("https://shop.example.com/p/{i}")),
            title: if i == 0 { None } else { Some(format!("Page {i}")) },
            referrer: if i == 0 { Some("https://search.example.org/".to_owned()) } else { None },
            name: conversion.then(|| "signup".to_owned()),
            props: if conversion { json!({"plan": "pro", "value": 49.5, "trial": true}) } else { json!({}) },
            created_at: clock.now(),
        };
        ok(store.append_visitor_event(&event).await, "append visitor event");
        visits.push(event);
    }
    let foreign = VisitorEvent {
        id: VisitorEventId::generate(&*clock, &*entropy),
        site_id: site_b.id,
        conversation_id: None,
        ..visits[0].clone()
    };
    not_found(store.append_visitor_event(&foreign).await, "visitor event for site A's visitor through site B");
    let b_visit = VisitorEvent {
        id: VisitorEventId::generate(&*clock, &*entropy),
        site_id: site_b.id,
        visitor_id: visitor_b.id,
        conversation_id: Some(conversation_b.id),
        ..visits[0].clone()
    };
    ok(store.append_visitor_event(&b_visit).await, "append visitor event on site B");
    visits.reverse();
    let listed = ok(store.list_visitor_events(site_a.id, visitor_a.id, 10).await, "visitor events A");
    assert_eq!(listed, visits, "visitor events newest first, this visitor only");
    let two = ok(store.list_visitor_events(site_a.id, visitor_a.id, 2).await, "visitor events A, 2");
    assert_eq!(two, visits[..2].to_vec(), "visitor events limit");
    let through_b = ok(store.list_visitor_events(site_b.id, visitor_a.id, 10).await, "visitor A through site B");
    assert!(through_b.is_empty(), "another site's visitor has no events here: {through_b:?}");
    assert_eq!(ok(store.list_visitor_events(site_b.id, visitor_b.id, 10).await, "visitor events B"), vec![b_visit]);

    // --- Outbox: every change's events, in commit order.
    let outbox = story_outbox(&*store, org_a.id, org_b.id).await;
    let events_of = |id: ConversationId| {
        outbox.iter().filter(|e| e.event.conversation_id() == id).map(|e| e.event.clone()).collect::<Vec<_>>()
    };
    let status_changed = |from, to| DomainEvent::StatusChanged { conversation_id: lifecycle.id, from, to };
    let created = |m: &Message| DomainEvent::MessageCreated {
        conversation_id: m.conversation_id,
        message_id: m.id,
        seq: m.seq,
        author_kind: m.author_kind,
    };
    let reaction = |reaction| DomainEvent::ReactionSet { conversation_id: lifecycle.id, message_id: m2.id, reaction };
    assert_eq!(
        events_of(lifecycle.id),
        vec![
            DomainEvent::for_new_conversation(&lifecycle),
            created(&m1),
            created(&m2),
            created(&m3),
            status_changed(Active, Escalated),
            status_changed(Escalated, Resolved),
            created(&m4),
            status_changed(Resolved, Escalated),
            reaction(Some(Reaction::Up)),
            reaction(None),
            status_changed(Escalated, Closed),
            DomainEvent::RatingCreated { conversation_id: lifecycle.id, stars: 5 },
        ],
        "the lifecycle conversation's outbox events, in order"
    );
    let kinds: Vec<&str> =
        outbox.iter().filter(|e| e.event.conversation_id() == lifecycle.id).map(|e| e.event.kind()).collect();
    assert_eq!(kinds[..2], ["conversation.created", "message.created"]);
    let raced_events = events_of(concurrent.id);
    assert_eq!(raced_events.len(), 1 + raced.len(), "one event per raced message, plus the creation");
    let raced_seqs: Vec<i64> = raced_events
        .iter()
        .filter_map(|e| match e {
            DomainEvent::MessageCreated { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(raced_seqs, seqs, "outbox ids follow commit order: raced messages appear in sequence order");
    assert_eq!(
        events_of(cas.id),
        vec![
            DomainEvent::for_new_conversation(&cas),
            DomainEvent::StatusChanged { conversation_id: cas.id, from: Active, to: Escalated },
            DomainEvent::StatusChanged { conversation_id: cas.id, from: Escalated, to: Resolved },
        ],
        "refused compare-and-sets write no events"
    );
    assert_eq!(events_of(conversation_b.id), vec![DomainEvent::for_new_conversation(&conversation_b)]);
    for e in &outbox {
        let org = if e.event.conversation_id() == conversation_b.id { org_b.id } else { org_a.id };
        assert_eq!(e.org_id, org, "each event carries its conversation's org: {e:?}");
    }
    let m1_event = outbox.iter().find(|e| e.event == created(&m1)).expect("m1's event is in the outbox");
    assert_eq!(m1_event.created_at, m1.created_at, "a message event is stamped with the message's time");
    let first = &outbox[0];
    let page = ok(store.outbox_after(first.id, 2).await, "outbox page");
    assert_eq!(page.len(), 2, "outbox limit");
    assert!(page[0].id > first.id && page[1].id > page[0].id, "outbox_after is exclusive and ascending");
    let last = outbox.last().map_or(0, |e| e.id);
    let after_last = ok(store.outbox_after(last, 10).await, "outbox after the end");
    assert!(
        after_last.iter().all(|e| e.org_id != org_a.id && e.org_id != org_b.id),
        "nothing of the story after its last event"
    );

    knowledge_chapter(store.clone(), clock.clone(), entropy.clone(), (org_a.id, site_a.id), (org_b.id, site_b.id))
        .await;

    let ids = StoryIds {
        org_a: org_a.id,
        org_b: org_b.id,
        user_a: user_a.id,
        user_b: user_b.id,
        site_a: site_a.id,
        site_b: site_b.id,
        visitor_a: visitor_a.id,
        lifecycle: lifecycle.id,
        concurrent: concurrent.id,
        cas: cas.id,
        conversation_b: conversation_b.id,
    };
    let snapshot = snapshot(&*store, &ids, &session.token_hash, &settings).await;
    assert_eq!(snapshot.orgs, vec![org_a, org_b]);
    assert_eq!(snapshot.users, vec![user_a, user_b]);
    assert_eq!(snapshot.memberships, vec![member_a, a_in_b, member_b]);
    assert_eq!(snapshot.sites, vec![site_a, site_b]);
    assert_eq!(snapshot.visitor_a, visitor_a);
    assert_eq!(snapshot.messages[0], expected);
    assert_eq!(snapshot.outbox, outbox);
    StoryOutcome { backend, ids, settings, snapshot }
}

/// Every outbox event of the two organizations, paging through the whole outbox.
async fn story_outbox(store: &dyn Store, org_a: OrgId, org_b: OrgId) -> Vec<OutboxEvent> {
    let mut after = 0;
    let mut mine = Vec::new();
    loop {
        let page = ok(store.outbox_after(after, 500).await, "outbox page");
        let Some(last) = page.last() else { break };
        assert!(last.id > after, "outbox ids increase");
        after = last.id;
        assert!(page.windows(2).all(|w| w[0].id < w[1].id), "outbox pages are oldest first");
        mine.extend(page.into_iter().filter(|e| e.org_id == org_a || e.org_id == org_b));
    }
    mine
}

/// Reads back everything the story wrote.
async fn snapshot(store: &dyn Store, o: &StoryIds, session: &str, initialized: &[(String, String)]) -> Snapshot {
    let conversations =
        [(o.org_a, o.lifecycle), (o.org_a, o.concurrent), (o.org_a, o.cas), (o.org_b, o.conversation_b)];
    let mut read_conversations = Vec::new();
    let mut messages = Vec::new();
    for (org, id) in conversations {
        read_conversations.push(ok(store.get_conversation(org, id).await, "snapshot: conversation"));
        messages.push(ok(store.list_messages(id, 0, 1000).await, "snapshot: messages"));
    }
    let mut settings = Vec::new();
    for (key, _) in initialized {
        let value = ok(store.get_or_init_setting(key, "overwritten?").await, "snapshot: setting");
        settings.push((key.clone(), value));
    }
    Snapshot {
        orgs: vec![
            ok(store.get_org(o.org_a).await, "snapshot: org A"),
            ok(store.get_org(o.org_b).await, "snapshot: org B"),
        ],
        users: vec![
            ok(store.get_user(o.user_a).await, "snapshot: user A"),
            ok(store.get_user(o.user_b).await, "snapshot: user B"),
        ],
        memberships: vec![
            ok(store.get_membership(o.org_a, o.user_a).await, "snapshot: membership"),
            ok(store.get_membership(o.org_b, o.user_a).await, "snapshot: membership"),
            ok(store.get_membership(o.org_b, o.user_b).await, "snapshot: membership"),
        ],
        session: ok(store.get_login_session(session).await, "snapshot: session"),
        sites: vec![
            ok(store.get_site(o.org_a, o.site_a).await, "snapshot: site A"),
            ok(store.get_site(o.org_b, o.site_b).await, "snapshot: site B"),
        ],
        visitor_a: ok(store.get_visitor(o.site_a, o.visitor_a).await, "snapshot: visitor"),
        conversations: read_conversations,
        messages,
        rating: ok(store.get_rating(o.lifecycle).await, "snapshot: rating"),
        settings,
        audit_a: ok(store.list_audit(o.org_a, &audit_limit(100)).await, "snapshot: audit A"),
        audit_b: ok(store.list_audit(o.org_b, &audit_limit(100)).await, "snapshot: audit B"),
        outbox: story_outbox(store, o.org_a, o.org_b).await,
        articles: {
            let mut all = ok(store.all_articles(Some(o.site_a)).await, "snapshot: articles A");
            all.extend(ok(store.all_articles(Some(o.site_b)).await, "snapshot: articles B"));
            all
        },
    }
}

/// After the backend was closed and opened again: everything the story wrote is still there,
/// and sequence numbers and outbox ids go on. It appends a message, so call it once per story.
pub async fn check_persisted(store: Arc<dyn Store>, outcome: &StoryOutcome) {
    assert_eq!(store.backend(), outcome.backend, "reopened the same kind of backend");
    ok(store.ping().await, "ping after reopening");
    let now = snapshot(&*store, &outcome.ids, &outcome.snapshot.session.token_hash, &outcome.settings).await;
    let then = &outcome.snapshot;
    // Field by field, so a failure says what was lost.
    assert_eq!(now.orgs, then.orgs, "organizations persisted");
    assert_eq!(now.users, then.users, "users persisted");
    assert_eq!(now.memberships, then.memberships, "memberships persisted");
    assert_eq!(now.session, then.session, "login session persisted");
    assert_eq!(now.sites, then.sites, "sites persisted");
    assert_eq!(now.visitor_a, then.visitor_a, "visitor persisted");
    assert_eq!(now.conversations, then.conversations, "conversations persisted");
    for (i, (now_messages, then_messages)) in now.messages.iter().zip(&then.messages).enumerate() {
        assert_eq!(now_messages, then_messages, "messages of conversation #{i} persisted");
        let seqs: Vec<i64> = now_messages.iter().map(|m| m.seq).collect();
        let expected: Vec<i64> = (1..=i64::try_from(seqs.len()).unwrap_or(i64::MAX)).collect();
        assert_eq!(seqs, expected, "messages of conversation #{i} are 1..=N in order");
    }
    let statuses: Vec<ConversationStatus> = now.conversations.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![Closed, Active, Resolved, Active], "statuses persisted");
    assert_eq!(now.messages[1].len(), usize::try_from(CONCURRENT_APPENDS).unwrap_or(0), "raced messages persisted");
    assert_eq!(now.rating, then.rating, "rating persisted");
    assert_eq!(now.settings, outcome.settings, "settings persisted and are not overwritten");
    assert_eq!(now.audit_a, then.audit_a, "audit log A persisted");
    assert_eq!(now.audit_b, then.audit_b, "audit log B persisted");
    assert_eq!(now.outbox, then.outbox, "outbox persisted with the same ids");
    assert_eq!(now.articles, then.articles, "articles persisted");
    assert_eq!(now.articles.len(), 3, "the story leaves three articles");
    // The sequence goes on after a restart.
    let next = NewMessage {
        id: MessageId::generate(&FixedClock::at(START_MS), &SeededEntropy::new(fresh_seed())),
        conversation_id: outcome.ids.concurrent,
        author_kind: AuthorKind::Bot,
        author_id: None,
        body: "after restart".to_owned(),
        html: "<p>after restart</p>".to_owned(),
        citations: vec![],
        quick_replies: vec![],
        created_at: Timestamp(START_MS),
    };
    let (message, conversation) =
        ok(store.append_message(outcome.ids.org_a, &next, None, false).await, "append after reopening");
    assert_eq!((message.seq, conversation.last_seq), (CONCURRENT_APPENDS + 1, CONCURRENT_APPENDS + 1));
    let outbox_after = story_outbox(&*store, outcome.ids.org_a, outcome.ids.org_b).await;
    let last_before = then.outbox.last().map_or(0, |e| e.id);
    assert!(outbox_after.last().is_some_and(|e| e.id > last_before), "outbox ids keep increasing after reopening");
}

/// Knowledge-base articles: scoped by organization, unique import keys per site, filters and
/// text search that treat `%` and `_` literally, updates and deletes.
async fn knowledge_chapter(
    store: Arc<dyn Store>,
    clock: Arc<FixedClock>,
    entropy: Arc<SeededEntropy>,
    (org_a, site_a): (OrgId, SiteId),
    (org_b, site_b): (OrgId, SiteId),
) {
    let kb = KnowledgeBase::new(store.clone(), clock.clone(), entropy);
    let draft = |title: &str, body: &str| ArticleDraft {
        title: title.to_owned(),
        body: body.to_owned(),
        locale: Some("en".to_owned()),
        tags: vec!["shipping".to_owned()],
        status: Some(ArticleStatus::Published),
        url: Some("https://help.acme.example/shipping".to_owned()),
    };
    clock.advance_seconds(1);
    let shipping =
        core_ok(kb.create(org_a, site_a, &draft("Shipping times", "We ship within 2 days."), None).await, "article");
    assert_eq!(ok(store.get_article(org_a, shipping.id).await, "read article"), shipping);
    not_found(store.get_article(org_b, shipping.id).await, "article of org A read through org B");
    assert!(
        matches!(kb.create(org_b, site_a, &draft("x", "y"), None).await, Err(CoreError::NotFound("site"))),
        "an article on another organization's site is refused"
    );

    clock.advance_seconds(1);
    let (imported, new) = core_ok(
        kb.upsert_by_key(org_a, site_a, "returns.md", &draft("Returns", "30 days, 100% refund_policy.")).await,
        "import",
    );
    assert!(new, "the first import creates");
    clock.advance_seconds(1);
    let mut changed = draft("Returns and refunds", "30 days, 100% refund_policy. Keep the receipt.");
    changed.status = Some(ArticleStatus::Draft);
    let (reimported, new) = core_ok(kb.upsert_by_key(org_a, site_a, "returns.md", &changed).await, "re-import");
    assert!(!new && reimported.id == imported.id, "re-importing the same key updates the same article");
    assert_eq!(reimported.title, "Returns and refunds");
    assert!(reimported.updated_at > imported.updated_at);
    let mut duplicate = reimported.clone();
    duplicate.id = frontdesk_core::knowledge::ArticleId::generate(&*clock, &SeededEntropy::new(99));
    conflict(store.create_article(&duplicate).await, "a second article with the same key on the site");
    let same_key_elsewhere = core_ok(
        kb.upsert_by_key(org_b, site_b, "returns.md", &draft("Retouren", "Binnen 30 dagen.")).await,
        "B import",
    );
    assert_ne!(same_key_elsewhere.0.id, imported.id, "keys are per site");

    let filter = |text: Option<&str>, status: Option<ArticleStatus>| ArticleFilter {
        site_id: Some(site_a),
        status,
        text: text.map(str::to_owned),
        limit: 0,
    };
    let titles = |list: Vec<Article>| list.into_iter().map(|a| a.title).collect::<Vec<_>>();
    assert_eq!(
        titles(ok(store.list_articles(org_a, &filter(None, None)).await, "list")),
        ["Returns and refunds", "Shipping times"],
        "most recently updated first"
    );
    assert_eq!(
        titles(ok(store.list_articles(org_a, &filter(None, Some(ArticleStatus::Published))).await, "published")),
        ["Shipping times"]
    );
    assert_eq!(titles(ok(store.list_articles(org_a, &filter(Some("SHIP"), None)).await, "search")), ["Shipping times"]);
    assert_eq!(
        titles(ok(store.list_articles(org_a, &filter(Some("100%"), None)).await, "percent")),
        ["Returns and refunds"]
    );
    assert!(
        ok(store.list_articles(org_a, &filter(Some("0%r"), None)).await, "wildcards").is_empty(),
        "`%` in the search text matches only itself"
    );
    assert!(
        ok(store.list_articles(org_a, &filter(Some("d_ys"), None)).await, "underscore").is_empty(),
        "`_` in the search text matches only itself"
    );
    assert!(ok(store.list_articles(org_b, &filter(None, None)).await, "B through A's site").is_empty());

    clock.advance_seconds(1);
    let published = core_ok(kb.set_status(org_a, reimported.id, ArticleStatus::Published).await, "publish");
    assert_eq!(ok(store.get_article(org_a, reimported.id).await, "published").status, ArticleStatus::Published);
    assert_eq!(published.status, ArticleStatus::Published);

    let doomed = core_ok(kb.create(org_a, site_a, &draft("Old promo", "Gone soon."), None).await, "doomed");
    not_found(store.delete_article(org_b, doomed.id).await, "delete through another org");
    core_ok(kb.delete(org_a, doomed.id).await, "delete");
    not_found(store.get_article(org_a, doomed.id).await, "deleted article");
    let mut ghost = doomed.clone();
    ghost.title = "Back?".to_owned();
    not_found(store.update_article(&ghost).await, "update a deleted article");

    let all_a = ok(store.all_articles(Some(site_a)).await, "all of site A");
    assert_eq!(all_a.len(), 2);
    let versions = ok(store.article_versions().await, "article versions");
    for a in all_a.iter().chain([&same_key_elsewhere.0]) {
        let v = versions.iter().find(|v| v.id == a.id).expect("every article has a version");
        assert_eq!((v.site_id, v.updated_at), (a.site_id, a.updated_at), "version of {}", a.title);
    }
    assert!(!versions.iter().any(|v| v.id == doomed.id), "deleted articles have no version");
    let everything = ok(store.all_articles(None).await, "all sites");
    assert!(all_a.iter().all(|a| everything.contains(a)) && everything.contains(&same_key_elsewhere.0));
}
