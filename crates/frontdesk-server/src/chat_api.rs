//! The public chat API the website widget talks to (`/api/chat/*`).
//!
//! Every request but the health check names its site with `X-API-Key: pk_…`; a browser's
//! `Origin` must be one of the site's allowed origins. Session-scoped requests also carry the
//! session token issued when the session started.

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ApiQuery, ClientMeta};
use crate::http;
use crate::state::AppState;
use crate::token::SessionClaims;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::chat::StartSession;
use frontdesk_core::model::{
    AuthorKind, Conversation, Message, Rating, Reaction, Site, VisitorEvent, VisitorEventKind, WidgetConfig,
};
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{ConversationFilter, StoreError};
use frontdesk_core::{ConversationId, MessageId, Timestamp, VisitorEventId, VisitorId, keys};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use utoipa::{IntoParams, ToSchema};

/// Session activity is written back at most this often, so reads stay cheap.
const TOUCH_AFTER_MS: i64 = 60_000;
pub const API_KEY_HEADER: &str = "x-api-key";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/chat/health", get(health))
        .route("/api/chat/config", get(config))
        .route("/api/chat/session", post(start_session))
        .route("/api/chat/session/{id}", get(get_session))
        .route("/api/chat/session/{id}/end", post(end_session))
        .route("/api/chat/session/{id}/rate", post(rate_session))
        .route("/api/chat/message", post(send_message))
        .route("/api/chat/message/{id}/react", post(react))
        .route("/api/chat/history/{session_id}", get(history))
        .route("/api/chat/visitor/sessions", get(visitor_sessions))
        .route("/api/chat/events", post(record_event))
        .route("/api/chat/identify", post(crate::identity::identify))
}

/// Set by [`SiteCtx`] once it knows whether the site allows the request's Origin; read by the
/// CORS middleware after the handler ran. Unset means no site was resolved.
#[derive(Clone, Default)]
pub struct CorsDecision(pub Arc<OnceLock<bool>>);

/// The site named by `X-API-Key`, with the Origin checked against its allowlist.
pub struct SiteCtx {
    pub site: Arc<Site>,
}

impl FromRequestParts<AppState> for SiteCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(API_KEY_HEADER)
            .ok_or_else(|| ApiError::new(ErrorCode::MissingApiKey, "the X-API-Key header is required"))?;
        let invalid = || ApiError::new(ErrorCode::InvalidApiKey, "the X-API-Key header names no site");
        let key = key.to_str().map_err(|_| invalid())?.trim();
        if key.is_empty() {
            return Err(ApiError::new(ErrorCode::MissingApiKey, "the X-API-Key header is required"));
        }
        // Cheap shape check first: garbage (or a secret key pasted by mistake) never reaches the store.
        if !keys::is_public_key(key) {
            return Err(invalid());
        }
        let site = st.site_by_public_key(key).await?.ok_or_else(invalid)?;
        // No Origin means a server-to-server call, which the key alone authorizes.
        if let Some(origin) = parts.headers.get(header::ORIGIN) {
            let allowed =
                origin.to_str().is_ok_and(|o| frontdesk_core::origin::origin_allowed(&site.allowed_origins, o));
            if let Some(decision) = parts.extensions.get::<CorsDecision>() {
                let _ = decision.0.set(allowed);
            }
            if !allowed {
                return Err(ApiError::new(ErrorCode::OriginNotAllowed, "this origin may not use this site's widget"));
            }
        }
        Ok(SiteCtx { site })
    }
}

/// [`SiteCtx`] plus a session token with a genuine signature (which session it may act for is
/// checked by [`authorize`]).
pub struct SessionCtx {
    pub site: Arc<Site>,
    pub claims: SessionClaims,
}

impl FromRequestParts<AppState> for SessionCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let SiteCtx { site } = SiteCtx::from_request_parts(parts, st).await?;
        let invalid = || ApiError::new(ErrorCode::InvalidToken, "a valid session token is required");
        let token = http::header_str(&parts.headers, &header::AUTHORIZATION)
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(invalid)?;
        let claims = st.tokens.verify(token.trim()).ok_or_else(invalid)?;
        Ok(SessionCtx { site, claims })
    }
}

