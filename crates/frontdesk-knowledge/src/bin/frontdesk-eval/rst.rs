//! reStructuredText (as Sphinx writes it in the Python documentation) to Markdown, for importing the
//! Python FAQ and documentation into a knowledge base that stores Markdown — what a business importing
//! RST docs would do. Small and deliberate, not a full RST implementation:
//!
//! - **Sections**: an underlined (or over- and underlined) title becomes an ATX heading; the level is
//!   the order in which the adornment styles first appear in the document.
//! - **Inline**: ``` ``literal`` ``` → `` `literal` ``; a role shows what Sphinx renders: code-like
//!   roles (`:func:`, `:meth:`, `:class:`, `:mod:`, `:exc:`, `:c:func:`, `:file:`, … and any unknown
//!   role) become inline code — `~a.b.c` shows `c`, `!x` shows `x`, `:func:`/`:meth:` gain `()` — and
//!   `text <target>` shows `text`; text roles become text: `:ref:` shows its title (an explicit one,
//!   or the title of the section the label stands before, from `labels`), `:term:`/`:doc:` their text,
//!   `:pep:`/`:rfc:` `PEP 8`/`RFC 2822`, `:abbr:` the abbreviation, `:dfn:`/`:emphasis:` emphasis,
//!   `:strong:` strong, `:issue:`/`:gh:` `bpo-N`/`gh-N`; `` `text <url>`_ `` → `[text](url)`; a named
//!   reference `` `text`_ `` → `text`; footnote references (`[#]_`, `[1]_`) are dropped; `\ ` (an
//!   escaped space) disappears. `*emphasis*` and `**strong**` are the same in both languages.
//! - **Literal blocks**: `paragraph::` followed by an indented block → `paragraph:` and a fenced code
//!   block (a lone `::` disappears); a doctest block (`>>> …`) → fenced code.
//! - **Directives**: code (`code-block`, `code`, `sourcecode`, `doctest`, `testcode`, `testoutput`,
//!   `productionlist`, `parsed-literal`) → fenced code; admonitions (`note`, `warning`, `seealso`,
//!   `tip`, `important`, `caution`, `impl-detail`, `versionadded`, `versionchanged`, `deprecated`,
//!   `availability`, …) → their content as text, the first paragraph led by the label Sphinx shows
//!   (`**Note:**`, `**See also:**`, `**Changed in version 3.2:**`); object descriptions (`function`,
//!   `method`, `class`, `c:function`, …) → the signature as inline code, then the content; `rubric` →
//!   a strong line; `only` and unknown directives → their content; directives that render nothing
//!   readable (`index`, `contents`, `toctree`, `highlight`, `testsetup`, `module`, `sectionauthor`,
//!   `audit-event`, `include`, `image`, …), comments, hyperlink targets (`.. _label:`) and
//!   substitution definitions are dropped.
//! - **Indentation**: block quotes, definition bodies and list continuations are un-indented (in
//!   Markdown, four spaces would make code); `#.` list items become `1.`; a text line that would read
//!   as a Markdown heading is escaped (`\#`).

use std::collections::HashMap;

