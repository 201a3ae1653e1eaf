//! Property tests of write-time sanitizing: whatever a visitor, an agent, an article or a bot
//! scenario (its text and the values put into it) contains, the stored HTML holds only the tags,
//! attributes and URL schemes of the allowlist in `frontdesk_core::markdown`. The checker below
//! is written independently of ammonia: it tokenizes the output itself.

use super::{Host, ctx};
use frontdesk_core::kb::{ArticleDraft, validate_draft};
use frontdesk_core::markdown;
use frontdesk_flows::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tags and their attributes as `markdown::sanitizer` allows them (`a` also gets `rel` and
/// `target`, set by the sanitizer itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("p", &[]),
    ("br", &[]),
    ("strong", &[]),
    ("em", &[]),
    ("del", &[]),
    ("code", &[]),
    ("pre", &[]),
    ("blockquote", &[]),
    ("ul", &[]),
    ("ol", &["start"]),
    ("li", &[]),
    ("a", &["href", "title", "rel", "target"]),
    ("h1", &[]),
    ("h2", &[]),
    ("h3", &[]),
    ("h4", &[]),
    ("h5", &[]),
    ("h6", &[]),
    ("hr", &[]),
    ("table", &[]),
    ("thead", &[]),
    ("tbody", &[]),
    ("tr", &[]),
    ("th", &[]),
    ("td", &[]),
];
const SCHEMES: &[&str] = &["http", "https", "mailto", "tel"];

/// Decodes the character references an HTML serializer writes in attribute values.
fn decode(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let ch = match name {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "nbsp" => Some('\u{a0}'),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            ch.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
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

/// The scheme a browser would see (the WHATWG URL parser): tabs and newlines anywhere, and here
/// every other control character and space too, are dropped; a scheme is a letter followed by
/// letters, digits, `+`, `-` or `.` up to the first `:`. Anything else is a relative URL.
fn scheme_of(url: &str) -> Option<String> {
    let cleaned: String = url.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect();
    let (candidate, _) = cleaned.split_once(':')?;
    let mut chars = candidate.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| candidate.to_ascii_lowercase())
}

/// `Err` with the reason when `html` holds anything outside the allowlist.
fn check_html(html: &str) -> Result<(), String> {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off;
        let mut j = start + 1;
        let closing = bytes.get(j) == Some(&b'/');
        if closing {
            j += 1;
        }
        let name_end = j + html[j..].find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(html.len() - j);
        let name = &html[j..name_end];
        let Some(&(_, attrs)) = ALLOWED.iter().find(|(t, _)| *t == name) else {
            return Err(format!(
                "tag or raw `<` not allowed at {start}: {:?}",
                &html[start..html.len().min(start + 40)]
            ));
        };
        j = name_end;
        loop {
            while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            match bytes.get(j) {
                Some(b'>') => {
                    j += 1;
                    break;
                }
                Some(b'/') if bytes.get(j + 1) == Some(&b'>') => {
                    j += 2;
                    break;
                }
                None => return Err(format!("unterminated tag <{name}")),
                _ if closing => return Err(format!("attributes on </{name}>")),
                _ => {}
            }
            let attr_end = j + html[j..].find(['=', ' ', '>']).ok_or("unterminated attribute")?;
            let attr = &html[j..attr_end];
            if !attrs.contains(&attr) {
                return Err(format!("attribute {attr:?} on <{name}>"));
            }
            if bytes.get(attr_end) != Some(&b'=') || bytes.get(attr_end + 1) != Some(&b'"') {
                return Err(format!("attribute {attr} without a quoted value"));
            }
            let value_start = attr_end + 2;
            let value_end = value_start + html[value_start..].find('"').ok_or("unterminated value")?;
            let value = decode(&html[value_start..value_end]);
            match attr {
                "href" => {
                    if let Some(scheme) = scheme_of(&value)
                        && !SCHEMES.contains(&scheme.as_str())
                    {
                        return Err(format!("URL scheme {scheme:?} in {value:?}"));
                    }
                }
                "target" if value != "_blank" => return Err(format!("target {value:?}")),
                "rel" if value != "noopener noreferrer nofollow" => return Err(format!("rel {value:?}")),
                "start" if value.parse::<i64>().is_err() && !value.is_empty() => {
                    return Err(format!("start {value:?}"));
                }
                _ => {}
            }
            j = value_end + 1;
        }
        i = j;
    }
    if html.contains('\0') {
        return Err("NUL in the output".into());
    }
    Ok(())
}

