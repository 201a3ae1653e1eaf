//! Bot scenarios in the private API: drafts validated on save, published versions, the site's
//! start scenario, and the simulator that runs a draft without a conversation. Roles with
//! `manage_bots` edit; every change is audited. See `docs/flows.md`.

use crate::app_api::{OrgMember, audit, org_site, parse_id};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ClientMeta};
use crate::flows::{RunStatus, SimulatedMessage, SimulatorHost, StoredRun};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::model::{Conversation, Site};
use frontdesk_core::roles::Permission;
use frontdesk_core::scenarios::{MAX_NAME_CHARS, MAX_PER_SITE, Scenario};
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::StoreError;
use frontdesk_core::{ConversationId, CoreError, OrgId, ScenarioId, SiteId, Timestamp, VisitorId};
use frontdesk_flows::{Context, Event, FlowIssue, FlowRun, Outcome, VisitorVars};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/sites/{site_id}/scenarios", get(list_scenarios).post(create_scenario))
        .route("/api/app/orgs/{org_id}/scenarios/{id}", get(get_scenario).put(update_scenario).delete(delete_scenario))
        .route("/api/app/orgs/{org_id}/scenarios/{id}/validate", post(validate_scenario))
        .route("/api/app/orgs/{org_id}/scenarios/{id}/publish", post(publish_scenario))
        .route("/api/app/orgs/{org_id}/scenarios/{id}/start", post(set_start))
        .route("/api/app/orgs/{org_id}/scenarios/{id}/simulate", post(simulate))
}

/// A scenario as the dashboard sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScenarioView {
    #[serde(flatten)]
    pub scenario: Scenario,
    /// The draft differs from the latest published version (or nothing is published yet).
    pub draft_changed: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScenarioList {
    pub scenarios: Vec<ScenarioView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationReport {
    /// Empty when the document is valid.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FlowIssue>,
}

fn invalid_flow(errors: Vec<FlowIssue>) -> ApiError {
    let count = errors.len();
    let mut e = ApiError::new(
        ErrorCode::InvalidFlow,
        format!("the scenario has {count} error{}", if count == 1 { "" } else { "s" }),
    );
    e.details = Some(serde_json::json!({ "errors": errors }));
    e
}

fn checked_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(
            CoreError::Invalid { field: "name".into(), message: format!("1–{MAX_NAME_CHARS} characters") }.into()
        );
    }
    Ok(name.to_owned())
}

/// A document the interpreter accepts, or `invalid_flow` with every error.
fn checked_document(document: &serde_json::Value) -> Result<(), ApiError> {
    frontdesk_flows::check(document).map(|_| ()).map_err(invalid_flow)
}

/// What a new scenario starts from: a greeting, one question and a handoff.
fn starter_document() -> serde_json::Value {
    serde_json::json!({
        "schema": frontdesk_flows::SCHEMA_VERSION,
        "start": "greet",
        "triggers": [],
        "variables": [],
        "nodes": [
            { "id": "greet", "type": "message", "position": { "x": 40, "y": 40 },
              "text": "Hi {{visitor.name | there}}! How can we help?", "quick_replies": [] },
            { "id": "ask_email", "type": "ask", "position": { "x": 40, "y": 180 }, "input": "email",
              "prompt": "What is your email address, in case we get disconnected?", "variable": "email",
              "retry_message": "That does not look like an email address.", "max_retries": 2 },
            { "id": "human", "type": "handoff", "position": { "x": 40, "y": 320 },
              "message": "Thanks! A person from our team will be with you shortly.", "only_when_online": false }
        ],
        "edges": [
            { "from": "greet", "port": "next", "to": "ask_email" },
            { "from": "ask_email", "port": "next", "to": "human" },
            { "from": "ask_email", "port": "invalid", "to": "human" }
        ]
    })
}

async fn view(st: &AppState, scenario: Scenario) -> Result<ScenarioView, ApiError> {
    let draft_changed = match scenario.published_version {
        Some(version) => {
            st.chat.store.get_scenario_version(scenario.org_id, scenario.id, version).await?.document != scenario.draft
        }
        None => true,
    };
    Ok(ScenarioView { scenario, draft_changed })
}

