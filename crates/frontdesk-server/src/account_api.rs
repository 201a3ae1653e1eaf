//! An agent's own account: the list of their login sessions with revoke, and password reset by
//! an emailed, single-use, expiring link. Every change is audited.

use crate::app_api::{Agent, audit_user};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ClientMeta};
use crate::http;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use frontdesk_core::store::StoreError;
use frontdesk_core::{Timestamp, keys, validate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reset link works this long.
pub const RESET_TTL_SECS: i64 = 3_600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/sessions", get(list_sessions))
        .route("/api/app/sessions/{id}", delete(revoke_session))
        .route("/api/app/password/forgot", post(forgot_password))
        .route("/api/app/totp", get(totp_status))
        .route("/api/app/totp/setup", post(totp_setup))
        .route("/api/app/totp/enable", post(totp_enable))
        .route("/api/app/totp/disable", post(totp_disable))
        .route("/api/app/password/reset", post(reset_password))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The SHA-256 of the session's token (the token itself is never stored): revoke by it.
    pub id: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

fn current_hash(headers: &HeaderMap) -> Option<String> {
    http::cookie(headers, http::SESSION_COOKIE).map(keys::hash_token)
}

/// The caller's login sessions, most recently used first.
#[utoipa::path(get, path = "/api/app/sessions", tag = "app", security(("session_cookie" = [])),
    responses(
        (status = 200, body = SessionList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
    ))]
pub async fn list_sessions(
    State(st): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
) -> Result<Json<SessionList>, ApiError> {
    let current = current_hash(&headers);
    let now = st.now();
    let sessions = st
        .chat
        .store
        .list_login_sessions(agent.user.id)
        .await?
        .into_iter()
        .filter(|s| s.expires_at > now)
        .map(|s| SessionView {
            current: current.as_deref() == Some(s.token_hash.as_str()),
            id: s.token_hash,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Ends one of the caller's sessions (its open sockets close within a heartbeat).
#[utoipa::path(delete, path = "/api/app/sessions/{id}", tag = "app", security(("session_cookie" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (not one of yours)", body = ErrorBody),
    ))]
pub async fn revoke_session(
    State(st): State<AppState>,
    agent: Agent,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mine = st.chat.store.list_login_sessions(agent.user.id).await?;
    if !mine.iter().any(|s| s.token_hash == id) {
        return Err(ApiError::not_found("session"));
    }
    st.chat.store.delete_login_session(&id).await?;
    audit_user(&st, &agent.user, "user.session_revoke", &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    pub email: String,
}

/// Emails a reset link when the address has an account. The answer is the same either way, so
/// it tells nobody which addresses have accounts.
#[utoipa::path(post, path = "/api/app/password/forgot", tag = "app",
    request_body = ForgotRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way"),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 429, description = "rate_limited (per IP)", body = ErrorBody),
    ))]
pub async fn forgot_password(
    State(st): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    if let Err(retry) = st.limits.logins.hit(meta.ip_key()).await {
        return Err(ApiError::new(ErrorCode::RateLimited, "too many requests; slow down").with_retry_after(retry.0));
    }
    let email: String = body.email.trim().to_lowercase().chars().take(320).collect();
    let user = match st.chat.store.get_user_by_email(&email).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Ok(StatusCode::ACCEPTED),
        Err(e) => return Err(e.into()),
    };
    let Some(mailer) = &st.mailer else {
        tracing::warn!(user_id = %user.id, "a password reset was asked for, but no SMTP relay is configured");
        return Ok(StatusCode::ACCEPTED);
    };
    let token = keys::new_opaque_token(&*st.chat.entropy);
    let now = st.now();
    st.chat
        .store
        .create_password_reset(&keys::hash_token(&token), user.id, now, now.plus_seconds(RESET_TTL_SECS))
        .await?;
    let link = format!("{}/app/#/reset/{token}", st.own_origin(&headers)?);
    let text = format!(
        "Someone (hopefully you) asked to reset the password of your Frontdesk account {}.\n\n\
         Choose a new password here (the link works once, for one hour):\n{link}\n\n\
         If you did not ask for this, ignore this email: your password stays as it is.\n",
        user.email
    );
    if let Err(e) = mailer.send(&user.email, "Reset your Frontdesk password", &text).await {
        tracing::warn!(error = %e, user_id = %user.id, "could not email the password reset link");
    }
    audit_user(&st, &user, "user.password_reset_requested", &meta).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token from the emailed link.
    pub token: String,
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for ResetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetRequest { <redacted> }")
    }
}

/// Sets a new password with a reset link's token; every session of the account ends.
#[utoipa::path(post, path = "/api/app/password/reset", tag = "app",
    request_body = ResetRequest,
    responses(
        (status = 204),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (the link is invalid, used or expired)", body = ErrorBody),
        (status = 422, description = "invalid_field (a weak password)", body = ErrorBody),
    ))]
