//! Frontdesk's knowledge base: articles → chunks → a tantivy BM25 index and optional embeddings →
//! hybrid retrieval, plus the confidence policy the assistant uses to decline honestly.
//!
//! - [`chunk`]: Markdown split along headings into retrieval-sized chunks (pure).
//! - [`KnowledgeIndex`]: the per-site index in one directory (blocking calls; see its docs).
//! - [`embed`]: the [`Embedder`] port, a local all-MiniLM-L6-v2 (candle) and an OpenAI-compatible client.
//! - [`fusion`]: how BM25 and cosine rankings fuse, and [`confidence`].

mod bert;
pub mod chunk;
pub mod embed;
pub mod fusion;
pub mod index;
mod question_words;

pub use chunk::{Chunk, chunk_article, chunk_markdown};
pub use embed::{Embedder, LocalBertEmbedder, OpenAiEmbedder, OpenAiEmbedderConfig};
pub use fusion::{
    DEFAULT_CONFIDENCE_THRESHOLD, DEFAULT_LEXICAL_WEIGHT, DEFAULT_SHORTLIST, LEXICAL_CONFIDENCE_THRESHOLD, Ranking,
    confidence,
};
pub use index::{KnowledgeIndex, SearchOptions};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("search index: {0}")]
    Index(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("embedding: {0}")]
    Embedding(String),
    #[error("embeddings endpoint: {0}")]
    Http(String),
    #[error("a lock was poisoned by a panic")]
    Poisoned,
}

impl From<tantivy::TantivyError> for KnowledgeError {
    fn from(e: tantivy::TantivyError) -> Self {
        KnowledgeError::Index(e.to_string())
    }
}

pub type Result<T, E = KnowledgeError> = std::result::Result<T, E>;
