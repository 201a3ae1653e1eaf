//! The confidence policy: below the threshold the assistant does not guess.

use frontdesk_core::knowledge::Retrieval;
use serde::{Deserialize, Serialize};

/// Whether the knowledge base may answer this question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Confident enough: generate an answer from the passages.
    Answer,
    /// Not confident, or nothing was retrieved: the honest "cannot answer".
    Decline,
}

/// `confidence` is the caller's calibrated score for this retrieval (the knowledge crate computes
/// it); `threshold` the calibrated cut. No passages, a non-finite score or threshold, or a score
/// below the threshold all decline.
pub fn decide(confidence: f32, threshold: f32, retrieval: &Retrieval) -> Decision {
    let usable = retrieval.passages.iter().any(|p| !p.text.trim().is_empty());
    if usable && confidence.is_finite() && threshold.is_finite() && confidence >= threshold {
        Decision::Answer
    } else {
        Decision::Decline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_core::knowledge::Passage;
    use frontdesk_core::knowledge::{ArticleId, Retrieval};

    fn retrieval(texts: &[&str]) -> Retrieval {
        Retrieval {
            passages: texts
                .iter()
                .map(|t| Passage {
                    chunk_id: "a#0".to_owned(),
                    article_id: ArticleId(frontdesk_core::ids::Uuid::nil()),
                    article_title: "T".to_owned(),
                    heading: String::new(),
                    text: (*t).to_owned(),
                    url: None,
                    locale: "en".to_owned(),
                    lexical_score: Some(3.0),
                    semantic_score: Some(0.8),
                    score: 0.5,
                })
                .collect(),
            ..Retrieval::default()
        }
    }

    #[test]
    fn answers_only_at_or_above_the_threshold() {
        let r = retrieval(&["Shipping is free."]);
        assert_eq!(decide(0.8, 0.5, &r), Decision::Answer);
        assert_eq!(decide(0.5, 0.5, &r), Decision::Answer);
        assert_eq!(decide(0.49, 0.5, &r), Decision::Decline);
    }

    #[test]
    fn never_guesses_without_passages_or_with_bad_numbers() {
        assert_eq!(decide(0.99, 0.1, &Retrieval::default()), Decision::Decline);
        assert_eq!(decide(0.99, 0.1, &retrieval(&["   "])), Decision::Decline);
        let r = retrieval(&["Shipping is free."]);
        assert_eq!(decide(f32::NAN, 0.5, &r), Decision::Decline);
        assert_eq!(decide(0.9, f32::NAN, &r), Decision::Decline);
        assert_eq!(decide(f32::INFINITY, 0.5, &r), Decision::Decline);
    }
}
