//! A site's widget publishing, embed snippet and keys in the private API. The widget's look is
//! edited as a draft and goes live on publish; keys rotate without breaking pages that still
//! carry the old snippet for a day.

use crate::app_api::{OrgMember, audit, org_site};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::ClientMeta;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::model::{Site, WidgetConfig, WidgetPosition};
use frontdesk_core::roles::Permission;
use frontdesk_core::{CoreError, OrgId, SiteId, keys};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long a rotated-out public key keeps working.
pub const KEY_GRACE_SECS: i64 = 86_400;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/sites/{site_id}/widget/publish", post(publish_widget))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/widget/discard", post(discard_widget))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/embed", get(embed))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/keys/rotate", post(rotate_key))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/secret", get(get_secret))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/secret/rotate", post(rotate_secret))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    CoreError::Invalid { field: format!("widget.{field}"), message: message.into() }.into()
}

const MAX_WIDGET_TEXT: usize = 200;
const MAX_QUICK_REPLIES: usize = 8;
const MAX_SUGGESTIONS: usize = 20;
const MAX_CHANNELS: usize = 8;
const CHANNEL_KINDS: [&str; 6] = ["whatsapp", "telegram", "messenger", "email", "phone", "link"];

fn is_hex_color(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// A widget configuration the widget can show, within what the organization's plan allows.
pub(crate) async fn validated_widget(
    st: &AppState,
    org_id: OrgId,
    mut w: WidgetConfig,
) -> Result<WidgetConfig, ApiError> {
    if !is_hex_color(&w.primary_color) {
        return Err(invalid("primary_color", "a colour such as #2563eb"));
    }
    w.primary_color = w.primary_color.to_lowercase();
    for (name, text) in [
        ("title", &w.title),
        ("welcome_heading", &w.welcome_heading),
        ("welcome_subheading", &w.welcome_subheading),
        ("greeting", &w.greeting),
    ] {
        if text.chars().count() > MAX_WIDGET_TEXT {
            return Err(invalid(name, format!("at most {MAX_WIDGET_TEXT} characters")));
        }
    }
    if w.title.trim().is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if !(2..=5).contains(&w.language.len()) || !w.language.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        return Err(invalid("language", "a language code such as en or nl"));
    }
    if w.quick_replies.len() > MAX_QUICK_REPLIES
        || w.quick_replies.iter().any(|q| q.trim().is_empty() || q.chars().count() > 80)
    {
        return Err(invalid("quick_replies", format!("at most {MAX_QUICK_REPLIES}, each 1–80 characters")));
    }
    if w.suggestions.len() > MAX_SUGGESTIONS {
        return Err(invalid("suggestions", format!("at most {MAX_SUGGESTIONS} rules")));
    }
    for (i, rule) in w.suggestions.iter().enumerate() {
        if rule.url_pattern.trim().is_empty() || rule.url_pattern.len() > 500 {
            return Err(invalid(&format!("suggestions[{i}].url_pattern"), "1–500 characters; * matches anything"));
        }
        if rule.message.trim().is_empty() || rule.message.chars().count() > 300 {
            return Err(invalid(&format!("suggestions[{i}].message"), "1–300 characters"));
        }
        if rule.triggers.scroll_percent.is_some_and(|p| p > 100) {
            return Err(invalid(&format!("suggestions[{i}].triggers.scroll_percent"), "0–100"));
        }
    }
    if w.channels.len() > MAX_CHANNELS {
        return Err(invalid("channels", format!("at most {MAX_CHANNELS}")));
    }
    for (i, channel) in w.channels.iter().enumerate() {
        if !CHANNEL_KINDS.contains(&channel.kind.as_str()) {
            return Err(invalid(&format!("channels[{i}].kind"), CHANNEL_KINDS.join(", ")));
        }
        let scheme_ok = ["https://", "http://", "mailto:", "tel:"].iter().any(|s| channel.url.starts_with(s));
        if !scheme_ok || channel.url.len() > 500 {
            return Err(invalid(&format!("channels[{i}].url"), "an https:, mailto: or tel: link"));
        }
        if channel.label.trim().is_empty() || channel.label.chars().count() > 60 {
            return Err(invalid(&format!("channels[{i}].label"), "1–60 characters"));
        }
    }
    if !w.show_branding {
        let org = st.chat.store.get_org(org_id).await?;
        if !st.entitlements(&org).remove_branding {
            return Err(ApiError::new(ErrorCode::PlanLimit, "removing \"Powered by Frontdesk\" needs the Pro plan"));
        }
    }
    Ok(w)
}

async fn managed_site(st: &AppState, member: &OrgMember, site_id: &str) -> Result<Site, ApiError> {
    org_site(st, member, site_id, Permission::ManageSites).await
}

