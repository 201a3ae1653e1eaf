//! The dashboard chapter: what the agents' dashboard needs from a [`Store`] beyond the story.
//!
//! [`run_dashboard`] checks, on a real backend: plans, key rotation and widget drafts; the team
//! (members, notification preferences, invitations); the inbox (filters, both orders, limits,
//! unread counts, read markers); full-text search over messages; assignment and private notes
//! with their outbox events; canned responses; the knowledge base's gap report; analytics; the
//! audit log's filters; outgoing webhooks' endpoints, enqueueing and claims; and compare-and-set
//! of settings. Every new method is also called with
//! another organization's ids, which must behave exactly like missing ones.
//!
//! Search semantics checked here (both backends): the text is a list of words (runs of letters
//! and digits; everything else separates them); a conversation matches when one of its messages
//! contains every word, in any order, case-insensitively, the last word as a prefix. No operator
//! syntax of either database (quotes, `*`, `OR`, `NEAR(`, `-`, column filters, LIKE wildcards)
//! has any effect, and a text without a word matches nothing.
//!
//! Like the story, the chapter creates its own organizations, users and keys (seeded per run), so
//! it runs against a database that holds other data, and twice on one database. It needs a
//! multi-threaded Tokio runtime for its one race to be real.

use crate::{START_MS, conflict, fresh_seed, not_found, ok};
use frontdesk_core::analytics::{ConversationStat, ReactionStat};
use frontdesk_core::audit::{self, AuditEvent, AuditHead, AuditRecord, GENESIS_HASH};
use frontdesk_core::events::{DomainEvent, OutboxEvent};
use frontdesk_core::ids::*;
use frontdesk_core::inbox::{
    AssigneeFilter, CannedResponse, InboxCursor, InboxFilter, InboxItem, MessagePreview, Note, PREVIEW_CHARS,
    UnansweredQuestion, preview,
};
use frontdesk_core::keys;
use frontdesk_core::model::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::{Clock, Entropy, FixedClock, SeededEntropy};
use frontdesk_core::roles::Role;
use frontdesk_core::scenarios::{FlowState, Scenario};
use frontdesk_core::status::ConversationStatus::{self, Active, Closed, Escalated, Resolved};
use frontdesk_core::store::{AuditFilter, ConversionCount, PageCount, StatusChange, Store, StoreError};
use frontdesk_core::team::{Invite, Member, NotificationPrefs};
use frontdesk_core::time::Timestamp;
use frontdesk_core::webhooks::{DeliveryFilter, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEventType};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Far from the story's times, so a failure names times that tell the two apart.
const DASHBOARD_START_MS: i64 = START_MS + 30 * 86_400_000;
const DAY_SECONDS: i64 = 86_400;

/// Runs the dashboard chapter with a fresh seed. Panics (with what and why) on the first deviation.
pub async fn run_dashboard(store: Arc<dyn Store>) {
    run_dashboard_seeded(store, fresh_seed()).await;
}

/// Runs the dashboard chapter with the given seed for ids, keys and e-mail addresses.
pub async fn run_dashboard_seeded(store: Arc<dyn Store>, seed: u64) {
    let c = Ctx {
        store,
        clock: Arc::new(FixedClock::at(DASHBOARD_START_MS)),
        entropy: Arc::new(SeededEntropy::new(seed)),
        tag: String::new(),
    };
    let tag = keys::random_base62(c.ent(), 10).to_lowercase();
    let c = Ctx { tag, ..c };

    settings_compare_and_set(&c).await;
    let w = orgs_team_and_sites(&c).await;
    invitations(&c, &w).await;
    subscriptions(&c).await;
    visitor_identity(&c).await;
    login_sessions_and_password_resets(&c, &w).await;
    conversation_times(&c).await;
    mixed_racing_appends(&c).await;
    let f = inbox_fixture(&c, &w).await;
    inbox_lists(&c, &w, &f).await;
    read_markers(&c, &w, &f).await;
    token_revocation(&c, &w, &f).await;
    search(&c, &w, &f).await;
    assignment(&c, &w, &f).await;
    notes(&c, &w, &f).await;
    canned_responses(&c, &w).await;
    scenarios_and_runs(&c, &w, &f).await;
    shared_rate_limits(&c).await;
    unanswered(&c, &w, &f).await;
    conversation_and_reaction_stats(&c, &w, &f).await;
    pages_and_conversions(&c, &w, &f).await;
    audit_filters(&c, &w).await;
    audit_chain(&c).await;
    webhooks(&c, &w).await;
    limits(&c).await;
    crate::privacy::lookup_and_erasure(&c, &w).await;
    crate::privacy::retention(&c, &w).await;
    crate::privacy::outbox_pruning(&c).await;
}

pub(crate) struct Ctx {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) entropy: Arc<SeededEntropy>,
    /// Makes e-mail addresses and setting keys unique per run.
    pub(crate) tag: String,
}

impl Ctx {
    pub(crate) fn s(&self) -> &dyn Store {
        &*self.store
    }
    pub(crate) fn clk(&self) -> &dyn Clock {
        &*self.clock
    }
    pub(crate) fn ent(&self) -> &dyn Entropy {
        &*self.entropy
    }
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
    /// One second later: every write of the chapter has its own instant unless it says otherwise.
    pub(crate) fn tick(&self) -> Timestamp {
        self.clock.advance_seconds(1);
        self.clock.now()
    }

    pub(crate) async fn org(&self, name: &str, plan: Plan, extra_seats: u32) -> Organization {
        let org = Organization {
            id: OrgId::generate(self.clk(), self.ent()),
            name: format!("{name} {}", self.tag),
            plan,
            extra_seats,
            created_at: self.tick(),
        };
        ok(self.s().create_org(&org).await, "create org");
        org
    }

    pub(crate) async fn user(&self, name: &str) -> User {
        let user = User {
            id: UserId::generate(self.clk(), self.ent()),
            email: format!("{}.{}@example.com", name.to_lowercase(), self.tag),
            name: name.to_owned(),
            password_hash: "$argon2id$v=19$dashboard".to_owned(),
            created_at: self.tick(),
        };
        ok(self.s().create_user(&user).await, "create user");
        user
    }

    pub(crate) async fn member(&self, org: OrgId, user: UserId, role: Role) -> Membership {
        let m = Membership { org_id: org, user_id: user, role, created_at: self.tick() };
        ok(self.s().put_membership(&m).await, "put membership");
        m
    }

    pub(crate) fn site_value(&self, org: OrgId, name: &str) -> Site {
        let now = self.tick();
        Site {
            id: SiteId::generate(self.clk(), self.ent()),
            org_id: org,
            name: name.to_owned(),
            public_key: keys::new_public_key(self.ent()),
            secret: keys::new_site_secret(self.ent()),
            allowed_origins: vec![],
            widget: WidgetConfig::default(),
            widget_draft: None,
            assistant: AssistantSettings::default(),
            previous_public_key: None,
            previous_key_expires_at: None,
            require_verified_identity: false,
            retention_days: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) async fn site(&self, org: OrgId, name: &str) -> Site {
        let site = self.site_value(org, name);
        ok(self.s().create_site(&site).await, "create site");
        site
    }

    pub(crate) async fn visitor(&self, site: SiteId, name: Option<&str>, email: Option<&str>) -> Visitor {
        let now = self.tick();
        let v = Visitor {
            id: VisitorId::generate(self.clk(), self.ent()),
            site_id: site,
            name: name.map(str::to_owned),
            email: email.map(str::to_owned),
            locale: None,
            user_id: None,
            verified: false,
            created_at: now,
            last_seen_at: now,
            erased_at: None,
        };
        ok(self.s().create_visitor(&v).await, "create visitor");
        v
    }

    /// A new active conversation created now (without advancing the clock).
    pub(crate) async fn conversation_now(&self, site: &Site, visitor: VisitorId) -> Conversation {
        let now = self.now();
        let conversation = Conversation {
            id: ConversationId::generate(self.clk(), self.ent()),
            org_id: site.org_id,
            site_id: site.id,
            visitor_id: visitor,
            status: Active,
            assignee_id: None,
            page_url: None,
            locale: None,
            params: json!({}),
            last_seq: 0,
            token_generation: 0,
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            status_changed_at: now,
            escalated_at: None,
            first_agent_reply_at: None,
        };
        ok(self.s().create_conversation(&conversation).await, "create conversation");
        conversation
    }

    pub(crate) async fn conversation(&self, site: &Site, visitor: VisitorId) -> Conversation {
        self.tick();
        self.conversation_now(site, visitor).await
    }

    /// Appends a message one second later.
    pub(crate) async fn say(
        &self,
        org: OrgId,
        conversation: ConversationId,
        kind: AuthorKind,
        author: Option<UserId>,
        body: &str,
        change: Option<(ConversationStatus, ConversationStatus)>,
    ) -> (Message, Conversation) {
        let message = NewMessage {
            id: MessageId::generate(self.clk(), self.ent()),
            conversation_id: conversation,
            author_kind: kind,
            author_id: author,
            body: body.to_owned(),
            html: format!("<p>{body}</p>"),
            citations: vec![],
            quick_replies: vec![],
            created_at: self.tick(),
        };
        let change = change.map(|(from, to)| StatusChange { from, to });
        ok(self.s().append_message(org, &message, change, kind == AuthorKind::Visitor).await, "append message")
    }

    pub(crate) async fn change(
        &self,
        org: OrgId,
        id: ConversationId,
        from: ConversationStatus,
        to: ConversationStatus,
    ) -> Conversation {
        let at = self.tick();
        ok(self.s().change_status(org, id, StatusChange { from, to }, at).await, "change status")
    }

    pub(crate) async fn conversation_of(&self, org: OrgId, id: ConversationId) -> Conversation {
        ok(self.s().get_conversation(org, id).await, "get conversation")
    }

    pub(crate) async fn rate(&self, org: OrgId, id: ConversationId, stars: u8) {
        let rating = Rating { conversation_id: id, stars, tags: vec![], feedback: None, created_at: self.tick() };
        ok(self.s().create_rating(org, &rating).await, "rate");
    }

    pub(crate) async fn page_view(&self, site: SiteId, visitor: VisitorId, url: Option<&str>, title: Option<&str>) {
        self.visitor_event(site, visitor, VisitorEventKind::PageView, url, title, None).await;
    }

    pub(crate) async fn conversion(&self, site: SiteId, visitor: VisitorId, name: Option<&str>) {
        self.visitor_event(
            site,
            visitor,
            VisitorEventKind::Conversion,
            Some("https://acme.example/pricing"),
            None,
            name,
        )
        .await;
    }

    pub(crate) async fn visitor_event(
        &self,
        site: SiteId,
        visitor: VisitorId,
        kind: VisitorEventKind,
        url: Option<&str>,
        title: Option<&str>,
        name: Option<&str>,
    ) {
        let event = VisitorEvent {
            id: VisitorEventId::generate(self.clk(), self.ent()),
            site_id: site,
            visitor_id: visitor,
            conversation_id: None,
            kind,
            url: url.map(str::to_owned),
            title: title.map(str::to_owned),
            referrer: None,
            name: name.map(str::to_owned),
            props: json!({}),
            created_at: self.tick(),
        };
        ok(self.s().append_visitor_event(&event).await, "append visitor event");
    }

    pub(crate) async fn audit(&self, org: OrgId, actor: Option<UserId>, action: &str) -> AuditRecord {
        let event = AuditEvent {
            id: AuditEventId::generate(self.clk(), self.ent()),
            org_id: org,
            actor_id: actor,
            action: action.to_owned(),
            target_kind: "test".to_owned(),
            target_id: "t".to_owned(),
            ip: None,
            user_agent: None,
            details: json!({"action": action}),
            created_at: self.tick(),
        };
        let record = ok(self.s().append_audit(&event).await, "append audit");
        assert_eq!(record.event, event, "the event is stored as given");
        record
    }
}

/// Every outbox event of one organization, oldest first.
async fn outbox_of(store: &dyn Store, org: OrgId) -> Vec<OutboxEvent> {
    let mut after = 0;
    let mut mine = Vec::new();
    loop {
        let page = ok(store.outbox_after(after, 500).await, "outbox page");
        let Some(last) = page.last() else { break };
        after = last.id;
        mine.extend(page.into_iter().filter(|e| e.org_id == org));
    }
    mine
}

/// The outbox events of one conversation of the kind, oldest first.
async fn events_of(store: &dyn Store, org: OrgId, id: ConversationId, kind: &str) -> Vec<DomainEvent> {
    outbox_of(store, org)
        .await
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.conversation_id() == id && e.kind() == kind)
        .collect()
}

// --- Settings.

async fn settings_compare_and_set(c: &Ctx) {
    let s = c.s();
    let key = format!("dashboard.{}.cursor", c.tag);
    assert!(
        !ok(s.compare_and_set_setting(&key, "", "1").await, "CAS of an absent key"),
        "compare_and_set_setting on an absent key does nothing and says so"
    );
    assert_eq!(ok(s.get_or_init_setting(&key, "10").await, "init"), "10", "the refused CAS created no value");
    assert!(!ok(s.compare_and_set_setting(&key, "9", "11").await, "stale CAS"), "a stale expected value loses");
    assert_eq!(ok(s.get_or_init_setting(&key, "x").await, "read"), "10", "a refused CAS changes nothing");
    assert!(ok(s.compare_and_set_setting(&key, "10", "11").await, "CAS"), "the expected value wins");
    assert_eq!(ok(s.get_or_init_setting(&key, "x").await, "read"), "11");
    assert!(!ok(s.compare_and_set_setting(&key, "10", "12").await, "CAS again"), "the old value no longer wins");
    let other = format!("dashboard.{}.other", c.tag);
    assert_eq!(ok(s.get_or_init_setting(&other, "11").await, "init another"), "11");

    // Racing nodes claiming the same batch: exactly one wins.
    let mut racers = Vec::new();
    for i in 0..8 {
        let (store, key) = (c.store.clone(), key.clone());
        racers.push(tokio::spawn(async move { store.compare_and_set_setting(&key, "11", &format!("node-{i}")).await }));
    }
    let mut won = 0;
    for racer in racers {
        won += usize::from(ok(racer.await.expect("CAS racer panicked"), "racing CAS"));
    }
    assert_eq!(won, 1, "exactly one of eight racing compare-and-sets wins");
    let value = ok(s.get_or_init_setting(&key, "x").await, "read");
    assert!(value.starts_with("node-"), "the winner's value is stored: {value}");
    assert_eq!(ok(s.get_or_init_setting(&other, "x").await, "other key"), "11", "CAS touches only its key");
}

// --- Organizations, the team and sites.

