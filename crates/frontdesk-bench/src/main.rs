//! `frontdesk-bench`: a load generator for Frontdesk's realtime path, run against a release
//! build of the server binary, which it starts itself (on 127.0.0.1 only) and measures from
//! `/proc`. Every scenario is bounded in connections and time.
//!
//! ```text
//! cargo build --release -p frontdesk
//! cargo run --release -p frontdesk-bench -- idle --connections 15000
//! cargo run --release -p frontdesk-bench -- fanout
//! cargo run --release -p frontdesk-bench -- persisted --backend both
//! ```

mod floor;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const ORIGIN: &str = "https://bench.example";
const PASSWORD: &str = "bench password, long enough";
const EMAIL: &str = "agent@bench.example";
/// Linux's USER_HZ: /proc CPU times are in these ticks.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Parser)]
#[command(name = "frontdesk-bench", about = "Load generator for Frontdesk's realtime path")]
struct Cli {
    /// The server binary (a release build).
    #[arg(long, default_value = "target/release/frontdesk", global = true)]
    server_bin: PathBuf,
    /// PostgreSQL for the `postgres` backend; a fresh schema is made in it and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test", global = true)]
    database_url: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Idle widget connections held by one server, and server RSS per connection.
    Idle {
        #[arg(long, default_value_t = 15_000)]
        connections: usize,
        /// Sessions the connections are spread over (a session may have several tabs).
        #[arg(long, default_value_t = 100)]
        sessions: usize,
    },
    /// Fan-out: conversations of `size` widget connections, an agent typing into them at rising
    /// delivery rates; end-to-end latency per delivery.
    Fanout(FanoutShape),
    /// The kernel's floor for `fanout`: the same receivers and rates, written by a bare process that
    /// does nothing but one `write` per delivery (its CPU is what any server pays at least).
    Floor(FanoutShape),
    /// The writer process of `floor` (started by it).
    #[command(hide = true)]
    FloorWriter {
        #[arg(long)]
        connections: usize,
    },
    /// The persisted path: visitors `POST /api/chat/message`, an agent's socket receives it.
    Persisted {
        #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
        backend: BackendChoice,
        /// Messages per second offered, comma-separated.
        #[arg(long, default_value = "1000,2000,3000")]
        rates: String,
        #[arg(long, default_value_t = 6)]
        secs: u64,
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        /// Leave the site's assistant on: every visitor message also runs retrieval and the
        /// extractive answer and stores a second message (the reply). Latency is still measured
        /// to the visitor's own message on the agent socket.
        #[arg(long)]
        assistant: bool,
    },
    /// Mixed load for a while — visitors asking (the assistant answers from a real help
    /// center), agents replying, widgets reconnecting and resuming — reporting the server's memory
    /// and the latency over time. Memory must stay flat.
    Soak {
        #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
        backend: BackendChoice,
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Visitor messages per second (each also gets an answer or a decline, or an agent reply).
        #[arg(long, default_value_t = 40)]
        rate: u64,
        #[arg(long, default_value_t = 300)]
        sessions: usize,
        /// Widget connections that drop and resume every few seconds.
        #[arg(long, default_value_t = 200)]
        widgets: usize,
        /// Seconds per report row.
        #[arg(long, default_value_t = 60)]
        every: u64,
        /// The help center the assistant answers from.
        #[arg(long, default_value = "crates/frontdesk/demo/kb")]
        kb: PathBuf,
    },
}

/// The receivers and rates of `fanout` (and of its `floor`).
#[derive(clap::Args)]
struct FanoutShape {
    #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
    conversations: usize,
    #[arg(long, default_value_t = 10, value_parser = at_least_one)]
    size: usize,
    /// Deliveries per second, comma-separated.
    #[arg(long, default_value = "5000,10000,20000,35000,50000")]
    rates: String,
    /// Seconds measured per rate (after one second of warm-up).
    #[arg(long, default_value_t = 6)]
    secs: u64,
}

