//! The offline provider: the answer is made of the passages' own sentences (those that share the
//! most words with the question), in their order, each group followed by its citation marker.
//! It copies text, never writes any, so it cannot invent; it is deterministic.

use super::{Provider, ProviderError};
use crate::lang::{fold, is_stopword};
use crate::neutralize::SENTINEL;
use crate::prompt::{Prompt, PromptPassage};
use async_trait::async_trait;
use tokio::sync::mpsc::Sender;

/// How many of the best passages the answer may draw on.
const MAX_SOURCE_PASSAGES: usize = 2;
/// How many units (sentences, list items, code blocks) an answer takes at most, lists aside.
const MAX_UNITS: usize = 3;
/// A list introduced by a chosen sentence ("We accept:") comes along, up to this many items.
const MAX_LIST_ITEMS: usize = 10;

/// Builds answers from the passages themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extractive;

impl Extractive {
    pub fn new() -> Self {
        Extractive
    }

    /// The answer for a prompt, synchronously: Markdown with `[Pn]` markers, or the sentinel when
    /// there is no passage with text.
    pub fn compose(prompt: &Prompt) -> String {
        let terms = terms(&prompt.question);
        let sources: Vec<(&PromptPassage, Vec<Unit>)> = prompt
            .passages
            .iter()
            .map(|p| (p, units(&p.passage.text)))
            .filter(|(_, u)| !u.is_empty())
            .take(MAX_SOURCE_PASSAGES)
            .collect();
        let Some((_, first_units)) = sources.first() else { return SENTINEL.to_owned() };

        // Score every unit; a lower-ranked passage counts a little less.
        let mut scored: Vec<(f32, usize, usize)> = Vec::new();
        for (pi, (_, us)) in sources.iter().enumerate() {
            let weight = if pi == 0 { 1.0 } else { 0.9 };
            for (ui, u) in us.iter().enumerate() {
                let s = overlap(&terms, &u.text) * weight;
                if s > 0.0 {
                    scored.push((s, pi, ui));
                }
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

        let mut chosen: Vec<Vec<usize>> = vec![Vec::new(); sources.len()];
        match scored.first() {
            Some(&(best, best_pi, _)) => {
                // Within the best unit's passage, units near its score; from another passage only
                // close rivals.
                for &(s, pi, ui) in scored.iter().take(MAX_UNITS) {
                    let bar = if pi == best_pi { 0.6 } else { 0.8 };
                    if s >= best * bar {
                        chosen[pi].push(ui);
                    }
                }
            }
            // Nothing in common with the question's words (a paraphrase): the best passage's lead.
            None => chosen[0].extend((0..first_units.len()).filter(|i| first_units[*i].kind != Kind::Code).take(2)),
        }
        if chosen.iter().all(Vec::is_empty) {
            chosen[0].push(0);
        }
        // A short pick gets the sentence after it, for context.
        let total: usize = chosen
            .iter()
            .enumerate()
            .flat_map(|(pi, c)| c.iter().map(move |ui| (pi, *ui)))
            .fold(0, |acc, (pi, ui)| acc + sources.get(pi).and_then(|s| s.1.get(ui)).map_or(0, |u| u.text.len()));
        if total < 160
            && let Some(&(_, pi, ui)) = scored.first()
            && let Some(next) = sources[pi].1.get(ui + 1)
            && next.kind == Kind::Sentence
            && next.block == sources[pi].1[ui].block
        {
            chosen[pi].push(ui + 1);
        }
        // A chosen sentence that introduces a list brings the list.
        for (pi, c) in chosen.iter_mut().enumerate() {
            let us = &sources[pi].1;
            let intro: Vec<usize> = c.iter().copied().filter(|ui| us[*ui].text.trim_end().ends_with(':')).collect();
            for ui in intro {
                c.extend((ui + 1..us.len()).take_while(|j| us[*j].kind == Kind::ListItem).take(MAX_LIST_ITEMS));
            }
            c.sort_unstable();
            c.dedup();
        }

        // The passage holding the best unit comes first.
        let mut order: Vec<usize> = (0..sources.len()).collect();
        if let Some(&(_, best_pi, _)) = scored.first() {
            order.sort_by_key(|pi| *pi != best_pi);
        }
        let mut out = Vec::new();
        for pi in order {
            let c = &chosen[pi];
            if c.is_empty() {
                continue;
            }
            let (p, us) = &sources[pi];
            out.push(render(us, c, &p.id));
        }
        out.join("\n\n")
    }
}

#[async_trait]
impl Provider for Extractive {
    async fn generate(&self, prompt: &Prompt, deltas: Option<Sender<String>>) -> Result<String, ProviderError> {
        let answer = Extractive::compose(prompt);
        if let Some(tx) = deltas {
            // A closed receiver only means nobody is watching.
            let _ = tx.send(answer.clone()).await;
        }
        Ok(answer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sentence,
    ListItem,
    Code,
    Table,
}

#[derive(Debug, Clone)]
struct Unit {
    kind: Kind,
    /// The Markdown of the unit (a list item keeps its marker).
    text: String,
    /// Which paragraph, list, code block or table it belongs to.
    block: usize,
}

/// The question's content words, folded.
fn terms(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in fold(question).split_whitespace() {
        if w.chars().count() >= 2 && !is_stopword(w) && !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

/// Two folded words match when equal, or when they share a prefix of at least three letters that
/// covers all but two letters of the shorter one (`ship`/`shipping`, `delivery`/`deliveries`).
fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 3 && common + 2 >= shorter && shorter >= 3
}

/// How much of the question a unit covers: the matched terms, longer terms weighing more.
fn overlap(terms: &[String], text: &str) -> f32 {
    let folded = fold(text);
    let words: Vec<&str> = folded.split_whitespace().collect();
    terms
        .iter()
        .filter(|t| words.iter().any(|w| same_word(t, w)))
        .map(|t| 1.0 + (t.chars().count().min(12) as f32) / 12.0)
        .sum()
}

fn list_marker(line: &str) -> Option<usize> {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    if t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") {
        return Some(indent + 2);
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) && (t[digits..].starts_with(". ") || t[digits..].starts_with(") ")) {
        return Some(indent + digits + 2);
    }
    None
}

/// Splits passage Markdown into units: sentences of paragraphs, list items, code blocks, tables.
/// Headings are left out (the answer states facts, not section titles).
fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut block = 0;
    let mut paragraph = String::new();
    let mut lines = text.lines().peekable();
    let flush = |paragraph: &mut String, out: &mut Vec<Unit>, block: &mut usize| {
        if !paragraph.trim().is_empty() {
            for s in sentences(paragraph) {
                out.push(Unit { kind: Kind::Sentence, text: s, block: *block });
            }
            *block += 1;
        }
        paragraph.clear();
    };
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            flush(&mut paragraph, &mut out, &mut block);
            let fence = &t[..3];
            let mut code = vec![line.to_owned()];
            for l in lines.by_ref() {
                code.push(l.to_owned());
                if l.trim().starts_with(fence) {
                    break;
                }
            }
            if code.len() == 1 || !code.last().is_some_and(|l| l.trim().starts_with(fence)) {
                code.push(fence.to_owned());
            }
            out.push(Unit { kind: Kind::Code, text: code.join("\n"), block });
            block += 1;
        } else if t.is_empty() || t.starts_with('#') {
            // A blank line or a heading ends the paragraph (headings themselves are left out).
            flush(&mut paragraph, &mut out, &mut block);
        } else if t.starts_with('|') {
            flush(&mut paragraph, &mut out, &mut block);
            let mut rows = vec![t.to_owned()];
            while let Some(next) = lines.peek().filter(|l| l.trim().starts_with('|')) {
                rows.push(next.trim().to_owned());
                lines.next();
            }
            out.push(Unit { kind: Kind::Table, text: rows.join("\n"), block });
            block += 1;
        } else if list_marker(line).is_some() {
            flush(&mut paragraph, &mut out, &mut block);
            let mut item = line.trim().to_owned();
            // Continuation lines of the item (indented, not a new item).
            while let Some(next) =
                lines.peek().filter(|l| !l.trim().is_empty() && list_marker(l).is_none() && l.starts_with([' ', '\t']))
            {
                item.push(' ');
                item.push_str(next.trim());
                lines.next();
            }
            out.push(Unit { kind: Kind::ListItem, text: item, block });
            if lines.peek().is_none_or(|l| list_marker(l).is_none()) {
                block += 1;
            }
        } else {
            let t = t.strip_prefix('>').map(str::trim).unwrap_or(t);
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(t);
        }
    }
    flush(&mut paragraph, &mut out, &mut block);
    out
}

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "nr", "approx", "ca", "incl", "excl", "z.b", "bzw",
    "usw", "d.h", "u.a", "bijv", "o.a", "m.a.w", "resp", "p.ej", "etc", "cf", "art", "fig", "min", "max", "tel",
];

