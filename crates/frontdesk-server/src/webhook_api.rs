//! Outgoing webhooks in the private API: endpoints (their events, on/off), their signing secrets
//! (reading and rotating are audited; lists never show them), test events, and the delivery log
//! with redelivery. Roles with `manage_webhooks` only. See `docs/webhooks.md`.

use crate::app_api::{OrgMember, audit, parse_id};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ApiQuery, ClientMeta};
use crate::state::AppState;
use crate::webhooks::{TEST_EVENT_TYPE, envelope, message_id, new_secret, pending_delivery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use frontdesk_core::roles::Permission;
use frontdesk_core::store::StoreError;
use frontdesk_core::webhooks::{
    DeliveryFilter, DeliveryStatus, MAX_ENDPOINTS_PER_ORG, WebhookDelivery, WebhookEndpoint, WebhookEventType,
};
use frontdesk_core::{OrgId, Timestamp, WebhookDeliveryId, WebhookEndpointId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// How long a rotated-out secret still signs (receivers switch over meanwhile).
pub const ROTATION_GRACE_SECS: i64 = 86_400;
const MAX_URL_CHARS: usize = 2000;
const MAX_DESCRIPTION_CHARS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/webhooks", get(list_endpoints).post(create_endpoint))
        .route("/api/app/orgs/{org_id}/webhooks/{id}", patch(update_endpoint).delete(delete_endpoint))
        .route("/api/app/orgs/{org_id}/webhooks/{id}/secret", get(get_secret))
        .route("/api/app/orgs/{org_id}/webhooks/{id}/secret/rotate", post(rotate_secret))
        .route("/api/app/orgs/{org_id}/webhooks/{id}/test", post(send_test))
        .route("/api/app/orgs/{org_id}/webhook-deliveries", get(list_deliveries))
        .route("/api/app/orgs/{org_id}/webhook-deliveries/{id}/redeliver", post(redeliver))
}

/// An endpoint as the dashboard sees it: never its secrets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<WebhookEventType>,
    pub enabled: bool,
    /// Why the server turned it off (a 410 from the receiver).
    pub disabled_reason: Option<String>,
    /// While a rotated-out secret still signs: until when.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl EndpointView {
    fn of(e: &WebhookEndpoint, now: Timestamp) -> Self {
        EndpointView {
            id: e.id,
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            previous_secret_expires_at: e.previous_secret_expires_at.filter(|until| *until > now),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointView>,
    /// Every event type an endpoint can subscribe to.
    pub event_types: Vec<WebhookEventType>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointCreated {
    pub endpoint: EndpointView,
    /// `whsec_…`: verifies the signatures (also readable later, audited).
    pub secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointSecret {
    pub secret: String,
    /// While the previous secret still signs too.
    pub previous_secret_expires_at: Option<Timestamp>,
}

/// A delivery in the log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: WebhookDeliveryId,
    /// The `webhook-id` header of every attempt.
    pub message_id: String,
    pub endpoint_id: WebhookEndpointId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    /// The start of the receiver's last answer (at most 1 KiB, as text).
    pub last_response: Option<String>,
    /// The body sent.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: Timestamp,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        DeliveryView {
            id: d.id,
            message_id: message_id(d.id),
            endpoint_id: d.endpoint_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_response: d.last_response,
            payload: serde_json::from_str(&d.payload).unwrap_or(Value::String(d.payload)),
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<WebhookDeliveryId>,
}

fn field(name: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_field(Some(name.to_owned()), message)
}

/// An http(s) URL with a host, and, unless the operator allows them, not a private address
/// written out (names are checked again, resolved, at every attempt).
fn checked_url(st: &AppState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(field("url", format!("1–{MAX_URL_CHARS} characters")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| field("url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(field("url", "an http or https URL with a host"));
    }
    if !st.webhooks.allow_private() && frontdesk_flows::is_private_literal(&parsed) {
        return Err(field(
            "url",
            "refused: not a public address (an operator may allow private addresses with server.webhooks.allow_private)",
        ));
    }
    Ok(parsed.to_string())
}

fn checked_event_types(names: &[String]) -> Result<Vec<WebhookEventType>, ApiError> {
    let mut types = Vec::new();
    for name in names {
        let t = WebhookEventType::parse(name)
            .ok_or_else(|| field("event_types", format!("unknown event type `{name}`")))?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return Err(field("event_types", "subscribe to at least one event type"));
    }
    // Kept in the documented order, whatever order they came in.
    types.sort_by_key(|t| WebhookEventType::ALL.iter().position(|a| a == t));
    Ok(types)
}

fn checked_description(text: Option<&str>) -> Result<String, ApiError> {
    let text = text.unwrap_or("").trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS || text.chars().any(char::is_control) {
        return Err(field("description", format!("at most {MAX_DESCRIPTION_CHARS} printable characters")));
    }
    Ok(text.to_owned())
}

async fn own_endpoint(st: &AppState, member: &OrgMember, id: &str) -> Result<WebhookEndpoint, ApiError> {
    member.require(Permission::ManageWebhooks)?;
    let id: WebhookEndpointId = parse_id(id, "webhook endpoint")?;
    st.chat.store.get_webhook_endpoint(member.org_id(), id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("webhook endpoint"),
        other => other.into(),
    })
}

async fn audit_endpoint(
    st: &AppState,
    member: &OrgMember,
    action: &str,
    e: &WebhookEndpoint,
    meta: &ClientMeta,
    extra: Value,
) {
    let mut details = json!({ "url": e.url, "event_types": e.event_types, "enabled": e.enabled });
    if let (Some(d), Some(x)) = (details.as_object_mut(), extra.as_object()) {
        d.extend(x.clone());
    }
    audit(st, member.org_id(), Some(member.user.id), action, ("webhook", e.id.to_string()), meta, details).await;
}

/// The organization's endpoints (oldest first) and the event types there are.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/webhooks", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = EndpointList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_endpoints(State(st): State<AppState>, member: OrgMember) -> Result<Json<EndpointList>, ApiError> {
    member.require(Permission::ManageWebhooks)?;
    let now = st.now();
    let endpoints = st.chat.store.list_webhook_endpoints(member.org_id()).await?;
    Ok(Json(EndpointList {
        endpoints: endpoints.iter().map(|e| EndpointView::of(e, now)).collect(),
        event_types: WebhookEventType::ALL.to_vec(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    pub url: String,
    pub description: Option<String>,
    /// Names such as `conversation.created`, `message.created`.
    pub event_types: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Creates an endpoint with a new signing secret (returned once here; readable later, audited).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/webhooks", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = CreateEndpointRequest,
    responses(
        (status = 201, body = EndpointCreated),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (too many endpoints)", body = ErrorBody),
        (status = 422, description = "invalid_field (url: also a refused private address; event_types)", body = ErrorBody),
    ))]
pub async fn create_endpoint(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CreateEndpointRequest>,
) -> Result<(StatusCode, Json<EndpointCreated>), ApiError> {
    member.require(Permission::ManageWebhooks)?;
    let url = checked_url(&st, &body.url)?;
    let description = checked_description(body.description.as_deref())?;
    let event_types = checked_event_types(&body.event_types)?;
    if st.chat.store.list_webhook_endpoints(member.org_id()).await?.len() >= MAX_ENDPOINTS_PER_ORG {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("an organization has at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints"),
        ));
    }
    let now = st.now();
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: member.org_id(),
        url,
        description,
        event_types,
        secret: new_secret(&*st.chat.entropy),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: body.enabled.unwrap_or(true),
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    st.chat.store.create_webhook_endpoint(&endpoint).await?;
    audit_endpoint(&st, &member, "webhook.create", &endpoint, &meta, json!({})).await;
    let view = EndpointView::of(&endpoint, now);
    Ok((StatusCode::CREATED, Json(EndpointCreated { endpoint: view, secret: endpoint.secret })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Turning an endpoint on clears the reason it was turned off.
    pub enabled: Option<bool>,
}

/// Changes an endpoint (fields left out keep their values).
#[utoipa::path(patch, path = "/api/app/orgs/{org_id}/webhooks/{id}", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookEndpointId, Path)),
    request_body = UpdateEndpointRequest,
    responses(
        (status = 200, body = EndpointView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn update_endpoint(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateEndpointRequest>,
) -> Result<Json<EndpointView>, ApiError> {
    let mut endpoint = own_endpoint(&st, &member, &id).await?;
    if let Some(url) = &body.url {
        endpoint.url = checked_url(&st, url)?;
    }
    if body.description.is_some() {
        endpoint.description = checked_description(body.description.as_deref())?;
    }
    if let Some(names) = &body.event_types {
        endpoint.event_types = checked_event_types(names)?;
    }
    if let Some(enabled) = body.enabled {
        if enabled {
            endpoint.disabled_reason = None;
        }
        endpoint.enabled = enabled;
    }
    let now = st.now();
    endpoint.updated_at = now;
    st.chat.store.update_webhook_endpoint(&endpoint).await?;
    audit_endpoint(&st, &member, "webhook.update", &endpoint, &meta, json!({})).await;
    Ok(Json(EndpointView::of(&endpoint, now)))
}

/// Deletes an endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/webhooks/{id}", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookEndpointId, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn delete_endpoint(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let endpoint = own_endpoint(&st, &member, &id).await?;
    st.chat.store.delete_webhook_endpoint(endpoint.org_id, endpoint.id).await?;
    audit_endpoint(&st, &member, "webhook.delete", &endpoint, &meta, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's signing secret (reading it is audited).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/webhooks/{id}/secret", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookEndpointId, Path)),
    responses(
        (status = 200, body = EndpointSecret),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_secret(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<EndpointSecret>, ApiError> {
    let endpoint = own_endpoint(&st, &member, &id).await?;
    audit_endpoint(&st, &member, "webhook.secret_read", &endpoint, &meta, json!({})).await;
    let view = EndpointView::of(&endpoint, st.now());
    Ok(Json(EndpointSecret { secret: endpoint.secret, previous_secret_expires_at: view.previous_secret_expires_at }))
}

/// A new signing secret; the previous one keeps signing too for 24 hours, so receivers can
/// switch without dropping a request.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/webhooks/{id}/secret/rotate", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookEndpointId, Path)),
    responses(
        (status = 200, body = EndpointSecret),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn rotate_secret(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<EndpointSecret>, ApiError> {
    let mut endpoint = own_endpoint(&st, &member, &id).await?;
    let now = st.now();
    let until = now.plus_seconds(ROTATION_GRACE_SECS);
    endpoint.previous_secret = Some(std::mem::replace(&mut endpoint.secret, new_secret(&*st.chat.entropy)));
    endpoint.previous_secret_expires_at = Some(until);
    endpoint.updated_at = now;
    st.chat.store.update_webhook_endpoint(&endpoint).await?;
    audit_endpoint(&st, &member, "webhook.secret_rotate", &endpoint, &meta, json!({ "previous_signs_until": until }))
        .await;
    Ok(Json(EndpointSecret { secret: endpoint.secret, previous_secret_expires_at: Some(until) }))
}

/// Sends a `webhook.test` event to the endpoint now (it appears in the delivery log).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/webhooks/{id}/test", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookEndpointId, Path)),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (the endpoint is disabled)", body = ErrorBody),
    ))]
pub async fn send_test(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let endpoint = own_endpoint(&st, &member, &id).await?;
    if !endpoint.enabled {
        return Err(ApiError::new(ErrorCode::Conflict, "the endpoint is disabled; enable it first"));
    }
    let now = st.now();
    let payload = envelope(
        TEST_EVENT_TYPE,
        now,
        json!({ "endpoint_id": endpoint.id, "message": "A test event from Frontdesk." }),
    );
    let id = WebhookDeliveryId::generate(&*st.chat.clock, &*st.chat.entropy);
    let delivery = pending_delivery(id, &endpoint, None, TEST_EVENT_TYPE, payload, now);
    st.chat.store.create_webhook_deliveries(std::slice::from_ref(&delivery)).await?;
    st.webhooks.wake();
    audit_endpoint(&st, &member, "webhook.test", &endpoint, &meta, json!({ "delivery_id": delivery.id })).await;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub endpoint_id: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// A delivery id: only older ones (the previous page's `next_before`).
    pub before: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/webhook-deliveries", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), DeliveryQuery),
    responses(
        (status = 200, body = DeliveryList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (also an `endpoint_id` that is not the organization's)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn list_deliveries(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    member.require(Permission::ManageWebhooks)?;
    let endpoint_id = match q.endpoint_id.as_deref().filter(|t| !t.is_empty()) {
        // Another organization's endpoint is not found, like a missing one.
        Some(t) => Some(own_endpoint(&st, &member, t).await?.id),
        None => None,
    };
    let status = match q.status.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(DeliveryStatus::parse(t).ok_or_else(|| field("status", "pending, succeeded or failed"))?),
        None => None,
    };
    let before = match q.before.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse().map_err(|_| field("before", "not a delivery id"))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(field("limit", "1–200"));
    }
    let filter = DeliveryFilter { endpoint_id, status, before, limit };
    let deliveries = st.chat.store.list_webhook_deliveries(member.org_id(), &filter).await?;
    let next_before = (deliveries.len() == limit as usize).then(|| deliveries.last().map(|d| d.id)).flatten();
    Ok(Json(DeliveryList { deliveries: deliveries.into_iter().map(DeliveryView::from).collect(), next_before }))
}

/// Sends a delivery again now, with the same `webhook-id` and body, and a fresh three-day
/// retry window.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/webhook-deliveries/{id}/redeliver", tag = "webhooks", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = WebhookDeliveryId, Path)),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (the endpoint is disabled)", body = ErrorBody),
    ))]
pub async fn redeliver(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    member.require(Permission::ManageWebhooks)?;
    let id: WebhookDeliveryId = parse_id(&id, "delivery")?;
    let not_found = |e: StoreError| match e {
        StoreError::NotFound => ApiError::not_found("delivery"),
        other => other.into(),
    };
    let mut delivery = st.chat.store.get_webhook_delivery(member.org_id(), id).await.map_err(not_found)?;
    let endpoint =
        st.chat.store.get_webhook_endpoint(member.org_id(), delivery.endpoint_id).await.map_err(not_found)?;
    if !endpoint.enabled {
        return Err(ApiError::new(ErrorCode::Conflict, "the endpoint is disabled; enable it first"));
    }
    let now = st.now();
    delivery.status = DeliveryStatus::Pending;
    delivery.next_attempt_at = Some(now);
    delivery.first_attempt_at = None;
    delivery.updated_at = now;
    st.chat.store.update_webhook_delivery(&delivery).await.map_err(not_found)?;
    st.webhooks.wake();
    audit_endpoint(&st, &member, "webhook.redeliver", &endpoint, &meta, json!({ "delivery_id": delivery.id })).await;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}