/// A count that a rate is divided by or a connection index taken modulo: zero is refused up front.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {text:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Scenario::FloorWriter { connections } = cli.scenario {
        // Plain threads only: the writer must not carry a runtime's cost.
        return floor::writer(connections);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.scenario {
            Scenario::Idle { connections, sessions } => idle(&cli.server_bin, connections, sessions).await,
            Scenario::Fanout(ref f) => {
                fanout(&cli.server_bin, f.conversations, f.size, &parse_rates(&f.rates)?, f.secs).await
            }
            Scenario::Floor(ref f) => floor::run(f.conversations, f.size, &parse_rates(&f.rates)?, f.secs).await,
            Scenario::FloorWriter { .. } => Ok(()),
            Scenario::Soak { backend, minutes, rate, sessions, widgets, every, ref kb } => {
                let backend = match backend {
                    BackendChoice::Postgres => Backend::Postgres,
                    _ => Backend::Sqlite,
                };
                let plan = SoakPlan { minutes, rate, sessions, widgets, every };
                soak(&cli.server_bin, &cli.database_url, backend, kb, plan).await
            }
            Scenario::Persisted { backend, ref rates, secs, sessions, assistant } => {
                let backends = match backend {
                    BackendChoice::Sqlite => vec![Backend::Sqlite],
                    BackendChoice::Postgres => vec![Backend::Postgres],
                    BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
                };
                for b in backends {
                    let rates = parse_rates(rates)?;
                    persisted(&cli.server_bin, &cli.database_url, b, &rates, secs, sessions, assistant).await?;
                }
                Ok(())
            }
        }
    })
}

fn parse_rates(text: &str) -> Result<Vec<u64>> {
    text.split(',').map(|r| r.trim().parse::<u64>().with_context(|| format!("rate `{r}`"))).collect()
}

// ---------------------------------------------------------------------------------------------
// The server under test.

struct Server {
    child: tokio::process::Child,
    pid: u32,
    base: String,
    dir: PathBuf,
    pg_url: Option<String>,
    org: String,
    site_key: String,
    cookie: String,
    http: reqwest::Client,
}

