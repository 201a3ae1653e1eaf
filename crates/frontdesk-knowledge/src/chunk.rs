//! Splitting an article's Markdown into retrieval-sized chunks along its headings. Pure.
//!
//! Rules:
//! - a section is the text under one ATX heading (`#` … `######`) down to the next heading of any
//!   level; headings inside fenced code blocks are text. Setext headings are treated as text.
//! - each chunk carries its heading path (`Shipping › Returns`, empty for the lead section); the
//!   article title is not part of the path but is indexed with every chunk.
//! - a section longer than [`MAX_WORDS`] is split at paragraph boundaries (blank lines outside code
//!   fences) into pieces of at most [`MAX_WORDS`] where possible (a single longer paragraph stays whole
//!   up to [`HARD_MAX_WORDS`], then it is cut at word boundaries);
//! - a chunk smaller than [`MIN_WORDS`] is merged with the next section when the result stays within
//!   [`MAX_WORDS`]; the merged sub-heading stays in the text, so it is still searchable.

use frontdesk_core::knowledge::{Article, ArticleId};

/// Chunks below this many words are merged with their neighbour when possible.
pub const MIN_WORDS: usize = 100;
/// The target upper size of a chunk.
pub const MAX_WORDS: usize = 300;
/// A single paragraph longer than this is cut at word boundaries.
pub const HARD_MAX_WORDS: usize = 400;

/// One retrievable piece of an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// `<article id>#<ordinal>`, ordinals from 0.
    pub id: String,
    pub article_id: ArticleId,
    pub ordinal: usize,
    pub title: String,
    /// Heading path inside the article, joined with ` › `; empty for the lead section.
    pub heading: String,
    /// The chunk's Markdown text (without the heading line of its own section).
    pub text: String,
}

impl Chunk {
    /// The text that is indexed and embedded: title, heading path and body.
    pub fn indexed_text(&self) -> String {
        indexed_text(&self.title, &self.heading, &self.text)
    }
}

/// Title, heading path and body joined the way the index and the embedder see a chunk.
pub fn indexed_text(title: &str, heading: &str, text: &str) -> String {
    let mut out = String::with_capacity(title.len() + heading.len() + text.len() + 4);
    for part in [title, heading] {
        if !part.trim().is_empty() {
            out.push_str(part.trim());
            out.push('\n');
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(text.trim());
    out
}

/// Words of a chunk's lead, its second embedded text (see [`embedding_views`]).
pub const LEAD_WORDS: usize = 48;

/// The texts embedded for one chunk: the whole chunk ([`indexed_text`]) and, when the body is longer
/// than [`LEAD_WORDS`] words, its lead (title, heading path and the first [`LEAD_WORDS`] words).
///
/// A sentence model truncates the whole chunk at its input limit (256 tokens for all-MiniLM-L6-v2)
/// and averages everything the chunk says into one vector; help-center and FAQ text usually states
/// its point first, and the lead's vector keeps that point sharp. The index scores a chunk with the
/// mean of the whole chunk's cosine and the best of the two (so a lead can lift a chunk, by half its
/// margin, but never sink it). Chosen on the tuning halves of the evaluation (`docs/benchmarks.md`);
/// overlapping windows over the whole chunk were tried and did worse.
pub fn embedding_views(title: &str, heading: &str, text: &str) -> Vec<String> {
    let mut out = vec![indexed_text(title, heading, text)];
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > LEAD_WORDS {
        out.push(indexed_text(title, heading, &words[..LEAD_WORDS].join(" ")));
    }
    out
}

/// A heading path separator.
pub const HEADING_SEPARATOR: &str = " › ";

struct Section {
    heading: String,
    /// Paragraphs (blocks separated by blank lines outside code fences).
    paragraphs: Vec<String>,
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// An ATX heading: level and text, or `None`.
fn parse_heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    // Closing sequence of #s.
    let mut text = after.trim();
    let stripped = text.trim_end_matches('#');
    if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
        text = stripped.trim_end();
    }
    Some((level, text.to_string()))
}

fn fence_marker(line: &str) -> Option<&'static str> {
    let t = line.trim_start();
    if line.len() - t.len() > 3 {
        return None;
    }
    if t.starts_with("```") {
        Some("```")
    } else if t.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

fn sections(markdown: &str) -> Vec<Section> {
    let mut out = vec![Section { heading: String::new(), paragraphs: Vec::new() }];
    // The current heading path: (level, text).
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut paragraph = String::new();
    let mut fence: Option<&'static str> = None;

    fn flush(paragraph: &mut String, out: &mut [Section]) {
        let text = paragraph.trim_end();
        if !text.trim().is_empty()
            && let Some(section) = out.last_mut()
        {
            section.paragraphs.push(text.to_string());
        }
        paragraph.clear();
    }

    for line in markdown.lines() {
        if let Some(open) = fence {
            paragraph.push_str(line);
            paragraph.push('\n');
            if fence_marker(line) == Some(open) && line.trim().trim_start_matches(open).is_empty() {
                fence = None;
            }
            continue;
        }
        if let Some(marker) = fence_marker(line) {
            fence = Some(marker);
            paragraph.push_str(line);
            paragraph.push('\n');
            continue;
        }
        if let Some((level, text)) = parse_heading(line) {
            flush(&mut paragraph, &mut out);
            while path.last().is_some_and(|(l, _)| *l >= level) {
                path.pop();
            }
            path.push((level, text));
            let heading = path
                .iter()
                .map(|(_, t)| t.as_str())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(HEADING_SEPARATOR);
            out.push(Section { heading, paragraphs: Vec::new() });
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut out);
        } else {
            paragraph.push_str(line);
            paragraph.push('\n');
        }
    }
    flush(&mut paragraph, &mut out);
    out
}

