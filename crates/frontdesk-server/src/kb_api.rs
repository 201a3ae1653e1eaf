//! The knowledge base in the private API (`/api/app/orgs/{org_id}/articles`): members read it,
//! roles with `manage_knowledge` edit it. Every change reaches the search index right after it
//! is committed, and is audited.

use crate::app_api::{OrgMember, audit, parse_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, ClientMeta};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use frontdesk_core::kb::ArticleDraft;
use frontdesk_core::knowledge::{Article, ArticleId, ArticleStatus, Passage};
use frontdesk_core::roles::Permission;
use frontdesk_core::store::ArticleFilter;
use frontdesk_core::{OrgId, SiteId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/orgs/{org_id}/articles", get(list_articles).post(create_article))
        .route("/api/app/orgs/{org_id}/articles/{id}", get(get_article).patch(update_article).delete(delete_article))
        .route("/api/app/orgs/{org_id}/articles/{id}/publish", post(publish_article))
        .route("/api/app/orgs/{org_id}/articles/{id}/unpublish", post(unpublish_article))
        .route("/api/app/orgs/{org_id}/sites/{site_id}/search", get(search))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    pub site_id: Option<SiteId>,
    /// `draft` or `published`.
    pub status: Option<ArticleStatus>,
    /// Case-insensitive text in the title or body.
    pub q: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleList {
    pub articles: Vec<Article>,
}

/// Articles of the organization, most recently updated first.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/articles", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ArticleQuery),
    responses(
        (status = 200, body = ArticleList),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn list_articles(
    State(st): State<AppState>,
    member: OrgMember,
    ApiQuery(query): ApiQuery<ArticleQuery>,
) -> Result<Json<ArticleList>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let filter =
        ArticleFilter { site_id: query.site_id, status: query.status, text: query.q, limit: query.limit.unwrap_or(0) };
    Ok(Json(ArticleList { articles: st.kb.list(member.org_id(), &filter).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArticleRequest {
    pub site_id: SiteId,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Defaults to `en`.
    pub locale: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Defaults to `draft`.
    pub status: Option<ArticleStatus>,
    pub url: Option<String>,
}

/// Creates an article (a draft unless `status` says `published`).
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/articles", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path)),
    request_body = CreateArticleRequest,
    responses(
        (status = 201, body = Article),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found (the organization or the site)", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn create_article(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CreateArticleRequest>,
) -> Result<(StatusCode, Json<Article>), ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let draft = ArticleDraft {
        title: body.title,
        body: body.body,
        locale: body.locale,
        tags: body.tags,
        status: body.status,
        url: body.url,
    };
    let article = st.kb.create(member.org_id(), body.site_id, &draft, None).await?;
    st.knowledge.article_changed(&article).await;
    audit_article(&st, &member, "article.create", &article, &meta).await;
    Ok((StatusCode::CREATED, Json(article)))
}

/// One article.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/articles/{id}", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ArticleId, Path)),
    responses(
        (status = 200, body = Article),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_article(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Article>, ApiError> {
    member.require(Permission::ReadConversations)?;
    Ok(Json(st.kb.get(member.org_id(), parse_id(&id, "article")?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArticleRequest {
    pub title: Option<String>,
    pub body: Option<String>,
    pub locale: Option<String>,
    pub tags: Option<Vec<String>>,
    pub status: Option<ArticleStatus>,
    /// `null` keeps the URL; `""` removes it.
    pub url: Option<String>,
}

/// Changes an article; fields left out keep their values.
#[utoipa::path(patch, path = "/api/app/orgs/{org_id}/articles/{id}", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ArticleId, Path)),
    request_body = UpdateArticleRequest,
    responses(
        (status = 200, body = Article),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
    ))]
pub async fn update_article(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateArticleRequest>,
) -> Result<Json<Article>, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let id: ArticleId = parse_id(&id, "article")?;
    let current = st.kb.get(member.org_id(), id).await?;
    let draft = ArticleDraft {
        title: body.title.unwrap_or(current.title),
        body: body.body.unwrap_or(current.body),
        locale: Some(body.locale.unwrap_or(current.locale)),
        tags: body.tags.unwrap_or(current.tags),
        status: body.status.or(Some(current.status)),
        url: body.url.or(current.url),
    };
    let article = st.kb.update(member.org_id(), id, &draft).await?;
    st.knowledge.article_changed(&article).await;
    audit_article(&st, &member, "article.update", &article, &meta).await;
    Ok(Json(article))
}

async fn set_status(
    st: &AppState,
    member: &OrgMember,
    meta: &ClientMeta,
    id: &str,
    status: ArticleStatus,
) -> Result<Json<Article>, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let article = st.kb.set_status(member.org_id(), parse_id(id, "article")?, status).await?;
    st.knowledge.article_changed(&article).await;
    let action = if status == ArticleStatus::Published { "article.publish" } else { "article.unpublish" };
    audit_article(st, member, action, &article, meta).await;
    Ok(Json(article))
}

/// Publishes an article: it becomes searchable and citable at once.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/articles/{id}/publish", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ArticleId, Path)),
    responses(
        (status = 200, body = Article),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn publish_article(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Article>, ApiError> {
    set_status(&st, &member, &meta, &id, ArticleStatus::Published).await
}

/// Unpublishes an article: the assistant stops using it at once.
#[utoipa::path(post, path = "/api/app/orgs/{org_id}/articles/{id}/unpublish", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ArticleId, Path)),
    responses(
        (status = 200, body = Article),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn unpublish_article(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Article>, ApiError> {
    set_status(&st, &member, &meta, &id, ArticleStatus::Draft).await
}

/// Deletes an article.
#[utoipa::path(delete, path = "/api/app/orgs/{org_id}/articles/{id}", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("id" = ArticleId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "forbidden, csrf_rejected", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn delete_article(
    State(st): State<AppState>,
    member: OrgMember,
    meta: ClientMeta,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    member.require(Permission::ManageKnowledge)?;
    let article = st.kb.delete(member.org_id(), parse_id(&id, "article")?).await?;
    st.knowledge.article_removed(article.site_id, article.id).await;
    audit_article(&st, &member, "article.delete", &article, &meta).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub q: String,
    /// How many passages (default 5, at most 20).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    #[schema(value_type = Vec<Object>)]
    pub passages: Vec<Passage>,
    /// How sure retrieval is that the knowledge base answers this (0–1), and the assistant's threshold.
    pub confidence: f32,
    pub threshold: f32,
}

/// Searches a site's published articles the way the assistant does.
#[utoipa::path(get, path = "/api/app/orgs/{org_id}/sites/{site_id}/search", tag = "knowledge", security(("session_cookie" = [])),
    params(("org_id" = OrgId, Path), ("site_id" = SiteId, Path), SearchQuery),
    responses(
        (status = 200, body = SearchResult),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn search(
    State(st): State<AppState>,
    member: OrgMember,
    Path((_, site_id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResult>, ApiError> {
    member.require(Permission::ReadConversations)?;
    let site_id: SiteId = parse_id(&site_id, "site")?;
    st.chat.store.get_site(member.org_id(), site_id).await.map_err(|e| match e {
        frontdesk_core::store::StoreError::NotFound => ApiError::not_found("site"),
        other => other.into(),
    })?;
    let limit = query.limit.unwrap_or(5).clamp(1, 20);
    let (retrieval, confidence) = st.knowledge.search(site_id, &query.q, limit).await?;
    Ok(Json(SearchResult { passages: retrieval.passages, confidence, threshold: st.knowledge.threshold() }))
}

async fn audit_article(st: &AppState, member: &OrgMember, action: &str, article: &Article, meta: &ClientMeta) {
    let details = serde_json::json!({ "site_id": article.site_id, "title": article.title, "status": article.status });
    audit(st, member.org_id(), Some(member.user.id), action, ("article", article.id.to_string()), meta, details).await;
}
