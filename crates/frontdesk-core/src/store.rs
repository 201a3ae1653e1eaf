//! The storage port. Every backend implements it and passes the conformance story
//! (`frontdesk-store-conformance`).
//!
//! Scoping rule: every read of tenant data names the organization (or the site) it must belong
//! to; a row of another tenant is [`StoreError::NotFound`], exactly like a missing one.

use crate::analytics::{ConversationStat, ReactionStat};
use crate::audit::{AuditEvent, AuditHead, AuditRecord};
use crate::billing::{Subscription, SubscriptionApplied};
use crate::events::OutboxEvent;
use crate::ids::*;
use crate::inbox::{CannedResponse, InboxFilter, InboxItem, Note, UnansweredQuestion};
use crate::knowledge::{Article, ArticleId, ArticleStatus};
use crate::model::*;
use crate::plans::Plan;
use crate::privacy::{ErasureCounts, RetentionCounts, VisitorLookup};
use crate::scenarios::{FlowState, Scenario, ScenarioVersion};
use crate::status::ConversationStatus;
use crate::team::{Invite, Member, NotificationPrefs};
use crate::time::Timestamp;
use crate::webhooks::{DeliveryFilter, WebhookDelivery, WebhookEndpoint};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or compare-and-set conflict; the text says which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached right now (the server answers 503 and retries later).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data.
    #[error("database error: {0}")]
    Backend(String),
}

/// A status change guarded by compare-and-set: applied only if the conversation is still `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub from: ConversationStatus,
    pub to: ConversationStatus,
}

impl StoreError {
    /// A closed conversation takes no more messages or status changes.
    pub fn conversation_closed() -> StoreError {
        StoreError::Conflict("conversation closed".to_owned())
    }

    /// The compare-and-set of a status change found another status.
    pub fn status_conflict(current: ConversationStatus, expected: ConversationStatus) -> StoreError {
        StoreError::Conflict(format!("conversation is {} (expected {})", current.as_str(), expected.as_str()))
    }
}

/// What appending `message` makes of `current`: the stored message (the next sequence number)
/// and the conversation after it. Every store applies these rules inside its write transaction,
/// on the row it read there, so they live once: a closed conversation takes no message, a status
/// change applies only from the status it expects, and times never move backwards (another node's
/// clock may be behind).
pub fn append_to(
    current: &Conversation,
    message: &NewMessage,
    status: Option<StatusChange>,
    visitor_activity: bool,
) -> StoreResult<(Message, Conversation)> {
    if current.status == ConversationStatus::Closed {
        return Err(StoreError::conversation_closed());
    }
    if let Some(change) = status
        && current.status != change.from
    {
        return Err(StoreError::status_conflict(current.status, change.from));
    }
    let at = message.created_at;
    let stored = Message {
        id: message.id,
        conversation_id: message.conversation_id,
        seq: current.last_seq + 1,
        author_kind: message.author_kind,
        author_id: message.author_id,
        body: message.body.clone(),
        html: message.html.clone(),
        citations: message.citations.clone(),
        quick_replies: message.quick_replies.clone(),
        reaction: None,
        created_at: at,
    };
    let mut next = current.clone();
    next.last_seq = stored.seq;
    next.updated_at = current.updated_at.max(at);
    if visitor_activity {
        next.last_activity_at = current.last_activity_at.max(at);
    }
    if let Some(change) = status
        && change.from != change.to
    {
        set_status(&mut next, change.to, at);
    }
    // The first agent message, for the humans' first response time; later ones leave it.
    if message.author_kind == AuthorKind::Agent && next.first_agent_reply_at.is_none() {
        next.first_agent_reply_at = Some(at);
    }
    Ok((stored, next))
}

/// One `append_message` call waiting for its group commit (see `group_commit`).
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub org_id: OrgId,
    pub message: NewMessage,
    pub status: Option<StatusChange>,
    pub visitor_activity: bool,
}

/// What a batch of appends writes, worked out on the conversations a store read in its write
/// transaction.
#[derive(Debug, Default)]
pub struct AppendPlan {
    /// One per request, in order: the stored message and the conversation after it, or why not.
    pub results: Vec<StoreResult<(Message, Conversation)>>,
    /// The messages to insert.
    pub messages: Vec<Message>,
    /// The outbox events, in order, with their organization (stamped with their message's time).
    pub events: Vec<(OrgId, crate::events::DomainEvent, Timestamp)>,
    /// Every conversation an append changed, as the last of them left it.
    pub conversations: Vec<Conversation>,
}