/// Cut one over-long paragraph at word boundaries into pieces of at most `MAX_WORDS` words.
fn cut_words(paragraph: &str) -> Vec<String> {
    let words: Vec<&str> = paragraph.split_whitespace().collect();
    words.chunks(MAX_WORDS).map(|w| w.join(" ")).collect()
}

/// A piece of a section: its heading and text.
struct Piece {
    heading: String,
    text: String,
    words: usize,
}

/// Split the sections into pieces of at most `MAX_WORDS` words (at paragraph boundaries).
fn pieces(sections: Vec<Section>) -> Vec<Piece> {
    let mut out = Vec::new();
    for section in sections {
        let mut current = String::new();
        let mut words = 0;
        let mut emitted = false;
        let mut paragraphs: Vec<(String, usize)> = Vec::new();
        for p in section.paragraphs {
            let n = word_count(&p);
            if n > HARD_MAX_WORDS && !p.trim_start().starts_with("```") && !p.trim_start().starts_with("~~~") {
                for cut in cut_words(&p) {
                    let n = word_count(&cut);
                    paragraphs.push((cut, n));
                }
            } else {
                paragraphs.push((p, n));
            }
        }
        for (p, n) in paragraphs {
            if words > 0 && words + n > MAX_WORDS {
                out.push(Piece { heading: section.heading.clone(), text: std::mem::take(&mut current), words });
                emitted = true;
                words = 0;
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&p);
            words += n;
        }
        if words > 0 || (!emitted && !section.heading.is_empty()) {
            out.push(Piece { heading: section.heading, text: current, words });
        }
    }
    out
}

/// The last component of a heading path.
fn last_heading(path: &str) -> &str {
    path.rsplit(HEADING_SEPARATOR).next().unwrap_or(path)
}

/// Split an article into chunks. Works on any article; publishing rules are the index's concern.
pub fn chunk_article(article: &Article) -> Vec<Chunk> {
    chunk_markdown(article.id, &article.title, &article.body)
}

