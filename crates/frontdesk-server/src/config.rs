//! The server's settings, part of the binary's typed configuration file.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A visitor's session token stops working after this long without a request from it.
    pub session_ttl_secs: u64,
    /// An agent's login cookie stops working after this long without a request.
    pub login_ttl_secs: u64,
    /// The dashboard's own URL (such as `https://desk.example.com`): its origin is the one
    /// state-changing app requests must come from. When unset, the request's Host is used.
    pub public_url: Option<String>,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Take the client's IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    pub rate_limits: RateLimits,
    pub knowledge: KnowledgeConfig,
    /// `on`: plans limit seats, branding and exports. `off`: self-hosted without billing,
    /// everything unlimited.
    pub billing: Billing,
    /// Paddle Billing's webhooks (`POST /api/billing/paddle`); without it the endpoint is 404.
    pub billing_paddle: Option<PaddleConfig>,
    /// A team invitation link works this long.
    pub invite_ttl_secs: u64,
    /// The SMTP relay for invitations and agents' email alerts; without it nothing is emailed.
    pub smtp: Option<frontdesk_notify::SmtpSettings>,
    pub flows: FlowsConfig,
    pub webhooks: WebhooksConfig,
    /// How often the retention job looks for conversations past their site's `retention_days`
    /// (one node of several does each pass).
    pub retention_interval_secs: u64,
}

/// Outgoing webhooks.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Let endpoints be loopback, private and link-local addresses (a receiver on the same
    /// network). Off by default: an organization admin could otherwise probe the server's network.
    pub allow_private: bool,
}

/// Bot scenarios.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// Let scenarios' HTTP nodes call loopback, private and link-local addresses (a backend on
    /// the same network). Off by default: a site owner could otherwise probe the server's network.
    pub allow_private_http: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Billing {
    #[default]
    On,
    Off,
}

/// Paddle Billing (see docs/billing.md).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaddleConfig {
    /// The notification destination's secret key (`pdl_ntfset_…`), which signs every webhook.
    pub webhook_secret: String,
    /// The price ids (`pri_…`) that are Pro; an item's quantity is its number of seats. Empty:
    /// every price of the subscription counts as Pro.
    #[serde(default)]
    pub pro_price_ids: Vec<String>,
    /// Webhooks signed longer ago than this (or this far in the future) are refused (replay window).
    #[serde(default = "PaddleConfig::default_tolerance_secs")]
    pub tolerance_secs: u64,
}

impl PaddleConfig {
    fn default_tolerance_secs() -> u64 {
        300
    }
}

impl std::fmt::Debug for PaddleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaddleConfig")
            .field("webhook_secret", &"<redacted>")
            .field("pro_price_ids", &self.pro_price_ids)
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

/// The knowledge base's search index and embeddings.
#[derive(Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Where the search index lives. The binary puts it in `<data_dir>/knowledge`; when unset
    /// (tests) a fresh temporary directory is used. It is rebuilt from the database at start.
    pub index_dir: Option<std::path::PathBuf>,
    /// A local all-MiniLM-L6-v2 directory (config.json, tokenizer.json, model.safetensors) for
    /// semantic retrieval. The binary looks in `<data_dir>/models/all-MiniLM-L6-v2` by default.
    pub model_dir: Option<std::path::PathBuf>,
    /// Or an OpenAI-compatible embeddings API (`https://api.openai.com/v1`).
    pub embeddings_url: Option<String>,
    pub embeddings_model: Option<String>,
    pub embeddings_api_key: Option<String>,
    /// Retrieval confidence (0–1) below which the assistant declines instead of answering.
    /// Unset: the threshold calibrated for the configured retrieval (see docs/benchmarks.md).
    pub confidence_threshold: Option<f32>,
}

impl std::fmt::Debug for KnowledgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeConfig")
            .field("index_dir", &self.index_dir)
            .field("model_dir", &self.model_dir)
            .field("embeddings_url", &self.embeddings_url)
            .field("embeddings_model", &self.embeddings_model)
            .field("embeddings_api_key", &self.embeddings_api_key.as_ref().map(|_| "<redacted>"))
            .field("confidence_threshold", &self.confidence_threshold)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            session_ttl_secs: 86_400,
            login_ttl_secs: 1_209_600,
            public_url: None,
            max_body_bytes: 65_536,
            trust_forwarded_for: false,
            rate_limits: RateLimits::default(),
            knowledge: KnowledgeConfig::default(),
            billing: Billing::On,
            billing_paddle: None,
            invite_ttl_secs: 7 * 86_400,
            smtp: None,
            flows: FlowsConfig::default(),
            webhooks: WebhooksConfig::default(),
            retention_interval_secs: 3600,
        }
    }
}

/// Per-key limits. Zero turns a limit off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub messages_per_minute_per_session: u32,
    /// Page views and conversions the widget reports (`POST /api/chat/events`).
    pub events_per_minute_per_session: u32,
    pub sessions_per_minute_per_ip: u32,
    pub logins_per_minute_per_ip: u32,
    pub login_failures_per_account_per_15min: u32,
    /// Keep the counts in the database so they hold across every node sharing it. Default: on
    /// PostgreSQL (where several nodes run), off on SQLite (one node: counting in memory is free).
    pub shared: Option<bool>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            messages_per_minute_per_session: 20,
            events_per_minute_per_session: 60,
            sessions_per_minute_per_ip: 30,
            logins_per_minute_per_ip: 20,
            login_failures_per_account_per_15min: 10,
            shared: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_settings_keep_defaults_and_unknown_keys_are_refused() {
        let c: ServerConfig = serde_json::from_value(serde_json::json!({
            "public_url": "https://desk.example.com",
            "rate_limits": { "messages_per_minute_per_session": 5 }
        }))
        .unwrap_or_default();
        assert_eq!(c.public_url.as_deref(), Some("https://desk.example.com"));
        assert_eq!(c.rate_limits.messages_per_minute_per_session, 5);
        assert_eq!(c.rate_limits.sessions_per_minute_per_ip, 30);
        assert_eq!(c.session_ttl_secs, 86_400);
        assert!(serde_json::from_value::<ServerConfig>(serde_json::json!({ "sesion_ttl_secs": 1 })).is_err());
        assert!(serde_json::from_value::<ServerConfig>(serde_json::json!({ "rate_limits": { "x": 1 } })).is_err());
    }

    #[test]
    fn the_paddle_secret_has_defaults_around_it_and_never_shows() {
        let c: ServerConfig = serde_json::from_value(serde_json::json!({
            "billing_paddle": { "webhook_secret": "pdl_ntfset_hunter2" }
        }))
        .unwrap_or_default();
        let paddle = c.billing_paddle.clone().unwrap_or_else(|| panic!("parsed"));
        assert_eq!((paddle.tolerance_secs, paddle.pro_price_ids.len()), (300, 0));
        assert!(!format!("{c:?}").contains("hunter2"));
        let missing = serde_json::json!({ "billing_paddle": { "pro_price_ids": ["pri_1"] } });
        assert!(serde_json::from_value::<ServerConfig>(missing).is_err(), "the secret is required");
    }
}
