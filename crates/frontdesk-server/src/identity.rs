//! The widget's `identify` (`POST /api/chat/identify`): the visitor's name, email and the site's
//! own user id, verified when the site's backend signed it — `user_hash` is the lower-case hex
//! HMAC-SHA256 of the user id under the site's secret (`sk_…`), checked in constant time.

use crate::chat_api::{SessionCtx, authorize};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use frontdesk_core::model::{Visitor, VisitorIdentity};
use frontdesk_core::{ConversationId, validate};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

const MAX_USER_ID_CHARS: usize = 200;
const MAX_NAME_CHARS: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    pub session_id: ConversationId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The site's own id for this person (1–200 printable characters).
    pub user_id: Option<String>,
    /// Hex HMAC-SHA256 of `user_id` with the site's secret, computed by the site's backend.
    pub user_hash: Option<String>,
}

impl std::fmt::Debug for IdentifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifyRequest").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Identified {
    pub name: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    /// Whether the user id came with a valid `user_hash`.
    pub verified: bool,
}

impl From<Visitor> for Identified {
    fn from(v: Visitor) -> Self {
        Identified { name: v.name, email: v.email, user_id: v.user_id, verified: v.verified }
    }
}

pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Whether `user_hash` is the HMAC-SHA256 of `user_id` under `secret` (constant-time compare).
pub fn verify_user_hash(secret: &str, user_id: &str, user_hash: &str) -> bool {
    let Some(tag) = hex_decode(user_hash.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(user_id.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

fn field(name: &str, message: &str) -> ApiError {
    ApiError::invalid_field(Some(name.to_owned()), message)
}

/// Tells the server who the visitor is; a `user_hash` that does not match is refused, and so is
/// any identify without one when the site requires verified identities.
#[utoipa::path(post, path = "/api/chat/identify", tag = "chat", security(("api_key" = [], "session_token" = [])),
    request_body = IdentifyRequest,
    responses(
        (status = 200, body = Identified),
        (status = 400, description = "malformed_request", body = ErrorBody),
        (status = 401, description = "missing_api_key, invalid_api_key, invalid_token, token_expired", body = ErrorBody),
        (status = 403, description = "origin_not_allowed, identity_invalid (the user_hash does not match)", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn identify(
    State(st): State<AppState>,
    ctx: SessionCtx,
    ApiJson(body): ApiJson<IdentifyRequest>,
) -> Result<Json<Identified>, ApiError> {
    let conversation = authorize(&st, &ctx, body.session_id).await?;
    let name = match body.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(validate::short_text("name", n, MAX_NAME_CHARS)?),
        None => None,
    };
    let email = match body.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(validate::email(e)?),
        None => None,
    };
    let user_id = match body.user_id.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) if u.chars().count() <= MAX_USER_ID_CHARS && !u.chars().any(char::is_control) => Some(u.to_owned()),
        Some(_) => return Err(field("user_id", "1–200 printable characters")),
        None => None,
    };
    let verified = match (&user_id, body.user_hash.as_deref()) {
        (Some(user_id), Some(hash)) => {
            if !verify_user_hash(&ctx.site.secret, user_id, hash) {
                return Err(ApiError::new(
                    ErrorCode::IdentityInvalid,
                    "user_hash is not the HMAC-SHA256 of user_id with this site's secret",
                ));
            }
            true
        }
        (None, Some(_)) => return Err(field("user_hash", "comes with a user_id")),
        (_, None) => false,
    };
    if ctx.site.require_verified_identity && !verified {
        return Err(ApiError::new(
            ErrorCode::IdentityInvalid,
            "this site requires a verified identity: send user_id with user_hash",
        ));
    }
    let identity = VisitorIdentity { name, email, user_id, verified };
    let visitor =
        st.chat.store.identify_visitor(ctx.site.id, conversation.visitor_id, conversation.id, &identity).await?;
    Ok(Json(visitor.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, user_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(user_id.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn only_the_sites_own_hmac_of_that_user_verifies() {
        let good = sign("sk_site", "user-1");
        assert!(verify_user_hash("sk_site", "user-1", &good));
        assert!(verify_user_hash("sk_site", "user-1", &good.to_uppercase()), "hex in either case");
        assert!(!verify_user_hash("sk_other", "user-1", &good), "another site's secret");
        assert!(!verify_user_hash("sk_site", "user-2", &good), "another user");
        assert!(!verify_user_hash("sk_site", "user-1", &good[..62]), "truncated");
        assert!(!verify_user_hash("sk_site", "user-1", "zz"), "not hex");
        assert!(!verify_user_hash("sk_site", "user-1", ""));
    }
}
