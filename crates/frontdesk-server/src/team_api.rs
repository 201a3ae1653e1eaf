//! The organization and its team in the private API: plan and seats, members and roles,
//! invitations by signed, expiring link, and each member's notification preferences.

use crate::app_api::{Agent, MeResponse, OrgMember, audit, me_response, parse_id, start_login};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ClientMeta};
use crate::state::AppState;
use crate::token::TokenCodec;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use frontdesk_core::model::{Membership, Organization};
use frontdesk_core::plans::Entitlements;
use frontdesk_core::roles::{Permission, Role};
use frontdesk_core::store::StoreError;
use frontdesk_core::team::{Invite, Member, NotificationPrefs};
use frontdesk_core::{InviteId, OrgId, Timestamp, UserId, validate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}", get(get_org))
        .route("/api/app/orgs/{org_id}/members", get(list_members))
        .route("/api/app/orgs/{org_id}/members/{user_id}", axum::routing::patch(change_role).delete(remove_member))
        .route("/api/app/orgs/{org_id}/invites", post(create_invite))
        .route("/api/app/orgs/{org_id}/invites/{id}", delete(revoke_invite))
        .route("/api/app/orgs/{org_id}/notifications", put(set_notifications))
        .route("/api/app/invites/{token}", get(show_invite))
        .route("/api/app/invites/{token}/accept", post(accept_invite))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrgView {
    pub org: Organization,
    /// The caller's role.
    pub role: Role,
    pub entitlements: EntitlementsView,
    /// Members plus pending invitations.
    pub seats_used: u32,
    /// The paid subscription, when the organization has (or had) one.
    #[serde(default)]
    pub subscription: Option<SubscriptionView>,
}

/// The subscription as the dashboard shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    pub status: frontdesk_core::billing::SubscriptionStatus,
    /// A renewal payment failed: Pro is kept while the provider retries; update the payment method.
    pub past_due: bool,
}

/// [`Entitlements`] as the API shows them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntitlementsView {
    /// `null` means unlimited.
    pub seats: Option<u32>,
    pub remove_branding: bool,
    pub full_customization: bool,
    pub audit_export: bool,
}

impl From<Entitlements> for EntitlementsView {
    fn from(e: Entitlements) -> Self {
        EntitlementsView {
            seats: e.seats,
            remove_branding: e.remove_branding,
            full_customization: e.full_customization,
            audit_export: e.audit_export,
        }
    }
}

/// Members plus invitations that can still be accepted.
async fn seats_used(st: &AppState, org_id: OrgId) -> Result<(Vec<Member>, Vec<Invite>, u32), ApiError> {
    let members = st.chat.store.list_members(org_id).await?;
    let invites = st.chat.store.list_invites(org_id).await?;
    let now = st.now();
    let pending = invites.iter().filter(|i| i.expires_at > now).count();
    let used = u32::try_from(members.len() + pending).unwrap_or(u32::MAX);
    Ok((members, invites, used))
}

