//! The port through which the chat use cases get an automatic answer (a bot scenario or the AI
//! assistant). The server implements it with retrieval and the answer pipeline.

use crate::model::{Citation, Conversation, Message, Site};
use async_trait::async_trait;

/// What the assistant decided about a visitor's message.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerOutcome {
    /// Hand the conversation to a person now, telling the visitor so.
    Escalate { system_message: String },
    /// A grounded answer (Markdown) with its citations.
    Answer { body: String, citations: Vec<Citation>, quick_replies: Vec<String> },
    /// The honest "our help center does not cover this"; with `escalate`, a person takes over.
    Decline { body: String, quick_replies: Vec<String>, escalate: bool },
    /// No answer (the assistant is turned off for the site).
    Silent,
    /// A bot scenario answered: it stored its messages (and maybe changed the status) itself.
    Handled,
}

#[async_trait]
pub trait Answerer: Send + Sync {
    /// Whether a visitor's message on `site` may get an automatic answer at all. `false` spares
    /// the chat use case reading the history for nothing.
    fn may_answer(&self, site: &Site) -> bool {
        site.assistant.enabled
    }

    /// Answers `question`, the visitor's latest message in `conversation`. `history` is the
    /// conversation so far, oldest first, ending with the question; `params` are the ones the
    /// host page sent with this message. Never fails: trouble inside (a provider outage) becomes
    /// a decline or a fallback answer.
    async fn answer(
        &self,
        site: &Site,
        conversation: &Conversation,
        question: &str,
        history: &[Message],
        params: Option<&serde_json::Value>,
    ) -> AnswerOutcome;
}
