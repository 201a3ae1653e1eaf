//! How the lexical (BM25) and semantic (cosine) rankings become one, and how sure a retrieval is.
//! Pure functions: the weights and the threshold were tuned by `frontdesk-eval` on one half of the
//! evaluation questions and reported on the other half (see `docs/benchmarks.md`).

use frontdesk_core::knowledge::Retrieval;

/// Which ranker(s) order the results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ranking {
    /// BM25 only.
    Lexical,
    /// Cosine similarity only (falls back to BM25 when there is no embedder). A chunk's cosine is
    /// the mean of its whole text's and its best view's (see [`crate::chunk::embedding_views`]),
    /// each taken after part of the site's mean vector is subtracted (`index::Centering`), which
    /// discounts what every passage of the site has in common.
    Semantic,
    /// Score fusion over the semantic shortlist: the passages of the `shortlist` best articles by
    /// cosine (centered, as in `Semantic`) are ordered by `cosine + lexical_weight × bm25 / best_bm25`
    /// (the BM25 score relative to the query's best, so the weight means the same for every query and
    /// corpus) and come first; every other passage follows in cosine order. So BM25 re-orders what the
    /// stronger ranker found and never pushes one of its first `shortlist` articles out: with a
    /// shortlist of five, the first five articles are exactly the semantic ranker's. `usize::MAX`
    /// fuses over every candidate. The cosine of every candidate is known (vectors are in memory).
    Hybrid { lexical_weight: f32, shortlist: usize },
    /// Reciprocal rank fusion, `Σ 1 / (k + rank)`, for comparison.
    Rrf { k: f32 },
}

/// The default hybrid weight of the relative BM25 score (tuned with the shortlist on the tuning halves
/// of both FAQ sets, under the rule that the hybrid never falls below the better single ranker there).
pub const DEFAULT_LEXICAL_WEIGHT: f32 = 0.2;

/// The default semantic shortlist of [`Ranking::Hybrid`], in articles (tuned with the weight).
pub const DEFAULT_SHORTLIST: usize = 5;

impl Default for Ranking {
    fn default() -> Self {
        Ranking::Hybrid { lexical_weight: DEFAULT_LEXICAL_WEIGHT, shortlist: DEFAULT_SHORTLIST }
    }
}

/// Below this [`confidence`], the knowledge base is taken not to answer the question (calibrated with
/// the local all-MiniLM-L6-v2 model; see `docs/benchmarks.md`).
pub const DEFAULT_CONFIDENCE_THRESHOLD: f32 = 0.46;

/// Below this [`confidence`] without an embedder (the query-term coverage of the best lexical
/// passage), the knowledge base is taken not to answer (calibrated on the FAQ sets with BM25 only;
/// see `docs/benchmarks.md`). Lexical retrieval separates answerable from unanswerable questions
/// far less well than semantic retrieval.
pub const LEXICAL_CONFIDENCE_THRESHOLD: f32 = 0.42;

/// How likely the knowledge base answers the query, in [0, 1] (higher is surer), from a retrieval.
///
/// With semantic scores: the best plain (not centered) cosine similarity, plus a small bonus when the lexical and semantic
/// rankers agree on the best article. Without: the IDF-weighted share of the query's terms that the
/// best lexical passage contains (`Retrieval::lexical_coverage`), which, unlike a BM25 score, means
/// the same in a small knowledge base and a large one. No passages: 0.
pub fn confidence(retrieval: &Retrieval) -> f32 {
    if retrieval.passages.is_empty() {
        return 0.0;
    }
    match retrieval.top_semantic {
        Some(cos) => {
            let bonus = if retrieval.rankers_agree == Some(true) { AGREEMENT_BONUS } else { 0.0 };
            (cos + bonus).clamp(0.0, 1.0)
        }
        None => retrieval.lexical_coverage.unwrap_or(0.0).clamp(0.0, 1.0),
    }
}

/// Added to the top cosine when BM25 and the embedder pick the same article.
pub const AGREEMENT_BONUS: f32 = 0.05;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn confidence_rules() {
        let mut r = Retrieval::default();
        assert_eq!(confidence(&r), 0.0);
        r.passages.push(frontdesk_core::knowledge::Passage {
            chunk_id: "a#0".into(),
            article_id: frontdesk_core::knowledge::ArticleId(frontdesk_core::ids::Uuid::nil()),
            article_title: String::new(),
            heading: String::new(),
            text: "x".into(),
            url: None,
            locale: "en".into(),
            lexical_score: Some(12.0),
            semantic_score: None,
            score: 12.0,
        });
        r.top_lexical = Some(12.0);
        // Without embeddings: the query-term coverage, whatever the BM25 score.
        assert_eq!(confidence(&r), 0.0, "no coverage known");
        r.lexical_coverage = Some(0.75);
        assert!((confidence(&r) - 0.75).abs() < 1e-6);
        r.top_semantic = Some(0.6);
        r.rankers_agree = Some(false);
        assert!((confidence(&r) - 0.6).abs() < 1e-6);
        r.rankers_agree = Some(true);
        assert!((confidence(&r) - (0.6 + AGREEMENT_BONUS)).abs() < 1e-6);
    }
}
