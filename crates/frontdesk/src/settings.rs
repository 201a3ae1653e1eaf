//! One typed settings struct. Sources, later ones winning: built-in defaults, a TOML file
//! (`--config` or `FRONTDESK_CONFIG`), `FRONTDESK_*` environment variables, command-line flags.
//! Unknown keys are an error in every source, so a typo never silently does nothing.

use anyhow::{Context, bail};
use frontdesk_server::ServerConfig;
use frontdesk_server::frontdesk_realtime::RealtimeConfig;
use frontdesk_server::frontdesk_realtime::broker::BrokerSetting;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Where the SQLite database (and later the search index) live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// `normal` (survives a process crash) or `full` (also survives power loss, slower).
    pub sqlite_synchronous: SqliteSynchronous,
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `frontdesk_server=debug,info`.
    pub log_level: String,
    pub server: ServerConfig,
    /// How nodes tell each other about new events: `memory` (one node), `postgres`
    /// (LISTEN/NOTIFY on `database_url`) or `nats://host:port`.
    pub broker: String,
    /// WebSocket limits and timings.
    pub realtime: RealtimeConfig,
    /// A PEM certificate chain: with `tls_key`, the server speaks HTTPS (TLS 1.3) itself.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// With TLS: also listen for plain HTTP here (say `0.0.0.0:80`) and redirect it to HTTPS.
    pub tls_redirect_bind: Option<SocketAddr>,
    /// With `tls_redirect_bind`: serve `<dir>/.well-known/acme-challenge/*` over plain HTTP, for
    /// an ACME client's HTTP-01 challenge (`certbot certonly --webroot -w <dir>`).
    pub tls_acme_webroot: Option<PathBuf>,
    /// Encryption at rest: a file of `<key id>:<base64 of 32 bytes>` lines, the first the
    /// primary key (see docs/security.md). Without it (and without `encryption_keys`) nothing is
    /// encrypted.
    pub encryption_keys_file: Option<PathBuf>,
    /// The same key ring inline (`;`-separated), e.g. from `FRONTDESK_ENCRYPTION_KEYS`.
    pub encryption_keys: Option<String>,
    /// Threads that run the async tasks (HTTP, WebSockets). Default: one per core — see
    /// [`Settings::async_threads`].
    pub worker_threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    #[default]
    Normal,
    Full,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./frontdesk-data"),
            database_url: None,
            sqlite_synchronous: SqliteSynchronous::Normal,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            server: ServerConfig::default(),
            broker: "memory".to_owned(),
            realtime: RealtimeConfig::default(),
            tls_cert: None,
            tls_key: None,
            tls_redirect_bind: None,
            tls_acme_webroot: None,
            encryption_keys_file: None,
            encryption_keys: None,
            worker_threads: None,
        }
    }
}

impl Settings {
    /// The async runtime's worker threads: `worker_threads`, or one per core (at least one).
    /// Fewer than the cores leaves them to the work that is not async tasks (the database's
    /// threads, the blocking pool, the kernel's network work): measured on 2 cores
    /// (docs/benchmarks.md, "Session 4"), one worker cuts the CPU of WebSocket fan-out by about a
    /// fifth, but doubles the latency of assistant answers (part of an answer runs on the
    /// workers), so the default keeps one per core.
    pub fn async_threads(&self, cores: usize) -> usize {
        self.worker_threads.unwrap_or(cores).max(1)
    }
}

/// The broker setting for logs: `memory`/`postgres` as they are, a URL without its password.
pub fn redact_broker(broker: &str) -> String {
    if broker.contains("://") { redact_url(broker) } else { broker.to_owned() }
}

