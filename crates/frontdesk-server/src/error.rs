//! The API's error contract: one JSON shape, one table of stable codes, and the mapping from
//! the domain's errors. Clients branch on `code`, never on `message`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontdesk_core::CoreError;
use frontdesk_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Every error code the API answers with: code, HTTP status, meaning. The order matches
/// [`ErrorCode`], whose variants index this table.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("malformed_request", 400, "The body is not valid JSON, or the request is otherwise unreadable."),
    ("missing_api_key", 401, "The X-API-Key header is missing."),
    ("invalid_api_key", 401, "The X-API-Key header names no site."),
    ("invalid_token", 401, "The session token is missing, forged, or for another session."),
    ("token_expired", 401, "The session token was revoked or the session was idle too long; start a new session."),
    ("not_authenticated", 401, "No valid login session cookie."),
    ("invalid_credentials", 401, "Wrong email or password (or a wrong or used two-factor code)."),
    ("invalid_signature", 401, "A webhook's signature is missing, wrong, or signed outside the accepted time window."),
    ("totp_required", 401, "The password was right; the account also needs its authenticator code (`totp`)."),
    ("origin_not_allowed", 403, "The request's Origin is not in the site's allowed origins."),
    ("csrf_rejected", 403, "A state-changing request without this server's own Origin."),
    (
        "identity_invalid",
        403,
        "The identify call's user_hash is not the HMAC-SHA256 of user_id with the site's secret.",
    ),
    ("forbidden", 403, "Your role in the organization does not allow this."),
    ("not_found", 404, "No such thing here (other tenants' things are never found)."),
    ("method_not_allowed", 405, "The path exists but not with this method."),
    ("conflict", 409, "The change conflicts with the current state."),
    ("conversation_closed", 409, "The conversation is closed and read-only."),
    ("already_rated", 409, "The session has been rated already."),
    (
        "plan_limit",
        402,
        "The organization's plan does not include this (or its seats are used up); the message says which.",
    ),
    ("payload_too_large", 413, "The body is larger than the server accepts."),
    ("invalid_field", 422, "A field is missing, of the wrong type, or fails validation; `field` names it."),
    ("invalid_flow", 422, "A bot scenario's document has errors; `details.errors` lists each with its node and field."),
    ("rate_limited", 429, "Too many requests; retry after the Retry-After header's seconds."),
    ("account_locked", 429, "Too many failed logins for this account; retry after Retry-After seconds."),
    ("internal", 500, "An unexpected server error."),
    ("unavailable", 503, "The database is unreachable; retry after Retry-After seconds."),
];

/// The codes as a type, so a typo is a compile error. Variant `n` is row `n` of [`ERROR_CODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedRequest,
    MissingApiKey,
    InvalidApiKey,
    InvalidToken,
    TokenExpired,
    NotAuthenticated,
    InvalidCredentials,
    InvalidSignature,
    TotpRequired,
    OriginNotAllowed,
    CsrfRejected,
    IdentityInvalid,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    ConversationClosed,
    AlreadyRated,
    PlanLimit,
    PayloadTooLarge,
    InvalidField,
    InvalidFlow,
    RateLimited,
    AccountLocked,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 26] = [
        Self::MalformedRequest,
        Self::MissingApiKey,
        Self::InvalidApiKey,
        Self::InvalidToken,
        Self::TokenExpired,
        Self::NotAuthenticated,
        Self::InvalidCredentials,
        Self::InvalidSignature,
        Self::TotpRequired,
        Self::OriginNotAllowed,
        Self::CsrfRejected,
        Self::IdentityInvalid,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::ConversationClosed,
        Self::AlreadyRated,
        Self::PlanLimit,
        Self::PayloadTooLarge,
        Self::InvalidField,
        Self::InvalidFlow,
        Self::RateLimited,
        Self::AccountLocked,
        Self::Internal,
        Self::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        ERROR_CODES[self as usize].0
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(ERROR_CODES[self as usize].1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The code a bare status maps to, for responses produced outside the handlers.
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => Self::NotAuthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            422 => Self::InvalidField,
            429 => Self::RateLimited,
            503 => Self::Unavailable,
            s if (400..500).contains(&s) => Self::MalformedRequest,
            _ => Self::Internal,
        }
    }
}

