//! `frontdesk kb import | export`: a knowledge base as a folder of Markdown files with front matter
//! (see `frontdesk_core::kb::parse_article_file`). A file's path relative to the folder is its key,
//! so importing the same folder again updates the articles instead of duplicating them.

use anyhow::{Context, bail};
use frontdesk_core::SiteId;
use frontdesk_core::kb::{KnowledgeBase, parse_article_file, render_article_file};
use frontdesk_core::model::Site;
use frontdesk_core::store::Store;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
}

pub async fn find_site(store: &dyn Store, site_id: SiteId) -> anyhow::Result<Site> {
    let sites = store.list_all_sites().await?;
    sites.into_iter().find(|s| s.id == site_id).with_context(|| format!("no site {site_id}"))
}

/// Every `*.md` file below `dir`, sorted, with its key (the relative path, `/`-separated).
fn markdown_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("cannot read {}", current.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let key = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((key, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

pub async fn import_dir(kb: &KnowledgeBase, site: &Site, dir: &Path) -> anyhow::Result<ImportReport> {
    let files = markdown_files(dir)?;
    if files.is_empty() {
        bail!("no .md files in {}", dir.display());
    }
    let texts = files
        .into_iter()
        .map(|(key, path)| {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((key, text))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    import_texts(kb, site, &texts).await
}

/// Imports `(key, file contents)` pairs; every file is checked before anything is written.
pub async fn import_texts(kb: &KnowledgeBase, site: &Site, files: &[(String, String)]) -> anyhow::Result<ImportReport> {
    let mut drafts = Vec::new();
    for (key, text) in files {
        let draft = parse_article_file(text).with_context(|| key.clone())?;
        frontdesk_core::kb::validate_draft(&draft).with_context(|| key.clone())?;
        drafts.push((key, draft));
    }
    let mut report = ImportReport::default();
    for (key, draft) in drafts {
        let (_, created) = kb.upsert_by_key(site.org_id, site.id, key, &draft).await.with_context(|| key.clone())?;
        if created {
            report.created += 1;
        } else {
            report.updated += 1;
        }
    }
    Ok(report)
}

/// Writes every article of the site as `<dir>/<key>` (or `<dir>/<id>.md` for articles made in
/// the dashboard). Returns how many files were written.
pub async fn export_dir(store: &dyn Store, site: &Site, dir: &Path) -> anyhow::Result<usize> {
    let articles = store.all_articles(Some(site.id)).await?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for article in &articles {
        let relative = match &article.external_key {
            // Keys come from our own imports, but never let one climb out of the folder.
            Some(key) if !key.split('/').any(|part| part == ".." || part.is_empty()) => PathBuf::from(key),
            _ => PathBuf::from(format!("{}.md", article.id)),
        };
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, render_article_file(article))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(articles.len())
}