async fn own_scenario(st: &AppState, member: &OrgMember, id: &str) -> Result<Scenario, ApiError> {
    member.require(Permission::ManageBots)?;
    let id: ScenarioId = parse_id(id, "scenario")?;
    st.chat.store.get_scenario(member.org_id(), id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("scenario"),
        other => other.into(),
    })
}

async fn audit_scenario(st: &AppState, member: &OrgMember, action: &str, s: &Scenario, meta: &ClientMeta) {
    let details = serde_json::json!({ "name": s.name, "site_id": s.site_id, "published_version": s.published_version });
    audit(st, member.org_id(), Some(member.user.id), action, ("scenario", s.id.to_string()), meta, details).await;
}

/// The site's scenarios, by name.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites/{site_id}/scenarios", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = ScenarioList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_scenarios(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<ScenarioList>, ApiError> {
    let site = org_site(&st, &member, &site_id, Permission::ManageBots).await?;
    let mut scenarios = Vec::new();
    for s in st.chat.store.list_scenarios(site.org_id, site.id).await? {
        scenarios.push(view(&st, s).await?);
    }
    Ok(Json(ScenarioList { scenarios }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScenarioRequest {
    pub name: String,
    /// Defaults to a small greeting → question → handoff scenario.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
}

/// Creates a scenario (a draft; nothing runs until it is published).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites/{site_id}/scenarios", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    request_body = CreateScenarioRequest,
    responses(
        (status = 201, body = ScenarioView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (too many scenarios on the site)", body = ErrorBody),
        (status = 422, description = "invalid_field, invalid_flow", body = ErrorBody),
    ))]
pub async fn create_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateScenarioRequest>,
) -> Result<(StatusCode, Json<ScenarioView>), ApiError> {
    let site = org_site(&st, &member, &site_id, Permission::ManageBots).await?;
    let name = checked_name(&body.name)?;
    let draft = body.document.unwrap_or_else(starter_document);
    checked_document(&draft)?;
    if st.chat.store.list_scenarios(site.org_id, site.id).await?.len() >= MAX_PER_SITE {
        return Err(ApiError::new(ErrorCode::Conflict, format!("a site has at most {MAX_PER_SITE} scenarios")));
    }
    let now = st.now();
    let scenario = Scenario {
        id: ScenarioId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: site.org_id,
        site_id: site.id,
        name,
        draft,
        published_version: None,
        published_at: None,
        starts_conversations: false,
        created_at: now,
        updated_at: now,
    };
    st.chat.store.create_scenario(&scenario).await?;
    audit_scenario(&st, &member, "scenario.create", &scenario, &meta).await;
    Ok((StatusCode::CREATED, Json(view(&st, scenario).await?)))
}

/// One scenario with its draft.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/scenarios/{id}", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    responses(
        (status = 200, body = ScenarioView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ScenarioView>, ApiError> {
    let scenario = own_scenario(&st, &member, &id).await?;
    Ok(Json(view(&st, scenario).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScenarioRequest {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
}

/// Saves the name and the draft; a draft with errors is refused with every error listed.
#[utoipa::path(put, path = "/api/app/orgs/{org_id}/scenarios/{id}", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    request_body = UpdateScenarioRequest,
    responses(
        (status = 200, body = ScenarioView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field, invalid_flow (`details.errors`: node, field, message)", body = ErrorBody),
    ))]
pub async fn update_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateScenarioRequest>,
) -> Result<Json<ScenarioView>, ApiError> {
    let mut scenario = own_scenario(&st, &member, &id).await?;
    if let Some(name) = &body.name {
        scenario.name = checked_name(name)?;
    }
    if let Some(document) = body.document {
        checked_document(&document)?;
        scenario.draft = document;
    }
    scenario.updated_at = st.now();
    st.chat.store.update_scenario(&scenario).await?;
    audit_scenario(&st, &member, "scenario.update", &scenario, &meta).await;
    Ok(Json(view(&st, scenario).await?))
}

/// Deletes a scenario, its versions and its runs (conversations running it go back to the assistant).
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/scenarios/{id}", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn delete_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let scenario = own_scenario(&st, &member, &id).await?;
    st.chat.store.delete_scenario(scenario.org_id, scenario.id).await?;
    st.flows.invalidate(scenario.site_id);
    audit_scenario(&st, &member, "scenario.delete", &scenario, &meta).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// Checks a document without saving it (the editor's live validation).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/scenarios/{id}/validate", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    request_body = ValidateRequest,
    responses(
        (status = 200, body = ValidationReport),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn validate_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ValidateRequest>,
) -> Result<Json<ValidationReport>, ApiError> {
    own_scenario(&st, &member, &id).await?;
    let errors = frontdesk_flows::check(&body.document).err().unwrap_or_default();
    Ok(Json(ValidationReport { errors }))
}

/// Publishes the draft as the next version. Conversations already running keep their version.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/scenarios/{id}/publish", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    responses(
        (status = 200, body = ScenarioView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_flow", body = ErrorBody),
    ))]
