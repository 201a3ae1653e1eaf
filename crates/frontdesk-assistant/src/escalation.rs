//! Escalation detection: an explicit request for a person (English, Dutch, German, French,
//! Spanish), or one of the site's own keywords or `/regex/` patterns.
//!
//! The built-in matcher works on folded text (lowercase, no accents, punctuation to spaces), one
//! clause at a time. A clause asks for a person when a verb of talking (or connecting) reaches a
//! word for a person — "talk to a human", "hablar con un agente", "mag ik iemand spreken" — or
//! when the clause is nothing but such a word ("human please", "Mitarbeiter bitte"). A person word
//! used as a thing ("the agent API", "human-readable") or as a role ("as an agent") does not
//! count, and neither does a negated request ("I don't want to talk to a human").

use crate::lang::{Lang, fold};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Why a conversation goes to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EscalationReason {
    /// The visitor asked for a person, in this language.
    ExplicitRequest { lang: Lang },
    /// One of the site's escalation keywords or patterns matched.
    SiteKeyword { keyword: String },
}

/// At most this many site keywords are considered.
pub const MAX_SITE_KEYWORDS: usize = 200;
/// A keyword or pattern is at most this long.
pub const MAX_KEYWORD_CHARS: usize = 200;
/// The compiled size a site's `/regex/` may take.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Is the visitor asking for a person, or did they write one of the site's keywords?
///
/// `site_keywords` are matched case- and accent-insensitively as whole words; a keyword written
/// between slashes (`/refund.*now/`) is a regular expression (case-insensitive, size-limited;
/// an invalid one is skipped — check them when saving with [`validate_keywords`]).
pub fn detect_escalation(text: &str, site_keywords: &[String]) -> Option<EscalationReason> {
    if let Some(lang) = explicit_request(text) {
        return Some(EscalationReason::ExplicitRequest { lang });
    }
    site_keyword(text, site_keywords).map(|keyword| EscalationReason::SiteKeyword { keyword })
}