impl Server {
    /// Starts a server with an organization, an owner and a site; with `kb_dir`, the site's
    /// knowledge base is imported from that folder of Markdown files first.
    async fn start(
        bin: &Path,
        backend: Backend,
        database_url: &str,
        assistant: bool,
        kb_dir: Option<&Path>,
    ) -> Result<Server> {
        if !bin.exists() {
            bail!("{} not found: build it first with `cargo build --release -p frontdesk`", bin.display());
        }
        let dir = std::env::temp_dir().join(format!("frontdesk-bench-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)?;
        let pg_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_schema(database_url).await?),
        };
        let mut storage = vec!["--data-dir".to_owned(), dir.display().to_string()];
        if let Some(url) = &pg_url {
            storage.extend(["--database-url".to_owned(), url.clone()]);
        }
        let org = cli_json(bin, &storage, &["org", "create", "--name", "Bench", "--json"]).await?;
        let org = org["id"].as_str().context("org id")?.to_owned();
        cli_json(
            bin,
            &storage,
            &[
                "user",
                "create",
                "--email",
                EMAIL,
                "--name",
                "Bench Agent",
                "--password",
                PASSWORD,
                "--org",
                &org,
                "--role",
                "owner",
                "--json",
            ],
        )
        .await?;
        let site = cli_json(
            bin,
            &storage,
            &["site", "create", "--org", &org, "--name", "Bench shop", "--allowed-origin", ORIGIN, "--json"],
        )
        .await?;
        let site_id = site["id"].as_str().context("site id")?.to_owned();
        let site_key = site["public_key"].as_str().context("public key")?.to_owned();
        if let Some(kb) = kb_dir {
            let kb = kb.display().to_string();
            cli_json(bin, &storage, &["kb", "import", "--site", &site_id, &kb, "--json"]).await?;
        }

        let mut child = tokio::process::Command::new(bin)
            .args(&storage)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(server_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("start the server")?;
        let pid = child.id().context("server pid")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("Frontdesk listening on ") {
                    return Ok::<_, anyhow::Error>(url.trim().to_owned());
                }
            }
            bail!("the server exited before listening")
        })
        .await
        .context("the server did not start within 30 s")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let http = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
        let login = http
            .post(format!("{base}/api/app/login"))
            .header("Origin", &base)
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await?;
        if !login.status().is_success() {
            bail!("login failed: {}", login.status());
        }
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .context("login cookie")?
            .to_owned();
        // Measure the realtime path, not the assistant (unless asked to).
        let patch = http
            .patch(format!("{base}/api/app/orgs/{org}/sites/{site_id}"))
            .header("Origin", &base)
            .header("Cookie", &cookie)
            .json(&json!({"assistant": {"enabled": assistant}}))
            .send()
            .await?;
        if !patch.status().is_success() {
            bail!("setting the site's assistant failed: {}", patch.status());
        }
        Ok(Server { child, pid, base, dir, pg_url, org, site_key, cookie, http })
    }

    fn ws(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    /// Starts `n` visitor sessions: `(session id, token)`.
    async fn sessions(&self, n: usize) -> Result<Vec<(String, String)>> {
        let results: Vec<Result<(String, String)>> = futures::stream::iter(0..n)
            .map(|_| async {
                let r: Value = self
                    .http
                    .post(format!("{}/api/chat/session", self.base))
                    .header("X-API-Key", &self.site_key)
                    .header("Origin", ORIGIN)
                    .json(&json!({}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = r["session_id"].as_str().context("session id")?.to_owned();
                let token = r["session_token"].as_str().context("session token")?.to_owned();
                Ok((id, token))
            })
            .buffer_unordered(32)
            .collect()
            .await;
        results.into_iter().collect()
    }

    fn rss_kb(&self) -> u64 {
        proc_status_kb(self.pid, "VmRSS:").unwrap_or(0)
    }

    fn cpu_ticks(&self) -> u64 {
        proc_cpu_ticks(&format!("/proc/{}/stat", self.pid)).unwrap_or(0)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(url) = self.pg_url.take() {
            drop_schema(&url).await;
        }
    }
}

fn server_env() -> Vec<(&'static str, String)> {
    // `FD_BENCH_SERVER_LOG` (a tracing filter such as `warn,sqlx::query=debug`) lets a
    // profiling run see what the server does; the default keeps its output out of the table.
    let log = std::env::var("FD_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned());
    let fixed = [
        // Zero turns a limit off: the load generator is one IP with many sessions.
        ("FRONTDESK_SERVER__RATE_LIMITS__MESSAGES_PER_MINUTE_PER_SESSION", "0"),
        ("FRONTDESK_SERVER__RATE_LIMITS__SESSIONS_PER_MINUTE_PER_IP", "0"),
        ("FRONTDESK_SERVER__RATE_LIMITS__LOGINS_PER_MINUTE_PER_IP", "0"),
        // One agent connection publishes every typing signal of the fan-out scenario.
        ("FRONTDESK_REALTIME__CLIENT_FRAMES_PER_SECOND", "1000000"),
    ];
    std::iter::once(("FRONTDESK_LOG_LEVEL", log)).chain(fixed.map(|(k, v)| (k, v.to_owned()))).collect()
}

async fn cli_json(bin: &Path, storage: &[String], args: &[&str]) -> Result<Value> {
    let out = tokio::process::Command::new(bin)
        .args(storage)
        .args(args)
        .envs(server_env())
        .output()
        .await
        .with_context(|| format!("run {} {}", bin.display(), args.join(" ")))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("JSON output")?;
    Ok(serde_json::from_str(line)?)
}

async fn fresh_schema(base: &str) -> Result<String> {
    use sqlx::Connection;
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(base).await.context("connect to PostgreSQL")?;
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\"")).execute(&mut conn).await?;
    let _ = conn.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}

async fn drop_schema(url: &str) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else { return };
    let schema: Result<String, _> = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut conn).await;
    if let Ok(schema) = schema
        && schema.starts_with("bench_")
    {
        let _ = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(&mut conn).await;
    }
    let _ = conn.close().await;
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a /proc/…/stat file, in ticks.
fn proc_cpu_ticks(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the full line, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Opens the receivers, 128 at a time; fails with the first error, if any.
async fn open_all(opens: impl futures::Stream<Item = impl std::future::Future<Output = Result<()>>>) -> Result<()> {
    let results: Vec<Result<()>> = opens.buffer_unordered(128).collect().await;
    match results.into_iter().find_map(Result::err) {
        Some(e) => bail!("opening the receivers failed: {e:#}"),
        None => Ok(()),
    }
}

fn own_cpu_ticks() -> u64 {
    proc_cpu_ticks("/proc/self/stat").unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// WebSocket clients.

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

async fn connect(url: &str, headers: &[(&'static str, String)]) -> Result<Ws> {
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().insert(*name, HeaderValue::from_str(value)?);
    }
    let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(small_buffers()), true).await?;
    Ok(ws)
}

/// Reads frames until one of this type.
async fn wait_for(ws: &mut Ws, kind: &str) -> Result<Value> {
    let deadline = Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout(deadline, ws.next()).await.context("timed out")?.context("closed")??;
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(text.as_str())?;
            if frame["type"] == kind {
                return Ok(frame);
            }
        }
    }
}

