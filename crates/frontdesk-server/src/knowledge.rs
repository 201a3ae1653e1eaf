//! The server's side of the knowledge base: the search index, kept in step with the database.
//!
//! The index is derived data. At start it is rebuilt from the articles in the database; after
//! each edit through this node it is updated at once; and every few seconds it is reconciled with
//! the articles' versions (`Store::article_versions`), which picks up edits committed elsewhere —
//! another node, `frontdesk kb import` — and heals an update lost to a crash.

use crate::ServerError;
use crate::config::KnowledgeConfig;
use crate::error::{ApiError, ErrorCode};
use frontdesk_core::knowledge::{Article, ArticleId, Retrieval};
use frontdesk_core::store::Store;
use frontdesk_core::{SiteId, Timestamp};
use frontdesk_knowledge::embed::{Embedder, LocalBertEmbedder, OpenAiEmbedder, OpenAiEmbedderConfig};
use frontdesk_knowledge::{KnowledgeIndex, fusion};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a node compares its index with the database.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// What this node last indexed of each article: its site and `updated_at`.
type Versions = HashMap<ArticleId, (SiteId, Timestamp)>;

pub struct Knowledge {
    index: Arc<KnowledgeIndex>,
    threshold: f32,
    versions: Mutex<Versions>,
    /// Keeps a temporary index directory alive as long as the server.
    _temp_dir: Option<TempDir>,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn index_error(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "knowledge index failure");
    ApiError::new(ErrorCode::Internal, "the knowledge index failed")
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ServerError::Startup(format!("index task: {e}")))
}

