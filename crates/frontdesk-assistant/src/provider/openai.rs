//! Any OpenAI-compatible chat-completions API (OpenAI, Mistral, Ollama, vLLM, llama.cpp):
//! `POST {base_url}/chat/completions` with `stream: true`, read as server-sent events.
//!
//! - Timeouts: connecting, waiting for the response to start, waiting between two chunks of the
//!   stream (idle), and the whole call, retries included.
//! - Retries with exponential backoff (or the server's `Retry-After`, in seconds) on connection
//!   errors, 429 and 5xx — only before the response has started, never after partial output.
//! - A server that ignores `stream: true` and answers with one JSON body is understood too.

use super::{Provider, ProviderError, TimeoutKind, backoff};
use crate::prompt::Prompt;
use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio::time::{Instant, sleep, timeout};

/// How long each wait may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP (and TLS) connection.
    pub connect: Duration,
    /// From sending the request to the response's status line and headers.
    pub response: Duration,
    /// Between two chunks of a streamed response (the first token included).
    pub idle: Duration,
    /// The whole call, retries and backoff included.
    pub overall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            overall: Duration::from_secs(120),
        }
    }
}

/// What an [`OpenAiCompatible`] provider talks to, and how.
#[derive(Clone, PartialEq)]
pub struct OpenAiConfig {
    /// E.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (`/chat/completions` is added).
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    pub temperature: f32,
    pub max_tokens: u32,
    pub timeouts: Timeouts,
    /// Attempts after the first one.
    pub retries: u32,
}

impl OpenAiConfig {
    /// A configuration with default temperature (0.2), max tokens (600), timeouts and 2 retries.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            temperature: 0.2,
            max_tokens: 600,
            timeouts: Timeouts::default(),
            retries: super::DEFAULT_RETRIES,
        }
    }
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("timeouts", &self.timeouts)
            .field("retries", &self.retries)
            .finish()
    }
}

/// The longest `Retry-After` honoured; a longer one ends the retries.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// A single SSE line (or a JSON body) may be at most this large.
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// An answer may be at most this long.
const MAX_ANSWER_CHARS: usize = 100_000;
/// How much of an error response is read.
const MAX_ERROR_BYTES: usize = 8 * 1024;

/// A streaming client for one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    config: OpenAiConfig,
    url: String,
    client: reqwest::Client,
}

