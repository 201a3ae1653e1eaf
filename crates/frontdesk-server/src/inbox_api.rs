//! The agents' inbox in the private API: the filtered conversation list, one conversation with
//! its notes, assignment, read marks, private notes, the visitor panel and canned responses.

use crate::app_api::{OrgMember, audit, optional, parse_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, ClientMeta};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use frontdesk_core::chat::HISTORY_PAGE;
use frontdesk_core::inbox::{AssigneeFilter, CannedResponse, InboxCursor, InboxFilter, InboxItem, Note};
use frontdesk_core::model::{Conversation, Message, Rating, Visitor, VisitorEvent, VisitorEventKind};
use frontdesk_core::roles::Permission;
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{ConversationFilter, StoreError};
use frontdesk_core::{CannedResponseId, ConversationId, NoteId, OrgId, SiteId, UserId, markdown, validate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/conversations", get(list_conversations))
        .route("/api/app/orgs/{org_id}/conversations/summary", get(summary))
        .route("/api/app/orgs/{org_id}/conversations/{id}", get(get_conversation))
        .route("/api/app/orgs/{org_id}/conversations/{id}/assign", post(assign))
        .route("/api/app/orgs/{org_id}/conversations/{id}/read", post(mark_read))
        .route("/api/app/orgs/{org_id}/conversations/{id}/revoke-tokens", post(revoke_tokens))
        .route("/api/app/orgs/{org_id}/conversations/{id}/notes", post(create_note))
        .route("/api/app/orgs/{org_id}/conversations/{id}/visitor", get(visitor_panel))
        .route("/api/app/orgs/{org_id}/canned-responses", get(list_canned).post(create_canned))
        .route("/api/app/orgs/{org_id}/canned-responses/{id}", put(update_canned).delete(delete_canned))
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
const MAX_SEARCH_CHARS: usize = 200;
const MAX_NOTE_CHARS: usize = 4_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `active`, `escalated`, `resolved` or `closed`.
    pub status: Option<String>,
    pub site_id: Option<String>,
    /// `me`, `unassigned`, `anyone` (the default) or a user id.
    pub assignee: Option<String>,
    /// Only conversations rated with at least this many stars (1–5).
    pub rating_min: Option<u8>,
    /// Only conversations rated with at most this many stars (1–5): `2` lists the low-rated ones.
    pub rating_max: Option<u8>,
    /// Full-text search over the messages (all words must appear; the last may be a prefix).
    pub q: Option<String>,
    /// `newest` (most recently updated first, the default) or `oldest` (longest in their status
    /// first: the escalation queue).
    pub sort: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The next page: the `next_cursor` of the previous answer, with the same filters and sort.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<InboxItem>,
    /// Present when the page is full: pass it as `cursor` for the conversations after this page.
    /// Opaque; a conversation updated meanwhile moves to the top of the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn field(name: &str, message: &str) -> ApiError {
    ApiError::invalid_field(Some(name.to_owned()), message)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn stars(value: Option<u8>, name: &str) -> Result<Option<u8>, ApiError> {
    match value {
        Some(n @ 1..=5) => Ok(Some(n)),
        Some(_) => Err(field(name, "between 1 and 5")),
        None => Ok(None),
    }
}

impl ConversationQuery {
    fn filter(&self, viewer: UserId) -> Result<InboxFilter, ApiError> {
        let status = match non_empty(&self.status) {
            Some(s) => Some(
                ConversationStatus::parse(s)
                    .ok_or_else(|| field("status", "one of active, escalated, resolved, closed"))?,
            ),
            None => None,
        };
        let site_id = match non_empty(&self.site_id) {
            Some(s) => Some(s.parse::<SiteId>().map_err(|_| field("site_id", "not a site id"))?),
            None => None,
        };
        let assignee = match non_empty(&self.assignee) {
            None | Some("anyone") => AssigneeFilter::Anyone,
            Some("me") => AssigneeFilter::User(viewer),
            Some("unassigned") => AssigneeFilter::Unassigned,
            Some(id) => {
                AssigneeFilter::User(id.parse().map_err(|_| field("assignee", "me, unassigned, anyone or a user id"))?)
            }
        };
        let oldest_first = match non_empty(&self.sort) {
            None | Some("newest") => false,
            Some("oldest") => true,
            Some(_) => return Err(field("sort", "newest or oldest")),
        };
        let text = non_empty(&self.q).map(str::to_owned);
        if text.as_ref().is_some_and(|t| t.chars().count() > MAX_SEARCH_CHARS) {
            return Err(field("q", "at most 200 characters"));
        }
        Ok(InboxFilter {
            status,
            site_id,
            assignee,
            rating_min: stars(self.rating_min, "rating_min")?,
            rating_max: stars(self.rating_max, "rating_max")?,
            text,
            oldest_first,
            limit: self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
            after: match non_empty(&self.cursor) {
                Some(c) => Some(InboxCursor::parse(c).ok_or_else(|| field("cursor", "not a cursor of this list"))?),
                None => None,
            },
        })
    }
}

/// The inbox: the organization's conversations with their visitor, newest message, rating and
/// unread count, filtered.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/conversations", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ConversationQuery),
    responses(
        (status = 200, body = ConversationList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn list_conversations(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(q): ApiQuery<ConversationQuery>,
) -> Result<Json<ConversationList>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let filter = q.filter(member.user.id)?;
    let conversations = st.chat.store.inbox(member.org_id(), member.user.id, &filter).await?;
    let full = conversations.len() >= filter.limit as usize;
    let next_cursor =
        conversations.last().filter(|_| full).map(|last| InboxCursor::after(last, filter.oldest_first).encode());
    Ok(Json(ConversationList { conversations, next_cursor }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboxSummary {
    /// Conversations waiting for a person.
    pub escalated: u32,
    /// Open (active or escalated) conversations nobody is assigned to.
    pub unassigned: u32,
    /// Open conversations assigned to the caller.
    pub mine: u32,
    /// Open conversations with messages the caller has not read.
    pub unread_conversations: u32,
}

/// Counts for the dashboard's badges (each counted up to 200).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/conversations/summary", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = InboxSummary),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn summary(State(st): State<AppState>, member: OrgMember) -> Result<Json<InboxSummary>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let (org, me) = (member.org_id(), member.user.id);
    let open = |status| InboxFilter { status: Some(status), limit: MAX_PAGE, ..Default::default() };
    let mut items = st.chat.store.inbox(org, me, &open(ConversationStatus::Active)).await?;
    let escalated_items = st.chat.store.inbox(org, me, &open(ConversationStatus::Escalated)).await?;
    let escalated = escalated_items.len();
    items.extend(escalated_items);
    let count =
        |pred: &dyn Fn(&InboxItem) -> bool| u32::try_from(items.iter().filter(|i| pred(i)).count()).unwrap_or(0);
    Ok(Json(InboxSummary {
        escalated: u32::try_from(escalated).unwrap_or(0),
        unassigned: count(&|i| i.conversation.assignee_id.is_none()),
        mine: count(&|i| i.conversation.assignee_id == Some(me)),
        unread_conversations: count(&|i| i.unread > 0),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    /// In sequence order (the first 500).
    pub messages: Vec<Message>,
    pub visitor: Option<Visitor>,
    pub rating: Option<Rating>,
    /// Private notes, oldest first: the visitor never sees them.
    pub notes: Vec<Note>,
    /// The bot scenario the conversation ran or runs, with what it collected.
    pub flow: Option<crate::scenario_api::ConversationFlow>,
}

/// One conversation with its messages, visitor, rating and private notes.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/conversations/{id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    responses(
        (status = 200, body = ConversationDetail),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_conversation(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ConversationDetail>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let conversation = st.chat.conversation(member.org_id(), parse_id(&id, "conversation")?).await?;
    let store = &st.chat.store;
    let messages = store.list_messages(conversation.id, 0, HISTORY_PAGE).await?;
    let visitor = optional(store.get_visitor(conversation.site_id, conversation.visitor_id).await)?;
    let rating = optional(store.get_rating(conversation.id).await)?;
    let notes = store.list_notes(member.org_id(), conversation.id).await?;
    let flow = crate::scenario_api::conversation_flow(&st, member.org_id(), conversation.id).await?;
    Ok(Json(ConversationDetail { conversation, messages, visitor, rating, notes, flow }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A member of the organization, or `null` to unassign.
    pub assignee_id: Option<UserId>,
}

fn not_found_as(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

/// Assigns the conversation to a teammate (or to nobody). "Take over" is assigning oneself.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/assign", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    request_body = AssignRequest,
    responses(
        (status = 200, body = Conversation),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (the conversation, or an assignee who is not a member)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn assign(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> Result<Json<Conversation>, ApiError> {
    member.require(Permission::HandleConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    let conversation = st
        .chat
        .store
        .assign_conversation(member.org_id(), id, body.assignee_id, st.now())
        .await
        .map_err(not_found_as("conversation or assignee"))?;
    let details = serde_json::json!({ "assignee_id": body.assignee_id });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "conversation.assign",
        ("conversation", id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok(Json(conversation))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The highest sequence number the agent has seen.
    pub seq: i64,
}

/// Marks the conversation read up to `seq` for the caller (unread counts follow it).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/read", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    request_body = ReadRequest,
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn mark_read(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReadRequest>,
) -> Result<StatusCode, ApiError> {
    member.require(Permission::ReadConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    if body.seq < 0 {
        return Err(field("seq", "zero or more"));
    }
    st.chat
        .store
        .mark_read(member.org_id(), id, member.user.id, body.seq)
        .await
        .map_err(not_found_as("conversation"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    pub token_generation: i64,
}

/// Revokes every session token of the conversation (a leaked link, a shared computer): the
/// visitor's widget must start a new session, and open widget sockets close within a heartbeat.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/revoke-tokens", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    responses(
        (status = 200, body = Revoked),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn revoke_tokens(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    member.require(Permission::HandleConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    let token_generation =
        st.chat.store.revoke_session_tokens(member.org_id(), id).await.map_err(not_found_as("conversation"))?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "conversation.revoke_tokens",
        ("conversation", id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(Json(Revoked { token_generation }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// Markdown, at most 4000 characters. `@email`, `@name` mention teammates.
    pub content: String,
}

/// Leaves a private note on the conversation; mentioned teammates are notified.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/conversations/{id}/notes", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    request_body = NoteRequest,
    responses(
        (status = 201, body = Note),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn create_note(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NoteRequest>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    member.require(Permission::HandleConversations)?;
    let id: ConversationId = parse_id(&id, "conversation")?;
    let content = validate::message_content(&body.content)?;
    if content.chars().count() > MAX_NOTE_CHARS {
        return Err(field("content", "at most 4000 characters"));
    }
    let members = st.chat.store.list_members(member.org_id()).await?;
    let note = Note {
        id: NoteId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: member.org_id(),
        conversation_id: id,
        author_id: member.user.id,
        html: markdown::render(&content),
        mentions: frontdesk_core::inbox::mentions(&content, &members),
        body: content,
        created_at: st.now(),
    };
    st.chat.store.create_note(&note).await.map_err(not_found_as("conversation"))?;
    let details = serde_json::json!({ "note_id": note.id, "mentions": note.mentions });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "conversation.note",
        ("conversation", id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VisitorPanel {
    pub visitor: Option<Visitor>,
    /// Page views and conversions, newest first (at most 100).
    pub events: Vec<VisitorEvent>,
    /// The visitor's conversations on this site, newest first (this one included).
    pub conversations: Vec<Conversation>,
    /// What the site passed in (the widget's and the messages' `params`).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Titles of the articles the assistant cited in the visitor's conversations: their interests.
    pub interests: Vec<String>,
    pub session_count: u32,
    pub conversions: u32,
}

const PANEL_EVENTS: u32 = 100;
const PANEL_CONVERSATIONS: u32 = 20;
/// Interests are read from this many of the newest conversations.
const INTEREST_CONVERSATIONS: usize = 5;
const MAX_INTERESTS: usize = 10;

/// Who the visitor of a conversation is: pages, earlier conversations, params, interests.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/conversations/{id}/visitor", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ConversationId, Path)),
    responses(
        (status = 200, body = VisitorPanel),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn visitor_panel(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<VisitorPanel>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let conversation = st.chat.conversation(member.org_id(), parse_id(&id, "conversation")?).await?;
    let store = &st.chat.store;
    let (site_id, visitor_id) = (conversation.site_id, conversation.visitor_id);
    let visitor = optional(store.get_visitor(site_id, visitor_id).await)?;
    let events = store.list_visitor_events(site_id, visitor_id, PANEL_EVENTS).await?;
    let filter = ConversationFilter {
        site_id: Some(site_id),
        visitor_id: Some(visitor_id),
        status: None,
        limit: PANEL_CONVERSATIONS,
    };
    let conversations = store.list_conversations(member.org_id(), &filter).await?;
    let mut interests: Vec<String> = Vec::new();
    for c in conversations.iter().take(INTEREST_CONVERSATIONS) {
        for m in store.list_messages(c.id, 0, HISTORY_PAGE).await? {
            for citation in m.citations {
                if interests.len() < MAX_INTERESTS && !interests.contains(&citation.title) {
                    interests.push(citation.title);
                }
            }
        }
    }
    let conversions = events.iter().filter(|e| e.kind == VisitorEventKind::Conversion).count();
    Ok(Json(VisitorPanel {
        visitor,
        session_count: u32::try_from(conversations.len()).unwrap_or(u32::MAX),
        conversions: u32::try_from(conversions).unwrap_or(u32::MAX),
        events,
        conversations,
        params: conversation.params,
        interests,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CannedList {
    pub canned_responses: Vec<CannedResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedRequest {
    /// Letters, digits, `-` and `_` (1–32); agents type `/shortcut` to insert it.
    pub shortcut: String,
    pub title: String,
    /// Markdown, at most 4000 characters.
    pub body: String,
}

const MAX_SHORTCUT_CHARS: usize = 32;

impl CannedRequest {
    fn validated(self) -> Result<(String, String, String), ApiError> {
        let shortcut = self.shortcut.trim().to_lowercase();
        let ok = (1..=MAX_SHORTCUT_CHARS).contains(&shortcut.chars().count())
            && shortcut.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(field("shortcut", "1–32 letters, digits, - or _"));
        }
        let title = validate::short_text("title", &self.title, crate::admin::MAX_NAME_CHARS)?;
        let body = validate::message_content(&self.body)?;
        Ok((shortcut, title, body))
    }
}

/// The organization's canned responses, by shortcut.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/canned-responses", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = CannedList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_canned(State(st): State<AppState>, member: OrgMember) -> Result<Json<CannedList>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let canned_responses = st.chat.store.list_canned_responses(member.org_id()).await?;
    Ok(Json(CannedList { canned_responses }))
}

fn shortcut_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => field("shortcut", "another canned response uses this shortcut"),
        StoreError::NotFound => ApiError::not_found("canned response"),
        other => other.into(),
    }
}

/// Creates a canned response.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/canned-responses", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = CannedRequest,
    responses(
        (status = 201, body = CannedResponse),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field (also a shortcut in use)", body = ErrorBody),
    ))]
pub async fn create_canned(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CannedRequest>,
) -> Result<(StatusCode, Json<CannedResponse>), ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let (shortcut, title, body) = body.validated()?;
    let now = st.now();
    let response = CannedResponse {
        id: CannedResponseId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: member.org_id(),
        shortcut,
        title,
        body,
        created_at: now,
        updated_at: now,
    };
    st.chat.store.put_canned_response(&response).await.map_err(shortcut_taken)?;
    let details = serde_json::json!({ "shortcut": response.shortcut });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "canned.create",
        ("canned_response", response.id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Replaces a canned response.
#[utoipa::path(put, path = "/api/app/orgs/{org_id}/canned-responses/{id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = CannedResponseId, Path)),
    request_body = CannedRequest,
    responses(
        (status = 200, body = CannedResponse),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field (also a shortcut in use)", body = ErrorBody),
    ))]
pub async fn update_canned(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CannedRequest>,
) -> Result<Json<CannedResponse>, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let id: CannedResponseId = parse_id(&id, "canned response")?;
    let existing = st
        .chat
        .store
        .list_canned_responses(member.org_id())
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("canned response"))?;
    let (shortcut, title, body) = body.validated()?;
    let response = CannedResponse { shortcut, title, body, updated_at: st.now(), ..existing };
    st.chat.store.put_canned_response(&response).await.map_err(shortcut_taken)?;
    let details = serde_json::json!({ "shortcut": response.shortcut });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "canned.update",
        ("canned_response", id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok(Json(response))
}

/// Deletes a canned response.
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/canned-responses/{id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = CannedResponseId, Path)),
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn delete_canned(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let id: CannedResponseId = parse_id(&id, "canned response")?;
    st.chat.store.delete_canned_response(member.org_id(), id).await.map_err(not_found_as("canned response"))?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "canned.delete",
        ("canned_response", id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
