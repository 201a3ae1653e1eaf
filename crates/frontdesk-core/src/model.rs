//! Entities. Serializable shapes are the API's shapes too (one definition, one OpenAPI schema).

use crate::ids::*;
use crate::roles::Role;
use crate::status::ConversationStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    /// What the organization pays for; [`crate::plans`] says what each plan allows.
    #[serde(default)]
    pub plan: crate::plans::Plan,
    /// Seats bought on top of the plan's own.
    #[serde(default)]
    pub extra_seats: u32,
    pub created_at: Timestamp,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    /// An argon2id PHC string. Never serialized to clients.
    #[serde(skip_serializing, default)]
    #[schema(ignore)]
    pub password_hash: String,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: Timestamp,
}

/// A user's TOTP two-factor state. The secret is never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpState {
    /// Base32, as authenticator apps take it.
    pub secret: String,
    /// False while set up but not yet confirmed with a code.
    pub enabled: bool,
    /// The last time step a code was accepted for: a code works once.
    pub last_step: i64,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState").field("enabled", &self.enabled).field("last_step", &self.last_step).finish()
    }
}

/// A logged-in agent's session. Only the SHA-256 of the cookie's token is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    #[default]
    BottomRight,
    BottomLeft,
}

/// When to show a proactive suggestion bubble: every trigger that is set must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct SuggestionTriggers {
    pub seconds_on_page: Option<u32>,
    pub scroll_percent: Option<u8>,
    pub selector_visible: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionRule {
    pub id: String,
    /// A URL pattern: `*` matches any run of characters.
    pub url_pattern: String,
    pub message: String,
    #[serde(default)]
    pub triggers: SuggestionTriggers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    /// `whatsapp`, `telegram`, `messenger`, `email`, `phone` or `link`.
    pub kind: String,
    pub label: String,
    pub url: String,
}

/// What the widget shows: the published configuration, served by `GET /api/chat/config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct WidgetConfig {
    pub title: String,
    pub primary_color: String,
    pub position: WidgetPosition,
    pub welcome_heading: String,
    pub welcome_subheading: String,
    pub greeting: String,
    pub language: String,
    pub quick_replies: Vec<String>,
    pub suggestions: Vec<SuggestionRule>,
    pub channels: Vec<Channel>,
    /// Shows "Powered by Frontdesk" (the free plan cannot turn it off).
    pub show_branding: bool,
}

impl Default for WidgetConfig {
    fn default() -> Self {
        WidgetConfig {
            title: "Support".to_owned(),
            primary_color: "#2563eb".to_owned(),
            position: WidgetPosition::BottomRight,
            welcome_heading: "Hi there 👋".to_owned(),
            welcome_subheading: "Ask us anything — we usually answer right away.".to_owned(),
            greeting: "How can we help?".to_owned(),
            language: "en".to_owned(),
            quick_replies: Vec::new(),
            suggestions: Vec::new(),
            channels: Vec::new(),
            show_branding: true,
        }
    }
}

/// Which model writes the assistant's answers.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderSettings {
    /// Offline: answers are built from the retrieved passages themselves; nothing is invented.
    #[default]
    Extractive,
    /// Any OpenAI-compatible chat-completions API (OpenAI, Mistral, Ollama, vLLM, llama.cpp).
    Openai {
        /// E.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
        base_url: String,
        model: String,
        /// Stored with the site; API responses replace it with a mask (see [`Site::redacted`]).
        #[serde(default)]
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderSettings::Extractive => f.write_str("Extractive"),
            ProviderSettings::Openai { base_url, model, api_key } => f
                .debug_struct("Openai")
                .field("base_url", base_url)
                .field("model", model)
                .field("api_key", &api_key.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// What the assistant does when the knowledge base cannot answer with confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum LowConfidenceAction {
    /// Say so honestly and offer a "Talk to a person" quick reply.
    #[default]
    OfferPerson,
    /// Say so and hand the conversation to a person at once.
    Escalate,
}

/// Per-site settings of the AI assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AssistantSettings {
    /// When false, visitors' messages wait for a person (no automatic answers).
    pub enabled: bool,
    /// The site's own instructions (tone, name), placed before the fixed grounding rules.
    pub system_prompt: String,
    pub provider: ProviderSettings,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Sent as the first message of a new conversation, when not empty.
    pub welcome_message: String,
    /// Words or phrases that hand the conversation to a person at once (case-insensitive).
    pub escalation_keywords: Vec<String>,
    pub low_confidence: LowConfidenceAction,
}

