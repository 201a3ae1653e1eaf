//! Words that carry the form of a question, not its topic ("how many … does"), in the languages
//! the assistant speaks. Query-term coverage ignores them: a help center rarely contains "how" or
//! "does", and counting them would make every question look half unanswered. The BM25 query drops
//! the words of its field's language too ([`strip_for`]): they match nearly every passage.

const EN: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "can", "could", "did", "do", "does", "for", "from", "get", "have",
    "hello", "hi", "how", "i", "if", "in", "is", "it", "me", "much", "many", "my", "of", "on", "or", "please",
    "should", "the", "there", "to", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
    "your",
];
const NL: &[&str] = &[
    "aan", "als", "de", "dat", "die", "een", "en", "hallo", "het", "hoe", "hoeveel", "ik", "in", "is", "je", "kan",
    "kun", "kunnen", "met", "mijn", "of", "op", "te", "u", "uw", "van", "voor", "waar", "wanneer", "wat", "welke",
    "wie", "wij", "zijn",
];
const DE: &[&str] = &[
    "bei", "bitte", "das", "dem", "den", "der", "die", "ein", "eine", "einen", "ich", "ist", "kann", "können", "mein",
    "meine", "mit", "sie", "und", "von", "wann", "was", "welche", "wer", "wie", "wieviel", "wo", "zu",
];
const FR: &[&str] = &[
    "au", "bonjour", "ce", "comment", "de", "des", "du", "est", "et", "je", "la", "le", "les", "ma", "mes", "mon",
    "où", "peut", "puis", "pour", "quand", "que", "quel", "quelle", "qui", "un", "une", "vous",
];
const ES: &[&str] = &[
    "cómo", "cuál", "cuándo", "cuánto", "de", "del", "dónde", "el", "en", "es", "hola", "la", "las", "los", "mi",
    "mis", "para", "por", "puedo", "qué", "quién", "un", "una", "y", "yo",
];
const ALL: &[&[&str]] = &[EN, NL, DE, FR, ES];

fn words(language: &str) -> &'static [&'static str] {
    match language {
        "en" => EN,
        "nl" => NL,
        "de" => DE,
        "fr" => FR,
        "es" => ES,
        _ => &[],
    }
}

fn split(query: &str) -> impl Iterator<Item = &str> {
    query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// The query without its question words (lower-cased, split on anything that is not a letter or digit).
/// Question words of every language are removed.
pub fn strip(query: &str) -> String {
    split(query)
        .filter(|w| {
            let w = w.to_lowercase();
            !ALL.iter().any(|list| list.contains(&w.as_str()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The query without the question words of one analyzer language (`en`, `nl`, …; a language without
/// a list keeps every word): what the BM25 query of that language's field is made of. Only that
/// language's words go, so an English "die" survives in an English field. A query made
/// of nothing but question words is kept whole.
pub fn strip_for(language: &str, query: &str) -> String {
    let list = words(language);
    let kept: Vec<&str> = split(query).filter(|w| !list.contains(&w.to_lowercase().as_str())).collect();
    if kept.is_empty() { query.to_string() } else { kept.join(" ") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_topic_of_a_question() {
        assert_eq!(
            super::strip("How many working days does delivery to Belgium take?"),
            "working days delivery Belgium take"
        );
        assert_eq!(super::strip("Hoe lang duurt de levering?"), "lang duurt levering");
        assert_eq!(super::strip("¿Cómo puedo devolver una lámpara?"), "devolver lámpara");
    }

    #[test]
    fn strips_one_language_for_its_field() {
        assert_eq!(super::strip_for("en", "Why does my process die?"), "process die");
        assert_eq!(super::strip_for("nl", "Hoe lang duurt de levering?"), "lang duurt levering");
        assert_eq!(super::strip_for("it", "Come posso restituire?"), "Come posso restituire");
        assert_eq!(super::strip_for("en", "How do I?"), "How do I?");
    }
}