/// Applies [`append_to`] to each request in order, each on the conversation as the previous
/// append left it, so a batch writes what the same appends one by one would have. A request
/// whose conversation is missing from `current`, or belongs to another organization, is
/// `NotFound`; one that breaks a rule gets its error and changes nothing.
pub fn plan_appends(requests: &[AppendRequest], current: Vec<Conversation>) -> AppendPlan {
    let mut latest: std::collections::HashMap<ConversationId, Conversation> =
        current.into_iter().map(|c| (c.id, c)).collect();
    let mut changed: Vec<ConversationId> = Vec::new();
    let mut plan = AppendPlan::default();
    for request in requests {
        let id = request.message.conversation_id;
        let result = match latest.get(&id).filter(|c| c.org_id == request.org_id) {
            None => Err(StoreError::NotFound),
            Some(c) => append_to(c, &request.message, request.status, request.visitor_activity),
        };
        if let Ok((message, conversation)) = &result {
            let transition = request.status.map(|c| (c.from, c.to));
            for event in crate::events::DomainEvent::for_message(message, transition) {
                plan.events.push((request.org_id, event, message.created_at));
            }
            if !changed.contains(&id) {
                changed.push(id);
            }
            plan.messages.push(message.clone());
            latest.insert(id, conversation.clone());
        }
        plan.results.push(result);
    }
    plan.conversations = changed.iter().filter_map(|id| latest.remove(id)).collect();
    plan
}

