//! The domain's one error type. The server maps each variant to a stable API code.

use crate::status::TransitionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A field failed validation (HTTP 422).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The thing does not exist, or belongs to another tenant (HTTP 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The conversation is closed: read-only (HTTP 409, code `conversation_closed`).
    #[error("the conversation is closed and read-only")]
    ConversationClosed,
    /// A state conflict such as rating twice (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (HTTP 403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Storage failed (HTTP 503 when unavailable, 500 otherwise).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TransitionError> for CoreError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::Closed => CoreError::ConversationClosed,
            other => CoreError::Conflict(other.to_string()),
        }
    }
}

impl CoreError {
    /// Store "not found" becomes the domain's, named for the caller.
    pub fn from_store(e: StoreError, what: &'static str) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound(what),
            other => CoreError::Store(other),
        }
    }
}
