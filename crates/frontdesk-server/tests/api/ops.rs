//! Operations: the OpenAPI document, metrics, graceful shutdown.

use crate::support::*;
use async_trait::async_trait;
use frontdesk_core::analytics::{ConversationStat, ReactionStat};
use frontdesk_core::audit::{AuditEvent, AuditHead, AuditRecord};
use frontdesk_core::billing::{Subscription, SubscriptionApplied};
use frontdesk_core::events::OutboxEvent;
use frontdesk_core::inbox::{CannedResponse, InboxFilter, InboxItem, Note, UnansweredQuestion};
use frontdesk_core::knowledge::{Article, ArticleId};
use frontdesk_core::model::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::FixedClock;
use frontdesk_core::privacy::{ErasureCounts, RetentionCounts, VisitorLookup};
use frontdesk_core::scenarios::{FlowState, Scenario, ScenarioVersion};
use frontdesk_core::store::{ArticleFilter, ArticleVersion, AuditFilter, ConversionCount, PageCount};
use frontdesk_core::store::{ConversationFilter, StatusChange, Store, StoreResult};
use frontdesk_core::team::{Invite, Member, NotificationPrefs};
use frontdesk_core::webhooks::{DeliveryFilter, WebhookDelivery, WebhookEndpoint};
use frontdesk_core::{
    CannedResponseId, ConversationId, InviteId, MessageId, OrgId, ScenarioId, SiteId, Timestamp, UserId, VisitorId,
    WebhookDeliveryId, WebhookEndpointId,
};
use frontdesk_server::ServerConfig;
use frontdesk_server::env::OsEntropy;
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Every route the server has, with its methods.
const ROUTES: &[(&str, &[&str])] = &[
    ("/api/chat/health", &["get"]),
    ("/api/billing/paddle", &["post"]),
    ("/api/chat/config", &["get"]),
    ("/api/chat/session", &["post"]),
    ("/api/chat/session/{id}", &["get"]),
    ("/api/chat/session/{id}/end", &["post"]),
    ("/api/chat/session/{id}/rate", &["post"]),
    ("/api/chat/message", &["post"]),
    ("/api/chat/message/{id}/react", &["post"]),
    ("/api/chat/history/{session_id}", &["get"]),
    ("/api/chat/visitor/sessions", &["get"]),
    ("/api/chat/events", &["post"]),
    ("/api/chat/identify", &["post"]),
    ("/api/app/login", &["post"]),
    ("/api/app/logout", &["post"]),
    ("/api/app/me", &["get"]),
    ("/api/app/sessions", &["get"]),
    ("/api/app/sessions/{id}", &["delete"]),
    ("/api/app/password/forgot", &["post"]),
    ("/api/app/password/reset", &["post"]),
    ("/api/app/totp", &["get"]),
    ("/api/app/totp/setup", &["post"]),
    ("/api/app/totp/enable", &["post"]),
    ("/api/app/totp/disable", &["post"]),
    ("/api/app/orgs/{org_id}", &["get"]),
    ("/api/app/orgs/{org_id}/conversations", &["get"]),
    ("/api/app/orgs/{org_id}/conversations/summary", &["get"]),
    ("/api/app/orgs/{org_id}/conversations/{id}", &["get"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/messages", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/status", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/assign", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/read", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/revoke-tokens", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/notes", &["post"]),
    ("/api/app/orgs/{org_id}/conversations/{id}/visitor", &["get"]),
    ("/api/app/orgs/{org_id}/canned-responses", &["get", "post"]),
    ("/api/app/orgs/{org_id}/canned-responses/{id}", &["put", "delete"]),
    ("/api/app/orgs/{org_id}/members", &["get"]),
    ("/api/app/orgs/{org_id}/members/{user_id}", &["patch", "delete"]),
    ("/api/app/orgs/{org_id}/invites", &["post"]),
    ("/api/app/orgs/{org_id}/invites/{id}", &["delete"]),
    ("/api/app/orgs/{org_id}/notifications", &["put"]),
    ("/api/app/invites/{token}", &["get"]),
    ("/api/app/invites/{token}/accept", &["post"]),
    ("/api/app/orgs/{org_id}/sites", &["get", "post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}", &["get", "patch"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/widget/publish", &["post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/widget/discard", &["post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/embed", &["get"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/keys/rotate", &["post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/secret", &["get"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/secret/rotate", &["post"]),
    ("/api/app/orgs/{org_id}/analytics", &["get"]),
    ("/api/app/orgs/{org_id}/insights", &["get"]),
    ("/api/app/orgs/{org_id}/unanswered", &["get"]),
    ("/api/app/orgs/{org_id}/audit", &["get"]),
    ("/api/app/orgs/{org_id}/privacy/export", &["get"]),
    ("/api/app/orgs/{org_id}/privacy/erase", &["post"]),
    ("/api/app/orgs/{org_id}/audit/verify", &["get"]),
    ("/api/app/orgs/{org_id}/articles", &["get", "post"]),
    ("/api/app/orgs/{org_id}/articles/{id}", &["get", "patch", "delete"]),
    ("/api/app/orgs/{org_id}/articles/{id}/publish", &["post"]),
    ("/api/app/orgs/{org_id}/articles/{id}/unpublish", &["post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/scenarios", &["get", "post"]),
    ("/api/app/orgs/{org_id}/scenarios/{id}", &["get", "put", "delete"]),
    ("/api/app/orgs/{org_id}/scenarios/{id}/validate", &["post"]),
    ("/api/app/orgs/{org_id}/scenarios/{id}/publish", &["post"]),
    ("/api/app/orgs/{org_id}/scenarios/{id}/start", &["post"]),
    ("/api/app/orgs/{org_id}/scenarios/{id}/simulate", &["post"]),
    ("/api/app/orgs/{org_id}/sites/{site_id}/search", &["get"]),
    ("/api/app/orgs/{org_id}/webhooks", &["get", "post"]),
    ("/api/app/orgs/{org_id}/webhooks/{id}", &["patch", "delete"]),
    ("/api/app/orgs/{org_id}/webhooks/{id}/secret", &["get"]),
    ("/api/app/orgs/{org_id}/webhooks/{id}/secret/rotate", &["post"]),
    ("/api/app/orgs/{org_id}/webhooks/{id}/test", &["post"]),
    ("/api/app/orgs/{org_id}/webhook-deliveries", &["get"]),
    ("/api/app/orgs/{org_id}/webhook-deliveries/{id}/redeliver", &["post"]),
    ("/metrics", &["get"]),
    ("/api/openapi.json", &["get"]),
];

#[tokio::test]
async fn openapi_documents_every_route_and_the_error_schema() {
    let server = TestServer::start(Backend::Sqlite, "openapi", roomy_config()).await.expect("sqlite");
    let r = raw(Method::GET, &format!("{}/api/openapi.json", server.base), &[], None).await;
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert_eq!(paths.len(), ROUTES.len(), "documented: {:?}", paths.keys().collect::<Vec<_>>());
    for (path, methods) in ROUTES {
        let item = &paths.get(*path).cloned().unwrap_or(Value::Null);
        for method in *methods {
            let op = &item[*method];
            assert!(op.is_object(), "{method} {path} is documented");
            assert!(
                op["responses"].as_object().is_some_and(|r| r.keys().any(|s| s.starts_with('2'))),
                "{method} {path}"
            );
        }
        // Every documented route answers something other than "no such endpoint".
        let probe = raw(
            Method::from_bytes(methods[0].to_uppercase().as_bytes()).unwrap_or(Method::GET),
            &format!("{}{path}", server.base),
            &[("Origin", &server.base)],
            None,
        )
        .await;
        assert!(!(probe.status == 404 && probe.body["error"]["message"] == "no such endpoint"), "{path} is routed");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Error responses use the error schema; requests and responses have schemas.
    let send = &paths["/api/chat/message"]["post"];
    assert!(send["requestBody"]["content"]["application/json"]["schema"].is_object());
    assert_eq!(
        send["responses"]["429"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    for scheme in ["api_key", "session_token", "session_cookie"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_messages() {
    let server = TestServer::start(Backend::Sqlite, "metrics", roomy_config()).await.expect("sqlite");
    let client = server.chat_client();
    client.get("/api/chat/health", None).await;
    client.get("/api/chat/health", None).await;
    let s = client.start().await;
    client.say(&s, "one").await;
    client.say(&s, "two").await;
    raw(Method::GET, &format!("{}/nothing/here/{}", server.base, s.token), &[], None).await;
    let r = raw(Method::GET, &format!("{}/metrics", server.base), &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/plain")));
    let response = reqwest::get(format!("{}/metrics", server.base)).await.expect("metrics");
    let text = response.text().await.unwrap_or_default();
    for line in [
        "frontdesk_store_info{backend=\"sqlite\"} 1",
        "frontdesk_http_requests_total{method=\"GET\",route=\"/api/chat/health\",status=\"2xx\"} 2",
        "frontdesk_http_requests_total{method=\"POST\",route=\"/api/chat/message\",status=\"2xx\"} 2",
        "frontdesk_http_requests_total{method=\"POST\",route=\"/api/chat/session\",status=\"2xx\"} 1",
        "frontdesk_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"4xx\"} 1",
        "frontdesk_http_request_duration_seconds_count{method=\"GET\",route=\"/api/chat/health\"} 2",
        "frontdesk_messages_created_total{author=\"visitor\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert!(text.contains(
        "frontdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/chat/health\",le=\"+Inf\"} 2"
    ));
    // Raw paths (which can carry ids and tokens) never become labels.
    assert!(!text.contains(&s.id) && !text.contains(&s.token));
}

/// A store whose `ping` (the health check's one call) can be held open, so a request is
/// provably in flight when shutdown begins.
struct GatedStore {
    inner: SqliteStore,
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
}

#[async_trait]
impl Store for GatedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
        self.inner.ping().await
    }
    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        self.inner.list_login_sessions(user_id).await
    }
    async fn delete_login_sessions_of_user(&self, user_id: UserId, keep: Option<&str>) -> StoreResult<()> {
        self.inner.delete_login_sessions_of_user(user_id, keep).await
    }
    async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: UserId,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.inner.create_password_reset(token_hash, user_id, created_at, expires_at).await
    }
    async fn take_password_reset(&self, token_hash: &str, at: Timestamp) -> StoreResult<UserId> {
        self.inner.take_password_reset(token_hash, at).await
    }
    async fn revoke_session_tokens(&self, org_id: OrgId, id: ConversationId) -> StoreResult<i64> {
        self.inner.revoke_session_tokens(org_id, id).await
    }
    async fn get_totp(&self, user_id: UserId) -> StoreResult<Option<TotpState>> {
        self.inner.get_totp(user_id).await
    }
    async fn put_totp(&self, user_id: UserId, state: &TotpState) -> StoreResult<()> {
        self.inner.put_totp(user_id, state).await
    }
    async fn delete_totp(&self, user_id: UserId) -> StoreResult<()> {
        self.inner.delete_totp(user_id).await
    }
    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        self.inner.use_totp_step(user_id, step).await
    }
    async fn get_or_init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        self.inner.get_or_init_setting(key, value).await
    }
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        self.inner.create_org(org).await
    }
    async fn get_org(&self, id: OrgId) -> StoreResult<Organization> {
        self.inner.get_org(id).await
    }
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        self.inner.list_orgs().await
    }
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.inner.create_user(user).await
    }
    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.inner.get_user(id).await
    }
    async fn get_user_by_email(&self, email: &str) -> StoreResult<User> {
        self.inner.get_user_by_email(email).await
    }
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        self.inner.set_password_hash(id, hash).await
    }
    async fn put_membership(&self, m: &Membership) -> StoreResult<()> {
        self.inner.put_membership(m).await
    }
    async fn get_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<Membership> {
        self.inner.get_membership(org_id, user_id).await
    }
    async fn list_memberships_of_user(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        self.inner.list_memberships_of_user(user_id).await
    }
    async fn create_login_session(&self, session: &LoginSession) -> StoreResult<()> {
        self.inner.create_login_session(session).await
    }
    async fn get_login_session(&self, token_hash: &str) -> StoreResult<LoginSession> {
        self.inner.get_login_session(token_hash).await
    }
    async fn touch_login_session(
        &self,
        token_hash: &str,
        seen_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.inner.touch_login_session(token_hash, seen_at, expires_at).await
    }
    async fn delete_login_session(&self, token_hash: &str) -> StoreResult<()> {
        self.inner.delete_login_session(token_hash).await
    }
    async fn create_site(&self, site: &Site) -> StoreResult<()> {
        self.inner.create_site(site).await
    }
    async fn get_site(&self, org_id: OrgId, id: SiteId) -> StoreResult<Site> {
        self.inner.get_site(org_id, id).await
    }
    async fn get_site_by_public_key(&self, public_key: &str) -> StoreResult<Site> {
        self.inner.get_site_by_public_key(public_key).await
    }
    async fn list_sites(&self, org_id: OrgId) -> StoreResult<Vec<Site>> {
        self.inner.list_sites(org_id).await
    }
    async fn list_all_sites(&self) -> StoreResult<Vec<Site>> {
        self.inner.list_all_sites().await
    }
    async fn update_site(&self, site: &Site) -> StoreResult<()> {
        self.inner.update_site(site).await
    }
    async fn create_visitor(&self, visitor: &Visitor) -> StoreResult<()> {
        self.inner.create_visitor(visitor).await
    }
    async fn get_visitor(&self, site_id: SiteId, id: VisitorId) -> StoreResult<Visitor> {
        self.inner.get_visitor(site_id, id).await
    }
    async fn touch_visitor(&self, site_id: SiteId, id: VisitorId, seen_at: Timestamp) -> StoreResult<()> {
        self.inner.touch_visitor(site_id, id, seen_at).await
    }
    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        self.inner.create_conversation(c).await
    }
    async fn get_conversation_for_site(&self, site_id: SiteId, id: ConversationId) -> StoreResult<Conversation> {
        self.inner.get_conversation_for_site(site_id, id).await
    }
    async fn get_conversation(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Conversation> {
        self.inner.get_conversation(org_id, id).await
    }
    async fn list_conversations(&self, org_id: OrgId, filter: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        self.inner.list_conversations(org_id, filter).await
    }
    async fn append_message(
        &self,
        org_id: OrgId,
        message: &NewMessage,
        status: Option<StatusChange>,
        visitor_activity: bool,
    ) -> StoreResult<(Message, Conversation)> {
        self.inner.append_message(org_id, message, status, visitor_activity).await
    }
    async fn change_status(
        &self,
        org_id: OrgId,
        id: ConversationId,
        change: StatusChange,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        self.inner.change_status(org_id, id, change, at).await
    }
    async fn touch_conversation(&self, id: ConversationId, at: Timestamp) -> StoreResult<()> {
        self.inner.touch_conversation(id, at).await
    }
    async fn list_messages(&self, id: ConversationId, after_seq: i64, limit: u32) -> StoreResult<Vec<Message>> {
        self.inner.list_messages(id, after_seq, limit).await
    }
    async fn get_message(&self, conversation_id: ConversationId, id: MessageId) -> StoreResult<Message> {
        self.inner.get_message(conversation_id, id).await
    }
    async fn set_reaction(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        id: MessageId,
        reaction: Option<Reaction>,
    ) -> StoreResult<Message> {
        self.inner.set_reaction(org_id, conversation_id, id, reaction).await
    }
    async fn create_rating(&self, org_id: OrgId, rating: &Rating) -> StoreResult<()> {
        self.inner.create_rating(org_id, rating).await
    }
    async fn get_rating(&self, conversation_id: ConversationId) -> StoreResult<Rating> {
        self.inner.get_rating(conversation_id).await
    }
    async fn find_visitors(&self, org_id: OrgId, lookup: &VisitorLookup) -> StoreResult<Vec<Visitor>> {
        self.inner.find_visitors(org_id, lookup).await
    }
    async fn visitor_conversations(&self, org_id: OrgId, visitor_id: VisitorId) -> StoreResult<Vec<Conversation>> {
        self.inner.visitor_conversations(org_id, visitor_id).await
    }
    async fn visitor_event_history(&self, site_id: SiteId, visitor_id: VisitorId) -> StoreResult<Vec<VisitorEvent>> {
        self.inner.visitor_event_history(site_id, visitor_id).await
    }
    async fn conversation_unanswered(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        self.inner.conversation_unanswered(org_id, conversation_id).await
    }
    async fn erase_visitor(&self, org_id: OrgId, visitor_id: VisitorId, at: Timestamp) -> StoreResult<ErasureCounts> {
        self.inner.erase_visitor(org_id, visitor_id, at).await
    }
    async fn purge_expired(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<RetentionCounts> {
        self.inner.purge_expired(org_id, site_id, before, limit).await
    }
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<AuditRecord> {
        self.inner.append_audit(event).await
    }
    async fn identify_visitor(
        &self,
        site_id: SiteId,
        id: VisitorId,
        conversation_id: ConversationId,
        who: &VisitorIdentity,
    ) -> StoreResult<Visitor> {
        self.inner.identify_visitor(site_id, id, conversation_id, who).await
    }
    async fn verified_visitors(&self, site_id: SiteId, user_id: &str) -> StoreResult<Vec<VisitorId>> {
        self.inner.verified_visitors(site_id, user_id).await
    }
    async fn append_visitor_event(&self, event: &VisitorEvent) -> StoreResult<()> {
        self.inner.append_visitor_event(event).await
    }
    async fn list_visitor_events(
        &self,
        site_id: SiteId,
        visitor_id: VisitorId,
        limit: u32,
    ) -> StoreResult<Vec<VisitorEvent>> {
        self.inner.list_visitor_events(site_id, visitor_id, limit).await
    }
    async fn list_audit(&self, org_id: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.inner.list_audit(org_id, filter).await
    }
    async fn audit_chain(&self, org_id: OrgId, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.inner.audit_chain(org_id, after_seq, limit).await
    }
    async fn audit_head(&self, org_id: OrgId) -> StoreResult<Option<AuditHead>> {
        self.inner.audit_head(org_id).await
    }
    async fn compare_and_set_setting(&self, key: &str, expected: &str, value: &str) -> StoreResult<bool> {
        self.inner.compare_and_set_setting(key, expected, value).await
    }
    async fn set_org_plan(&self, id: OrgId, plan: Plan, extra_seats: u32) -> StoreResult<()> {
        self.inner.set_org_plan(id, plan, extra_seats).await
    }
    async fn apply_subscription(
        &self,
        org_id: OrgId,
        event_id: &str,
        subscription: &Subscription,
        received_at: Timestamp,
    ) -> StoreResult<SubscriptionApplied> {
        self.inner.apply_subscription(org_id, event_id, subscription, received_at).await
    }
    async fn get_subscription(&self, org_id: OrgId) -> StoreResult<Option<Subscription>> {
        self.inner.get_subscription(org_id).await
    }
    async fn find_org_by_subscription(&self, subscription_id: &str) -> StoreResult<OrgId> {
        self.inner.find_org_by_subscription(subscription_id).await
    }
    async fn list_members(&self, org_id: OrgId) -> StoreResult<Vec<Member>> {
        self.inner.list_members(org_id).await
    }
    async fn delete_membership(&self, org_id: OrgId, user_id: UserId) -> StoreResult<()> {
        self.inner.delete_membership(org_id, user_id).await
    }
    async fn set_notification_prefs(
        &self,
        org_id: OrgId,
        user_id: UserId,
        prefs: NotificationPrefs,
    ) -> StoreResult<()> {
        self.inner.set_notification_prefs(org_id, user_id, prefs).await
    }
    async fn create_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.inner.create_invite(invite).await
    }
    async fn get_invite(&self, id: InviteId) -> StoreResult<Invite> {
        self.inner.get_invite(id).await
    }
    async fn list_invites(&self, org_id: OrgId) -> StoreResult<Vec<Invite>> {
        self.inner.list_invites(org_id).await
    }
    async fn delete_invite(&self, org_id: OrgId, id: InviteId) -> StoreResult<()> {
        self.inner.delete_invite(org_id, id).await
    }
    async fn accept_invite(&self, id: InviteId, membership: &Membership, at: Timestamp) -> StoreResult<()> {
        self.inner.accept_invite(id, membership, at).await
    }
    async fn inbox(&self, org_id: OrgId, viewer: UserId, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>> {
        self.inner.inbox(org_id, viewer, filter).await
    }
    async fn mark_read(&self, org_id: OrgId, id: ConversationId, user_id: UserId, seq: i64) -> StoreResult<()> {
        self.inner.mark_read(org_id, id, user_id, seq).await
    }
    async fn assign_conversation(
        &self,
        org_id: OrgId,
        id: ConversationId,
        assignee: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Conversation> {
        self.inner.assign_conversation(org_id, id, assignee, at).await
    }
    async fn create_note(&self, note: &Note) -> StoreResult<()> {
        self.inner.create_note(note).await
    }
    async fn list_notes(&self, org_id: OrgId, id: ConversationId) -> StoreResult<Vec<Note>> {
        self.inner.list_notes(org_id, id).await
    }
    async fn prune_webhook_deliveries(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.inner.prune_webhook_deliveries(before, limit).await
    }
    async fn rate_limit_hit(
        &self,
        key: &str,
        now: Timestamp,
        interval_ms: i64,
        tolerance_ms: i64,
        count: bool,
    ) -> StoreResult<Option<i64>> {
        self.inner.rate_limit_hit(key, now, interval_ms, tolerance_ms, count).await
    }
    async fn prune_rate_limits(&self, before: Timestamp) -> StoreResult<u64> {
        self.inner.prune_rate_limits(before).await
    }
    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        self.inner.reseal(limit).await
    }
    async fn create_scenario(&self, scenario: &Scenario) -> StoreResult<()> {
        self.inner.create_scenario(scenario).await
    }
    async fn get_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<Scenario> {
        self.inner.get_scenario(org_id, id).await
    }
    async fn list_scenarios(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Vec<Scenario>> {
        self.inner.list_scenarios(org_id, site_id).await
    }
    async fn update_scenario(&self, scenario: &Scenario) -> StoreResult<()> {
        self.inner.update_scenario(scenario).await
    }
    async fn delete_scenario(&self, org_id: OrgId, id: ScenarioId) -> StoreResult<()> {
        self.inner.delete_scenario(org_id, id).await
    }
    async fn publish_scenario(
        &self,
        org_id: OrgId,
        id: ScenarioId,
        document: &serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<Scenario> {
        self.inner.publish_scenario(org_id, id, document, at).await
    }
    async fn get_scenario_version(&self, org_id: OrgId, id: ScenarioId, version: i64) -> StoreResult<ScenarioVersion> {
        self.inner.get_scenario_version(org_id, id, version).await
    }
    async fn set_start_scenario(&self, org_id: OrgId, site_id: SiteId, id: Option<ScenarioId>) -> StoreResult<()> {
        self.inner.set_start_scenario(org_id, site_id, id).await
    }
    async fn published_scenarios(
        &self,
        org_id: OrgId,
        site_id: SiteId,
    ) -> StoreResult<Vec<(Scenario, ScenarioVersion)>> {
        self.inner.published_scenarios(org_id, site_id).await
    }
    async fn get_flow_state(&self, org_id: OrgId, conversation_id: ConversationId) -> StoreResult<Option<FlowState>> {
        self.inner.get_flow_state(org_id, conversation_id).await
    }
    async fn put_flow_state(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        state: Option<&FlowState>,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        self.inner.put_flow_state(org_id, conversation_id, state, expected).await
    }
    async fn due_flow_states(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<FlowState>> {
        self.inner.due_flow_states(now, limit).await
    }
    async fn put_canned_response(&self, response: &CannedResponse) -> StoreResult<()> {
        self.inner.put_canned_response(response).await
    }
    async fn delete_canned_response(&self, org_id: OrgId, id: CannedResponseId) -> StoreResult<()> {
        self.inner.delete_canned_response(org_id, id).await
    }
    async fn list_canned_responses(&self, org_id: OrgId) -> StoreResult<Vec<CannedResponse>> {
        self.inner.list_canned_responses(org_id).await
    }
    async fn record_unanswered(&self, question: &UnansweredQuestion) -> StoreResult<()> {
        self.inner.record_unanswered(question).await
    }
    async fn list_unanswered(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<UnansweredQuestion>> {
        self.inner.list_unanswered(org_id, site_id, since, limit).await
    }
    async fn conversation_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversationStat>> {
        self.inner.conversation_stats(org_id, site_id, from, to).await
    }
    async fn reaction_stats(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ReactionStat>> {
        self.inner.reaction_stats(org_id, site_id, from, to).await
    }
    async fn top_pages(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PageCount>> {
        self.inner.top_pages(org_id, site_id, from, to, limit).await
    }
    async fn conversion_counts(
        &self,
        org_id: OrgId,
        site_id: Option<SiteId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ConversionCount>> {
        self.inner.conversion_counts(org_id, site_id, from, to).await
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        self.inner.outbox_after(after, limit).await
    }
    async fn prune_outbox(&self, up_to_id: i64, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.inner.prune_outbox(up_to_id, before, limit).await
    }
    async fn create_article(&self, article: &Article) -> StoreResult<()> {
        self.inner.create_article(article).await
    }
    async fn get_article(&self, org_id: OrgId, id: ArticleId) -> StoreResult<Article> {
        self.inner.get_article(org_id, id).await
    }
    async fn get_article_by_external_key(&self, site_id: SiteId, key: &str) -> StoreResult<Article> {
        self.inner.get_article_by_external_key(site_id, key).await
    }
    async fn update_article(&self, article: &Article) -> StoreResult<()> {
        self.inner.update_article(article).await
    }
    async fn delete_article(&self, org_id: OrgId, id: ArticleId) -> StoreResult<()> {
        self.inner.delete_article(org_id, id).await
    }
    async fn list_articles(&self, org_id: OrgId, filter: &ArticleFilter) -> StoreResult<Vec<Article>> {
        self.inner.list_articles(org_id, filter).await
    }
    async fn all_articles(&self, site_id: Option<SiteId>) -> StoreResult<Vec<Article>> {
        self.inner.all_articles(site_id).await
    }
    async fn article_versions(&self) -> StoreResult<Vec<ArticleVersion>> {
        self.inner.article_versions().await
    }
    async fn create_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        self.inner.create_webhook_endpoint(endpoint).await
    }
    async fn get_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<WebhookEndpoint> {
        self.inner.get_webhook_endpoint(org_id, id).await
    }
    async fn list_webhook_endpoints(&self, org_id: OrgId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.inner.list_webhook_endpoints(org_id).await
    }
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        self.inner.update_webhook_endpoint(endpoint).await
    }
    async fn delete_webhook_endpoint(&self, org_id: OrgId, id: WebhookEndpointId) -> StoreResult<()> {
        self.inner.delete_webhook_endpoint(org_id, id).await
    }
    async fn create_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<u64> {
        self.inner.create_webhook_deliveries(deliveries).await
    }
    async fn get_webhook_delivery(&self, org_id: OrgId, id: WebhookDeliveryId) -> StoreResult<WebhookDelivery> {
        self.inner.get_webhook_delivery(org_id, id).await
    }
    async fn list_webhook_deliveries(
        &self,
        org_id: OrgId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.inner.list_webhook_deliveries(org_id, filter).await
    }
    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.inner.claim_webhook_deliveries(now, lease_until, limit).await
    }
    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        self.inner.update_webhook_delivery(delivery).await
    }
}

#[tokio::test]
async fn serve_stops_accepting_and_finishes_in_flight_requests_on_shutdown() {
    let dir = std::env::temp_dir().join(format!("frontdesk-server-shutdown-{}", uuid::Uuid::now_v7().simple()));
    let inner = SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite");
    let store =
        Arc::new(GatedStore { inner, armed: AtomicBool::new(false), entered: Notify::new(), release: Notify::new() });
    let clock = Arc::new(FixedClock::at(START_MS));
    let router = frontdesk_server::build(store.clone(), ServerConfig::default(), clock, Arc::new(OsEntropy))
        .await
        .expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(frontdesk_server::serve(listener, router, async move {
        let _ = rx.await;
    }));
    assert_eq!(raw(Method::GET, &format!("{base}/api/chat/health"), &[], None).await.status, 200);

    // A health check held inside the store when shutdown begins still gets its answer.
    store.armed.store(true, Ordering::SeqCst);
    let url = format!("{base}/api/chat/health");
    let in_flight = tokio::spawn(async move { raw(Method::GET, &url, &[], None).await });
    store.entered.notified().await;
    let _ = tx.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!served.is_finished(), "serve waits for the request in flight");
    let refused = reqwest::Client::new().get(format!("{base}/api/chat/health")).send().await;
    assert!(refused.is_err(), "no new connections once shutdown began");
    store.release.notify_one();
    let answered = in_flight.await.expect("request task");
    assert_eq!((answered.status, answered.body.clone()), (200, json!({"status": "ok"})));
    let result = tokio::time::timeout(Duration::from_secs(10), served).await.expect("serve returns").expect("task");
    assert!(result.is_ok(), "{result:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn build_refuses_unusable_settings() {
    let dir = std::env::temp_dir().join(format!("frontdesk-server-settings-{}", uuid::Uuid::now_v7().simple()));
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite"));
    let clock = Arc::new(FixedClock::at(START_MS));
    let bad = [
        ServerConfig { public_url: Some("desk.example.com".to_owned()), ..ServerConfig::default() },
        ServerConfig { session_ttl_secs: 0, ..ServerConfig::default() },
        ServerConfig { max_body_bytes: 0, ..ServerConfig::default() },
    ];
    for config in bad {
        let result = frontdesk_server::build(store.clone(), config.clone(), clock.clone(), Arc::new(OsEntropy)).await;
        assert!(matches!(result, Err(frontdesk_server::ServerError::Config(_))), "{config:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn nodes_sharing_a_database_accept_each_others_session_tokens() {
    let dir = std::env::temp_dir().join(format!("frontdesk-server-nodes-{}", uuid::Uuid::now_v7().simple()));
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("frontdesk.db"), SqliteOptions::default()).await.expect("sqlite"));
    let clock = Arc::new(FixedClock::at(START_MS));
    let chat = frontdesk_core::chat::Chat::new(store.clone(), clock.clone(), Arc::new(OsEntropy));
    let org = frontdesk_server::admin::create_org(&chat, "Northwind", Plan::Pro).await.expect("org");
    let site = frontdesk_server::admin::create_site(&chat, org.id, "Shop", &[SHOP.to_owned()]).await.expect("site");
    let mut bases = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let router =
            frontdesk_server::build(store.clone(), ServerConfig::default(), clock.clone(), Arc::new(OsEntropy))
                .await
                .expect("router");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        bases.push(format!("http://{}", listener.local_addr().expect("addr")));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tokio::spawn(frontdesk_server::serve(listener, router, async move {
            let _ = rx.await;
        }));
    }
    let a = frontdesk_testkit::chat_api::ChatClient::new(&bases[0], &site.public_key);
    let b = frontdesk_testkit::chat_api::ChatClient::new(&bases[1], &site.public_key);
    let s = a.start().await;
    let r = b.say(&s, "asked on node a, answered on node b").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let key = store.get_or_init_setting(frontdesk_server::SESSION_TOKEN_KEY_SETTING, "ignored").await.expect("key");
    assert_ne!(key, "ignored");
    for tx in stops {
        let _ = tx.send(());
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Two nodes on one PostgreSQL database: a visitor's IP gets `sessions_per_minute_per_ip` in
/// all, wherever its requests land (the counts live in the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_nodes_sharing_postgres() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("rate_limits_across_nodes").await else { return };
    let store: Arc<dyn Store> = Arc::new(frontdesk_store_postgres::PgStore::connect(&url).await.expect("postgres"));
    let clock = Arc::new(FixedClock::at(START_MS));
    let chat = frontdesk_core::chat::Chat::new(store.clone(), clock.clone(), Arc::new(OsEntropy));
    let org = frontdesk_server::admin::create_org(&chat, "Northwind", Plan::Pro).await.expect("org");
    let site = frontdesk_server::admin::create_site(&chat, org.id, "Shop", &[SHOP.to_owned()]).await.expect("site");
    let mut config = ServerConfig::default();
    config.rate_limits.sessions_per_minute_per_ip = 3;
    let mut bases = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let router = frontdesk_server::build(store.clone(), config.clone(), clock.clone(), Arc::new(OsEntropy))
            .await
            .expect("router");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        bases.push(format!("http://{}", listener.local_addr().expect("addr")));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tokio::spawn(frontdesk_server::serve(listener, router, async move {
            let _ = rx.await;
        }));
    }
    let start = |base: &str| {
        let client = frontdesk_testkit::chat_api::ChatClient::new(base, &site.public_key);
        async move { client.post("/api/chat/session", None, &json!({})).await }
    };
    // Alternating nodes: three in all pass, the fourth is refused on either node.
    for (i, base) in [&bases[0], &bases[1], &bases[0]].into_iter().enumerate() {
        assert_eq!(start(base).await.status, 201, "session {i}");
    }
    for base in &bases {
        let r = start(base).await;
        assert_error(&r, 429, "rate_limited");
        assert!(r.header("retry-after").is_some());
    }
    // A minute later the IP may start sessions again, on any node.
    clock.advance_seconds(60);
    assert_eq!(start(&bases[1]).await.status, 201);
    for tx in stops {
        let _ = tx.send(());
    }
}
