//! The knowledge base's gap report: visitor questions the assistant declined, grouped when they
//! ask the same thing in other words, biggest group first.

use crate::inbox::UnansweredQuestion;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Words that say nothing about the topic, in the assistant's languages.
const STOPWORDS: &[&str] = &[
    // English
    "the", "and", "for", "you", "your", "are", "can", "how", "what", "when", "where", "which", "who", "why", "does",
    "did", "have", "has", "with", "this", "that", "from", "there", "any", "not", "but", "about", "into", "our", "out",
    "get", "please", "hello", "thanks", "thank", "would", "could", "should", "will", "was", "were", "its", "yes",
    "too", "also", "then", "than", "just", "want", "need", "know", "tell", // Dutch
    "het", "een", "van", "voor", "met", "wat", "hoe", "wanneer", "waar", "welke", "wie", "waarom", "ik", "jullie",
    "mijn", "kan", "kun", "niet", "ook", "dat", "dit", "zijn", "heb", "hebben", "bij", "naar", "graag",
    // German
    "der", "die", "das", "und", "ein", "eine", "ist", "wie", "was", "wann", "wo", "welche", "ich", "ihr", "mein",
    "nicht", "auch", "mit", "für", "bei", "kann", "haben", "bitte", // French
    "les", "des", "une", "est", "comment", "quoi", "quand", "quel", "quelle", "pour", "avec", "pas", "mon", "vous",
    "votre", "sur", "dans", "que", "qui", // Spanish
    "los", "las", "una", "como", "cómo", "qué", "cuándo", "dónde", "para", "con", "por", "mis", "usted", "puedo",
];

/// A light stem: a plural `s`, `-ing` and `-ed` dropped (with a doubled consonant undone), so
/// "refunds"/"refund" and "shipping"/"ship" agree. Crude, but only groups questions.
fn stem(word: String) -> String {
    for suffix in ["ing", "ed"] {
        if let Some(stem) = word.strip_suffix(suffix).filter(|s| s.chars().count() >= 3) {
            let mut chars: Vec<char> = stem.chars().collect();
            let n = chars.len();
            if chars[n - 1] == chars[n - 2] && !"aeiou".contains(chars[n - 1]) {
                chars.pop();
            }
            return chars.into_iter().collect();
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem.to_owned(),
        _ => word,
    }
}

/// The question's topic words: lower-cased, three letters or more, stopwords out, stemmed.
pub fn topic_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .map(stem)
        .collect()
}

/// Two questions ask the same when most of the shorter one's topic words are in the other.
fn similar(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let shared = a.intersection(b).count();
    let (small, large) = if a.len() <= b.len() { (a.len(), b.len()) } else { (b.len(), a.len()) };
    let union = small + large - shared;
    shared * 10 >= small * 7 || shared * 2 >= union
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AskedQuestion {
    pub question: String,
    pub conversation_id: crate::ConversationId,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuestionGroup {
    /// The newest wording: a title for the article that would answer them all.
    pub question: String,
    pub count: u32,
    pub last_asked_at: Timestamp,
    pub site_id: crate::SiteId,
    /// Newest first.
    pub questions: Vec<AskedQuestion>,
}

/// Groups `questions` (any order) by topic; the most asked group first, then the most recent.
pub fn group(questions: &[UnansweredQuestion]) -> Vec<QuestionGroup> {
    let mut sorted: Vec<&UnansweredQuestion> = questions.iter().collect();
    sorted.sort_by_key(|q| std::cmp::Reverse(q.created_at));
    let mut groups: Vec<(BTreeSet<String>, QuestionGroup)> = Vec::new();
    for q in sorted {
        let words = topic_words(&q.question);
        let asked = AskedQuestion {
            question: q.question.clone(),
            conversation_id: q.conversation_id,
            created_at: q.created_at,
        };
        match groups.iter_mut().find(|(w, g)| g.site_id == q.site_id && similar(w, &words)) {
            Some((_, g)) => {
                g.count += 1;
                g.questions.push(asked);
            }
            None => groups.push((
                words,
                QuestionGroup {
                    question: q.question.clone(),
                    count: 1,
                    last_asked_at: q.created_at,
                    site_id: q.site_id,
                    questions: vec![asked],
                },
            )),
        }
    }
    let mut out: Vec<QuestionGroup> = groups.into_iter().map(|(_, g)| g).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_asked_at.cmp(&a.last_asked_at)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;
    use uuid::Uuid;

    fn q(text: &str, at: i64, site: u128) -> UnansweredQuestion {
        UnansweredQuestion {
            id: UnansweredId(Uuid::from_u128(at as u128)),
            org_id: OrgId(Uuid::nil()),
            site_id: SiteId(Uuid::from_u128(site)),
            conversation_id: ConversationId(Uuid::from_u128(at as u128)),
            message_id: MessageId(Uuid::nil()),
            question: text.to_owned(),
            created_at: Timestamp(at),
        }
    }

    #[test]
    fn rewordings_group_and_other_topics_do_not() {
        let questions = [
            q("Do you ship to Norway?", 1, 1),
            q("Can you ship my order to Norway", 2, 1),
            q("shipping to norway possible?", 3, 1),
            q("What are your opening hours?", 4, 1),
            q("Do you ship to Norway?", 5, 2),
        ];
        let groups = group(&questions);
        assert_eq!(groups.len(), 3, "{groups:#?}");
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[0].question, "shipping to norway possible?", "the newest wording names the group");
        assert_eq!(groups[0].questions.len(), 3);
        assert!(groups.iter().any(|g| g.site_id == SiteId(Uuid::from_u128(2)) && g.count == 1), "sites never mix");
    }

    #[test]
    fn topic_words_drop_stopwords_and_plurals() {
        let words = topic_words("How do refunds work for my orders?");
        assert_eq!(words.into_iter().collect::<Vec<_>>(), vec!["order", "refund", "work"]);
        assert!(topic_words("what? how?").is_empty());
    }
}
