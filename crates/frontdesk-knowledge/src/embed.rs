//! Text embeddings: the [`Embedder`] port and two implementations, a local BERT sentence model
//! (all-MiniLM-L6-v2 through candle) and any OpenAI-compatible `/v1/embeddings` endpoint.
//!
//! Every call here blocks (CPU inference or an HTTP round trip): from async code, call it through
//! `tokio::task::spawn_blocking`.

use crate::bert::{Bert, mean_pool};
use crate::{KnowledgeError, Result};
use candle_core::Device;
use candle_transformers::models::bert::Config as BertConfig;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Turns texts into vectors. Implementations return L2-normalized vectors of `dim()` floats, so a dot
/// product is the cosine similarity.
pub trait Embedder: Send + Sync {
    /// A stable identifier of the model; stored with every vector, so a change of model re-embeds.
    fn id(&self) -> &str;
    fn dim(&self) -> usize;
    /// Blocking.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// Scale a vector to unit length (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product written so the compiler vectorizes it (eight independent accumulators).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

fn model_err(e: impl std::fmt::Display) -> KnowledgeError {
    KnowledgeError::Embedding(e.to_string())
}

/// A sentence-transformers BERT model (all-MiniLM-L6-v2) on the CPU: mean pooling over the tokens,
/// then L2 normalization — the same as the model's sentence-transformers pipeline.
pub struct LocalBertEmbedder {
    id: String,
    dim: usize,
    model: Bert,
    tokenizer: Tokenizer,
    /// One-thread pools for short inputs (a visitor's question): splitting a ~10-token forward pass
    /// across cores costs more in hand-offs than it saves, and much more when the cores are busy.
    /// One pool per core, so concurrent queries still run side by side.
    serial: Vec<SerialPool>,
    next_pool: AtomicUsize,
}

struct SerialPool {
    busy: Mutex<()>,
    pool: rayon::ThreadPool,
}

/// Inputs of at most this many tokens in all run on one thread (see `LocalBertEmbedder::serial`).
const SERIAL_MAX_TOKENS: usize = 256;

/// The longest input the model sees, in tokens (sentence-transformers' `max_seq_length` for MiniLM).
pub const MAX_TOKENS: usize = 256;
/// How many texts go through the model at once.
const BATCH: usize = 16;

impl LocalBertEmbedder {
    /// Load `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. Blocking (reads ~90 MB).
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| KnowledgeError::Embedding(format!("cannot read {}: {e}", dir.join(name).display())))
        };
        let config: BertConfig =
            serde_json::from_slice(&read("config.json")?).map_err(|e| model_err(format!("config.json: {e}")))?;
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| model_err(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(model_err)?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..Default::default()
        }));
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(&read("model.safetensors")?, &device)
            .map_err(|e| model_err(format!("model.safetensors: {e}")))?;
        let model = Bert::load(&tensors, &config, &device).map_err(|e| model_err(format!("model: {e}")))?;
        drop(tensors);
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bert".into());
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1).clamp(1, 8);
        let serial = (0..cores)
            .map(|i| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("frontdesk-embed-{i}"))
                    .build()
                    .map(|pool| SerialPool { busy: Mutex::new(()), pool })
                    .map_err(model_err)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            id: format!("local:{name}"),
            dim: config.hidden_size,
            model,
            tokenizer,
            serial,
            next_pool: AtomicUsize::new(0),
        })
    }

    /// Run `f` on a one-thread pool: a free one if there is one, else the next in turn.
    fn run_serial<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        for p in &self.serial {
            if let Ok(_guard) = p.busy.try_lock() {
                return p.pool.install(f);
            }
        }
        let i = self.next_pool.fetch_add(1, Ordering::Relaxed) % self.serial.len().max(1);
        match self.serial.get(i) {
            Some(p) => {
                let _guard = p.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                p.pool.install(f)
            }
            None => f(),
        }
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // One text: no batch (the tokenizer's batch path hands work to a thread pool).
        let encodings = match texts {
            [one] => vec![self.tokenizer.encode(*one, true).map_err(model_err)?],
            _ => self.tokenizer.encode_batch(texts.to_vec(), true).map_err(model_err)?,
        };
        let n = encodings.len();
        let len = encodings.first().map(|e| e.get_ids().len()).unwrap_or(0);
        if n == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.dim]; n]);
        }
        if n * len <= SERIAL_MAX_TOKENS && !self.serial.is_empty() {
            self.run_serial(|| self.forward(&encodings, n, len))
        } else {
            self.forward(&encodings, n, len)
        }
    }

    /// The model on `n` encodings of `len` tokens each, mean-pooled and normalized.
    fn forward(&self, encodings: &[tokenizers::Encoding], n: usize, len: usize) -> Result<Vec<Vec<f32>>> {
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        // Nothing padded (one text, or texts of one length): no mask to apply.
        let mask = if mask.iter().all(|&m| m == 1) { None } else { Some(mask) };
        if mask.is_none() && n * len <= crate::bert::LOOP_MAX_TOKENS {
            let pooled = self.model.forward_short(ids, n, len).map_err(model_err)?;
            let mut out: Vec<Vec<f32>> = pooled.chunks_exact(self.dim.max(1)).map(<[f32]>::to_vec).collect();
            out.iter_mut().for_each(|v| l2_normalize(v));
            return Ok(out);
        }
        let hidden = self.model.forward(ids, n, len, mask.clone()).map_err(model_err)?;
        let mut out = mean_pool(&hidden, mask.as_deref()).map_err(model_err)?;
        out.iter_mut().for_each(|v| l2_normalize(v));
        Ok(out)
    }
}