async fn save(st: &AppState, mut site: Site) -> Result<Site, ApiError> {
    site.updated_at = st.now();
    st.chat.store.update_site(&site).await?;
    st.sites.invalidate();
    Ok(site)
}

/// Makes the widget draft the configuration every widget shows.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites/{site_id}/widget/publish", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = Site),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (there is no draft to publish)", body = ErrorBody),
    ))]
pub async fn publish_widget(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<Site>, ApiError> {
    let mut site = managed_site(&st, &member, &site_id).await?;
    let draft =
        site.widget_draft.take().ok_or_else(|| ApiError::new(ErrorCode::Conflict, "there is no draft to publish"))?;
    // The plan may have changed since the draft was saved.
    site.widget = validated_widget(&st, member.org_id(), draft).await?;
    let site = save(&st, site).await?;
    let details = serde_json::json!({ "primary_color": site.widget.primary_color });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "site.widget_publish",
        ("site", site.id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok(Json(site.redacted()))
}

/// Throws the widget draft away.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites/{site_id}/widget/discard", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = Site),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn discard_widget(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<Site>, ApiError> {
    let mut site = managed_site(&st, &member, &site_id).await?;
    site.widget_draft = None;
    let site = save(&st, site).await?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "site.widget_discard",
        ("site", site.id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(Json(site.redacted()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Embed {
    /// The HTML to paste before `</body>`.
    pub snippet: String,
    pub loader_url: String,
    /// The loader's Subresource Integrity hash.
    pub integrity: String,
}

/// The embed snippet for the site, ready to copy.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites/{site_id}/embed", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = Embed),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn embed(
    State(st): State<AppState>,
    member: OrgMember,
    headers: HeaderMap,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<Embed>, ApiError> {
    let site = org_site(&st, &member, &site_id, Permission::ReadConversations).await?;
    let api_url = st.own_origin(&headers)?;
    let position = match site.widget.position {
        WidgetPosition::BottomRight => "bottom-right",
        WidgetPosition::BottomLeft => "bottom-left",
    };
    Ok(Json(Embed {
        snippet: frontdesk_web::snippet(&api_url, &site.public_key, &site.widget.primary_color, position),
        loader_url: format!("{api_url}/widget.js"),
        integrity: frontdesk_web::loader_sri().to_owned(),
    }))
}

/// Gives the site a new public key. The old one keeps working for a day, so pages can be
/// updated without downtime.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites/{site_id}/keys/rotate", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = Site),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn rotate_key(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<Site>, ApiError> {
    let mut site = managed_site(&st, &member, &site_id).await?;
    let old = std::mem::replace(&mut site.public_key, keys::new_public_key(&*st.chat.entropy));
    site.previous_public_key = Some(old);
    site.previous_key_expires_at = Some(st.now().plus_seconds(KEY_GRACE_SECS));
    let site = save(&st, site).await?;
    let details =
        serde_json::json!({ "public_key": site.public_key, "previous_valid_until": site.previous_key_expires_at });
    audit(&st, member.org_id(), Some(member.user.id), "site.key_rotate", ("site", site.id.to_string()), &meta, details)
        .await;
    Ok(Json(site.redacted()))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SiteSecret {
    /// `sk_…`: the site's backend signs visitors' user ids with it (HMAC-SHA256). Keep it on
    /// the server; never put it in a page.
    pub secret: String,
}

/// The identity-verification secret (reading it is audited).
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites/{site_id}/secret", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = SiteSecret),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_secret(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<SiteSecret>, ApiError> {
    let site = managed_site(&st, &member, &site_id).await?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "site.secret_read",
        ("site", site.id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(Json(SiteSecret { secret: site.secret }))
}

/// Replaces the identity-verification secret (visitors' existing signatures stop verifying).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/sites/{site_id}/secret/rotate", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path)),
    responses(
        (status = 200, body = SiteSecret),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn rotate_secret(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, site_id)): Path<(String, String)>,
) -> Result<Json<SiteSecret>, ApiError> {
    let mut site = managed_site(&st, &member, &site_id).await?;
    site.secret = keys::new_site_secret(&*st.chat.entropy);
    let site = save(&st, site).await?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "site.secret_rotate",
        ("site", site.id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(Json(SiteSecret { secret: site.secret }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_six_hex_digits() {
        assert!(is_hex_color("#2563eb"));
        assert!(is_hex_color("#ABCDEF"));
        assert!(!is_hex_color("#abc"));
        assert!(!is_hex_color("red"));
        assert!(!is_hex_color("#12345g"));
        assert!(!is_hex_color("#1234567"));
    }
}