/// An agent's sessions are listed and ended per user; a password reset is used once, before it
/// expires.
async fn login_sessions_and_password_resets(c: &Ctx, w: &World) {
    let s = c.s();
    let session = |hash: &str, user: UserId, seen: i64| LoginSession {
        token_hash: format!("{}-{hash}", c.tag),
        user_id: user,
        created_at: Timestamp(DASHBOARD_START_MS),
        last_seen_at: Timestamp(DASHBOARD_START_MS + seen),
        expires_at: Timestamp(DASHBOARD_START_MS + 1_000_000),
        ip: None,
        user_agent: Some("test".to_owned()),
    };
    for (hash, user, seen) in [("a1", w.alice.id, 1), ("a2", w.alice.id, 3), ("a3", w.alice.id, 2), ("b1", w.bob.id, 1)]
    {
        ok(s.create_login_session(&session(hash, user, seen)).await, "login session");
    }
    let hashes = |list: Vec<LoginSession>| list.into_iter().map(|l| l.token_hash).collect::<Vec<_>>();
    let alice = ok(s.list_login_sessions(w.alice.id).await, "alice's sessions");
    assert_eq!(
        hashes(alice),
        vec![format!("{}-a2", c.tag), format!("{}-a3", c.tag), format!("{}-a1", c.tag)],
        "most recent first"
    );
    let keep = format!("{}-a2", c.tag);
    ok(s.delete_login_sessions_of_user(w.alice.id, Some(&keep)).await, "end the others");
    assert_eq!(hashes(ok(s.list_login_sessions(w.alice.id).await, "after")), vec![keep.clone()]);
    assert_eq!(ok(s.list_login_sessions(w.bob.id).await, "bob's").len(), 1, "another user's sessions stay");
    ok(s.delete_login_sessions_of_user(w.alice.id, None).await, "end all");
    assert!(ok(s.list_login_sessions(w.alice.id).await, "none").is_empty());

    // TOTP: absent, pending, enabled; each step's code once.
    assert_eq!(ok(s.get_totp(w.carol.id).await, "none yet"), None);
    let pending = TotpState { secret: "JBSWY3DPEHPK3PXP".to_owned(), enabled: false, last_step: 0 };
    ok(s.put_totp(w.carol.id, &pending).await, "set up");
    assert_eq!(ok(s.get_totp(w.carol.id).await, "pending"), Some(pending.clone()));
    ok(s.put_totp(w.carol.id, &TotpState { enabled: true, ..pending.clone() }).await, "enable");
    assert!(ok(s.use_totp_step(w.carol.id, 100).await, "first use"));
    assert!(!ok(s.use_totp_step(w.carol.id, 100).await, "replay"), "a step's code works once");
    assert!(!ok(s.use_totp_step(w.carol.id, 99).await, "older"), "never an older step");
    assert!(ok(s.use_totp_step(w.carol.id, 101).await, "next"));
    assert!(!ok(s.use_totp_step(w.bob.id, 500).await, "bob has none"));
    assert_eq!(ok(s.get_totp(w.carol.id).await, "read").map(|t| (t.enabled, t.last_step)), Some((true, 101)));
    ok(s.delete_totp(w.carol.id).await, "disable");
    assert_eq!(ok(s.get_totp(w.carol.id).await, "gone"), None);

    let token = format!("{}-reset", c.tag);
    let now = Timestamp(DASHBOARD_START_MS);
    ok(s.create_password_reset(&token, w.alice.id, now, now.plus_seconds(3600)).await, "reset");
    assert!(
        matches!(s.take_password_reset(&token, now.plus_seconds(3600)).await, Err(StoreError::NotFound)),
        "expired"
    );
    assert_eq!(ok(s.take_password_reset(&token, now.plus_seconds(10)).await, "use it"), w.alice.id);
    assert!(
        matches!(s.take_password_reset(&token, now.plus_seconds(11)).await, Err(StoreError::NotFound)),
        "used once"
    );
    assert!(matches!(s.take_password_reset("nope", now).await, Err(StoreError::NotFound)));
}

/// `identify`: given fields replace, missing ones stay, `verified` follows `user_id`, and another
/// site's visitor is not found. Each identify writes `visitor.identified` naming the session.
async fn visitor_identity(c: &Ctx) {
    let s = c.s();
    // Organizations of their own: the conversations made here stay out of the inbox fixture.
    let org_x = c.org("Initech", Plan::Pro, 0).await;
    let org_y = c.org("Umbrella", Plan::Pro, 0).await;
    let (site_x, site_y) = (c.site(org_x.id, "Initech shop").await, c.site(org_y.id, "Umbrella shop").await);
    let v = c.visitor(site_x.id, Some("Anon"), None).await;
    let vc = c.conversation(&site_x, v.id).await.id;
    let named = VisitorIdentity { email: Some("eve@example.com".to_owned()), ..Default::default() };
    let got = ok(s.identify_visitor(site_x.id, v.id, vc, &named).await, "identify with an email");
    assert_eq!((got.name.as_deref(), got.email.as_deref()), (Some("Anon"), Some("eve@example.com")));
    assert_eq!((got.user_id.as_deref(), got.verified), (None, false));
    let verified = VisitorIdentity { user_id: Some("u-42".to_owned()), verified: true, ..Default::default() };
    let got = ok(s.identify_visitor(site_x.id, v.id, vc, &verified).await, "identify verified");
    assert_eq!(
        (got.user_id.as_deref(), got.verified, got.email.as_deref()),
        (Some("u-42"), true, Some("eve@example.com"))
    );
    assert_eq!(
        events_of(s, org_x.id, vc, "visitor.identified").await,
        vec![
            DomainEvent::VisitorIdentified {
                conversation_id: vc,
                site_id: site_x.id,
                visitor_id: v.id,
                verified: false
            },
            DomainEvent::VisitorIdentified {
                conversation_id: vc,
                site_id: site_x.id,
                visitor_id: v.id,
                verified: true
            },
        ],
        "one outbox event per identify, in the org of the site"
    );
    // A later identify without a user id keeps the verified one; a new unverified user id clears it.
    let renamed = VisitorIdentity { name: Some("Eve".to_owned()), ..Default::default() };
    let got = ok(s.identify_visitor(site_x.id, v.id, vc, &renamed).await, "rename");
    assert_eq!((got.name.as_deref(), got.verified), (Some("Eve"), true));
    let unverified = VisitorIdentity { user_id: Some("u-43".to_owned()), verified: false, ..Default::default() };
    let got = ok(s.identify_visitor(site_x.id, v.id, vc, &unverified).await, "unverified user id");
    assert_eq!((got.user_id.as_deref(), got.verified), (Some("u-43"), false));
    let read = ok(s.get_visitor(site_x.id, v.id).await, "read back");
    assert_eq!(read, got);
    // Only verified carriers of a user id are one person's devices, per site.
    let identify_new = |site: Site, who: VisitorIdentity, what: &'static str| async move {
        let visitor = c.visitor(site.id, None, None).await;
        let conversation = c.conversation(&site, visitor.id).await.id;
        ok(s.identify_visitor(site.id, visitor.id, conversation, &who).await, what);
        visitor
    };
    let phone = identify_new(site_x.clone(), verified.clone(), "the phone verifies as u-42").await;
    let laptop = identify_new(site_x.clone(), verified.clone(), "the laptop too").await;
    let unverified_42 = VisitorIdentity { user_id: Some("u-42".to_owned()), verified: false, ..Default::default() };
    identify_new(site_x.clone(), unverified_42, "a claim without proof").await;
    identify_new(site_y.clone(), verified.clone(), "the same id on another site").await;
    let linked = ok(s.verified_visitors(site_x.id, "u-42").await, "linked visitors");
    assert_eq!(linked, vec![phone.id, laptop.id], "v now claims u-43; the unverified claim and site B are out");
    assert!(ok(s.verified_visitors(site_x.id, "nobody").await, "none").is_empty());
    // Another site's visitor, or a session that is not the visitor's, is not found and changes nothing.
    assert!(matches!(s.identify_visitor(site_y.id, v.id, vc, &renamed).await, Err(StoreError::NotFound)));
    let other = c.visitor(site_x.id, None, None).await;
    let others_session = c.conversation(&site_x, other.id).await.id;
    assert!(matches!(s.identify_visitor(site_x.id, v.id, others_session, &renamed).await, Err(StoreError::NotFound)));
    assert!(events_of(s, org_x.id, others_session, "visitor.identified").await.is_empty());
}

pub(crate) struct World {
    pub(crate) org_a: Organization,
    pub(crate) org_b: Organization,
    pub(crate) alice: User,
    pub(crate) carol: User,
    pub(crate) bob: User,
    pub(crate) site_a: Site,
    pub(crate) site_a2: Site,
    pub(crate) site_b: Site,
}

async fn orgs_team_and_sites(c: &Ctx) -> World {
    let s = c.s();
    // Plans.
    let mut org_a = c.org("Acme", Plan::Free, 0).await;
    let mut org_b = c.org("Globex", Plan::Pro, 2).await;
    assert_eq!(ok(s.get_org(org_a.id).await, "org A"), org_a, "plan and extra seats round-trip");
    assert_eq!(ok(s.get_org(org_b.id).await, "org B"), org_b, "plan and extra seats round-trip");
    ok(s.set_org_plan(org_a.id, Plan::Pro, 5).await, "upgrade A");
    (org_a.plan, org_a.extra_seats) = (Plan::Pro, 5);
    assert_eq!(ok(s.get_org(org_a.id).await, "upgraded A"), org_a);
    assert_eq!(ok(s.get_org(org_b.id).await, "B after A's upgrade"), org_b, "set_org_plan changes one org");
    ok(s.set_org_plan(org_b.id, Plan::Pro, u32::MAX).await, "the largest seat count");
    org_b.extra_seats = u32::MAX;
    assert_eq!(ok(s.get_org(org_b.id).await, "B with u32::MAX seats"), org_b, "every u32 round-trips");
    ok(s.set_org_plan(org_b.id, Plan::Free, 2).await, "downgrade B");
    (org_b.plan, org_b.extra_seats) = (Plan::Free, 2);
    assert_eq!(ok(s.get_org(org_b.id).await, "downgraded B"), org_b);
    not_found(s.set_org_plan(OrgId::generate(c.clk(), c.ent()), Plan::Pro, 1).await, "set the plan of no org");
    let orgs = ok(s.list_orgs().await, "list orgs");
    assert!(orgs.contains(&org_a) && orgs.contains(&org_b), "list_orgs carries plans: {orgs:?}");

    // Members, oldest membership first, with their user's email and name.
    let alice = c.user("Alice").await;
    let carol = c.user("Carol").await;
    let bob = c.user("Bob").await;
    let dora = c.user("Dora").await;
    let alice_in_a = c.member(org_a.id, alice.id, Role::Owner).await;
    let carol_in_a = c.member(org_a.id, carol.id, Role::Member).await;
    let bob_in_b = c.member(org_b.id, bob.id, Role::Owner).await;
    let as_member = |u: &User, m: &Membership, notify| Member {
        user_id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        role: m.role,
        notify,
        created_at: m.created_at,
    };
    let defaults = NotificationPrefs::default();
    assert_eq!(
        ok(s.list_members(org_a.id).await, "members of A"),
        vec![as_member(&alice, &alice_in_a, defaults), as_member(&carol, &carol_in_a, defaults)],
        "members of A, oldest first, notified of everything by default"
    );
    assert_eq!(ok(s.list_members(org_b.id).await, "members of B"), vec![as_member(&bob, &bob_in_b, defaults)]);
    assert!(
        ok(s.list_members(OrgId::generate(c.clk(), c.ent())).await, "members of no org").is_empty(),
        "an unknown organization has no members"
    );

    // Notification preferences.
    let quiet = NotificationPrefs { email_escalations: false, email_mentions: true };
    ok(s.set_notification_prefs(org_a.id, carol.id, quiet).await, "set prefs");
    not_found(s.set_notification_prefs(org_a.id, bob.id, quiet).await, "prefs of B's member in A");
    not_found(s.set_notification_prefs(org_b.id, carol.id, quiet).await, "prefs of A's member in B");
    let carol_admin = Membership { role: Role::Admin, created_at: c.tick(), ..carol_in_a.clone() };
    ok(s.put_membership(&carol_admin).await, "promote carol");
    let carol_now = Membership { role: Role::Admin, ..carol_in_a.clone() };
    assert_eq!(
        ok(s.list_members(org_a.id).await, "members of A with prefs"),
        vec![as_member(&alice, &alice_in_a, defaults), as_member(&carol, &carol_now, quiet)],
        "preferences are stored, and a role change keeps them and the membership's age"
    );
    assert_eq!(
        ok(s.list_members(org_b.id).await, "members of B"),
        vec![as_member(&bob, &bob_in_b, defaults)],
        "preferences are per organization"
    );

    // Removing a member.
    let dora_in_a = c.member(org_a.id, dora.id, Role::Member).await;
    assert_eq!(ok(s.list_members(org_a.id).await, "with dora").len(), 3);
    assert_eq!(ok(s.get_membership(org_a.id, dora.id).await, "dora"), dora_in_a);
    not_found(s.delete_membership(org_b.id, dora.id).await, "remove dora through B");
    not_found(s.delete_membership(org_a.id, bob.id).await, "remove B's member from A");
    not_found(s.delete_membership(org_b.id, alice.id).await, "remove A's member from B");
    ok(s.delete_membership(org_a.id, dora.id).await, "remove dora");
    not_found(s.get_membership(org_a.id, dora.id).await, "removed membership");
    not_found(s.delete_membership(org_a.id, dora.id).await, "remove dora twice");
    assert_eq!(ok(s.list_members(org_a.id).await, "after removal").len(), 2);
    assert_eq!(ok(s.list_members(org_b.id).await, "B untouched").len(), 1, "removals are scoped");

    // Sites: the draft round-trips from creation; rotated keys find the site by either key.
    let mut site_a = c.site_value(org_a.id, "Acme shop");
    site_a.widget_draft = Some(WidgetConfig { title: "Draft title".to_owned(), ..WidgetConfig::default() });
    ok(s.create_site(&site_a).await, "create site with a draft");
    assert_eq!(ok(s.get_site(org_a.id, site_a.id).await, "site A"), site_a, "widget_draft round-trips");
    let site_a2 = c.site(org_a.id, "Acme blog").await;
    let site_b = c.site(org_b.id, "Globex").await;
    let key1 = site_a.public_key.clone();
    let key2 = keys::new_public_key(c.ent());
    site_a.previous_public_key = Some(key1.clone());
    site_a.public_key = key2.clone();
    site_a.previous_key_expires_at = Some(c.now().plus_seconds(DAY_SECONDS));
    site_a.widget_draft =
        Some(WidgetConfig { title: "Second draft".to_owned(), show_branding: false, ..WidgetConfig::default() });
    site_a.updated_at = c.tick();
    ok(s.update_site(&site_a).await, "rotate the key");
    assert_eq!(ok(s.get_site(org_a.id, site_a.id).await, "rotated"), site_a, "keys, expiry and draft round-trip");
    assert_eq!(ok(s.get_site_by_public_key(&key2).await, "by the new key"), site_a);
    assert_eq!(
        ok(s.get_site_by_public_key(&key1).await, "by the previous key"),
        site_a,
        "the previous key still finds the site (the caller checks its expiry)"
    );
    let key3 = keys::new_public_key(c.ent());
    site_a.previous_public_key = Some(key2.clone());
    site_a.public_key = key3.clone();
    site_a.widget_draft = None;
    site_a.updated_at = c.tick();
    ok(s.update_site(&site_a).await, "rotate again, clear the draft");
    assert_eq!(ok(s.get_site(org_a.id, site_a.id).await, "rotated twice"), site_a, "a cleared draft is None");
    not_found(s.get_site_by_public_key(&key1).await, "a key two rotations old");
    assert_eq!(ok(s.get_site_by_public_key(&key2).await, "previous key"), site_a);
    assert_eq!(ok(s.get_site_by_public_key(&key3).await, "current key"), site_a);
    site_a.previous_public_key = None;
    site_a.previous_key_expires_at = None;
    site_a.updated_at = c.tick();
    ok(s.update_site(&site_a).await, "drop the previous key");
    not_found(s.get_site_by_public_key(&key2).await, "a dropped previous key");
    assert_eq!(ok(s.get_site(org_a.id, site_a.id).await, "no previous key"), site_a);

    World { org_a, org_b, alice, carol, bob, site_a, site_a2, site_b }
}

