//! Knowledge-base entities shared by storage, the index and the assistant.

use crate::ids::{OrgId, SiteId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::id_type!(
    /// A knowledge-base article.
    ArticleId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    #[default]
    Draft,
    Published,
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(ArticleStatus::Draft),
            "published" => Some(ArticleStatus::Published),
            _ => None,
        }
    }
}

/// A help-center article. Only published ones are searchable and citable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Article {
    pub id: ArticleId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The article's language (`en`, `nl`, `de`, `fr`, `es`, …): chooses the stemmer.
    pub locale: String,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    /// Where the article lives on the site's help center, when it has a public page.
    pub url: Option<String>,
    /// A stable key from an import (the file's path), so re-importing updates instead of duplicating.
    pub external_key: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One retrieved piece of an article, with the scores that ranked it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// `<article id>#<ordinal>`.
    pub chunk_id: String,
    pub article_id: ArticleId,
    pub article_title: String,
    /// The heading path inside the article (`Shipping › Returns`), empty for the lead section.
    pub heading: String,
    pub text: String,
    pub url: Option<String>,
    pub locale: String,
    /// BM25 score, when the lexical ranker found it.
    pub lexical_score: Option<f32>,
    /// Cosine similarity, when the semantic ranker found it.
    pub semantic_score: Option<f32>,
    /// The fused score the final order follows.
    pub score: f32,
}

/// What retrieval returns for one query: the passages best first, and how sure each ranker was.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Retrieval {
    pub passages: Vec<Passage>,
    /// The best BM25 score among all candidates (not only those kept).
    pub top_lexical: Option<f32>,
    /// The best cosine similarity among all candidates.
    pub top_semantic: Option<f32>,
    /// Whether the best lexical and best semantic hit are the same article.
    pub rankers_agree: Option<bool>,
    /// How much of the query the best lexical passage contains: the IDF-weighted share of the
    /// query's analyzed terms found in it (0–1). Unlike a BM25 score it does not depend on the size
    /// of the knowledge base, so one threshold works for a small help center and a large one.
    #[serde(default)]
    pub lexical_coverage: Option<f32>,
}