pub async fn reset_password(
    State(st): State<AppState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    // Checked before the link is spent, so a weak password does not burn it.
    validate::new_password(&body.password)?;
    let user_id = match st.chat.store.take_password_reset(&keys::hash_token(body.token.trim()), st.now()).await {
        Ok(id) => id,
        Err(StoreError::NotFound) => {
            return Err(ApiError::not_found("reset link (it is invalid, used or expired)"));
        }
        Err(e) => return Err(e.into()),
    };
    let hash = crate::admin::hash_password(&st.chat, &body.password)?;
    st.chat.store.set_password_hash(user_id, &hash).await?;
    st.chat.store.delete_login_sessions_of_user(user_id, None).await?;
    let user = st.chat.store.get_user(user_id).await?;
    audit_user(&st, &user, "user.password_reset", &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpStatus {
    /// Two-factor login is on: logins need the authenticator's code.
    pub enabled: bool,
    /// Set up but not confirmed with a code yet.
    pub pending: bool,
}

/// Whether the caller's two-factor login is on.
#[utoipa::path(get, path = "/api/app/totp", tag = "app", security(("session_cookie" = [])),
    responses(
        (status = 200, body = TotpStatus),
        (status = 401, description = "not_authenticated", body = ErrorBody),
    ))]
pub async fn totp_status(State(st): State<AppState>, agent: Agent) -> Result<Json<TotpStatus>, ApiError> {
    let state = st.chat.store.get_totp(agent.user.id).await?;
    Ok(Json(TotpStatus {
        enabled: state.as_ref().is_some_and(|t| t.enabled),
        pending: state.as_ref().is_some_and(|t| !t.enabled),
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpSetup {
    /// Base32: type it into the authenticator app (or use the URI).
    pub secret: String,
    pub otpauth_uri: String,
}

/// Starts setting up two-factor login: a new secret, confirmed by `…/enable` with a code.
#[utoipa::path(post, path = "/api/app/totp/setup", tag = "app", security(("session_cookie" = [])),
    responses(
        (status = 200, body = TotpSetup),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 409, description = "conflict (already on: disable it first)", body = ErrorBody),
    ))]
pub async fn totp_setup(State(st): State<AppState>, agent: Agent) -> Result<Json<TotpSetup>, ApiError> {
    if st.chat.store.get_totp(agent.user.id).await?.is_some_and(|t| t.enabled) {
        return Err(ApiError::new(ErrorCode::Conflict, "two-factor login is on already; disable it first"));
    }
    let mut bytes = [0u8; crate::totp::SECRET_BYTES];
    st.chat.entropy.fill(&mut bytes);
    let secret = crate::totp::encode_secret(&bytes);
    let state = frontdesk_core::model::TotpState { secret: secret.clone(), enabled: false, last_step: 0 };
    st.chat.store.put_totp(agent.user.id, &state).await?;
    let otpauth_uri = crate::totp::otpauth_uri(&secret, &agent.user.email);
    Ok(Json(TotpSetup { secret, otpauth_uri }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

/// Turns two-factor login on, with a code that proves the app has the secret.
#[utoipa::path(post, path = "/api/app/totp/enable", tag = "app", security(("session_cookie" = [])),
    request_body = TotpCode,
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
        (status = 409, description = "conflict (nothing set up, or already on)", body = ErrorBody),
        (status = 422, description = "invalid_field (a wrong code)", body = ErrorBody),
    ))]
pub async fn totp_enable(
    State(st): State<AppState>,
    agent: Agent,
    meta: ClientMeta,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<StatusCode, ApiError> {
    let Some(state) = st.chat.store.get_totp(agent.user.id).await?.filter(|t| !t.enabled) else {
        return Err(ApiError::new(ErrorCode::Conflict, "set two-factor login up first (or it is on already)"));
    };
    let Some(step) = crate::totp::matching_step(&state.secret, &body.code, st.now().unix_seconds()) else {
        return Err(ApiError::invalid_field(Some("code".to_owned()), "not the current code of the authenticator app"));
    };
    let enabled = frontdesk_core::model::TotpState { enabled: true, last_step: step, ..state };
    st.chat.store.put_totp(agent.user.id, &enabled).await?;
    audit_user(&st, &agent.user, "user.totp_enable", &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirm {
    #[schema(format = Password)]
    pub password: String,
}

/// Turns two-factor login off; the password confirms it is the account's owner.
#[utoipa::path(post, path = "/api/app/totp/disable", tag = "app", security(("session_cookie" = [])),
    request_body = PasswordConfirm,
    responses(
        (status = 204),
        (status = 401, description = "not_authenticated, invalid_credentials (a wrong password)", body = ErrorBody),
        (status = 403, description = "csrf_rejected", body = ErrorBody),
    ))]
pub async fn totp_disable(
    State(st): State<AppState>,
    agent: Agent,
    meta: ClientMeta,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<StatusCode, ApiError> {
    let hash = agent.user.password_hash.clone();
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || crate::admin::verify_password(&hash, &password))
        .await
        .map_err(|_| ApiError::internal())?;
    if !matches {
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong password"));
    }
    st.chat.store.delete_totp(agent.user.id).await?;
    audit_user(&st, &agent.user, "user.totp_disable", &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