/// Webhook-reported subscriptions: applied once per event id, never overwritten by an older
/// report, found by the provider's subscription id, scoped to their organization.
async fn subscriptions(c: &Ctx) {
    use frontdesk_core::billing::{Subscription, SubscriptionApplied as Applied, SubscriptionStatus};
    let s = c.s();
    let mut a = c.org("Subscriber", Plan::Free, 0).await;
    let b = c.org("Bystander", Plan::Free, 0).await;
    let sub_id = format!("sub_{}", c.tag);
    assert_eq!(ok(s.get_subscription(a.id).await, "no subscription yet"), None);
    not_found(s.get_subscription(OrgId::generate(c.clk(), c.ent())).await, "the subscription of no org");
    not_found(s.find_org_by_subscription(&sub_id).await, "an unknown subscription id");

    let t0 = c.tick();
    let created = Subscription {
        subscription_id: sub_id.clone(),
        customer_id: Some(format!("ctm_{}", c.tag)),
        status: SubscriptionStatus::Active,
        plan: Plan::Pro,
        extra_seats: 0,
        occurred_at: t0,
    };
    let ev = |n: &str| format!("evt_{}_{n}", c.tag);
    assert_eq!(ok(s.apply_subscription(a.id, &ev("1"), &created, c.now()).await, "created"), Applied::Applied);
    (a.plan, a.extra_seats) = (Plan::Pro, 0);
    assert_eq!(ok(s.get_org(a.id).await, "A after created"), a, "the plan follows the subscription");
    assert_eq!(ok(s.get_subscription(a.id).await, "A's subscription"), Some(created.clone()));
    assert_eq!(ok(s.find_org_by_subscription(&sub_id).await, "found by its id"), a.id);
    assert_eq!(ok(s.get_subscription(b.id).await, "B untouched"), None);
    assert_eq!(ok(s.get_org(b.id).await, "B's plan untouched").plan, Plan::Free);

    // The same event again changes nothing, even with other content.
    let mut replay = created.clone();
    replay.status = SubscriptionStatus::Canceled;
    replay.plan = Plan::Free;
    replay.occurred_at = c.tick();
    assert_eq!(ok(s.apply_subscription(a.id, &ev("1"), &replay, c.now()).await, "replay"), Applied::Duplicate);
    assert_eq!(ok(s.get_subscription(a.id).await, "after replay"), Some(created.clone()));

    // A later change applies; an older one that arrives afterwards does not, and is remembered.
    let t_late = c.tick();
    let updated = Subscription {
        status: SubscriptionStatus::PastDue,
        extra_seats: u32::MAX,
        occurred_at: t_late,
        ..created.clone()
    };
    assert_eq!(ok(s.apply_subscription(a.id, &ev("2"), &updated, c.now()).await, "updated"), Applied::Applied);
    let stale = Subscription { status: SubscriptionStatus::Active, extra_seats: 1, occurred_at: t0, ..created.clone() };
    assert_eq!(ok(s.apply_subscription(a.id, &ev("3"), &stale, c.now()).await, "stale"), Applied::Stale);
    assert_eq!(ok(s.apply_subscription(a.id, &ev("3"), &stale, c.now()).await, "stale again"), Applied::Duplicate);
    assert_eq!(ok(s.get_subscription(a.id).await, "after stale"), Some(updated.clone()));
    a.extra_seats = u32::MAX;
    assert_eq!(ok(s.get_org(a.id).await, "A with every seat"), a);

    // Another organization's event ids are its own only by value: an unknown org is NotFound and
    // its event id is not spent.
    let nobody = OrgId::generate(c.clk(), c.ent());
    not_found(s.apply_subscription(nobody, &ev("4"), &updated, c.now()).await, "apply to no org");
    let b_sub = Subscription { subscription_id: format!("sub_b_{}", c.tag), occurred_at: c.tick(), ..created.clone() };
    assert_eq!(ok(s.apply_subscription(b.id, &ev("4"), &b_sub, c.now()).await, "B's own"), Applied::Applied);
    assert_eq!(ok(s.find_org_by_subscription(&b_sub.subscription_id).await, "B's id"), b.id);
    assert_eq!(ok(s.find_org_by_subscription(&sub_id).await, "A's id still A's"), a.id);
    assert_eq!(ok(s.get_subscription(a.id).await, "A unchanged by B"), Some(updated));

    // Canceled: back to Free, with no extra seats.
    let canceled = Subscription {
        status: SubscriptionStatus::Canceled,
        plan: Plan::Free,
        extra_seats: 0,
        occurred_at: c.tick(),
        ..created
    };
    assert_eq!(ok(s.apply_subscription(a.id, &ev("5"), &canceled, c.now()).await, "canceled"), Applied::Applied);
    (a.plan, a.extra_seats) = (Plan::Free, 0);
    assert_eq!(ok(s.get_org(a.id).await, "A canceled"), a);
    assert_eq!(ok(s.get_subscription(a.id).await, "canceled kept"), Some(canceled));
}

async fn invitations(c: &Ctx, w: &World) {
    let s = c.s();
    let newbie = c.user("Newbie").await;
    let created_at = c.tick();
    let invite = Invite {
        id: InviteId::generate(c.clk(), c.ent()),
        org_id: w.org_a.id,
        email: newbie.email.clone(),
        role: Role::Member,
        invited_by: Some(w.alice.id),
        created_at,
        expires_at: created_at.plus_seconds(7 * DAY_SECONDS),
        accepted_at: None,
    };
    ok(s.create_invite(&invite).await, "invite");
    assert_eq!(ok(s.get_invite(invite.id).await, "get invite"), invite);
    let again = Invite { id: InviteId::generate(c.clk(), c.ent()), created_at: c.tick(), ..invite.clone() };
    conflict(s.create_invite(&again).await, "a second pending invitation for the address");
    not_found(s.get_invite(again.id).await, "the refused invitation was not stored");
    let in_b = Invite {
        id: InviteId::generate(c.clk(), c.ent()),
        org_id: w.org_b.id,
        invited_by: Some(w.bob.id),
        created_at: c.tick(),
        ..invite.clone()
    };
    ok(s.create_invite(&in_b).await, "the same address invited by another org");
    let expired_at = c.tick();
    let expired = Invite {
        id: InviteId::generate(c.clk(), c.ent()),
        email: format!("late.{}@example.com", c.tag),
        created_at: expired_at,
        expires_at: expired_at.plus_seconds(-1),
        invited_by: None,
        ..invite.clone()
    };
    ok(s.create_invite(&expired).await, "an invitation that has expired");
    let for_carol = Invite {
        id: InviteId::generate(c.clk(), c.ent()),
        email: w.carol.email.clone(),
        role: Role::Member,
        created_at: c.tick(),
        ..invite.clone()
    };
    ok(s.create_invite(&for_carol).await, "invite an existing member");
    assert_eq!(
        ok(s.list_invites(w.org_a.id).await, "invites of A"),
        vec![invite.clone(), expired.clone(), for_carol.clone()],
        "pending invitations, oldest first, expired ones included"
    );
    assert_eq!(ok(s.list_invites(w.org_b.id).await, "invites of B"), vec![in_b.clone()]);

    not_found(s.delete_invite(w.org_b.id, expired.id).await, "delete A's invitation through B");
    assert_eq!(ok(s.get_invite(expired.id).await, "still there"), expired);
    ok(s.delete_invite(w.org_a.id, expired.id).await, "delete invitation");
    not_found(s.get_invite(expired.id).await, "deleted invitation");
    not_found(s.delete_invite(w.org_a.id, expired.id).await, "delete twice");
    not_found(s.get_invite(InviteId::generate(c.clk(), c.ent())).await, "unknown invitation");

    // One transaction: a membership that cannot be stored leaves the invitation pending.
    let at = c.tick();
    let ghost = Membership {
        org_id: w.org_a.id,
        user_id: UserId::generate(c.clk(), c.ent()),
        role: Role::Member,
        created_at: at,
    };
    let refused = s.accept_invite(invite.id, &ghost, at).await;
    assert!(refused.is_err(), "accepting with a membership of no user fails: {refused:?}");
    assert_eq!(
        ok(s.get_invite(invite.id).await, "after a failed acceptance"),
        invite,
        "a failed acceptance changes nothing"
    );

    let joined = Membership { org_id: w.org_a.id, user_id: newbie.id, role: Role::Member, created_at: at };
    ok(s.accept_invite(invite.id, &joined, at).await, "accept");
    let accepted = Invite { accepted_at: Some(at), ..invite.clone() };
    assert_eq!(ok(s.get_invite(invite.id).await, "accepted invitation"), accepted);
    assert_eq!(ok(s.get_membership(w.org_a.id, newbie.id).await, "the new membership"), joined);
    let later = c.tick();
    conflict(s.accept_invite(invite.id, &joined, later).await, "accept twice");
    assert_eq!(ok(s.get_invite(invite.id).await, "accepted once"), accepted, "the first acceptance stands");
    not_found(s.accept_invite(InviteId::generate(c.clk(), c.ent()), &joined, later).await, "accept no invitation");
    assert_eq!(ok(s.get_invite(in_b.id).await, "B's invitation"), in_b, "accepting A's leaves B's pending");
    assert_eq!(
        ok(s.list_invites(w.org_a.id).await, "after acceptance"),
        vec![for_carol.clone()],
        "accepted invitations are not listed"
    );
    let members: Vec<UserId> = ok(s.list_members(w.org_a.id).await, "members").iter().map(|m| m.user_id).collect();
    assert_eq!(members, vec![w.alice.id, w.carol.id, newbie.id], "the newcomer is the newest member");

    // Once accepted, the address may be invited again.
    let reinvite = Invite { id: InviteId::generate(c.clk(), c.ent()), created_at: c.tick(), ..invite.clone() };
    ok(s.create_invite(&reinvite).await, "invite an address whose invitation was accepted");
    ok(s.delete_invite(w.org_a.id, reinvite.id).await, "withdraw it");

    // Accepting as an existing member changes the membership's role.
    let at = c.tick();
    let carol_member = Membership { org_id: w.org_a.id, user_id: w.carol.id, role: Role::Member, created_at: at };
    ok(s.accept_invite(for_carol.id, &carol_member, at).await, "accept as an existing member");
    assert_eq!(ok(s.get_membership(w.org_a.id, w.carol.id).await, "carol").role, Role::Member);
    assert!(ok(s.list_invites(w.org_a.id).await, "no invitations").is_empty());
}

// --- When things happened: status_changed_at, escalated_at, first_agent_reply_at.

/// Appends racing each other, most of them fine and some breaking a rule: each gets its own
/// answer, whichever appends it shared a write with (a store may write concurrent appends in one
/// transaction), and what was stored is gapless and in the outbox once, in sequence order.
async fn mixed_racing_appends(c: &Ctx) {
    const RACERS: i64 = 60;
    let org = c.org("Racers", Plan::Free, 0).await;
    let other = c.org("Bystanders", Plan::Free, 0).await;
    let site = c.site(org.id, "Race track").await;
    let visitor = c.visitor(site.id, None, None).await;
    let open = [c.conversation(&site, visitor.id).await, c.conversation(&site, visitor.id).await];
    let closed = c.conversation(&site, visitor.id).await;
    c.change(org.id, closed.id, Active, Closed).await;
    let start = c.tick();
    let duplicate_id = MessageId::generate(c.clk(), c.ent());

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Expect {
        Stored(usize),
        Closed,
        OtherOrg,
        StaleStatus,
        Duplicate,
    }
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let expect = match i % 10 {
            3 => Expect::Closed,
            5 => Expect::OtherOrg,
            7 => Expect::StaleStatus,
            9 if i < 20 => Expect::Duplicate,
            n => Expect::Stored(usize::from(n % 2 == 1)),
        };
        let conversation_id = match expect {
            Expect::Closed => closed.id,
            Expect::Stored(k) => open[k].id,
            _ => open[0].id,
        };
        let message = NewMessage {
            id: if expect == Expect::Duplicate { duplicate_id } else { MessageId::generate(c.clk(), c.ent()) },
            conversation_id,
            author_kind: AuthorKind::Visitor,
            author_id: None,
            body: format!("racer {i}"),
            html: format!("<p>racer {i}</p>"),
            citations: vec![],
            quick_replies: vec![],
            created_at: start.plus_millis(i),
        };
        let org_id = if expect == Expect::OtherOrg { other.id } else { org.id };
        let status = (expect == Expect::StaleStatus).then_some(StatusChange { from: Resolved, to: Escalated });
        let store = c.store.clone();
        racers.push((expect, tokio::spawn(async move { store.append_message(org_id, &message, status, true).await })));
    }

    let mut stored: [Vec<Message>; 2] = [Vec::new(), Vec::new()];
    let mut duplicates = Vec::new();
    for (expect, racer) in racers {
        let result = racer.await.expect("racer panicked");
        match expect {
            Expect::Stored(k) => {
                let (message, conversation) = ok(result, "a racing append");
                assert_eq!(conversation.id, open[k].id);
                assert_eq!(conversation.last_seq, message.seq, "the conversation as this append left it");
                stored[k].push(message);
            }
            Expect::Closed | Expect::StaleStatus => conflict(result, "a racing append that breaks a rule"),
            Expect::OtherOrg => not_found(result, "a racing append through another organization"),
            Expect::Duplicate => duplicates.push(result),
        }
    }
    let (duplicate_stored, refused): (Vec<_>, Vec<_>) = duplicates.into_iter().partition(Result::is_ok);
    assert_eq!(duplicate_stored.len(), 1, "of two appends with one message id, exactly one is stored");
    for r in refused {
        conflict(r, "the second append of one message id");
    }
    stored[0].extend(duplicate_stored.into_iter().filter_map(Result::ok).map(|(m, _)| m));

    let outbox = crate::story_outbox(c.s(), org.id, other.id).await;
    for (k, conversation) in open.iter().enumerate() {
        let mut mine = std::mem::take(&mut stored[k]);
        mine.sort_by_key(|m| m.seq);
        let seqs: Vec<i64> = mine.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=mine.len() as i64).collect::<Vec<_>>(), "gapless sequence numbers");
        let history = ok(c.s().list_messages(conversation.id, 0, 500).await, "raced history");
        assert_eq!(history, mine, "the history is exactly what the appends returned");
        let after = c.conversation_of(org.id, conversation.id).await;
        assert_eq!(after.last_seq, mine.len() as i64);
        assert_eq!(after.status, Active);
        let newest = mine.iter().map(|m| m.created_at).max();
        assert_eq!(Some(after.last_activity_at), newest, "the newest visitor message's time, whatever the order");
        let events: Vec<i64> = outbox
            .iter()
            .filter_map(|e| match e.event {
                DomainEvent::MessageCreated { conversation_id, seq, .. } if conversation_id == conversation.id => {
                    Some(seq)
                }
                _ => None,
            })
            .collect();
        assert_eq!(events, seqs, "one outbox event per stored message, in sequence order");
    }
    assert!(
        !outbox
            .iter()
            .any(|e| e.event.conversation_id() == closed.id && matches!(e.event, DomainEvent::MessageCreated { .. })),
        "nothing was appended to the closed conversation"
    );
    assert_eq!(c.conversation_of(org.id, closed.id).await.last_seq, 0);
}

