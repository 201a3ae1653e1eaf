//! Frontdesk's HTTP server: the public chat API for the website widget (`/api/chat`), the
//! private app API for agents (`/api/app`), metrics and the OpenAPI document.
//!
//! [`build`] assembles the router over any [`Store`]; [`serve`] runs it until shutdown.

mod account_api;
pub mod admin;
mod answer;
mod app_api;
mod billing_api;
mod chat_api;
pub mod config;
pub mod env;
pub mod error;
mod extract;
mod flows;
pub mod http;
mod identity;
mod inbox_api;
mod kb_api;
pub mod knowledge;
pub mod limiter;
mod listen;
pub mod metrics;
mod middleware;
mod notify;
pub mod openapi;
mod privacy_api;
mod report_api;
pub mod retention;
mod scenario_api;
mod site_api;
mod state;
mod team_api;
pub mod tls;
pub mod token;
mod totp;
mod webhook_api;
pub mod webhooks;
mod ws;

pub use config::{RateLimits, ServerConfig};
pub use error::{ERROR_CODES, ErrorCode};
/// The realtime layer (hub, brokers, protocol frames), for the binary and tests.
pub use frontdesk_realtime;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontdesk_core::chat::Chat;
use frontdesk_core::ports::{Clock, Entropy};
use frontdesk_core::store::{Store, StoreError};
use limiter::{KeyedLimiter, RateLimiter, SharedLimiter};
use state::{AppState, Inner, Limits, SiteCache};
use std::future::Future;

use std::sync::Arc;

/// The settings key under which the session-token signing key is shared by all nodes.
pub const SESSION_TOKEN_KEY_SETTING: &str = "session_token_key";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("the stored session token key is unusable: {0}")]
    TokenKey(String),
    #[error("could not prepare the server: {0}")]
    Startup(String),
    #[error("TLS: {0}")]
    Tls(String),
}

/// The realtime layer's broker and settings.
#[derive(Clone)]
pub struct Realtime {
    pub broker: Arc<dyn frontdesk_realtime::Broker>,
    pub config: frontdesk_realtime::RealtimeConfig,
}

impl Default for Realtime {
    /// One node: the in-process broker and default settings.
    fn default() -> Self {
        Realtime { broker: Arc::new(frontdesk_realtime::MemoryBroker::new()), config: Default::default() }
    }
}

