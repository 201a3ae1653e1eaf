use frontdesk_core::store::StoreError;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The `[smtp]` settings are unusable; the text names the field and what is expected.
    #[error("invalid SMTP settings: {0}")]
    Settings(String),
    #[error("not an email address: {0:?}")]
    Address(String),
    #[error("cannot build the email: {0}")]
    Compose(#[from] lettre::error::Error),
    /// The SMTP server refused the message or could not be reached (after the retries, when
    /// the failure looked transient).
    #[error("sending email failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shared outbox cursor holds something other than an outbox id.
    #[error("the notifier's cursor {0:?} is not an outbox id")]
    Cursor(String),
}