async fn conversation_times(c: &Ctx) {
    let s = c.s();
    let org = c.org("Timekeepers", Plan::Free, 0).await;
    let agent = c.user("Tim").await;
    c.member(org.id, agent.id, Role::Owner).await;
    let site = c.site(org.id, "Clock shop").await;
    let visitor = c.visitor(site.id, None, None).await;
    let conversation = c.conversation(&site, visitor.id).await;
    let t0 = conversation.created_at;
    assert_eq!(c.conversation_of(org.id, conversation.id).await, conversation, "the new times round-trip");

    let (_, after) = c.say(org.id, conversation.id, AuthorKind::Visitor, None, "hello", None).await;
    assert_eq!((after.status_changed_at, after.escalated_at, after.first_agent_reply_at), (t0, None, None));
    let (_, after) = c.say(org.id, conversation.id, AuthorKind::Assistant, None, "hi", None).await;
    assert_eq!(after.first_agent_reply_at, None, "an assistant answer is not an agent reply");
    let (_, after) = c.say(org.id, conversation.id, AuthorKind::System, None, "note", None).await;
    assert_eq!(after.first_agent_reply_at, None, "a system message is not an agent reply");
    let (m, after) =
        c.say(org.id, conversation.id, AuthorKind::Agent, Some(agent.id), "Tim here", Some((Active, Escalated))).await;
    let t_reply = m.created_at;
    assert_eq!(after.first_agent_reply_at, Some(t_reply), "the first agent message sets first_agent_reply_at");
    assert_eq!(after.status_changed_at, t_reply, "a status change by append_message sets status_changed_at");
    assert_eq!(after.escalated_at, Some(t_reply), "the first escalation sets escalated_at");
    assert_eq!(c.conversation_of(org.id, conversation.id).await, after, "append_message returns what it stored");

    let resolved = c.change(org.id, conversation.id, Escalated, Resolved).await;
    let t_resolved = c.now();
    assert_eq!(resolved.status_changed_at, t_resolved, "change_status sets status_changed_at");
    assert_eq!(resolved.escalated_at, Some(t_reply), "resolving keeps escalated_at");
    assert_eq!(c.conversation_of(org.id, conversation.id).await, resolved, "change_status returns what it stored");

    let (m, after) =
        c.say(org.id, conversation.id, AuthorKind::Visitor, None, "again", Some((Resolved, Escalated))).await;
    let t_reopened = m.created_at;
    assert_eq!(after.status_changed_at, t_reopened);
    assert_eq!(after.escalated_at, Some(t_reply), "escalated_at is the first escalation's");
    let (_, after) = c.say(org.id, conversation.id, AuthorKind::Agent, Some(agent.id), "still Tim", None).await;
    assert_eq!(after.first_agent_reply_at, Some(t_reply), "first_agent_reply_at is the first agent message's");
    let (_, after) =
        c.say(org.id, conversation.id, AuthorKind::Visitor, None, "ok", Some((Escalated, Escalated))).await;
    assert_eq!(after.status_changed_at, t_reopened, "a status change to the same status changes no time");
    let same = c.change(org.id, conversation.id, Escalated, Escalated).await;
    assert_eq!(same.status_changed_at, t_reopened, "change_status to the same status changes no time");
    let closed = c.change(org.id, conversation.id, Escalated, Closed).await;
    assert_eq!((closed.status_changed_at, closed.escalated_at), (c.now(), Some(t_reply)));
    assert_eq!(closed.first_agent_reply_at, Some(t_reply));

    // Escalated by change_status first, answered later.
    let second = c.conversation(&site, visitor.id).await;
    let escalated = c.change(org.id, second.id, Active, Escalated).await;
    let t_escalated = c.now();
    assert_eq!((escalated.status_changed_at, escalated.escalated_at), (t_escalated, Some(t_escalated)));
    assert_eq!(escalated.first_agent_reply_at, None);
    let (m, after) = c.say(org.id, second.id, AuthorKind::Agent, Some(agent.id), "on it", None).await;
    assert_eq!(after.first_agent_reply_at, Some(m.created_at), "an agent reply without a status change counts");
    assert_eq!((after.status_changed_at, after.escalated_at), (t_escalated, Some(t_escalated)));
    let refused = s.change_status(org.id, second.id, StatusChange { from: Active, to: Resolved }, c.tick()).await;
    conflict(refused, "a stale change_status");
    assert_eq!(c.conversation_of(org.id, second.id).await, after, "a refused change_status changes no time");
}

// --- The inbox.

/// Organization A's conversations for the inbox, search, notes and analytics.
struct Fixture {
    va1: Visitor,
    va2: Visitor,
    va3: Visitor,
    vb: Visitor,
    /// site A, visitor 1 (named): three messages, escalated by alice's reply, assigned to alice, 5 stars.
    c1: Conversation,
    c1_messages: Vec<Message>,
    /// site A, visitor 2 (anonymous): an assistant greeting and a long question, active, 2 stars.
    c2: Conversation,
    c2_messages: Vec<Message>,
    long_question: String,
    /// site A2: a refund, answered by carol, resolved, assigned to carol.
    c3: Conversation,
    c3_messages: Vec<Message>,
    /// site A, visitor 1, no messages.
    c4: Conversation,
    /// Created at the same instant: the order falls back on ids.
    c5: Conversation,
    c6: Conversation,
    /// Organization B's conversation, with words that are also in A's.
    cb: Conversation,
}

impl Fixture {
    fn all_a(&self) -> [&Conversation; 6] {
        [&self.c1, &self.c2, &self.c3, &self.c4, &self.c5, &self.c6]
    }
}

async fn inbox_fixture(c: &Ctx, w: &World) -> Fixture {
    let (a, b) = (w.org_a.id, w.org_b.id);
    let vera_email = format!("vera.{}@example.com", c.tag);
    let va1 = c.visitor(w.site_a.id, Some("Vera Visitor"), Some(&vera_email)).await;
    let va2 = c.visitor(w.site_a.id, None, None).await;
    let va3 = c.visitor(w.site_a2.id, Some("Sam"), None).await;
    let vb = c.visitor(w.site_b.id, Some("Bea"), None).await;

    let c1 = c.conversation(&w.site_a, va1.id).await;
    let mut c1_messages = Vec::new();
    let text = "Where is my parcel? Tracking number 12345 please";
    c1_messages.push(c.say(a, c1.id, AuthorKind::Visitor, None, text, None).await.0);
    c1_messages.push(c.say(a, c1.id, AuthorKind::Assistant, None, "Parcels ship within two days", None).await.0);
    let reply = "Let me check the warehouse for you";
    c1_messages.push(c.say(a, c1.id, AuthorKind::Agent, Some(w.alice.id), reply, Some((Active, Escalated))).await.0);

    let c2 = c.conversation(&w.site_a, va2.id).await;
    let long_question = format!("Invoice question about VAT {}", "ß".repeat(300));
    let mut c2_messages = Vec::new();
    c2_messages.push(c.say(a, c2.id, AuthorKind::Assistant, None, "Hello, how can we help", None).await.0);
    c2_messages.push(c.say(a, c2.id, AuthorKind::Visitor, None, &long_question, None).await.0);

    let c3 = c.conversation(&w.site_a2, va3.id).await;
    let mut c3_messages = Vec::new();
    c3_messages.push(c.say(a, c3.id, AuthorKind::Visitor, None, "Refund for my shoes please", None).await.0);
    c.change(a, c3.id, Active, Escalated).await;
    c3_messages.push(c.say(a, c3.id, AuthorKind::Agent, Some(w.carol.id), "Refund approved", None).await.0);
    c.change(a, c3.id, Escalated, Resolved).await;

    let c4 = c.conversation(&w.site_a, va1.id).await;
    let c5 = c.conversation(&w.site_a, va2.id).await;
    let c6 = c.conversation_now(&w.site_a, va2.id).await;

    let cb = c.conversation(&w.site_b, vb.id).await;
    c.say(b, cb.id, AuthorKind::Visitor, None, "Where is my parcel? Invoice attached", None).await;

    c.rate(a, c1.id, 5).await;
    c.rate(a, c2.id, 2).await;
    c.rate(b, cb.id, 4).await;
    let at = c.tick();
    let assigned = ok(c.s().assign_conversation(a, c1.id, Some(w.alice.id), at).await, "assign c1");
    assert_eq!((assigned.assignee_id, assigned.updated_at), (Some(w.alice.id), at));
    let at = c.tick();
    ok(c.s().assign_conversation(a, c3.id, Some(w.carol.id), at).await, "assign c3");

    // As stored now.
    let mut f =
        Fixture { va1, va2, va3, vb, c1, c1_messages, c2, c2_messages, long_question, c3, c3_messages, c4, c5, c6, cb };
    for (org, conversation) in
        [(a, &mut f.c1), (a, &mut f.c2), (a, &mut f.c3), (a, &mut f.c4), (a, &mut f.c5), (a, &mut f.c6), (b, &mut f.cb)]
    {
        *conversation = c.conversation_of(org, conversation.id).await;
    }
    f
}

pub(crate) fn inbox_ids(items: &[InboxItem]) -> Vec<ConversationId> {
    items.iter().map(|i| i.conversation.id).collect()
}

/// The conversations in the inbox's default order: most recently updated first, then by id.
fn newest_first(list: &[&Conversation]) -> Vec<ConversationId> {
    let mut sorted: Vec<&Conversation> = list.to_vec();
    sorted.sort_by(|x, y| y.updated_at.cmp(&x.updated_at).then(y.id.cmp(&x.id)));
    sorted.iter().map(|c| c.id).collect()
}

/// The escalation queue's order: oldest status change first, then by id.
fn longest_waiting_first(list: &[&Conversation]) -> Vec<ConversationId> {
    let mut sorted: Vec<&Conversation> = list.to_vec();
    sorted.sort_by(|x, y| x.status_changed_at.cmp(&y.status_changed_at).then(x.id.cmp(&y.id)));
    sorted.iter().map(|c| c.id).collect()
}

async fn inbox_lists(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let (a, alice) = (w.org_a.id, w.alice.id);
    let list = |filter: InboxFilter| async move { ok(s.inbox(a, alice, &filter).await, "inbox") };
    let all = f.all_a();

    // The default order, spelled out for this fixture and checked against the rule.
    let everything = list(InboxFilter::default()).await;
    let (c5_c6_newest, c5_c6_oldest) = if f.c5.id > f.c6.id {
        ([f.c5.id, f.c6.id], [f.c6.id, f.c5.id])
    } else {
        ([f.c6.id, f.c5.id], [f.c5.id, f.c6.id])
    };
    let expected = [f.c3.id, f.c1.id, c5_c6_newest[0], c5_c6_newest[1], f.c4.id, f.c2.id];
    assert_eq!(newest_first(&all), expected, "the fixture's times are as the chapter assumes");
    assert_eq!(inbox_ids(&everything), expected, "the inbox: most recently updated first, ties by id (descending)");
    let oldest = list(InboxFilter { oldest_first: true, ..InboxFilter::default() }).await;
    let expected_oldest = [f.c1.id, f.c2.id, f.c3.id, f.c4.id, c5_c6_oldest[0], c5_c6_oldest[1]];
    assert_eq!(longest_waiting_first(&all), expected_oldest, "the fixture's status times are as assumed");
    assert_eq!(inbox_ids(&oldest), expected_oldest, "oldest_first: oldest status change first, ties by id");

    // Each item's fields.
    for item in &everything {
        let stored = all.iter().find(|x| x.id == item.conversation.id).expect("an item of the fixture");
        assert_eq!(&&item.conversation, stored, "an inbox item carries the stored conversation");
    }
    let item = |id: ConversationId| everything.iter().find(|i| i.conversation.id == id).expect("item").clone();
    let i1 = item(f.c1.id);
    let reply = &f.c1_messages[2];
    assert_eq!(
        (i1.visitor_name.as_deref(), i1.visitor_email.clone()),
        (Some("Vera Visitor"), f.va1.email.clone()),
        "the visitor's name and email"
    );
    assert_eq!(
        i1.last_message,
        Some(MessagePreview { author_kind: AuthorKind::Agent, body: reply.body.clone(), created_at: reply.created_at }),
        "the newest message"
    );
    assert_eq!((i1.unread, i1.rating), (3, Some(5)), "no read marker: every message is unread");
    let i2 = item(f.c2.id);
    assert_eq!((i2.visitor_name.clone(), i2.visitor_email.clone()), (None, None));
    let shortened = preview(&f.long_question);
    assert_eq!(shortened.chars().count(), PREVIEW_CHARS + 1, "the long question needs shortening");
    assert_eq!(
        i2.last_message,
        Some(MessagePreview {
            author_kind: AuthorKind::Visitor,
            body: shortened,
            created_at: f.c2_messages[1].created_at
        }),
        "the newest message's body is shortened with inbox::preview"
    );
    assert_eq!((i2.unread, i2.rating), (2, Some(2)));
    let i3 = item(f.c3.id);
    assert_eq!(i3.visitor_name.as_deref(), Some("Sam"));
    assert_eq!((i3.unread, i3.rating), (2, None));
    let i4 = item(f.c4.id);
    assert_eq!((i4.last_message.clone(), i4.unread, i4.rating), (None, 0, None), "a conversation without messages");
    assert_eq!(i4.visitor_name.as_deref(), Some("Vera Visitor"));

    // Filters.
    let ids = |v: Vec<InboxItem>| inbox_ids(&v);
    let by_status = |status| InboxFilter { status: Some(status), ..InboxFilter::default() };
    assert_eq!(ids(list(by_status(Escalated)).await), [f.c1.id], "status filter");
    assert_eq!(ids(list(by_status(Resolved)).await), [f.c3.id], "status filter");
    assert!(list(by_status(Closed)).await.is_empty(), "status filter");
    let active = [&f.c2, &f.c4, &f.c5, &f.c6];
    assert_eq!(ids(list(by_status(Active)).await), newest_first(&active), "status filter");
    let active_queue = InboxFilter { oldest_first: true, ..by_status(Active) };
    assert_eq!(ids(list(active_queue).await), longest_waiting_first(&active), "status filter, oldest first");
    let by_site = |site: SiteId| InboxFilter { site_id: Some(site), ..InboxFilter::default() };
    assert_eq!(ids(list(by_site(w.site_a2.id)).await), [f.c3.id], "site filter");
    assert_eq!(ids(list(by_site(w.site_a.id)).await), newest_first(&[&f.c1, &f.c2, &f.c4, &f.c5, &f.c6]));
    assert!(list(by_site(w.site_b.id)).await.is_empty(), "another org's site lists nothing");
    let by_assignee = |assignee| InboxFilter { assignee, ..InboxFilter::default() };
    assert_eq!(ids(list(by_assignee(AssigneeFilter::User(w.alice.id))).await), [f.c1.id], "assignee filter");
    assert_eq!(ids(list(by_assignee(AssigneeFilter::User(w.carol.id))).await), [f.c3.id], "assignee filter");
    assert!(list(by_assignee(AssigneeFilter::User(w.bob.id))).await.is_empty(), "another org's user");
    assert_eq!(ids(list(by_assignee(AssigneeFilter::Unassigned)).await), newest_first(&active), "unassigned");
    assert_eq!(ids(list(by_assignee(AssigneeFilter::Anyone)).await), expected, "anyone");
    let stars = |min, max| InboxFilter { rating_min: min, rating_max: max, ..InboxFilter::default() };
    assert_eq!(ids(list(stars(Some(4), None)).await), [f.c1.id], "rating_min");
    assert_eq!(ids(list(stars(None, Some(3))).await), [f.c2.id], "rating_max leaves unrated ones out");
    assert_eq!(ids(list(stars(Some(2), Some(5))).await), newest_first(&[&f.c1, &f.c2]), "both bounds, inclusive");
    assert_eq!(ids(list(stars(Some(5), Some(5))).await), [f.c1.id], "both bounds, inclusive");
    assert_eq!(ids(list(stars(Some(1), None)).await), newest_first(&[&f.c1, &f.c2]), "any rating");
    assert!(list(stars(Some(3), Some(4))).await.is_empty(), "no rating in 3..=4");
    let combined = InboxFilter {
        status: Some(Active),
        site_id: Some(w.site_a.id),
        assignee: AssigneeFilter::Unassigned,
        rating_max: Some(2),
        ..InboxFilter::default()
    };
    assert_eq!(ids(list(combined).await), [f.c2.id], "filters combine with AND");
    let two = InboxFilter { limit: 2, ..InboxFilter::default() };
    assert_eq!(ids(list(two).await), expected[..2], "limit");
    let first = InboxFilter { limit: 1, oldest_first: true, ..InboxFilter::default() };
    assert_eq!(ids(list(first).await), [f.c1.id], "limit, oldest first");

    // Pages: following the cursor of each page's last item lists everything once, in order, in
    // both orders and with filters — across the tie of c5 and c6 (same times) too.
    for (size, oldest_first, status, whole) in [
        (1, false, None, expected.to_vec()),
        (2, false, None, expected.to_vec()),
        (4, false, None, expected.to_vec()),
        (1, true, None, expected_oldest.to_vec()),
        (4, true, None, expected_oldest.to_vec()),
        (1, false, Some(Active), newest_first(&active)),
        (3, true, Some(Active), longest_waiting_first(&active)),
    ] {
        let mut seen = Vec::new();
        let mut after = None;
        for _ in 0..10 {
            let page = list(InboxFilter { limit: size, oldest_first, status, after, ..InboxFilter::default() }).await;
            assert!(page.len() <= size as usize, "a page holds at most its limit");
            seen.extend(inbox_ids(&page));
            let Some(last) = page.last() else { break };
            after = Some(InboxCursor::after(last, oldest_first));
        }
        assert_eq!(seen, whole, "pages of {size} (oldest first: {oldest_first}, status {status:?})");
    }
    // A cursor is only a position: one taken from another organization's conversation lists this
    // organization's conversations after that position, never the other's.
    let b_item = &ok(s.inbox(w.org_b.id, w.bob.id, &InboxFilter::default()).await, "inbox of B")[0];
    let after_b = list(InboxFilter { after: Some(InboxCursor::after(b_item, false)), ..InboxFilter::default() }).await;
    assert!(!inbox_ids(&after_b).contains(&f.cb.id), "no conversation of B through a cursor");
    assert!(inbox_ids(&after_b).iter().all(|id| expected.contains(id)));

    // Tenants.
    let b_inbox = ok(s.inbox(w.org_b.id, w.bob.id, &InboxFilter::default()).await, "inbox of B");
    assert_eq!(inbox_ids(&b_inbox), [f.cb.id], "organization B sees only its conversation");
    assert_eq!((b_inbox[0].rating, b_inbox[0].visitor_name.as_deref()), (Some(4), Some("Bea")));
    let site_a_through_b = ok(s.inbox(w.org_b.id, w.bob.id, &by_site(w.site_a.id)).await, "A's site via B");
    assert!(site_a_through_b.is_empty(), "another org's site lists nothing");
    let nobody = ok(s.inbox(OrgId::generate(c.clk(), c.ent()), alice, &InboxFilter::default()).await, "no org");
    assert!(nobody.is_empty(), "an unknown org's inbox is empty");
}

