//! Variable paths (`order.items[0].name`) and the names variables may have.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Roots that are not the run's own variables.
pub const RESERVED: [&str; 2] = ["params", "visitor"];
/// Written by the engine on every visitor message; a node may read it but not store into it.
pub const LAST_MESSAGE: &str = "last_message";

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name a node may store into: well-formed and not reserved.
pub fn writable_var_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("a variable name is required".to_owned())
    } else if !is_var_name(name) {
        Some(format!("`{name}` is not a valid variable name (letters, digits and _, not starting with a digit)"))
    } else if RESERVED.contains(&name) || name == LAST_MESSAGE {
        Some(format!("`{name}` is reserved"))
    } else {
        None
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parses `a.b[0].c`. The first segment must be a variable name.
pub fn parse_var_path(text: &str) -> Option<Vec<Segment>> {
    let segments = parse_segments(text.trim(), false)?;
    match segments.first() {
        Some(Segment::Key(root)) if is_var_name(root) => Some(segments),
        _ => None,
    }
}

/// Parses a response path: `status`, `data.items[0].id`, the same with `$.`, `$[0]`, or `$` (all).
pub fn parse_json_path(text: &str) -> Option<Vec<Segment>> {
    let text = text.trim();
    match text.strip_prefix('$') {
        Some("") => Some(Vec::new()),
        Some(rest) if rest.starts_with('[') => parse_segments(rest, true),
        Some(rest) => parse_segments(rest.strip_prefix('.')?, false),
        None => parse_segments(text, false),
    }
}

fn parse_segments(text: &str, leading_index: bool) -> Option<Vec<Segment>> {
    let chars: Vec<char> = text.chars().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    let mut expect_key = !leading_index;
    while i < chars.len() || expect_key {
        if expect_key {
            let start = i;
            while i < chars.len() && is_key_char(chars[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            segments.push(Segment::Key(chars[start..i].iter().collect()));
            expect_key = false;
            continue;
        }
        match chars[i] {
            '.' => {
                i += 1;
                expect_key = true;
            }
            '[' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start || end >= chars.len() || chars[end] != ']' || end - start > 9 {
                    return None;
                }
                let index: usize = chars[start..end].iter().collect::<String>().parse().ok()?;
                segments.push(Segment::Index(index));
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(segments)
}

/// Follows `segments` inside `root`.
pub fn get<'a>(root: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    segments.iter().try_fold(root, |value, segment| match (segment, value) {
        (Segment::Key(k), Value::Object(map)) => map.get(k),
        (Segment::Index(i), Value::Array(items)) => items.get(*i),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_paths() {
        use Segment::{Index, Key};
        assert_eq!(
            parse_var_path("order.items[0].name"),
            Some(vec![Key("order".into()), Key("items".into()), Index(0), Key("name".into())])
        );
        assert_eq!(parse_var_path(" email "), Some(vec![Key("email".into())]));
        for bad in ["", "1abc", "a..b", "a.", "a[", "a[x]", "a[1", "a b", "[0]", "a.b c", "-a"] {
            assert_eq!(parse_var_path(bad), None, "{bad}");
        }
        assert_eq!(parse_json_path("$"), Some(vec![]));
        assert_eq!(parse_json_path("$.status"), Some(vec![Key("status".into())]));
        assert_eq!(parse_json_path("status"), Some(vec![Key("status".into())]));
        assert_eq!(parse_json_path("$[1].id"), Some(vec![Index(1), Key("id".into())]));
        assert_eq!(parse_json_path("data.order-id"), Some(vec![Key("data".into()), Key("order-id".into())]));
        assert_eq!(parse_json_path("$x"), None);
        assert_eq!(parse_json_path("$."), None);
    }

    #[test]
    fn resolves_paths() {
        let v = json!({"data": {"items": [{"id": "A"}, {"id": 7}]}});
        let p = parse_json_path("$.data.items[1].id").expect("path");
        assert_eq!(get(&v, &p), Some(&json!(7)));
        let p = parse_json_path("data.items[2].id").expect("path");
        assert_eq!(get(&v, &p), None);
        let p = parse_json_path("data.items.id").expect("path");
        assert_eq!(get(&v, &p), None);
    }

    #[test]
    fn names() {
        assert!(is_var_name("order_2") && is_var_name("_x"));
        assert!(!is_var_name("2x") && !is_var_name("a-b") && !is_var_name(""));
        assert!(writable_var_problem("params").is_some());
        assert!(writable_var_problem("visitor").is_some());
        assert!(writable_var_problem("email").is_none());
    }
}
