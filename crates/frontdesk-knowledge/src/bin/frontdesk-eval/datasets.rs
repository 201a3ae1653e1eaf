//! Parsing the evaluation datasets out of Debian's documentation packages (see
//! `scripts/fetch-eval-data`).

use crate::rst;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One FAQ entry: the question (the query) and its answer (the document, indexed without the question).
#[derive(Debug, Clone)]
pub struct QaPair {
    pub question: String,
    pub answer: String,
}

/// RST section headings: (line index of the title, underline char, title).
fn rst_headings(lines: &[&str]) -> Vec<(usize, char, String)> {
    let mut out = Vec::new();
    for i in 1..lines.len() {
        let title = lines[i - 1].trim();
        if title.is_empty() || rst::is_adornment(lines[i - 1]).is_some() || lines[i - 1].starts_with(' ') {
            continue;
        }
        if let Some(c) = rst::is_adornment(lines[i])
            && lines[i].trim_end().chars().count() >= title.chars().count()
        {
            out.push((i - 1, c, title.to_string()));
        }
    }
    out
}

/// Lines that would read as Markdown headings (`# …`) are indented so the chunker keeps them as text.
fn protect_markdown(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with('#') && l.len() - l.trim_start().len() < 4 {
                format!("    {l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `_sources/**/*.rst.txt` file of the Python documentation, sorted.
fn python_sources(root: &Path) -> Result<(PathBuf, Vec<PathBuf>)> {
    let dir = root.join("usr/share/doc/python3.11/html/_sources");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in
            std::fs::read_dir(&d).with_context(|| format!("reading {} (run scripts/fetch-eval-data)", d.display()))?
        {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".rst.txt") {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok((dir, files))
}

/// The section labels of the whole Python documentation (see [`rst::section_labels`]).
fn python_labels(files: &[PathBuf]) -> Result<HashMap<String, String>> {
    let mut labels = HashMap::new();
    for file in files {
        rst::section_labels(&std::fs::read_to_string(file)?, &mut labels);
    }
    Ok(labels)
}

/// The Python FAQ: `faq/*.rst.txt`; questions are the `---`-underlined headings, answers the text
/// between a question and the next heading, converted to Markdown ([`rst::to_markdown`], `:ref:`s
/// resolved with the whole documentation's section labels).
pub fn python_faq(root: &Path) -> Result<Vec<QaPair>> {
    let (sources, all) = python_sources(root)?;
    let labels = python_labels(&all)?;
    let dir = sources.join("faq");
    let files: Vec<&PathBuf> = all.iter().filter(|p| p.parent() == Some(dir.as_path())).collect();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)?;
        let lines: Vec<&str> = text.lines().collect();
        let headings = rst_headings(&lines);
        for (n, (line, c, title)) in headings.iter().enumerate() {
            if *c != '-' {
                continue;
            }
            let end = headings.get(n + 1).map(|h| h.0).unwrap_or(lines.len());
            let body = lines[line + 2..end].join("\n");
            out.push(QaPair { question: title.clone(), answer: rst::to_markdown(&body, &labels) });
        }
    }
    if out.is_empty() {
        bail!("no questions found in {}", dir.display());
    }
    Ok(out)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest[..rest.len().min(10)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML to plain text with blank lines between blocks.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('>') else {
            rest = &rest[i..];
            break;
        };
        let tag = rest[i + 1..i + end].to_ascii_lowercase();
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if matches!(
            name.as_str(),
            "p" | "div" | "br" | "li" | "h1" | "h2" | "h3" | "h4" | "pre" | "tr" | "dt" | "dd" | "table"
        ) {
            out.push_str("\n\n");
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    let text = decode_entities(&out);
    // Normalize: trim lines, collapse runs of blank lines.
    let mut lines: Vec<&str> = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() && lines.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        lines.push(l);
    }
    lines.join("\n").trim().to_string()
}

/// Strip the section number ("4.1. ", digits and dots ending in a dot) from a heading. The Debian FAQ's HTML puts a no-break
/// space after the number, so any whitespace ends it.
fn strip_number(s: &str) -> String {
    let t = s.trim();
    let after = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let number = &t[..t.len() - after.len()];
    if number.ends_with('.') && after.starts_with(char::is_whitespace) {
        after.trim().to_string()
    } else {
        t.to_string()
    }
}

/// The Debian FAQ: `FAQ/*.en.html`; questions are the `<h2 class="title">` headings.
pub fn debian_faq(root: &Path) -> Result<Vec<QaPair>> {
    let dir = root.join("usr/share/doc/debian/FAQ");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {} (run scripts/fetch-eval-data)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".en.html"))
        .collect();
    files.sort();
    let marker = "<h2 class=\"title\"";
    let mut out = Vec::new();
    for file in files {
        let html = std::fs::read_to_string(&file)?;
        let html = match html.find("class=\"navfooter\"") {
            Some(i) => &html[..i],
            None => &html[..],
        };
        let starts: Vec<usize> = html.match_indices(marker).map(|(i, _)| i).collect();
        for (n, &start) in starts.iter().enumerate() {
            let Some(close) = html[start..].find("</h2>") else { continue };
            let question = strip_number(&html_to_text(&html[start..start + close]));
            let body_start = start + close + "</h2>".len();
            let end = starts.get(n + 1).copied().unwrap_or(html.len());
            let answer = html_to_text(&html[body_start..end]);
            out.push(QaPair { question, answer: protect_markdown(&answer) });
        }
    }
    if out.is_empty() {
        bail!("no questions found in {}", dir.display());
    }
    Ok(out)
}

/// The whole Python documentation (`_sources/**/*.rst.txt`) converted to Markdown like the FAQ
/// ([`rst::to_markdown`]); the title is a page's first heading. For the latency benchmark.
pub fn python_docs(root: &Path) -> Result<Vec<(String, String)>> {
    let (dir, files) = python_sources(root)?;
    let labels = python_labels(&files)?;
    let mut out = Vec::new();
    for file in files {
        let md = rst::to_markdown(&std::fs::read_to_string(&file)?, &labels);
        let mut fence = false;
        let mut title = String::new();
        for line in md.lines() {
            if line.starts_with("```") || line.starts_with("~~~") {
                fence = !fence;
            } else if !fence && line.starts_with('#') {
                title = line.trim_start_matches('#').trim().to_string();
                break;
            }
        }
        if title.is_empty() {
            title = file.strip_prefix(&dir).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        }
        out.push((title, md));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_and_numbers() {
        assert_eq!(strip_number("1.2. What is Debian?"), "What is Debian?");
        assert_eq!(strip_number("3.1.\u{a0}Which distribution?"), "Which distribution?", "a no-break space");
        assert_eq!(strip_number("2038 problem"), "2038 problem", "a number that is not a section number");
        assert_eq!(html_to_text("<p>a &amp; b</p><p>c&lt;d</p>"), "a & b\n\nc<d");
    }
}