/// Splits a paragraph into sentences at `.`, `!`, `?` followed by a space and a capital, digit or
/// quote, keeping abbreviations (`e.g.`, `z.B.`) whole.
fn sentences(paragraph: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let Some(&(_, space)) = chars.get(k + 1) else { continue };
        if !space.is_whitespace() {
            continue;
        }
        let next = chars[k + 1..].iter().map(|(_, c)| *c).find(|c| !c.is_whitespace());
        if !next.is_some_and(|n| {
            n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '“' | '*' | '`' | '[' | '(' | '¿' | '¡')
        }) {
            continue;
        }
        if c == '.' {
            let word = paragraph[start..i].rsplit(char::is_whitespace).next().unwrap_or("").to_lowercase();
            let word = word.trim_start_matches(['(', '"', '“']);
            if ABBREVIATIONS.contains(&word) || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic)) {
                continue;
            }
        }
        let end = i + c.len_utf8();
        let s = paragraph[start..end].trim();
        if !s.is_empty() {
            out.push(s.to_owned());
        }
        start = end;
    }
    let rest = paragraph[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// The chosen units of one passage as Markdown, with the passage's citation marker at the end of
/// its last line of text.
fn render(units: &[Unit], chosen: &[usize], id: &str) -> String {
    let mut blocks: Vec<(Kind, usize, Vec<&str>)> = Vec::new();
    for &ui in chosen {
        let Some(u) = units.get(ui) else { continue };
        match blocks.last_mut() {
            Some((kind, block, texts)) if *block == u.block && *kind == u.kind => texts.push(&u.text),
            _ => blocks.push((u.kind, u.block, vec![&u.text])),
        }
    }
    let mut parts: Vec<String> = blocks
        .iter()
        .map(|(kind, _, texts)| match kind {
            Kind::Sentence => texts.join(" "),
            Kind::ListItem | Kind::Code | Kind::Table => texts.join("\n"),
        })
        .collect();
    let marker = format!("[{id}]");
    match (blocks.last().map(|b| b.0), parts.last_mut()) {
        (Some(Kind::Sentence | Kind::ListItem), Some(last)) => {
            last.push(' ');
            last.push_str(&marker);
        }
        _ => parts.push(marker),
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::prompt::build_prompt;
    use crate::test_support::passage;
    use frontdesk_core::knowledge::Retrieval;

    fn answer(question: &str, passages: &[(&str, &str)]) -> String {
        let retrieval =
            Retrieval { passages: passages.iter().map(|(t, x)| passage(t, x)).collect(), ..Retrieval::default() };
        Extractive::compose(&build_prompt("", question, Lang::En, &[], &retrieval, 0))
    }

    #[test]
    fn picks_the_relevant_sentences_and_cites_them() {
        let text = "We ship from Rotterdam. Orders placed before 14:00 ship the same day. \
                    Returns are accepted within 30 days of delivery. Gift cards cannot be returned.";
        let a = answer("How many days do I have to return an order?", &[("Shipping and returns", text)]);
        assert!(a.contains("Returns are accepted within 30 days of delivery."), "{a}");
        assert!(a.ends_with("[P1]"), "{a}");
        assert!(!a.contains("Rotterdam"), "{a}");
    }

    #[test]
    fn every_sentence_comes_from_a_passage() {
        let p1 = "Standard delivery takes 2–3 working days. Express delivery arrives the next day.";
        let p2 = "Delivery to Belgium takes 3–4 days. We do not deliver to islands.";
        let a = answer("How long does delivery take?", &[("Delivery", p1), ("Belgium", p2)]);
        let stripped = a.replace(" [P1]", "").replace(" [P2]", "").replace("[P1]", "").replace("[P2]", "");
        for piece in stripped.split("\n\n").flat_map(sentences) {
            assert!(p1.contains(&piece) || p2.contains(&piece), "{piece:?} is not from a passage in {a}");
        }
        assert!(a.contains("[P1]"), "{a}");
    }

    #[test]
    fn an_introduced_list_comes_along() {
        let text = "## Payment\nWe accept these payment methods:\n\n- iDEAL\n- Visa and Mastercard\n- PayPal\n\nInvoices are sent by email.";
        let a = answer("Which payment methods do you accept?", &[("Payment", text)]);
        assert!(a.contains("We accept these payment methods:\n\n- iDEAL\n- Visa and Mastercard\n- PayPal [P1]"), "{a}");
        assert!(!a.contains("## Payment"), "{a}");
    }

    #[test]
    fn falls_back_to_the_lead_and_is_deterministic() {
        let text = "Our help desk is open on weekdays. Phone support starts at nine. Chat is always on.";
        let a = answer("zzz qqq", &[("Hours", text)]);
        assert_eq!(a, "Our help desk is open on weekdays. Phone support starts at nine. [P1]");
        assert_eq!(a, answer("zzz qqq", &[("Hours", text)]));
    }

    #[test]
    fn no_passages_means_the_sentinel() {
        assert_eq!(answer("anything", &[]), SENTINEL);
        assert_eq!(answer("anything", &[("Empty", "  \n ")]), SENTINEL);
    }

    #[test]
    fn sentences_respect_abbreviations_and_decimals() {
        assert_eq!(
            sentences("Pay e.g. with iDEAL. It costs 1.50 EUR! Really? yes."),
            ["Pay e.g. with iDEAL.", "It costs 1.50 EUR!", "Really? yes."]
        );
    }

    #[test]
    fn code_blocks_and_tables_stay_whole() {
        let u = units("Run this:\n```sh\nfrontdesk serve\n```\n| a | b |\n|---|---|\n| 1 | 2 |");
        let kinds: Vec<Kind> = u.iter().map(|u| u.kind).collect();
        assert_eq!(kinds, [Kind::Sentence, Kind::Code, Kind::Table]);
        assert_eq!(u[1].text, "```sh\nfrontdesk serve\n```");
    }
}
