//! The five languages the fixed texts exist in, how a visitor's language is picked, and the
//! text folding (lowercase, no accents, punctuation to spaces) the matchers work on.

use serde::{Deserialize, Serialize};

/// A language the assistant's fixed texts are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Nl,
    De,
    Fr,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Nl, Lang::De, Lang::Fr, Lang::Es];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    /// The language's English name, as the prompt names it to the model.
    pub fn english_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Nl => "Dutch",
            Lang::De => "German",
            Lang::Fr => "French",
            Lang::Es => "Spanish",
        }
    }

    /// `nl`, `nl-BE`, `NL_nl`, `de-CH` … → the language; anything else → `None`.
    pub fn from_locale(locale: &str) -> Option<Lang> {
        let primary = locale.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// A rough guess from the words of a short text (function words and a few letters that
    /// only one of the five languages uses). `None` when nothing stands out.
    pub fn detect(text: &str) -> Option<Lang> {
        let mut scores = [0u32; 5];
        for c in text.chars() {
            match c {
                'ß' | 'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü' => scores[2] += 2,
                'ñ' | 'Ñ' | '¿' | '¡' => scores[4] += 2,
                'ç' | 'è' | 'ê' | 'à' | 'â' | 'î' | 'ô' | 'û' | 'ë' | 'œ' => scores[3] += 1,
                _ => {}
            }
        }
        let folded = fold(text);
        for word in folded.split_whitespace() {
            for (i, list) in STOPWORDS.iter().enumerate() {
                if list.contains(&word) {
                    scores[i] += 1;
                }
            }
        }
        let best = *scores.iter().max()?;
        if best == 0 || scores.iter().filter(|s| **s == best).count() > 1 {
            return None;
        }
        let index = scores.iter().position(|s| *s == best)?;
        Lang::ALL.get(index).copied()
    }

    /// The visitor's locale when it is one of ours, else a guess from the text, else English.
    pub fn pick(locale: Option<&str>, text: &str) -> Lang {
        locale.and_then(Lang::from_locale).or_else(|| Lang::detect(text)).unwrap_or_default()
    }
}

/// Function words per language, in [`Lang::ALL`] order, folded. Words two languages share
/// (`de`, `la`, `en`, `die` …) are left out where they would mislead.
const STOPWORDS: [&[&str]; 5] = [
    &[
        "the", "is", "are", "how", "what", "can", "do", "does", "my", "i", "you", "to", "of", "and", "where", "when",
        "why", "it", "with", "for", "which", "your", "have", "there", "this", "want", "please", "would", "an", "a",
    ],
    &[
        "het",
        "een",
        "hoe",
        "wat",
        "kan",
        "ik",
        "mijn",
        "je",
        "jullie",
        "niet",
        "van",
        "waar",
        "wanneer",
        "waarom",
        "voor",
        "zijn",
        "wil",
        "mag",
        "bij",
        "ook",
        "dat",
        "graag",
        "hebben",
        "heb",
        "u",
        "welke",
        "kunnen",
        "naar",
        "bestelling",
    ],
    &[
        "der",
        "das",
        "ist",
        "wie",
        "was",
        "kann",
        "ich",
        "mein",
        "meine",
        "nicht",
        "und",
        "wo",
        "wann",
        "warum",
        "mit",
        "fur",
        "ein",
        "eine",
        "einen",
        "auch",
        "dass",
        "sie",
        "bitte",
        "meiner",
        "ihr",
        "haben",
        "welche",
        "konnen",
        "mochte",
        "bestellung",
    ],
    &[
        "le", "les", "est", "comment", "quoi", "je", "mon", "ma", "mes", "pas", "et", "ou", "quand", "pourquoi",
        "avec", "pour", "une", "des", "du", "vous", "puis", "ce", "sont", "ai", "votre", "quel", "quelle", "j",
        "commande", "peux",
    ],
    &[
        "el", "los", "las", "es", "como", "que", "puedo", "yo", "mi", "mis", "y", "donde", "cuando", "por", "con",
        "para", "una", "del", "quiero", "hay", "su", "tengo", "se", "pedido", "cual", "esta", "estoy", "usted",
        "necesito", "al",
    ],
];

