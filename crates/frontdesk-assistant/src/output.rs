//! Validation and output: the raw answer becomes a reply with citations and sanitized HTML — or
//! the "cannot answer" path when it holds the sentinel, cites a passage that was not given, cites
//! nothing, or is empty.

use crate::neutralize::{citation_regex, sentinel_regex};
use crate::prompt::{PromptPassage, prompt_passages};
use frontdesk_core::knowledge::Retrieval;
use frontdesk_core::markdown;
use frontdesk_core::model::Citation;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Why a raw answer is not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CannotAnswer {
    /// Nothing (or only markers) was written.
    Empty,
    /// The model said the passages do not contain the answer.
    Sentinel,
    /// The answer cites a passage id the prompt did not contain (`P9`).
    UnknownCitation { id: String },
    /// The answer cites no passage, so nothing shows it is grounded.
    Uncited,
}

/// A validated reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Answer {
        /// Markdown, citation markers removed.
        body: String,
        /// `body` rendered and sanitized ([`frontdesk_core::markdown::render`]).
        html: String,
        /// The cited articles, in the order first cited, each once.
        citations: Vec<Citation>,
    },
    CannotAnswer(CannotAnswer),
}

/// Validates a provider's raw answer against the passages the prompt showed (the first
/// [`crate::prompt::MAX_PROMPT_PASSAGES`] of `retrieval`, ids `P1`, `P2`, …).
pub fn finalize(raw: &str, retrieval: &Retrieval) -> Reply {
    let passages = prompt_passages(retrieval);
    let raw = raw.trim();
    if raw.is_empty() {
        return Reply::CannotAnswer(CannotAnswer::Empty);
    }
    if sentinel_regex().is_match(raw) {
        return Reply::CannotAnswer(CannotAnswer::Sentinel);
    }
    // Every marker must point at a passage that was given.
    let mut cited: Vec<&PromptPassage> = Vec::new();
    for caps in citation_regex().captures_iter(raw) {
        let list = caps.get(1).map_or("", |m| m.as_str());
        for part in list.split([',', ';', '/', '&']) {
            let digits: String = part.chars().filter(char::is_ascii_digit).collect();
            let found = digits.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| passages.get(i));
            match found {
                Some(p) => {
                    if !cited.iter().any(|c| c.id == p.id) {
                        cited.push(p);
                    }
                }
                None => return Reply::CannotAnswer(CannotAnswer::UnknownCitation { id: format!("P{digits}") }),
            }
        }
    }
    if cited.is_empty() {
        return Reply::CannotAnswer(CannotAnswer::Uncited);
    }
    let body = strip_unknown_links(&strip_markers(raw), &passages);
    let body = body.trim().to_owned();
    if body.chars().all(|c| c.is_whitespace() || c.is_ascii_punctuation()) {
        return Reply::CannotAnswer(CannotAnswer::Empty);
    }
    let mut citations: Vec<Citation> = Vec::new();
    for p in cited {
        let article_id = p.passage.article_id.to_string();
        if !citations.iter().any(|c| c.article_id == article_id) {
            citations.push(Citation { article_id, title: p.passage.article_title.clone(), url: p.passage.url.clone() });
        }
    }
    let html = markdown::render(&body);
    Reply::Answer { body, html, citations }
}

