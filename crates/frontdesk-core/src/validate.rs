//! Input rules shared by every entry point. Each failure names the field it is about.

use crate::error::CoreError;

pub const MAX_MESSAGE_CHARS: usize = 4000;
pub const MAX_FEEDBACK_CHARS: usize = 2000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 40;
pub const MAX_PARAMS_BYTES: usize = 8 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field: field.to_owned(), message: message.into() }
}

/// Removes control characters (keeping newlines and tabs), normalizes line endings, trims,
/// and checks the length in characters.
pub fn message_content(raw: &str) -> Result<String, CoreError> {
    let cleaned = clean_text(raw);
    let count = cleaned.chars().count();
    if count == 0 {
        return Err(invalid("content", "a message needs at least one character"));
    }
    if count > MAX_MESSAGE_CHARS {
        return Err(invalid(
            "content",
            format!("a message has at most {MAX_MESSAGE_CHARS} characters (this one has {count})"),
        ));
    }
    Ok(cleaned)
}

/// Control characters out (bar `\n` and `\t`), `\r\n` and `\r` to `\n`, then trimmed.
pub fn clean_text(raw: &str) -> String {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    let kept: String =
        unified.chars().filter(|c| *c == '\n' || *c == '\t' || !(c.is_control() || is_invisible_format(*c))).collect();
    kept.trim().to_owned()
}

/// Bidi overrides and zero-width characters that can disguise text.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}')
}

/// One line of text with a maximum length (names, titles, tags).
pub fn short_text(field: &str, raw: &str, max_chars: usize) -> Result<String, CoreError> {
    let cleaned = clean_text(raw).replace(['\n', '\t'], " ");
    let count = cleaned.chars().count();
    if count == 0 {
        return Err(invalid(field, "must not be empty"));
    }
    if count > max_chars {
        return Err(invalid(field, format!("at most {max_chars} characters")));
    }
    Ok(cleaned)
}

pub fn stars(stars: i64) -> Result<u8, CoreError> {
    u8::try_from(stars).ok().filter(|s| (1..=5).contains(s)).ok_or_else(|| invalid("stars", "a rating is 1 to 5 stars"))
}

pub fn rating_tags(tags: &[String]) -> Result<Vec<String>, CoreError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    tags.iter().map(|t| short_text("tags", t, MAX_TAG_CHARS)).collect()
}

pub fn feedback(text: Option<&str>) -> Result<Option<String>, CoreError> {
    match text.map(clean_text) {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) if t.chars().count() > MAX_FEEDBACK_CHARS => {
            Err(invalid("feedback", format!("at most {MAX_FEEDBACK_CHARS} characters")))
        }
        Some(t) => Ok(Some(t)),
    }
}

/// `params` from the host page: a flat JSON object, small.
pub fn params(value: Option<&serde_json::Value>) -> Result<serde_json::Value, CoreError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(serde_json::Value::Object(Default::default())),
        Some(serde_json::Value::Object(map)) => {
            let size = serde_json::to_vec(map).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_PARAMS_BYTES {
                return Err(invalid("params", format!("at most {MAX_PARAMS_BYTES} bytes of JSON")));
            }
            Ok(serde_json::Value::Object(map.clone()))
        }
        Some(_) => Err(invalid("params", "must be a JSON object")),
    }
}

/// A plausible email address, lower-cased. Deliverability is proven by sending, not by regex.
pub fn email(raw: &str) -> Result<String, CoreError> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
                && e.matches('@').count() == 1
        });
    if ok { Ok(e) } else { Err(invalid("email", "not a valid email address")) }
}

pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn new_password(raw: &str) -> Result<(), CoreError> {
    if raw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid("password", format!("at least {MIN_PASSWORD_CHARS} characters")));
    }
    if raw.len() > 1024 {
        return Err(invalid("password", "at most 1024 bytes"));
    }
    Ok(())
}

/// A short locale tag such as `en`, `nl-BE`.
pub fn locale(raw: &str) -> Result<String, CoreError> {
    let ok = (2..=16).contains(&raw.len())
        && raw.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok { Ok(raw.to_owned()) } else { Err(invalid("locale", "a language tag such as `en` or `nl-BE`")) }
}

pub fn page_url(raw: &str) -> Result<String, CoreError> {
    let ok = raw.len() <= 2048 && (raw.starts_with("https://") || raw.starts_with("http://"));
    if ok { Ok(raw.to_owned()) } else { Err(invalid("page_url", "an http(s) URL of at most 2048 bytes")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_content_is_cleaned_and_bounded() {
        assert_eq!(message_content("  hi\u{0007} there\r\n ").ok().as_deref(), Some("hi there"));
        assert_eq!(message_content("a\u{202E}b").ok().as_deref(), Some("ab"));
        assert!(message_content(" \u{0000}\t ").is_err());
        assert!(message_content(&"x".repeat(4000)).is_ok());
        let long = message_content(&"é".repeat(4001));
        assert!(matches!(long, Err(CoreError::Invalid { ref field, .. }) if field == "content"));
        // Surrounding white space does not count towards the limit.
        assert!(message_content(&format!("  {}  ", "y".repeat(4000))).is_ok());
    }

    #[test]
    fn ratings_are_bounded() {
        assert_eq!(stars(5).ok(), Some(5));
        assert!(stars(0).is_err());
        assert!(stars(6).is_err());
        assert!(stars(-1).is_err());
        assert!(rating_tags(&vec!["fast".to_owned(); 11]).is_err());
        assert_eq!(rating_tags(&[" kind ".to_owned()]).ok(), Some(vec!["kind".to_owned()]));
        assert_eq!(feedback(Some("  ")).ok(), Some(None));
    }

    #[test]
    fn emails_and_locales() {
        assert_eq!(email(" Ann@Example.COM ").ok().as_deref(), Some("ann@example.com"));
        for bad in ["", "ann", "ann@", "@x.com", "a@b", "a b@c.com", "a@@b.com", "a@.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(locale("nl-BE").is_ok());
        assert!(locale("x").is_err());
        assert!(locale("en_US!").is_err());
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(params(Some(&serde_json::json!({"plan": "pro"}))).is_ok());
        assert!(params(Some(&serde_json::json!([1]))).is_err());
        assert_eq!(params(None).ok(), Some(serde_json::json!({})));
        let big = serde_json::json!({ "x": "y".repeat(9000) });
        assert!(params(Some(&big)).is_err());
    }
}
