//! Knowledge-base articles.

use super::*;
use frontdesk_core::knowledge::{Article, ArticleId, ArticleStatus};
use frontdesk_core::store::{ArticleFilter, ArticleVersion};

const ARTICLE_COLS: &str =
    "id, org_id, site_id, title, body, locale, tags, status, url, external_key, created_at, updated_at";

fn article_from_row(row: &SqliteRow) -> StoreResult<Article> {
    let status: String = get(row, "status")?;
    Ok(Article {
        id: ArticleId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        title: get(row, "title")?,
        body: get(row, "body")?,
        locale: get(row, "locale")?,
        tags: json_at(row, "tags")?,
        status: ArticleStatus::parse(&status).ok_or_else(|| corrupt("status", status))?,
        url: get(row, "url")?,
        external_key: get(row, "external_key")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

/// `%` and `_` in user text match themselves.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl SqliteStore {
    pub(crate) async fn create_article_row(&self, a: &Article) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO articles ({ARTICLE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(id(a.id.0))
            .bind(id(a.org_id.0))
            .bind(id(a.site_id.0))
            .bind(&a.title)
            .bind(&a.body)
            .bind(&a.locale)
            .bind(to_json(&a.tags)?)
            .bind(a.status.as_str())
            .bind(&a.url)
            .bind(&a.external_key)
            .bind(a.created_at.0)
            .bind(a.updated_at.0)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_article_row(&self, org_id: OrgId, article_id: ArticleId) -> StoreResult<Article> {
        let row = sqlx::query(&format!("SELECT {ARTICLE_COLS} FROM articles WHERE id = ? AND org_id = ?"))
            .bind(id(article_id.0))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        article_from_row(&row)
    }

    pub(crate) async fn get_article_by_key_row(&self, site_id: SiteId, key: &str) -> StoreResult<Article> {
        let row = sqlx::query(&format!("SELECT {ARTICLE_COLS} FROM articles WHERE site_id = ? AND external_key = ?"))
            .bind(id(site_id.0))
            .bind(key)
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        article_from_row(&row)
    }

    pub(crate) async fn update_article_row(&self, a: &Article) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE articles SET title = ?, body = ?, locale = ?, tags = ?, status = ?, url = ?, external_key = ?, \
             updated_at = ? WHERE id = ? AND org_id = ?",
        )
        .bind(&a.title)
        .bind(&a.body)
        .bind(&a.locale)
        .bind(to_json(&a.tags)?)
        .bind(a.status.as_str())
        .bind(&a.url)
        .bind(&a.external_key)
        .bind(a.updated_at.0)
        .bind(id(a.id.0))
        .bind(id(a.org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_article_row(&self, org_id: OrgId, article_id: ArticleId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM articles WHERE id = ? AND org_id = ?")
            .bind(id(article_id.0))
            .bind(id(org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn list_article_rows(&self, org_id: OrgId, filter: &ArticleFilter) -> StoreResult<Vec<Article>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {ARTICLE_COLS} FROM articles WHERE org_id = "));
        q.push_bind(id(org_id.0));
        if let Some(site_id) = filter.site_id {
            q.push(" AND site_id = ").push_bind(id(site_id.0));
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(text) = filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = like_pattern(text);
            q.push(" AND (title LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\' OR body LIKE ");
            q.push_bind(pattern).push(" ESCAPE '\\')");
        }
        q.push(" ORDER BY updated_at DESC, id DESC LIMIT ").push_bind(effective_limit(filter.limit, 50, 500));
        let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(article_from_row).collect()
    }

    pub(crate) async fn all_article_rows(&self, site_id: Option<SiteId>) -> StoreResult<Vec<Article>> {
        let rows = match site_id {
            Some(site) => {
                sqlx::query(&format!("SELECT {ARTICLE_COLS} FROM articles WHERE site_id = ? ORDER BY id"))
                    .bind(id(site.0))
                    .fetch_all(&self.reader)
                    .await
            }
            None => {
                sqlx::query(&format!("SELECT {ARTICLE_COLS} FROM articles ORDER BY id")).fetch_all(&self.reader).await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(article_from_row).collect()
    }

    pub(crate) async fn article_version_rows(&self) -> StoreResult<Vec<ArticleVersion>> {
        let rows = sqlx::query("SELECT id, site_id, updated_at FROM articles")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ArticleVersion {
                    id: ArticleId(uuid_at(row, "id")?),
                    site_id: SiteId(uuid_at(row, "site_id")?),
                    updated_at: ts_at(row, "updated_at")?,
                })
            })
            .collect()
    }
}