/// A section adornment line: three or more of one punctuation character.
pub fn is_adornment(line: &str) -> Option<char> {
    let t = line.trim_end();
    let first = t.chars().next()?;
    if t.len() >= 3 && "=-~^\"*+#'`:._".contains(first) && t.chars().all(|c| c == first) { Some(first) } else { None }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A heading starting at `lines[i]`: (lines it spans, style, title).
fn heading_at(lines: &[&str], i: usize) -> Option<(usize, (char, bool), String)> {
    let line = lines[i];
    if let Some(c) = is_adornment(line)
        && let (Some(title), Some(under)) = (lines.get(i + 1), lines.get(i + 2))
        && !blank(title)
        && is_adornment(title).is_none()
        && is_adornment(under) == Some(c)
    {
        return Some((3, (c, true), title.trim().to_string()));
    }
    if indent_of(line) == 0
        && !blank(line)
        && is_adornment(line).is_none()
        && let Some(under) = lines.get(i + 1)
        && let Some(c) = is_adornment(under)
        && under.trim_end().chars().count() >= line.trim_end().chars().count()
    {
        return Some((2, (c, false), line.trim().to_string()));
    }
    None
}

/// Every `.. _label:` that stands before a section title, mapped to that title (labels lower-cased,
/// as Sphinx compares them), so `:ref:`label`` can show what Sphinx shows.
pub fn section_labels(rst: &str, labels: &mut HashMap<String, String>) {
    let lines: Vec<&str> = rst.lines().collect();
    let mut pending: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if blank(t) {
            i += 1;
            continue;
        }
        if let Some(label) = t.strip_prefix(".. _").and_then(|r| r.strip_suffix(':')) {
            pending.push(label.to_lowercase());
            i += 1;
            continue;
        }
        if !pending.is_empty()
            && let Some((_, _, title)) = heading_at(&lines, i)
        {
            for label in pending.drain(..) {
                labels.entry(label).or_insert_with(|| title.clone());
            }
        }
        pending.clear();
        i += 1;
    }
}

enum Block {
    Heading((char, bool), String),
    Paragraph(String),
    Code(String, Vec<String>),
}

/// Convert a reStructuredText document (or a piece of one) to Markdown. `labels` resolves `:ref:`s
/// without a title (see [`section_labels`]); an unknown label shows as its words.
pub fn to_markdown(rst: &str, labels: &HashMap<String, String>) -> String {
    let lines: Vec<&str> = rst.lines().collect();
    let mut blocks = Vec::new();
    convert(&lines, &mut blocks);
    let mut styles: Vec<(char, bool)> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for block in blocks {
        match block {
            Block::Heading(style, title) => {
                if !styles.contains(&style) {
                    styles.push(style);
                }
                let level = styles.iter().position(|s| *s == style).unwrap_or(0) + 1;
                out.push(format!("{} {}", "#".repeat(level.min(6)), inline(&title, labels)));
            }
            Block::Paragraph(text) => {
                let text = inline(&text, labels);
                let lines: Vec<String> = text
                    .lines()
                    .map(|l| {
                        let l = l.trim();
                        if let Some(rest) = l.strip_prefix("#. ") {
                            format!("1. {rest}")
                        } else if l.starts_with('#') {
                            format!("\\{l}")
                        } else {
                            l.to_string()
                        }
                    })
                    .filter(|l| !l.is_empty())
                    .collect();
                if !lines.is_empty() {
                    out.push(lines.join("\n"));
                }
            }
            Block::Code(lang, code) => {
                let fence = if code.iter().any(|l| l.contains("```")) { "~~~~" } else { "```" };
                out.push(format!("{fence}{lang}\n{}\n{fence}", code.join("\n")));
            }
        }
    }
    out.join("\n\n")
}

/// Lines with their common indentation removed; leading and trailing blank lines dropped.
fn dedent(lines: &[&str]) -> Vec<String> {
    let start = lines.iter().position(|l| !blank(l)).unwrap_or(lines.len());
    let end = lines.iter().rposition(|l| !blank(l)).map(|e| e + 1).unwrap_or(start);
    let lines = &lines[start..end.max(start)];
    let min = lines.iter().filter(|l| !blank(l)).map(|l| indent_of(l)).min().unwrap_or(0);
    lines.iter().map(|l| if blank(l) { String::new() } else { l[min..].trim_end().to_string() }).collect()
}

/// The end (exclusive) of the block indented more than `indent` that starts at `from`, blank lines
/// inside it included, trailing blank lines excluded.
fn indented_end(lines: &[&str], from: usize, indent: usize) -> usize {
    let mut j = from;
    let mut end = from;
    while j < lines.len() && (blank(lines[j]) || indent_of(lines[j]) > indent) {
        if !blank(lines[j]) {
            end = j + 1;
        }
        j += 1;
    }
    end
}