/// Seconds a client is told to wait when the database is unavailable.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// An error on its way to becoming a response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
    /// Structured detail for codes that have it (`invalid_flow`: `{"errors": […]}`).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: None, retry_after: None, details: None }
    }

    pub fn invalid_field(field: Option<String>, message: impl Into<String>) -> Self {
        ApiError { field, ..Self::new(ErrorCode::InvalidField, message) }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "an unexpected error occurred")
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

/// `{"error": {...}}`: the body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code from the table in the API documentation.
    pub code: String,
    /// A human-readable explanation; may change between versions.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured detail for codes that have it (`invalid_flow`: `{"errors": [{node, field, message}]}`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
                field: self.field,
                details: self.details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(what) => ApiError::new(ErrorCode::Conflict, what),
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                ApiError::new(ErrorCode::Unavailable, "the database is unavailable; try again shortly")
                    .with_retry_after(UNAVAILABLE_RETRY_SECS)
            }
            StoreError::Backend(reason) => {
                tracing::error!(%reason, "database error");
                ApiError::internal()
            }
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid { field, message } => ApiError::invalid_field(Some(field), message),
            CoreError::NotFound(what) => ApiError::not_found(what),
            CoreError::ConversationClosed => {
                ApiError::new(ErrorCode::ConversationClosed, "the conversation is closed and read-only")
            }
            CoreError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            CoreError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            CoreError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_statuses_valid() {
        let mut seen = HashSet::new();
        for (code, status, description) in ERROR_CODES {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(StatusCode::from_u16(*status).is_ok_and(|s| s.is_client_error() || s.is_server_error()), "{code}");
            assert!(!description.is_empty(), "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }

    /// The enum and the table line up: each variant's name, in snake case, is its row's code.
    #[test]
    fn enum_variants_index_their_own_rows() {
        assert_eq!(ErrorCode::ALL.len(), ERROR_CODES.len());
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, i);
            let mut snake = String::new();
            for (j, c) in format!("{code:?}").chars().enumerate() {
                if c.is_ascii_uppercase() && j > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(code.as_str(), snake);
            assert_eq!(code.status().as_u16(), ERROR_CODES[i].1);
        }
    }

    #[test]
    fn domain_errors_map_to_their_codes() {
        let cases: Vec<(CoreError, ErrorCode)> = vec![
            (CoreError::Invalid { field: "content".into(), message: "x".into() }, ErrorCode::InvalidField),
            (CoreError::NotFound("session"), ErrorCode::NotFound),
            (CoreError::ConversationClosed, ErrorCode::ConversationClosed),
            (CoreError::Conflict("x".into()), ErrorCode::Conflict),
            (CoreError::Forbidden("x"), ErrorCode::Forbidden),
            (CoreError::Store(StoreError::Unavailable("down".into())), ErrorCode::Unavailable),
            (CoreError::Store(StoreError::Backend("bug".into())), ErrorCode::Internal),
            (CoreError::Store(StoreError::NotFound), ErrorCode::NotFound),
        ];
        for (error, code) in cases {
            assert_eq!(ApiError::from(error).code, code);
        }
        let unavailable = ApiError::from(StoreError::Unavailable("down".into()));
        assert_eq!(unavailable.retry_after, Some(UNAVAILABLE_RETRY_SECS));
        let response = unavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("5"));
    }

    #[test]
    fn backend_details_never_reach_the_client() {
        let e = ApiError::from(StoreError::Backend("syntax error near password_hash".into()));
        assert!(!e.message.contains("password_hash"));
    }
}