/// The session behind an id, once the token is shown to be for it and still live. Also keeps
/// the session alive (sliding expiry).
pub(crate) async fn authorize(st: &AppState, ctx: &SessionCtx, id: ConversationId) -> Result<Conversation, ApiError> {
    // Looked up through the key's site first, so another site's session is "not found" whatever
    // token comes with it; only then is the token compared with it.
    let mut conversation = st.chat.session(&ctx.site, id).await?;
    if ctx.claims.session_id != id || ctx.claims.site_id != conversation.site_id {
        return Err(ApiError::new(ErrorCode::InvalidToken, "the session token is for another session"));
    }
    let now = st.now();
    if ctx.claims.generation != conversation.token_generation || now >= expires_at(st, &conversation) {
        return Err(ApiError::new(ErrorCode::TokenExpired, "the session has expired; start a new one"));
    }
    if now.millis().saturating_sub(conversation.last_activity_at.millis()) >= TOUCH_AFTER_MS {
        st.chat.store.touch_conversation(id, now).await?;
        conversation.last_activity_at = now;
    }
    Ok(conversation)
}

fn expires_at(st: &AppState, c: &Conversation) -> Timestamp {
    c.last_activity_at.plus_seconds(st.session_ttl_secs())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`.
    pub status: String,
}

/// Liveness and database reachability; needs no key.
#[utoipa::path(get, path = "/api/chat/health", tag = "chat",
    responses(
        (status = 200, body = HealthResponse),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ))]
pub async fn health(State(st): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    st.chat.store.ping().await?;
    Ok(Json(HealthResponse { status: "ok".to_owned() }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigResponse {
    pub site_name: String,
    pub widget: WidgetConfig,
    /// A bot scenario greets new conversations: the widget opens its session when the visitor
    /// opens the panel, so the greeting is there at once.
    #[serde(default)]
    pub greets: bool,
}

/// The site's published widget configuration.
#[utoipa::path(get, path = "/api/chat/config", tag = "chat", security(("api_key" = [])),
    responses(
        (status = 200, body = ConfigResponse),
        (status = 401, description = "missing_api_key, invalid_api_key", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
    ))]
pub async fn config(State(st): State<AppState>, ctx: SiteCtx) -> Json<ConfigResponse> {
    let greets = st.flows.greets(&ctx.site).await;
    Json(ConfigResponse { site_name: ctx.site.name.clone(), widget: ctx.site.widget.clone(), greets })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StartSessionRequest {
    /// A visitor id from an earlier session on this site (kept by the widget); unknown ids get a new visitor.
    pub visitor_id: Option<VisitorId>,
    pub page_url: Option<String>,
    pub locale: Option<String>,
    /// Flat JSON object of host-page parameters (plan, user id, …).
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionCreated {
    pub session_id: ConversationId,
    /// Send as `Authorization: Bearer <token>` on this session's requests. Not stored by the server.
    pub session_token: String,
    pub visitor_id: VisitorId,
    pub status: ConversationStatus,
    /// When the token stops working if the visitor sends nothing; each request moves it on.
    pub expires_at: Timestamp,
}

/// Starts a session (a conversation) for a visitor.
#[utoipa::path(post, path = "/api/chat/session", tag = "chat", security(("api_key" = [])),
    request_body = StartSessionRequest,
    responses(
        (status = 201, body = SessionCreated),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "rate_limited (per client IP)", body = ErrorBody),
    ))]
pub async fn start_session(
    State(st): State<AppState>,
    ctx: SiteCtx,
    meta: ClientMeta,
    ApiJson(body): ApiJson<StartSessionRequest>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    if let Err(retry) = st.limits.sessions.hit(meta.ip_key()).await {
        return Err(rate_limited(retry.0));
    }
    let request =
        StartSession { visitor_id: body.visitor_id, page_url: body.page_url, locale: body.locale, params: body.params };
    let (mut conversation, visitor) = st.chat.start_session(&ctx.site, request).await?;
    // A scenario that greets new conversations has written its first messages before the
    // widget reads the history (and may have handed the conversation over already).
    if st.flows.conversation_started(&ctx.site, &conversation).await {
        conversation = st.chat.conversation(ctx.site.org_id, conversation.id).await?;
    }
    let session_token = st.tokens.sign(&SessionClaims {
        site_id: ctx.site.id,
        session_id: conversation.id,
        generation: conversation.token_generation,
        issued_at: st.now(),
    });
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            session_id: conversation.id,
            session_token,
            visitor_id: visitor.id,
            status: conversation.status,
            expires_at: expires_at(&st, &conversation),
        }),
    ))
}

fn rate_limited(retry_after: u64) -> ApiError {
    ApiError::new(ErrorCode::RateLimited, "too many requests; slow down").with_retry_after(retry_after)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub session_id: ConversationId,
    pub status: ConversationStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub rating: Option<Rating>,
    pub visitor_id: VisitorId,
    pub expires_at: Timestamp,
}

async fn session_view(st: &AppState, c: &Conversation) -> Result<SessionView, ApiError> {
    let rating = match st.chat.store.get_rating(c.id).await {
        Ok(r) => Some(r),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(SessionView {
        session_id: c.id,
        status: c.status,
        created_at: c.created_at,
        updated_at: c.updated_at,
        rating,
        visitor_id: c.visitor_id,
        expires_at: expires_at(st, c),
    })
}

/// The session's state.
#[utoipa::path(get, path = "/api/chat/session/{id}", tag = "chat", security(("api_key" = [], "session_token" = [])),
    params(("id" = ConversationId, Path, description = "The session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_session(
    State(st): State<AppState>,
    ctx: SessionCtx,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let conversation = authorize(&st, &ctx, parse_id(&id, "session")?).await?;
    Ok(Json(session_view(&st, &conversation).await?))
}

/// Ids come from the path as text so that a malformed one is simply "not found".
fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// Ends the session; it becomes read-only. Ending an ended session is not an error.
#[utoipa::path(post, path = "/api/chat/session/{id}/end", tag = "chat", security(("api_key" = [], "session_token" = [])),
    params(("id" = ConversationId, Path, description = "The session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn end_session(
    State(st): State<AppState>,
    ctx: SessionCtx,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let id = parse_id(&id, "session")?;
    authorize(&st, &ctx, id).await?;
    let conversation = st.chat.end_session(&ctx.site, id).await?;
    Ok(Json(session_view(&st, &conversation).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendMessageRequest {
    pub session_id: ConversationId,
    /// Markdown, at most 4000 characters.
    pub content: String,
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SendMessageResponse {
    pub message: Message,
    /// The assistant's answer, when one is produced synchronously (none yet).
    pub reply: Option<Message>,
    pub session_status: ConversationStatus,
}

/// A visitor's message.
#[utoipa::path(post, path = "/api/chat/message", tag = "chat", security(("api_key" = [], "session_token" = [])),
    request_body = SendMessageRequest,
    responses(
        (status = 200, body = SendMessageResponse),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conversation_closed", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "rate_limited (per session)", body = ErrorBody),
    ))]
pub async fn send_message(
    State(st): State<AppState>,
    ctx: SessionCtx,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<Json<SendMessageResponse>, ApiError> {
    let conversation = authorize(&st, &ctx, body.session_id).await?;
    if let Err(retry) = st.limits.messages.hit(&body.session_id.to_string()).await {
        return Err(rate_limited(retry.0));
    }
    let turn =
        st.chat.visitor_turn(&ctx.site, conversation, &body.content, body.params.as_ref(), &*st.answerer).await?;
    if let Some(error) = &turn.unrecorded_question {
        tracing::warn!(%error, conversation_id = %body.session_id, "a declined question was not kept for the gap report");
    }
    // Committed: this node's sockets get them without reading them back.
    st.hub.handoff(&turn.message);
    st.metrics.record_message(turn.message.author_kind.as_str());
    if let Some(reply) = &turn.reply {
        st.hub.handoff(reply);
        st.metrics.record_message(reply.author_kind.as_str());
    }
    Ok(Json(SendMessageResponse { message: turn.message, reply: turn.reply, session_status: turn.conversation.status }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages with a greater sequence number (default 0: from the start).
    pub after_seq: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    /// In sequence order; at most 500 per page.
    pub messages: Vec<Message>,
}

/// The session's messages, in order.
#[utoipa::path(get, path = "/api/chat/history/{session_id}", tag = "chat", security(("api_key" = [], "session_token" = [])),
    params(("session_id" = ConversationId, Path, description = "The session id"), HistoryQuery),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn history(
    State(st): State<AppState>,
    ctx: SessionCtx,
    Path(session_id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let id = parse_id(&session_id, "session")?;
    authorize(&st, &ctx, id).await?;
    let messages = st.chat.history(&ctx.site, id, query.after_seq.unwrap_or(0)).await?;
    Ok(Json(HistoryResponse { messages }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RateRequest {
    /// 1 to 5.
    pub stars: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    pub feedback: Option<String>,
}

/// Rates the session, once.
#[utoipa::path(post, path = "/api/chat/session/{id}/rate", tag = "chat", security(("api_key" = [], "session_token" = [])),
    params(("id" = ConversationId, Path, description = "The session id")),
    request_body = RateRequest,
    responses(
        (status = 201, body = Rating),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "already_rated", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn rate_session(
    State(st): State<AppState>,
    ctx: SessionCtx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RateRequest>,
) -> Result<(StatusCode, Json<Rating>), ApiError> {
    let id = parse_id(&id, "session")?;
    authorize(&st, &ctx, id).await?;
    let rating =
        st.chat.rate(&ctx.site, id, body.stars, &body.tags, body.feedback.as_deref()).await.map_err(|e| match e {
            frontdesk_core::CoreError::Conflict(_) => {
                ApiError::new(ErrorCode::AlreadyRated, "this session has been rated already")
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(rating)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactRequest {
    pub session_id: ConversationId,
    /// `up`, `down`, or null to clear.
    pub reaction: Option<Reaction>,
}

/// Thumbs up or down on an assistant or bot message.
#[utoipa::path(post, path = "/api/chat/message/{id}/react", tag = "chat", security(("api_key" = [], "session_token" = [])),
    params(("id" = MessageId, Path, description = "The message id")),
    request_body = ReactRequest,
    responses(
        (status = 200, body = Message),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field (only assistant and bot messages take reactions)", body = ErrorBody),
    ))]
pub async fn react(
    State(st): State<AppState>,
    ctx: SessionCtx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReactRequest>,
) -> Result<Json<Message>, ApiError> {
    authorize(&st, &ctx, body.session_id).await?;
    let message_id: MessageId = parse_id(&id, "message")?;
    let message = st.chat.react(&ctx.site, body.session_id, message_id, body.reaction).await?;
    Ok(Json(message))
}

/// How many of a visitor's sessions the history view lists.
const VISITOR_SESSIONS_LIMIT: u32 = 50;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LastMessage {
    pub author_kind: AuthorKind,
    /// The Markdown source.
    pub body: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VisitorSession {
    pub session_id: ConversationId,
    pub status: ConversationStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message: Option<LastMessage>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VisitorSessionsResponse {
    /// Newest first; at most 50.
    pub sessions: Vec<VisitorSession>,
}

/// The sessions of the token's visitor on this site (for the widget's history view), and of the
/// same person's other devices when the visitor's user id is verified. Lists them only: no tokens
/// for the other sessions are handed out.
#[utoipa::path(get, path = "/api/chat/visitor/sessions", tag = "chat", security(("api_key" = [], "session_token" = [])),
    responses(
        (status = 200, body = VisitorSessionsResponse),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn visitor_sessions(
    State(st): State<AppState>,
    ctx: SessionCtx,
) -> Result<Json<VisitorSessionsResponse>, ApiError> {
    // The token's own session names the visitor; another site's session is "not found".
    let current = authorize(&st, &ctx, ctx.claims.session_id).await?;
    // The person's other devices count only through a verified user id: an email or an
    // unverified id anyone can type never opens someone else's history.
    let visitor = st.chat.store.get_visitor(ctx.site.id, current.visitor_id).await?;
    let visitors = match visitor.user_id.as_deref().filter(|_| visitor.verified) {
        Some(user_id) => st.chat.store.verified_visitors(ctx.site.id, user_id).await?,
        None => vec![current.visitor_id],
    };
    let mut conversations = Vec::new();
    for visitor_id in visitors {
        let filter = ConversationFilter {
            site_id: Some(ctx.site.id),
            visitor_id: Some(visitor_id),
            limit: VISITOR_SESSIONS_LIMIT,
            ..ConversationFilter::default()
        };
        conversations.extend(st.chat.store.list_conversations(ctx.site.org_id, &filter).await?);
    }
    conversations.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    conversations.truncate(usize::try_from(VISITOR_SESSIONS_LIMIT).unwrap_or(usize::MAX));
    let mut sessions = Vec::with_capacity(conversations.len());
    for c in conversations {
        let last =
            if c.last_seq > 0 { st.chat.store.list_messages(c.id, c.last_seq - 1, 1).await? } else { Vec::new() };
        sessions.push(VisitorSession {
            session_id: c.id,
            status: c.status,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_message: last.into_iter().next().map(|m| LastMessage {
                author_kind: m.author_kind,
                body: m.body,
                created_at: m.created_at,
            }),
        });
    }
    Ok(Json(VisitorSessionsResponse { sessions }))
}

const EVENT_URL_MAX: usize = 2048;
const EVENT_TITLE_MAX: usize = 300;
const EVENT_NAME_MAX: usize = 100;
const EVENT_PROPS_MAX_BYTES: usize = 2048;

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventRequest {
    pub session_id: ConversationId,
    pub kind: VisitorEventKind,
    /// http(s), at most 2048 characters.
    pub url: Option<String>,
    /// At most 300 characters.
    pub title: Option<String>,
    /// At most 2048 characters.
    pub referrer: Option<String>,
    /// The conversion's name (required for `conversion`), at most 100 characters.
    pub name: Option<String>,
    /// A flat JSON object (no nested objects or arrays), at most 2 KB serialized.
    #[schema(value_type = Option<Object>)]
    pub props: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventAccepted {}

/// Trimmed text, `None` when blank; 422 on `field` when longer than `max` characters.
fn event_text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if text.chars().count() > max {
        return Err(ApiError::invalid_field(Some(field.to_owned()), format!("{field}: at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            Some(field.to_owned()),
            format!("{field}: control characters are not allowed"),
        ));
    }
    Ok(Some(text))
}

fn event_url(value: Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    let url = event_text(value, field, EVENT_URL_MAX)?;
    if let Some(u) = &url {
        let lower = u.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            return Err(ApiError::invalid_field(Some(field.to_owned()), format!("{field}: must be an http(s) URL")));
        }
    }
    Ok(url)
}

fn event_props(value: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    let invalid = |m: &str| ApiError::invalid_field(Some("props".to_owned()), format!("props: {m}"));
    let props = match value {
        None | Some(serde_json::Value::Null) => return Ok(serde_json::Value::Object(serde_json::Map::new())),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(invalid("must be a JSON object")),
    };
    if props.values().any(|v| v.is_object() || v.is_array()) {
        return Err(invalid("must be flat (no nested objects or arrays)"));
    }
    let props = serde_json::Value::Object(props);
    if props.to_string().len() > EVENT_PROPS_MAX_BYTES {
        return Err(invalid("at most 2 KB"));
    }
    Ok(props)
}

/// A page view or conversion from the widget, stored for the visitor's insights.
#[utoipa::path(post, path = "/api/chat/events", tag = "chat", security(("api_key" = [], "session_token" = [])),
    request_body = EventRequest,
    responses(
        (status = 202, body = EventAccepted),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "rate_limited (per session)", body = ErrorBody),
    ))]
pub async fn record_event(
    State(st): State<AppState>,
    ctx: SessionCtx,
    ApiJson(body): ApiJson<EventRequest>,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let conversation = authorize(&st, &ctx, body.session_id).await?;
    // Its own key space: page views never eat into the visitor's message allowance.
    if let Err(retry) = st.limits.events.hit(&format!("events:{}", body.session_id)).await {
        return Err(rate_limited(retry.0));
    }
    let url = event_url(body.url, "url")?;
    let referrer = event_text(body.referrer, "referrer", EVENT_URL_MAX)?;
    let title = event_text(body.title, "title", EVENT_TITLE_MAX)?;
    let name = event_text(body.name, "name", EVENT_NAME_MAX)?;
    if body.kind == VisitorEventKind::Conversion && name.is_none() {
        return Err(ApiError::invalid_field(Some("name".to_owned()), "name: a conversion needs a name"));
    }
    let props = event_props(body.props)?;
    let event = VisitorEvent {
        id: VisitorEventId::generate(&*st.chat.clock, &*st.chat.entropy),
        site_id: ctx.site.id,
        visitor_id: conversation.visitor_id,
        conversation_id: Some(conversation.id),
        kind: body.kind,
        url,
        title,
        referrer,
        name,
        props,
        created_at: st.now(),
    };
    st.chat.store.append_visitor_event(&event).await?;
    Ok((StatusCode::ACCEPTED, Json(EventAccepted {})))
}
