//! GDPR endpoints: export everything the organization holds about a visitor, and erase it.
//! Both are audited with ids and counts only: the audit log must not keep what was erased.

use crate::app_api::{OrgMember, audit};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, ClientMeta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::privacy::{self, ErasureCounts, VisitorExport, VisitorLookup};
use frontdesk_core::roles::Permission;
use frontdesk_core::{OrgId, VisitorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/privacy/export", get(export))
        .route("/api/app/orgs/{org_id}/privacy/erase", post(erase))
}

/// Whom to export: one of the two.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// A visitor (device) of one of the organization's sites.
    pub visitor_id: Option<String>,
    /// Every visitor of the organization's sites with this email (case-insensitive).
    pub email: Option<String>,
}

/// Everything the organization holds about the visitor(s) as a JSON file
/// (`frontdesk.visitor-export.v1`): identity, conversations with every message, ratings,
/// reactions, page views and conversions, agents' notes, unanswered questions, scenario variables.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/privacy/export", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ExportQuery),
    responses(
        (status = 200, body = VisitorExport, description = "A JSON file (`Content-Disposition: attachment`); an email nobody has gives an empty `visitors` list"),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (the visitor id is unknown or another organization's)", body = ErrorBody),
        (status = 422, description = "invalid_field (neither or both of visitor_id and email; not an email)", body = ErrorBody),
    ))]
pub async fn export(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    member.require(Permission::ManagePrivacy)?;
    let lookup = VisitorLookup::parse(q.visitor_id.as_deref(), q.email.as_deref())?;
    let document = privacy::export(&*st.chat.store, member.org_id(), &lookup, st.now()).await?;
    let visitors: Vec<VisitorId> = document.visitors.iter().map(|v| v.visitor.id).collect();
    let details = serde_json::json!({ "lookup": lookup_kind(&lookup), "visitors": visitors });
    audit(&st, member.org_id(), Some(member.user.id), "privacy.export", target(&lookup, &visitors), &meta, details)
        .await;
    let file = format!("visitor-export-{}.json", document.exported_at.millis());
    let mut response = Json(document).into_response();
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).map_err(|_| ApiError::internal())?;
    response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
    // The document is personal data: no cache may keep a copy.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    pub visitor_id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EraseResponse {
    /// The visitors erased (none when no visitor has the email).
    pub visitors: Vec<VisitorId>,
    pub counts: ErasureCounts,
}

/// Erases the visitor(s): messages, ratings, reactions, events, notes, unanswered questions,
/// scenario runs and identity are deleted; the conversations stay, anonymous, for analytics; the
/// visitor's session tokens stop working.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/privacy/erase", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = EraseRequest,
    responses(
        (status = 200, body = EraseResponse),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (the visitor id is unknown or another organization's)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn erase(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiJson(body): ApiJson<EraseRequest>,
) -> Result<Json<EraseResponse>, ApiError> {
    member.require(Permission::ManagePrivacy)?;
    let lookup = VisitorLookup::parse(body.visitor_id.as_deref(), body.email.as_deref())?;
    let (visitors, counts) = privacy::erase(&*st.chat.store, member.org_id(), &lookup, st.now()).await?;
    // Ids and counts only: the email that was looked up is personal data too.
    let details = serde_json::json!({ "lookup": lookup_kind(&lookup), "visitors": visitors, "counts": counts });
    audit(&st, member.org_id(), Some(member.user.id), "privacy.erase", target(&lookup, &visitors), &meta, details)
        .await;
    Ok(Json(EraseResponse { visitors, counts }))
}

pub(crate) fn lookup_kind(lookup: &VisitorLookup) -> &'static str {
    match lookup {
        VisitorLookup::Id(_) => "visitor_id",
        VisitorLookup::Email(_) => "email",
    }
}

/// The audit entry's target: the visitor, or the first of several (all are in the details).
pub(crate) fn target(lookup: &VisitorLookup, visitors: &[VisitorId]) -> (&'static str, String) {
    match (lookup, visitors.first()) {
        (VisitorLookup::Id(id), _) => ("visitor", id.to_string()),
        (_, Some(first)) => ("visitor", first.to_string()),
        (_, None) => ("visitor", String::new()),
    }
}
