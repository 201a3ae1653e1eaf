//! Knowledge-base use cases: validated article edits, and the Markdown-with-front-matter file
//! format that `frontdesk kb import` / `export` read and write.

use crate::error::CoreError;
use crate::ids::{OrgId, SiteId};
use crate::knowledge::{Article, ArticleId, ArticleStatus};
use crate::ports::{Clock, Entropy};
use crate::store::{ArticleFilter, Store, StoreError};
use crate::validate;
use std::sync::Arc;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 200_000;
pub const MAX_TAGS: usize = 20;

/// The editable fields of an article.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArticleDraft {
    pub title: String,
    pub body: String,
    pub locale: Option<String>,
    pub tags: Vec<String>,
    pub status: Option<ArticleStatus>,
    pub url: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field: field.to_owned(), message: message.into() }
}

/// Checks and normalizes a draft: title and body required, locale defaulting to `en`.
pub fn validate_draft(draft: &ArticleDraft) -> Result<ArticleDraft, CoreError> {
    let title = validate::short_text("title", &draft.title, MAX_TITLE_CHARS)?;
    let body = draft.body.replace("\r\n", "\n");
    let body = body.trim().to_owned();
    if body.is_empty() {
        return Err(invalid("body", "an article needs a body"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(invalid("body", format!("at most {MAX_BODY_CHARS} characters")));
    }
    let locale = validate::locale(draft.locale.as_deref().unwrap_or("en"))?.to_lowercase();
    if draft.tags.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut tags = Vec::new();
    for tag in &draft.tags {
        let tag = validate::short_text("tags", tag, 40)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let url = match draft.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) if (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048 => Some(u.to_owned()),
        Some(_) => return Err(invalid("url", "an http(s) URL of at most 2048 bytes")),
        None => None,
    };
    Ok(ArticleDraft { title, body, locale: Some(locale), tags, status: draft.status, url })
}

#[derive(Clone)]
pub struct KnowledgeBase {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
}

impl KnowledgeBase {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        KnowledgeBase { store, clock, entropy }
    }

    pub async fn create(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        draft: &ArticleDraft,
        external_key: Option<String>,
    ) -> Result<Article, CoreError> {
        let d = validate_draft(draft)?;
        // The site must be this organization's.
        self.store.get_site(org_id, site_id).await.map_err(|e| CoreError::from_store(e, "site"))?;
        let now = self.clock.now();
        let article = Article {
            id: ArticleId::generate(&*self.clock, &*self.entropy),
            org_id,
            site_id,
            title: d.title,
            body: d.body,
            locale: d.locale.unwrap_or_else(|| "en".to_owned()),
            tags: d.tags,
            status: d.status.unwrap_or_default(),
            url: d.url,
            external_key,
            created_at: now,
            updated_at: now,
        };
        self.store.create_article(&article).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::Conflict("an article with this key exists on the site".to_owned()),
            other => CoreError::Store(other),
        })?;
        Ok(article)
    }

    pub async fn get(&self, org_id: OrgId, id: ArticleId) -> Result<Article, CoreError> {
        self.store.get_article(org_id, id).await.map_err(|e| CoreError::from_store(e, "article"))
    }

    /// Replaces the editable fields; a draft without a status keeps the article's.
    pub async fn update(&self, org_id: OrgId, id: ArticleId, draft: &ArticleDraft) -> Result<Article, CoreError> {
        let d = validate_draft(draft)?;
        let mut article = self.get(org_id, id).await?;
        article.title = d.title;
        article.body = d.body;
        article.locale = d.locale.unwrap_or(article.locale);
        article.tags = d.tags;
        article.status = d.status.unwrap_or(article.status);
        article.url = d.url;
        article.updated_at = self.clock.now().max(article.updated_at);
        self.store.update_article(&article).await.map_err(|e| CoreError::from_store(e, "article"))?;
        Ok(article)
    }

    pub async fn set_status(&self, org_id: OrgId, id: ArticleId, status: ArticleStatus) -> Result<Article, CoreError> {
        let mut article = self.get(org_id, id).await?;
        if article.status != status {
            article.status = status;
            article.updated_at = self.clock.now().max(article.updated_at);
            self.store.update_article(&article).await.map_err(|e| CoreError::from_store(e, "article"))?;
        }
        Ok(article)
    }

    pub async fn delete(&self, org_id: OrgId, id: ArticleId) -> Result<Article, CoreError> {
        let article = self.get(org_id, id).await?;
        self.store.delete_article(org_id, id).await.map_err(|e| CoreError::from_store(e, "article"))?;
        Ok(article)
    }

    pub async fn list(&self, org_id: OrgId, filter: &ArticleFilter) -> Result<Vec<Article>, CoreError> {
        Ok(self.store.list_articles(org_id, filter).await?)
    }

    /// Creates the article for this key, or updates the one an earlier import made.
    /// Returns the article and whether it was new.
    pub async fn upsert_by_key(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        key: &str,
        draft: &ArticleDraft,
    ) -> Result<(Article, bool), CoreError> {
        match self.store.get_article_by_external_key(site_id, key).await {
            Ok(existing) if existing.org_id == org_id => Ok((self.update(org_id, existing.id, draft).await?, false)),
            Ok(_) => Err(CoreError::NotFound("site")),
            Err(StoreError::NotFound) => Ok((self.create(org_id, site_id, draft, Some(key.to_owned())).await?, true)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Parses a Markdown file with optional front matter between `---` lines:
///
/// ```text
/// ---
/// title: Returns and refunds
/// tags: [shipping, money]
/// locale: en
/// status: published
/// url: https://help.example.com/returns
/// ---
/// Body in Markdown…
/// ```
///
/// A subset of YAML: one `key: value` per line; tags as `[a, b]` or `a, b`; quotes optional.
/// Without a `title`, the first `# Heading` of the body is the title (and is removed from it).
pub fn parse_article_file(text: &str) -> Result<ArticleDraft, CoreError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text).replace("\r\n", "\n");
    let mut draft = ArticleDraft::default();
    let body = match text.strip_prefix("---\n") {
        Some(rest) => {
            let (front, body) = rest
                .split_once("\n---\n")
                .or_else(|| rest.strip_suffix("\n---").map(|f| (f, "")))
                .ok_or_else(|| invalid("front_matter", "the front matter has no closing `---` line"))?;
            for (number, line) in front.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (key, value) = line
                    .split_once(':')
                    .ok_or_else(|| invalid("front_matter", format!("line {}: expected `key: value`", number + 2)))?;
                let value = unquote(value.trim());
                match key.trim() {
                    "title" => draft.title = value,
                    "locale" | "lang" | "language" => draft.locale = Some(value),
                    "url" => draft.url = Some(value),
                    "tags" => {
                        let inner = value.trim_start_matches('[').trim_end_matches(']');
                        draft.tags = inner.split(',').map(|t| unquote(t.trim())).filter(|t| !t.is_empty()).collect();
                    }
                    "status" => {
                        draft.status = Some(ArticleStatus::parse(&value).ok_or_else(|| {
                            invalid("status", format!("`{value}` is not a status (draft, published)"))
                        })?);
                    }
                    other => return Err(invalid("front_matter", format!("unknown key `{other}`"))),
                }
            }
            body.to_owned()
        }
        None => text,
    };
    let mut body = body.trim().to_owned();
    if draft.title.is_empty()
        && let Some(first) = body.lines().next()
        && let Some(heading) = first.strip_prefix("# ")
    {
        draft.title = heading.trim().to_owned();
        body = body[first.len()..].trim().to_owned();
    }
    draft.body = body;
    Ok(draft)
}