impl Embedder for LocalBertEmbedder {
    fn id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // Batch texts of similar length together so padding wastes little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(BATCH) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            for (&i, v) in group.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Settings for an OpenAI-compatible embeddings endpoint.
#[derive(Clone)]
pub struct OpenAiEmbedderConfig {
    /// The API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`;
    /// requests go to `{base_url}/embeddings`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// The vector size; `None` asks the endpoint once at construction.
    pub dimensions: Option<usize>,
    /// Per request.
    pub timeout: Duration,
    /// Texts per request.
    pub batch_size: usize,
}

impl std::fmt::Debug for OpenAiEmbedderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("dimensions", &self.dimensions)
            .field("timeout", &self.timeout)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl OpenAiEmbedderConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            dimensions: None,
            timeout: Duration::from_secs(30),
            batch_size: 64,
        }
    }
}

/// Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Mistral, Ollama, vLLM,
/// llama.cpp, …). It owns a small tokio runtime, so `embed` may be called from any thread; it blocks
/// the caller until the response (or the timeout), so from async code use `spawn_blocking`.
pub struct OpenAiEmbedder {
    id: String,
    dim: usize,
    config: OpenAiEmbedderConfig,
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(serde::Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(serde::Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl OpenAiEmbedder {
    /// Blocking when `config.dimensions` is `None` (one request to learn the vector size).
    pub fn new(config: OpenAiEmbedderConfig) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| KnowledgeError::Http(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("frontdesk-embed")
            .enable_all()
            .build()?;
        let mut embedder =
            Self { id: String::new(), dim: config.dimensions.unwrap_or(0), config, client, runtime: Some(runtime) };
        if embedder.dim == 0 {
            let probe = embedder.request(vec!["dimension probe".to_string()])?;
            embedder.dim = probe.first().map(Vec::len).unwrap_or(0);
            if embedder.dim == 0 {
                return Err(KnowledgeError::Http("the endpoint returned an empty embedding".into()));
            }
        }
        embedder.id = format!("openai:{}:{}", embedder.config.model, embedder.dim);
        Ok(embedder)
    }

    fn request(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let runtime = self.runtime.as_ref().ok_or_else(|| KnowledgeError::Http("embedder is shut down".into()))?;
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let mut req = self.client.post(url).json(&serde_json::json!({ "model": self.config.model, "input": texts }));
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let expected = texts.len();
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let result = async {
                let resp = req.send().await.map_err(|e| {
                    if e.is_timeout() {
                        KnowledgeError::Http("embeddings request timed out".into())
                    } else {
                        KnowledgeError::Http(format!("embeddings request failed: {e}"))
                    }
                })?;
                let status = resp.status();
                if !status.is_success() {
                    let body = resp.text().await.unwrap_or_default();
                    let body: String = body.chars().take(300).collect();
                    return Err(KnowledgeError::Http(format!("embeddings endpoint answered {status}: {body}")));
                }
                let body = resp.bytes().await.map_err(|e| {
                    if e.is_timeout() {
                        KnowledgeError::Http("embeddings request timed out".into())
                    } else {
                        KnowledgeError::Http(format!("embeddings response: {e}"))
                    }
                })?;
                serde_json::from_slice::<EmbeddingsResponse>(&body)
                    .map_err(|e| KnowledgeError::Http(format!("embeddings response is not valid: {e}")))
            }
            .await;
            let _ = tx.send(result);
        });
        let response = rx.recv().map_err(|_| KnowledgeError::Http("embeddings request was dropped".into()))??;
        if response.data.len() != expected {
            return Err(KnowledgeError::Http(format!(
                "embeddings endpoint returned {} vectors for {expected} inputs",
                response.data.len()
            )));
        }
        let mut items = response.data;
        if items.iter().all(|i| i.index.is_some()) {
            items.sort_by_key(|i| i.index);
        }
        Ok(items
            .into_iter()
            .map(|i| {
                let mut v = i.embedding;
                l2_normalize(&mut v);
                v
            })
            .collect())
    }
}

impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size.max(1)) {
            let vectors = self.request(batch.iter().map(|t| t.to_string()).collect())?;
            if let Some(v) = vectors.iter().find(|v| v.len() != self.dim) {
                return Err(KnowledgeError::Http(format!(
                    "embeddings endpoint returned a vector of {} floats, expected {}",
                    v.len(),
                    self.dim
                )));
            }
            out.extend(vectors);
        }
        Ok(out)
    }
}

impl Drop for OpenAiEmbedder {
    fn drop(&mut self) {
        // Never block here: the embedder may be dropped inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_normalize() {
        let mut a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        l2_normalize(&mut a);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        let b: Vec<f32> = (0..19).map(|i| (i % 3) as f32).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
