//! Sends plain-text email over SMTP (lettre's async transport on tokio, TLS by rustls on ring).

use crate::error::NotifyError;
use crate::settings::{SmtpSecurity, SmtpSettings};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Waits before the second and third attempt when a send failed transiently (a 4xx reply, a
/// refused or dropped connection, a timeout).
pub const DEFAULT_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

/// An SMTP client for one server and sender. Cheap to share behind an `Arc`; every send opens
/// its own connection, so a server restart between sends costs nothing.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    security: SmtpSecurity,
    username: Option<String>,
    retry_delays: Vec<Duration>,
}

// By hand: lettre's transport is never printed (it holds the credentials).
impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Validates the settings and prepares the transport; connects only when sending.
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, NotifyError> {
        let from = settings.validate()?;
        let host = settings.host.trim().to_owned();
        let port = settings.port();
        let tls_for = |host: &str| TlsParameters::new(host.to_owned()).map_err(NotifyError::Smtp);
        let tls = match settings.security {
            // Required, not opportunistic: a server that drops STARTTLS must not get the password.
            SmtpSecurity::Starttls => Tls::Required(tls_for(&host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_for(&host)?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        let username = settings.username.clone().filter(|u| !u.is_empty());
        if let (Some(user), Some(password)) = (&username, settings.password.as_ref().filter(|p| !p.is_empty())) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            host,
            port,
            security: settings.security,
            username,
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
        })
    }

    /// Replaces the waits between attempts (one more attempt than waits; empty: no retry).
    pub fn with_retry_delays(mut self, delays: &[Duration]) -> Mailer {
        self.retry_delays = delays.to_vec();
        self
    }

    /// The sender's address.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Connects, greets and authenticates: for a start-up check that the settings work.
    pub async fn check_connection(&self) -> Result<bool, NotifyError> {
        Ok(self.transport.test_connection().await?)
    }

    /// Sends one plain-text email to `to` (an address, or `Name <address>`), retrying transient
    /// failures. The body is never logged.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), NotifyError> {
        let to_box: Mailbox = to.trim().parse().map_err(|_| NotifyError::Address(to.to_owned()))?;
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to_box)
            .subject(one_line(subject))
            // Our own id under the sender's domain: lettre's default would say `@localhost`.
            .message_id(Some(format!("<{}@{}>", uuid::Uuid::now_v7().simple(), domain)))
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_owned())?;
        let mut attempt = 0;
        loop {
            match self.transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::debug!(host = %self.host, attempts = attempt + 1, "email sent");
                    return Ok(());
                }
                Err(e) if is_retryable(&e) && attempt < self.retry_delays.len() => {
                    let delay = self.retry_delays[attempt];
                    attempt += 1;
                    tracing::warn!(host = %self.host, attempt, error = %e, "sending email failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(NotifyError::Smtp(e)),
            }
        }
    }
}

/// A 4xx reply or a network failure may pass; a 5xx reply, a TLS failure (such as a bad
/// certificate) or a client error will fail the same way again.
fn is_retryable(e: &lettre::transport::smtp::Error) -> bool {
    !(e.is_permanent() || e.is_client() || e.is_tls() || e.is_response())
}

/// A header value on one line: names and titles that end up in subjects may hold line breaks.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(one_line("Hi\r\nBcc: x@y.z"), "Hi  Bcc: x@y.z");
    }

    #[test]
    fn every_security_builds_without_connecting() {
        for security in [SmtpSecurity::Starttls, SmtpSecurity::Tls, SmtpSecurity::None] {
            let settings = SmtpSettings {
                security,
                username: Some("agent".to_owned()),
                password: Some("correct horse battery staple".to_owned()),
                ..SmtpSettings::plain("localhost", 2525, "Frontdesk <alerts@example.com>")
            };
            let mailer = Mailer::new(&settings).expect("builds");
            let text = format!("{mailer:?}");
            assert!(!text.contains("correct horse"), "{text}");
            assert!(text.contains("agent"), "{text}");
        }
    }
}