async fn widget(server: &Server, token: &str) -> Result<Ws> {
    let url = server.ws(&format!("/api/chat/ws?key={}&token={token}&after_seq=0", server.site_key));
    let mut ws = connect(&url, &[("Origin", ORIGIN.to_owned())]).await?;
    wait_for(&mut ws, "resumed").await?;
    Ok(ws)
}

async fn agent(server: &Server) -> Result<Ws> {
    let mut ws = connect(
        &server.ws("/api/app/ws?live=true"),
        &[("Origin", server.base.clone()), ("Cookie", server.cookie.clone())],
    )
    .await?;
    wait_for(&mut ws, "resumed").await?;
    Ok(ws)
}

// ---------------------------------------------------------------------------------------------
// Latency recording.

#[derive(Default)]
struct Recorder {
    on: AtomicBool,
    samples: Mutex<Vec<u32>>,
}

impl Recorder {
    fn record(&self, latency: Duration) {
        if self.on.load(Ordering::Relaxed) {
            let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
            self.samples.lock().unwrap_or_else(|e| e.into_inner()).push(us);
        }
    }

    fn start(&self) {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.on.store(true, Ordering::Relaxed);
    }

    /// Stops recording: (count, p50 ms, p99 ms, max ms).
    fn stop(&self) -> (usize, f64, f64, f64) {
        self.on.store(false, Ordering::Relaxed);
        let mut s = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        if s.is_empty() {
            return (0, f64::NAN, f64::NAN, f64::NAN);
        }
        s.sort_unstable();
        let at = |q: f64| f64::from(s[((s.len() as f64 - 1.0) * q).round() as usize]) / 1000.0;
        (s.len(), at(0.50), at(0.99), at(1.0))
    }
}

struct Usage {
    server: u64,
    own: u64,
    at: Instant,
}

impl Usage {
    fn now(server: &Server) -> Usage {
        Usage { server: server.cpu_ticks(), own: own_cpu_ticks(), at: Instant::now() }
    }

