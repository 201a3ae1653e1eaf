//! The private app API the agents' dashboard uses (`/api/app/*`): cookie sessions, organization
//! scoping, role permissions and the audit log.
//!
//! Tenant rule: anything of an organization the agent is not a member of is "not found", never
//! "forbidden"; "forbidden" only ever means "your role in this organization may not".

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ClientMeta};
use crate::http;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::audit::AuditEvent;
use frontdesk_core::model::{
    AssistantSettings, Conversation, LoginSession, Membership, Message, ProviderSettings, REDACTED, Site, User,
    WidgetConfig,
};
use frontdesk_core::roles::{Permission, Role};
use frontdesk_core::status::StatusEvent;
use frontdesk_core::store::StoreError;
use frontdesk_core::{AuditEventId, ConversationId, OrgId, SiteId, UserId, keys, validate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Login activity is written back at most this often.
const TOUCH_AFTER_MS: i64 = 60_000;
/// The window of the per-account failure limit.
pub const LOGIN_FAILURE_WINDOW_SECS: u64 = 15 * 60;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/login", post(login))
        .route("/api/app/logout", post(logout))
        .route("/api/app/me", get(me))
        .route("/api/app/orgs/{org_id}/conversations/{id}/messages", post(reply))
        .route("/api/app/orgs/{org_id}/conversations/{id}/status", post(change_status))
        .route("/api/app/orgs/{org_id}/sites", get(list_sites).post(create_site))
        .route("/api/app/orgs/{org_id}/sites/{site_id}", get(get_site).patch(update_site))
}

/// A logged-in agent, from the `fd_session` cookie.
pub struct Agent {
    pub user: User,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let unauthenticated = || ApiError::new(ErrorCode::NotAuthenticated, "log in first");
        let token = http::cookie(&parts.headers, http::SESSION_COOKIE).ok_or_else(unauthenticated)?;
        let token_hash = keys::hash_token(token);
        let session = match st.chat.store.get_login_session(&token_hash).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(unauthenticated()),
            Err(e) => return Err(e.into()),
        };
        let now = st.now();
        if now >= session.expires_at {
            return Err(unauthenticated());
        }
        if now.millis().saturating_sub(session.last_seen_at.millis()) >= TOUCH_AFTER_MS {
            let expires_at = now.plus_seconds(st.login_ttl_secs());
            st.chat.store.touch_login_session(&token_hash, now, expires_at).await?;
        }
        let user = match st.chat.store.get_user(session.user_id).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(unauthenticated()),
            Err(e) => return Err(e.into()),
        };
        Ok(Agent { user })
    }
}

/// An agent acting in one organization (`{org_id}` in the path) they are a member of.
pub struct OrgMember {
    pub user: User,
    pub membership: Membership,
}

impl OrgMember {
    pub fn org_id(&self) -> OrgId {
        self.membership.org_id
    }

    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.membership.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Forbidden, "your role in this organization does not allow this"))
        }
    }
}

impl FromRequestParts<AppState> for OrgMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let Agent { user } = Agent::from_request_parts(parts, st).await?;
        let params =
            RawPathParams::from_request_parts(parts, st).await.map_err(|_| ApiError::not_found("organization"))?;
        let org_id: OrgId = params
            .iter()
            .find(|(name, _)| *name == "org_id")
            .and_then(|(_, value)| value.parse().ok())
            .ok_or_else(|| ApiError::not_found("organization"))?;
        let membership = match st.chat.store.get_membership(org_id, user.id).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Err(ApiError::not_found("organization")),
            Err(e) => return Err(e.into()),
        };
        Ok(OrgMember { user, membership })
    }
}

pub(crate) fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// Appends to the audit log. A failure is logged, not returned: the action it describes has
/// already been committed and the caller must learn that it was.
pub(crate) async fn audit(
    st: &AppState,
    org_id: OrgId,
    actor: Option<UserId>,
    action: &str,
    target: (&str, String),
    meta: &ClientMeta,
    details: serde_json::Value,
) {
    let event = AuditEvent {
        id: AuditEventId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id,
        actor_id: actor,
        action: action.to_owned(),
        target_kind: target.0.to_owned(),
        target_id: target.1,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        details,
        created_at: st.now(),
    };
    if let Err(e) = st.chat.store.append_audit(&event).await {
        tracing::error!(error = %e, action, "could not write an audit event");
    }
}

/// Audits an account-level action once in every organization the user belongs to.
pub(crate) async fn audit_user(st: &AppState, user: &User, action: &str, meta: &ClientMeta) -> Result<(), ApiError> {
    for m in st.chat.store.list_memberships_of_user(user.id).await? {
        audit(st, m.org_id, Some(user.id), action, ("user", user.id.to_string()), meta, serde_json::json!({})).await;
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
    /// The six-digit code, for accounts with two-factor login.
    #[serde(default)]
    pub totp: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).field("password", &"<redacted>").finish()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    pub org_id: OrgId,
    pub org_name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    pub memberships: Vec<MembershipView>,
}

