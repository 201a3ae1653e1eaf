//! Frontdesk's answer pipeline. For one visitor question, given what retrieval found and how
//! confident the caller's calibrated policy is:
//!
//! 1. the question is cleaned; text that imitates our prompt structure is neutralized before it
//!    reaches a prompt ([`neutralize()`]);
//! 2. an explicit request for a person, or a site keyword, escalates at once ([`detect_escalation`]);
//! 3. below the confidence threshold the assistant declines instead of guessing ([`decide`]);
//! 4. a grounded prompt is built ([`build_prompt`]) and a [`Provider`] writes the answer —
//!    [`Extractive`] (offline, copies the passages) or [`OpenAiCompatible`] (streaming);
//! 5. the answer is validated ([`finalize`]): the sentinel, a citation outside the passages, no
//!    citation or no text turn it into the decline; otherwise its `[Pn]` markers become citations
//!    and its Markdown is rendered to sanitized HTML.
//!
//! The fixed texts (decline, hand-over, "Talk to a person") exist in English, Dutch, German,
//! French and Spanish ([`Lang`]).

mod escalation;
mod lang;
mod neutralize;
mod output;
mod policy;
mod prompt;
mod provider;

pub use escalation::{
    EscalationReason, MAX_KEYWORD_CHARS, MAX_SITE_KEYWORDS, detect_escalation, explicit_request, validate_keywords,
};
pub use lang::{Lang, Texts, fold};
pub use neutralize::{PASSAGE_CLOSE, PASSAGE_OPEN, SENTINEL, neutralize, neutralize_line};
pub use output::{CannotAnswer, Reply, finalize};
pub use policy::{Decision, decide};
pub use prompt::{
    ChatMessage, DEFAULT_HISTORY_LIMIT, MAX_PASSAGE_CHARS, MAX_PROMPT_PASSAGES, Prompt, PromptPassage, Role,
    build_prompt, grounding_rules, prompt_passages,
};
pub use provider::{
    DEFAULT_RETRIES, Extractive, OpenAiCompatible, OpenAiConfig, Provider, ProviderError, TimeoutKind, Timeouts,
    Unavailable, provider_for,
};

use frontdesk_core::knowledge::Retrieval;
use frontdesk_core::markdown;
use frontdesk_core::model::{AssistantSettings, Citation, LowConfidenceAction, Message};
use frontdesk_core::validate::clean_text;
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// One question for the pipeline.
#[derive(Debug, Clone)]
pub struct AnswerInput<'a> {
    pub settings: &'a AssistantSettings,
    /// The visitor's message.
    pub question: &'a str,
    /// The visitor's locale (`nl-BE`), when known: chooses the language of the fixed texts.
    pub locale: Option<&'a str>,
    /// The conversation so far, oldest first (it may end with the question itself).
    pub history: &'a [Message],
    /// What retrieval found for the question, best first.
    pub retrieval: Retrieval,
    /// The caller's calibrated confidence that the retrieval can answer.
    pub confidence: f32,
    /// The calibrated threshold for `confidence`.
    pub threshold: f32,
}

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerSource {
    /// The configured provider.
    Provider,
    /// The configured provider failed (the error is kept); the answer was built extractively.
    ExtractiveFallback(ProviderError),
}

/// Why the assistant declined.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclineReason {
    /// The message had no text.
    EmptyQuestion,
    /// The confidence was below the threshold, or nothing was retrieved.
    LowConfidence,
    /// The provider's answer was not usable.
    NotInPassages(CannotAnswer),
    /// The provider failed and the confidence was too low for an extractive fallback.
    ProviderFailed(ProviderError),
}

/// What to do with the visitor's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Hand the conversation to a person now; post `system_message` (in the visitor's language).
    Escalate { reason: EscalationReason, system_message: String },
    /// A grounded answer: store `body` and `html` with the citations and quick replies.
    Answer { body: String, html: String, citations: Vec<Citation>, quick_replies: Vec<String>, source: AnswerSource },
    /// The honest "not in our help center". With `escalate`, the site wants a person to take over
    /// now (its low-confidence action is `escalate`); otherwise a "Talk to a person" quick reply
    /// is offered.
    Decline { body: String, html: String, quick_replies: Vec<String>, escalate: bool, reason: DeclineReason },
}

