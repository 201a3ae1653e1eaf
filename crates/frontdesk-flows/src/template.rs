//! `{{path}}` and `{{path | default text}}` templates.
//!
//! What an inserted value may do depends on where it lands, so rendering takes an [`Escape`]:
//! message text escapes Markdown (a visitor's answer cannot add links or formatting), URLs
//! percent-encode (a value cannot add path segments, a query or a host), regexes match the value
//! literally, headers and JSON bodies get the raw text.

use serde_json::Value;

use crate::path::{self, Segment};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    Markdown,
    Url,
    Regex,
    Raw,
}

#[derive(Debug, PartialEq)]
pub enum Part<'a> {
    Text(&'a str),
    Var { path: &'a str, default: Option<&'a str> },
}

/// Splits a template. An unclosed `{{` ends the parse: the rest is returned as text and the
/// problem as the error (validation reports it; rendering still copes).
pub fn parse(template: &str) -> (Vec<Part<'_>>, Option<String>) {
    let mut parts = Vec::new();
    let mut rest = template;
    let mut problem = None;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            problem = Some("`{{` without a closing `}}`".to_owned());
            break;
        };
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let inner = &rest[open + 2..open + 2 + close];
        let (path, default) = match inner.split_once('|') {
            Some((p, d)) => (p.trim(), Some(d.trim())),
            None => (inner.trim(), None),
        };
        if problem.is_none() && path::parse_var_path(path).is_none() {
            problem = Some(format!("`{{{{{}}}}}` is not a variable path", inner.trim()));
        }
        parts.push(Part::Var { path, default });
        rest = &rest[open + 2 + close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    (parts, problem)
}

/// The problem with a template's syntax, if any.
pub fn problem(template: &str) -> Option<String> {
    parse(template).1
}

/// Resolves variable paths during rendering.
pub trait Lookup {
    fn lookup(&self, path: &[Segment]) -> Option<Value>;
}

/// The text a value inserts: strings as they are, numbers and booleans printed, null as nothing,
/// arrays and objects as compact JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

pub fn render(template: &str, escape: Escape, scope: &dyn Lookup) -> String {
    let (parts, _) = parse(template);
    let mut out = String::with_capacity(template.len());
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var { path, default } => {
                let value = path::parse_var_path(path)
                    .and_then(|p| scope.lookup(&p))
                    .map(|v| text_of(&v))
                    .filter(|t| !t.is_empty());
                match (value, default) {
                    (Some(v), _) => push_escaped(&mut out, &v, escape),
                    // The default is the author's own text: it is not escaped (except in URLs
                    // and regexes, where it is still a value).
                    (None, Some(d)) if matches!(escape, Escape::Markdown | Escape::Raw) => out.push_str(d),
                    (None, Some(d)) => push_escaped(&mut out, d, escape),
                    (None, None) => {}
                }
            }
        }
    }
    out
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::Raw => out.push_str(value),
        Escape::Regex => out.push_str(&regex::escape(value)),
        Escape::Url => {
            for b in value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
        Escape::Markdown => {
            let mut last_space = false;
            for c in value.chars() {
                // Line breaks and other controls would let a value start a block (a heading, a
                // code block); inside the bot's sentence they become one space.
                if c.is_control() || c.is_whitespace() {
                    if !last_space {
                        out.push(' ');
                    }
                    last_space = true;
                    continue;
                }
                last_space = false;
                // CommonMark lets any ASCII punctuation be backslash-escaped to stand for itself.
                if c.is_ascii_punctuation() {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Vars(Value);
    impl Lookup for Vars {
        fn lookup(&self, path: &[Segment]) -> Option<Value> {
            path::get(&self.0, path).cloned()
        }
    }

    #[test]
    fn renders_values_defaults_and_unknowns() {
        let vars = Vars(json!({"name": "Ann", "empty": "", "n": 3, "items": [{"id": "x"}], "flag": true}));
        for (template, escape, expected) in [
            ("Hi {{name}}!", Escape::Raw, "Hi Ann!"),
            ("Hi {{ name | there }}!", Escape::Raw, "Hi Ann!"),
            ("Hi {{empty | there}}!", Escape::Raw, "Hi there!"),
            ("Hi {{missing | there}}!", Escape::Raw, "Hi there!"),
            ("Hi {{missing}}!", Escape::Raw, "Hi !"),
            ("{{n}} {{flag}} {{items[0].id}}", Escape::Raw, "3 true x"),
            ("{{items}}", Escape::Raw, "[{\"id\":\"x\"}]"),
            ("{{not a path}}", Escape::Raw, ""),
            ("a {{name", Escape::Raw, "a {{name"),
            ("no braces", Escape::Markdown, "no braces"),
            ("{{missing | *bold* default}}", Escape::Markdown, "*bold* default"),
            ("/q?name={{missing | a b}}", Escape::Url, "/q?name=a%20b"),
        ] {
            assert_eq!(render(template, escape, &vars), expected, "{template}");
        }
    }

    #[test]
    fn escapes_per_context() {
        let vars = Vars(json!({"v": "[x](https://evil.example) *b* <i>\n# h", "p": "a/b?c=d&e é"}));
        assert_eq!(
            render("{{v}}", Escape::Markdown, &vars),
            "\\[x\\]\\(https\\:\\/\\/evil\\.example\\) \\*b\\* \\<i\\> \\# h"
        );
        assert_eq!(render("/o/{{p}}", Escape::Url, &vars), "/o/a%2Fb%3Fc%3Dd%26e%20%C3%A9");
        assert_eq!(render("^{{p}}$", Escape::Regex, &vars), "^a/b\\?c=d\\&e é$");
        assert_eq!(render("{{p}}", Escape::Raw, &vars), "a/b?c=d&e é");
    }

    #[test]
    fn escaped_values_render_as_plain_text() {
        let vars = Vars(json!({"v": "[click](https://evil.example) **bold** <script>x</script> www.evil.example"}));
        let html = frontdesk_core::markdown::render(&render("You said: {{v}}", Escape::Markdown, &vars));
        assert!(!html.contains("<a") && !html.contains("<strong") && !html.contains("<script"), "{html}");
        assert!(html.contains("[click]"), "{html}");
    }

    #[test]
    fn reports_syntax_problems() {
        assert_eq!(problem("Hi {{name | x}}"), None);
        assert!(problem("Hi {{name").is_some());
        assert!(problem("Hi {{na me}}").is_some());
        assert!(problem("Hi {{}}").is_some());
    }
}
