//! Reports in the private API: analytics, visitor insights, the knowledge base's gap report
//! (questions the assistant declined) and the audit log with its CSV/JSON export and the check of
//! its hash chain.

use crate::app_api::{OrgMember, audit};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiQuery, ClientMeta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use frontdesk_core::analytics::{self, Report};
use frontdesk_core::audit::{AuditRecord, AuditVerification};
use frontdesk_core::gaps::{self, QuestionGroup};
use frontdesk_core::roles::Permission;
use frontdesk_core::store::{AuditFilter, ConversionCount, PageCount};
use frontdesk_core::{OrgId, SiteId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/analytics", get(analytics_report))
        .route("/api/app/orgs/{org_id}/insights", get(insights))
        .route("/api/app/orgs/{org_id}/unanswered", get(unanswered))
        .route("/api/app/orgs/{org_id}/audit", get(list_audit))
        .route("/api/app/orgs/{org_id}/audit/verify", get(verify_audit))
}

const DAY_MS: i64 = 86_400_000;
/// Reports cover at most about three years.
const MAX_RANGE_DAYS: i64 = 1_100;
const DEFAULT_RANGE_DAYS: i64 = 30;

fn field(name: &str, message: &str) -> ApiError {
    ApiError::invalid_field(Some(name.to_owned()), message)
}

fn parse_time(text: Option<&str>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Timestamp::parse_rfc3339(t)
            .map(Some)
            .ok_or_else(|| field(name, "an RFC 3339 time such as 2026-11-01T00:00:00Z")),
    }
}

fn parse_site(text: Option<&str>) -> Result<Option<SiteId>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| field("site_id", "not a site id")),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    pub site_id: Option<String>,
    /// Start (inclusive), RFC 3339; default 30 days before `to`.
    pub from: Option<String>,
    /// End (exclusive), RFC 3339; default now (inclusive).
    pub to: Option<String>,
    /// The viewer's offset from UTC in minutes (60 for UTC+1): days and hours are theirs.
    pub tz_offset: Option<i32>,
}

struct Range {
    site_id: Option<SiteId>,
    from: Timestamp,
    to: Timestamp,
}

impl RangeQuery {
    fn range(&self, now: Timestamp) -> Result<Range, ApiError> {
        // By default up to and including this millisecond.
        let to = parse_time(self.to.as_deref(), "to")?.unwrap_or(now.plus_millis(1));
        let from = parse_time(self.from.as_deref(), "from")?.unwrap_or(to.plus_millis(-DEFAULT_RANGE_DAYS * DAY_MS));
        if from >= to {
            return Err(field("from", "before `to`"));
        }
        if to.millis() - from.millis() > MAX_RANGE_DAYS * DAY_MS {
            return Err(field("from", "at most 1100 days before `to`"));
        }
        Ok(Range { site_id: parse_site(self.site_id.as_deref())?, from, to })
    }
}