impl OpenAiCompatible {
    /// Checks the configuration (an `http`/`https` base URL, a model) and builds the HTTP client.
    pub fn new(config: OpenAiConfig) -> Result<Self, ProviderError> {
        let base = config.base_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| ProviderError::Config(format!("the base URL {base:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ProviderError::Config(format!("the base URL {base:?} must be http:// or https://")));
        }
        if config.model.trim().is_empty() {
            return Err(ProviderError::Config("the model name is empty".to_owned()));
        }
        if config.api_key.as_deref().is_some_and(|k| k.chars().any(|c| c.is_control())) {
            return Err(ProviderError::Config("the API key contains control characters".to_owned()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("the HTTP client could not be built: {e}")))?;
        let url = format!("{base}/chat/completions");
        Ok(OpenAiCompatible { config, url, client })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn body(&self, prompt: &Prompt) -> Value {
        serde_json::json!({
            "model": self.config.model,
            "messages": prompt.messages,
            "stream": true,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        })
    }
}

/// One attempt's failure, and whether another attempt may help (and after how long).
struct Failed {
    error: ProviderError,
    retry: bool,
    retry_after: Option<Duration>,
}

#[async_trait]
impl Provider for OpenAiCompatible {
    async fn generate(&self, prompt: &Prompt, deltas: Option<Sender<String>>) -> Result<String, ProviderError> {
        let deadline = Instant::now() + self.config.timeouts.overall;
        let body = self.body(prompt);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failed = match self.start(&body, deadline).await {
                Ok(response) => return self.read(response, deltas, deadline).await,
                Err(failed) => failed,
            };
            if !failed.retry || attempt > self.config.retries {
                return Err(failed.error);
            }
            let wait = match failed.retry_after {
                Some(after) if after > MAX_RETRY_AFTER => return Err(failed.error),
                Some(after) => after,
                None => backoff(attempt),
            };
            if Instant::now() + wait >= deadline {
                return Err(failed.error);
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %failed.error, "retrying the provider");
            sleep(wait).await;
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A reqwest error with its causes ("error sending request …: connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

impl OpenAiCompatible {
    /// Sends the request and waits for a successful status; errors say whether to retry.
    async fn start(&self, body: &Value, deadline: Instant) -> Result<reqwest::Response, Failed> {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(Failed {
                error: ProviderError::Timeout(TimeoutKind::Overall),
                retry: false,
                retry_after: None,
            });
        }
        let mut request = self.client.post(&self.url).header(ACCEPT, "text/event-stream, application/json").json(body);
        if let Some(key) = self.config.api_key.as_deref() {
            request = request.bearer_auth(key);
        }
        let wait = self.config.timeouts.response.min(left);
        let response = match timeout(wait, request.send()).await {
            Err(_) => {
                let kind =
                    if wait < self.config.timeouts.response { TimeoutKind::Overall } else { TimeoutKind::Response };
                return Err(Failed { error: ProviderError::Timeout(kind), retry: false, retry_after: None });
            }
            Ok(Err(e)) if e.is_connect() => {
                let error = if e.is_timeout() {
                    ProviderError::Timeout(TimeoutKind::Connect)
                } else {
                    ProviderError::Connect(describe(&e))
                };
                return Err(Failed { error, retry: true, retry_after: None });
            }
            Ok(Err(e)) if e.is_timeout() => {
                return Err(Failed {
                    error: ProviderError::Timeout(TimeoutKind::Connect),
                    retry: true,
                    retry_after: None,
                });
            }
            // The request may have reached the server: do not send it twice.
            Ok(Err(e)) => {
                return Err(Failed { error: ProviderError::Connect(describe(&e)), retry: false, retry_after: None });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)));
        let message = error_message(response, deadline).await;
        let code = status.as_u16();
        let error = if matches!(code, 401 | 403) {
            ProviderError::Unauthorized { status: code, message }
        } else {
            ProviderError::Status { status: code, message }
        };
        let retry = code == 429 || status.is_server_error();
        Err(Failed { error, retry, retry_after })
    }

    /// Reads a successful response: server-sent events, or one JSON body.
    async fn read(
        &self,
        mut response: reqwest::Response,
        deltas: Option<Sender<String>>,
        deadline: Instant,
    ) -> Result<String, ProviderError> {
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let json_body = content_type.contains("json") && !content_type.contains("event-stream");
        let mut stream = SseState::default();
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let left = remaining(deadline);
            let wait = self.config.timeouts.idle.min(left);
            let chunk = match timeout(wait, response.chunk()).await {
                Err(_) => {
                    let kind = if wait < self.config.timeouts.idle { TimeoutKind::Overall } else { TimeoutKind::Idle };
                    return Err(ProviderError::Timeout(kind));
                }
                Ok(Err(e)) => {
                    return Err(ProviderError::StreamCut { partial: stream.content, reason: describe(&e) });
                }
                Ok(Ok(chunk)) => chunk,
            };
            let Some(bytes) = chunk else { break };
            buffer.extend_from_slice(&bytes);
            if json_body {
                if buffer.len() > MAX_LINE_BYTES {
                    return Err(ProviderError::Protocol("the response body is too large".to_owned()));
                }
                continue;
            }
            while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=pos).collect();
                if stream.line(&line, deltas.as_ref()).await? {
                    return Ok(stream.content);
                }
            }
            if buffer.len() > MAX_LINE_BYTES {
                return Err(ProviderError::Protocol("a server-sent event line is too long".to_owned()));
            }
        }
        if json_body {
            let content = content_of_json_body(&buffer)?;
            if let Some(tx) = deltas.as_ref() {
                let _ = tx.send(content.clone()).await;
            }
            return Ok(content);
        }
        // The last line may lack its newline.
        if !buffer.is_empty() && stream.line(&buffer, deltas.as_ref()).await? {
            return Ok(stream.content);
        }
        if stream.finished {
            Ok(stream.content)
        } else {
            Err(ProviderError::StreamCut {
                partial: stream.content,
                reason: "the stream ended before [DONE] or a finish reason".to_owned(),
            })
        }
    }
}

/// What a stream has delivered so far.
#[derive(Debug, Default)]
struct SseState {
    content: String,
    /// A `finish_reason` was seen.
    finished: bool,
}

impl SseState {
    /// Handles one line of the stream; `Ok(true)` at `[DONE]`. Each `data:` line is taken as one
    /// event (chat-completion streams never split an event's JSON over several lines).
    async fn line(&mut self, raw: &[u8], deltas: Option<&Sender<String>>) -> Result<bool, ProviderError> {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_end_matches(['\n', '\r']);
        let Some(data) = line.strip_prefix("data:") else {
            // Blank lines end events, `:` lines are comments (keep-alives), `event:`/`id:` unused.
            return Ok(false);
        };
        let data = data.strip_prefix(' ').unwrap_or(data).trim();
        if data.is_empty() {
            return Ok(false);
        }
        if data == "[DONE]" {
            return Ok(true);
        }
        let event: Value =
            serde_json::from_str(data).map_err(|e| ProviderError::Protocol(format!("an event is not JSON: {e}")))?;
        if let Some(error) = event.get("error") {
            return Err(ProviderError::Api(message_of(error)));
        }
        let choice = event.get("choices").and_then(|c| c.get(0));
        let piece = choice.and_then(|c| {
            c.pointer("/delta/content").or_else(|| c.pointer("/message/content")).or_else(|| c.get("text"))
        });
        if let Some(piece) = piece.and_then(Value::as_str).filter(|p| !p.is_empty()) {
            if self.content.chars().count() + piece.chars().count() > MAX_ANSWER_CHARS {
                return Err(ProviderError::Protocol("the answer is too long".to_owned()));
            }
            self.content.push_str(piece);
            if let Some(tx) = deltas {
                let _ = tx.send(piece.to_owned()).await;
            }
        }
        if choice.and_then(|c| c.get("finish_reason")).is_some_and(|f| !f.is_null()) {
            self.finished = true;
        }
        Ok(false)
    }
}

/// `choices[0].message.content` of a non-streamed answer.
fn content_of_json_body(body: &[u8]) -> Result<String, ProviderError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Protocol(format!("the response body is not JSON: {e}")))?;
    if let Some(error) = value.get("error") {
        return Err(ProviderError::Api(message_of(error)));
    }
    value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Protocol("the response has no choices[0].message.content".to_owned()))
}