/// Revoking a conversation's session tokens bumps its generation, only within its organization.
async fn token_revocation(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let before = ok(s.get_conversation(w.org_a.id, f.c1.id).await, "read").token_generation;
    assert_eq!(ok(s.revoke_session_tokens(w.org_a.id, f.c1.id).await, "revoke"), before + 1);
    assert_eq!(ok(s.get_conversation(w.org_a.id, f.c1.id).await, "read").token_generation, before + 1);
    assert!(matches!(s.revoke_session_tokens(w.org_b.id, f.c1.id).await, Err(StoreError::NotFound)));
}

async fn read_markers(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let a = w.org_a.id;
    let unread = |viewer: UserId, id: ConversationId| async move {
        let items = ok(s.inbox(a, viewer, &InboxFilter::default()).await, "inbox");
        items.iter().find(|i| i.conversation.id == id).map(|i| i.unread).expect("the conversation is listed")
    };
    ok(s.mark_read(a, f.c1.id, w.alice.id, 2).await, "mark read");
    assert_eq!(unread(w.alice.id, f.c1.id).await, 1, "3 messages, read up to 2");
    assert_eq!(unread(w.carol.id, f.c1.id).await, 3, "read markers are per agent");
    assert_eq!(unread(w.alice.id, f.c3.id).await, 2, "read markers are per conversation");
    ok(s.mark_read(a, f.c1.id, w.alice.id, 1).await, "mark read backwards");
    assert_eq!(unread(w.alice.id, f.c1.id).await, 1, "the read marker never moves back");
    ok(s.mark_read(a, f.c1.id, w.alice.id, 3).await, "mark everything read");
    assert_eq!(unread(w.alice.id, f.c1.id).await, 0);
    ok(s.mark_read(a, f.c2.id, w.alice.id, 50).await, "mark read past the end");
    assert_eq!(unread(w.alice.id, f.c2.id).await, 0, "unread is never negative");
    ok(s.mark_read(a, f.c2.id, w.alice.id, 0).await, "mark read at 0");
    assert_eq!(unread(w.alice.id, f.c2.id).await, 0, "a lower marker is ignored");
    ok(s.mark_read(a, f.c3.id, w.carol.id, 1).await, "carol reads c3");
    assert_eq!(unread(w.carol.id, f.c3.id).await, 1);
    assert_eq!(unread(w.alice.id, f.c3.id).await, 2, "carol's marker is not alice's");

    not_found(s.mark_read(w.org_b.id, f.c1.id, w.alice.id, 3).await, "mark A's conversation read through B");
    not_found(s.mark_read(a, f.cb.id, w.alice.id, 1).await, "mark B's conversation read through A");
    not_found(s.mark_read(a, ConversationId::generate(c.clk(), c.ent()), w.alice.id, 1).await, "no conversation");
    let b_items = ok(s.inbox(w.org_b.id, w.alice.id, &InboxFilter::default()).await, "B's inbox");
    assert_eq!(b_items[0].unread, 1, "the refused marker was not stored");
}

async fn search(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let a = w.org_a.id;
    let find = |text: &str| {
        let filter = InboxFilter { text: Some(text.to_owned()), ..InboxFilter::default() };
        async move {
            match s.inbox(a, w.alice.id, &filter).await {
                Ok(items) => inbox_ids(&items),
                Err(e) => panic!("searching {:?}: expected success, got {e:?}", filter.text),
            }
        }
    };
    let (c1, c3) = (f.c1.id, f.c3.id);
    assert_eq!(find("parcel").await, [c1], "a word");
    assert_eq!(find("PARCEL").await, [c1], "case-insensitive");
    assert_eq!(find("parc").await, [c1], "the last word is a prefix; two matching messages list c1 once");
    assert_eq!(find("tracking parcel").await, [c1], "words in any order");
    assert_eq!(find("12345 number Tracking").await, [c1], "numbers are words");
    assert_eq!(find("tracking numb").await, [c1], "the last word is a prefix");
    assert!(find("track numb").await.is_empty(), "only the last word is a prefix");
    assert_eq!(find("  parcel  ").await, [c1], "surrounding spaces");
    assert_eq!(find("refund").await, [c3], "another conversation");
    assert_eq!(find("warehouse").await, [c1], "an agent's message");
    assert_eq!(find("invoice").await, [f.c2.id], "a long message; org B's invoice is not listed");
    assert!(find("warehouse invoice").await.is_empty(), "every word must match");
    assert!(find("parcel warehouse").await.is_empty(), "all words in one message");
    assert!(find("zebra").await.is_empty(), "no such word");
    // Syntax characters around words are separators, never syntax.
    for text in
        ["\"parcel", "parcel\"", "parcel*", "*parcel", "(parcel)", "parcel:", "+parcel", "parcel^", "%parcel%", "par%"]
    {
        assert_eq!(find(text).await, [c1], "{text:?} is the word (or prefix) parcel");
    }
    // Operator syntax of either database has no effect, and inputs without a word match nothing.
    for text in [
        "\"",
        "\"\"\"",
        "*",
        "OR",
        "AND",
        "NOT",
        "NEAR(",
        "NEAR(parcel tracking)",
        "parcel OR invoice",
        "parcel NOT tracking",
        "body:parcel",
        "'; DROP TABLE messages; --",
        "%",
        "_",
        "p_rcel",
        "",
        "   ",
        "\t\n",
        "-",
        "!",
        "&",
        "|",
        ":*",
        "\\",
        "'",
        "(",
        ")",
        "^",
        "<->",
    ] {
        assert!(find(text).await.is_empty(), "{text:?} matches nothing here");
    }
    // A hostile statement did not run: messages are still there.
    assert_eq!(ok(s.list_messages(c1, 0, 10).await, "messages").len(), 3, "messages survive the search");
    assert_eq!(find("parcel").await, [c1], "searching still works");

    // An edited row (a reaction) is still found exactly once.
    let answer = &f.c1_messages[1];
    ok(s.set_reaction(a, c1, answer.id, Some(Reaction::Up)).await, "react");
    assert_eq!(find("ship").await, [c1], "a message with a reaction is still found");
    assert_eq!(find("parcels ship").await, [c1]);
    assert_eq!(find("parcel").await, [c1]);

    // Search combines with the other filters.
    let with = |text: &str, status| InboxFilter { text: Some(text.to_owned()), status, ..InboxFilter::default() };
    assert!(ok(s.inbox(a, w.alice.id, &with("parcel", Some(Resolved))).await, "text+status").is_empty());
    assert_eq!(inbox_ids(&ok(s.inbox(a, w.alice.id, &with("refund", Some(Resolved))).await, "text+status")), [c3]);
    let carol_refunds = InboxFilter {
        text: Some("refund".to_owned()),
        assignee: AssigneeFilter::User(w.carol.id),
        oldest_first: true,
        ..InboxFilter::default()
    };
    assert_eq!(inbox_ids(&ok(s.inbox(a, w.alice.id, &carol_refunds).await, "text+assignee")), [c3]);
    let b_search = InboxFilter { text: Some("parcel".to_owned()), ..InboxFilter::default() };
    assert_eq!(inbox_ids(&ok(s.inbox(w.org_b.id, w.bob.id, &b_search).await, "B's search")), [f.cb.id]);
    let b_refund = InboxFilter { text: Some("refund".to_owned()), ..InboxFilter::default() };
    assert!(ok(s.inbox(w.org_b.id, w.bob.id, &b_refund).await, "B's search").is_empty(), "A's words are not B's");
}

async fn assignment(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let a = w.org_a.id;
    let at = c.tick();
    let assigned = ok(s.assign_conversation(a, f.c2.id, Some(w.carol.id), at).await, "assign");
    assert_eq!((assigned.assignee_id, assigned.updated_at), (Some(w.carol.id), at), "assignee and updated_at");
    assert_eq!(c.conversation_of(a, f.c2.id).await, assigned, "assign_conversation returns what it stored");
    let later = c.tick();
    not_found(s.assign_conversation(a, f.c2.id, Some(w.bob.id), later).await, "assign to a member of another org");
    not_found(
        s.assign_conversation(a, f.c2.id, Some(UserId::generate(c.clk(), c.ent())), later).await,
        "assign to no user",
    );
    not_found(s.assign_conversation(w.org_b.id, f.c2.id, Some(w.bob.id), later).await, "assign through another org");
    not_found(s.assign_conversation(w.org_b.id, f.c2.id, None, later).await, "unassign through another org");
    not_found(
        s.assign_conversation(a, ConversationId::generate(c.clk(), c.ent()), None, later).await,
        "assign no conversation",
    );
    assert_eq!(c.conversation_of(a, f.c2.id).await, assigned, "refused assignments change nothing");
    let at = c.tick();
    let unassigned = ok(s.assign_conversation(a, f.c2.id, None, at).await, "unassign");
    assert_eq!((unassigned.assignee_id, unassigned.updated_at), (None, at));
    assert_eq!(
        events_of(s, a, f.c2.id, "conversation.assigned").await,
        vec![
            DomainEvent::Assigned { conversation_id: f.c2.id, assignee_id: Some(w.carol.id) },
            DomainEvent::Assigned { conversation_id: f.c2.id, assignee_id: None },
        ],
        "one outbox event per assignment; refused ones write none"
    );
    assert_eq!(
        events_of(s, a, f.c1.id, "conversation.assigned").await,
        vec![DomainEvent::Assigned { conversation_id: f.c1.id, assignee_id: Some(w.alice.id) }]
    );
    assert!(events_of(s, w.org_b.id, f.c2.id, "conversation.assigned").await.is_empty(), "no event under org B");
    let unassigned_list = InboxFilter { assignee: AssigneeFilter::Unassigned, ..InboxFilter::default() };
    let listed = ok(s.inbox(a, w.alice.id, &unassigned_list).await, "unassigned");
    assert_eq!(inbox_ids(&listed)[0], f.c2.id, "the assignment made c2 the most recently updated");
}

async fn notes(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let a = w.org_a.id;
    let note = |org: OrgId, conversation: ConversationId, author: UserId, body: &str, mentions: Vec<UserId>| Note {
        id: NoteId::generate(c.clk(), c.ent()),
        org_id: org,
        conversation_id: conversation,
        author_id: author,
        body: body.to_owned(),
        html: format!("<p>{body}</p>"),
        mentions,
        created_at: c.tick(),
    };
    let n1 = note(a, f.c1.id, w.alice.id, "Ask @carol about the warehouse", vec![w.carol.id]);
    ok(s.create_note(&n1).await, "note");
    let n2 = note(a, f.c1.id, w.carol.id, "Done", vec![]);
    ok(s.create_note(&n2).await, "note without mentions");
    let n3 = note(a, f.c3.id, w.carol.id, "@alice @carol refund sent", vec![w.alice.id, w.carol.id]);
    ok(s.create_note(&n3).await, "note with two mentions");
    assert_eq!(ok(s.list_notes(a, f.c1.id).await, "notes of c1"), vec![n1.clone(), n2.clone()], "oldest first");
    assert_eq!(ok(s.list_notes(a, f.c3.id).await, "notes of c3"), vec![n3.clone()]);
    assert!(ok(s.list_notes(a, f.c4.id).await, "notes of c4").is_empty());
    not_found(s.list_notes(w.org_b.id, f.c1.id).await, "A's notes through B");
    not_found(s.list_notes(a, f.cb.id).await, "B's notes through A");
    not_found(s.list_notes(a, ConversationId::generate(c.clk(), c.ent())).await, "notes of no conversation");
    let forged = note(w.org_b.id, f.c1.id, w.bob.id, "forged", vec![]);
    not_found(s.create_note(&forged).await, "a note claiming B on A's conversation");
    let forged = note(a, f.cb.id, w.alice.id, "forged", vec![]);
    not_found(s.create_note(&forged).await, "a note claiming A on B's conversation");
    assert!(ok(s.list_notes(w.org_b.id, f.cb.id).await, "B's notes").is_empty(), "refused notes were not stored");
    let conversation = c.conversation_of(a, f.c1.id).await;
    assert_eq!(conversation.last_seq, 3, "notes take no place in the message sequence");
    assert_eq!(ok(s.list_messages(f.c1.id, 0, 10).await, "messages").len(), 3, "notes are not messages");
    let created = |n: &Note| DomainEvent::NoteCreated {
        conversation_id: n.conversation_id,
        note_id: n.id,
        author_id: n.author_id,
        mentions: n.mentions.clone(),
    };
    assert_eq!(events_of(s, a, f.c1.id, "note.created").await, vec![created(&n1), created(&n2)], "note events");
    assert_eq!(events_of(s, a, f.c3.id, "note.created").await, vec![created(&n3)]);
    assert!(events_of(s, w.org_b.id, f.cb.id, "note.created").await.is_empty(), "refused notes write no event");
    assert!(events_of(s, w.org_b.id, f.c1.id, "note.created").await.is_empty(), "note events carry the note's org");
}

async fn canned_responses(c: &Ctx, w: &World) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let response = |org: OrgId, shortcut: &str, title: &str| {
        let now = c.tick();
        CannedResponse {
            id: CannedResponseId::generate(c.clk(), c.ent()),
            org_id: org,
            shortcut: shortcut.to_owned(),
            title: title.to_owned(),
            body: format!("**{title}**: see our policy."),
            created_at: now,
            updated_at: now,
        }
    };
    let refund = response(a, "refund", "Refunds");
    let hello = response(a, "hello", "Greeting");
    let in_b = response(b, "refund", "Retouren");
    ok(s.put_canned_response(&refund).await, "put");
    ok(s.put_canned_response(&hello).await, "put");
    ok(s.put_canned_response(&in_b).await, "the same shortcut in another org");
    assert_eq!(
        ok(s.list_canned_responses(a).await, "list"),
        vec![hello.clone(), refund.clone()],
        "ordered by shortcut"
    );
    assert_eq!(ok(s.list_canned_responses(b).await, "list B"), vec![in_b.clone()]);
    let duplicate = response(a, "refund", "Another refund");
    conflict(s.put_canned_response(&duplicate).await, "a shortcut taken in the org");

    let mut edited = refund.clone();
    edited.title = "Refunds and returns".to_owned();
    edited.body = "Within 30 days.".to_owned();
    edited.updated_at = c.tick();
    ok(s.put_canned_response(&edited).await, "replace by id");
    let mut renamed = edited.clone();
    renamed.shortcut = "hello".to_owned();
    conflict(s.put_canned_response(&renamed).await, "rename onto another response's shortcut");
    renamed.shortcut = "returns".to_owned();
    renamed.updated_at = c.tick();
    ok(s.put_canned_response(&renamed).await, "rename");
    assert_eq!(ok(s.list_canned_responses(a).await, "after edits"), vec![hello.clone(), renamed.clone()]);
    let hijack = CannedResponse { org_id: b, shortcut: "stolen".to_owned(), ..hello.clone() };
    not_found(s.put_canned_response(&hijack).await, "replace A's response through B");
    assert_eq!(ok(s.list_canned_responses(a).await, "after hijack"), vec![hello.clone(), renamed.clone()]);
    assert_eq!(ok(s.list_canned_responses(b).await, "B after hijack"), vec![in_b.clone()]);
    // A freed shortcut can be taken again.
    let reuse = response(a, "refund", "Refund again");
    ok(s.put_canned_response(&reuse).await, "reuse a freed shortcut");

    not_found(s.delete_canned_response(b, hello.id).await, "delete A's response through B");
    ok(s.delete_canned_response(a, hello.id).await, "delete");
    not_found(s.delete_canned_response(a, hello.id).await, "delete twice");
    assert_eq!(ok(s.list_canned_responses(a).await, "after delete"), vec![reuse, renamed]);
    assert_eq!(ok(s.list_canned_responses(b).await, "B"), vec![in_b]);
    assert!(ok(s.list_canned_responses(OrgId::generate(c.clk(), c.ent())).await, "no org").is_empty());
}

