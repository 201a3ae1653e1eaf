//! Providers write the raw answer (Markdown with `[Pn]` citation markers, or the sentinel).

mod extractive;
mod openai;

pub use extractive::Extractive;
pub use openai::{OpenAiCompatible, OpenAiConfig, Timeouts};

use crate::prompt::Prompt;
use async_trait::async_trait;
use frontdesk_core::model::{AssistantSettings, ProviderSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Opening the connection.
    Connect,
    /// Waiting for the response to start.
    Response,
    /// Waiting for the next chunk of a started stream.
    Idle,
    /// The whole request, retries included.
    Overall,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "while connecting",
            TimeoutKind::Response => "waiting for the response to start",
            TimeoutKind::Idle => "waiting for the next part of the stream",
            TimeoutKind::Overall => "before the answer was complete",
        })
    }
}

/// Why a provider gave no answer. The API key never appears in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider is not configured correctly: {0}")]
    Config(String),
    #[error("could not connect to the provider: {0}")]
    Connect(String),
    #[error("the provider timed out {0}")]
    Timeout(TimeoutKind),
    #[error("the provider rejected the credentials (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("the provider answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the provider reported an error: {0}")]
    Api(String),
    #[error("the provider's stream broke off after {} characters: {reason}", partial.chars().count())]
    StreamCut { partial: String, reason: String },
    #[error("the provider's response could not be read: {0}")]
    Protocol(String),
}

/// Writes the raw answer for a prompt. When `deltas` is given, the text is also sent there piece
/// by piece as it is produced (raw, markers included: the final [`crate::Outcome`] is what counts).
#[async_trait]
pub trait Provider: Send + Sync {
    async fn generate(&self, prompt: &Prompt, deltas: Option<Sender<String>>) -> Result<String, ProviderError>;
}

/// A provider that cannot work (its configuration was rejected): every call fails with the reason,
/// so the pipeline takes its fallback.
#[derive(Debug, Clone)]
pub struct Unavailable(pub ProviderError);

#[async_trait]
impl Provider for Unavailable {
    async fn generate(&self, _prompt: &Prompt, _deltas: Option<Sender<String>>) -> Result<String, ProviderError> {
        Err(self.0.clone())
    }
}

/// Retries after the first attempt for providers built from site settings.
pub const DEFAULT_RETRIES: u32 = 2;

/// The provider a site's settings ask for: [`Extractive`] by default, [`OpenAiCompatible`] with the
/// site's base URL, model, key, temperature and max tokens (default timeouts, [`DEFAULT_RETRIES`]).
/// A configuration that cannot work gives [`Unavailable`].
pub fn provider_for(settings: &AssistantSettings) -> Arc<dyn Provider> {
    match &settings.provider {
        ProviderSettings::Extractive => Arc::new(Extractive::new()),
        ProviderSettings::Openai { base_url, model, api_key } => {
            let mut config = OpenAiConfig::new(base_url.clone(), model.clone());
            config.api_key = api_key.clone().filter(|k| !k.trim().is_empty());
            config.temperature = settings.temperature;
            config.max_tokens = settings.max_tokens;
            config.retries = DEFAULT_RETRIES;
            match OpenAiCompatible::new(config) {
                Ok(provider) => Arc::new(provider),
                Err(e) => Arc::new(Unavailable(e)),
            }
        }
    }
}

/// The backoff before retry `attempt` (1-based): 250 ms, 500 ms, 1 s, … at most 8 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(5));
    Duration::from_millis(ms.min(8000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_millis(1000));
        assert_eq!(backoff(30), Duration::from_millis(8000));
    }

    #[tokio::test]
    async fn settings_choose_the_provider() {
        let prompt = crate::prompt::build_prompt(
            "",
            "q",
            crate::Lang::En,
            &[],
            &frontdesk_core::knowledge::Retrieval::default(),
            1,
        );
        let bad = AssistantSettings {
            provider: ProviderSettings::Openai { base_url: "ftp://x".to_owned(), model: "m".to_owned(), api_key: None },
            ..AssistantSettings::default()
        };
        let err = provider_for(&bad).generate(&prompt, None).await;
        assert!(matches!(err, Err(ProviderError::Config(_))), "{err:?}");
        // The default is extractive: no passages, nothing to say → the sentinel.
        let out = provider_for(&AssistantSettings::default()).generate(&prompt, None).await;
        assert_eq!(out.as_deref(), Ok(crate::SENTINEL));
    }
}
