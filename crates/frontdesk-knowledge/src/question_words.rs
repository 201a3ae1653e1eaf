//! Words that carry the form of a question, not its topic ("how many … does"), in the languages
//! the assistant speaks. Query-term coverage ignores them: a help center rarely contains "how" or
//! "does", and counting them would make every question look half unanswered.

const WORDS: &[&str] = &[
    // English
    "a", "about", "am", "an", "and", "any", "are", "can", "could", "did", "do", "does", "for", "from", "get", "have",
    "hello", "hi", "how", "i", "if", "in", "is", "it", "me", "much", "many", "my", "of", "on", "or", "please",
    "should", "the", "there", "to", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
    "your", // Dutch
    "aan", "als", "de", "dat", "die", "een", "en", "hallo", "het", "hoe", "hoeveel", "ik", "in", "is", "je", "kan",
    "kun", "kunnen", "met", "mijn", "of", "op", "te", "u", "uw", "van", "voor", "waar", "wanneer", "wat", "welke",
    "wie", "wij", "zijn", // German
    "bei", "bitte", "das", "dem", "den", "der", "die", "ein", "eine", "einen", "ich", "ist", "kann", "können", "mein",
    "meine", "mit", "sie", "und", "von", "wann", "was", "welche", "wer", "wie", "wieviel", "wo", "zu",
    // French
    "au", "bonjour", "ce", "comment", "de", "des", "du", "est", "et", "je", "la", "le", "les", "ma", "mes", "mon", "où",
    "peut", "puis", "pour", "quand", "que", "quel", "quelle", "qui", "un", "une", "vous", // Spanish
    "cómo", "cuál", "cuándo", "cuánto", "de", "del", "dónde", "el", "en", "es", "hola", "la", "las", "los", "mi",
    "mis", "para", "por", "puedo", "qué", "quién", "un", "una", "y", "yo",
];

/// The query without its question words (lower-cased, split on anything that is not a letter or digit).
pub fn strip(query: &str) -> String {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !WORDS.contains(&w.to_lowercase().as_str()))
        .collect::<Vec<_>>()
        .join(" ")
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
}