/// The organization: its plan, what the plan allows, and the caller's role.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = OrgView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_org(State(st): State<AppState>, member: OrgMember) -> Result<Json<OrgView>, ApiError> {
    let org = st.chat.store.get_org(member.org_id()).await?;
    let (_, _, used) = seats_used(&st, org.id).await?;
    let entitlements = st.entitlements(&org).into();
    let subscription = st.chat.store.get_subscription(org.id).await?.map(|s| SubscriptionView {
        status: s.status,
        past_due: s.status == frontdesk_core::billing::SubscriptionStatus::PastDue,
    });
    Ok(Json(OrgView { org, role: member.membership.role, entitlements, seats_used: used, subscription }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Seats {
    pub used: u32,
    /// `null` means unlimited.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TeamView {
    pub members: Vec<Member>,
    /// Invitations not accepted yet (expired ones too, so they can be revoked).
    pub invites: Vec<Invite>,
    pub seats: Seats,
}

/// The team: members, pending invitations and seats.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/members", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    responses(
        (status = 200, body = TeamView),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_members(State(st): State<AppState>, member: OrgMember) -> Result<Json<TeamView>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let org = st.chat.store.get_org(member.org_id()).await?;
    let (members, invites, used) = seats_used(&st, org.id).await?;
    Ok(Json(TeamView { members, invites, seats: Seats { used, limit: st.entitlements(&org).seats } }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `member` (the default) or `admin`. Ownership is transferred, never invited.
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteCreated {
    pub invite: Invite,
    /// The link to send (also emailed when SMTP is configured). It expires with the invitation.
    pub link: String,
}

/// Invites someone by email. Refused with `plan_limit` when the plan's seats are used up.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/invites", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = InviteRequest,
    responses(
        (status = 201, body = InviteCreated),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 402, description = "plan_limit (no seat left)", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (already a member, or already invited)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn create_invite(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InviteCreated>), ApiError> {
    member.require(Permission::ManageTeam)?;
    let email = validate::email(&body.email)?;
    let role = body.role.unwrap_or(Role::Member);
    if role == Role::Owner {
        return Err(ApiError::invalid_field(Some("role".to_owned()), "member or admin; transfer ownership instead"));
    }
    let org = st.chat.store.get_org(member.org_id()).await?;
    let (members, _, used) = seats_used(&st, org.id).await?;
    if members.iter().any(|m| m.email.eq_ignore_ascii_case(&email)) {
        return Err(ApiError::new(ErrorCode::Conflict, "this person is already a member"));
    }
    let entitlements = st.entitlements(&org);
    if !entitlements.has_seat_for_one_more(used) {
        let limit = entitlements.seats.unwrap_or(0);
        return Err(ApiError::new(
            ErrorCode::PlanLimit,
            format!("all {limit} seats of your plan are taken; remove a member or revoke an invitation, or upgrade"),
        ));
    }
    let now = st.now();
    let ttl = i64::try_from(st.config.invite_ttl_secs).unwrap_or(i64::MAX / 1000);
    let invite = Invite {
        id: InviteId::generate(&*st.chat.clock, &*st.chat.entropy),
        org_id: org.id,
        email,
        role,
        invited_by: Some(member.user.id),
        created_at: now,
        expires_at: now.plus_seconds(ttl),
        accepted_at: None,
    };
    st.chat.store.create_invite(&invite).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::new(ErrorCode::Conflict, "this email has a pending invitation already"),
        other => other.into(),
    })?;
    let link =
        format!("{}/app/#/invite/{}", st.own_origin(&headers)?, st.tokens.sign_invite(invite.id.0, invite.expires_at));
    crate::notify::send_invite(&st, &org, &member.user.name, &invite, &link).await;
    let details = serde_json::json!({ "email": invite.email, "role": invite.role });
    audit(&st, org.id, Some(member.user.id), "team.invite", ("invite", invite.id.to_string()), &meta, details).await;
    Ok((StatusCode::CREATED, Json(InviteCreated { invite, link })))
}

/// Revokes an invitation: its link stops working.
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/invites/{id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = InviteId, Path)),
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn revoke_invite(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    member.require(Permission::ManageTeam)?;
    let id: InviteId = parse_id(&id, "invitation")?;
    st.chat.store.delete_invite(member.org_id(), id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("invitation"),
        other => other.into(),
    })?;
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "team.invite_revoke",
        ("invite", id.to_string()),
        &meta,
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: Role,
}

/// The member's row, or "not found" for someone who is not in the organization.
fn find_member(members: &[Member], user_id: UserId) -> Result<&Member, ApiError> {
    members.iter().find(|m| m.user_id == user_id).ok_or_else(|| ApiError::not_found("member"))
}

/// Only an owner may make or unmake owners, and the last owner stays an owner.
fn check_role_change(actor: Role, members: &[Member], target: &Member, new_role: Option<Role>) -> Result<(), ApiError> {
    let touches_owner = target.role == Role::Owner || new_role == Some(Role::Owner);
    if touches_owner && actor != Role::Owner {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an owner can change an owner or make one"));
    }
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    if target.role == Role::Owner && new_role != Some(Role::Owner) && owners <= 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the organization needs an owner: make someone else owner first",
        ));
    }
    Ok(())
}

