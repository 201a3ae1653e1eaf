//! Checking and normalizing a visitor's answer to an `ask` node.

use serde_json::{Number, Value};

use crate::schema::InputKind;

/// A choice as the visitor sees it (the label already templated).
pub struct ChoiceOption<'a> {
    pub id: &'a str,
    pub label: String,
}

/// The value to store, or `None` when the answer is not acceptable.
pub fn accept(kind: InputKind, answer: &str, choices: &[ChoiceOption<'_>]) -> Option<Value> {
    let answer = answer.trim();
    if answer.is_empty() {
        return None;
    }
    match kind {
        InputKind::Text => Some(Value::String(answer.to_owned())),
        InputKind::Email => email(answer).map(Value::String),
        InputKind::Phone => phone(answer).map(Value::String),
        InputKind::Number => parse_number(answer).and_then(number_value),
        InputKind::Date => date(answer).map(Value::String),
        InputKind::Choice => choice(answer, choices).map(|id| Value::String(id.to_owned())),
    }
}

fn email(text: &str) -> Option<String> {
    if text.chars().count() > 254 || text.chars().any(char::is_whitespace) {
        return None;
    }
    let (local, domain) = text.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    ok.then(|| text.to_lowercase())
}

fn phone(text: &str) -> Option<String> {
    let plus = text.starts_with('+');
    let body = if plus { &text[1..] } else { text };
    if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')')) {
        return None;
    }
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    if !(6..=15).contains(&digits.len()) {
        return None;
    }
    Some(if plus { format!("+{digits}") } else { digits })
}

/// A decimal number typed by a person: optional sign, `.` or `,` as the decimal separator.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut separators = 0;
    let mut digits = 0;
    for c in unsigned.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' | ',' => separators += 1,
            _ => return None,
        }
    }
    if digits == 0 || separators > 1 {
        return None;
    }
    text.replace(',', ".").parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Whole numbers become JSON integers, so `{{count}}` prints `3` rather than `3.0`.
pub fn number_value(n: f64) -> Option<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it f64 has no exact integers
    if n.fract() == 0.0 && n.abs() < EXACT {
        // In range and integral, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}

fn date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(['-', '/']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    let numeric = |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit());
    let (year, month, day) = if numeric(a, &[4]) && numeric(b, &[1, 2]) && numeric(c, &[1, 2]) && !text.contains('/') {
        (*a, *b, *c)
    } else if numeric(a, &[1, 2]) && numeric(b, &[1, 2]) && numeric(c, &[4]) {
        // One separator kind throughout: "01-02/2025" is not a date.
        if text.contains('/') && text.contains('-') {
            return None;
        }
        (*c, *b, *a)
    } else {
        return None;
    };
    let year: i32 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    let day: u8 = day.parse().ok()?;
    let date = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()))
}

fn choice<'a>(answer: &str, choices: &[ChoiceOption<'a>]) -> Option<&'a str> {
    let lower = answer.to_lowercase();
    if let Some(c) = choices.iter().find(|c| c.id.to_lowercase() == lower || c.label.trim().to_lowercase() == lower) {
        return Some(c.id);
    }
    let n: usize = answer.parse().ok()?;
    choices.get(n.checked_sub(1)?).map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_and_normalizes_answers() {
        let choices = [
            ChoiceOption { id: "billing", label: "Billing".into() },
            ChoiceOption { id: "tech", label: "Something technical".into() },
        ];
        use InputKind::*;
        for (kind, answer, expected) in [
            (Text, "  hello ", Some(json!("hello"))),
            (Text, "   ", None),
            (Email, "Ann@Example.COM", Some(json!("ann@example.com"))),
            (Email, " ann@example.com ", Some(json!("ann@example.com"))),
            (Email, "ann@example", None),
            (Email, "ann@@example.com", None),
            (Email, "a b@example.com", None),
            (Email, "@example.com", None),
            (Email, "ann@.com", None),
            (Email, "ann@example.", None),
            (Email, &format!("{}@example.com", "a".repeat(250)), None),
            (Phone, "+31 (20) 123-45.67", Some(json!("+31201234567"))),
            (Phone, "020 123 4567", Some(json!("0201234567"))),
            (Phone, "12345", None),
            (Phone, "1234567890123456", None),
            (Phone, "12 34 56 ab", None),
            (Phone, "12+3456789", None),
            (Number, "42", Some(json!(42))),
            (Number, "-3,5", Some(json!(-3.5))),
            (Number, "0.25", Some(json!(0.25))),
            (Number, "1.000,5", None),
            (Number, "12abc", None),
            (Number, ",", None),
            (Date, "2025-03-09", Some(json!("2025-03-09"))),
            (Date, "09-03-2025", Some(json!("2025-03-09"))),
            (Date, "9/3/2025", Some(json!("2025-03-09"))),
            (Date, "29/02/2024", Some(json!("2024-02-29"))),
            (Date, "29/02/2025", None),
            (Date, "2025/03/09", None),
            (Date, "09-03/2025", None),
            (Date, "tomorrow", None),
            (Choice, "billing", Some(json!("billing"))),
            (Choice, "SOMETHING TECHNICAL", Some(json!("tech"))),
            (Choice, "2", Some(json!("tech"))),
            (Choice, "3", None),
            (Choice, "0", None),
            (Choice, "other", None),
        ] {
            assert_eq!(accept(kind, answer, &choices), expected, "{kind:?} {answer:?}");
        }
    }
}
