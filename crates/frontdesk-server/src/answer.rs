//! The AI assistant behind the chat use cases: retrieval from the site's knowledge base, then the
//! answer pipeline with the site's provider.

use crate::knowledge::Knowledge;
use async_trait::async_trait;
use frontdesk_assistant::{AnswerInput, Assistant, Lang, Outcome, detect_escalation};
use frontdesk_core::SiteId;
use frontdesk_core::answer::{AnswerOutcome, Answerer};
use frontdesk_core::knowledge::Retrieval;
use frontdesk_core::model::{AssistantSettings, Conversation, Message, Site};
use frontdesk_realtime::{EphemeralEvent, Hub};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Passages retrieved for one question.
pub const PASSAGES: usize = 5;

pub struct AiAnswerer {
    knowledge: Arc<Knowledge>,
    /// Shows the visitor and agents what the assistant is doing while it works.
    hub: Hub,
    /// One pipeline per site, kept while the site's assistant settings are unchanged (a provider
    /// holds an HTTP client worth reusing).
    assistants: Mutex<HashMap<SiteId, (AssistantSettings, Assistant)>>,
}

impl AiAnswerer {
    pub fn new(knowledge: Arc<Knowledge>, hub: Hub) -> Self {
        AiAnswerer { knowledge, hub, assistants: Mutex::new(HashMap::new()) }
    }

    fn assistant_for(&self, site: &Site) -> Assistant {
        let mut cache = self.assistants.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&site.id) {
            Some((settings, assistant)) if *settings == site.assistant => assistant.clone(),
            _ => {
                let assistant = Assistant::for_settings(&site.assistant);
                cache.insert(site.id, (site.assistant.clone(), assistant.clone()));
                assistant
            }
        }
    }
}

#[async_trait]
impl Answerer for AiAnswerer {
    async fn answer(
        &self,
        site: &Site,
        conversation: &Conversation,
        question: &str,
        history: &[Message],
        _params: Option<&serde_json::Value>,
    ) -> AnswerOutcome {
        if !site.assistant.enabled {
            return AnswerOutcome::Silent;
        }
        // The visitor's message is committed: deliver it now, not after the answer is written.
        self.hub.wake();
        self.respond(site, conversation, question, history).await
    }
}

impl AiAnswerer {
    /// The assistant's answer, whether or not the site's assistant answers visitors by itself
    /// (a scenario's AI-answer node asks it explicitly).
    pub async fn respond(
        &self,
        site: &Site,
        conversation: &Conversation,
        question: &str,
        history: &[Message],
    ) -> AnswerOutcome {
        let (org, id) = (site.org_id, conversation.id);
        let lang = conversation.locale.as_deref().and_then(Lang::from_locale).or_else(|| Lang::detect(question));
        let stage = lang.unwrap_or_default().texts().searching.to_owned();
        self.hub.publish_ephemeral(org, id, EphemeralEvent::Thinking { stage: Some(stage) });
        let outcome = self.think(site, conversation, question, history).await;
        // The stored reply clears the indicator too; this covers "no reply".
        self.hub.publish_ephemeral(org, id, EphemeralEvent::Thinking { stage: None });
        outcome
    }

    async fn think(
        &self,
        site: &Site,
        conversation: &Conversation,
        question: &str,
        history: &[Message],
    ) -> AnswerOutcome {
        // A request for a person needs no search.
        let wants_person = detect_escalation(question, &site.assistant.escalation_keywords).is_some();
        let (retrieval, confidence) = if wants_person {
            (Retrieval::default(), 0.0)
        } else {
            match self.knowledge.search(site.id, question, PASSAGES).await {
                Ok(found) => found,
                // Without retrieval the pipeline declines honestly rather than guessing.
                Err(_) => (Retrieval::default(), 0.0),
            }
        };
        let input = AnswerInput {
            settings: &site.assistant,
            question,
            locale: conversation.locale.as_deref(),
            history,
            retrieval,
            confidence,
            threshold: self.knowledge.threshold(),
        };
        // Streamed pieces of the answer go to the sockets as they come; the stored reply replaces them.
        let (deltas, mut pieces) = tokio::sync::mpsc::channel::<String>(64);
        let hub = self.hub.clone();
        let (org, id) = (site.org_id, conversation.id);
        let stream_id = format!("{id}:{}", history.last().map_or(0, |m| m.seq));
        let forward = tokio::spawn(async move {
            while let Some(text) = pieces.recv().await {
                hub.publish_ephemeral(org, id, EphemeralEvent::Delta { stream_id: stream_id.clone(), text });
            }
        });
        let outcome = self.assistant_for(site).answer(input, Some(deltas)).await;
        // The sender went with `answer`; the forwarder ends once it has sent every piece.
        let _ = forward.await;
        match outcome {
            Outcome::Escalate { system_message, .. } => AnswerOutcome::Escalate { system_message },
            Outcome::Answer { body, citations, quick_replies, .. } => {
                AnswerOutcome::Answer { body, citations, quick_replies }
            }
            Outcome::Decline { body, quick_replies, escalate, .. } => {
                AnswerOutcome::Decline { body, quick_replies, escalate }
            }
        }
    }
}