/// Conversations per day, AI-resolved and escalated shares, humans' first response time,
/// ratings, thumbs per day and the busiest hours.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/analytics", tag = "reports", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), RangeQuery),
    responses(
        (status = 200, body = Report),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn analytics_report(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Report>, ApiError> {
    member.require(Permission::ManageSites)?;
    let r = q.range(st.now())?;
    let tz = q.tz_offset.unwrap_or(0);
    if !(-14 * 60..=14 * 60).contains(&tz) {
        return Err(field("tz_offset", "between -840 and 840 minutes"));
    }
    let store = &st.chat.store;
    let conversations = store.conversation_stats(member.org_id(), r.site_id, r.from, r.to).await?;
    let reactions = store.reaction_stats(member.org_id(), r.site_id, r.from, r.to).await?;
    Ok(Json(analytics::report(r.from, r.to, tz, &conversations, &reactions)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Insights {
    pub top_pages: Vec<PageCount>,
    pub conversions: Vec<ConversionCount>,
}

const TOP_PAGES: u32 = 20;

/// The most viewed pages and the conversions in the range.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/insights", tag = "reports", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), RangeQuery),
    responses(
        (status = 200, body = Insights),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn insights(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Insights>, ApiError> {
    member.require(Permission::ManageSites)?;
    let r = q.range(st.now())?;
    let store = &st.chat.store;
    let top_pages = store.top_pages(member.org_id(), r.site_id, r.from, r.to, TOP_PAGES).await?;
    let conversions = store.conversion_counts(member.org_id(), r.site_id, r.from, r.to).await?;
    Ok(Json(Insights { top_pages, conversions }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnansweredQuery {
    pub site_id: Option<String>,
    /// How far back, 1–365 days (default 30).
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnansweredReport {
    /// Biggest group first.
    pub groups: Vec<QuestionGroup>,
}

const UNANSWERED_SCAN: u32 = 2_000;

/// Visitor questions the assistant could not answer from the knowledge base, grouped by
/// similarity: what to write next.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/unanswered", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), UnansweredQuery),
    responses(
        (status = 200, body = UnansweredReport),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn unanswered(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(q): ApiQuery<UnansweredQuery>,
) -> Result<Json<UnansweredReport>, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let days = q.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(field("days", "between 1 and 365"));
    }
    let since = st.now().plus_millis(-i64::from(days) * DAY_MS);
    let site_id = parse_site(q.site_id.as_deref())?;
    let questions = st.chat.store.list_unanswered(member.org_id(), site_id, since, UNANSWERED_SCAN).await?;
    Ok(Json(UnansweredReport { groups: gaps::group(&questions) }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor_id: Option<String>,
    /// An exact action (`site.update`) or a prefix ending in `.` (`site.`).
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// 1 to 200 (default 50) on screen; up to 10,000 for an export.
    pub limit: Option<u32>,
    /// `json` (default) or `csv` (a file).
    pub format: Option<String>,
    /// `1` or `true`: a JSON file download (`Content-Disposition: attachment`).
    pub download: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub events: Vec<AuditRecord>,
}

const EXPORT_LIMIT: u32 = 10_000;

/// A CSV field: quoted, with quotes doubled; a leading `=`, `+`, `-` or `@` is prefixed with `'`
/// so a spreadsheet never runs it as a formula.
fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

fn audit_csv(records: &[AuditRecord]) -> String {
    let mut out = String::from(
        "seq,id,created_at,actor_id,action,target_kind,target_id,ip,user_agent,details,prev_hash,hash\r\n",
    );
    for r in records {
        let e = &r.event;
        let row = [
            r.seq.to_string(),
            e.id.to_string(),
            e.created_at.to_rfc3339(),
            e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
            e.action.clone(),
            e.target_kind.clone(),
            e.target_id.clone(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.details.to_string(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ];
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn attachment(body: String, content_type: &'static str, file: &str) -> Result<Response, ApiError> {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).map_err(|_| ApiError::internal())?;
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}

/// The audit log, newest first, filtered; `format=csv` or `download=1` exports it (a plan
/// entitlement).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/audit", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), AuditQuery),
    responses(
        (status = 200, body = AuditList, description = "JSON, or a CSV/JSON file with format=csv / download=1"),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 402, description = "plan_limit (export is not in the plan)", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn list_audit(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    member.require(Permission::ReadAuditLog)?;
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(field("format", "json or csv")),
    };
    let download = csv || matches!(q.download.as_deref(), Some("1" | "true"));
    if download {
        let org = st.chat.store.get_org(member.org_id()).await?;
        if !st.entitlements(&org).audit_export {
            return Err(ApiError::new(ErrorCode::PlanLimit, "exporting the audit log needs the Pro plan"));
        }
    }
    let actor_id = match q.actor_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<UserId>().map_err(|_| field("actor_id", "not a user id"))?),
        None => None,
    };
    let action = q.action.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    if action.as_ref().is_some_and(|a| a.len() > 100) {
        return Err(field("action", "at most 100 characters"));
    }
    let limit = if download {
        q.limit.unwrap_or(EXPORT_LIMIT).clamp(1, EXPORT_LIMIT)
    } else {
        q.limit.unwrap_or(50).clamp(1, 200)
    };
    let filter = AuditFilter {
        actor_id,
        action,
        from: parse_time(q.from.as_deref(), "from")?,
        to: parse_time(q.to.as_deref(), "to")?,
        limit,
    };
    let events = st.chat.store.list_audit(member.org_id(), &filter).await?;
    if download {
        // Taking a copy of the log out is itself on the record.
        let details = serde_json::json!({
            "format": if csv { "csv" } else { "json" },
            "events": events.len(),
            "actor_id": filter.actor_id,
            "action": filter.action,
            "from": filter.from,
            "to": filter.to,
        });
        let org_id = member.org_id();
        audit(&st, org_id, Some(member.user.id), "audit.export", ("organization", org_id.to_string()), &meta, details)
            .await;
    }
    if csv {
        return attachment(audit_csv(&events), "text/csv; charset=utf-8", "frontdesk-audit.csv");
    }
    if download {
        let body = serde_json::to_string_pretty(&AuditList { events }).map_err(|_| ApiError::internal())?;
        return attachment(body, "application/json", "frontdesk-audit.json");
    }
    Ok(Json(AuditList { events }).into_response())
}

/// Walks the organization's audit chain from its first event and reports the first link that
/// does not hold: an event changed, removed or inserted.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/audit/verify", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = AuditVerification, description = "`ok`, the events checked, and the first broken link or null"),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn verify_audit(State(st): State<AppState>, member: OrgMember) -> Result<Json<AuditVerification>, ApiError> {
    member.require(Permission::ReadAuditLog)?;
    Ok(Json(crate::admin::verify_audit_chain(&*st.chat.store, member.org_id()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "\"plain\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "\"'-1\"");
        assert_eq!(csv_field("a,b\r\nc"), "\"a,b\r\nc\"");
    }
}