/// Changes a member's role.
#[utoipa::path(patch, path = "/api/app/orgs/{org_id}/members/{user_id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("user_id" = UserId, Path)),
    request_body = RoleRequest,
    responses(
        (status = 200, body = Member),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (the last owner)", body = ErrorBody),
    ))]
pub async fn change_role(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> Result<Json<Member>, ApiError> {
    member.require(Permission::ManageTeam)?;
    let user_id: UserId = parse_id(&user_id, "member")?;
    let members = st.chat.store.list_members(member.org_id()).await?;
    let target = find_member(&members, user_id)?.clone();
    check_role_change(member.membership.role, &members, &target, Some(body.role))?;
    let membership = Membership { org_id: member.org_id(), user_id, role: body.role, created_at: target.created_at };
    st.chat.store.put_membership(&membership).await?;
    let details = serde_json::json!({ "from": target.role, "to": body.role });
    audit(
        &st,
        member.org_id(),
        Some(member.user.id),
        "team.role_change",
        ("user", user_id.to_string()),
        &meta,
        details,
    )
    .await;
    Ok(Json(Member { role: body.role, ..target }))
}

/// Removes a member from the organization.
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/members/{user_id}", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("user_id" = UserId, Path)),
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "conflict (the last owner)", body = ErrorBody),
    ))]