/// Passwords in database URLs never reach a log line.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or("");
                if credentials.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_owned(),
        },
        None => "***".to_owned(),
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("server", &self.server)
            .field("broker", &redact_broker(&self.broker))
            .field("realtime", &self.realtime)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_redirect_bind", &self.tls_redirect_bind)
            .field("tls_acme_webroot", &self.tls_acme_webroot)
            .field("encryption_keys_file", &self.encryption_keys_file)
            .field("encryption_keys", &self.encryption_keys.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Environment variables that belong to the tooling, not to the settings.
const ENV_NOT_SETTINGS: &[&str] = &["FRONTDESK_CONFIG"];
const ENV_IGNORED_PREFIXES: &[&str] = &["FRONTDESK_TEST_"];

/// Flags that override the other sources.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct StorageFlags {
    /// A TOML settings file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and other local state.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://user@host/db`); SQLite in the data directory when absent.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// `text` or `json` log lines.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Realtime broker between nodes: `memory`, `postgres` or `nats://host:port`.
    #[arg(long, global = true, value_name = "BROKER")]
    pub broker: Option<String>,
    /// Serve HTTPS (TLS 1.3) with this PEM certificate chain; needs --tls-key.
    #[arg(long, global = true, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, global = true, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
}

impl Settings {
    /// Loads from the file, the process environment and the flags.
    pub fn load(flags: &StorageFlags, bind: Option<SocketAddr>) -> anyhow::Result<Settings> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(flags, bind, &env)
    }

    pub fn load_from(
        flags: &StorageFlags,
        bind: Option<SocketAddr>,
        env: &[(String, String)],
    ) -> anyhow::Result<Settings> {
        let file = flags
            .config
            .clone()
            .or_else(|| env.iter().find(|(k, _)| k == "FRONTDESK_CONFIG").map(|(_, v)| PathBuf::from(v)));
        let mut table = match file {
            Some(path) => read_file(&path)?,
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(name) = key.strip_prefix("FRONTDESK_") else { continue };
            if ENV_NOT_SETTINGS.contains(&key.as_str()) || ENV_IGNORED_PREFIXES.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let path: Vec<String> = name.split("__").map(str::to_lowercase).collect();
            insert_path(&mut table, &path, env_value(value)).with_context(|| format!("environment variable {key}"))?;
        }
        let mut settings: Settings = Settings::deserialize(toml::Value::Table(table)).context("invalid settings")?;
        if let Some(dir) = &flags.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(url) = &flags.database_url {
            settings.database_url = Some(url.clone());
        }
        if let Some(format) = flags.log_format {
            settings.log_format = format;
        }
        if let Some(bind) = bind {
            settings.bind = bind;
        }
        if let Some(broker) = &flags.broker {
            settings.broker = broker.clone();
        }
        if let Some(cert) = &flags.tls_cert {
            settings.tls_cert = Some(cert.clone());
        }
        if let Some(key) = &flags.tls_key {
            settings.tls_key = Some(key.clone());
        }
        if settings.tls_cert.is_some() != settings.tls_key.is_some() {
            bail!("TLS needs both tls_cert and tls_key (--tls-cert and --tls-key)");
        }
        if settings.tls_redirect_bind.is_some() && settings.tls_cert.is_none() {
            bail!("tls_redirect_bind redirects plain HTTP to HTTPS: it needs tls_cert and tls_key");
        }
        if settings.tls_acme_webroot.is_some() && settings.tls_redirect_bind.is_none() {
            bail!("tls_acme_webroot is served by the plain-HTTP listener: it needs tls_redirect_bind");
        }
        match BrokerSetting::parse(&settings.broker).context("invalid broker setting")? {
            BrokerSetting::Postgres if settings.database_url.is_none() => {
                bail!("broker = \"postgres\" needs database_url (PostgreSQL)")
            }
            _ => {}
        }
        settings.realtime.validate().context("invalid realtime settings")?;
        settings.apply_data_dir_defaults();
        if let Some(url) = &settings.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("database_url must start with postgres:// (got {})", redact_url(url));
        }
        Ok(settings)
    }
}