pub(crate) async fn me_response(st: &AppState, user: User) -> Result<MeResponse, ApiError> {
    let mut memberships = Vec::new();
    for m in st.chat.store.list_memberships_of_user(user.id).await? {
        let org = st.chat.store.get_org(m.org_id).await?;
        memberships.push(MembershipView { org_id: org.id, org_name: org.name, role: m.role });
    }
    Ok(MeResponse { user, memberships })
}

/// Logs in with email and password; sets the `fd_session` cookie.
#[utoipa::path(post, path = "/api/app/login", tag = "app",
    request_body = LoginRequest,
    responses(
        (status = 200, body = MeResponse, headers(("Set-Cookie" = String, description = "fd_session=…; HttpOnly; SameSite=Lax"))),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "invalid_credentials, totp_required (send the authenticator code as `totp`)", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "rate_limited (per IP), account_locked (too many failures)", body = ErrorBody),
    ))]
pub async fn login(
    State(st): State<AppState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    if let Err(retry) = st.limits.logins.hit(meta.ip_key()).await {
        return Err(
            ApiError::new(ErrorCode::RateLimited, "too many login attempts; slow down").with_retry_after(retry.0)
        );
    }
    // Capped: the address is a limiter key, and no real address is longer (RFC 5321 says 254).
    let email: String = body.email.trim().to_lowercase().chars().take(320).collect();
    if let Err(retry) = st.limits.login_failures.peek(&email).await {
        return Err(ApiError::new(
            ErrorCode::AccountLocked,
            "too many failed logins for this account; try again later",
        )
        .with_retry_after(retry.0));
    }
    let user = match st.chat.store.get_user_by_email(&email).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    // Unknown accounts are checked against a dummy hash so both failures take as long.
    let hash = user.as_ref().map_or_else(|| st.dummy_password_hash.clone(), |u| u.password_hash.clone());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || crate::admin::verify_password(&hash, &password))
        .await
        .map_err(|_| ApiError::internal())?;
    let user = match user {
        Some(u) if matches => u,
        other => {
            let _ = st.limits.login_failures.hit(&email).await;
            if let Some(u) = other {
                audit_user(&st, &u, "user.login_failed", &meta).await?;
            }
            return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong email or password"));
        }
    };
    if let Some(totp) = st.chat.store.get_totp(user.id).await?.filter(|t| t.enabled) {
        let Some(code) = body.totp.as_deref() else {
            // The password was right: asking for the code is not a failure.
            return Err(ApiError::new(ErrorCode::TotpRequired, "enter the code from your authenticator app"));
        };
        let step = crate::totp::matching_step(&totp.secret, code, st.now().unix_seconds());
        let fresh = match step {
            Some(step) => st.chat.store.use_totp_step(user.id, step).await?,
            None => false,
        };
        if !fresh {
            let _ = st.limits.login_failures.hit(&email).await;
            audit_user(&st, &user, "user.login_failed", &meta).await?;
            return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong or already used code"));
        }
    }

    audit_user(&st, &user, "user.login", &meta).await?;
    start_login(&st, user, &meta).await
}

/// Starts a login session for `user`: the response carries the cookie and the `me` body.
pub(crate) async fn start_login(st: &AppState, user: User, meta: &ClientMeta) -> Result<Response, ApiError> {
    let token = keys::new_opaque_token(&*st.chat.entropy);
    let now = st.now();
    let session = LoginSession {
        token_hash: keys::hash_token(&token),
        user_id: user.id,
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(st.login_ttl_secs()),
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
    };
    st.chat.store.create_login_session(&session).await?;
    let cookie = http::session_cookie(&token, st.config.login_ttl_secs, st.secure_cookies);
    let body = me_response(st, user).await?;
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
    Ok(response)
}

/// Logs out: ends the login session and clears the cookie. Idempotent.
#[utoipa::path(post, path = "/api/app/logout", tag = "app", security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out (or was not logged in)"),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
    ))]
pub async fn logout(
    State(st): State<AppState>,
    meta: ClientMeta,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = http::cookie(&headers, http::SESSION_COOKIE) {
        let token_hash = keys::hash_token(token);
        match st.chat.store.get_login_session(&token_hash).await {
            Ok(session) => {
                st.chat.store.delete_login_session(&token_hash).await?;
                if let Ok(user) = st.chat.store.get_user(session.user_id).await {
                    audit_user(&st, &user, "user.logout", &meta).await?;
                }
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let cookie = http::session_cookie("", 0, st.secure_cookies);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
    Ok(response)
}

/// The logged-in agent and their organizations.
#[utoipa::path(get, path = "/api/app/me", tag = "app", security(("session_cookie" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "not_authenticated", body = ErrorBody),
    ))]