const DROPPED: &[&str] = &[
    "index",
    "contents",
    "toctree",
    "highlight",
    "highlightlang",
    "tabularcolumns",
    "sectionauthor",
    "moduleauthor",
    "codeauthor",
    "currentmodule",
    "module",
    "testsetup",
    "testcleanup",
    "include",
    "literalinclude",
    "raw",
    "image",
    "figure",
    "audit-event",
    "program",
    "default-role",
    "role",
    "meta",
    "sidebar",
    "toctree",
    "miscnews",
    "limited-api-list",
    "c:namespace",
    "c:namespace-push",
    "c:namespace-pop",
];

const CODE: &[&str] =
    &["code-block", "code", "sourcecode", "doctest", "testcode", "testoutput", "productionlist", "parsed-literal"];

const DESCRIPTIONS: &[&str] = &[
    "function",
    "method",
    "class",
    "attribute",
    "data",
    "exception",
    "decorator",
    "decoratormethod",
    "classmethod",
    "staticmethod",
    "abstractmethod",
    "coroutinefunction",
    "coroutinemethod",
    "cmdoption",
    "option",
    "envvar",
    "opcode",
    "pdbcommand",
    "describe",
    "object",
    "property",
    "monitoring-event",
];

/// The label an admonition shows, or `None` when the directive is no admonition.
fn admonition_label(name: &str, args: &str) -> Option<String> {
    let label = match name {
        "note" => "Note".to_string(),
        "warning" => "Warning".to_string(),
        "seealso" => "See also".to_string(),
        "tip" => "Tip".to_string(),
        "hint" => "Hint".to_string(),
        "important" => "Important".to_string(),
        "caution" => "Caution".to_string(),
        "attention" => "Attention".to_string(),
        "danger" => "Danger".to_string(),
        "error" => "Error".to_string(),
        "impl-detail" => "CPython implementation detail".to_string(),
        "versionadded" => format!("New in version {args}"),
        "versionchanged" => format!("Changed in version {args}"),
        "deprecated" => format!("Deprecated since version {args}"),
        "deprecated-removed" => {
            let mut v = args.split_whitespace();
            let (a, b) = (v.next().unwrap_or(""), v.next().unwrap_or(""));
            format!("Deprecated since version {a}, will be removed in version {b}")
        }
        "availability" => "Availability".to_string(),
        "admonition" => args.to_string(),
        _ => return None,
    };
    Some(label)
}

/// Where the text of a line starts: after its indentation and a list marker (`* `, `- `, `#. `,
/// `1. `, `1) `, `(a) `), the column a literal block in a list item is indented from.
fn text_column(line: &str) -> usize {
    let indent = indent_of(line);
    let t = &line[indent..];
    let marker = t.split_once(' ').map(|(m, _)| m).unwrap_or("");
    let enumerator = |m: &str| !m.is_empty() && (m == "#" || m.chars().all(|c| c.is_ascii_alphanumeric()));
    let is_marker = matches!(marker, "*" | "-" | "+" | "•")
        || marker.strip_suffix('.').is_some_and(|m| enumerator(m) && m.len() <= 3)
        || marker
            .strip_suffix(')')
            .map(|m| m.strip_prefix('(').unwrap_or(m))
            .is_some_and(|m| enumerator(m) && m.len() <= 3);
    if is_marker {
        indent + marker.len() + (t.len() - marker.len() - t[marker.len()..].trim_start().len())
    } else {
        indent
    }
}

