//! Markdown to safe HTML: comrak renders (raw HTML in the source is escaped, not passed through)
//! and ammonia keeps only an allowlist of tags and attributes. This runs on the server at write
//! time; the browser sanitizes again, but never alone.

use std::collections::HashSet;
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "p",
            "br",
            "strong",
            "em",
            "del",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
            "a",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        ]
        .into_iter()
        .collect();
        let mut b = ammonia::Builder::empty();
        b.tags(tags)
            .add_tag_attributes("a", ["href", "title"])
            .add_tag_attributes("ol", ["start"])
            .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
            .link_rel(Some("noopener noreferrer nofollow"))
            .set_tag_attribute_value("a", "target", "_blank")
            .strip_comments(true);
        b
    })
}

fn options() -> comrak::Options<'static> {
    let mut o = comrak::Options::default();
    o.extension.strikethrough = true;
    o.extension.table = true;
    o.extension.autolink = true;
    o.render.escape = true;
    o
}

/// Renders visitor, agent or assistant Markdown to sanitized HTML.
pub fn render(markdown: &str) -> String {
    let html = comrak::markdown_to_html(markdown, &options());
    sanitize_html(&html)
}

/// Sanitizes HTML from any source with the same allowlist.
pub fn sanitize_html(html: &str) -> String {
    sanitizer().clean(html).to_string().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_common_markdown() {
        assert_eq!(render("**Hi** _there_"), "<p><strong>Hi</strong> <em>there</em></p>");
        let list = render("- one\n- two");
        assert!(list.contains("<ul>") && list.contains("<li>two</li>"), "{list}");
    }

    #[test]
    fn raw_html_and_scripts_never_survive() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=https://evil.example></iframe>",
            "<svg onload=alert(1)>",
        ] {
            let html = render(payload);
            let lower = html.to_lowercase();
            assert!(!lower.contains("<script") && !lower.contains("<img") && !lower.contains("<iframe"), "{html}");
            assert!(!lower.contains("<svg"), "{html}");
            // Only live tags matter: escaped text (`&lt;a href=…`) is inert.
            for tag in lower.split("<a ").skip(1) {
                let href = tag.split("href=\"").nth(1).unwrap_or("\"");
                assert!(href.starts_with('"') || href.starts_with("http"), "{html}");
            }
        }
    }

    #[test]
    fn links_open_safely() {
        let html = render("[docs](https://example.com/docs)");
        assert!(html.contains("href=\"https://example.com/docs\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
        assert!(html.contains("target=\"_blank\""), "{html}");
    }
}
