//! The scenario document (`schema: 1`) exactly as the editor stores it, and its triggers.
//!
//! Most fields default when absent so that an unfinished draft still parses and `validate` can
//! say precisely what is missing (node and field) instead of a generic serde error.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::pattern;

/// A scenario: a graph of nodes joined by edges.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FlowDocument {
    pub schema: u32,
    /// Id of the first node. Empty when the draft has none yet (a validation error).
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    #[serde(default)]
    pub variables: Vec<VariableDecl>,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    ConversationStart,
    Keyword {
        #[serde(default)]
        keywords: Vec<String>,
    },
    Pattern {
        #[serde(default)]
        pattern: String,
    },
    Page {
        #[serde(default)]
        url: String,
    },
}

/// A declared variable and its initial value (absent or `null`: unset).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VariableDecl {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Position {
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    #[serde(default)]
    pub position: Position,
    /// Shown by the widget while this node works ("Looking up your order…").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(flatten)]
    pub kind: NodeKind,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeKind {
    Message(MessageNode),
    Ask(AskNode),
    Condition(ConditionNode),
    Set(SetNode),
    Http(HttpNode),
    AiAnswer(AiAnswerNode),
    Handoff(HandoffNode),
    Wait(WaitNode),
    Jump(JumpNode),
    End(EndNode),
}

impl NodeKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Message(_) => "message",
            NodeKind::Ask(_) => "ask",
            NodeKind::Condition(_) => "condition",
            NodeKind::Set(_) => "set",
            NodeKind::Http(_) => "http",
            NodeKind::AiAnswer(_) => "ai_answer",
            NodeKind::Handoff(_) => "handoff",
            NodeKind::Wait(_) => "wait",
            NodeKind::Jump(_) => "jump",
            NodeKind::End(_) => "end",
        }
    }

    /// Whether `port` is an output of this node (edges from other ports are errors).
    pub fn has_port(&self, port: &str) -> bool {
        match self {
            NodeKind::Message(_) | NodeKind::Set(_) | NodeKind::Wait(_) => port == "next",
            NodeKind::Ask(a) => match port.strip_prefix("choice:") {
                Some(id) => a.input == InputKind::Choice && a.choices.iter().any(|c| c.id == id),
                None => matches!(port, "next" | "invalid" | "timeout"),
            },
            NodeKind::Condition(_) => matches!(port, "true" | "false"),
            NodeKind::Http(_) => matches!(port, "success" | "failure"),
            NodeKind::AiAnswer(_) => matches!(port, "answered" | "unanswered"),
            NodeKind::Handoff(_) => port == "offline",
            NodeKind::Jump(_) | NodeKind::End(_) => false,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MessageNode {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub quick_replies: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    #[default]
    Text,
    Email,
    Phone,
    Number,
    Date,
    Choice,
}

pub const DEFAULT_MAX_RETRIES: u32 = 2;

fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AskNode {
    #[serde(default)]
    pub input: InputKind,
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub variable: String,
    /// Sent before the prompt is repeated; absent or empty: only the prompt is repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_message: Option<String>,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Choice {
    pub id: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    All,
    Any,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ConditionNode {
    #[serde(rename = "match", default)]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RuleGroup {
    #[serde(rename = "match", default)]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    Matches,
    GreaterThan,
    LessThan,
    IsSet,
    IsNotSet,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Rule {
    #[serde(default)]
    pub left: String,
    pub op: Op,
    /// Templated. The editor may send a number or a boolean; it is kept as its text.
    #[serde(default, deserialize_with = "scalar_as_string")]
    pub right: String,
}

fn scalar_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(serde::de::Error::custom("expected a string")),
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SetNode {
    #[serde(default)]
    pub variable: String,
    pub value: SetValue,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum SetValue {
    Literal(Value),
    Copy(String),
    Expr(String),
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 5000;

fn default_timeout_ms() -> u64 {
    DEFAULT_HTTP_TIMEOUT_MS
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HttpNode {
    #[serde(default)]
    pub method: HttpMethod,
    #[serde(default)]
    pub url: String,
    /// Header name → templated value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_variable: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub save: Vec<SaveRule>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SaveRule {
    pub variable: String,
    pub path: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct AiAnswerNode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct HandoffNode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub only_when_online: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct WaitNode {
    #[serde(default)]
    pub seconds: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct JumpNode {
    #[serde(default)]
    pub target: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct EndNode {}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Edge {
    pub from: String,
    pub port: String,
    pub to: String,
}

impl FlowDocument {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Where the edge leaving `from` through `port` leads, if any.
    pub fn edge_target(&self, from: &str, port: &str) -> Option<&str> {
        self.edges.iter().find(|e| e.from == from && e.port == port).map(|e| e.to.as_str())
    }

    /// Has a `conversation_start` trigger.
    pub fn starts_conversations(&self) -> bool {
        self.triggers.iter().any(|t| matches!(t, Trigger::ConversationStart))
    }

    /// Any `page` trigger matches the whole URL (`*` matches any run of characters).
    pub fn matches_page(&self, url: &str) -> bool {
        self.triggers.iter().any(|t| match t {
            Trigger::Page { url: pattern } => !pattern.is_empty() && pattern::glob_match(pattern, url),
            _ => false,
        })
    }

    /// Any `keyword` trigger (case-insensitive, whole words) or `pattern` trigger matches.
    pub fn matches_message(&self, text: &str) -> bool {
        self.triggers.iter().any(|t| match t {
            Trigger::Keyword { keywords } => keywords.iter().any(|k| pattern::contains_word(text, k)),
            Trigger::Pattern { pattern } => pattern::regex(pattern).is_some_and(|re| re.is_match(text)),
            _ => false,
        })
    }
}