pub async fn publish_scenario(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ScenarioView>, ApiError> {
    let scenario = own_scenario(&st, &member, &id).await?;
    checked_document(&scenario.draft)?;
    let published = st.chat.store.publish_scenario(scenario.org_id, scenario.id, &scenario.draft, st.now()).await?;
    st.flows.invalidate(scenario.site_id);
    audit_scenario(&st, &member, "scenario.publish", &published, &meta).await;
    Ok(Json(view(&st, published).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// `true`: this scenario handles the site's new conversations; `false`: none does.
    pub start: bool,
}

/// Makes the scenario the site's start scenario, or clears it.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/scenarios/{id}/start", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    request_body = StartRequest,
    responses(
        (status = 200, body = ScenarioView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn set_start(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<StartRequest>,
) -> Result<Json<ScenarioView>, ApiError> {
    let scenario = own_scenario(&st, &member, &id).await?;
    let target = if body.start { Some(scenario.id) } else { None };
    // Clearing only clears when this scenario is the start one.
    if body.start || scenario.starts_conversations {
        st.chat.store.set_start_scenario(scenario.org_id, scenario.site_id, target).await?;
    }
    st.flows.invalidate(scenario.site_id);
    let updated = st.chat.store.get_scenario(scenario.org_id, scenario.id).await?;
    let action = if body.start { "scenario.start" } else { "scenario.unstart" };
    audit_scenario(&st, &member, action, &updated, &meta).await;
    Ok(Json(view(&st, updated).await?))
}

/// An event for the simulator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SimulatedEvent {
    Start,
    Message {
        text: String,
    },
    /// Fast-forwards to the run's timer (an unanswered question, a wait).
    Timer,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedVisitor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    #[serde(default)]
    pub verified: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The document to run; defaults to the saved draft.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// The run state the previous response returned; none to start over.
    #[schema(value_type = Option<Object>)]
    pub run: Option<serde_json::Value>,
    pub event: SimulatedEvent,
    /// The host page's params.
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    pub visitor: Option<SimulatedVisitor>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimulateResponse {
    pub messages: Vec<SimulatedMessage>,
    /// The "thinking" texts shown while nodes worked.
    pub thinking: Vec<String>,
    /// Send it back with the next event.
    #[schema(value_type = Object)]
    pub run: FlowRun,
    #[schema(value_type = Object)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub current_node: Option<String>,
    pub outcome: RunStatus,
    pub due_at: Option<Timestamp>,
    pub error: Option<String>,
}

/// Runs the draft (or the given document) for one event, without a conversation: messages are
/// returned instead of sent, HTTP calls and AI answers are real, a handoff is only reported.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/scenarios/{id}/simulate", tag = "bots", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ScenarioId, Path)),
    request_body = SimulateRequest,
    responses(
        (status = 200, body = SimulateResponse),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field (run), invalid_flow", body = ErrorBody),
    ))]
pub async fn simulate(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SimulateRequest>,
) -> Result<Json<SimulateResponse>, ApiError> {
    let scenario = own_scenario(&st, &member, &id).await?;
    let site = st.chat.store.get_site(scenario.org_id, scenario.site_id).await?;
    let document = frontdesk_flows::check(body.document.as_ref().unwrap_or(&scenario.draft)).map_err(invalid_flow)?;
    let mut run = match body.run {
        Some(value) if !value.is_null() => serde_json::from_value::<FlowRun>(value)
            .map_err(|_| ApiError::invalid_field(Some("run".into()), "not a run state this server returned"))?,
        _ => FlowRun::new(),
    };
    let now = st.now();
    let (event, now) = match body.event {
        SimulatedEvent::Start => (Event::Start, now),
        SimulatedEvent::Message { text } => {
            (Event::Message { text: frontdesk_core::validate::message_content(&text)? }, now)
        }
        SimulatedEvent::Timer => (Event::Timer, run.due_at().map_or(now, |due| Timestamp(due.0.max(now.0)))),
    };
    let visitor = body.visitor.unwrap_or_default();
    let params = match body.params {
        Some(serde_json::Value::Object(map)) => serde_json::Value::Object(map),
        Some(serde_json::Value::Null) | None => serde_json::json!({}),
        Some(_) => return Err(ApiError::invalid_field(Some("params".into()), "an object")),
    };
    let ctx = Context {
        params: params.clone(),
        visitor: VisitorVars {
            name: visitor.name,
            email: visitor.email,
            user_id: visitor.user_id.filter(|_| visitor.verified),
            verified: visitor.verified,
        },
        now,
    };
    let host = SimulatorHost {
        flows: &st.flows,
        site: &site,
        conversation: simulated_conversation(&st, &site, params, now),
        messages: Mutex::new(Vec::new()),
        thinking: Mutex::new(Vec::new()),
        handed_off: Mutex::new(false),
    };
    let result = frontdesk_flows::drive(&document, &mut run, &ctx, event, &host).await;
    let (outcome, due_at, error) = match result {
        Ok(Outcome::Waiting { due_at }) => (RunStatus::Waiting, due_at, None),
        Ok(Outcome::Finished) => (RunStatus::Finished, None, None),
        Ok(Outcome::HandedOff) => (RunStatus::HandedOff, None, None),
        Ok(Outcome::Failed { error }) => (RunStatus::Failed, None, Some(error)),
        Err(e) => (RunStatus::Failed, None, Some(e.to_string())),
    };
    let messages = host.messages.into_inner().unwrap_or_else(|e| e.into_inner());
    let thinking = host.thinking.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Json(SimulateResponse {
        messages,
        thinking,
        variables: run.vars().clone(),
        current_node: run.current_node().map(str::to_owned),
        run,
        outcome,
        due_at,
        error,
    }))
}

/// A conversation that exists nowhere, for the assistant's sake (it reads the locale).
fn simulated_conversation(st: &AppState, site: &Site, params: serde_json::Value, now: Timestamp) -> Conversation {
    Conversation {
        id: ConversationId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: site.org_id,
        site_id: site.id,
        visitor_id: VisitorId::generate(&*st.chat.clock, &*st.chat.entropy),
        status: ConversationStatus::Active,
        assignee_id: None,
        page_url: None,
        locale: None,
        params,
        last_seq: 0,
        token_generation: 0,
        created_at: now,
        updated_at: now,
        last_activity_at: now,
        status_changed_at: now,
        escalated_at: None,
        first_agent_reply_at: None,
    }
}

/// The scenario run of a conversation, for the agents' conversation view.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationFlow {
    pub scenario_id: ScenarioId,
    /// `None` when the scenario has been deleted since.
    pub scenario_name: Option<String>,
    pub version: i64,
    pub state: RunStatus,
    pub current_node: Option<String>,
    /// What the scenario collected (answers, HTTP results, set variables).
    #[schema(value_type = Object)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub error: Option<String>,
}

pub(crate) async fn conversation_flow(
    st: &AppState,
    org_id: OrgId,
    id: ConversationId,
) -> Result<Option<ConversationFlow>, ApiError> {
    let Some(state) = st.chat.store.get_flow_state(org_id, id).await? else { return Ok(None) };
    let Some(stored) = StoredRun::parse(&state.run) else { return Ok(None) };
    let scenario_name = match st.chat.store.get_scenario(org_id, state.scenario_id).await {
        Ok(s) => Some(s.name),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Some(ConversationFlow {
        scenario_id: state.scenario_id,
        scenario_name,
        version: state.version,
        state: stored.status,
        current_node: stored.run.current_node().map(str::to_owned),
        variables: stored.run.vars().clone(),
        error: stored.error,
    }))
}