async fn unanswered(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let question = |org: OrgId, site: SiteId, message: &Message, text: &str| UnansweredQuestion {
        id: UnansweredId::generate(c.clk(), c.ent()),
        org_id: org,
        site_id: site,
        conversation_id: message.conversation_id,
        message_id: message.id,
        question: text.to_owned(),
        created_at: c.tick(),
    };
    let q1 = question(a, w.site_a.id, &f.c1_messages[0], "Where is my parcel?");
    let q2 = question(a, w.site_a2.id, &f.c3_messages[0], "Refund for my shoes please");
    let q3 = question(a, w.site_a.id, &f.c2_messages[1], "Invoice question about VAT");
    let b_message = ok(s.list_messages(f.cb.id, 0, 1).await, "B's message").remove(0);
    let qb = question(b, w.site_b.id, &b_message, "Where is my parcel?");
    for q in [&q1, &q2, &q3, &qb] {
        ok(s.record_unanswered(q).await, "record unanswered");
    }
    let since = q1.created_at;
    let list = |site, since, limit| async move { ok(s.list_unanswered(a, site, since, limit).await, "unanswered") };
    assert_eq!(list(None, since, 0).await, vec![q3.clone(), q2.clone(), q1.clone()], "newest first");
    assert_eq!(list(Some(w.site_a.id), since, 0).await, vec![q3.clone(), q1.clone()], "site filter");
    assert_eq!(list(None, q2.created_at, 0).await, vec![q3.clone(), q2.clone()], "since is inclusive");
    assert!(list(None, q3.created_at.plus_millis(1), 0).await.is_empty(), "nothing since");
    assert_eq!(list(None, since, 1).await, vec![q3.clone()], "limit");
    assert!(list(Some(w.site_b.id), Timestamp(0), 0).await.is_empty(), "another org's site");
    assert_eq!(ok(s.list_unanswered(b, None, Timestamp(0), 0).await, "B"), vec![qb], "org B's only");
}

async fn conversation_and_reaction_stats(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    // Reactions: c1's answer is thumbs up (search chapter); more on c2, c3 and B's conversation.
    ok(s.set_reaction(a, f.c2.id, f.c2_messages[0].id, Some(Reaction::Down)).await, "react on c2");
    ok(s.set_reaction(a, f.c3.id, f.c3_messages[1].id, Some(Reaction::Up)).await, "react on c3");
    ok(s.set_reaction(a, f.c1.id, f.c1_messages[0].id, Some(Reaction::Down)).await, "react on c1's question");
    ok(s.set_reaction(a, f.c1.id, f.c1_messages[0].id, None).await, "and clear it");
    let (b_answer, _) = c.say(b, f.cb.id, AuthorKind::Assistant, None, "It is on its way", None).await;
    ok(s.set_reaction(b, f.cb.id, b_answer.id, Some(Reaction::Up)).await, "react on B's");

    // Conversations created in [c1, c4): c1, c2, c3.
    let mut expected = Vec::new();
    for (conversation, rating) in [(&f.c1, Some(5)), (&f.c2, Some(2)), (&f.c3, None)] {
        let now = c.conversation_of(a, conversation.id).await;
        let messages = ok(s.list_messages(now.id, 0, 100).await, "messages");
        let count = |kind| i64::try_from(messages.iter().filter(|m| m.author_kind == kind).count()).unwrap_or(-1);
        expected.push(ConversationStat {
            id: now.id,
            site_id: now.site_id,
            created_at: now.created_at,
            status: now.status,
            escalated_at: now.escalated_at,
            first_agent_reply_at: now.first_agent_reply_at,
            rating,
            assistant_messages: count(AuthorKind::Assistant),
            agent_messages: count(AuthorKind::Agent),
        });
    }
    assert_eq!(
        (expected[0].assistant_messages, expected[0].agent_messages, expected[2].agent_messages),
        (1, 1, 1),
        "the fixture has the messages the chapter assumes"
    );
    let sorted = |mut v: Vec<ConversationStat>| {
        v.sort_by_key(|x| (x.created_at, x.id));
        v
    };
    let stats =
        |org, site, from, to| async move { sorted(ok(s.conversation_stats(org, site, from, to).await, "stats")) };
    let (from, to) = (f.c1.created_at, f.c4.created_at);
    assert_eq!(stats(a, None, from, to).await, expected, "one row per conversation created in [from, to)");
    assert_eq!(stats(a, Some(w.site_a2.id), from, to).await, expected[2..].to_vec(), "site filter");
    assert_eq!(stats(a, Some(w.site_a.id), from, to).await, expected[..2].to_vec(), "site filter");
    assert!(stats(a, None, from, from).await.is_empty(), "an empty range");
    assert!(stats(a, Some(w.site_b.id), Timestamp(0), Timestamp(i64::MAX)).await.is_empty(), "another org's site");
    let everything = stats(a, None, Timestamp(0), Timestamp(i64::MAX)).await;
    assert_eq!(everything.len(), 6, "every conversation of A, and only A's");
    let b_stats = stats(b, None, Timestamp(0), Timestamp(i64::MAX)).await;
    assert_eq!(b_stats.len(), 1, "B's one conversation");
    assert_eq!((b_stats[0].id, b_stats[0].rating, b_stats[0].assistant_messages), (f.cb.id, Some(4), 1));

    // Reactions on messages created in [from, to).
    let sorted = |mut v: Vec<ReactionStat>| {
        v.sort_by_key(|r| (r.at, r.reaction.as_str()));
        v
    };
    let reactions =
        |org, site, from, to| async move { sorted(ok(s.reaction_stats(org, site, from, to).await, "reactions")) };
    let up1 = ReactionStat { at: f.c1_messages[1].created_at, reaction: Reaction::Up };
    let down2 = ReactionStat { at: f.c2_messages[0].created_at, reaction: Reaction::Down };
    let up3 = ReactionStat { at: f.c3_messages[1].created_at, reaction: Reaction::Up };
    let all = Timestamp(i64::MAX);
    assert_eq!(reactions(a, None, Timestamp(0), all).await, vec![up1, down2, up3], "reacted messages of A");
    assert_eq!(reactions(a, None, up1.at, up3.at).await, vec![up1, down2], "[from, to) on the message's time");
    assert_eq!(reactions(a, Some(w.site_a2.id), Timestamp(0), all).await, vec![up3], "site filter");
    assert!(reactions(a, Some(w.site_b.id), Timestamp(0), all).await.is_empty(), "another org's site");
    assert_eq!(
        reactions(b, None, Timestamp(0), all).await,
        vec![ReactionStat { at: b_answer.created_at, reaction: Reaction::Up }],
        "B's only"
    );
}

async fn pages_and_conversions(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let (site_a, site_a2, site_b) = (w.site_a.id, w.site_a2.id, w.site_b.id);
    let (pricing, home, about) =
        ("https://acme.example/pricing", "https://acme.example/", "https://acme.example/about");
    // Before the range.
    c.page_view(site_a, f.va1.id, Some(pricing), Some("Pricing")).await;
    // Every event is one second after the one before: the next one is exactly at `from`.
    let from = c.now().plus_seconds(1);
    c.page_view(site_a, f.va1.id, Some(pricing), Some("Pricing")).await;
    c.page_view(site_a, f.va1.id, Some(pricing), Some("Pricing v2")).await;
    c.page_view(site_a, f.va2.id, Some(pricing), None).await;
    c.page_view(site_a, f.va1.id, Some(home), None).await;
    c.page_view(site_a, f.va1.id, Some(home), None).await;
    c.page_view(site_a, f.va2.id, None, Some("No URL")).await;
    c.page_view(site_a2, f.va3.id, Some(about), Some("About")).await;
    c.page_view(site_b, f.vb.id, Some(pricing), Some("B's pricing")).await;
    c.conversion(site_a, f.va1.id, Some("signup")).await;
    c.conversion(site_a, f.va1.id, Some("signup")).await;
    c.conversion(site_a, f.va2.id, Some("signup")).await;
    c.conversion(site_a, f.va2.id, Some("purchase")).await;
    c.conversion(site_a, f.va2.id, None).await;
    c.conversion(site_a2, f.va3.id, Some("signup")).await;
    c.conversion(site_b, f.vb.id, Some("signup")).await;
    c.conversion(site_b, f.vb.id, Some("refund")).await;
    // The next event is exactly at `to`, outside the range.
    let to = c.now().plus_seconds(1);
    c.page_view(site_a, f.va1.id, Some(about), Some("Zzz")).await;
    c.conversion(site_a, f.va1.id, Some("purchase")).await;

    let page = |url: &str, title: Option<&str>, views, visitors| PageCount {
        url: url.to_owned(),
        title: title.map(str::to_owned),
        views,
        visitors,
    };
    let pages = |org, site, limit| async move { ok(s.top_pages(org, site, from, to, limit).await, "top pages") };
    assert_eq!(
        pages(a, None, 0).await,
        vec![page(pricing, Some("Pricing v2"), 3, 2), page(home, None, 2, 1), page(about, Some("About"), 1, 1)],
        "page views in [from, to) by URL, most viewed first; title is the largest; no-URL views left out"
    );
    assert_eq!(pages(a, None, 1).await, vec![page(pricing, Some("Pricing v2"), 3, 2)], "limit");
    assert_eq!(pages(a, Some(site_a2), 0).await, vec![page(about, Some("About"), 1, 1)], "site filter");
    assert!(pages(a, Some(site_b), 0).await.is_empty(), "another org's site");
    assert_eq!(pages(b, None, 0).await, vec![page(pricing, Some("B's pricing"), 1, 1)], "B's only");
    let all_time = ok(s.top_pages(a, None, Timestamp(0), Timestamp(i64::MAX), 0).await, "all time");
    let views: i64 = all_time.iter().map(|p| p.views).sum();
    assert_eq!(views, 8, "every page view of A with a URL, the ones outside the range included");

    let count = |name: &str, count, visitors| ConversionCount { name: name.to_owned(), count, visitors };
    let conversions = |org, site| async move { ok(s.conversion_counts(org, site, from, to).await, "conversions") };
    assert_eq!(
        conversions(a, None).await,
        vec![count("signup", 4, 3), count("purchase", 1, 1)],
        "by name, most frequent first, unnamed ones left out"
    );
    assert_eq!(conversions(a, Some(site_a)).await, vec![count("signup", 3, 2), count("purchase", 1, 1)]);
    assert_eq!(conversions(a, Some(site_a2)).await, vec![count("signup", 1, 1)]);
    assert!(conversions(a, Some(site_b)).await.is_empty(), "another org's site");
    let mut b_counts = conversions(b, None).await;
    b_counts.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(b_counts, vec![count("refund", 1, 1), count("signup", 1, 1)], "B's only");
}

async fn audit_filters(c: &Ctx, w: &World) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let (alice, carol) = (Some(w.alice.id), Some(w.carol.id));
    let mut events = Vec::new();
    for (actor, action) in [
        (None, "site.create"),
        (alice, "site.update"),
        (carol, "team_member.invite"),
        (alice, "teamxmember.invite"),
        (alice, "pct%.done"),
        (carol, "pctab.done"),
        (alice, "site"),
        (alice, "sites.delete"),
        (carol, "conversation.resolve"),
        (alice, "site.create"),
    ] {
        events.push(c.audit(a, actor, action).await);
    }
    let in_b = c.audit(b, Some(w.bob.id), "site.create").await;
    let list = |filter: AuditFilter| async move { ok(s.list_audit(a, &filter).await, "audit") };
    let expect = |pred: &dyn Fn(&AuditEvent) -> bool| {
        events.iter().rev().filter(|r| pred(&r.event)).cloned().collect::<Vec<_>>()
    };
    let action = |text: &str| AuditFilter { action: Some(text.to_owned()), ..AuditFilter::default() };

    assert_eq!(list(AuditFilter::default()).await, expect(&|_| true), "newest first, A's only");
    let by_alice = AuditFilter { actor_id: alice, ..AuditFilter::default() };
    assert_eq!(list(by_alice).await, expect(&|e| e.actor_id == alice), "actor filter");
    assert_eq!(list(action("site.create")).await, expect(&|e| e.action == "site.create"), "exact action");
    assert_eq!(list(action("site.update")).await, expect(&|e| e.action == "site.update"), "exact action");
    assert_eq!(
        list(action("site.")).await,
        expect(&|e| e.action.starts_with("site.")),
        "a prefix ending in '.': not `site`, not `sites.delete`"
    );
    assert_eq!(list(action("site.")).await.len(), 3);
    assert_eq!(
        list(action("team_member.")).await,
        expect(&|e| e.action == "team_member.invite"),
        "`_` in a prefix matches only itself"
    );
    assert_eq!(
        list(action("pct%.")).await,
        expect(&|e| e.action == "pct%.done"),
        "`%` in a prefix matches only itself"
    );
    for text in ["%", "_", "%.", "_.", "site%", "site_create", "%site.create", "site.c", "SITE.CREATE", ""] {
        assert!(list(action(text)).await.is_empty(), "{text:?} matches no action");
    }
    let (t2, t5) = (events[1].event.created_at, events[4].event.created_at);
    let range = AuditFilter { from: Some(t2), to: Some(t5), ..AuditFilter::default() };
    assert_eq!(list(range).await, expect(&|e| e.created_at >= t2 && e.created_at < t5), "[from, to)");
    assert_eq!(list(AuditFilter { from: Some(t2), to: Some(t5), ..AuditFilter::default() }).await.len(), 3);
    let since = AuditFilter { from: Some(t5), ..AuditFilter::default() };
    assert_eq!(list(since).await, expect(&|e| e.created_at >= t5), "from only");
    let until = AuditFilter { to: Some(t2), ..AuditFilter::default() };
    assert_eq!(list(until).await, expect(&|e| e.created_at < t2), "to only");
    let combined =
        AuditFilter { actor_id: alice, action: Some("site.".to_owned()), from: Some(t2), to: None, limit: 0 };
    assert_eq!(
        list(combined.clone()).await,
        expect(&|e| e.actor_id == alice && e.action.starts_with("site.") && e.created_at >= t2),
        "filters combine with AND"
    );
    assert_eq!(list(AuditFilter { limit: 1, ..combined }).await, expect(&|e| e.action == "site.create")[..1], "limit");
    assert_eq!(list(AuditFilter { limit: 3, ..AuditFilter::default() }).await, expect(&|_| true)[..3], "limit");
    assert_eq!(ok(s.list_audit(b, &action("site.")).await, "B"), vec![in_b], "B's only");
    let b_by_alice = AuditFilter { actor_id: alice, ..AuditFilter::default() };
    assert!(ok(s.list_audit(b, &b_by_alice).await, "B by alice").is_empty(), "A's events are not B's");
}

// --- The audit log's hash chain: numbered and linked per organization, even under concurrent
// appends; read back in order; another organization's chain is not this one's.