/// Checks a site's keyword list: returns one message per keyword that would be ignored.
pub fn validate_keywords(keywords: &[String]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if keywords.len() > MAX_SITE_KEYWORDS {
        problems.push(format!("at most {MAX_SITE_KEYWORDS} escalation keywords"));
    }
    for keyword in keywords {
        if keyword.chars().count() > MAX_KEYWORD_CHARS {
            problems.push(format!("a keyword has at most {MAX_KEYWORD_CHARS} characters"));
        } else if let Some(pattern) = as_pattern(keyword) {
            if let Err(e) = compile_site_pattern(pattern) {
                problems.push(format!("{keyword}: {e}"));
            }
        } else if fold(keyword).is_empty() {
            problems.push(format!("{keyword:?} has no letters or digits"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn as_pattern(keyword: &str) -> Option<&str> {
    let k = keyword.trim();
    (k.len() >= 3 && k.starts_with('/') && k.ends_with('/')).then(|| &k[1..k.len() - 1])
}

fn compile_site_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(32)
        .build()
}

/// A site pattern, compiled once (a bounded cache: settings change rarely); `None` when invalid.
fn site_pattern(pattern: &str) -> Option<Regex> {
    const MAX_CACHED: usize = 2048;
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return hit;
    }
    let compiled = match compile_site_pattern(pattern) {
        Ok(re) => Some(re),
        Err(e) => {
            tracing::debug!(pattern = %pattern, error = %e, "invalid escalation pattern skipped");
            None
        }
    };
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(pattern.to_owned(), compiled.clone());
    }
    compiled
}

fn site_keyword(text: &str, keywords: &[String]) -> Option<String> {
    let folded = format!(" {} ", fold(text));
    for keyword in keywords.iter().take(MAX_SITE_KEYWORDS) {
        if keyword.chars().count() > MAX_KEYWORD_CHARS {
            continue;
        }
        let hit = match as_pattern(keyword) {
            Some(pattern) => site_pattern(pattern).is_some_and(|re| re.is_match(text)),
            None => {
                let k = fold(keyword);
                !k.is_empty() && folded.contains(&format!(" {k} "))
            }
        };
        if hit {
            return Some(keyword.clone());
        }
    }
    None
}

/// Words that make a following "person" word a thing, not a person ("agent API").
const THING_WORDS: &[&str] = &[
    "api",
    "apis",
    "sdk",
    "sdks",
    "app",
    "apps",
    "account",
    "accounts",
    "role",
    "roles",
    "rol",
    "rolle",
    "mode",
    "modus",
    "dashboard",
    "login",
    "inlog",
    "portal",
    "status",
    "permission",
    "permissions",
    "rechten",
    "rechte",
    "software",
    "docs",
    "documentation",
    "documentatie",
    "dokumentation",
    "key",
    "keys",
    "token",
    "tokens",
    "endpoint",
    "endpoints",
    "integration",
    "integratie",
    "plugin",
    "plugins",
    "license",
    "licence",
    "licentie",
    "seat",
    "seats",
    "panel",
    "interface",
    "view",
    "readable",
    "resources",
    "rights",
    "error",
    "errors",
    "version",
    "settings",
    "instellingen",
    "einstellungen",
    "config",
    "configuration",
    "library",
    "string",
    "header",
    "field",
    "bot",
    "bots",
    "model",
    "models",
    "name",
    "names",
    "id",
    "ids",
    "inbox",
    "chat",
    "widget",
    "extension",
    "module",
    "language",
    "languages",
    "race",
    "body",
    "nature",
    "anatomy",
];

/// Words that, right after a "person" word, make it a role ("medewerker worden", "agent be").
const ROLE_AFTER_WORDS: &[&str] =
    &["worden", "werden", "zijn", "sein", "be", "become", "devenir", "ser", "ausweis", "pas"];

/// Words that, right before a "person" word, make it a role ("as an agent", "als medewerker").
const ROLE_WORDS: &[&str] =
    &["as", "als", "como", "comme", "tant", "become", "becoming", "worden", "werden", "devenir"];

/// Negations that cancel a request when they stand in it or just before it.
const NEGATIONS: &[&str] = &[
    "not",
    "never",
    "dont",
    "don",
    "didn",
    "doesn",
    "won",
    "wont",
    "nunca",
    "nadie",
    "niet",
    "nooit",
    "geen",
    "nicht",
    "nie",
    "kein",
    "keinen",
    "keine",
    "keinem",
    "niemand",
    "niemanden",
    "niemandem",
    "pas",
    "jamais",
];

struct Matchers {
    /// The patterns a clause is tried with.
    requests: Vec<(Lang, Regex)>,
    /// A clause that is only a person word (with politeness): "human please".
    bare: Vec<(Lang, Regex)>,
    /// The "Talk to a person" quick replies, folded: always an explicit request.
    quick_replies: Vec<(Lang, String)>,
}

fn alt(words: &[&str]) -> String {
    words.iter().map(|w| w.replace(' ', r"\s+")).collect::<Vec<_>>().join("|")
}

fn matchers() -> &'static Matchers {
    static MATCHERS: OnceLock<Matchers> = OnceLock::new();
    MATCHERS.get_or_init(build_matchers)
}

fn build_matchers() -> Matchers {
    // English: "talk to a human", "speak with someone", "connect me to an agent", "I want a
    // real person", "is there a human I can talk to".
    let en_targets = alt(&[
        "human being",
        "human beings",
        "humans",
        "human",
        "real person",
        "person",
        "people",
        "someone",
        "somebody",
        "anyone",
        "anybody",
        "agent",
        "agents",
        "representative",
        "rep",
        "operator",
        "employee",
        "staff member",
        "staff",
        "manager",
        "supervisor",
        "customer service",
        "customer support",
        "customer care",
        "support team",
        "support staff",
        "support agent",
        "support",
        "team member",
        "advisor",
        "adviser",
        "consultant",
        "colleague",
        "sales team",
        "sales",
        "billing team",
        "your team",
        "team",
    ]);
    let en_adj = r"(?:(?:real|live|actual|human|physical|flesh and blood|proper)\s+)?";
    let en_det = r"(?:(?:a|an|the|some|your|one\s+of\s+your|any|one)\s+)?";
    let en_verbs =
        r"(?:talk|talking|speak|speaking|chat|chatting|communicate|discuss\s+this|get\s+in\s+touch|be\s+in\s+touch)";
    let en = format!(
        r"(?x)
        (?:^|\s)(?P<lead>{en_verbs})\s+(?:(?:directly|now|right\s+now|please)\s+)?(?:to|with)\s+{en_det}{en_adj}(?P<t>{en_targets})(?:\s|$)
        | (?:^|\s)(?P<lead2>connect|transfer|put|pass|forward|route|escalate|hand)\s+(?:me|this|us|my\s+chat|my\s+question|the\s+chat|the\s+conversation)?\s*(?:over\s+|through\s+|back\s+)?(?:to|with)\s+{en_det}{en_adj}(?P<t2>{en_targets})(?:\s|$)
        | (?:^|\s)(?P<lead3>i\s+(?:really\s+|just\s+)?(?:want|need|would\s+like|d\s+like|wanna|prefer|demand|request)|give\s+me|get\s+me|can\s+i\s+(?:have|get)|could\s+i\s+(?:have|get)|may\s+i\s+have)\s+(?:to\s+(?:have|get)\s+)?{en_det}{en_adj}(?P<t3>human|humans|real\s+person|person|agent|representative|operator|human\s+being|someone\s+real|live\s+agent)(?:\s|$)
        | (?:^|\s)(?P<lead4>is\s+there|are\s+there|is\s+anyone|is\s+someone|is\s+there\s+anyone|is\s+there\s+someone)\s+{en_det}{en_adj}(?P<t4>human|humans|real\s+person|person|agent|agents|people|anyone|someone|somebody|representative)?\s*(?:i|we)\s+can\s+(?:talk|speak|chat)
        | ^(?P<lead5>{en_det}{en_adj})(?P<t5>human|humans|human\s+being|person|agent|representative|real\s+person|someone)\s+(?:is\s+who\s+|is\s+what\s+)?(?:i|we)\s+(?:really\s+)?(?:want|need|would\s+like|d\s+like)(?:\s+to\s+(?:talk|speak|chat)(?:\s+(?:to|with))?)?$
        | (?:^|\s)(?P<lead6>reach|contact|call|phone|get\s+hold\s+of|get\s+through\s+to|get\s+a\s+hold\s+of)\s+{en_det}{en_adj}(?P<t6>human|humans|human\s+being|real\s+person|person|someone|somebody|agent|representative|operator)(?:\s|$)"
    );
    // Dutch: "ik wil een medewerker spreken", "mag ik iemand spreken", "kan ik met een mens
    // praten", "verbind me door met een medewerker", "met een medewerker spreken".
    let nl_targets = alt(&[
        "medewerker",
        "medewerkers",
        "medewerkster",
        "mens",
        "echt persoon",
        "echte persoon",
        "echt iemand",
        "persoon",
        "iemand",
        "klantenservice",
        "klantendienst",
        "operator",
        "agent",
        "collega",
        "adviseur",
        "servicedesk",
        "helpdesk",
        "mensen",
    ]);
    let nl_verbs = r"(?:aan\s+de\s+lijn|spreken|praten|chatten|bellen|contact|doorverbonden|doorverbinden|verbonden|verbinden|overleggen|te\s+woord\s+staan|te\s+spreken|spreek)";
    let nl_markers = r"(?:ik\s+wil|ik\s+zou\s+(?:graag|willen)|ik\s+wil\s+graag|wil\s+ik|mag\s+ik|kan\s+ik|kunt\s+u|kun\s+je|kunnen\s+jullie|kunnen\s+we|kan\s+je|graag|ik\s+moet|ik\s+wens|liefst)";
    let nl = format!(
        r"(?x)
        (?:^|\s)(?P<lead>{nl_markers})\s+(?:\S+\s+){{0,5}}?(?P<t>{nl_targets})\s+(?:\S+\s+){{0,3}}?{nl_verbs}(?:\s|$)
        | (?:^|\s)(?P<lead2>{nl_markers})\s+(?:\S+\s+){{0,3}}?{nl_verbs}\s+(?:met|aan)\s+(?:een|de|het|jullie|uw|je)?\s*(?:echte?\s+)?(?P<t2>{nl_targets})(?:\s|$)
        | (?:^|\s)(?P<lead3>verbind|verbindt|zet|breng)\s+(?:me|mij|ons)\s+(?:\S+\s+){{0,2}}?(?:door\s+)?(?:met|naar)\s+(?:een|de|het|jullie|uw|je)?\s*(?:echte?\s+)?(?P<t3>{nl_targets})(?:\s|$)
        | (?:^|\s)(?P<lead4>met)\s+(?:een|de|het|jullie|uw|je)?\s*(?:echte?\s+)?(?P<t4>{nl_targets})\s+(?:\S+\s+){{0,2}}?(?:spreken|praten|chatten)(?:\s|$)
        | (?:^|\s)(?P<lead5>ik\s+wil|ik\s+wil\s+graag|ik\s+zou\s+graag|graag|liever|ik\s+heb|ik\s+eis)\s+(?:een|de)?\s*(?:echte?\s+)?(?P<t5>medewerker|medewerkster|mens|persoon|echt\s+persoon)(?:\s+nodig)?(?:\s|$)"
    );
    // German: "ich möchte mit einem Mitarbeiter sprechen", "kann ich mit jemandem reden",
    // "verbinden Sie mich mit einem Menschen", "mit einem Mitarbeiter sprechen".
    let de_targets = alt(&[
        "mitarbeiter",
        "mitarbeiterin",
        "mitarbeitenden",
        "mitarbeitende",
        "mensch",
        "menschen",
        "echten menschen",
        "person",
        "jemand",
        "jemanden",
        "jemandem",
        "berater",
        "beraterin",
        "kundendienst",
        "kundenservice",
        "kundensupport",
        "agent",
        "agenten",
        "ansprechpartner",
        "ansprechpartnerin",
        "support",
        "kollegen",
        "kollegin",
        "operator",
        "servicemitarbeiter",
        "echten person",
    ]);
    let de_verbs = r"(?:sprechen|reden|chatten|verbinden|verbunden|telefonieren|kontakt|kontaktieren|schreiben|weitergeleitet|weiterleiten|durchstellen|sprechen\s+konnen)";
    let de_markers = r"(?:ich\s+(?:mochte|moechte|will|wurde|wuerde|hatte|haette|brauche|muss|mochte\s+gerne|wurde\s+gerne)|mochte\s+ich|will\s+ich|kann\s+ich|konnte\s+ich|koennte\s+ich|darf\s+ich|konnen\s+sie|koennen\s+sie|konnten\s+sie|kannst\s+du|bitte|gerne)";
    let de = format!(
        r"(?x)
        (?:^|\s)(?P<lead>{de_markers})\s+(?:\S+\s+){{0,5}}?(?P<t>{de_targets})\s+(?:\S+\s+){{0,3}}?{de_verbs}(?:\s|$)
        | (?:^|\s)(?P<lead2>{de_markers})\s+(?:\S+\s+){{0,3}}?{de_verbs}\s+(?:mit|zu)\s+(?:einem|einer|einen|dem|der|den|ihrem|ihren|ihrer|eurem)?\s*(?:echten?\s+|richtigen?\s+)?(?P<t2>{de_targets})(?:\s|$)
        | (?:^|\s)(?P<lead3>verbinden\s+sie\s+mich|verbinde\s+mich|verbindet\s+mich|stellen\s+sie\s+mich|leiten\s+sie\s+mich)\s+(?:\S+\s+){{0,2}}?(?:mit|zu|an)\s+(?:einem|einer|einen|dem|der|den|ihrem|ihren|ihrer)?\s*(?:echten?\s+)?(?P<t3>{de_targets})(?:\s|$)
        | (?:^|\s)(?P<lead4>mit)\s+(?:einem|einer|einen|dem|der|den|ihrem|ihren|ihrer)?\s*(?:echten?\s+|richtigen?\s+)?(?P<t4>{de_targets})\s+(?:\S+\s+){{0,2}}?(?:sprechen|reden|chatten)(?:\s|$)
        | (?:^|\s)(?P<lead5>ich\s+(?:brauche|will|mochte|moechte|hatte\s+gerne|haette\s+gerne|wurde\s+gerne|verlange)|geben\s+sie\s+mir)\s+(?:bitte\s+)?(?:einen|eine|ein)?\s*(?:echten?\s+|richtigen?\s+)?(?P<t5>mitarbeiter|mitarbeiterin|menschen|mensch|person|berater|beraterin|ansprechpartner)(?:\s|$)"
    );
    // French: "je veux parler à un humain", "puis-je parler à quelqu'un", "mettez-moi en
    // relation avec un conseiller". "personne" needs an article: "parler à personne" is "to nobody".
    let fr_targets = alt(&[
        "humain",
        "humains",
        "etre humain",
        "vrai humain",
        "vraie personne",
        "une personne",
        "la personne",
        "des personnes",
        "quelqu un",
        "conseiller",
        "conseillere",
        "conseillers",
        "agent",
        "agents",
        "operateur",
        "operatrice",
        "employe",
        "employee",
        "interlocuteur",
        "interlocutrice",
        "service client",
        "service clientele",
        "responsable",
        "technicien",
        "collaborateur",
        "collaboratrice",
        "support",
    ]);
    let fr_det = r"(?:(?:un|une|le|la|l|les|des|votre|vos|mon|ma|du|au|aux|a)\s+)?";
    let fr_adj = r"(?:(?:vrai|vraie|veritable|vrais)\s+)?";
    let fr = format!(
        r"(?x)
        (?:^|\s)(?P<lead>parler|discuter|echanger|communiquer|converser|chatter|m\s+entretenir)\s+(?:directement\s+|maintenant\s+)?(?:a|avec|au|aux)\s+{fr_det}{fr_adj}(?P<t>{fr_targets})(?:\s|$)
        | (?:^|\s)(?P<lead2>mettre|mettez|mets|metter|passer|passez|passe|transferer|transferez|transfere|rediriger|redirigez|connecter|connectez|joindre|contacter)\s+(?:moi|me|m)?\s*(?:en\s+(?:relation|contact)\s+)?(?:avec|a|au|vers)?\s*{fr_det}{fr_adj}(?P<t2>{fr_targets})(?:\s|$)
        | (?:^|\s)(?P<lead3>je\s+(?:veux|voudrais|souhaite|souhaiterais|demande|prefere|prefererais)|j\s+(?:aimerais|exige)|donnez\s+moi)\s+{fr_det}{fr_adj}(?P<t3>humain|vrai\s+humain|vraie\s+personne|conseiller|conseillere|agent|operateur|interlocuteur)(?:\s|$)"
    );
    // Spanish: "quiero hablar con una persona", "¿puedo hablar con alguien?", "páseme con un
    // agente", "comuníqueme con un asesor".
    let es_targets = alt(&[
        "persona real",
        "persona",
        "personas",
        "humano",
        "humanos",
        "ser humano",
        "alguien",
        "agente",
        "agentes",
        "asesor",
        "asesora",
        "operador",
        "operadora",
        "representante",
        "empleado",
        "empleada",
        "ejecutivo",
        "ejecutiva",
        "encargado",
        "encargada",
        "servicio al cliente",
        "atencion al cliente",
        "soporte",
        "supervisor",
        "responsable",
        "tecnico",
    ]);
    let es_det = r"(?:(?:un|una|el|la|los|las|algun|alguna|su|sus|al|a|uno\s+de\s+sus)\s+)?";
    let es = format!(
        r"(?x)
        (?:^|\s)(?P<lead>hablar|hable|hablo|conversar|chatear|platicar|comunicarme|comunicar|contactar|contactarme)\s+(?:directamente\s+|ahora\s+)?(?:con|a)\s+{es_det}(?:(?:verdadero|verdadera|de\s+verdad)\s+)?(?P<t>{es_targets})(?:\s|$)
        | (?:^|\s)(?P<lead2>paseme|pasame|pasen\s*me|comuniqueme|comunicame|comuniquenme|conecteme|conectame|conectenme|transfierame|transfiereme|transfieranme|ponganme|pongame|ponme)\s+(?:\S+\s+){{0,2}}?(?:con|a)\s+{es_det}(?P<t2>{es_targets})(?:\s|$)
        | (?:^|\s)(?P<lead3>quiero|quisiera|necesito|prefiero|exijo|deseo)\s+{es_det}(?P<t3>persona\s+real|humano|ser\s+humano|agente|asesor|asesora|operador|operadora|representante)(?:\s|$)"
    );

    let compile = |p: &str| Regex::new(p).expect("built-in escalation pattern");
    let bare_targets: [(Lang, &[&str]); 5] = [
        (
            Lang::En,
            &[
                "human",
                "a human",
                "human being",
                "human agent",
                "real person",
                "a real person",
                "real human",
                "a real human",
                "a person",
                "person",
                "live agent",
                "agent",
                "an agent",
                "representative",
                "a representative",
                "operator",
                "someone real",
                "customer service",
            ],
        ),
        (Lang::Nl, &["medewerker", "een medewerker", "mens", "een mens", "een echt persoon", "een echte persoon"]),
        (
            Lang::De,
            &[
                "mitarbeiter",
                "einen mitarbeiter",
                "ein mitarbeiter",
                "mensch",
                "einen menschen",
                "ein mensch",
                "menschen",
                "echter mensch",
                "einen echten menschen",
            ],
        ),
        (
            Lang::Fr,
            &["humain", "un humain", "une personne", "conseiller", "un conseiller", "un agent", "un vrai humain"],
        ),
        (
            Lang::Es,
            &[
                "humano",
                "un humano",
                "una persona",
                "persona real",
                "agente",
                "un agente",
                "asesor",
                "un asesor",
                "operador",
            ],
        ),
    ];
    let polite = r"(?:please|pls|plz|now|asap|thanks|thank\s+you|graag|alstublieft|alsjeblieft|aub|nu|bitte|jetzt|danke|svp|stp|s\s+il\s+vous\s+plait|s\s+il\s+te\s+plait|maintenant|merci|por\s+favor|porfa|ahora|gracias|hi|hello|hey|hallo|hola|bonjour|ok|okay|i\s+want|i\s+need|want|need|yes|ja|oui|si|to|with|talk\s+to|speak\s+to|je\s+veux|ik\s+wil|ich\s+will|quiero)";
    let bare = bare_targets
        .iter()
        .map(|(lang, words)| (*lang, compile(&format!(r"^(?:{polite}\s+)*(?:{})(?:\s+{polite})*$", alt(words)))))
        .collect();
    let requests = vec![
        (Lang::En, compile(&en)),
        (Lang::Nl, compile(&nl)),
        (Lang::De, compile(&de)),
        (Lang::Fr, compile(&fr)),
        (Lang::Es, compile(&es)),
    ];
    let quick_replies = Lang::ALL.into_iter().map(|l| (l, fold(l.texts().talk_to_person))).collect();
    Matchers { requests, bare, quick_replies }
}

/// The built-in detector: `Some(language)` when the text asks for a person.
pub fn explicit_request(text: &str) -> Option<Lang> {
    let m = matchers();
    let whole = fold(text);
    if let Some((lang, _)) = m.quick_replies.iter().find(|(_, q)| *q == whole) {
        return Some(*lang);
    }
    for clause in text.split(['.', '!', '?', ';', ',', '\n', '¿', '¡', '(', ')', '…']) {
        let folded = fold(clause);
        if folded.is_empty() {
            continue;
        }
        if let Some((lang, _)) = m.bare.iter().find(|(_, re)| re.is_match(&folded)) {
            return Some(*lang);
        }
        for (lang, re) in &m.requests {
            for caps in re.captures_iter(&folded) {
                if accept(&folded, &caps) {
                    return Some(*lang);
                }
            }
        }
    }
    None
}

/// The post-checks regular expressions cannot express: the person word is not a thing or a
/// role, and the request is not negated.
fn accept(clause: &str, caps: &regex::Captures<'_>) -> bool {
    let lead = ["lead", "lead2", "lead3", "lead4", "lead5", "lead6"].iter().find_map(|n| caps.name(n));
    let target = ["t", "t2", "t3", "t4", "t5", "t6"].iter().find_map(|n| caps.name(n));
    let (Some(lead), whole) = (lead, caps.get(0)) else { return false };
    let Some(whole) = whole else { return false };
    if let Some(t) = target {
        let after = clause[t.end()..].split_whitespace().next().unwrap_or("");
        if THING_WORDS.contains(&after) || ROLE_AFTER_WORDS.contains(&after) {
            return false;
        }
        let before = clause[..t.start()].split_whitespace().rev().find(|w| !is_article(w)).unwrap_or("");
        if ROLE_WORDS.contains(&before) {
            return false;
        }
    }
    // "Do I need a person to sign?" asks about a need, it does not state one.
    let word_before = clause[..lead.start()].split_whitespace().next_back().unwrap_or("");
    if matches!(word_before, "do" | "does" | "did" | "should" | "must" | "if" | "whether") {
        return false;
    }
    // The negation scope: four words before the request ("I do not want to | talk"), the
    // request itself, and a bare "no" only right before it ("no quiero | hablar").
    let before = clause[..lead.start()].split_whitespace().rev().take(4).enumerate();
    if before.into_iter().any(|(i, w)| NEGATIONS.contains(&w) || (w == "no" && i < 2)) {
        return false;
    }
    !clause[whole.start()..whole.end()].split_whitespace().any(|w| NEGATIONS.contains(&w) || w == "no")
}

fn is_article(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "een"
            | "de"
            | "het"
            | "ein"
            | "eine"
            | "einen"
            | "einem"
            | "un"
            | "une"
            | "le"
            | "la"
            | "una"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_patterns_compile() {
        assert_eq!(matchers().requests.len(), 5);
    }

    /// (sentence, the language it asks in — or `None` when it does not ask for a person).
    const TABLE: &[(&str, Option<Lang>)] = &[
        // English: requests.
        ("I want to talk to a human", Some(Lang::En)),
        ("Can I speak to a person?", Some(Lang::En)),
        ("can i speak to an agent please", Some(Lang::En)),
        ("Could I talk to someone?", Some(Lang::En)),
        ("Hi! Is there a real person I can chat with?", Some(Lang::En)),
        ("Please connect me to a live agent.", Some(Lang::En)),
        ("Transfer me to customer service", Some(Lang::En)),
        ("I need a human.", Some(Lang::En)),
        ("HUMAN PLEASE!!!", Some(Lang::En)),
        ("Agent.", Some(Lang::En)),
        ("This bot is useless, let me speak with a representative", Some(Lang::En)),
        ("I'd rather talk to a human", Some(Lang::En)),
        ("Talk to a person", Some(Lang::En)),
        ("Put me through to someone from support", Some(Lang::En)),
        ("To a human, please", Some(Lang::En)),
        ("A human I want to talk to", Some(Lang::En)),
        ("How can I reach a human?", Some(Lang::En)),
        // English: not requests.
        ("How do humans use your product?", None),
        ("Does the agent API support webhooks?", None),
        ("Can I talk to the agent API over websockets?", None),
        ("How do I add a person to my account?", None),
        ("I don't want to talk to a human, just tell me the price", None),
        ("I want to become an agent for your brand", None),
        ("Is the format human-readable?", None),
        ("Do I need a person to sign for the parcel?", None),
        ("Can someone else pick up my order?", None),
        ("How do I contact support?", None),
        ("What do your agents do?", None),
        ("Can you speak Spanish?", None),
        // Dutch.
        ("Ik wil een medewerker spreken", Some(Lang::Nl)),
        ("Mag ik iemand spreken?", Some(Lang::Nl)),
        ("Kan ik met een mens praten?", Some(Lang::Nl)),
        ("ik wil graag met een echt persoon chatten", Some(Lang::Nl)),
        ("Verbind me door met een medewerker a.u.b.", Some(Lang::Nl)),
        ("Medewerker graag", Some(Lang::Nl)),
        ("Met een medewerker spreken", Some(Lang::Nl)),
        ("Kan ik iemand aan de lijn krijgen?", Some(Lang::Nl)),
        ("Ik wil geen bot, ik wil een mens spreken", Some(Lang::Nl)),
        ("Hoe kan ik als medewerker inloggen?", None),
        ("Kan een medewerker mijn bestelling annuleren?", None),
        ("Ik wil niet met een medewerker spreken", None),
        ("Welke talen spreken jullie medewerkers?", None),
        ("Ik wil medewerker worden bij jullie", None),
        // German.
        ("Ich möchte mit einem Mitarbeiter sprechen", Some(Lang::De)),
        ("Kann ich mit jemandem reden?", Some(Lang::De)),
        ("Bitte verbinden Sie mich mit einem Menschen", Some(Lang::De)),
        ("Mitarbeiter bitte!", Some(Lang::De)),
        ("Ich würde gerne mit einer echten Person sprechen.", Some(Lang::De)),
        ("MIT EINEM MITARBEITER SPRECHEN", Some(Lang::De)),
        ("Ich brauche einen Mitarbeiter", Some(Lang::De)),
        ("Wie sprechen Menschen mit Ihrem Bot?", None),
        ("Kann ich als Mitarbeiter mit der API sprechen?", None),
        ("Ich möchte nicht mit einem Mitarbeiter sprechen", None),
        ("Wie viele Mitarbeiter haben Sie?", None),
        ("Ich will Mitarbeiter werden", None),
        // French.
        ("Je veux parler à un humain", Some(Lang::Fr)),
        ("je voudrais parler a un conseiller", Some(Lang::Fr)),
        ("Puis-je parler à quelqu'un ?", Some(Lang::Fr)),
        ("Mettez-moi en relation avec un agent, s'il vous plaît", Some(Lang::Fr)),
        ("Un humain svp", Some(Lang::Fr)),
        ("J'aimerais discuter avec une vraie personne", Some(Lang::Fr)),
        ("Parler à une personne", Some(Lang::Fr)),
        ("Je voudrais un humain", Some(Lang::Fr)),
        ("Je ne veux parler à personne", None),
        ("Comment les humains utilisent-ils votre API ?", None),
        ("L'agent API prend-il en charge les webhooks ?", None),
        ("Je veux parler de mon agent immobilier", None),
        // Spanish.
        ("Quiero hablar con una persona", Some(Lang::Es)),
        ("Quiero hablar con un agente", Some(Lang::Es)),
        ("¿Puedo hablar con alguien?", Some(Lang::Es)),
        ("Páseme con un asesor, por favor", Some(Lang::Es)),
        ("Necesito hablar con un ser humano", Some(Lang::Es)),
        ("Hablar con una persona", Some(Lang::Es)),
        ("un agente por favor", Some(Lang::Es)),
        ("Quisiera hablar con alguien", Some(Lang::Es)),
        ("No quiero hablar con un agente", None),
        ("¿Cómo hablan los humanos con el bot?", None),
        ("¿La API de agentes admite webhooks?", None),
        ("¿Puede otra persona recoger mi pedido?", None),
    ];

    #[test]
    fn explicit_requests_in_five_languages() {
        assert!(TABLE.len() >= 40);
        let mut wrong = Vec::new();
        for (sentence, expected) in TABLE {
            let got = explicit_request(sentence);
            if got != *expected {
                wrong.push(format!("{sentence:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), TABLE.len(), wrong.join("\n"));
    }

    #[test]
    fn every_talk_to_a_person_quick_reply_escalates() {
        for lang in Lang::ALL {
            assert_eq!(explicit_request(lang.texts().talk_to_person), Some(lang), "{lang:?}");
            assert_eq!(
                detect_escalation(lang.texts().talk_to_person, &[]),
                Some(EscalationReason::ExplicitRequest { lang })
            );
        }
    }

    #[test]
    fn site_keywords_are_words_or_slash_patterns() {
        let kw = vec!["refund now".to_owned(), "/chargeback|lawyer/".to_owned(), "Kündigung".to_owned()];
        assert_eq!(
            detect_escalation("I want a REFUND NOW!", &kw),
            Some(EscalationReason::SiteKeyword { keyword: "refund now".to_owned() })
        );
        assert_eq!(
            detect_escalation("My Lawyer will call", &kw),
            Some(EscalationReason::SiteKeyword { keyword: "/chargeback|lawyer/".to_owned() })
        );
        assert!(detect_escalation("Wie geht die kundigung?", &kw).is_some(), "accent-insensitive");
        assert_eq!(detect_escalation("refunds nowhere", &kw), None, "whole words only");
        assert_eq!(detect_escalation("anything", &["/(/".to_owned()]), None, "invalid patterns are skipped");
    }

    #[test]
    fn keyword_validation_reports_problems() {
        assert!(validate_keywords(&["ok".to_owned(), "/a+b/".to_owned()]).is_ok());
        let errs = validate_keywords(&["/(/".to_owned(), "!!!".to_owned(), "x".repeat(300)]).err().unwrap_or_default();
        assert_eq!(errs.len(), 3, "{errs:?}");
        // A pattern too large to compile within the size limit.
        assert!(validate_keywords(&["/(\\w{50}){50}/".to_owned()]).is_err());
    }
}
