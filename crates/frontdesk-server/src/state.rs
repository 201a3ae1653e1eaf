//! What every handler shares: the use cases, settings, caches, limiters and metrics.

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::token::TokenCodec;
use frontdesk_core::Timestamp;
use frontdesk_core::chat::Chat;
use frontdesk_core::model::Site;
use frontdesk_core::origin;
use frontdesk_core::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a site looked up by its public key is trusted without asking the store again
/// (other nodes' edits show up after at most this long; this node's at once).
const SITE_TTL_MS: i64 = 30_000;
/// How long the union of all sites' allowed origins (for preflights) is kept.
const ORIGINS_TTL_MS: i64 = 10_000;
/// Above this many cached sites, expired entries are dropped on the next insert.
const SITE_CACHE_SOFT_CAP: usize = 10_000;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub struct Limits {
    pub messages: Arc<dyn RateLimiter>,
    pub events: Arc<dyn RateLimiter>,
    pub sessions: Arc<dyn RateLimiter>,
    pub logins: Arc<dyn RateLimiter>,
    pub login_failures: Arc<dyn RateLimiter>,
}

pub struct Inner {
    pub chat: Chat,
    pub kb: frontdesk_core::kb::KnowledgeBase,
    pub knowledge: Arc<crate::knowledge::Knowledge>,
    pub answerer: Arc<dyn frontdesk_core::answer::Answerer>,
    /// Realtime fan-out: WebSocket subscriptions, the outbox follower, the broker. The
    /// assistant's progress goes through `hub.publish_ephemeral`.
    pub hub: frontdesk_realtime::Hub,
    pub config: ServerConfig,
    pub tokens: TokenCodec,
    pub sites: SiteCache,
    pub limits: Limits,
    pub metrics: Metrics,
    /// The public URL's origin, when configured.
    pub public_origin: Option<String>,
    pub secure_cookies: bool,
    /// A real argon2id hash of a random password: unknown emails are checked against it so a
    /// login takes as long whether or not the account exists.
    pub dummy_password_hash: String,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    /// Sends email when SMTP is configured.
    pub mailer: Option<Arc<frontdesk_notify::Mailer>>,
    /// Dropped with the state: the email notifier stops with the server.
    pub _notifier_stop: Option<tokio::sync::watch::Sender<bool>>,
    /// Bot scenarios: the answer port's first stop, the simulator, the timer job.
    pub flows: Arc<crate::flows::Flows>,
    /// Dropped with the state: the scenarios' timer job stops with the server.
    pub _flows_stop: tokio::sync::watch::Sender<bool>,
    /// Dropped with the state: the retention job stops with the server.
    pub _retention_stop: tokio::sync::watch::Sender<bool>,
    /// Outgoing webhooks: the dispatcher and sender of this node (woken by test events and
    /// redeliveries).
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Dropped with the state: webhooks stop with the server.
    pub _webhooks_stop: tokio::sync::watch::Sender<bool>,
    /// This node's open widget sockets, whose sessions are checked once per heartbeat.
    pub widget_sessions: Arc<crate::ws::WidgetSessions>,
    /// Dropped with the state: the session sweep stops with the server.
    pub _widget_sessions_stop: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    pub fn now(&self) -> Timestamp {
        self.chat.clock.now()
    }

    pub fn session_ttl_secs(&self) -> i64 {
        i64::try_from(self.config.session_ttl_secs).unwrap_or(i64::MAX / 1000)
    }

    pub fn login_ttl_secs(&self) -> i64 {
        i64::try_from(self.config.login_ttl_secs).unwrap_or(i64::MAX / 1000)
    }

    /// The site with this public key, from the cache when fresh.
    pub async fn site_by_public_key(&self, public_key: &str) -> Result<Option<Arc<Site>>, ApiError> {
        let now = self.now();
        if let Some(site) = self.sites.get(public_key, now) {
            let expired =
                site.public_key != public_key && site.previous_key_expires_at.is_none_or(|until| now >= until);
            return Ok((!expired).then_some(site));
        }
        match self.chat.store.get_site_by_public_key(public_key).await {
            // A rotated-out key works until its grace period ends.
            Ok(site)
                if site.public_key != public_key && site.previous_key_expires_at.is_none_or(|until| now >= until) =>
            {
                Ok(None)
            }
            Ok(site) => {
                let site = Arc::new(site);
                self.sites.put(public_key, site.clone(), now);
                Ok(Some(site))
            }
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// This server's origin for links (the configured public URL, else the request's Host).
    pub fn own_origin(&self, headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
        let host = crate::http::header_str(headers, &axum::http::header::HOST);
        crate::http::own_origins(self.public_origin.as_deref(), host).into_iter().next().ok_or_else(|| {
            ApiError::new(crate::error::ErrorCode::Conflict, "set server.public_url: the request names no host")
        })
    }

    /// What the organization's plan allows (everything when billing is off).
    pub fn entitlements(&self, org: &frontdesk_core::model::Organization) -> frontdesk_core::plans::Entitlements {
        match self.config.billing {
            crate::config::Billing::Off => frontdesk_core::plans::Entitlements::UNLIMITED,
            crate::config::Billing::On => frontdesk_core::plans::Entitlements::of(org.plan, org.extra_seats),
        }
    }

    /// Whether any site allows this origin (preflights carry no key to say which site).
    pub async fn origin_allowed_anywhere(&self, request_origin: &str) -> Result<bool, ApiError> {
        let now = self.now();
        let origins = match self.sites.all_origins(now) {
            Some(o) => o,
            None => {
                let sites = self.chat.store.list_all_sites().await?;
                let mut all: Vec<String> = sites.into_iter().flat_map(|s| s.allowed_origins).collect();
                all.sort();
                all.dedup();
                let all = Arc::new(all);
                self.sites.put_all_origins(all.clone(), now);
                all
            }
        };
        Ok(origin::origin_allowed(&origins, request_origin))
    }
}

struct Cached<T> {
    value: T,
    at: Timestamp,
}

#[derive(Default)]
pub struct SiteCache {
    by_key: Mutex<HashMap<String, Cached<Arc<Site>>>>,
    all_origins: Mutex<Option<Cached<Arc<Vec<String>>>>>,
}

fn fresh(at: Timestamp, now: Timestamp, ttl_ms: i64) -> bool {
    now.millis().saturating_sub(at.millis()) < ttl_ms && now >= at
}

impl SiteCache {
    fn get(&self, public_key: &str, now: Timestamp) -> Option<Arc<Site>> {
        let map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        map.get(public_key).filter(|c| fresh(c.at, now, SITE_TTL_MS)).map(|c| c.value.clone())
    }

    fn put(&self, public_key: &str, site: Arc<Site>, now: Timestamp) {
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SITE_CACHE_SOFT_CAP {
            map.retain(|_, c| fresh(c.at, now, SITE_TTL_MS));
        }
        map.insert(public_key.to_owned(), Cached { value: site, at: now });
    }

    fn all_origins(&self, now: Timestamp) -> Option<Arc<Vec<String>>> {
        let slot = self.all_origins.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().filter(|c| fresh(c.at, now, ORIGINS_TTL_MS)).map(|c| c.value.clone())
    }

    fn put_all_origins(&self, origins: Arc<Vec<String>>, now: Timestamp) {
        *self.all_origins.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cached { value: origins, at: now });
    }

    /// Forgets everything after a site was created or changed in this process.
    pub fn invalidate(&self) {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.all_origins.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