/// Split Markdown into chunks for the article `article_id` titled `title`.
pub fn chunk_markdown(article_id: ArticleId, title: &str, markdown: &str) -> Vec<Chunk> {
    let pieces = pieces(sections(markdown));
    // Merge small pieces forward (a small piece absorbs the following ones while it stays small
    // enough), keeping the first piece's heading and the later headings as text.
    let mut merged: Vec<Piece> = Vec::new();
    for piece in pieces {
        if let Some(last) = merged.last_mut()
            && (last.words < MIN_WORDS || piece.words == 0)
            && last.words + piece.words + word_count(&piece.heading) <= MAX_WORDS
        {
            if piece.heading != last.heading {
                if !last.text.is_empty() {
                    last.text.push_str("\n\n");
                }
                let level = piece.heading.matches(HEADING_SEPARATOR).count() + 2;
                last.text.push_str(&"#".repeat(level.min(6)));
                last.text.push(' ');
                last.text.push_str(last_heading(&piece.heading));
                if !piece.text.is_empty() {
                    last.text.push_str("\n\n");
                }
            } else if !last.text.is_empty() && !piece.text.is_empty() {
                last.text.push_str("\n\n");
            }
            last.text.push_str(&piece.text);
            last.words += piece.words;
            continue;
        }
        merged.push(piece);
    }
    // A small last piece joins the previous one when it fits.
    if merged.len() >= 2
        && let Some(last) = merged.last()
        && last.words < MIN_WORDS
    {
        let n = merged.len();
        if merged[n - 2].words + last.words <= MAX_WORDS
            && let Some(last) = merged.pop()
            && let Some(prev) = merged.last_mut()
        {
            prev.text.push_str("\n\n");
            if last.heading != prev.heading {
                let level = last.heading.matches(HEADING_SEPARATOR).count() + 2;
                prev.text.push_str(&"#".repeat(level.min(6)));
                prev.text.push(' ');
                prev.text.push_str(last_heading(&last.heading));
                prev.text.push_str("\n\n");
            }
            prev.text.push_str(&last.text);
            prev.words += last.words;
        }
    }
    merged
        .into_iter()
        .filter(|p| !p.text.trim().is_empty() || !p.heading.is_empty())
        .enumerate()
        .map(|(ordinal, p)| Chunk {
            id: format!("{article_id}#{ordinal}"),
            article_id,
            ordinal,
            title: title.to_string(),
            heading: p.heading,
            text: p.text.trim().to_string(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(n: usize, word: &str) -> String {
        vec![word; n].join(" ")
    }

    #[test]
    fn long_chunks_get_a_lead_view() {
        assert_eq!(embedding_views("T", "", "short body"), vec!["T\n\nshort body".to_string()]);
        let body: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let views = embedding_views("Title", "H", &body.join(" "));
        assert_eq!(views.len(), 2);
        assert_eq!(views[0], indexed_text("Title", "H", &body.join(" ")));
        assert_eq!(views[1], indexed_text("Title", "H", &body[..LEAD_WORDS].join(" ")));
    }

    #[test]
    fn splits_along_headings_with_paths() {
        let body = format!(
            "{}\n\n# Shipping\n\n{}\n\n## Returns\n\n{}\n\n```\n# not a heading\n```\n\n# Billing\n\n{}",
            words(120, "intro"),
            words(150, "ship"),
            words(150, "ret"),
            words(120, "bill")
        );
        let id = ArticleId(frontdesk_core::ids::Uuid::nil());
        let chunks = chunk_markdown(id, "Help", &body);
        let headings: Vec<&str> = chunks.iter().map(|c| c.heading.as_str()).collect();
        assert_eq!(headings, ["", "Shipping", "Shipping › Returns", "Billing"]);
        assert!(chunks[2].text.contains("# not a heading"));
        assert_eq!(chunks[1].id, format!("{id}#1"));
        assert!(chunks.iter().all(|c| c.title == "Help"));
        assert!(chunks[0].indexed_text().starts_with("Help\n\n"));
        assert!(chunks[1].indexed_text().starts_with("Help\nShipping\n\n"));
    }

    #[test]
    fn long_sections_split_at_paragraphs_and_small_ones_merge() {
        let para = words(120, "alpha");
        let body = format!("# Big\n\n{para}\n\n{para}\n\n{para}\n\n# Tiny\n\nshort\n\n# Tiny two\n\nalso short");
        let chunks = chunk_markdown(ArticleId(frontdesk_core::ids::Uuid::nil()), "T", &body);
        assert!(chunks.iter().all(|c| word_count(&c.text) <= MAX_WORDS), "{chunks:#?}");
        // 360 words of "Big" split in two; the tiny sections merge into the last piece.
        let big: Vec<_> = chunks.iter().filter(|c| c.heading == "Big").collect();
        assert_eq!(big.len(), 2);
        assert!(chunks.iter().any(|c| c.text.contains("# Tiny two") && c.text.contains("also short")));
        assert!(chunks.iter().any(|c| c.text.contains("short")));
    }

    #[test]
    fn one_huge_paragraph_is_cut() {
        let body = words(1000, "x");
        let chunks = chunk_markdown(ArticleId(frontdesk_core::ids::Uuid::nil()), "T", &body);
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| word_count(&c.text) <= MAX_WORDS));
    }

    #[test]
    fn empty_and_heading_only() {
        assert!(chunk_markdown(ArticleId(frontdesk_core::ids::Uuid::nil()), "T", "").is_empty());
        let chunks = chunk_markdown(ArticleId(frontdesk_core::ids::Uuid::nil()), "T", "# Only a heading");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading, "Only a heading");
        assert_eq!(parse_heading("## Closed ##"), Some((2, "Closed".into())));
        assert_eq!(parse_heading("#hashtag"), None);
        assert_eq!(parse_heading("    # code"), None);
    }
}
