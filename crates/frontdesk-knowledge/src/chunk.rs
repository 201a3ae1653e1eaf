//! Splitting an article's Markdown into retrieval-sized chunks along its headings, and the texts of a
//! chunk that are embedded (a plain-text reading of its Markdown, [`embedding_views`]). Pure.
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

/// The texts embedded for one chunk, read as plain text ([`plain_text`], keeping only the first
/// [`EMBEDDED_CODE_LINES`] lines of each fenced code block): the whole chunk (title, heading path and
/// body, as [`indexed_text`] joins them) and, when the plain body is longer than [`LEAD_WORDS`] words,
/// its lead (title, heading path and the first [`LEAD_WORDS`] words).
///
/// A sentence model was trained on text, not markup: backquotes, emphasis markers, link targets and
/// heading marks only shift its vector (BM25 is not changed: it indexes the Markdown, and its
/// tokenizer drops the punctuation).
/// A sentence model truncates the whole chunk at its input limit (256 tokens for all-MiniLM-L6-v2)
/// and averages everything the chunk says into one vector; help-center and FAQ text usually states
/// its point first, and the lead's vector keeps that point sharp. The index scores a chunk with the
/// mean of the whole chunk's cosine and the best of the two (so a lead can lift a chunk, by half its
/// margin, but never sink it). Chosen on the tuning halves of the evaluation (`docs/benchmarks.md`);
/// overlapping windows over the whole chunk were tried and did worse.
pub fn embedding_views(title: &str, heading: &str, text: &str) -> Vec<String> {
    let title = plain_inline(title);
    let heading = plain_inline(heading);
    let body = plain_text_with(text, Some(EMBEDDED_CODE_LINES));
    let mut out = vec![indexed_text(&title, &heading, &body)];
    let words: Vec<&str> = body.split_whitespace().collect();
    if words.len() > LEAD_WORDS {
        out.push(indexed_text(&title, &heading, &words[..LEAD_WORDS].join(" ")));
    }
    out
}

/// Lines of each fenced code block that the embedded texts keep (see [`embedding_views`]): enough
/// to show what the code is about (its first call or import), without letting a long listing fill
/// the model's 256-token window. Keeping whole blocks, dropping them, or keeping 1, 2, 5 or 8 lines
/// measured within noise of this on the evaluation's tuning halves; 3 was the best of them.
pub const EMBEDDED_CODE_LINES: usize = 3;

/// A plain-text reading of Markdown, the way a reader sees the rendered text: heading marks,
/// block-quote marks, bullet markers, emphasis markers and backquotes removed, `[text](url)` and
/// `![alt](url)` → `text` / `alt`, `<url>` → `url`, backslash escapes resolved, table rows without
/// their pipes, rules dropped. Fenced code keeps its content (without the fences). Line structure is
/// kept; runs of blank lines become one.
pub fn plain_text(markdown: &str) -> String {
    plain_text_with(markdown, None)
}

/// [`plain_text`] keeping at most `code_lines` lines of each fenced code block (`None`: all). A text that
/// is nothing but code keeps all of it.
fn plain_text_with(markdown: &str, code_lines: Option<usize>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<&'static str> = None;
    let mut kept = 0;
    for line in markdown.lines() {
        if let Some(open) = fence {
            if fence_marker(line) == Some(open) && line.trim().trim_start_matches(open).is_empty() {
                fence = None;
                continue;
            }
            let keep = code_lines.is_none_or(|n| kept < n);
            if keep && !line.trim().is_empty() {
                out.push(line.trim_end().to_string());
                kept += 1;
            }
            continue;
        }
        if let Some(marker) = fence_marker(line) {
            fence = Some(marker);
            kept = 0;
            continue;
        }
        if let Some((_, text)) = parse_heading(line) {
            out.push(plain_inline(&text));
            continue;
        }
        let mut t = line.trim();
        if is_rule(t) {
            continue;
        }
        while let Some(rest) = t.strip_prefix('>') {
            t = rest.trim_start();
        }
        for bullet in ["- ", "* ", "+ "] {
            if let Some(rest) = t.strip_prefix(bullet) {
                t = rest.trim_start();
                break;
            }
        }
        if t.starts_with('|') {
            let cells: Vec<String> = t.trim_matches('|').split('|').map(|c| plain_inline(c.trim())).collect();
            if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' '))) {
                continue; // the header separator row
            }
            out.push(cells.join("  "));
            continue;
        }
        out.push(plain_inline(t));
    }
    // Collapse runs of blank lines.
    let mut text = String::with_capacity(markdown.len());
    let mut blank = true;
    for line in out {
        if line.trim().is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
            continue;
        }
        text.push_str(&line);
        text.push('\n');
        blank = false;
    }
    let text = text.trim().to_string();
    if text.is_empty() && code_lines.is_some() { plain_text_with(markdown, None) } else { text }
}

/// A thematic break (`---`, `***`, `___`, spaces allowed) or a setext underline (`===`).
fn is_rule(line: &str) -> bool {
    let chars: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    chars.len() >= 3 && matches!(chars[0], '-' | '*' | '_' | '=') && chars.iter().all(|&c| c == chars[0])
}

