//! Which stored values are sealed, and the helpers both stores use to seal them on the way in
//! and open them on the way out. With no key ring ([`Seal::off`]) every helper passes values
//! through unchanged, so a store without encryption pays nothing.

use crate::{CryptoError, Sealer};
use frontdesk_core::model::{Message, ProviderSettings, Site, Visitor};

/// The sealed columns. Each name is also the associated data of its values.
pub const MESSAGE_BODY: &str = "messages.body";
pub const MESSAGE_HTML: &str = "messages.html";
pub const VISITOR_NAME: &str = "visitors.name";
pub const VISITOR_EMAIL: &str = "visitors.email";
pub const SITE_SECRET: &str = "sites.secret";
pub const SITE_API_KEY: &str = "sites.assistant.api_key";
pub const TOTP_SECRET: &str = "user_totp.secret";
pub const FLOW_RUN: &str = "conversation_flows.run";
pub const UNANSWERED_QUESTION: &str = "unanswered_questions.question";
pub const WEBHOOK_SECRET: &str = "webhook_endpoints.secret";
pub const WEBHOOK_PREVIOUS_SECRET: &str = "webhook_endpoints.previous_secret";

/// A sealed text column as both stores lay it out: its table, the key column, and the column's
/// associated data (what `keys rotate` walks; values inside JSON columns are re-sealed apart).
pub struct Column {
    pub table: &'static str,
    pub key: &'static str,
    pub column: &'static str,
    pub aad: &'static str,
}

pub const TEXT_COLUMNS: &[Column] = &[
    Column { table: "messages", key: "id", column: "body", aad: MESSAGE_BODY },
    Column { table: "messages", key: "id", column: "html", aad: MESSAGE_HTML },
    Column { table: "visitors", key: "id", column: "name", aad: VISITOR_NAME },
    Column { table: "visitors", key: "id", column: "email", aad: VISITOR_EMAIL },
    Column { table: "sites", key: "id", column: "secret", aad: SITE_SECRET },
    Column { table: "user_totp", key: "user_id", column: "secret", aad: TOTP_SECRET },
    Column { table: "unanswered_questions", key: "id", column: "question", aad: UNANSWERED_QUESTION },
    Column { table: "webhook_endpoints", key: "id", column: "secret", aad: WEBHOOK_SECRET },
    Column { table: "webhook_endpoints", key: "id", column: "previous_secret", aad: WEBHOOK_PREVIOUS_SECRET },
];

/// A store's view of encryption: on (with a sealer) or off.
#[derive(Clone, Copy)]
pub struct Seal<'a>(Option<&'a Sealer>);

impl<'a> Seal<'a> {
    pub fn new(sealer: Option<&'a Sealer>) -> Self {
        Seal(sealer)
    }

    pub fn off() -> Self {
        Seal(None)
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub fn sealer(&self) -> Option<&'a Sealer> {
        self.0
    }

    pub fn text(&self, column: &str, plain: &str) -> Result<String, CryptoError> {
        match self.0 {
            Some(s) => s.seal(column, plain),
            None => Ok(plain.to_owned()),
        }
    }

    pub fn opt(&self, column: &str, plain: Option<&str>) -> Result<Option<String>, CryptoError> {
        plain.map(|p| self.text(column, p)).transpose()
    }

    pub fn open(&self, column: &str, stored: String) -> Result<String, CryptoError> {
        match self.0 {
            Some(s) => s.open(column, &stored),
            None => Ok(stored),
        }
    }

    pub fn open_opt(&self, column: &str, stored: Option<String>) -> Result<Option<String>, CryptoError> {
        stored.map(|v| self.open(column, v)).transpose()
    }

    /// What the full-text index keeps for a message body: the body itself, or its word tokens.
    pub fn search_text(&self, body: &str) -> String {
        match self.0 {
            Some(s) => s.search_tokens(body),
            None => body.to_owned(),
        }
    }

    /// What an agent's search becomes before the store builds its full-text query.
    pub fn search_query(&self, text: &str) -> String {
        match self.0 {
            Some(s) => s.search_query(text),
            None => text.to_owned(),
        }
    }

    pub fn open_message(&self, mut m: Message) -> Result<Message, CryptoError> {
        if self.is_on() {
            m.body = self.open(MESSAGE_BODY, std::mem::take(&mut m.body))?;
            m.html = self.open(MESSAGE_HTML, std::mem::take(&mut m.html))?;
        }
        Ok(m)
    }

    pub fn open_visitor(&self, mut v: Visitor) -> Result<Visitor, CryptoError> {
        if self.is_on() {
            v.name = self.open_opt(VISITOR_NAME, v.name.take())?;
            v.email = self.open_opt(VISITOR_EMAIL, v.email.take())?;
        }
        Ok(v)
    }

    /// The site as stored: its identity secret and the LLM API key sealed.
    pub fn seal_site(&self, site: &Site) -> Result<Site, CryptoError> {
        let mut sealed = site.clone();
        if self.is_on() {
            sealed.secret = self.text(SITE_SECRET, &site.secret)?;
            if let ProviderSettings::Openai { api_key, .. } = &mut sealed.assistant.provider {
                *api_key = self.opt(SITE_API_KEY, api_key.as_deref())?;
            }
        }
        Ok(sealed)
    }

    pub fn open_site(&self, mut site: Site) -> Result<Site, CryptoError> {
        if self.is_on() {
            site.secret = self.open(SITE_SECRET, std::mem::take(&mut site.secret))?;
            if let ProviderSettings::Openai { api_key, .. } = &mut site.assistant.provider {
                *api_key = self.open_opt(SITE_API_KEY, api_key.take())?;
            }
        }
        Ok(site)
    }

    /// A JSON value (a scenario run) as stored: sealed into a JSON string.
    pub fn seal_json(&self, column: &str, value: &serde_json::Value) -> Result<serde_json::Value, CryptoError> {
        match self.0 {
            Some(s) => Ok(serde_json::Value::String(s.seal(column, &value.to_string())?)),
            None => Ok(value.clone()),
        }
    }

    pub fn open_json(&self, column: &str, stored: serde_json::Value) -> Result<serde_json::Value, CryptoError> {
        match (self.0, stored) {
            (Some(s), serde_json::Value::String(text)) if crate::is_sealed(&text) => {
                serde_json::from_str(&s.open(column, &text)?).map_err(|_| CryptoError::Corrupt)
            }
            (_, other) => Ok(other),
        }
    }
}