/// The pipeline, with its provider.
#[derive(Clone)]
pub struct Assistant {
    provider: Arc<dyn Provider>,
    history_limit: usize,
    fallback_margin: f32,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant")
            .field("history_limit", &self.history_limit)
            .field("fallback_margin", &self.fallback_margin)
            .finish_non_exhaustive()
    }
}

impl Assistant {
    /// A pipeline that generates with `provider`; [`DEFAULT_HISTORY_LIMIT`] earlier messages go
    /// into prompts; a failed provider falls back to the extractive answer whenever the question
    /// passed the threshold.
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Assistant { provider, history_limit: DEFAULT_HISTORY_LIMIT, fallback_margin: 0.0 }
    }

    /// A pipeline with the provider a site's settings ask for ([`provider_for`]).
    pub fn for_settings(settings: &AssistantSettings) -> Self {
        Assistant::new(provider_for(settings))
    }

    /// How many earlier messages the prompt carries.
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// When the provider fails, answer extractively only if `confidence ≥ threshold + margin`
    /// (else decline). The default margin is 0.
    pub fn with_fallback_margin(mut self, margin: f32) -> Self {
        self.fallback_margin = if margin.is_finite() { margin.max(0.0) } else { 0.0 };
        self
    }

    /// Runs the pipeline for one question. When `deltas` is given, the provider's raw text is sent
    /// there as it is generated (markers included, and possibly a partial answer that is then
    /// replaced by a fallback): the returned [`Outcome`] is what gets stored. The caller checks
    /// `settings.enabled` before calling.
    pub async fn answer(&self, input: AnswerInput<'_>, deltas: Option<Sender<String>>) -> Outcome {
        let settings = input.settings;
        let question = clean_text(input.question);
        let locale_lang = input.locale.and_then(Lang::from_locale);

        if let Some(reason) = detect_escalation(&question, &settings.escalation_keywords) {
            let lang = match (&reason, locale_lang) {
                (_, Some(lang)) => lang,
                (EscalationReason::ExplicitRequest { lang }, None) => *lang,
                (EscalationReason::SiteKeyword { .. }, None) => Lang::detect(&question).unwrap_or_default(),
            };
            return Outcome::Escalate { reason, system_message: lang.texts().handoff.to_owned() };
        }
        let lang = locale_lang.or_else(|| Lang::detect(&question)).unwrap_or_default();
        if question.is_empty() {
            return decline(settings, lang, DeclineReason::EmptyQuestion);
        }
        if decide(input.confidence, input.threshold, &input.retrieval) == Decision::Decline {
            return decline(settings, lang, DeclineReason::LowConfidence);
        }

        let prompt =
            build_prompt(&settings.system_prompt, &question, lang, input.history, &input.retrieval, self.history_limit);
        match self.provider.generate(&prompt, deltas).await {
            Ok(raw) => match finalize(&raw, &input.retrieval) {
                Reply::Answer { body, html, citations } => {
                    Outcome::Answer { body, html, citations, quick_replies: Vec::new(), source: AnswerSource::Provider }
                }
                Reply::CannotAnswer(why) => decline(settings, lang, DeclineReason::NotInPassages(why)),
            },
            Err(error) => {
                tracing::warn!(error = %error, "the assistant's provider failed");
                let high = input.confidence >= input.threshold + self.fallback_margin;
                if high
                    && let Reply::Answer { body, html, citations } =
                        finalize(&Extractive::compose(&prompt), &input.retrieval)
                {
                    return Outcome::Answer {
                        body,
                        html,
                        citations,
                        quick_replies: Vec::new(),
                        source: AnswerSource::ExtractiveFallback(error),
                    };
                }
                decline(settings, lang, DeclineReason::ProviderFailed(error))
            }
        }
    }
}

/// The decline in the visitor's language, as the site's low-confidence action wants it.
fn decline(settings: &AssistantSettings, lang: Lang, reason: DeclineReason) -> Outcome {
    let texts = lang.texts();
    let escalate = settings.low_confidence == LowConfidenceAction::Escalate;
    let (body, quick_replies) = if escalate {
        (texts.decline_escalate, Vec::new())
    } else {
        (texts.decline_offer, vec![texts.talk_to_person.to_owned()])
    };
    Outcome::Decline { body: body.to_owned(), html: markdown::render(body), quick_replies, escalate, reason }
}