    /// (server CPU %, load generator CPU %), of one core.
    fn since(&self, server: &Server) -> (f64, f64) {
        let secs = self.at.elapsed().as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SEC / secs * 100.0;
        (pct(server.cpu_ticks().saturating_sub(self.server)), pct(own_cpu_ticks().saturating_sub(self.own)))
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

async fn idle(bin: &Path, connections: usize, sessions: usize) -> Result<()> {
    let server = Server::start(bin, Backend::Sqlite, "", false, None).await?;
    let sessions = server.sessions(sessions.max(1)).await?;
    // Warm up the allocator and caches with a few connections, then measure from there.
    let warm: Vec<Ws> =
        futures::future::try_join_all((0..16).map(|i| widget(&server, &sessions[i % sessions.len()].1))).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kb();
    let started = Instant::now();
    let open = Arc::new(AtomicUsize::new(0));
    let results: Vec<Result<()>> = futures::stream::iter(0..connections)
        .map(|i| {
            let token = sessions[i % sessions.len()].1.clone();
            let server = &server;
            let open = open.clone();
            async move {
                let ws = widget(server, &token).await?;
                open.fetch_add(1, Ordering::Relaxed);
                // Keep reading (answers the server's pings) until the end of the run.
                tokio::spawn(async move {
                    let mut ws = ws;
                    while let Some(Ok(_)) = ws.next().await {}
                    open.fetch_sub(1, Ordering::Relaxed);
                });
                Ok(())
            }
        })
        .buffer_unordered(128)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        eprintln!("first connection error: {e:#}");
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = server.rss_kb();
    let held = open.load(Ordering::Relaxed);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / held.max(1) as f64;
    println!();
    println!("## Idle connections (SQLite, in-process broker)");
    println!();
    println!(
        "| connections held | failed | connect time | server RSS before | server RSS after | RSS per idle connection |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {held} | {failed} | {connect_secs:.1} s | {:.1} MiB | {:.1} MiB | {:.2} KB |",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per / 1000.0
    );
    drop(warm);
    server.stop().await;
    Ok(())
}

async fn fanout(bin: &Path, conversations: usize, size: usize, rates: &[u64], secs: u64) -> Result<()> {
    let server = Server::start(bin, Backend::Sqlite, "", false, None).await?;
    let sessions = server.sessions(conversations).await?;
    let epoch = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..conversations).map(|_| AtomicU64::new(0)).collect());
    let recorder = Arc::new(Recorder::default());
    let delivered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    open_all(futures::stream::iter(0..conversations * size).map(|i| {
        let conv = i % conversations;
        let token = sessions[conv].1.clone();
        let (server, sent, recorder, delivered) = (&server, sent.clone(), recorder.clone(), delivered.clone());
        async move {
            let mut ws = widget(server, &token).await?;
            tokio::spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message
                        && text.as_str().contains("\"type\":\"typing\"")
                    {
                        let now = epoch.elapsed().as_nanos() as u64;
                        let at = sent[conv].load(Ordering::Acquire);
                        recorder.record(Duration::from_nanos(now.saturating_sub(at)));
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            Ok(())
        }
    }))
    .await?;
    println!("opened {} receiving connections in {:.1} s", conversations * size, started.elapsed().as_secs_f64());
    let publisher = agent(&server).await?;
    let (mut sink, mut stream) = publisher.split();
    tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let frames: Vec<String> = sessions
        .iter()
        .map(|(id, _)| json!({"type": "typing", "conversation_id": id, "on": true}).to_string())
        .collect();
    // Warm-up: the server checks each conversation once per agent connection.
    for f in &frames {
        sink.feed(Message::Text(f.clone().into())).await?;
    }
    sink.flush().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut rows = Vec::new();
    let mut next = 0usize;
    for &rate in rates {
        let publishes_per_sec = rate as f64 / size as f64;
        for phase in [false, true] {
            let duration = if phase { Duration::from_secs(secs) } else { Duration::from_secs(1) };
            if phase {
                recorder.start();
            }
            let usage = Usage::now(&server);
            let before = delivered.load(Ordering::Relaxed);
            let begin = Instant::now();
            let mut published = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while begin.elapsed() < duration {
                tick.tick().await;
                let due = (begin.elapsed().as_secs_f64() * publishes_per_sec) as u64;
                while published < due {
                    let conv = next % conversations;
                    next += 1;
                    sent[conv].store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
                    sink.feed(Message::Text(frames[conv].clone().into())).await?;
                    published += 1;
                }
                sink.flush().await?;
            }
            // Let the last deliveries land.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if phase {
                let (server_cpu, own_cpu) = usage.since(&server);
                let (count, p50, p99, max) = recorder.stop();
                let got = delivered.load(Ordering::Relaxed) - before;
                let achieved = got as f64 / (begin.elapsed().as_secs_f64() - 0.2);
                let expected = published * (size as u64);
                rows.push(format!(
                    "| {rate} | {achieved:.0} | {got}/{expected} | {p50:.2} ms | {p99:.2} ms | {max:.1} ms | {server_cpu:.0}% | {own_cpu:.0}% |"
                ));
                let _ = count;
            }
        }
    }
    println!();
    println!("## Fan-out: {} connections in conversations of {size} (SQLite, in-process broker)", conversations * size);
    println!();
    println!(
        "| target deliveries/s | measured deliveries/s | delivered/expected | p50 | p99 | max | server CPU | load generator CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    server.stop().await;
    Ok(())
}

async fn persisted(
    bin: &Path,
    database_url: &str,
    backend: Backend,
    rates: &[u64],
    secs: u64,
    sessions: usize,
    assistant: bool,
) -> Result<()> {
    let server = Server::start(bin, backend, database_url, assistant, None).await?;
    let sessions = Arc::new(server.sessions(sessions.max(1)).await?);
    let epoch = Instant::now();
    let recorder = Arc::new(Recorder::default());
    let delivered = Arc::new(AtomicU64::new(0));
    // Send times by message number (the message's body is `b<number>`).
    let sent: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut ws = agent(&server).await?;
    {
        let (recorder, delivered, sent) = (recorder.clone(), delivered.clone(), sent.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if frame["type"] != "message.created" {
                    continue;
                }
                let Some(n) = frame["message"]["body"]
                    .as_str()
                    .and_then(|b| b.strip_prefix('b'))
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                let at = sent.lock().unwrap_or_else(|e| e.into_inner()).get(n).copied().unwrap_or(0);
                let now = epoch.elapsed().as_nanos() as u64;
                recorder.record(Duration::from_nanos(now.saturating_sub(at)));
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let errors = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let mut rows = Vec::new();
    let mut n = 0usize;
    for &rate in rates {
        for phase in [false, true] {
            let duration = if phase { Duration::from_secs(secs) } else { Duration::from_secs(1) };
            if phase {
                recorder.start();
            }
            let usage = Usage::now(&server);
            let before = delivered.load(Ordering::Relaxed);
            let errors_before = errors.load(Ordering::Relaxed);
            let begin = Instant::now();
            let mut posted = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while begin.elapsed() < duration {
                tick.tick().await;
                let due = (begin.elapsed().as_secs_f64() * rate as f64) as u64;
                while posted < due {
                    let Ok(permit) = in_flight.clone().try_acquire_owned() else { break };
                    let number = n;
                    n += 1;
                    posted += 1;
                    {
                        let mut s = sent.lock().unwrap_or_else(|e| e.into_inner());
                        s.resize(number + 1, 0);
                        s[number] = epoch.elapsed().as_nanos() as u64;
                    }
                    let (http, base, key, sessions, errors) = (
                        server.http.clone(),
                        server.base.clone(),
                        server.site_key.clone(),
                        sessions.clone(),
                        errors.clone(),
                    );
                    tokio::spawn(async move {
                        let (id, token) = &sessions[number % sessions.len()];
                        let r = http
                            .post(format!("{base}/api/chat/message"))
                            .header("X-API-Key", key)
                            .header("Origin", ORIGIN)
                            .bearer_auth(token)
                            .json(&json!({"session_id": id, "content": format!("b{number}")}))
                            .send()
                            .await;
                        if !r.is_ok_and(|r| r.status().is_success()) {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        drop(permit);
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            if phase {
                let (server_cpu, own_cpu) = usage.since(&server);
                let (_, p50, p99, max) = recorder.stop();
                let got = delivered.load(Ordering::Relaxed) - before;
                let achieved = got as f64 / begin.elapsed().as_secs_f64();
                let failed = errors.load(Ordering::Relaxed) - errors_before;
                rows.push(format!(
                    "| {rate} | {achieved:.0} | {failed} | {p50:.2} ms | {p99:.2} ms | {max:.1} ms | {server_cpu:.0}% | {own_cpu:.0}% |"
                ));
            }
        }
    }
    println!();
    let with = if assistant { " (assistant on)" } else { "" };
    println!("## Persisted path on {}{with}: POST /api/chat/message → agent socket", backend.name());
    println!();
    println!(
        "| offered msgs/s | delivered msgs/s | failed POSTs | p50 | p99 | max | server CPU | load generator CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    let _ = &server.org;
    server.stop().await;
    Ok(())
}

struct SoakPlan {
    minutes: u64,
    rate: u64,
    sessions: usize,
    widgets: usize,
    every: u64,
}

/// Questions visitors ask: some the demo help center answers, some it does not.
const SOAK_QUESTIONS: &[&str] = &[
    "How long does delivery to Belgium take?",
    "Can I return a lamp I bought last week?",
    "What does the warranty cover?",
    "Which bulbs fit the Orbit lamp?",
    "Do you ship to Norway?",
    "Who won the 1998 World Cup?",
    "How do I pay with a bank transfer?",
    "Is there a discount for wholesale orders?",
];

async fn soak(bin: &Path, database_url: &str, backend: Backend, kb: &Path, plan: SoakPlan) -> Result<()> {
    let server = Server::start(bin, backend, database_url, true, Some(kb)).await?;
    let sessions = Arc::new(server.sessions(plan.sessions.max(4)).await?);
    // A quarter of the conversations have a person: agents reply there (the assistant stays
    // quiet); the rest are the assistant's.
    let human_share = sessions.len() / 4;
    let epoch = Instant::now();
    let recorder = Arc::new(Recorder::default());
    recorder.start();
    let delivered = Arc::new(AtomicU64::new(0));
    let sent: Arc<Mutex<std::collections::HashMap<String, u64>>> = Arc::default();
    let mut agent_ws = agent(&server).await?;
    {
        let (recorder, delivered, sent) = (recorder.clone(), delivered.clone(), sent.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = agent_ws.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if frame["type"] != "message.created" || frame["message"]["author_kind"] != "visitor" {
                    continue;
                }
                let body = frame["message"]["body"].as_str().unwrap_or_default();
                let at = sent.lock().unwrap_or_else(|e| e.into_inner()).remove(body);
                if let Some(at) = at {
                    let now = epoch.elapsed().as_nanos() as u64;
                    recorder.record(Duration::from_nanos(now.saturating_sub(at)));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    // Widgets that keep dropping and resuming from their last sequence number.
    let resumes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    for i in 0..plan.widgets.min(sessions.len()) {
        let (server_ws, key, token) = (server.ws(""), server.site_key.clone(), sessions[i].1.clone());
        let (resumes, stop) = (resumes.clone(), stop.clone());
        tokio::spawn(async move {
            let mut last = 0i64;
            let mut turn = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let url = format!("{server_ws}/api/chat/ws?key={key}&token={token}&after_seq={last}");
                if let Ok(mut ws) = connect(&url, &[("Origin", ORIGIN.to_owned())]).await {
                    resumes.fetch_add(1, Ordering::Relaxed);
                    // Stay 2–6 s, then drop the connection like a phone changing networks.
                    let stay = Duration::from_millis(2_000 + (turn * 997 + i as u64 * 131) % 4_000);
                    let _ = tokio::time::timeout(stay, async {
                        while let Some(Ok(message)) = ws.next().await {
                            if let Message::Text(text) = message
                                && let Ok(frame) = serde_json::from_str::<Value>(text.as_str())
                                && frame["type"] == "message.created"
                            {
                                last = last.max(frame["seq"].as_i64().unwrap_or(last));
                            }
                        }
                    })
                    .await;
                }
                turn += 1;
            }
        });
    }

    let errors = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(128));
    println!();
    println!(
        "## Soak on {}: {} min, {} visitor messages/s ({} sessions, a quarter with an agent), {} widgets reconnecting",
        backend.name(),
        plan.minutes,
        plan.rate,
        sessions.len(),
        plan.widgets
    );
    println!();
    println!("| minute | server RSS | server CPU | visitor msgs/s | p50 | p99 | max | failed | widget resumes |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let total = Duration::from_secs(plan.minutes * 60);
    let begin = Instant::now();
    let mut n = 0u64;
    let mut rss_first = None;
    let mut rss_last = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while begin.elapsed() < total {
        let usage = Usage::now(&server);
        let window = Instant::now();
        let (delivered_before, errors_before, resumes_before) =
            (delivered.load(Ordering::Relaxed), errors.load(Ordering::Relaxed), resumes.load(Ordering::Relaxed));
        let mut posted = 0u64;
        while window.elapsed() < Duration::from_secs(plan.every) && begin.elapsed() < total {
            tick.tick().await;
            let due = (window.elapsed().as_secs_f64() * plan.rate as f64) as u64;
            while posted < due {
                let Ok(permit) = in_flight.clone().try_acquire_owned() else { break };
                posted += 1;
                n += 1;
                let number = n;
                let session = (number as usize * 7919) % sessions.len();
                let question = SOAK_QUESTIONS[number as usize % SOAK_QUESTIONS.len()];
                let body = format!("{question} (#{number})");
                sent.lock().unwrap_or_else(|e| e.into_inner()).insert(body.clone(), epoch.elapsed().as_nanos() as u64);
                let (http, base, key, sessions, errors) = (
                    server.http.clone(),
                    server.base.clone(),
                    server.site_key.clone(),
                    sessions.clone(),
                    errors.clone(),
                );
                let (org, cookie) = (server.org.clone(), server.cookie.clone());
                tokio::spawn(async move {
                    let (id, token) = &sessions[session];
                    let r = http
                        .post(format!("{base}/api/chat/message"))
                        .header("X-API-Key", &key)
                        .header("Origin", ORIGIN)
                        .bearer_auth(token)
                        .json(&json!({"session_id": id, "content": body}))
                        .send()
                        .await;
                    if !r.is_ok_and(|r| r.status().is_success()) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    if session < human_share {
                        let r = http
                            .post(format!("{base}/api/app/orgs/{org}/conversations/{id}/messages"))
                            .header("Origin", &base)
                            .header("Cookie", &cookie)
                            .json(&json!({"content": format!("An agent answers #{number}")}))
                            .send()
                            .await;
                        if !r.is_ok_and(|r| r.status().is_success()) {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    drop(permit);
                });
            }
        }
        let (server_cpu, _) = usage.since(&server);
        let (_, p50, p99, max) = recorder.stop();
        recorder.start();
        let secs = window.elapsed().as_secs_f64();
        let rate = (delivered.load(Ordering::Relaxed) - delivered_before) as f64 / secs;
        let rss = server.rss_kb();
        rss_first.get_or_insert(rss);
        rss_last = rss;
        println!(
            "| {:.1} | {:.1} MB | {server_cpu:.0}% | {rate:.0} | {p50:.1} ms | {p99:.1} ms | {max:.0} ms | {} | {} |",
            begin.elapsed().as_secs_f64() / 60.0,
            rss as f64 / 1024.0,
            errors.load(Ordering::Relaxed) - errors_before,
            resumes.load(Ordering::Relaxed) - resumes_before,
        );
    }
    stop.store(true, Ordering::Relaxed);
    let first = rss_first.unwrap_or(0).max(1);
    println!();
    println!(
        "RSS after the first report {:.1} MB, at the end {:.1} MB ({:+.1}%); {} visitor messages sent, {} still undelivered.",
        first as f64 / 1024.0,
        rss_last as f64 / 1024.0,
        (rss_last as f64 - first as f64) / first as f64 * 100.0,
        n,
        sent.lock().unwrap_or_else(|e| e.into_inner()).len()
    );
    server.stop().await;
    Ok(())
}
