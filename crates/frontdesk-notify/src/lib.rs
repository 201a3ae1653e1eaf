//! Email for agents: the SMTP [`Mailer`], the [`Notifier`] that follows the outbox and emails
//! members about escalations and mentions, and the team invitation's text ([`invite_email`]).
//!
//! Every email is plain text. Nothing here logs a message body or the SMTP password.

mod emails;
mod error;
mod mailer;
mod notifier;
mod settings;

pub use emails::{EMAIL_PREVIEW_CHARS, conversation_link, invite_email, shorten};
pub use error::NotifyError;
pub use mailer::{DEFAULT_RETRY_DELAYS, Mailer};
pub use notifier::{BATCH_SIZE, CURSOR_KEY, HISTORY_GRACE_SECS, Notifier, TICK_INTERVAL};
pub use settings::{SmtpSecurity, SmtpSettings};