/// Where `scripts/fetch-model <data_dir>/models/all-MiniLM-L6-v2` puts the embedding model.
pub const MODEL_SUBDIR: &str = "models/all-MiniLM-L6-v2";

impl Settings {
    /// Local state the settings did not place explicitly lives in the data directory: the search
    /// index, and the embedding model when one was fetched there.
    fn apply_data_dir_defaults(&mut self) {
        let k = &mut self.server.knowledge;
        if k.index_dir.is_none() {
            k.index_dir = Some(self.data_dir.join("knowledge"));
        }
        let local_model = self.data_dir.join(MODEL_SUBDIR);
        if k.model_dir.is_none() && k.embeddings_url.is_none() && local_model.join("model.safetensors").is_file() {
            k.model_dir = Some(local_model);
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse::<toml::Table>().with_context(|| format!("{} is not valid TOML", path.display()))
}

/// An environment value as TOML would read it (numbers and booleans typed), else a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    match path {
        [] => bail!("empty key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => insert_path(inner, rest, value),
                _ => bail!("`{first}` is not a section"),
            }
        }
    }
}

impl Settings {
    /// The key ring for encryption at rest, when one is configured.
    pub fn key_ring(&self) -> anyhow::Result<Option<frontdesk_crypto::KeyRing>> {
        let text = match (&self.encryption_keys, &self.encryption_keys_file) {
            (Some(_), Some(_)) => bail!("set encryption_keys or encryption_keys_file, not both"),
            (Some(inline), None) => inline.clone(),
            (None, Some(path)) => {
                std::fs::read_to_string(path).with_context(|| format!("cannot read the key file {}", path.display()))?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(frontdesk_crypto::KeyRing::parse(&text)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_then_env_then_flags() {
        let flags = StorageFlags { data_dir: Some(PathBuf::from("/flag")), ..Default::default() };
        let s = Settings::load_from(
            &flags,
            None,
            &env(&[
                ("FRONTDESK_DATA_DIR", "/env"),
                ("FRONTDESK_LOG_FORMAT", "json"),
                ("FRONTDESK_SERVER__RATE_LIMITS__MESSAGES_PER_MINUTE_PER_SESSION", "1000"),
                ("FRONTDESK_TEST_DATABASE_URL", "postgres://ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .expect("valid settings");
        assert_eq!(s.data_dir, PathBuf::from("/flag"));
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.server.rate_limits.messages_per_minute_per_session, 1000);
        assert_eq!(s.bind.port(), 8080);
    }

    #[test]
    fn async_worker_threads_one_per_core_unless_set() {
        let s = Settings::load_from(&StorageFlags::default(), None, &[]).expect("defaults");
        assert_eq!((s.async_threads(0), s.async_threads(2), s.async_threads(8)), (1, 2, 8));
        let s = Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_WORKER_THREADS", "3")]))
            .expect("a number");
        assert_eq!((s.async_threads(2), s.async_threads(8)), (3, 3));
        let s = Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_WORKER_THREADS", "0")]))
            .expect("zero");
        assert_eq!(s.async_threads(8), 1, "at least one");
        assert!(
            Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_WORKER_THREADS", "many")])).is_err()
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_BIMD", "x")]));
        assert!(format!("{:#}", err.expect_err("typo must fail")).contains("bimd"));
        let err = Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_SERVER__NOPE", "1")]));
        assert!(err.is_err());
    }

    #[test]
    fn files_are_read_and_validated() {
        let dir = std::env::temp_dir().join(format!("fd-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("frontdesk.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\n[server]\nsession_ttl_secs = 60\n").expect("write");
        let flags = StorageFlags { config: Some(path.clone()), ..Default::default() };
        let s = Settings::load_from(&flags, None, &[]).expect("valid file");
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.server.session_ttl_secs, 60);
        std::fs::write(&path, "database_url = \"mysql://x\"\n").expect("write");
        assert!(Settings::load_from(&flags, None, &[]).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_broker_is_a_setting_and_a_flag() {
        let s = Settings::load_from(&StorageFlags::default(), None, &[]).expect("defaults");
        assert_eq!(s.broker, "memory");
        let s =
            Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_BROKER", "nats://127.0.0.1:4222")]))
                .expect("nats");
        assert_eq!(s.broker, "nats://127.0.0.1:4222");
        let flags = StorageFlags { broker: Some("memory".to_owned()), ..Default::default() };
        let s = Settings::load_from(&flags, None, &env(&[("FRONTDESK_BROKER", "nats://x:1")])).expect("flag wins");
        assert_eq!(s.broker, "memory");
        assert!(
            Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_BROKER", "redis://x")])).is_err()
        );
        assert!(
            Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_BROKER", "postgres")])).is_err(),
            "the postgres broker needs PostgreSQL"
        );
        let s = Settings::load_from(
            &StorageFlags::default(),
            None,
            &env(&[("FRONTDESK_REALTIME__CLIENT_FRAMES_PER_SECOND", "500")]),
        )
        .expect("realtime section");
        assert_eq!(s.realtime.client_frames_per_second, 500);
        assert!(
            Settings::load_from(&StorageFlags::default(), None, &env(&[("FRONTDESK_REALTIME__SEND_QUEUE", "0")]))
                .is_err()
        );
    }

    #[test]
    fn tls_needs_both_files_from_any_source() {
        let flags = StorageFlags { tls_cert: Some(PathBuf::from("/flag/cert.pem")), ..Default::default() };
        let err = Settings::load_from(&flags, None, &[]).expect_err("a certificate without a key");
        assert!(format!("{err:#}").contains("tls_key"), "{err:#}");
        let s = Settings::load_from(&flags, None, &env(&[("FRONTDESK_TLS_KEY", "/env/key.pem")])).expect("both");
        assert_eq!(s.tls_cert, Some(PathBuf::from("/flag/cert.pem")));
        assert_eq!(s.tls_key, Some(PathBuf::from("/env/key.pem")));
        let s = Settings::load_from(&StorageFlags::default(), None, &[]).expect("defaults");
        assert!(s.tls_cert.is_none() && s.tls_key.is_none());

        // The plain-HTTP redirect and the ACME webroot only make sense on top of TLS.
        let tls = [("FRONTDESK_TLS_CERT", "/c.pem"), ("FRONTDESK_TLS_KEY", "/k.pem")];
        let redirect = ("FRONTDESK_TLS_REDIRECT_BIND", "0.0.0.0:80");
        let webroot = ("FRONTDESK_TLS_ACME_WEBROOT", "/var/lib/acme");
        let err = Settings::load_from(&StorageFlags::default(), None, &env(&[redirect])).expect_err("no TLS");
        assert!(format!("{err:#}").contains("needs tls_cert"), "{err:#}");
        let err = Settings::load_from(&StorageFlags::default(), None, &env(&[tls[0], tls[1], webroot]))
            .expect_err("a webroot without the listener");
        assert!(format!("{err:#}").contains("needs tls_redirect_bind"), "{err:#}");
        let s = Settings::load_from(&StorageFlags::default(), None, &env(&[tls[0], tls[1], redirect, webroot]))
            .expect("all three");
        assert_eq!(s.tls_redirect_bind, Some(SocketAddr::from(([0, 0, 0, 0], 80))));
        assert_eq!(s.tls_acme_webroot, Some(PathBuf::from("/var/lib/acme")));
    }

    #[test]
    fn database_passwords_are_redacted() {
        let s = Settings { database_url: Some("postgres://app:hunter2@db:5432/fd".to_owned()), ..Default::default() };
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("postgres://app:***@db:5432/fd"), "{debug}");
        assert_eq!(redact_url("postgres://app@db/fd"), "postgres://app@db/fd");
    }
}