/// Builds the whole HTTP application over `store`, with the in-process broker.
pub async fn build(
    store: Arc<dyn Store>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> Result<Router, ServerError> {
    build_with_realtime(store, config, clock, entropy, Realtime::default()).await
}

/// Builds the whole HTTP application over `store`, with this broker and realtime settings.
pub async fn build_with_realtime(
    store: Arc<dyn Store>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    realtime: Realtime,
) -> Result<Router, ServerError> {
    let public_origin = match config.public_url.as_deref() {
        Some(url) => Some(
            http::url_origin(url)
                .ok_or_else(|| ServerError::Config(format!("public_url `{url}` is not an absolute http(s) URL")))?,
        ),
        None => None,
    };
    for (name, value) in [
        ("max_body_bytes", config.max_body_bytes as u64),
        ("session_ttl_secs", config.session_ttl_secs),
        ("login_ttl_secs", config.login_ttl_secs),
        ("retention_interval_secs", config.retention_interval_secs),
    ] {
        if value == 0 {
            return Err(ServerError::Config(format!("{name} must be positive")));
        }
    }

    let mut fresh_key = [0u8; 32];
    entropy.fill(&mut fresh_key);
    let stored = store.get_or_init_setting(SESSION_TOKEN_KEY_SETTING, &STANDARD.encode(fresh_key)).await?;
    let key = STANDARD.decode(stored.trim()).map_err(|e| ServerError::TokenKey(e.to_string()))?;
    let tokens = token::TokenCodec::new(&key)
        .ok_or_else(|| ServerError::TokenKey(format!("it must be at least {} bytes", token::MIN_KEY_LEN)))?;

    // Hashed once so that logins for unknown emails cost a real verification.
    let mut dummy = [0u8; 24];
    entropy.fill(&mut dummy);
    let dummy_password = STANDARD.encode(dummy);
    let dummy_password_hash =
        admin::hash_password_with(&*entropy, &dummy_password).map_err(|e| ServerError::Startup(e.to_string()))?;

    let rl = &config.rate_limits;
    // Limits hold across nodes when their counts live in the database (PostgreSQL by default).
    let shared = rl.shared.unwrap_or(store.backend() == "postgres");
    let limiter = |prefix: &'static str, limit: u32, period: u64| -> Arc<dyn RateLimiter> {
        if shared {
            Arc::new(SharedLimiter::new(store.clone(), clock.clone(), prefix, limit, period))
        } else {
            Arc::new(KeyedLimiter::new(clock.clone(), limit, period))
        }
    };
    let limits = Limits {
        messages: limiter("messages:", rl.messages_per_minute_per_session, 60),
        events: limiter("events:", rl.events_per_minute_per_session, 60),
        sessions: limiter("sessions:", rl.sessions_per_minute_per_ip, 60),
        logins: limiter("logins:", rl.logins_per_minute_per_ip, 60),
        login_failures: limiter(
            "login-failures:",
            rl.login_failures_per_account_per_15min,
            app_api::LOGIN_FAILURE_WINDOW_SECS,
        ),
    };
    let openapi_json = openapi::document().map_err(|e| ServerError::Startup(e.to_string()))?;
    let secure_cookies = public_origin.as_deref().is_some_and(|o| o.starts_with("https://"));
    let max_body_bytes = config.max_body_bytes;
    let hub = frontdesk_realtime::Hub::start(store.clone(), realtime.broker, realtime.config)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    if config.invite_ttl_secs == 0 {
        return Err(ServerError::Config("invite_ttl_secs must be positive".to_owned()));
    }
    let (mailer, notifier_stop) = match &config.smtp {
        Some(smtp) => {
            let mailer =
                Arc::new(frontdesk_notify::Mailer::new(smtp).map_err(|e| ServerError::Config(format!("smtp: {e}")))?);
            // Links in emails need an absolute URL.
            let public_url = config
                .public_url
                .clone()
                .ok_or_else(|| ServerError::Config("smtp needs server.public_url (for links in emails)".to_owned()))?;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let notifier = frontdesk_notify::Notifier::new(store.clone(), mailer.clone(), &public_url, clock.clone());
            tokio::spawn(notifier.run(stopped));
            (Some(mailer), Some(stop))
        }
        None => (None, None),
    };
    let knowledge = Arc::new(knowledge::Knowledge::open(&config.knowledge, &*store).await?);
    knowledge.spawn_reconciler(store.clone());
    let chat = Chat::new(store, clock, entropy);
    let ai = Arc::new(answer::AiAnswerer::new(knowledge.clone(), hub.clone()));
    let flows = Arc::new(flows::Flows::new(chat.clone(), hub.clone(), ai, config.flows.allow_private_http));
    let (flows_stop, flows_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(flows.clone().run_timers(flows_stopped));
    let (retention_stop, retention_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(retention::run(
        chat.clone(),
        config.retention_interval_secs,
        hub.config().resume_window_events,
        retention_stopped,
    ));
    let webhooks = Arc::new(webhooks::Webhooks::new(
        chat.store.clone(),
        chat.clock.clone(),
        chat.entropy.clone(),
        config.webhooks.allow_private,
    ));
    let (webhooks_stop, webhooks_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(webhooks.clone().run(webhooks_stopped));
    let widget_sessions = Arc::new(ws::WidgetSessions::default());
    let (widget_sessions_stop, widget_sessions_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(widget_sessions.clone().run(
        chat.store.clone(),
        std::time::Duration::from_secs(hub.config().heartbeat_secs),
        widget_sessions_stopped,
    ));
    let state = AppState(Arc::new(Inner {
        kb: frontdesk_core::kb::KnowledgeBase::new(chat.store.clone(), chat.clock.clone(), chat.entropy.clone()),
        answerer: flows.clone(),
        flows,
        _flows_stop: flows_stop,
        _retention_stop: retention_stop,
        webhooks,
        _webhooks_stop: webhooks_stop,
        widget_sessions,
        _widget_sessions_stop: widget_sessions_stop,
        knowledge,
        hub,
        metrics: metrics::Metrics::new(chat.store.backend()),
        chat,
        config,
        tokens,
        sites: SiteCache::default(),
        limits,
        public_origin,
        secure_cookies,
        dummy_password_hash,
        openapi_json,
        mailer,
        _notifier_stop: notifier_stop,
    }));
    Ok(router(state, max_body_bytes))
}

fn router(state: AppState, max_body_bytes: usize) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    Router::new()
        .merge(chat_api::routes())
        .merge(app_api::routes())
        .merge(kb_api::routes())
        .merge(inbox_api::routes())
        .merge(account_api::routes())
        .merge(team_api::routes())
        .merge(site_api::routes())
        .merge(report_api::routes())
        .merge(scenario_api::routes())
        .merge(billing_api::routes())
        .merge(privacy_api::routes())
        .merge(webhook_api::routes())
        .merge(openapi::routes())
        .merge(ws::routes())
        .merge(frontdesk_web::routes())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        // Innermost first: each layer wraps the ones above it.
        .layer(from_fn_with_state(state.clone(), ws::wake_after_writes))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(from_fn_with_state(state.clone(), middleware::app_csrf))
        .layer(from_fn_with_state(state.clone(), middleware::chat_cors))
        .layer(from_fn(middleware::json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(from_fn_with_state(state.clone(), middleware::observe))
        .with_state(state)
}

/// How long [`serve`] waits for WebSockets to close after telling them to go away.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting connections,
/// closes every WebSocket with code 1001 ("reconnect elsewhere and resume", see
/// `docs/protocol.md`), and waits for the requests in flight to finish and the sockets to close
/// (at most [`DRAIN_TIMEOUT`] for the sockets).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (drain, start, gone) = ws::Drain::new();
    let router = router.layer(axum::Extension(drain));
    let listener = axum::serve::ListenerExt::tap_io(listener, no_delay);
    listen::serve_connections(listener, router, drain_on(shutdown, start)).await;
    wait_for_sockets(gone).await;
    Ok(())
}

/// Sends small writes at once: a chat frame that waited for the previous one's ACK (Nagle's
/// algorithm against the client's delayed ACK) would arrive up to 40 ms late.
pub(crate) fn no_delay(socket: &mut tokio::net::TcpStream) {
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
}

/// [`serve`] over TLS (see [`tls::load_config`]): the same router, WebSockets and draining, and
/// every response carries `Strict-Transport-Security`; the certificate files are watched
/// ([`tls::TlsConfig::watch`]). Plain HTTP to this port fails the handshake.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls_config: tls::TlsConfig,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (drain, start, gone) = ws::Drain::new();
    let router = router.layer(axum::Extension(drain)).layer(axum::middleware::map_response(tls_response)).layer(
        axum::middleware::map_request(|mut request: axum::extract::Request| async move {
            // The pages build their API and WebSocket URLs from the scheme the client used, which
            // here is ours to state (a client's own value is overwritten).
            request.headers_mut().insert("x-forwarded-proto", axum::http::HeaderValue::from_static("https"));
            request
        }),
    );
    let listener = tls::TlsListener::new(listener, tls_config.server.clone())?;
    // A renewed certificate is picked up without a restart.
    let watcher = tls_config.watch();
    listen::serve_connections(listener, router, drain_on(shutdown, start)).await;
    watcher.abort();
    wait_for_sockets(gone).await;
    Ok(())
}

/// Over TLS every response gets HSTS, and every cookie `Secure` (the cookie code only knows
/// about TLS through an https `public_url`).
async fn tls_response(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(http::HSTS));
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.iter().any(|c| !c.as_bytes().ends_with(b"; Secure")) {
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            let secure = if cookie.as_bytes().ends_with(b"; Secure") {
                Some(cookie)
            } else {
                HeaderValue::from_bytes(&[cookie.as_bytes(), b"; Secure"].concat()).ok()
            };
            if let Some(secure) = secure {
                headers.append(header::SET_COOKIE, secure);
            }
        }
    }
    response
}

/// Once `shutdown` completes, tells every WebSocket to go away.
async fn drain_on(shutdown: impl Future<Output = ()>, start: tokio::sync::watch::Sender<bool>) {
    shutdown.await;
    let _ = start.send(true);
}

/// The router (and its handle) has been dropped: `recv` ends once every socket has closed.
async fn wait_for_sockets(mut gone: tokio::sync::mpsc::Receiver<()>) {
    if tokio::time::timeout(DRAIN_TIMEOUT, gone.recv()).await.is_err() {
        tracing::warn!("some WebSockets did not close in time");
    }
}