pub async fn remove_member(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    member.require(Permission::ManageTeam)?;
    let user_id: UserId = parse_id(&user_id, "member")?;
    let members = st.chat.store.list_members(member.org_id()).await?;
    let target = find_member(&members, user_id)?.clone();
    check_role_change(member.membership.role, &members, &target, None)?;
    st.chat.store.delete_membership(member.org_id(), user_id).await?;
    let details = serde_json::json!({ "email": target.email, "role": target.role });
    audit(&st, member.org_id(), Some(member.user.id), "team.remove", ("user", user_id.to_string()), &meta, details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets which email alerts the caller gets from this organization.
#[utoipa::path(put, path = "/api/app/orgs/{org_id}/notifications", tag = "app", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = NotificationPrefs,
    responses(
        (status = 200, body = NotificationPrefs),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn set_notifications(
    State(st): State<AppState>,
    member: OrgMember,
    ApiJson(prefs): ApiJson<NotificationPrefs>,
) -> Result<Json<NotificationPrefs>, ApiError> {
    st.chat.store.set_notification_prefs(member.org_id(), member.user.id, prefs).await?;
    Ok(Json(prefs))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteInfo {
    pub org_name: String,
    pub email: String,
    pub role: Role,
    pub expires_at: Timestamp,
    /// The email has an account: log in as it, then accept (no name or password needed).
    pub existing_user: bool,
}

/// The invitation a link names, if the link is genuine, unused and not expired.
async fn valid_invite(st: &AppState, token: &str) -> Result<Invite, ApiError> {
    let gone = || ApiError::not_found("invitation (the link is invalid, used or expired)");
    let id = TokenCodec::invite_id(token).ok_or_else(gone)?;
    let invite = match st.chat.store.get_invite(InviteId(id)).await {
        Ok(i) => i,
        Err(StoreError::NotFound) => return Err(gone()),
        Err(e) => return Err(e.into()),
    };
    if !st.tokens.verify_invite(token, id, invite.expires_at)
        || invite.accepted_at.is_some()
        || st.now() >= invite.expires_at
    {
        return Err(gone());
    }
    Ok(invite)
}

/// What an invitation link offers (public: the link is the credential).
#[utoipa::path(get, path = "/api/app/invites/{token}", tag = "app",
    params(("token" = String, Path)),
    responses(
        (status = 200, body = InviteInfo),
        (status = 404, description = "not_found (invalid, used or expired link)", body = ErrorBody),
    ))]
pub async fn show_invite(State(st): State<AppState>, Path(token): Path<String>) -> Result<Json<InviteInfo>, ApiError> {
    let invite = valid_invite(&st, &token).await?;
    let org = st.chat.store.get_org(invite.org_id).await?;
    let existing_user = match st.chat.store.get_user_by_email(&invite.email).await {
        Ok(_) => true,
        Err(StoreError::NotFound) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(InviteInfo {
        org_name: org.name,
        email: invite.email,
        role: invite.role,
        expires_at: invite.expires_at,
        existing_user,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// For a new account.
    pub name: Option<String>,
    /// For a new account (at least 10 characters).
    #[schema(format = Password)]
    pub password: Option<String>,
}

impl std::fmt::Debug for AcceptRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptRequest").field("name", &self.name).field("password", &"<redacted>").finish()
    }
}

/// Joins the organization: a new account is created from `name` and `password` and logged in;
/// an existing account must be logged in already.
#[utoipa::path(post, path = "/api/app/invites/{token}/accept", tag = "app",
    params(("token" = String, Path)),
    request_body = AcceptRequest,
    responses(
        (status = 200, body = MeResponse, headers(("Set-Cookie" = String, description = "fd_session for a new account"))),
        (status = 401, description = "not_authenticated (the email has an account: log in as it first)", body = ErrorBody),
        (status = 403, description = "forbidden (logged in as someone else), csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (invalid, used or expired link)", body = ErrorBody),
        (status = 409, description = "conflict (accepted meanwhile)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn accept_invite(
    State(st): State<AppState>,
    meta: ClientMeta,
    Path(token): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, st.config.max_body_bytes)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "the body is larger than the server accepts"))?;
    let body: AcceptRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        AcceptRequest::default()
    } else {
        crate::extract::parse_json(&bytes)?
    };
    let invite = valid_invite(&st, &token).await?;
    let existing = match st.chat.store.get_user_by_email(&invite.email).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let (user, new_login) = match existing {
        Some(user) => {
            let Agent { user: caller } = Agent::from_request_parts(&mut parts, &st).await?;
            if caller.id != user.id {
                return Err(ApiError::new(ErrorCode::Forbidden, "this invitation is for another account"));
            }
            (user, false)
        }
        None => {
            let name = body.name.as_deref().unwrap_or_default();
            let password = body.password.as_deref().unwrap_or_default();
            let user = crate::admin::create_user(&st.chat, &invite.email, name, password, None).await?;
            (user, true)
        }
    };
    let membership = Membership { org_id: invite.org_id, user_id: user.id, role: invite.role, created_at: st.now() };
    st.chat.store.accept_invite(invite.id, &membership, st.now()).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::new(ErrorCode::Conflict, "this invitation has been used already"),
        StoreError::NotFound => ApiError::not_found("invitation"),
        other => other.into(),
    })?;
    let details = serde_json::json!({ "email": invite.email, "role": invite.role });
    audit(&st, invite.org_id, Some(user.id), "team.join", ("user", user.id.to_string()), &meta, details).await;
    if new_login {
        return start_login(&st, user, &meta).await;
    }
    Ok(Json(me_response(&st, user).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn m(n: u128, role: Role) -> Member {
        Member {
            user_id: UserId(Uuid::from_u128(n)),
            email: format!("{n}@example.com"),
            name: n.to_string(),
            role,
            notify: NotificationPrefs::default(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn owners_are_changed_by_owners_and_the_last_one_stays() {
        let team = [m(1, Role::Owner), m(2, Role::Admin), m(3, Role::Member)];
        // An admin may promote a member to admin, not to owner, and cannot touch the owner.
        assert!(check_role_change(Role::Admin, &team, &team[2], Some(Role::Admin)).is_ok());
        assert!(check_role_change(Role::Admin, &team, &team[2], Some(Role::Owner)).is_err());
        assert!(check_role_change(Role::Admin, &team, &team[0], None).is_err());
        // The only owner can be neither demoted nor removed, even by themself.
        assert!(check_role_change(Role::Owner, &team, &team[0], Some(Role::Admin)).is_err());
        assert!(check_role_change(Role::Owner, &team, &team[0], None).is_err());
        // With a second owner, one may step down.
        let two = [m(1, Role::Owner), m(4, Role::Owner)];
        assert!(check_role_change(Role::Owner, &two, &two[0], Some(Role::Member)).is_ok());
    }
}