pub async fn me(State(st): State<AppState>, agent: Agent) -> Result<Json<MeResponse>, ApiError> {
    Ok(Json(me_response(&st, agent.user).await?))
}

pub(crate) fn optional<T>(r: Result<T, StoreError>) -> Result<Option<T>, ApiError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// Markdown, at most 4000 characters.
    pub content: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplyResponse {
    pub message: Message,
    pub conversation: Conversation,
}

/// An agent's reply; the conversation becomes escalated (a human has it).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/messages", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    request_body = ReplyRequest,
    responses(
        (status = 201, body = ReplyResponse),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conversation_closed, conflict", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn reply(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReplyRequest>,
) -> Result<(StatusCode, Json<ReplyResponse>), ApiError> {
    member.require(Permission::HandleConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    let (message, conversation) = st.chat.agent_reply(member.org_id(), member.user.id, id, &body.content).await?;
    // A person has the conversation now: a scenario waiting on the visitor stops.
    st.flows.end(member.org_id(), id).await;
    // The author has read everything up to their own reply.
    st.chat.store.mark_read(member.org_id(), id, member.user.id, message.seq).await?;
    // Committed: this node's sockets get it without reading it back.
    st.hub.handoff(&message);
    st.metrics.record_message(message.author_kind.as_str());
    let details = serde_json::json!({ "message_id": message.id, "seq": message.seq });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "conversation.reply",
        ("conversation", id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok((StatusCode::CREATED, Json(ReplyResponse { message, conversation })))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    Escalate,
    Resolve,
    Reopen,
    Close,
}

impl StatusAction {
    fn event(self) -> StatusEvent {
        match self {
            Self::Escalate => StatusEvent::Escalate,
            Self::Resolve => StatusEvent::Resolve,
            Self::Reopen => StatusEvent::Reopen,
            Self::Close => StatusEvent::Close,
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Self::Escalate => "conversation.escalate",
            Self::Resolve => "conversation.resolve",
            Self::Reopen => "conversation.reopen",
            Self::Close => "conversation.close",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusRequest {
    pub action: StatusAction,
}

/// Escalates, resolves, reopens or closes a conversation.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/status", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    request_body = StatusRequest,
    responses(
        (status = 200, body = Conversation),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (not allowed from the current status), conversation_closed", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn change_status(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<Json<Conversation>, ApiError> {
    member.require(Permission::HandleConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    let conversation = st.chat.change_status(member.org_id(), id, body.action.event()).await?;
    let details = serde_json::json!({ "status": conversation.status });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        body.action.audit_action(),
        ("conversation", id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok(Json(conversation))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SiteList {
    pub sites: Vec<Site>,
}

/// The organization's sites (never their secrets).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = SiteList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_sites(State(st): State<AppState>, member: OrgMember) -> Result<Json<SiteList>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let sites = st.chat.store.list_sites(member.org_id()).await?;
    Ok(Json(SiteList { sites: sites.iter().map(Site::redacted).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSiteRequest {
    pub name: String,
    /// Origins such as `https://shop.example.com` or patterns such as `*.example.com`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub widget: Option<WidgetConfig>,
}

/// Creates a site with fresh keys.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = CreateSiteRequest,
    responses(
        (status = 201, body = Site),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn create_site(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CreateSiteRequest>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    member.require(Permission::ManageSites)?;
    let widget = body.widget.unwrap_or_default();
    let site =
        crate::admin::create_site_with_widget(&st.chat, member.org_id(), &body.name, &body.allowed_origins, widget)
            .await?;
    st.sites.invalidate();
    let details = serde_json::json!({ "name": site.name, "allowed_origins": site.allowed_origins });
    audit(&st, member.org_id(), Some(member.user.id), "site.create", ("site", site.id.to_string()), &meta, details)
        .await;
    Ok((StatusCode::CREATED, Json(site.redacted())))
}

/// One site (never its secret).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites/{site_id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = Site),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_site(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<Site>, ApiError> {
    let site = org_site(&st, &member, &site_id, Permission::ReadConversations).await?;
    Ok(Json(site.redacted()))
}

/// A site of the member's organization (another organization's is "not found"), when their role
/// has `permission`.
pub(crate) async fn org_site(
    st: &AppState,
    member: &OrgMember,
    site_id: &str,
    permission: Permission,
) -> Result<Site, ApiError> {
    member.require(permission)?;
    let site_id: SiteId = parse_id(site_id, "site")?;
    st.chat.store.get_site(member.org_id(), site_id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("site"),
        other => other.into(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSiteRequest {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub widget: Option<WidgetConfig>,
    /// The AI assistant's settings. An `api_key` equal to the mask responses show keeps the stored key.
    pub assistant: Option<AssistantSettings>,
    /// Refuse `identify` without a valid `user_hash`; link history across devices only by a
    /// verified user id.
    pub require_verified_identity: Option<bool>,
    /// Days after their last activity that conversations are deleted (1–3650); `null` keeps
    /// them until erased by hand. Absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub retention_days: Option<Option<u32>>,
}

/// A field that is present (even as `null`) is `Some`: tells "clear it" from "leave it".
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Changes a site's name, allowed origins, assistant configuration, or its widget *draft*
/// (`POST …/widget/publish` makes the draft what widgets show).
#[utoipa::path(patch, path = "/api/app/orgs/{org_id}/sites/{site_id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    request_body = UpdateSiteRequest,
    responses(
        (status = 200, body = Site),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn update_site(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateSiteRequest>,
) -> Result<Json<Site>, ApiError> {
    let mut site = org_site(&st, &member, &site_id, Permission::ManageSites).await?;
    let mut changed = Vec::new();
    if let Some(name) = body.name {
        site.name = validate::short_text("name", &name, crate::admin::MAX_NAME_CHARS)?;
        changed.push("name");
    }
    if let Some(origins) = body.allowed_origins {
        site.allowed_origins = crate::admin::parse_allowed_origins(&origins)?;
        changed.push("allowed_origins");
    }
    if let Some(widget) = body.widget {
        // The dashboard edits a draft; widgets keep reading the published one until publish.
        site.widget_draft = Some(crate::site_api::validated_widget(&st, member.org_id(), widget).await?);
        changed.push("widget_draft");
    }
    if let Some(required) = body.require_verified_identity {
        site.require_verified_identity = required;
        changed.push("require_verified_identity");
    }
    if let Some(days) = body.retention_days {
        site.retention_days = frontdesk_core::privacy::validate_retention(days)?;
        changed.push("retention_days");
    }
    if let Some(mut assistant) = body.assistant {
        validate_assistant(&assistant)?;
        keep_masked_api_key(&site.assistant.provider, &mut assistant.provider);
        site.assistant = assistant;
        changed.push("assistant");
    }
    site.updated_at = st.now();
    st.chat.store.update_site(&site).await?;
    st.sites.invalidate();
    let details = serde_json::json!({ "fields": changed });
    audit(&st, member.org_id(), Some(member.user.id), "site.update", ("site", site.id.to_string()), &meta, details)
        .await;
    Ok(Json(site.redacted()))
}

fn invalid_assistant(field: &str, message: impl Into<String>) -> ApiError {
    frontdesk_core::CoreError::Invalid { field: format!("assistant.{field}"), message: message.into() }.into()
}

/// Settings the assistant could not work with are refused up front, not discovered by a visitor.
fn validate_assistant(a: &AssistantSettings) -> Result<(), ApiError> {
    if let Err(bad) = frontdesk_assistant::validate_keywords(&a.escalation_keywords) {
        return Err(invalid_assistant("escalation_keywords", bad.join("; ")));
    }
    if !(0.0..=2.0).contains(&a.temperature) {
        return Err(invalid_assistant("temperature", "between 0 and 2"));
    }
    if !(1..=16_384).contains(&a.max_tokens) {
        return Err(invalid_assistant("max_tokens", "between 1 and 16384"));
    }
    if a.system_prompt.chars().count() > 8_000 {
        return Err(invalid_assistant("system_prompt", "at most 8000 characters"));
    }
    if a.welcome_message.chars().count() > validate::MAX_MESSAGE_CHARS {
        return Err(invalid_assistant("welcome_message", "at most 4000 characters"));
    }
    if let ProviderSettings::Openai { base_url, model, .. } = &a.provider {
        if http::url_origin(base_url).is_none() {
            return Err(invalid_assistant(
                "provider.base_url",
                "an absolute http(s) URL such as https://api.openai.com/v1",
            ));
        }
        if model.trim().is_empty() {
            return Err(invalid_assistant("provider.model", "name the model"));
        }
    }
    Ok(())
}

/// A client that read the site back sees the key masked; sending the mask again means "unchanged".
fn keep_masked_api_key(stored: &ProviderSettings, incoming: &mut ProviderSettings) {
    if let (
        ProviderSettings::Openai { api_key: Some(old), .. },
        ProviderSettings::Openai { api_key: new @ Some(_), .. },
    ) = (stored, incoming)
        && new.as_deref() == Some(REDACTED)
    {
        *new = Some(old.clone());
    }
}