/// Inline Markdown of one line as plain text (see [`plain_text`]).
pub fn plain_inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                // A code span: its content, literally.
                let run = chars[i..].iter().take_while(|&&ch| ch == '`').count();
                let close = (i + run..chars.len()).find(|&k| {
                    chars[k..].iter().take_while(|&&ch| ch == '`').count() == run && (k == 0 || chars[k - 1] != '`')
                });
                match close {
                    Some(k) => {
                        let content: String = chars[i + run..k].iter().collect();
                        out.push_str(content.trim());
                        i = k + run;
                    }
                    None => {
                        out.extend(&chars[i..i + run]);
                        i += run;
                    }
                }
            }
            '!' if chars.get(i + 1) == Some(&'[') => i += 1,
            '[' => match link_end(&chars, i) {
                Some((label_end, end)) => {
                    let label: String = chars[i + 1..label_end].iter().collect();
                    out.push_str(&plain_inline(&label));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '<' => {
                // An autolink: its address.
                let close = chars[i + 1..].iter().position(|&ch| ch == '>' || ch == ' ').map(|k| i + 1 + k);
                match close {
                    Some(k) if chars[k] == '>' => {
                        let inner: String = chars[i + 1..k].iter().collect();
                        if inner.contains("://") || inner.starts_with("mailto:") || inner.contains('@') {
                            out.push_str(inner.trim_start_matches("mailto:"));
                            i = k + 1;
                        } else {
                            out.push(c);
                            i += 1;
                        }
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '*' | '_' => {
                let run = chars[i..].iter().take_while(|&&ch| ch == c).count();
                let before = if i == 0 { None } else { Some(chars[i - 1]) };
                let after = chars.get(i + run).copied();
                let space = |ch: Option<char>| ch.is_none_or(char::is_whitespace);
                let word = |ch: Option<char>| ch.is_some_and(char::is_alphanumeric);
                let left = !space(after);
                let right = !space(before);
                // `*` is a delimiter whenever it touches text; `_` only at the edge of a word
                // (`snake_case` keeps its underscore).
                let delimiter =
                    if c == '*' { left || right } else { (left && !word(before)) || (right && !word(after)) };
                if !delimiter {
                    out.extend(&chars[i..i + run]);
                }
                i += run;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// For `[label](target)` or `[label][ref]` starting at `start`: (end of the label, end of the link).
fn link_end(chars: &[char], start: usize) -> Option<(usize, usize)> {
    let mut depth = 0;
    let mut k = start;
    let label_end = loop {
        match chars.get(k)? {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    break k;
                }
            }
            _ => {}
        }
        k += 1;
    };
    let (open, close) = match chars.get(label_end + 1)? {
        '(' => ('(', ')'),
        '[' => ('[', ']'),
        _ => return None,
    };
    let mut depth = 0;
    let mut k = label_end + 1;
    loop {
        let ch = *chars.get(k)?;
        if ch == open {
            depth += 1;
        } else if ch == close {
            depth -= 1;
            if depth == 0 {
                return Some((label_end, k + 1));
            }
        }
        k += 1;
    }
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
    fn plain_text_reads_markdown_as_text() {
        let md = "# Install `pip`\n\nUse **bold** and *em* and _em_ but keep snake_case, 2 * 3 and a_b.\n\n\n\n> quoted [the docs](https://x.example/a_(b)) ![logo](l.png) <https://y.example>\n\n- item one\n* item two\n1. first\n\n---\n\n| a | `b` |\n|---|:-:|\n| 1 | 2 |\n\n\\# not a heading, \\*literal\\*, ``a ` b``";
        assert_eq!(
            plain_text(md),
            "Install pip\n\nUse bold and em and em but keep snake_case, 2 * 3 and a_b.\n\nquoted the docs logo https://y.example\n\nitem one\nitem two\n1. first\n\na  b\n1  2\n\n# not a heading, *literal*, a ` b"
        );
        assert_eq!(plain_inline("see [ref][1] and [brackets] and `unclosed"), "see ref and [brackets] and `unclosed");
        assert_eq!(plain_inline("__init__ and **x**y"), "init and xy");
    }

    #[test]
    fn plain_text_and_code_blocks() {
        let md = "Run this:\n\n```python\nimport sys\nprint(sys.path)\n```\n\nDone.";
        assert_eq!(plain_text(md), "Run this:\n\nimport sys\nprint(sys.path)\n\nDone.");
        assert_eq!(plain_text_with(md, Some(0)), "Run this:\n\nDone.");
        assert_eq!(plain_text_with(md, Some(1)), "Run this:\n\nimport sys\n\nDone.");
        // A chunk of code alone keeps its code whatever the policy.
        assert_eq!(plain_text_with("```\nx = 1\n```", Some(0)), "x = 1");
    }

    #[test]
    fn embedding_views_are_plain_text() {
        let views = embedding_views("T", "Use `pip`", "Run **pip** [here](https://x.example).");
        assert_eq!(views, vec!["T\nUse pip\n\nRun pip here.".to_string()]);
        let code: Vec<String> = (0..10).map(|i| format!("line{i}")).collect();
        let views = embedding_views("", "", &format!("Example:\n\n```\n{}\n```", code.join("\n")));
        assert_eq!(views, vec![format!("Example:\n\n{}", code[..EMBEDDED_CODE_LINES].join("\n"))]);
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