async fn audit_chain(c: &Ctx) {
    let s = c.s();
    let a = c.org("Chain A", Plan::Pro, 0).await;
    let b = c.org("Chain B", Plan::Pro, 0).await;
    assert_eq!(ok(s.audit_head(a.id).await, "head before any event"), None);
    assert!(ok(s.audit_chain(a.id, 0, 0).await, "empty chain").is_empty());

    let first = c.audit(a.id, None, "chain.first").await;
    assert_eq!((first.seq, first.prev_hash.as_str()), (1, GENESIS_HASH), "the first event links to nothing");
    assert_eq!(first.hash, audit::chain_hash(&first.event, 1, GENESIS_HASH), "hash of the canonical form");
    let in_b = c.audit(b.id, None, "chain.other").await;
    assert_eq!(in_b.seq, 1, "each organization has its own chain");
    let second = c.audit(a.id, None, "chain.second").await;
    assert_eq!((second.seq, &second.prev_hash), (2, &first.hash), "linked to the previous event");
    assert_eq!(ok(s.audit_head(a.id).await, "head"), Some(AuditHead { last_seq: 2, last_hash: second.hash.clone() }));

    // Concurrent appends to one organization: 16 writers on a multi-threaded runtime.
    let mut writers = Vec::new();
    for w in 0..16 {
        let store = c.store.clone();
        let events: Vec<AuditEvent> = (0..12)
            .map(|i| AuditEvent {
                id: AuditEventId::generate(c.clk(), c.ent()),
                org_id: a.id,
                actor_id: None,
                action: "chain.concurrent".to_owned(),
                target_kind: "test".to_owned(),
                target_id: format!("{w}-{i}"),
                ip: Some("192.0.2.1".to_owned()),
                user_agent: Some("conformance".to_owned()),
                details: json!({ "writer": w, "i": i, "nested": { "z": 1, "a": [true, null, 1.5] } }),
                created_at: c.tick(),
            })
            .collect();
        writers.push(tokio::spawn(async move {
            let mut sealed = Vec::new();
            for e in &events {
                sealed.push(store.append_audit(e).await?);
            }
            Ok::<_, StoreError>(sealed)
        }));
    }
    let mut appended = vec![first.clone(), second.clone()];
    for writer in writers {
        appended.extend(ok(writer.await.expect("writer panicked"), "concurrent append"));
    }
    appended.sort_by_key(|r| r.seq);
    let total = 2 + 16 * 12;
    assert_eq!(
        appended.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<i64>>(),
        "no gap, no fork"
    );

    let chain = ok(s.audit_chain(a.id, 0, 0).await, "chain");
    assert_eq!(chain, appended, "read back exactly as sealed, in order");
    let head = ok(s.audit_head(a.id).await, "head");
    let verdict = audit::verify_chain(a.id, &chain, head.as_ref());
    assert_eq!((verdict.ok, verdict.checked), (true, total as u64), "{:?}", verdict.first_broken);

    // Pages: after a seq, at most a limit.
    let page = ok(s.audit_chain(a.id, 5, 3).await, "page");
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6, 7, 8]);
    assert!(ok(s.audit_chain(a.id, total, 10).await, "past the end").is_empty());

    // Another organization's chain holds only its own events; an unknown organization has none.
    assert_eq!(ok(s.audit_chain(b.id, 0, 0).await, "B's chain"), vec![in_b.clone()]);
    assert_eq!(ok(s.audit_head(b.id).await, "B's head").map(|h| h.last_seq), Some(1));
    let nobody = OrgId::generate(c.clk(), c.ent());
    assert!(ok(s.audit_chain(nobody, 0, 0).await, "unknown org").is_empty());
    assert_eq!(ok(s.audit_head(nobody).await, "unknown org's head"), None);
    assert!(!audit::verify_chain(b.id, &chain, head.as_ref()).ok, "A's events do not verify as B's");

    // An id appended twice is refused and leaves the chain as it was.
    assert!(s.append_audit(&first.event).await.is_err(), "an event is appended once");
    assert_eq!(ok(s.audit_head(a.id).await, "head after a refused append"), head);
}

// --- Default and maximum page sizes, in an organization of their own.