impl Default for AssistantSettings {
    fn default() -> Self {
        AssistantSettings {
            enabled: true,
            system_prompt: String::new(),
            provider: ProviderSettings::Extractive,
            temperature: 0.2,
            max_tokens: 600,
            welcome_message: String::new(),
            escalation_keywords: Vec::new(),
            low_confidence: LowConfidenceAction::OfferPerson,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Site {
    pub id: SiteId,
    pub org_id: OrgId,
    pub name: String,
    /// `pk_…`: identifies the site from a web page.
    pub public_key: String,
    /// `sk_…`: signs identity verification; never sent to a browser.
    #[serde(skip_serializing, default)]
    #[schema(ignore)]
    pub secret: String,
    pub allowed_origins: Vec<String>,
    /// The published widget configuration: the only one widgets ever read.
    pub widget: WidgetConfig,
    /// The configuration being edited in the dashboard, when it differs from the published one;
    /// `POST …/widget/publish` makes it the published one.
    #[serde(default)]
    pub widget_draft: Option<WidgetConfig>,
    #[serde(default)]
    pub assistant: AssistantSettings,
    /// The key before the last rotation: still accepted until `previous_key_expires_at`, so pages
    /// with the old snippet keep working while the owner updates them.
    #[serde(default)]
    pub previous_public_key: Option<String>,
    #[serde(default)]
    pub previous_key_expires_at: Option<Timestamp>,
    /// Identity verification enforced: `identify` must carry a valid `user_hash`, and only a
    /// verified user id links a visitor's history across devices.
    #[serde(default)]
    pub require_verified_identity: bool,
    /// Conversations whose last activity is older than this many days are deleted by the
    /// retention job (`None`: kept until erased by hand).
    #[serde(default)]
    pub retention_days: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What replaces a stored secret in API responses.
pub const REDACTED: &str = "********";

impl Site {
    /// The site as an API response may show it: the LLM API key masked (the site secret is never
    /// serialized at all).
    pub fn redacted(&self) -> Site {
        let mut site = self.clone();
        if let ProviderSettings::Openai { api_key: Some(key), .. } = &mut site.assistant.provider {
            *key = REDACTED.to_owned();
        }
        site
    }
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("public_key", &self.public_key)
            .field("secret", &"<redacted>")
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Visitor {
    pub id: VisitorId,
    pub site_id: SiteId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    /// The site's own id for this person, from the widget's `identify`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether `user_id` came with a valid HMAC of the site's secret (identity verification).
    #[serde(default)]
    pub verified: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// When the visitor's data was erased (GDPR): the row stays only so the anonymous
    /// conversations keep their visitor; the widget gets a fresh visitor for this id.
    #[serde(default)]
    pub erased_at: Option<Timestamp>,
}

/// What the widget's `identify` tells about the visitor; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitorIdentity {
    pub name: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    /// Only meaningful with `user_id`: it was verified.
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub visitor_id: VisitorId,
    pub status: ConversationStatus,
    pub assignee_id: Option<UserId>,
    pub page_url: Option<String>,
    pub locale: Option<String>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The sequence number of the last message (0 when there is none).
    pub last_seq: i64,
    /// Bumped to revoke every session token issued for this conversation.
    #[serde(skip)]
    pub token_generation: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The visitor's last request: session tokens expire after a period without one.
    pub last_activity_at: Timestamp,
    /// When the status last changed (for an escalated conversation: how long it has waited).
    pub status_changed_at: Timestamp,
    /// The first time the conversation was escalated to a person.
    pub escalated_at: Option<Timestamp>,
    /// The first agent message: with `escalated_at`, the first response time of humans.
    pub first_agent_reply_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Visitor,
    Assistant,
    Bot,
    Agent,
    System,
}

impl AuthorKind {
    pub const ALL: [AuthorKind; 5] = [Self::Visitor, Self::Assistant, Self::Bot, Self::Agent, Self::System];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Assistant => "assistant",
            Self::Bot => "bot",
            Self::Agent => "agent",
            Self::System => "system",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    Up,
    Down,
}

impl Reaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Up => "up",
            Reaction::Down => "down",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(Reaction::Up),
            "down" => Some(Reaction::Down),
            _ => None,
        }
    }
}

/// A knowledge-base passage an answer relies on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    pub article_id: String,
    pub title: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// 1, 2, 3, … per conversation, with no gaps.
    pub seq: i64,
    pub author_kind: AuthorKind,
    /// The agent who wrote it, for agent messages.
    pub author_id: Option<UserId>,
    /// The Markdown source.
    pub body: String,
    /// The sanitized HTML rendering of `body`.
    pub html: String,
    pub citations: Vec<Citation>,
    pub quick_replies: Vec<String>,
    pub reaction: Option<Reaction>,
    pub created_at: Timestamp,
}

/// A message before the store gives it its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub author_kind: AuthorKind,
    pub author_id: Option<UserId>,
    pub body: String,
    pub html: String,
    pub citations: Vec<Citation>,
    pub quick_replies: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rating {
    pub conversation_id: ConversationId,
    pub stars: u8,
    pub tags: Vec<String>,
    pub feedback: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitorEventKind {
    PageView,
    Conversion,
}

impl VisitorEventKind {
    pub const ALL: [VisitorEventKind; 2] = [Self::PageView, Self::Conversion];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PageView => "page_view",
            Self::Conversion => "conversion",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A page view or conversion the widget reported, kept per visitor for the dashboard's insights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisitorEvent {
    pub id: VisitorEventId,
    pub site_id: SiteId,
    pub visitor_id: VisitorId,
    /// The session the widget had open when it reported the event.
    pub conversation_id: Option<ConversationId>,
    pub kind: VisitorEventKind,
    pub url: Option<String>,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// The conversion's name.
    pub name: Option<String>,
    /// A flat JSON object (`{}` when none was sent).
    #[schema(value_type = Object)]
    pub props: serde_json::Value,
    pub created_at: Timestamp,
}
