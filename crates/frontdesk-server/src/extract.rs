//! Extractors whose rejections speak the API's error format.

use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// A JSON body. Unreadable JSON is 400 `malformed_request`; JSON of the wrong shape is 422
/// `invalid_field` naming the field; a body over the limit is 413. An empty body reads as `{}`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            } else {
                ApiError::new(ErrorCode::MalformedRequest, "the request body could not be read")
            }
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if !is_json {
            return Err(ApiError::new(ErrorCode::MalformedRequest, "expected Content-Type: application/json"));
        } else {
            &bytes
        };
        parse_json(body).map(ApiJson)
    }
}

/// Whether a JSON text escapes a NUL character (`\u0000`). PostgreSQL cannot store NUL in text,
/// and no field of ours needs it: such bodies are refused up front instead of failing later.
fn escapes_nul(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(i, w)| {
        // An escape only when the backslash is not itself escaped (an odd run of backslashes).
        w == b"\\u0000" && body[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

const NUL_MESSAGE: &str = "NUL characters are not allowed";

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if escapes_nul(body) {
        return Err(ApiError::invalid_field(None, NUL_MESSAGE));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let text = e.to_string();
            // serde reports a missing field at the parent's path; name the field itself.
            let field = match text.strip_prefix("missing field `").and_then(|r| r.split_once('`')) {
                Some((name, _)) if path == "." => Some(name.to_owned()),
                Some((name, _)) => Some(format!("{path}.{name}")),
                None if path == "." => None,
                None => Some(path.to_owned()),
            };
            // Drop serde's "at line 1 column 12" suffix: it describes the body, not the field.
            let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
            ApiError::invalid_field(field, message)
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(ErrorCode::MalformedRequest, format!("the body is not valid JSON: {e}"))
        }
    }
}

/// A query string; values of the wrong type are 422 `invalid_field`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if query.to_ascii_lowercase().contains("%00") || query.contains('\0') {
            return Err(ApiError::invalid_field(None, NUL_MESSAGE));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::invalid_field(None, e.body_text()))
    }
}

/// Who is asking, for rate limits and the audit log.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// The rate-limit key for this client's address.
    pub fn ip_key(&self) -> &str {
        self.ip.as_deref().unwrap_or("unknown")
    }
}

const MAX_USER_AGENT_CHARS: usize = 256;

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let forwarded = http::header_str(&parts.headers, &header::HeaderName::from_static("x-forwarded-for"));
        let ip = http::client_ip(peer, forwarded, state.config.trust_forwarded_for).map(|ip| ip.to_string());
        let user_agent = http::header_str(&parts.headers, &header::USER_AGENT)
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(ClientMeta { ip, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nul_is_found_but_an_escaped_backslash_is_not_an_escape() {
        assert!(escapes_nul(br#"{"q":"a\u0000b"}"#));
        assert!(escapes_nul(br#"{"q":"\\\u0000"}"#), "an escaped backslash, then the escape");
        assert!(!escapes_nul(br#"{"q":"\\u0000"}"#), "a backslash and the text u0000");
        assert!(!escapes_nul(br#"{"q":"u0000"}"#));
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        content: String,
        stars: Option<i64>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn err(body: &str) -> ApiError {
        parse_json::<Body>(body.as_bytes()).err().unwrap_or_else(ApiError::internal)
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422_with_the_field() {
        assert_eq!(err("{\"content\":").code, ErrorCode::MalformedRequest);
        assert_eq!(err("not json").code, ErrorCode::MalformedRequest);
        assert_eq!(err("{\"content\":\"x\"} trailing").code, ErrorCode::MalformedRequest);

        let missing = err("{}");
        assert_eq!((missing.code, missing.field.as_deref()), (ErrorCode::InvalidField, Some("content")));
        let wrong = err("{\"content\":\"x\",\"stars\":\"five\"}");
        assert_eq!((wrong.code, wrong.field.as_deref()), (ErrorCode::InvalidField, Some("stars")));
        assert!(!wrong.message.contains("line 1"), "{}", wrong.message);
        let nested = err("{\"content\":\"x\",\"inner\":{}}");
        assert_eq!(nested.field.as_deref(), Some("inner.flag"));
        assert!(parse_json::<Body>(b"{\"content\":\"x\"}").is_ok());
    }
}