/// `"…"` with `\"` and `\\` escapes, `'…'` verbatim, or the bare value.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some(next @ ('"' | '\\'))) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        return out;
    }
    value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value).to_owned()
}

/// Writes an article back in the format [`parse_article_file`] reads.
pub fn render_article_file(article: &Article) -> String {
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("---\n");
    out.push_str(&format!("title: {}\n", quote(&article.title)));
    out.push_str(&format!("locale: {}\n", article.locale));
    out.push_str(&format!("status: {}\n", article.status.as_str()));
    if !article.tags.is_empty() {
        out.push_str(&format!("tags: [{}]\n", article.tags.join(", ")));
    }
    if let Some(url) = &article.url {
        out.push_str(&format!("url: {url}\n"));
    }
    out.push_str("---\n");
    out.push_str(&article.body);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_read() {
        let d = parse_article_file(
            "---\ntitle: \"Returns: how\"\ntags: [shipping, money]\nlocale: nl\nstatus: published\nurl: https://x.example/r\n---\n\nBody **text**.\n",
        )
        .expect("parses");
        assert_eq!(d.title, "Returns: how");
        assert_eq!(d.tags, ["shipping", "money"]);
        assert_eq!(d.locale.as_deref(), Some("nl"));
        assert_eq!(d.status, Some(ArticleStatus::Published));
        assert_eq!(d.url.as_deref(), Some("https://x.example/r"));
        assert_eq!(d.body, "Body **text**.");
    }

    #[test]
    fn a_heading_is_the_title_when_there_is_no_front_matter() {
        let d = parse_article_file("# Shipping times\n\nWe ship in 2 days.").expect("parses");
        assert_eq!(d.title, "Shipping times");
        assert_eq!(d.body, "We ship in 2 days.");
        assert_eq!(d.status, None);
    }

    #[test]
    fn bad_front_matter_is_a_clear_error() {
        assert!(parse_article_file("---\ntitle: x\n").is_err());
        assert!(parse_article_file("---\ncolour: red\n---\nbody").is_err());
        assert!(parse_article_file("---\nstatus: live\n---\nbody").is_err());
    }

    #[test]
    fn render_and_parse_round_trip() {
        let article = Article {
            id: ArticleId(crate::ids::Uuid::nil()),
            org_id: OrgId(crate::ids::Uuid::nil()),
            site_id: SiteId(crate::ids::Uuid::nil()),
            title: "Say \"hi\": a guide".to_owned(),
            body: "## Step one\n\nWave.".to_owned(),
            locale: "de".to_owned(),
            tags: vec!["a".to_owned(), "b".to_owned()],
            status: ArticleStatus::Published,
            url: Some("https://help.example/hi".to_owned()),
            external_key: None,
            created_at: crate::Timestamp(0),
            updated_at: crate::Timestamp(0),
        };
        let d = parse_article_file(&render_article_file(&article)).expect("parses");
        assert_eq!(d.title, article.title);
        assert_eq!(d.body, article.body);
        assert_eq!(d.tags, article.tags);
        assert_eq!(d.status, Some(ArticleStatus::Published));
    }

    #[test]
    fn drafts_are_validated() {
        let ok = validate_draft(&ArticleDraft { title: " T ".into(), body: "B".into(), ..Default::default() })
            .expect("valid");
        assert_eq!((ok.title.as_str(), ok.locale.as_deref()), ("T", Some("en")));
        assert!(validate_draft(&ArticleDraft { title: "".into(), body: "B".into(), ..Default::default() }).is_err());
        assert!(validate_draft(&ArticleDraft { title: "T".into(), body: " ".into(), ..Default::default() }).is_err());
        let bad_url = ArticleDraft {
            title: "T".into(),
            body: "B".into(),
            url: Some("javascript:x".into()),
            ..Default::default()
        };
        assert!(validate_draft(&bad_url).is_err());
    }
}