fn convert(lines: &[&str], out: &mut Vec<Block>) {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if blank(line) {
            i += 1;
            continue;
        }
        if let Some((n, style, title)) = heading_at(lines, i) {
            out.push(Block::Heading(style, title));
            i += n;
            continue;
        }
        let indent = indent_of(line);
        let t = line.trim();
        if t == ".." || t.starts_with(".. ") {
            let end = indented_end(lines, i + 1, indent);
            directive(t, &lines[i + 1..end], out);
            i = end;
            continue;
        }
        if t.starts_with(">>>") {
            let mut j = i;
            while j < lines.len() && !blank(lines[j]) {
                j += 1;
            }
            out.push(Block::Code("pycon".into(), dedent(&lines[i..j])));
            i = j;
            continue;
        }
        // A paragraph: up to a blank line (or an explicit markup line).
        let mut j = i;
        while j < lines.len() && !blank(lines[j]) && (j == i || !lines[j].trim().starts_with(".. ")) {
            j += 1;
        }
        let mut para: Vec<String> = lines[i..j].iter().map(|l| l.trim().to_string()).collect();
        let last_indent = if j - 1 == i { text_column(lines[i]) } else { indent_of(lines[j - 1]) };
        let literal = para.last().is_some_and(|l| l.ends_with("::"));
        if literal && let Some(last) = para.last_mut() {
            if last == "::" {
                para.pop();
            } else if let Some(s) = last.strip_suffix(" ::") {
                *last = s.trim_end().to_string();
            } else if let Some(s) = last.strip_suffix("::") {
                *last = format!("{s}:");
            }
        }
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join("\n")));
        }
        i = j;
        if literal {
            let end = indented_end(lines, i, last_indent);
            let code = dedent(&lines[i..end]);
            if !code.is_empty() {
                out.push(Block::Code(String::new(), code));
            }
            i = end.max(i);
        }
    }
}

/// A directive option line: `:name:` then a space or nothing (a role would go on with a backquote).
fn is_option_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix(':') else { return false };
    match rest.find(':') {
        Some(k) if k > 0 => rest[k + 1..].is_empty() || rest[k + 1..].starts_with(' '),
        _ => false,
    }
}

fn directive(first: &str, body: &[&str], out: &mut Vec<Block>) {
    let rest = first.trim_start_matches("..").trim();
    // Comments, hyperlink targets, substitution definitions and footnotes' labels.
    if rest.starts_with('_') || rest.starts_with('|') {
        return;
    }
    if rest.starts_with('[') {
        // A footnote or citation: its text is text.
        let text = rest.split_once(']').map(|(_, t)| t.trim()).unwrap_or("");
        let mut lines: Vec<&str> = vec![text];
        lines.extend_from_slice(body);
        convert(&dedent(&lines).iter().map(String::as_str).collect::<Vec<_>>(), out);
        return;
    }
    let Some((name, args)) = rest.split_once("::") else {
        return; // a comment
    };
    let name = name.trim();
    let args = args.trim();
    // The body: option lines (`:name: value`) and argument continuation lines come first, up to the
    // first blank line; then the content.
    let k = body.iter().position(|l| blank(l)).unwrap_or(body.len());
    let head = dedent(&body[..k]);
    let options_only = head.iter().all(|l| is_option_line(l));
    let content_lines = dedent(if options_only { &body[k..] } else { body });
    let content: Vec<&str> = content_lines.iter().map(String::as_str).collect();
    let short = name.rsplit(':').next().unwrap_or(name);
    if DROPPED.contains(&name) {
        return;
    }
    if CODE.contains(&name) {
        let lang = match name {
            "code-block" | "code" | "sourcecode" => args.split_whitespace().next().unwrap_or(""),
            "doctest" => "pycon",
            "testcode" => "python",
            _ => "",
        };
        let code = dedent(&content);
        if !code.is_empty() {
            out.push(Block::Code(lang.to_string(), code));
        }
        return;
    }
    if let Some(label) = admonition_label(name, args) {
        // The argument of a note or a "see also" is the start of its text; a version's is the version.
        let text_args = match name {
            "versionadded" | "versionchanged" | "deprecated" | "deprecated-removed" | "admonition" => "",
            _ => args,
        };
        let mut lines: Vec<&str> = Vec::new();
        if !text_args.is_empty() {
            lines.push(text_args);
            lines.push("");
        }
        lines.extend(content.iter());
        let mut inner = Vec::new();
        convert(&lines, &mut inner);
        match inner.first_mut() {
            Some(Block::Paragraph(p)) => *p = format!("**{label}:** {p}"),
            _ => inner.insert(0, Block::Paragraph(format!("**{label}.**"))),
        }
        out.extend(inner);
        return;
    }
    if DESCRIPTIONS.contains(&short) || name.contains(':') {
        let mut signatures = vec![args.to_string()];
        if !options_only {
            signatures.extend(head.iter().filter(|l| !is_option_line(l)).map(|l| l.trim().to_string()));
        }
        let sig: Vec<String> =
            signatures.iter().filter(|s| !s.is_empty()).map(|s| format!("``{}``", s.replace('`', "'"))).collect();
        if !sig.is_empty() {
            out.push(Block::Paragraph(sig.join("\n")));
        }
        let rest = dedent(&body[k..]);
        convert(&rest.iter().map(String::as_str).collect::<Vec<_>>(), out);
        return;
    }
    if name == "rubric" {
        out.push(Block::Paragraph(format!("**{args}**")));
        return;
    }
    // `only`, `glossary`, `list-table`, `centered`, unknown directives: their content.
    if name == "centered" && !args.is_empty() {
        out.push(Block::Paragraph(args.to_string()));
    }
    convert(&content, out);
}