impl From<crate::group_commit::Abandoned> for StoreError {
    fn from(e: crate::group_commit::Abandoned) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// What a guarded status change makes of `current` at `at`; `None` when `change` changes nothing
/// (no write, no event).
pub fn change_status_of(
    current: &Conversation,
    change: StatusChange,
    at: Timestamp,
) -> StoreResult<Option<Conversation>> {
    if current.status != change.from {
        return Err(StoreError::status_conflict(current.status, change.from));
    }
    if change.from == change.to {
        return Ok(None);
    }
    if current.status == ConversationStatus::Closed {
        return Err(StoreError::conversation_closed());
    }
    let mut next = current.clone();
    next.updated_at = current.updated_at.max(at);
    set_status(&mut next, change.to, at);
    Ok(Some(next))
}

fn set_status(conversation: &mut Conversation, to: ConversationStatus, at: Timestamp) {
    conversation.status = to;
    conversation.status_changed_at = at;
    // The first escalation is the one the first response time is measured from: a conversation
    // escalated again, after going back to the assistant, still counts from the first.
    if to == ConversationStatus::Escalated && conversation.escalated_at.is_none() {
        conversation.escalated_at = Some(at);
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub site_id: Option<SiteId>,
    pub visitor_id: Option<VisitorId>,
    /// Newest first; at most this many (capped by the store at 200).
    pub limit: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleFilter {
    pub site_id: Option<SiteId>,
    pub status: Option<ArticleStatus>,
    /// A case-insensitive substring of the title or body.
    pub text: Option<String>,
    /// Most recently updated first; at most this many (0 means 50; capped at 500).
    pub limit: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    /// An exact action, or a prefix ending in `.` (`site.` matches `site.create`, `site.update`).
    pub action: Option<String>,
    /// `[from, to)`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Newest first; at most this many (0 means 100; capped at 10,000 for exports).
    pub limit: u32,
}

/// Page views of one URL.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PageCount {
    pub url: String,
    pub title: Option<String>,
    pub views: i64,
    pub visitors: i64,
}

/// How often one conversion happened.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConversionCount {
    pub name: String,
    pub count: i64,
    pub visitors: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleVersion {
    pub id: ArticleId,
    pub site_id: SiteId,
    pub updated_at: Timestamp,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name (`sqlite`, `postgres`) for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Checks the database answers (used by health checks).
    async fn ping(&self) -> StoreResult<()>;

    // Server-wide settings, such as the key that signs session tokens.

    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    /// Several nodes starting at once agree on one value.
    async fn get_or_init_setting(&self, key: &str, value: &str) -> StoreResult<String>;
    /// Replaces the value only if it is still `expected`; returns whether it did. Lets one node
    /// of several claim a batch of background work (the notifier's outbox cursor).
    async fn compare_and_set_setting(&self, key: &str, expected: &str, value: &str) -> StoreResult<bool>;

    // Organizations, users, memberships.

    async fn create_org(&self, org: &Organization) -> StoreResult<()>;
    async fn get_org(&self, id: OrgId) -> StoreResult<Organization>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;
    async fn set_org_plan(&self, id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()>;

    // Billing: subscriptions reported by the payment provider's webhooks.

    /// In one transaction: remembers `event_id` (a second call with it is `Duplicate` and changes
    /// nothing), then gives the organization this subscription, its plan and extra seats — unless
    /// a change that occurred later was applied already (`Stale`). `NotFound` (and nothing
    /// remembered) when there is no such organization.
    async fn apply_subscription(
        &self,
        org_id: OrgId,
        event_id: &str,
        subscription: &Subscription,
        received_at: Timestamp,
    ) -> StoreResult<SubscriptionApplied>;
    /// The organization's subscription, `None` if it never had one.
    async fn get_subscription(&self, org_id: OrgId) -> StoreResult<Option<Subscription>>;
    /// The organization whose subscription this is (`NotFound` if none).
    async fn find_org_by_subscription(&self, subscription_id: &str) -> StoreResult<OrgId>;
    /// Fails with `Conflict` when the (lower-cased) email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: UserId) -> StoreResult<User>;
    async fn get_user_by_email(&self, email: &str) -> StoreResult<User>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()>;
    /// Adds or changes a membership.
    async fn put_membership(&self, membership: &Membership) -> StoreResult<()>;
    async fn get_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<Membership>;
    async fn list_memberships_of_user(&self, user_id: UserId) -> StoreResult<Vec<Membership>>;
    /// The organization's members with their user's email and name, oldest first.
    async fn list_members(&self, org_id: OrgId) -> StoreResult<Vec<Member>>;
    async fn delete_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<()>;
    /// `NotFound` when the user is not a member of the organization.
    async fn set_notification_prefs(&self, org_id: OrgId, user_id: UserId, prefs: NotificationPrefs)
    -> StoreResult<()>;

    // Invitations.

    /// `Conflict` when the organization has a pending (not accepted) invitation for the email.
    async fn create_invite(&self, invite: &Invite) -> StoreResult<()>;
    async fn get_invite(&self, id: InviteId) -> StoreResult<Invite>;
    /// Pending invitations (accepted ones are left out), oldest first; expired ones included.
    async fn list_invites(&self, org_id: OrgId) -> StoreResult<Vec<Invite>>;
    async fn delete_invite(&self, org_id: OrgId, id: InviteId) -> StoreResult<()>;
    /// In one transaction: marks the invitation accepted (`Conflict` if it was already) and adds
    /// the membership.
    async fn accept_invite(&self, id: InviteId, membership: &Membership, at: Timestamp) -> StoreResult<()>;

    // Agents' login sessions.

    async fn create_login_session(&self, session: &LoginSession) -> StoreResult<()>;
    async fn get_login_session(&self, token_hash: &str) -> StoreResult<LoginSession>;
    async fn touch_login_session(&self, token_hash: &str, seen_at: Timestamp, expires_at: Timestamp)
    -> StoreResult<()>;
    async fn delete_login_session(&self, token_hash: &str) -> StoreResult<()>;
    /// The user's login sessions, most recently seen first (expired ones included until removed).
    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>>;
    /// Ends every login session of the user but `keep` (after a password reset: all of them).
    async fn delete_login_sessions_of_user(&self, user_id: UserId, keep: Option<&str>) -> StoreResult<()>;

    // Two-factor login.

    async fn get_totp(&self, user_id: UserId) -> StoreResult<Option<TotpState>>;
    /// Creates or replaces the user's TOTP state.
    async fn put_totp(&self, user_id: UserId, state: &TotpState) -> StoreResult<()>;
    async fn delete_totp(&self, user_id: UserId) -> StoreResult<()>;
    /// Records that a code for `step` was accepted, only if no code for it or a later step was:
    /// false means the code was used already (a replay).
    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool>;

    // Password resets: only the SHA-256 of the emailed token is stored.

    async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: UserId,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Uses the reset once: the user it is for, if it exists, is unused and has not expired at
    /// `at`; `NotFound` otherwise. A second call with the same token is `NotFound`.
    async fn take_password_reset(&self, token_hash: &str, at: Timestamp) -> StoreResult<UserId>;

    // Sites.

    async fn create_site(&self, site: &Site) -> StoreResult<()>;
    async fn get_site(&self, org_id: OrgId, id: SiteId) -> StoreResult<Site>;
    /// The site whose current or previous public key this is (the caller checks the previous
    /// key's expiry).
    async fn get_site_by_public_key(&self, public_key: &str) -> StoreResult<Site>;
    async fn list_sites(&self, org_id: OrgId) -> StoreResult<Vec<Site>>;
    /// Every site of every organization: for answering CORS preflights, which carry no key.
    async fn list_all_sites(&self) -> StoreResult<Vec<Site>>;
    /// Replaces name, allowed origins, widget configuration (published and draft), assistant
    /// settings and keys (current, previous and its expiry).
    async fn update_site(&self, site: &Site) -> StoreResult<()>;

    // Visitors.

    async fn create_visitor(&self, visitor: &Visitor) -> StoreResult<()>;
    async fn get_visitor(&self, site_id: SiteId, id: VisitorId) -> StoreResult<Visitor>;
    async fn touch_visitor(&self, site_id: SiteId, id: VisitorId, seen_at: Timestamp) -> StoreResult<()>;
    /// Records what `identify` said: given fields replace the stored ones; a given `user_id` also
    /// sets `verified`. Writes `visitor.identified` (naming `conversation_id`, the session it was
    /// said in) to the outbox in the same transaction. `NotFound` for another site's visitor, or
    /// a conversation that is not this visitor's on this site.
    async fn identify_visitor(
        &self,
        site_id: SiteId,
        id: VisitorId,
        conversation_id: ConversationId,
        identity: &VisitorIdentity,
    ) -> StoreResult<Visitor>;
    /// The site's visitors (devices) that carry this user id *verified*, oldest first, at most
    /// 50: the visitors whose history is one person's.
    async fn verified_visitors(&self, site_id: SiteId, user_id: &str) -> StoreResult<Vec<VisitorId>>;
    /// `NotFound` when the visitor is not one of the event's site.
    async fn append_visitor_event(&self, event: &VisitorEvent) -> StoreResult<()>;
    /// Newest first, at most `limit` (capped at 500); empty for another site's visitor.
    async fn list_visitor_events(
        &self,
        site_id: SiteId,
        visitor_id: VisitorId,
        limit: u32,
    ) -> StoreResult<Vec<VisitorEvent>>;

    // Conversations and messages.

    /// Creates the conversation and writes `conversation.created` to the outbox.
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<()>;
    /// A conversation of this site (the public API's view).
    async fn get_conversation_for_site(&self, site_id: SiteId, id: ConversationId) -> StoreResult<Conversation>;
    /// A conversation of this organization (the private API's view).
    async fn get_conversation(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Conversation>;
    /// The token generation of each named conversation of its site, in no particular order;
    /// pairs that name no conversation (erased, or of another site) are left out. Each node
    /// checks all its widget sockets with it once per heartbeat (a revoked or erased session's
    /// socket closes) instead of one read per socket. The default reads them one by one.
    async fn token_generations(&self, ids: &[(SiteId, ConversationId)]) -> StoreResult<Vec<(ConversationId, i64)>> {
        let mut out = Vec::with_capacity(ids.len());
        for (site_id, id) in ids {
            match self.get_conversation_for_site(*site_id, *id).await {
                Ok(c) => out.push((c.id, c.token_generation)),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
    async fn list_conversations(&self, org_id: OrgId, filter: &ConversationFilter) -> StoreResult<Vec<Conversation>>;
    /// The agents' inbox: conversations with their visitor, newest message, rating and the
    /// number of messages after `viewer`'s read marker.
    async fn inbox(&self, org_id: OrgId, viewer: UserId, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>>;
    /// Moves `user_id`'s read marker of the conversation forward to `seq` (never back).
    async fn mark_read(&self, org_id: OrgId, id: ConversationId, user_id: UserId, seq: i64) -> StoreResult<()>;
    /// Sets or clears the assignee, with its `conversation.assigned` outbox event. The assignee
    /// must be a member of the organization (`NotFound` otherwise).
    async fn assign_conversation(
        &self,
        org_id: OrgId,
        id: ConversationId,
        assignee: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Conversation>;
    /// Stores a private note with its `note.created` outbox event; `NotFound` when the
    /// conversation is not the organization's.
    async fn create_note(&self, note: &Note) -> StoreResult<()>;
    /// Oldest first.
    async fn list_notes(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Vec<Note>>;
    /// In one transaction: gives the message the next sequence number, stores it, applies the
    /// optional status change (compare-and-set: `Conflict` if the status moved meanwhile, and a
    /// closed conversation is never written to), updates the conversation's times, and writes the
    /// outbox events. Returns the stored message and the updated conversation.
    async fn append_message(
        &self,
        org_id: OrgId,
        message: &NewMessage,
        status: Option<StatusChange>,
        visitor_activity: bool,
    ) -> StoreResult<(Message, Conversation)>;
    /// Compare-and-set of the status, with its outbox event.
    async fn change_status(
        &self,
        org_id: OrgId,
        id: ConversationId,
        change: StatusChange,
        at: Timestamp,
    ) -> StoreResult<Conversation>;
    /// Revokes every session token issued so far for the conversation (bumps its generation);
    /// returns the new generation. `NotFound` for another organization's conversation.
    async fn revoke_session_tokens(&self, org_id: OrgId, id: ConversationId) -> StoreResult<i64>;
    /// Records a visitor's request, which keeps the session token alive.
    async fn touch_conversation(&self, id: ConversationId, at: Timestamp) -> StoreResult<()>;
    /// Messages with `seq > after_seq`, in order, at most `limit`.
    async fn list_messages(&self, id: ConversationId, after_seq: i64, limit: u32) -> StoreResult<Vec<Message>>;
    async fn get_message(&self, conversation_id: ConversationId, id: MessageId) -> StoreResult<Message>;
    /// The messages named by `(conversation, message)` pairs, in no particular order; pairs that
    /// name no message (or a message of another conversation) are left out. One query on both
    /// backends: the realtime outbox follower turns a page of `message.created` events into frames
    /// with it. The default reads them one by one.
    async fn messages_by_ids(&self, ids: &[(ConversationId, MessageId)]) -> StoreResult<Vec<Message>> {
        let mut out = Vec::with_capacity(ids.len());
        for (conversation_id, id) in ids {
            match self.get_message(*conversation_id, *id).await {
                Ok(m) => out.push(m),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
    /// Sets or clears the reaction, with its outbox event.
    async fn set_reaction(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        id: MessageId,
        reaction: Option<Reaction>,
    ) -> StoreResult<Message>;
    /// `Conflict` when the conversation was rated already. Writes `rating.created`.
    async fn create_rating(&self, org_id: OrgId, rating: &Rating) -> StoreResult<()>;
    async fn get_rating(&self, conversation_id: ConversationId) -> StoreResult<Rating>;

    // Canned responses.

    /// Creates or replaces (by id); `Conflict` when another response of the organization has
    /// the shortcut.
    async fn put_canned_response(&self, response: &CannedResponse) -> StoreResult<()>;
    async fn delete_canned_response(&self, org_id: OrgId, id: CannedResponseId) -> StoreResult<()>;
    /// Ordered by shortcut.
    async fn list_canned_responses(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>>;

    // Bot scenarios and the conversations' runs of them.

    async fn create_scenario(&self, scenario: &Scenario) -> StoreResult<()>;
    async fn get_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<Scenario>;
    /// The site's scenarios, by name.
    async fn list_scenarios(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Vec<Scenario>>;
    /// Saves the name and the draft.
    async fn update_scenario(&self, scenario: &Scenario) -> StoreResult<()>;
    /// Deletes the scenario, its versions and every run of it.
    async fn delete_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<()>;
    /// Stores `document` as the next version, in one transaction; returns the updated scenario.
    async fn publish_scenario(
        &self,
        org_id: OrgId,
        id: ScenarioId,
        document: &serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<Scenario>;
    async fn get_scenario_version(&self, org_id: OrgId, id: ScenarioId, version: i64) -> StoreResult<ScenarioVersion>;
    /// Makes `id` the site's start scenario (clearing any other), or clears it with `None`.
    async fn set_start_scenario(&self, org_id: OrgId, site_id: SiteId, id: Option<ScenarioId>) -> StoreResult<()>;
    /// The latest published version of each published scenario of the site, with its scenario.
    async fn published_scenarios(
        &self,
        org_id: OrgId,
        site_id: SiteId,
    ) -> StoreResult<Vec<(Scenario, ScenarioVersion)>>;
    async fn get_flow_state(&self, org_id: OrgId, conversation_id: ConversationId) -> StoreResult<Option<FlowState>>;
    /// Writes (or with `state = None`, removes) a conversation's run when its stored revision is
    /// still `expected` (`None`: when it has none). Returns `false`, writing nothing, otherwise.
    /// A written state gets revision `expected + 1` (1 for a new one) whatever `state.revision` says.
    async fn put_flow_state(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        state: Option<&FlowState>,
        expected: Option<i64>,
    ) -> StoreResult<bool>;
    /// Runs whose timer is due at `now`, the earliest first, at most `limit`.
    async fn due_flow_states(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<FlowState>>;

    // Rate limits shared by every node.

    /// One event for `key` at `now` under a generic cell rate algorithm (each event costs
    /// `interval_ms`; the key's theoretical arrival time may run at most `tolerance_ms` ahead of
    /// now), atomically: `None` when allowed (and, with `count`, counted), `Some(excess_ms)` when
    /// refused (not counted).
    async fn rate_limit_hit(
        &self,
        key: &str,
        now: Timestamp,
        interval_ms: i64,
        tolerance_ms: i64,
        count: bool,
    ) -> StoreResult<Option<i64>>;
    /// Forgets keys whose arrival time is before `before` (they are as good as new).
    async fn prune_rate_limits(&self, before: Timestamp) -> StoreResult<u64>;

    // Encryption at rest.

    /// Re-seals up to `limit` stored values of the sealed columns that are not sealed with the
    /// current primary key (or not sealed at all), each by compare-and-set so a concurrent write
    /// wins; returns how many it rewrote (0: every value is sealed with the primary key). A store
    /// without a key ring rewrites nothing.
    async fn reseal(&self, limit: u32) -> StoreResult<u64>;

    // Outgoing webhooks: endpoints and their deliveries.

    async fn create_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    async fn get_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<WebhookEndpoint>;
    /// Oldest first.
    async fn list_webhook_endpoints(&self, org_id: OrgId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// Replaces everything but the ids and `created_at`; scoped by the endpoint's org.
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Deletes the endpoint and its deliveries.
    async fn delete_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<()>;
    /// Inserts the deliveries, skipping any whose endpoint already has one for the same outbox
    /// event (so nodes racing over one event enqueue it once), and any whose endpoint is not
    /// the delivery's organization's. Returns how many were inserted.
    async fn create_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<u64>;
    async fn get_webhook_delivery(&self, org_id: OrgId, id: WebhookDeliveryId) -> StoreResult<WebhookDelivery>;
    async fn list_webhook_deliveries(
        &self,
        org_id: OrgId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Claims up to `limit` pending deliveries due at `now` whose lease is free (none, or ended
    /// before `now`), earliest due first, leasing them until `lease_until`: of several nodes
    /// asking at once, each delivery goes to one.
    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Writes an attempt's outcome (or a redelivery): status, counts, times, last code and error;
    /// releases the lease. Scoped by the delivery's org.
    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()>;
    /// Deletes finished (succeeded or failed) deliveries last updated before `before`, at most
    /// `limit`; returns how many. Pending ones stay whatever their age.
    async fn prune_webhook_deliveries(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;

    // The knowledge base's gap report and analytics.

    async fn record_unanswered(&self, question: &UnansweredQuestion) -> StoreResult<()>;
    /// Newest first, created at or after `since`, at most `limit` (capped at 2,000).
    async fn list_unanswered(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<UnansweredQuestion>>;
    /// One row per conversation created in `[from, to)`.
    async fn conversation_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversationStat>>;
    /// Reactions on messages created in `[from, to)`.
    async fn reaction_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ReactionStat>>;
    /// The most viewed pages in `[from, to)`, most views first.
    async fn top_pages(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PageCount>>;
    /// Conversions by name in `[from, to)`, most frequent first.
    async fn conversion_counts(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversionCount>>;

    // Knowledge base.

    /// `Conflict` when the site already has an article with the same external key.
    async fn create_article(&self, article: &Article) -> StoreResult<()>;
    async fn get_article(&self, org_id: OrgId, id: ArticleId) -> StoreResult<Article>;
    async fn get_article_by_external_key(&self, site_id: SiteId, key: &str) -> StoreResult<Article>;
    /// Replaces everything but the ids and `created_at`; scoped by the article's org.
    async fn update_article(&self, article: &Article) -> StoreResult<()>;
    async fn delete_article(&self, org_id: OrgId, id: ArticleId) -> StoreResult<()>;
    async fn list_articles(&self, org_id: OrgId, filter: &ArticleFilter) -> StoreResult<Vec<Article>>;
    /// Every article of one site, or of every site, in any status: what the search index is
    /// rebuilt and reconciled from.
    async fn all_articles(&self, site_id: Option<SiteId>) -> StoreResult<Vec<Article>>;
    /// Id, site and `updated_at` of every article: a cheap way for each node to notice edits made
    /// elsewhere (another node, the command line) and bring its search index up to date.
    async fn article_versions(&self) -> StoreResult<Vec<ArticleVersion>>;

    // Privacy: export, erasure and retention.

    /// The organization's visitors a lookup names: by id (none for another organization's), or
    /// every visitor of its sites whose email matches case-insensitively (erased ones have none).
    /// Oldest first.
    async fn find_visitors(&self, org_id: OrgId, lookup: &VisitorLookup) -> StoreResult<Vec<Visitor>>;
    /// Every conversation of the visitor in the organization, oldest first, uncapped.
    async fn visitor_conversations(&self, org_id: OrgId, visitor_id: VisitorId) -> StoreResult<Vec<Conversation>>;
    /// Every page view and conversion of the visitor, oldest first, uncapped; empty for another
    /// site's visitor.
    async fn visitor_event_history(&self, site_id: SiteId, visitor_id: VisitorId) -> StoreResult<Vec<VisitorEvent>>;
    /// The conversation's declined questions, oldest first; empty for another organization's.
    async fn conversation_unanswered(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Vec<UnansweredQuestion>>;
    /// In one transaction: deletes the visitor's messages (and their search entries), ratings,
    /// events, notes, unanswered questions and scenario runs; clears its identity and marks it
    /// erased at `at`; clears its conversations' params and page URL and revokes their session
    /// tokens, keeping the rows (status, times, site) and their message counts and stars for
    /// analytics. `NotFound` for another organization's visitor.
    async fn erase_visitor(&self, org_id: OrgId, visitor_id: VisitorId, at: Timestamp) -> StoreResult<ErasureCounts>;
    /// Retention, one batch: deletes at most `limit` of the site's conversations whose last
    /// activity is before `before` (with everything that hangs on them), at most `limit` of its
    /// visitor events created before it, and at most `limit` visitors last seen before it who have
    /// no conversation left. Call again while a count reaches `limit`. Nothing for another
    /// organization's site.
    async fn purge_expired(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<RetentionCounts>;

    // Audit log and outbox.

    /// Appends to the organization's hash chain: in one transaction that no other append to the
    /// same organization can interleave with, reads the chain head, numbers and seals the event
    /// (`audit::seal`), inserts it and moves the head. There is no way to change or remove an
    /// event; the database refuses it too.
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<AuditRecord>;
    /// Newest first.
    async fn list_audit(&self, org_id: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// The organization's events with `seq > after_seq`, in `seq` order, at most `limit`
    /// (capped at 10,000): what the chain is verified from.
    async fn audit_chain(&self, org_id: OrgId, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// The newest link of the organization's chain; `None` before its first event.
    async fn audit_head(&self, org_id: OrgId) -> StoreResult<Option<AuditHead>>;
    /// Outbox events with `id > after`, oldest first, at most `limit`.
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// Retention, one batch: deletes at most `limit` outbox events with `id <= up_to_id` created
    /// before `before`, smallest ids first; returns how many. Call again while it reaches `limit`.
    /// `up_to_id` must be an id `outbox_after` has already returned (every smaller id is settled:
    /// PostgreSQL then reads ids missing up to it as pruned, not as still to commit). Ids are never
    /// handed out again, so a later event always has a larger id than any deleted one.
    async fn prune_outbox(&self, up_to_id: i64, before: Timestamp, limit: u32) -> StoreResult<u64>;
}