/// The message of an OpenAI-style error value (`{"message": …}` or a string).
fn message_of(error: &Value) -> String {
    let text = match error {
        Value::String(s) => s.clone(),
        other => other.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| other.to_string()),
    };
    shorten(&text)
}

fn shorten(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t.to_owned(),
    }
}

/// The readable part of an error response: its JSON error message, or the start of its text.
async fn error_message(mut response: reqwest::Response, deadline: Instant) -> String {
    let reason = response.status().canonical_reason().unwrap_or("error").to_owned();
    let mut body = Vec::new();
    let wait = Duration::from_secs(5).min(remaining(deadline));
    let _ = timeout(wait, async {
        while body.len() < MAX_ERROR_BYTES {
            match response.chunk().await {
                Ok(Some(bytes)) => body.extend_from_slice(&bytes),
                _ => break,
            }
        }
    })
    .await;
    body.truncate(MAX_ERROR_BYTES);
    let text = String::from_utf8_lossy(&body);
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        if let Some(error) = value.get("error") {
            return message_of(error);
        }
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return shorten(message);
        }
    }
    let text = shorten(&text);
    if text.is_empty() { reason } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sse_lines_build_the_answer_and_forward_deltas() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let mut s = SseState::default();
        for line in [
            ": keep-alive\n",
            "event: message\n",
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n",
            "\n",
            "data:{\"choices\":[{\"delta\":{\"content\":\"lo [P1]\"},\"finish_reason\":null}]}\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n",
        ] {
            assert_eq!(s.line(line.as_bytes(), Some(&tx)).await, Ok(false));
        }
        assert!(s.finished);
        assert_eq!(s.line(b"data: [DONE]\n", Some(&tx)).await, Ok(true));
        assert_eq!(s.content, "Hello [P1]");
        assert_eq!(rx.recv().await.as_deref(), Some("Hel"));
        assert_eq!(rx.recv().await.as_deref(), Some("lo [P1]"));
    }

    #[tokio::test]
    async fn error_events_and_bad_json_are_errors() {
        let mut s = SseState::default();
        let err = s.line(b"data: {\"error\":{\"message\":\"model overloaded\"}}\n", None).await;
        assert_eq!(err, Err(ProviderError::Api("model overloaded".to_owned())));
        assert!(matches!(s.line(b"data: {nope\n", None).await, Err(ProviderError::Protocol(_))));
    }

    #[test]
    fn json_bodies_and_error_values_are_read() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"Hi [P1]"}}]}"#;
        assert_eq!(content_of_json_body(body), Ok("Hi [P1]".to_owned()));
        assert!(matches!(content_of_json_body(b"{}"), Err(ProviderError::Protocol(_))));
        assert_eq!(message_of(&serde_json::json!("plain")), "plain");
        assert_eq!(message_of(&serde_json::json!({"message": "bad key", "type": "auth"})), "bad key");
    }

    #[test]
    fn configuration_is_checked_and_the_key_never_printed() {
        assert!(matches!(OpenAiCompatible::new(OpenAiConfig::new("nope", "m")), Err(ProviderError::Config(_))));
        assert!(matches!(OpenAiCompatible::new(OpenAiConfig::new("file:///x", "m")), Err(ProviderError::Config(_))));
        assert!(matches!(OpenAiCompatible::new(OpenAiConfig::new("http://h/v1", " ")), Err(ProviderError::Config(_))));
        let mut config = OpenAiConfig::new("https://api.example.com/v1/", "gpt");
        config.api_key = Some("sk-secret".to_owned());
        let provider = OpenAiCompatible::new(config);
        assert!(provider.as_ref().is_ok_and(|p| p.url == "https://api.example.com/v1/chat/completions"));
        assert!(!format!("{provider:?}").contains("sk-secret"));
    }
}