/// The words of a label (`faq-argument-vs-parameter` → `faq argument vs parameter`).
fn label_words(label: &str) -> String {
    label.replace(['-', '_'], " ")
}

fn code_span(text: &str) -> String {
    let text = text.replace('\n', " ");
    if text.contains('`') { format!("`` {text} ``") } else { format!("`{text}`") }
}

/// Split `title <target>` into (title, target).
fn explicit_title(content: &str) -> Option<(&str, &str)> {
    let c = content.trim();
    if !c.ends_with('>') {
        return None;
    }
    let open = c.rfind('<')?;
    let title = c[..open].trim_end();
    if title.is_empty() || !c[..open].ends_with(char::is_whitespace) {
        return None;
    }
    Some((title, &c[open + 1..c.len() - 1]))
}

fn role(name: &str, content: &str, labels: &HashMap<String, String>) -> String {
    let name = name.strip_prefix("py:").unwrap_or(name);
    let content = content.replace('\n', " ");
    let titled = explicit_title(&content);
    match name {
        "ref" | "doc" | "term" | "keyword" if titled.is_some() && name != "keyword" => {
            titled.map(|(t, _)| t.to_string()).unwrap_or_default()
        }
        "ref" => labels.get(&content.trim().to_lowercase()).cloned().unwrap_or_else(|| label_words(&content)),
        "doc" => content.rsplit('/').next().unwrap_or(&content).to_string(),
        "term" | "newsgroup" | "sub" | "sup" | "guilabel" => content,
        "menuselection" => content.replace("-->", "→"),
        "pep" | "rfc" => match titled {
            Some((t, _)) => t.to_string(),
            None => format!("{} {}", name.to_uppercase(), content.split('#').next().unwrap_or("").trim()),
        },
        "issue" => format!("bpo-{content}"),
        "gh" => format!("gh-{content}"),
        "abbr" => content.split(" (").next().unwrap_or(&content).to_string(),
        "dfn" | "emphasis" | "title-reference" => format!("*{content}*"),
        "strong" => format!("**{content}**"),
        _ => {
            // Code-like roles.
            if let Some((t, _)) = titled {
                return code_span(t);
            }
            let mut c = content.trim().trim_start_matches('!');
            let short = c.starts_with('~');
            c = c.trim_start_matches('~').trim_start_matches('.');
            let mut shown = if short { c.rsplit('.').next().unwrap_or(c).to_string() } else { c.to_string() };
            if name == "samp" {
                shown = shown.replace(['{', '}'], "");
            }
            if matches!(name, "func" | "meth" | "c:func") && !shown.ends_with(')') {
                shown.push_str("()");
            }
            code_span(&shown)
        }
    }
}

