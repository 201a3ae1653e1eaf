//! Text matching used by triggers and conditions: `*` globs, whole-word keywords, bounded regexes.

use regex::{Regex, RegexBuilder};

/// Longest pattern a trigger may have (the spec's limit).
pub const MAX_PATTERN_CHARS: usize = 200;

/// Compiles an author's regex with bounded memory, so a hostile pattern cannot exhaust the server.
/// (The regex crate has no backtracking, so matching time is linear anyway.)
pub fn regex(pattern: &str) -> Option<Regex> {
    compile(pattern).ok()
}

pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(1 << 20).dfa_size_limit(1 << 20).nest_limit(64).build()
}

/// Whole-string match where `*` stands for any run of characters (including none).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position of the last `*` and the text position it was tried at: linear-time backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `keyword` occurs in `text` as whole words: case-insensitive, and the characters around it
/// are not letters or digits (in any script). A keyword may be several words ("order status").
pub fn contains_word(text: &str, keyword: &str) -> bool {
    let keyword = keyword.trim().to_lowercase();
    if keyword.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let mut from = 0;
    while let Some(found) = text[from..].find(&keyword) {
        let start = from + found;
        let end = start + keyword.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if boundary(before) && boundary(after) {
            return true;
        }
        // Advance by one character so overlapping occurrences are still considered.
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_strings() {
        for (pattern, text, expected) in [
            ("*/pricing*", "https://shop.example/pricing", true),
            ("*/pricing*", "https://shop.example/pricing?plan=pro", true),
            ("*/pricing*", "https://shop.example/about", false),
            ("https://shop.example/", "https://shop.example/", true),
            ("https://shop.example/", "https://shop.example/x", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*.example/*/cart", "https://x.example/nl/cart", true),
        ] {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn keywords_are_whole_words_in_any_script() {
        for (text, keyword, expected) in [
            ("Where is my ORDER?", "order", true),
            ("I want to reorder", "order", false),
            ("orders", "order", false),
            ("Meine Bestellung", "bestellung", true),
            ("Ça coûte combien?", "coûte", true),
            ("écoûtez", "coûte", false),
            ("what is my order status", "order status", true),
            ("", "order", false),
            ("order", "  ", false),
        ] {
            assert_eq!(contains_word(text, keyword), expected, "{text:?} / {keyword:?}");
        }
    }
}