impl Knowledge {
    /// Opens the index, chooses the embedder and rebuilds everything from the database.
    pub async fn open(config: &KnowledgeConfig, store: &dyn Store) -> Result<Knowledge, ServerError> {
        let (dir, temp_dir) = match &config.index_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!("frontdesk-index-{}", uuid::Uuid::now_v7().simple()));
                (dir.clone(), Some(TempDir(dir)))
            }
        };
        let embedder = embedder(config)?;
        let semantic = embedder.is_some();
        let open_dir = dir.clone();
        let index = blocking(move || KnowledgeIndex::open(&open_dir, embedder))
            .await?
            .map_err(|e| ServerError::Startup(format!("cannot open the knowledge index in {}: {e}", dir.display())))?;
        let threshold = config.confidence_threshold.unwrap_or(if semantic {
            fusion::DEFAULT_CONFIDENCE_THRESHOLD
        } else {
            fusion::LEXICAL_CONFIDENCE_THRESHOLD
        });
        let knowledge =
            Knowledge { index: Arc::new(index), threshold, versions: Mutex::new(Versions::new()), _temp_dir: temp_dir };
        let articles = store.all_articles(None).await?;
        let count = articles.len();
        knowledge.rebuild(articles).await?;
        tracing::info!(articles = count, semantic, threshold, "knowledge index ready");
        Ok(knowledge)
    }

    /// The confidence below which the assistant declines.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn index(&self) -> &Arc<KnowledgeIndex> {
        &self.index
    }

    async fn rebuild(&self, articles: Vec<Article>) -> Result<(), ServerError> {
        let versions: Versions = articles.iter().map(|a| (a.id, (a.site_id, a.updated_at))).collect();
        let index = self.index.clone();
        blocking(move || index.rebuild(None, &articles))
            .await?
            .map_err(|e| ServerError::Startup(format!("cannot build the knowledge index: {e}")))?;
        *self.versions.lock().unwrap_or_else(|e| e.into_inner()) = versions;
        Ok(())
    }

    /// Brings one article's passages up to date (drafts are removed from the index). A failure is
    /// logged and healed by the next reconciliation: the edit itself is already committed.
    pub async fn article_changed(&self, article: &Article) {
        let index = self.index.clone();
        let copy = article.clone();
        match blocking(move || index.upsert_article(&copy)).await {
            Ok(Ok(())) => self.remember(article.id, Some((article.site_id, article.updated_at))),
            Ok(Err(e)) => tracing::error!(error = %e, article = %article.id, "indexing an article failed"),
            Err(e) => tracing::error!(error = %e, "indexing task failed"),
        }
    }

    pub async fn article_removed(&self, site_id: SiteId, id: ArticleId) {
        let index = self.index.clone();
        match blocking(move || index.remove_article(&site_id, id)).await {
            Ok(Ok(())) => self.remember(id, None),
            Ok(Err(e)) => tracing::error!(error = %e, article = %id, "removing an article from the index failed"),
            Err(e) => tracing::error!(error = %e, "indexing task failed"),
        }
    }

    fn remember(&self, id: ArticleId, version: Option<(SiteId, Timestamp)>) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        match version {
            Some(v) => versions.insert(id, v),
            None => versions.remove(&id),
        };
    }

    /// The site's best passages for a question, and how confident retrieval is (0–1).
    pub async fn search(&self, site_id: SiteId, query: &str, k: usize) -> Result<(Retrieval, f32), ApiError> {
        let index = self.index.clone();
        let query = query.to_owned();
        let retrieval = tokio::task::spawn_blocking(move || index.search(&site_id, &query, k))
            .await
            .map_err(index_error)?
            .map_err(index_error)?;
        let confidence = fusion::confidence(&retrieval);
        Ok((retrieval, confidence))
    }

    /// Compares the index with the database and applies the differences. Returns how many
    /// articles were re-indexed or removed.
    pub async fn reconcile(&self, store: &dyn Store) -> Result<usize, ServerError> {
        let current = store.article_versions().await?;
        let (stale_sites, gone) = {
            let known = self.versions.lock().unwrap_or_else(|e| e.into_inner());
            let mut stale_sites: Vec<SiteId> = current
                .iter()
                .filter(|v| known.get(&v.id) != Some(&(v.site_id, v.updated_at)))
                .map(|v| v.site_id)
                .collect();
            stale_sites.sort();
            stale_sites.dedup();
            let gone: Vec<(ArticleId, SiteId)> = known
                .iter()
                .filter(|(id, _)| !current.iter().any(|v| v.id == **id))
                .map(|(id, (site, _))| (*id, *site))
                .collect();
            (stale_sites, gone)
        };
        let mut changed = 0;
        for (id, site) in gone {
            self.article_removed(site, id).await;
            changed += 1;
        }
        for site in stale_sites {
            for article in store.all_articles(Some(site)).await? {
                let known = self.versions.lock().unwrap_or_else(|e| e.into_inner()).get(&article.id).copied();
                if known != Some((article.site_id, article.updated_at)) {
                    self.article_changed(&article).await;
                    changed += 1;
                }
            }
        }
        if changed > 0 {
            tracing::info!(changed, "knowledge index reconciled with the database");
        }
        Ok(changed)
    }

    /// Reconciles every [`RECONCILE_EVERY`] until the server stops.
    pub fn spawn_reconciler(self: &Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        let knowledge = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(knowledge) = knowledge.upgrade() else { break };
                if let Err(e) = knowledge.reconcile(&*store).await {
                    tracing::warn!(error = %e, "knowledge reconciliation failed; retrying");
                }
            }
        })
    }
}

fn embedder(config: &KnowledgeConfig) -> Result<Option<Arc<dyn Embedder>>, ServerError> {
    if let Some(url) = &config.embeddings_url {
        let model = config.embeddings_model.clone().unwrap_or_else(|| "text-embedding-3-small".to_owned());
        let mut c = OpenAiEmbedderConfig::new(url.clone(), model);
        c.api_key = config.embeddings_api_key.clone();
        let e = OpenAiEmbedder::new(c).map_err(|e| ServerError::Config(format!("embeddings: {e}")))?;
        return Ok(Some(Arc::new(e)));
    }
    if let Some(dir) = &config.model_dir {
        let e = LocalBertEmbedder::load(dir)
            .map_err(|e| ServerError::Config(format!("cannot load the embedding model in {}: {e}", dir.display())))?;
        return Ok(Some(Arc::new(e)));
    }
    Ok(None)
}