/// Inline markup of a paragraph (which may span lines) to Markdown.
fn inline(text: &str, labels: &HashMap<String, String>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let find = |from: usize, pat: &str| -> Option<usize> {
        let p: Vec<char> = pat.chars().collect();
        (from..chars.len().saturating_sub(p.len() - 1)).find(|&k| chars[k..k + p.len()] == p[..])
    };
    let boundary_before = |k: usize| k == 0 || !chars[k - 1].is_alphanumeric();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if next == ' ' || next == '\n' {
                // An escaped space separates markup from a word and is not shown.
            } else if "*_`[]#<>\\".contains(next) {
                out.push('\\');
                out.push(next);
            } else {
                out.push(next);
            }
            i += 2;
            continue;
        }
        if c == '`'
            && chars.get(i + 1) == Some(&'`')
            && boundary_before(i)
            && let Some(end) = find(i + 2, "``")
        {
            let literal: String = chars[i + 2..end].iter().collect();
            out.push_str(&code_span(&literal));
            i = end + 2;
            continue;
        }
        if c == ':' && boundary_before(i) {
            // A role: `:name:` immediately followed by a backquote.
            let mut k = i + 1;
            while k < chars.len() && (chars[k].is_ascii_alphanumeric() || "-_:+.".contains(chars[k])) {
                k += 1;
            }
            if k > i + 2 && chars[k - 1] == ':' && chars.get(k) == Some(&'`') {
                let name: String = chars[i + 1..k - 1].iter().collect();
                if let Some(end) = find(k + 1, "`") {
                    let content: String = chars[k + 1..end].iter().collect();
                    out.push_str(&role(&name, &content, labels));
                    i = end + 1;
                    continue;
                }
            }
        }
        if c == '`'
            && boundary_before(i)
            && let Some(end) = find(i + 1, "`")
        {
            let content: String = chars[i + 1..end].iter().collect();
            let content = content.replace('\n', " ");
            let mut after = end + 1;
            let reference = chars.get(after) == Some(&'_');
            while chars.get(after) == Some(&'_') {
                after += 1;
            }
            if reference {
                match explicit_title(&content) {
                    Some((title, url)) => out.push_str(&format!("[{title}]({url})")),
                    // A named reference or a bare `<url>`: as written.
                    None => out.push_str(&content),
                }
            } else {
                out.push_str(&format!("*{content}*"));
            }
            i = after;
            continue;
        }
        if c == '[' && boundary_before(i) {
            // A footnote or citation reference: `[#]_`, `[#name]_`, `[1]_`, `[CIT2002]_`.
            if let Some(close) = find(i + 1, "]_") {
                let label: String = chars[i + 1..close].iter().collect();
                if !label.is_empty() && !label.contains(char::is_whitespace) && close - i < 30 {
                    while out.ends_with(' ') {
                        out.pop();
                    }
                    i = close + 2;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn md(rst: &str) -> String {
        to_markdown(rst, &HashMap::new())
    }

    #[test]
    fn roles_and_literals() {
        assert_eq!(md("Use :func:`len` and :meth:`~str.join`."), "Use `len()` and `join()`.");
        assert_eq!(md("See :mod:`the docs <pdb>` and ``x = 1``."), "See `the docs` and `x = 1`.");
        assert_eq!(md(":class:`!Foo` raises :exc:`ValueError`"), "`Foo` raises `ValueError`");
        assert_eq!(md("Style: :pep:`8`, :rfc:`2822`."), "Style: PEP 8, RFC 2822.");
        assert_eq!(md("A :term:`generator <generator iterator>`, a :term:`method`."), "A generator, a method.");
        assert_eq!(md(":abbr:`LIFO (last-in, first-out)`"), "LIFO");
        let mut labels = HashMap::new();
        labels.insert("tutorial-index".to_string(), "The Python Tutorial".to_string());
        assert_eq!(
            to_markdown("start with :ref:`tutorial-index` or :ref:`other-label`", &labels),
            "start with The Python Tutorial or other label"
        );
        assert_eq!(md("see :ref:`the section <faq-x>`"), "see the section");
    }

    #[test]
    fn links_spanning_lines_and_footnotes() {
        assert_eq!(
            md("The wiki page on `performance tips\n   <https://wiki.python.org/moin/Perf>`_ helps [#]_."),
            "The wiki page on [performance tips](https://wiki.python.org/moin/Perf) helps."
        );
        assert_eq!(md("`Eric <https://eric.example/>`__ is an IDE"), "[Eric](https://eric.example/) is an IDE");
        assert_eq!(md("a *b* **c** `d`"), "a *b* **c** *d*");
        assert_eq!(md("under\\ score"), "underscore");
    }

    #[test]
    fn literal_and_doctest_blocks() {
        let rst = "Try this::\n\n   import sys\n   print(sys.path)\n\nThen ::\n\n  x\n\nDone.\n\n   >>> 1 + 1\n   2\n";
        assert_eq!(
            md(rst),
            "Try this:\n\n```\nimport sys\nprint(sys.path)\n```\n\nThen\n\n```\nx\n```\n\nDone.\n\n```pycon\n>>> 1 + 1\n2\n```"
        );
        // A literal block inside a list item, and a lone `::`.
        let rst = "1) modules in C; to get a list,\n   type::\n\n      import sys\n\n::\n\n   y = 2\n";
        assert_eq!(md(rst), "1) modules in C; to get a list,\ntype:\n\n```\nimport sys\n```\n\n```\ny = 2\n```");
        let rst = "* Use :func:`getattr`::\n\n     getattr(foo, 'bar')()\n\n  Note that it works.\n";
        assert_eq!(md(rst), "* Use `getattr()`:\n\n```\ngetattr(foo, 'bar')()\n```\n\nNote that it works.");
    }

    #[test]
    fn directives() {
        let rst = ".. index::\n   single: argument\n\n.. _faq-x:\n\nText.\n\n.. note::\n\n   To read binary data, open\n   in ``rb`` mode.\n\n.. seealso:: :ref:`urllib-howto` for examples.\n\n.. code-block:: python\n   :emphasize-lines: 1\n\n   def f():\n       # comment\n       pass\n\n.. XXX a comment\n   on two lines\n\n.. versionchanged:: 3.2\n   Now faster.\n";
        assert_eq!(
            md(rst),
            "Text.\n\n**Note:** To read binary data, open\nin `rb` mode.\n\n**See also:** urllib howto for examples.\n\n```python\ndef f():\n    # comment\n    pass\n```\n\n**Changed in version 3.2:** Now faster."
        );
        let rst = ".. function:: len(s)\n\n   Return the length of *s*.\n\n.. rubric:: Footnotes\n\n.. only:: html\n\n   Shown.\n";
        assert_eq!(md(rst), "`len(s)`\n\nReturn the length of *s*.\n\n**Footnotes**\n\nShown.");
    }

    #[test]
    fn headings_lists_and_indentation() {
        let rst = "=====\nTitle\n=====\n\nIntro\n\nPart\n----\n\n#. one\n#. two\n\n   A block quote\n   with # inside\n# not a heading\n\nSub\n~~~\n\nx\n\nNext\n----\n";
        assert_eq!(
            md(rst),
            "# Title\n\nIntro\n\n## Part\n\n1. one\n1. two\n\nA block quote\nwith # inside\n\\# not a heading\n\n### Sub\n\nx\n\n## Next"
        );
        let mut labels = HashMap::new();
        section_labels(".. _a:\n.. _B:\n\nSome title\n==========\n\n.. _c:\n\ntext\n", &mut labels);
        assert_eq!(labels.get("a").map(String::as_str), Some("Some title"));
        assert_eq!(labels.get("b").map(String::as_str), Some("Some title"));
        assert!(!labels.contains_key("c"));
    }
}