async fn limits(c: &Ctx) {
    let s = c.s();
    let org = c.org("Bulk", Plan::Pro, 0).await;
    let viewer = c.user("Bulky").await;
    c.member(org.id, viewer.id, Role::Owner).await;
    let site = c.site(org.id, "Bulk shop").await;
    let visitor = c.visitor(site.id, None, None).await;

    // The inbox: 0 means 50, at most 200.
    let mut conversations = Vec::new();
    for _ in 0..201 {
        c.clock.advance_millis(1);
        conversations.push(c.conversation_now(&site, visitor.id).await);
    }
    let all: Vec<&Conversation> = conversations.iter().collect();
    let inbox = |limit, oldest_first| InboxFilter { limit, oldest_first, ..InboxFilter::default() };
    let listed = ok(s.inbox(org.id, viewer.id, &inbox(0, false)).await, "inbox, no limit");
    assert_eq!(inbox_ids(&listed), newest_first(&all)[..50], "limit 0 means 50");
    let listed = ok(s.inbox(org.id, viewer.id, &inbox(10_000, false)).await, "inbox, a huge limit");
    assert_eq!(inbox_ids(&listed), newest_first(&all)[..200], "at most 200");
    let listed = ok(s.inbox(org.id, viewer.id, &inbox(7, true)).await, "inbox, oldest first");
    assert_eq!(inbox_ids(&listed), longest_waiting_first(&all)[..7]);

    // The gap report: 0 means 500, at most 2,000.
    let first = conversations[0].id;
    let message = c.say(org.id, first, AuthorKind::Visitor, None, "a question", None).await.0;
    let since = c.now();
    let mut writers = Vec::new();
    for chunk in 0..8 {
        let store = c.store.clone();
        let questions: Vec<UnansweredQuestion> = (0..251)
            .map(|i| UnansweredQuestion {
                id: UnansweredId::generate(c.clk(), c.ent()),
                org_id: org.id,
                site_id: site.id,
                conversation_id: first,
                message_id: message.id,
                question: format!("question {chunk}-{i}"),
                created_at: since.plus_millis(chunk * 251 + i),
            })
            .collect();
        writers.push(tokio::spawn(async move {
            for q in &questions {
                store.record_unanswered(q).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for writer in writers {
        ok(writer.await.expect("writer panicked"), "record unanswered");
    }
    let newest = since.plus_millis(8 * 251 - 1);
    let page = ok(s.list_unanswered(org.id, None, since, 0).await, "unanswered, no limit");
    assert_eq!(page.len(), 500, "limit 0 means 500");
    assert_eq!(page[0].created_at, newest, "newest first");
    assert!(page.windows(2).all(|p| p[0].created_at > p[1].created_at), "newest first");
    let page = ok(s.list_unanswered(org.id, None, since, 100_000).await, "unanswered, a huge limit");
    assert_eq!(page.len(), 2000, "at most 2,000");

    // Top pages: 0 means 20, at most 100.
    let from = c.tick();
    for i in 0..101 {
        let url = format!("https://bulk.example/{i:03}");
        // Page 000 is viewed twice, so it must come first.
        for _ in 0..(if i == 0 { 2 } else { 1 }) {
            c.page_view(site.id, visitor.id, Some(&url), None).await;
        }
    }
    let to = c.tick();
    let pages = ok(s.top_pages(org.id, None, from, to, 0).await, "top pages, no limit");
    assert_eq!(pages.len(), 20, "limit 0 means 20");
    assert_eq!((pages[0].url.as_str(), pages[0].views), ("https://bulk.example/000", 2), "most viewed first");
    let pages = ok(s.top_pages(org.id, None, from, to, 1000).await, "top pages, a huge limit");
    assert_eq!(pages.len(), 100, "at most 100");
    let distinct: BTreeSet<&str> = pages.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(distinct.len(), 100, "one row per URL");

    // The audit log: 0 means 100, at most 10,000 (exports read that many).
    let start = c.tick();
    let mut writers = Vec::new();
    for chunk in 0..8i64 {
        let store = c.store.clone();
        let events: Vec<AuditEvent> = (0..1251i64)
            .map(|i| AuditEvent {
                id: AuditEventId::generate(c.clk(), c.ent()),
                org_id: org.id,
                actor_id: None,
                action: "bulk.write".to_owned(),
                target_kind: "test".to_owned(),
                target_id: format!("{chunk}-{i}"),
                ip: None,
                user_agent: None,
                details: json!({}),
                created_at: start.plus_millis(chunk * 1251 + i),
            })
            .collect();
        writers.push(tokio::spawn(async move {
            for e in &events {
                store.append_audit(e).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for writer in writers {
        ok(writer.await.expect("writer panicked"), "append audit");
    }
    let page = ok(s.list_audit(org.id, &AuditFilter::default()).await, "audit, no limit");
    assert_eq!(page.len(), 100, "limit 0 means 100");
    assert_eq!(page[0].event.created_at, start.plus_millis(8 * 1251 - 1), "newest first");
    let page = ok(s.list_audit(org.id, &AuditFilter { limit: u32::MAX, ..AuditFilter::default() }).await, "audit, all");
    assert_eq!(page.len(), 10_000, "at most 10,000");
    assert!(page.windows(2).all(|p| p[0].event.created_at > p[1].event.created_at), "newest first");
    // The chain read in order: 0 means 1,000, at most 10,000; eight writers at once left no gap
    // and no fork.
    assert_eq!(ok(s.audit_chain(org.id, 0, 0).await, "chain, no limit").len(), 1000, "limit 0 means 1,000");
    let first = ok(s.audit_chain(org.id, 0, u32::MAX).await, "chain, all");
    assert_eq!(first.len(), 10_000, "at most 10,000");
    let rest = ok(s.audit_chain(org.id, 10_000, u32::MAX).await, "chain, the rest");
    let chain: Vec<AuditRecord> = first.into_iter().chain(rest).collect();
    assert_eq!(chain.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=8 * 1251).collect::<Vec<i64>>());
    let head = ok(s.audit_head(org.id).await, "head");
    let verdict = audit::verify_chain(org.id, &chain, head.as_ref());
    assert_eq!(verdict.first_broken, None, "concurrent appends keep one chain");
    assert_eq!(verdict.checked, 8 * 1251);
}

/// Bot scenarios: drafts, published versions that never change, one start scenario per site, and
/// the conversations' runs written by compare-and-set, with their timers.
async fn scenarios_and_runs(c: &Ctx, w: &World, f: &Fixture) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let new_scenario = |org: OrgId, site: SiteId, name: &str, draft: serde_json::Value| Scenario {
        id: ScenarioId::generate(c.clk(), c.ent()),
        org_id: org,
        site_id: site,
        name: name.to_owned(),
        draft,
        published_version: None,
        published_at: None,
        starts_conversations: false,
        created_at: c.now(),
        updated_at: c.now(),
    };
    let orders = new_scenario(a, w.site_a.id, "Orders", json!({"schema": 1, "start": "a"}));
    ok(s.create_scenario(&orders).await, "create scenario");
    let greeter = new_scenario(a, w.site_a.id, "Greeter", json!({"schema": 1, "start": "g"}));
    ok(s.create_scenario(&greeter).await, "create a second scenario");
    let other_site = new_scenario(a, w.site_a2.id, "Elsewhere", json!({}));
    ok(s.create_scenario(&other_site).await, "create on another site");
    // A site of another organization is not found: nothing is created.
    let foreign = new_scenario(a, w.site_b.id, "Foreign", json!({}));
    not_found(s.create_scenario(&foreign).await, "create on another organization's site");
    not_found(s.get_scenario(a, foreign.id).await, "the refused scenario");

    assert_eq!(ok(s.get_scenario(a, orders.id).await, "get scenario"), orders);
    not_found(s.get_scenario(b, orders.id).await, "get with another organization");
    let listed = ok(s.list_scenarios(a, w.site_a.id).await, "list scenarios");
    let names: Vec<&str> = listed.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["Greeter", "Orders"], "by name, only the site's");
    assert!(ok(s.list_scenarios(b, w.site_a.id).await, "list with another org").is_empty());

    // Drafts are saved; another organization's update changes nothing.
    let mut edited = orders.clone();
    edited.name = "Order status".to_owned();
    edited.draft = json!({"schema": 1, "start": "b", "nodes": [{"id": "b"}]});
    edited.updated_at = c.tick();
    ok(s.update_scenario(&edited).await, "update scenario");
    assert_eq!(ok(s.get_scenario(a, orders.id).await, "after update"), edited);
    let mut hijack = edited.clone();
    hijack.org_id = b;
    hijack.name = "hijacked".to_owned();
    not_found(s.update_scenario(&hijack).await, "update with another organization");

    // Publishing numbers versions and keeps each one as it was.
    let v1_doc = json!({"schema": 1, "start": "v1"});
    let at1 = c.tick();
    let published = ok(s.publish_scenario(a, orders.id, &v1_doc, at1).await, "publish v1");
    assert_eq!((published.published_version, published.published_at), (Some(1), Some(at1)));
    assert_eq!(published.draft, edited.draft, "publishing leaves the draft alone");
    let v2_doc = json!({"schema": 1, "start": "v2"});
    let at2 = c.tick();
    let published = ok(s.publish_scenario(a, orders.id, &v2_doc, at2).await, "publish v2");
    assert_eq!(published.published_version, Some(2));
    assert_eq!(ok(s.get_scenario(a, orders.id).await, "after publish"), published);
    let v1 = ok(s.get_scenario_version(a, orders.id, 1).await, "version 1");
    assert_eq!((v1.version, &v1.document, v1.published_at), (1, &v1_doc, at1));
    assert_eq!(ok(s.get_scenario_version(a, orders.id, 2).await, "version 2").document, v2_doc);
    not_found(s.get_scenario_version(a, orders.id, 3).await, "a version not published");
    not_found(s.get_scenario_version(b, orders.id, 1).await, "a version with another organization");
    not_found(s.publish_scenario(b, orders.id, &v1_doc, c.tick()).await, "publish with another organization");

    // Only published scenarios, each with its latest version.
    let live = ok(s.published_scenarios(a, w.site_a.id).await, "published scenarios");
    assert_eq!(live.len(), 1, "the greeter is not published");
    assert_eq!((live[0].0.id, live[0].1.version, &live[0].1.document), (orders.id, 2, &v2_doc));
    assert!(ok(s.published_scenarios(b, w.site_a.id).await, "published, another org").is_empty());

    // One start scenario per site.
    ok(s.set_start_scenario(a, w.site_a.id, Some(orders.id)).await, "start scenario");
    ok(s.set_start_scenario(a, w.site_a.id, Some(greeter.id)).await, "another start scenario");
    let starts: Vec<(String, bool)> = ok(s.list_scenarios(a, w.site_a.id).await, "list")
        .into_iter()
        .map(|x| (x.name, x.starts_conversations))
        .collect();
    assert_eq!(starts, [("Greeter".to_owned(), true), ("Order status".to_owned(), false)]);
    not_found(s.set_start_scenario(a, w.site_a.id, Some(other_site.id)).await, "another site's scenario");
    not_found(s.set_start_scenario(b, w.site_a.id, Some(orders.id)).await, "with another organization");
    assert!(ok(s.get_scenario(a, greeter.id).await, "unchanged by refusals").starts_conversations);
    ok(s.set_start_scenario(a, w.site_a.id, None).await, "no start scenario");
    assert!(!ok(s.get_scenario(a, greeter.id).await, "cleared").starts_conversations);

    // A conversation's run: compare-and-set on the revision.
    let conv = f.c2.id;
    let state = |run: serde_json::Value, due: Option<Timestamp>| FlowState {
        conversation_id: conv,
        org_id: a,
        scenario_id: orders.id,
        version: 2,
        run,
        due_at: due,
        revision: 0,
        updated_at: c.now(),
    };
    assert_eq!(ok(s.get_flow_state(a, conv).await, "no run yet"), None);
    let due = Timestamp(c.now().0 + 60_000);
    let first = state(json!({"node": "ask"}), Some(due));
    assert!(ok(s.put_flow_state(a, conv, Some(&first), None).await, "first write"));
    assert!(!ok(s.put_flow_state(a, conv, Some(&first), None).await, "a second 'new' run loses"));
    let stored = ok(s.get_flow_state(a, conv).await, "read run").expect("a run");
    assert_eq!((stored.revision, &stored.run, stored.due_at), (1, &first.run, Some(due)));
    assert_eq!(ok(s.get_flow_state(b, conv).await, "run with another organization"), None);
    let second = state(json!({"node": "next"}), None);
    assert!(!ok(s.put_flow_state(a, conv, Some(&second), Some(0)).await, "a stale revision loses"));
    assert!(ok(s.put_flow_state(a, conv, Some(&second), Some(1)).await, "the current revision wins"));
    assert!(!ok(s.put_flow_state(b, conv, None, Some(2)).await, "another organization deletes nothing"));
    let stored = ok(s.get_flow_state(a, conv).await, "read again").expect("a run");
    assert_eq!((stored.revision, stored.due_at), (2, None));
    not_found(s.put_flow_state(b, f.c2.id, Some(&first), None).await, "a run on another organization's conversation");

    // Timers: the due runs, earliest first.
    let later = Timestamp(c.now().0 + 120_000);
    let other = FlowState { conversation_id: f.c4.id, ..state(json!({"n": 4}), Some(later)) };
    assert!(ok(s.put_flow_state(a, f.c4.id, Some(&other), None).await, "a second run"));
    let third = FlowState { conversation_id: f.c5.id, ..state(json!({"n": 5}), Some(due)) };
    assert!(ok(s.put_flow_state(a, f.c5.id, Some(&third), None).await, "a third run"));
    let mine = |list: Vec<FlowState>| -> Vec<ConversationId> {
        list.into_iter().filter(|x| x.org_id == a).map(|x| x.conversation_id).collect()
    };
    assert!(mine(ok(s.due_flow_states(c.now(), 100).await, "nothing due yet")).is_empty());
    assert_eq!(mine(ok(s.due_flow_states(Timestamp(due.0), 100).await, "due")), [f.c5.id]);
    assert_eq!(mine(ok(s.due_flow_states(Timestamp(later.0 + 1), 100).await, "both due")), [f.c5.id, f.c4.id]);

    // Deleting a scenario removes its versions and runs; the other scenario stays.
    not_found(s.delete_scenario(b, orders.id).await, "delete with another organization");
    ok(s.delete_scenario(a, orders.id).await, "delete scenario");
    not_found(s.get_scenario(a, orders.id).await, "deleted");
    not_found(s.get_scenario_version(a, orders.id, 1).await, "its versions");
    assert_eq!(ok(s.get_flow_state(a, conv).await, "its runs"), None);
    assert!(ok(s.put_flow_state(a, conv, None, None).await, "deleting nothing is fine"));
    assert_eq!(ok(s.list_scenarios(a, w.site_a.id).await, "the rest").len(), 1);
    ok(s.delete_scenario(a, greeter.id).await, "delete the greeter");
    ok(s.delete_scenario(a, other_site.id).await, "delete the other site's");
}

/// Rate limits shared by nodes: the GCRA step is atomic (concurrent hits allow exactly the
/// limit), refusals are not counted, `peek` counts nothing, and pruning forgets idle keys.
async fn shared_rate_limits(c: &Ctx) {
    let s = c.s();
    let key = format!("test:{}", c.tag);
    let other = format!("test-other:{}", c.tag);
    let now = c.now();
    // 3 per minute: each event costs 20 s, the arrival time may run 60 s ahead.
    let (interval, tolerance) = (20_000, 60_000);
    let hit = |k: String, at: Timestamp, count: bool| {
        let store = c.store.clone();
        async move { store.rate_limit_hit(&k, at, interval, tolerance, count).await }
    };
    // Eight at once (as from several nodes): exactly three get through.
    let racers: Vec<_> = (0..8).map(|_| tokio::spawn(hit(key.clone(), now, true))).collect();
    let mut allowed = 0;
    for r in racers {
        if ok(r.await.expect("task"), "racing hit").is_none() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3, "exactly the limit passes concurrent hits");
    let refused = ok(hit(key.clone(), now, true).await, "over the limit");
    assert_eq!(refused, Some(20_000), "the next event is 20 s away");
    assert_eq!(ok(hit(key.clone(), now, false).await, "peek"), Some(20_000));
    assert_eq!(ok(hit(other.clone(), now, true).await, "another key"), None);
    // 20 s later one more is allowed, and only one.
    let later = Timestamp(now.0 + 20_000);
    assert_eq!(ok(hit(key.clone(), later, false).await, "peek later"), None);
    assert_eq!(ok(hit(key.clone(), later, true).await, "one more later"), None);
    assert!(ok(hit(key.clone(), later, true).await, "and no more").is_some());
    // Pruning forgets keys whose arrival time has passed.
    let much_later = Timestamp(now.0 + 10 * 60_000);
    assert!(ok(s.prune_rate_limits(much_later).await, "prune") >= 2);
    for _ in 0..3 {
        assert_eq!(ok(hit(key.clone(), much_later, true).await, "a fresh start"), None);
    }
}

// --- Outgoing webhooks.

pub(crate) fn endpoint_value(c: &Ctx, org: OrgId, url: &str) -> WebhookEndpoint {
    let now = c.tick();
    WebhookEndpoint {
        id: WebhookEndpointId::generate(c.clk(), c.ent()),
        org_id: org,
        url: url.to_owned(),
        description: format!("hooks {}", c.tag),
        event_types: vec![WebhookEventType::ConversationCreated, WebhookEventType::MessageCreated],
        secret: format!("whsec_{}", keys::random_base62(c.ent(), 32)),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn delivery_value(
    c: &Ctx,
    org: OrgId,
    endpoint: WebhookEndpointId,
    event: Option<i64>,
    due: Timestamp,
) -> WebhookDelivery {
    let now = c.tick();
    WebhookDelivery {
        id: WebhookDeliveryId::generate(c.clk(), c.ent()),
        org_id: org,
        endpoint_id: endpoint,
        event_id: event,
        event_type: "message.created".to_owned(),
        payload: format!(r#"{{"type":"message.created","n":"{}"}}"#, c.tag),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(due),
        first_attempt_at: None,
        last_attempt_at: None,
        last_status_code: None,
        last_error: None,
        last_response: None,
        created_at: now,
        updated_at: now,
    }
}

/// Endpoints round-trip and are scoped to their organization; a delivery per (endpoint, outbox
/// event) is enqueued once whoever inserts it; claims lease due deliveries to one caller until
/// the lease ends; deleting an endpoint deletes its deliveries.
async fn webhooks(c: &Ctx, w: &World) {
    let s = c.s();
    let mut e1 = endpoint_value(c, w.org_a.id, "https://hooks.example.com/a");
    let e2 = endpoint_value(c, w.org_a.id, "https://hooks.example.com/b");
    let eb = endpoint_value(c, w.org_b.id, "https://globex.example.com/hook");
    for e in [&e1, &e2, &eb] {
        ok(s.create_webhook_endpoint(e).await, "create endpoint");
    }
    assert_eq!(ok(s.get_webhook_endpoint(w.org_a.id, e1.id).await, "read endpoint"), e1);
    not_found(s.get_webhook_endpoint(w.org_b.id, e1.id).await, "another org's endpoint");
    assert_eq!(ok(s.list_webhook_endpoints(w.org_a.id).await, "list A"), vec![e1.clone(), e2.clone()], "oldest first");
    assert_eq!(ok(s.list_webhook_endpoints(w.org_b.id).await, "list B"), vec![eb.clone()]);

    // Rotation and disabling round-trip; another org cannot write it.
    e1.previous_secret = Some(e1.secret.clone());
    e1.previous_secret_expires_at = Some(c.now().plus_seconds(DAY_SECONDS));
    e1.secret = format!("whsec_{}", keys::random_base62(c.ent(), 32));
    e1.event_types = vec![WebhookEventType::ConversationReopened, WebhookEventType::VisitorIdentified];
    e1.enabled = false;
    e1.disabled_reason = Some("the receiver answered 410 Gone".to_owned());
    e1.updated_at = c.tick();
    ok(s.update_webhook_endpoint(&e1).await, "update endpoint");
    assert_eq!(ok(s.get_webhook_endpoint(w.org_a.id, e1.id).await, "updated endpoint"), e1);
    let hijack = WebhookEndpoint { org_id: w.org_b.id, url: "https://evil.example.com".to_owned(), ..e1.clone() };
    not_found(s.update_webhook_endpoint(&hijack).await, "update through another org");
    assert_eq!(ok(s.get_webhook_endpoint(w.org_a.id, e1.id).await, "unchanged").url, e1.url);

    // Enqueueing: the same (endpoint, event) once, whoever inserts it; test events (no event id)
    // always; never into another organization's endpoint.
    let t = c.now();
    let d1 = delivery_value(c, w.org_a.id, e1.id, Some(7), t.plus_millis(-1));
    let d1_again = delivery_value(c, w.org_a.id, e1.id, Some(7), t.plus_millis(-1));
    let d2 = delivery_value(c, w.org_a.id, e2.id, Some(7), t.plus_millis(100));
    let test1 = delivery_value(c, w.org_a.id, e1.id, None, t.plus_millis(-2));
    let test2 = delivery_value(c, w.org_a.id, e1.id, None, t.plus_millis(5000));
    let smuggled = delivery_value(c, w.org_b.id, e1.id, Some(8), t);
    assert_eq!(ok(s.create_webhook_deliveries(&[d1.clone(), d2.clone()]).await, "enqueue"), 2);
    assert_eq!(
        ok(
            s.create_webhook_deliveries(&[d1_again.clone(), test1.clone(), test2.clone(), smuggled.clone()]).await,
            "again"
        ),
        2,
        "the duplicate and the other org's are skipped"
    );
    not_found(s.get_webhook_delivery(w.org_a.id, d1_again.id).await, "the duplicate");
    not_found(s.get_webhook_delivery(w.org_b.id, smuggled.id).await, "the smuggled one");
    assert_eq!(ok(s.get_webhook_delivery(w.org_a.id, d1.id).await, "read delivery"), d1);
    not_found(s.get_webhook_delivery(w.org_b.id, d1.id).await, "another org's delivery");

    // The log: newest first, filtered, paged; another org sees nothing.
    let ids = |list: Vec<WebhookDelivery>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let all = ok(s.list_webhook_deliveries(w.org_a.id, &DeliveryFilter::default()).await, "log");
    assert_eq!(ids(all), vec![test2.id, test1.id, d2.id, d1.id]);
    let of_e1 = DeliveryFilter { endpoint_id: Some(e1.id), limit: 2, ..Default::default() };
    assert_eq!(ids(ok(s.list_webhook_deliveries(w.org_a.id, &of_e1).await, "page 1")), vec![test2.id, test1.id]);
    let next = DeliveryFilter { before: Some(test1.id), ..of_e1.clone() };
    assert_eq!(ids(ok(s.list_webhook_deliveries(w.org_a.id, &next).await, "page 2")), vec![d1.id]);
    assert!(ok(s.list_webhook_deliveries(w.org_b.id, &of_e1).await, "B through A's endpoint").is_empty());
    let succeeded = DeliveryFilter { status: Some(DeliveryStatus::Succeeded), ..Default::default() };
    assert!(ok(s.list_webhook_deliveries(w.org_a.id, &succeeded).await, "none succeeded yet").is_empty());

    // Claims: due and unleased only, earliest due first; a lease keeps others off until it ends.
    let mine = |list: Vec<WebhookDelivery>| {
        list.into_iter().filter(|d| d.org_id == w.org_a.id).map(|d| d.id).collect::<Vec<_>>()
    };
    let lease = t.plus_seconds(30);
    assert_eq!(mine(ok(s.claim_webhook_deliveries(t, lease, 500).await, "claim")), vec![test1.id, d1.id]);
    assert!(mine(ok(s.claim_webhook_deliveries(t, lease, 500).await, "claim again")).is_empty(), "leased");
    let later = t.plus_seconds(31);
    assert_eq!(
        mine(ok(s.claim_webhook_deliveries(later, later.plus_seconds(30), 500).await, "after the lease")),
        vec![test1.id, d1.id, d2.id, test2.id]
    );
    // Racing claims never hand one delivery to two callers.
    let d3 = delivery_value(c, w.org_a.id, e2.id, Some(9), t);
    ok(s.create_webhook_deliveries(std::slice::from_ref(&d3)).await.map(|_| ()), "enqueue d3");
    let at = later.plus_seconds(60);
    let (a, b) = tokio::join!(
        s.claim_webhook_deliveries(at, at.plus_seconds(30), 500),
        s.claim_webhook_deliveries(at, at.plus_seconds(30), 500)
    );
    let (a, b) = (mine(ok(a, "claim a")), mine(ok(b, "claim b")));
    assert_eq!(a.len() + b.len(), 5, "{a:?} {b:?}");
    assert!(a.iter().all(|id| !b.contains(id)), "{a:?} {b:?}");

    // An attempt's outcome releases the lease; a finished delivery is never claimed again.
    let mut done = d1.clone();
    done.status = DeliveryStatus::Succeeded;
    done.attempts = 2;
    done.next_attempt_at = None;
    done.first_attempt_at = Some(t);
    done.last_attempt_at = Some(at);
    done.last_status_code = Some(204);
    done.last_error = None;
    done.last_response = Some("{\"received\": true, \"note\": \"ünïcödé\"}".to_owned());
    done.updated_at = at;
    ok(s.update_webhook_delivery(&done).await, "record the attempt");
    assert_eq!(ok(s.get_webhook_delivery(w.org_a.id, d1.id).await, "read back"), done);
    not_found(s.update_webhook_delivery(&WebhookDelivery { org_id: w.org_b.id, ..done.clone() }).await, "other org");
    let mut retry = d2.clone();
    retry.attempts = 1;
    retry.next_attempt_at = Some(at);
    retry.last_status_code = Some(500);
    retry.last_error = Some("HTTP 500".to_owned());
    retry.last_response = Some("Internal Server Error".to_owned());
    ok(s.update_webhook_delivery(&retry).await, "a failed attempt, due again now");
    let far = at.plus_seconds(3600);
    assert_eq!(mine(ok(s.claim_webhook_deliveries(at, far, 500).await, "released")), vec![d2.id]);
    assert_eq!(
        ids(ok(s.list_webhook_deliveries(w.org_a.id, &succeeded).await, "succeeded")),
        vec![d1.id],
        "status filter"
    );

    // Pruning removes finished deliveries older than the cut, never pending ones.
    let kept = ok(s.get_webhook_delivery(w.org_a.id, d2.id).await, "pending d2");
    ok(s.prune_webhook_deliveries(done.updated_at, 100).await, "prune before the cut");
    assert_eq!(ok(s.get_webhook_delivery(w.org_a.id, d1.id).await, "not older than the cut"), done);
    let after = Timestamp(done.updated_at.0 + 1);
    assert!(ok(s.prune_webhook_deliveries(after, 100).await, "prune") >= 1);
    not_found(s.get_webhook_delivery(w.org_a.id, d1.id).await, "the finished delivery is pruned");
    assert_eq!(ok(s.get_webhook_delivery(w.org_a.id, d2.id).await, "pending stays"), kept);
    let far_future = Timestamp(after.0 + 10 * 365 * 86_400_000);
    ok(s.prune_webhook_deliveries(far_future, 10_000).await, "prune everything finished");
    assert_eq!(ok(s.get_webhook_delivery(w.org_a.id, d2.id).await, "pending stays whatever its age"), kept);

    // Deleting an endpoint deletes its deliveries; another org cannot.
    not_found(s.delete_webhook_endpoint(w.org_b.id, e1.id).await, "delete through another org");
    ok(s.delete_webhook_endpoint(w.org_a.id, e1.id).await, "delete e1");
    not_found(s.get_webhook_endpoint(w.org_a.id, e1.id).await, "e1 is gone");
    not_found(s.get_webhook_delivery(w.org_a.id, test1.id).await, "and its deliveries");
    not_found(s.delete_webhook_endpoint(w.org_a.id, e1.id).await, "twice");
    // Nothing of this run stays pending for the next run on the same database.
    ok(s.delete_webhook_endpoint(w.org_a.id, e2.id).await, "delete e2");
    ok(s.delete_webhook_endpoint(w.org_b.id, eb.id).await, "delete eb");
    assert!(ok(s.list_webhook_deliveries(w.org_a.id, &DeliveryFilter::default()).await, "empty").is_empty());
}