/// Whether a folded word is a function word in one of the five languages (or a question word
/// that carries no topic).
pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.iter().any(|list| list.contains(&word))
        || matches!(
            word,
            "de" | "la"
                | "en"
                | "die"
                | "den"
                | "dem"
                | "des"
                | "er"
                | "te"
                | "op"
                | "in"
                | "on"
                | "at"
                | "be"
                | "or"
                | "if"
                | "so"
                | "me"
                | "we"
                | "our"
                | "us"
                | "am"
                | "was"
                | "were"
                | "will"
                | "could"
                | "should"
                | "any"
                | "get"
                | "does"
                | "did"
                | "who"
                | "whom"
                | "wer"
                | "wie"
                | "qui"
                | "quien"
                | "lo"
                | "le"
                | "les"
                | "nos"
                | "nous"
                | "ons"
                | "onze"
                | "uns"
                | "unser"
                | "il"
                | "elle"
                | "ist"
                | "sind"
                | "zijn"
                | "heeft"
                | "hat"
                | "a"
                | "e"
                | "o"
                | "u"
                | "y"
                | "its"
                | "that"
                | "from"
                | "about"
                | "over"
                | "uber"
                | "sur"
                | "sobre"
                | "om"
                | "um"
                | "als"
                | "si"
                | "ya"
                | "al"
        )
}

/// Lowercases, folds accents and ligatures to ASCII where a Latin letter has one, and turns
/// punctuation (apostrophes and hyphens included) into spaces; runs of spaces collapse to one.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        for lower in c.to_lowercase() {
            let mapped: &str = match lower {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
                'æ' => "ae",
                'ç' | 'ć' | 'č' => "c",
                'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
                'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
                'ñ' | 'ń' | 'ň' => "n",
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
                'œ' => "oe",
                'ß' => "ss",
                'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
                'ý' | 'ÿ' => "y",
                'ž' | 'ź' | 'ż' => "z",
                'š' | 'ś' => "s",
                'ł' => "l",
                'ř' => "r",
                'ď' => "d",
                'ť' => "t",
                c if c.is_alphanumeric() => {
                    if pending_space && !out.is_empty() {
                        out.push(' ');
                    }
                    pending_space = false;
                    out.push(c);
                    continue;
                }
                _ => {
                    pending_space = true;
                    continue;
                }
            };
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push_str(mapped);
        }
    }
    out
}

/// The fixed texts the visitor sees, in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    /// The honest "not in our help center" answer, offering a person.
    pub decline_offer: &'static str,
    /// The same when the site hands low-confidence questions to a person at once.
    pub decline_escalate: &'static str,
    /// The system message when a person takes over.
    pub handoff: &'static str,
    /// The quick reply that asks for a person.
    pub talk_to_person: &'static str,
    /// The "thinking" stage shown while the knowledge base is searched.
    pub searching: &'static str,
}