/// Removes the citation markers and the spaces before them; trims the ends of lines.
fn strip_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in citation_regex().find_iter(text) {
        out.push_str(&text[last..m.start()]);
        while out.ends_with([' ', '\t']) {
            out.pop();
        }
        last = m.end();
    }
    out.push_str(&text[last..]);
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    // A line that started with a marker keeps no stray leading space.
    lines
        .iter()
        .map(|l| l.strip_prefix(' ').filter(|r| !r.starts_with(' ')).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn link_patterns() -> &'static (Regex, Regex) {
    static LINKS: OnceLock<(Regex, Regex)> = OnceLock::new();
    LINKS.get_or_init(|| {
        (
            Regex::new(r#"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"\n]*")?\s*\)"#).expect("built-in pattern"),
            Regex::new(r#"(?i)\b(?:https?://|www\.)[^\s<>()\[\]"'`]+"#).expect("built-in pattern"),
        )
    })
}

/// Links are kept only to URLs the passages contain (the answer must not send visitors anywhere
/// the knowledge base does not): a Markdown link to another URL keeps its text, a bare URL is
/// removed.
fn strip_unknown_links(text: &str, passages: &[PromptPassage]) -> String {
    let known = |url: &str| {
        let url = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        !url.is_empty()
            && passages.iter().any(|p| p.passage.url.as_deref() == Some(url) || p.passage.text.contains(url))
    };
    let (markdown_link, bare) = link_patterns();
    let links =
        markdown_link.replace_all(
            text,
            |c: &regex::Captures<'_>| {
                if &c[1] == "!" || !known(&c[3]) { c[2].to_owned() } else { c[0].to_owned() }
            },
        );
    let mut out = String::with_capacity(links.len());
    let mut last = 0;
    for m in bare.find_iter(&links) {
        // URLs inside a kept Markdown link `](…)` were checked above.
        let inside_link = links[..m.start()].ends_with("](") || links[..m.start()].ends_with("](<");
        out.push_str(&links[last..m.start()]);
        // Sentence punctuation after a URL is not part of it.
        let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if inside_link || known(url) {
            out.push_str(url);
        } else {
            out.push_str("(link removed)");
        }
        last = m.start() + url.len();
    }
    out.push_str(&links[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::passage;

    fn retrieval() -> Retrieval {
        let mut a = passage("Shipping", "Orders ship in 2 days. Track at https://acme.example/track.");
        a.url = Some("https://acme.example/help/shipping".to_owned());
        let b = passage("Returns", "Returns are free.");
        let mut c = passage("Shipping", "Express costs 5 EUR.");
        c.article_id = a.article_id;
        Retrieval { passages: vec![a, b, c], ..Retrieval::default() }
    }

    #[test]
    fn markers_become_deduplicated_citations() {
        let Reply::Answer { body, html, citations } = finalize(
            "Orders ship in 2 days [P1]. Express costs 5 EUR [P3][P1].\n\nReturns are free. [P2]",
            &retrieval(),
        ) else {
            panic!("expected an answer")
        };
        assert_eq!(body, "Orders ship in 2 days. Express costs 5 EUR.\n\nReturns are free.");
        assert!(html.starts_with("<p>Orders ship"), "{html}");
        let titles: Vec<&str> = citations.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["Shipping", "Returns"]);
        assert_eq!(citations[0].url.as_deref(), Some("https://acme.example/help/shipping"));
        assert_eq!(citations[1].url, None);
    }

    #[test]
    fn list_markers_and_lowercase_ids_are_understood() {
        let Reply::Answer { citations, body, .. } = finalize("Free returns [p2, P3].", &retrieval()) else {
            panic!("expected an answer")
        };
        assert_eq!(body, "Free returns.");
        assert_eq!(citations.len(), 2);
    }

    #[test]
    fn the_cannot_answer_cases() {
        let r = retrieval();
        assert_eq!(finalize("  ", &r), Reply::CannotAnswer(CannotAnswer::Empty));
        assert_eq!(finalize("[P1]", &r), Reply::CannotAnswer(CannotAnswer::Empty));
        assert_eq!(finalize("NO_ANSWER_IN_KB", &r), Reply::CannotAnswer(CannotAnswer::Sentinel));
        assert_eq!(finalize("Sorry. no_answer_in_kb [P1]", &r), Reply::CannotAnswer(CannotAnswer::Sentinel));
        assert_eq!(
            finalize("Ships in 2 days [P1][P9].", &r),
            Reply::CannotAnswer(CannotAnswer::UnknownCitation { id: "P9".to_owned() })
        );
        assert_eq!(
            finalize("Ships [P0].", &r),
            Reply::CannotAnswer(CannotAnswer::UnknownCitation { id: "P0".to_owned() })
        );
        assert_eq!(finalize("Ships in 2 days.", &r), Reply::CannotAnswer(CannotAnswer::Uncited));
        assert_eq!(
            finalize("Ships in 2 days [P1].", &Retrieval::default()),
            Reply::CannotAnswer(CannotAnswer::UnknownCitation { id: "P1".to_owned() })
        );
    }

    #[test]
    fn html_is_sanitized() {
        let Reply::Answer { html, .. } = finalize("Hi <script>alert(1)</script> [P1]", &retrieval()) else {
            panic!("expected an answer")
        };
        assert!(!html.to_lowercase().contains("<script"), "{html}");
    }

    #[test]
    fn links_only_to_urls_the_passages_contain() {
        let Reply::Answer { body, .. } = finalize(
            "Track [here](https://acme.example/track) or [there](https://evil.example/x) [P1]. \
             See https://acme.example/help/shipping and https://evil.example/y, ![img](https://acme.example/track).",
            &retrieval(),
        ) else {
            panic!("expected an answer")
        };
        assert!(body.contains("[here](https://acme.example/track)"), "{body}");
        assert!(body.contains("or there."), "{body}");
        assert!(body.contains("See https://acme.example/help/shipping and (link removed),"), "{body}");
        assert!(!body.contains("evil"), "{body}");
        assert!(!body.contains("![img]"), "{body}");
    }
}
