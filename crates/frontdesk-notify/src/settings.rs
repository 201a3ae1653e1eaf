//! The `[smtp]` settings: where and how to send email.

use crate::error::NotifyError;
use lettre::message::Mailbox;
use serde::Deserialize;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (port 465).
    Tls,
    /// No encryption: only for a relay on this machine or a test server.
    None,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
    }

    /// The port used when the settings name none.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls | SmtpSecurity::None => 587,
        }
    }
}

/// The SMTP server and sender, for example:
///
/// ```toml
/// [smtp]
/// host = "smtp.example.com"
/// # port = 587              # the default; 465 when security = "tls"
/// # security = "starttls"   # or "tls", or "none"
/// username = "alerts@example.com"
/// password = "…"
/// from = "Frontdesk <alerts@example.com>"
/// # timeout_secs = 10
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Unset: 587, or 465 for `security = "tls"` (a TLS handshake on 587 would only fail).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender: `alerts@example.com` or `Frontdesk <alerts@example.com>`.
    pub from: String,
    /// For connecting and for each SMTP command.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    10
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl SmtpSettings {
    /// The settings for an unauthenticated server without TLS, such as a test server.
    pub fn plain(host: &str, port: u16, from: &str) -> Self {
        SmtpSettings {
            host: host.to_owned(),
            port: Some(port),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: from.to_owned(),
            timeout_secs: default_timeout_secs(),
        }
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    /// Checks the settings and returns the parsed sender.
    pub fn validate(&self) -> Result<Mailbox, NotifyError> {
        let bad = |text: String| Err(NotifyError::Settings(text));
        let host = self.host.trim();
        if host.is_empty() {
            return bad("smtp.host is empty".to_owned());
        }
        if host.contains("://") {
            return bad(format!("smtp.host {host:?} must be a host name without a scheme (use smtp.security for TLS)"));
        }
        if host.chars().any(|c| c.is_whitespace() || c == '/' || c == '@') {
            return bad(format!("smtp.host {host:?} is not a host name"));
        }
        if self.port == Some(0) {
            return bad("smtp.port must be between 1 and 65535".to_owned());
        }
        if !(1..=300).contains(&self.timeout_secs) {
            return bad(format!("smtp.timeout_secs must be between 1 and 300, not {}", self.timeout_secs));
        }
        let username = self.username.as_deref().filter(|u| !u.is_empty());
        let password = self.password.as_deref().filter(|p| !p.is_empty());
        match (username, password) {
            (Some(_), None) => return bad("smtp.username is set but smtp.password is not".to_owned()),
            (None, Some(_)) => return bad("smtp.password is set but smtp.username is not".to_owned()),
            (Some(_), Some(_)) if self.security == SmtpSecurity::None && !is_loopback(host) => {
                return bad(format!(
                    "smtp.security = \"none\" would send the password to {host} unencrypted: use \"starttls\" or \"tls\""
                ));
            }
            _ => {}
        }
        self.from.trim().parse::<Mailbox>().map_err(|e| {
            NotifyError::Settings(format!(
                "smtp.from {:?} is not an email address ({e}); expected e.g. \"Frontdesk <alerts@example.com>\"",
                self.from
            ))
        })
    }
}

/// This machine, where an unencrypted connection never crosses a network.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SmtpSettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_fill_in_the_optional_fields() {
        let s = parse("host = \"smtp.example.com\"\nfrom = \"Frontdesk <alerts@example.com>\"").expect("parses");
        assert_eq!(s.security, SmtpSecurity::Starttls);
        assert_eq!(s.port(), 587);
        assert_eq!(s.timeout_secs, 10);
        assert_eq!(s.username, None);
        let from = s.validate().expect("valid");
        assert_eq!(from.email.to_string(), "alerts@example.com");
        assert_eq!(from.name.as_deref(), Some("Frontdesk"));

        let tls = parse("host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nsecurity = \"tls\"").expect("parses");
        assert_eq!(tls.port(), 465);
        let explicit =
            parse("host = \"h\"\nfrom = \"a@example.com\"\nsecurity = \"tls\"\nport = 2465").expect("parses");
        assert_eq!(explicit.port(), 2465);
    }

    #[test]
    fn unknown_fields_and_securities_are_refused() {
        assert!(parse("host = \"h\"\nfrom = \"a@example.com\"\npasword = \"x\"").is_err());
        assert!(parse("host = \"h\"\nfrom = \"a@example.com\"\nsecurity = \"ssl\"").is_err());
        assert!(parse("from = \"a@example.com\"").is_err(), "host is required");
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let ok = SmtpSettings {
            host: "smtp.example.com".to_owned(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: Some("u".to_owned()),
            password: Some("p".to_owned()),
            from: "alerts@example.com".to_owned(),
            timeout_secs: 10,
        };
        assert!(ok.validate().is_ok());
        let cases: Vec<(SmtpSettings, &str)> = vec![
            (SmtpSettings { host: " ".to_owned(), ..ok.clone() }, "smtp.host is empty"),
            (SmtpSettings { host: "smtps://smtp.example.com".to_owned(), ..ok.clone() }, "without a scheme"),
            (SmtpSettings { port: Some(0), ..ok.clone() }, "smtp.port"),
            (SmtpSettings { timeout_secs: 0, ..ok.clone() }, "smtp.timeout_secs"),
            (SmtpSettings { password: None, ..ok.clone() }, "smtp.password is not"),
            (SmtpSettings { username: None, ..ok.clone() }, "smtp.username is not"),
            (SmtpSettings { from: "alerts".to_owned(), ..ok.clone() }, "smtp.from"),
            (SmtpSettings { security: SmtpSecurity::None, ..ok.clone() }, "unencrypted"),
        ];
        for (settings, expected) in cases {
            let err = settings.validate().expect_err(expected).to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
            assert!(!err.contains("\"p\""), "the password never appears in an error: {err}");
        }
        // Without TLS, credentials may still go to a relay on this machine.
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            let local = SmtpSettings { host: host.to_owned(), security: SmtpSecurity::None, ..ok.clone() };
            assert!(local.validate().is_ok(), "{host}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let s = SmtpSettings { password: Some("hunter2-secret".to_owned()), ..SmtpSettings::plain("h", 25, "a@b.c") };
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