impl Lang {
    pub fn texts(self) -> Texts {
        match self {
            Lang::En => Texts {
                decline_offer: "I couldn't find the answer to this in our help center, and I'd rather not guess. \
                                Would you like to talk to a person?",
                decline_escalate: "I couldn't find the answer to this in our help center, so a person will take \
                                   over — please hold on.",
                handoff: "A person will take over — please hold on.",
                talk_to_person: "Talk to a person",
                searching: "Searching the help center…",
            },
            Lang::Nl => Texts {
                decline_offer: "Ik kon het antwoord hierop niet vinden in ons helpcentrum, en ik wil niet gokken. \
                                Wil je met een medewerker spreken?",
                decline_escalate: "Ik kon het antwoord hierop niet vinden in ons helpcentrum, dus een medewerker \
                                   neemt het gesprek over — een ogenblik geduld.",
                handoff: "Een medewerker neemt het gesprek over — een ogenblik geduld.",
                talk_to_person: "Met een medewerker spreken",
                searching: "Het helpcentrum doorzoeken…",
            },
            Lang::De => Texts {
                decline_offer: "Ich konnte die Antwort darauf in unserem Hilfe-Center nicht finden und möchte nicht \
                                raten. Möchten Sie mit einem Mitarbeiter sprechen?",
                decline_escalate: "Ich konnte die Antwort darauf in unserem Hilfe-Center nicht finden, deshalb \
                                   übernimmt gleich ein Mitarbeiter — bitte haben Sie einen Moment Geduld.",
                handoff: "Ein Mitarbeiter übernimmt gleich — bitte haben Sie einen Moment Geduld.",
                talk_to_person: "Mit einem Mitarbeiter sprechen",
                searching: "Das Hilfe-Center wird durchsucht…",
            },
            Lang::Fr => Texts {
                decline_offer: "Je n'ai pas trouvé la réponse dans notre centre d'aide et je préfère ne pas deviner. \
                                Voulez-vous parler à une personne ?",
                decline_escalate: "Je n'ai pas trouvé la réponse dans notre centre d'aide : une personne va prendre \
                                   le relais — merci de patienter.",
                handoff: "Une personne va prendre le relais — merci de patienter.",
                talk_to_person: "Parler à une personne",
                searching: "Recherche dans le centre d'aide…",
            },
            Lang::Es => Texts {
                decline_offer: "No he encontrado la respuesta en nuestro centro de ayuda y prefiero no adivinar. \
                                ¿Quieres hablar con una persona?",
                decline_escalate: "No he encontrado la respuesta en nuestro centro de ayuda, así que una persona \
                                   continuará la conversación — espera un momento, por favor.",
                handoff: "Una persona continuará la conversación — espera un momento, por favor.",
                talk_to_person: "Hablar con una persona",
                searching: "Buscando en el centro de ayuda…",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_languages() {
        assert_eq!(Lang::from_locale("nl-BE"), Some(Lang::Nl));
        assert_eq!(Lang::from_locale("DE_ch"), Some(Lang::De));
        assert_eq!(Lang::from_locale("fr"), Some(Lang::Fr));
        assert_eq!(Lang::from_locale("it"), None);
        assert_eq!(Lang::from_locale(""), None);
    }

    #[test]
    fn detects_the_language_of_short_questions() {
        assert_eq!(Lang::detect("How do I return my order?"), Some(Lang::En));
        assert_eq!(Lang::detect("Hoe kan ik mijn bestelling terugsturen?"), Some(Lang::Nl));
        assert_eq!(Lang::detect("Wie kann ich meine Bestellung zurückschicken?"), Some(Lang::De));
        assert_eq!(Lang::detect("Comment puis-je retourner ma commande ?"), Some(Lang::Fr));
        assert_eq!(Lang::detect("¿Cómo puedo devolver mi pedido?"), Some(Lang::Es));
        assert_eq!(Lang::detect("12345"), None);
    }

    #[test]
    fn pick_prefers_the_locale_then_the_text_then_english() {
        assert_eq!(Lang::pick(Some("es-MX"), "How do I return my order?"), Lang::Es);
        assert_eq!(Lang::pick(Some("it"), "Hoe kan ik mijn bestelling terugsturen?"), Lang::Nl);
        assert_eq!(Lang::pick(None, "???"), Lang::En);
    }

    #[test]
    fn fold_lowercases_strips_accents_and_punctuation() {
        assert_eq!(fold("Je veux parler à quelqu'un !"), "je veux parler a quelqu un");
        assert_eq!(fold("Ich möchte mit einem Mitarbeiter sprechen."), "ich mochte mit einem mitarbeiter sprechen");
        assert_eq!(fold("¿Puedo hablar con alguien?"), "puedo hablar con alguien");
        assert_eq!(fold("  Straße—Œuvre  "), "strasse oeuvre");
    }
}