/// Fragments that have broken sanitizers, mixed with arbitrary text.
const NASTY: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](java\tscript:alert(1))",
    "[x](java\u{0}script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java&#x73;cript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](\\javascript:alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)\n",
    "![i](javascript:alert(1))",
    "![i](data:image/svg+xml;base64,PHN2Zz4=)",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "<vbscript:x>",
    "javascript:alert(1)",
    "[a](https://x.test \"t\\\" onmouseover=\\\"x\")",
    "[a](https://x.test 'title')",
    "<https://ok.test/?a=<b>&c=\"d\">",
    "www.example.test/<script>",
    "mailto:a@b.test",
    "[t](tel:+3212345)",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=x onclick=y>z</a>",
    "<p onmouseover=x>",
    "<svg onload=alert(1)>",
    "<iframe src=//evil.test>",
    "<math><mi xlink:href=javascript:1>x</mi></math>",
    "<form action=javascript:1><button>x",
    "<base href=javascript:/>",
    "<meta http-equiv=refresh content=0;url=javascript:1>",
    "<object data=javascript:1>",
    "<div style=\"background:url(javascript:x)\">",
    "<style>*{color:red}</style>",
    "<!-- <script> -->",
    "<![CDATA[<script>]]>",
    "&lt;script&gt;",
    "&#60;script&#62;",
    "\"'><",
    "`<b>`",
    "```\n<script>\n```\n",
    "    <script>indented</script>\n",
    "**bold** _em_ ~~del~~",
    "> quote <i>x</i>\n",
    "| a | b |\n|---|---|\n| <x> | [y](javascript:1) |\n",
    "1. one\n2. two\n",
    "5) five\n",
    "\n\n",
    "\u{202e}",
    "\u{feff}",
    "\u{0}",
    "\u{1b}[31m",
    "{{",
    "}}",
];

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(NASTY).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => proptest::collection::vec(proptest::sample::select(&['<', '>', '&', '"', '\'', '[', ']', '(', ')', ':', '`', '\n', '!', '*', ' '][..]), 0..12)
            .prop_map(|cs| cs.into_iter().collect()),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|parts| parts.concat())
}

/// A fixed seed and a moderate number of cases: the same inputs on every run and in CI.
fn runner() -> TestRunner {
    let config = Config { cases: 300, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

#[test]
fn the_checker_rejects_what_it_must() {
    assert!(
        check_html("<p>ok <a href=\"https://x.test\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">x</a></p>")
            .is_ok()
    );
    assert!(check_html("&lt;script&gt;").is_ok());
    // Not a scheme (`%` cannot be in one): a relative URL, which a browser never runs.
    assert!(check_html("<a href=\"%5Cjavascript:alert(1)\">x</a>").is_ok());
    for bad in [
        "<script>x</script>",
        "<p onclick=\"x\">",
        "<a href=\"javascript:alert(1)\">",
        "<a href=\"java&#x09;script:x\">",
        "<a href=\"data:text/html,x\">",
        "<a href=\" JAVA\tSCRIPT:x\">",
        "<p style=\"x\">",
        "<img src=\"x\">",
        "a < b",
    ] {
        assert!(check_html(bad).is_err(), "{bad}");
    }
}

#[test]
fn messages_never_render_outside_the_allowlist() {
    runner()
        .run(&text(), |content| {
            // What `Chat` stores for a message, here without its validation first, so control
            // characters and NULs reach the renderer too.
            let html = markdown::render(&content);
            prop_assert!(check_html(&html).is_ok(), "{content:?} → {html:?}: {:?}", check_html(&html));
            let again = markdown::sanitize_html(&html);
            prop_assert!(check_html(&again).is_ok(), "sanitizing sanitized HTML: {again:?}");
            Ok(())
        })
        .expect("messages");
}

#[test]
fn article_bodies_never_render_outside_the_allowlist() {
    let rendered = AtomicUsize::new(0);
    runner()
        .run(&(text(), text()), |(title, body)| {
            let draft = ArticleDraft {
                title: format!("t{title}").chars().take(100).collect(),
                body: format!("{body}x"),
                locale: None,
                tags: Vec::new(),
                status: None,
                url: None,
            };
            // The knowledge base keeps Markdown; its HTML is what the same renderer makes of the
            // validated body when an answer quotes it.
            let Ok(valid) = validate_draft(&draft) else { return Ok(()) };
            let html = markdown::render(&valid.body);
            prop_assert!(check_html(&html).is_ok(), "{:?} → {html:?}: {:?}", valid.body, check_html(&html));
            rendered.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .expect("articles");
    assert!(rendered.into_inner() >= 150, "most drafts are valid, so the property is not vacuous");
}

#[test]
fn bot_messages_never_render_outside_the_allowlist() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let driven = AtomicUsize::new(0);
    runner()
        .run(&(text(), text(), text()), |(template, param, name)| {
            let doc = json!({
                "schema": 1,
                "start": "m",
                "nodes": [{"id": "m", "type": "message", "text": format!("{template} {{{{params.order}}}} {{{{visitor.name | x}}}}")}],
                "edges": [],
            });
            // Arbitrary text is not always a valid template; such a draft is refused on save.
            let Ok(doc) = check(&doc) else { return Ok(()) };
            let mut c = ctx();
            c.params = json!({ "order": param });
            c.visitor.name = Some(name);
            let host = Host::new();
            let mut run = FlowRun::new();
            runtime.block_on(drive(&doc, &mut run, &c, Event::Start, &host)).expect("drive");
            for said in host.said() {
                let html = markdown::render(&said);
                prop_assert!(check_html(&html).is_ok(), "{said:?} → {html:?}: {:?}", check_html(&html));
                driven.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .expect("bot messages");
    assert!(driven.into_inner() >= 150, "most templates are valid, so the property is not vacuous");
}