#[cfg(test)]
pub(crate) mod test_support {
    use frontdesk_core::ids::{ConversationId, MessageId, Uuid};
    use frontdesk_core::knowledge::{ArticleId, Passage};
    use frontdesk_core::model::{AuthorKind, Message};
    use frontdesk_core::time::Timestamp;

    /// A passage of its own article (the id follows from the title and text).
    pub fn passage(title: &str, text: &str) -> Passage {
        let seed = title.bytes().chain(text.bytes()).fold(7u128, |h, b| h.wrapping_mul(31).wrapping_add(u128::from(b)));
        Passage {
            chunk_id: format!("{seed}#0"),
            article_id: ArticleId(Uuid::from_u128(seed)),
            article_title: title.to_owned(),
            heading: String::new(),
            text: text.to_owned(),
            url: None,
            locale: "en".to_owned(),
            lexical_score: Some(5.0),
            semantic_score: Some(0.8),
            score: 0.9,
        }
    }

    pub fn message(kind: AuthorKind, body: &str) -> Message {
        Message {
            id: MessageId(Uuid::nil()),
            conversation_id: ConversationId(Uuid::nil()),
            seq: 1,
            author_kind: kind,
            author_id: None,
            body: body.to_owned(),
            html: String::new(),
            citations: Vec::new(),
            quick_replies: Vec::new(),
            reaction: None,
            created_at: Timestamp(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::passage;
    use frontdesk_core::model::ProviderSettings;

    fn input<'a>(settings: &'a AssistantSettings, question: &'a str, confidence: f32) -> AnswerInput<'a> {
        AnswerInput {
            settings,
            question,
            locale: None,
            history: &[],
            retrieval: Retrieval {
                passages: vec![passage("Returns", "Returns are accepted within 30 days. Refunds take 5 days.")],
                ..Retrieval::default()
            },
            confidence,
            threshold: 0.5,
        }
    }

    #[tokio::test]
    async fn answers_declines_and_escalates() {
        let settings = AssistantSettings::default();
        let assistant = Assistant::for_settings(&settings);
        let out = assistant.answer(input(&settings, "How long do I have to return something?", 0.9), None).await;
        let Outcome::Answer { body, citations, quick_replies, source, .. } = out else { panic!("{out:?}") };
        assert!(body.contains("Returns are accepted within 30 days."), "{body}");
        assert_eq!(citations.len(), 1);
        assert!(quick_replies.is_empty());
        assert_eq!(source, AnswerSource::Provider);

        let out = assistant.answer(input(&settings, "Do you sell bikes?", 0.1), None).await;
        assert!(
            matches!(&out, Outcome::Decline { escalate: false, quick_replies, reason: DeclineReason::LowConfidence, .. } if quick_replies == &["Talk to a person"]),
            "{out:?}"
        );

        let out = assistant.answer(input(&settings, "Ik wil een medewerker spreken", 0.9), None).await;
        assert_eq!(
            out,
            Outcome::Escalate {
                reason: EscalationReason::ExplicitRequest { lang: Lang::Nl },
                system_message: Lang::Nl.texts().handoff.to_owned()
            }
        );
    }

    #[tokio::test]
    async fn a_broken_provider_falls_back() {
        let settings = AssistantSettings {
            provider: ProviderSettings::Openai {
                base_url: "not a url".to_owned(),
                model: "m".to_owned(),
                api_key: None,
            },
            ..AssistantSettings::default()
        };
        let assistant = Assistant::for_settings(&settings);
        let out = assistant.answer(input(&settings, "How long do I have to return something?", 0.9), None).await;
        assert!(
            matches!(&out, Outcome::Answer { source: AnswerSource::ExtractiveFallback(ProviderError::Config(_)), .. }),
            "{out:?}"
        );
        let strict = assistant.clone().with_fallback_margin(0.45);
        let out = strict.answer(input(&settings, "How long do I have to return something?", 0.9), None).await;
        assert!(matches!(&out, Outcome::Decline { reason: DeclineReason::ProviderFailed(_), .. }), "{out:?}");
    }
}
