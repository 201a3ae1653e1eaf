//! The shared test server: the real router on 127.0.0.1:0 over a real store (SQLite in a temp
//! dir, or a fresh PostgreSQL database), seeded through `admin::*`, driven over real HTTP.

use frontdesk_core::chat::Chat;
use frontdesk_core::model::{Organization, Site, User};
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::FixedClock;
use frontdesk_core::roles::Role;
use frontdesk_core::store::Store;
use frontdesk_server::env::OsEntropy;
use frontdesk_server::{ServerConfig, admin};
use frontdesk_store_postgres::PgStore;
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use frontdesk_testkit::chat_api::{ChatClient, Reply};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

pub const SHOP: &str = "https://shop.example.com";
pub const OTHER_SHOP: &str = "https://other.example.org";
pub const OWNER_EMAIL: &str = "owner@northwind.test";
pub const MEMBER_EMAIL: &str = "member@northwind.test";
pub const OUTSIDER_EMAIL: &str = "owner@contoso.test";
pub const PASSWORD: &str = "correct horse battery staple";
/// 2025-11-21T04:40:00Z: the clock every test server starts at.
pub const START_MS: i64 = 1_763_700_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub clock: Arc<FixedClock>,
    pub chat: Chat,
    pub org: Organization,
    pub other_org: Organization,
    pub owner: User,
    pub member: User,
    pub outsider: User,
    /// Of `org`, allowing [`SHOP`] and `*.northwind.test`.
    pub site: Site,
    /// Of `other_org`, allowing [`OTHER_SHOP`].
    pub other_site: Site,
    /// Where the data is, for tests that go behind the server's back.
    pub database: Database,
    shutdown: Option<oneshot::Sender<()>>,
    dir: Option<PathBuf>,
}

pub enum Database {
    SqliteFile(PathBuf),
    Postgres(String),
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Limits high enough that suites which are not about limits never meet them.
pub fn roomy_config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.rate_limits.sessions_per_minute_per_ip = 1000;
    c.rate_limits.logins_per_minute_per_ip = 1000;
    c
}

impl TestServer {
    /// `None` only for PostgreSQL when no test database is configured (outside CI).
    pub async fn start(backend: Backend, name: &str, config: ServerConfig) -> Option<TestServer> {
        Self::start_with_tls(backend, name, config, None).await
    }

    /// [`TestServer::start`], over TLS with these settings when given (`base` is then `https://…`).
    pub async fn start_with_tls(
        backend: Backend,
        name: &str,
        config: ServerConfig,
        tls: Option<frontdesk_server::tls::TlsConfig>,
    ) -> Option<TestServer> {
        let (store, dir, database): (Arc<dyn Store>, Option<PathBuf>, Database) = match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("frontdesk-server-{name}-{}", uuid::Uuid::now_v7().simple()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let file = dir.join("frontdesk.db");
                let store = SqliteStore::open(&file, SqliteOptions::default()).await.expect("open sqlite");
                (Arc::new(store), Some(dir), Database::SqliteFile(file))
            }
            Backend::Postgres => {
                let url = frontdesk_testkit::pg::fresh_database_url(name).await?;
                (Arc::new(PgStore::connect(&url).await.expect("connect to postgres")), None, Database::Postgres(url))
            }
        };
        let clock = Arc::new(FixedClock::at(START_MS));
        let entropy = Arc::new(OsEntropy);
        let chat = Chat::new(store.clone(), clock.clone(), entropy.clone());

        let org = admin::create_org(&chat, "Northwind", Plan::Pro).await.expect("org");
        let other_org = admin::create_org(&chat, "Contoso", Plan::Pro).await.expect("other org");
        let owner = admin::create_user(&chat, OWNER_EMAIL, "Olive Owner", PASSWORD, Some((org.id, Role::Owner)))
            .await
            .expect("owner");
        let member = admin::create_user(&chat, MEMBER_EMAIL, "Max Member", PASSWORD, Some((org.id, Role::Member)))
            .await
            .expect("member");
        let outsider =
            admin::create_user(&chat, OUTSIDER_EMAIL, "Otto Outsider", PASSWORD, Some((other_org.id, Role::Owner)))
                .await
                .expect("outsider");
        let site =
            admin::create_site(&chat, org.id, "Northwind shop", &[SHOP.to_owned(), "*.northwind.test".to_owned()])
                .await
                .expect("site");
        let other_site = admin::create_site(&chat, other_org.id, "Contoso shop", &[OTHER_SHOP.to_owned()])
            .await
            .expect("other site");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let mut config = config;
        if config.smtp.is_some() && config.public_url.is_none() {
            // Links in emails need the server's address, known once it is bound.
            config.public_url = Some(base.clone());
        }
        let router = frontdesk_server::build(store, config, clock.clone(), entropy).await.expect("build the router");
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        match tls {
            Some(tls) => tokio::spawn(frontdesk_server::serve_tls(listener, tls, router, shutdown)),
            None => tokio::spawn(frontdesk_server::serve(listener, router, shutdown)),
        };
        Some(TestServer {
            base,
            clock,
            chat,
            org,
            other_org,
            owner,
            member,
            outsider,
            site,
            other_site,
            database,
            shutdown: Some(tx),
            dir,
        })
    }

    /// A server-to-server client of the main site (no Origin).
    pub fn chat_client(&self) -> ChatClient {
        ChatClient::new(&self.base, &self.site.public_key)
    }

    /// A browser on the main site's shop.
    pub fn browser(&self) -> ChatClient {
        self.chat_client().with_origin(SHOP)
    }

    pub fn other_client(&self) -> ChatClient {
        ChatClient::new(&self.base, &self.other_site.public_key)
    }

    pub async fn login(&self, email: &str) -> AgentClient {
        let agent = AgentClient::new(&self.base);
        let r = agent.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
        agent
    }
}

/// A dashboard user: keeps the session cookie and sends this server's Origin.
pub struct AgentClient {
    http: reqwest::Client,
    pub base: String,
    pub origin: Option<String>,
    pub cookie: std::sync::Mutex<Option<String>>,
}

impl AgentClient {
    pub fn new(base: &str) -> Self {
        AgentClient {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            origin: Some(base.to_owned()),
            cookie: std::sync::Mutex::new(None),
        }
    }

    /// Sends through this client (one that trusts a test certificate, say).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().expect("cookie lock").clone()
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(origin) = &self.origin {
            req = req.header("Origin", origin);
        }
        if let Some(cookie) = self.cookie() {
            req = req.header("Cookie", format!("fd_session={cookie}"));
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("a readable body");
        Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// Logs in; on success keeps the cookie's token.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        let r = self.post("/api/app/login", &serde_json::json!({"email": email, "password": password})).await;
        if r.status == 200 {
            let token = r
                .header("set-cookie")
                .and_then(|c| c.split(';').next())
                .and_then(|kv| kv.strip_prefix("fd_session="))
                .map(str::to_owned);
            *self.cookie.lock().expect("cookie lock") = token;
        }
        r
    }
}

/// Sends a raw request with full control of headers and body.
pub async fn raw(method: reqwest::Method, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Reply {
    let mut req = reqwest::Client::new().request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.body(body);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("a readable body");
    Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// Asserts the API's error shape and code.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "body: {}", r.body);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "error message: {}", r.body);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "JSON error");
}
