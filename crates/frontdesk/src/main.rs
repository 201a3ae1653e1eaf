//! The `frontdesk` command: `serve`, `demo`, `migrate` and the admin commands.

mod demo;
mod kb;
mod settings;
mod storage;

use anyhow::Context;
use clap::{Parser, Subcommand};
use frontdesk_core::audit::AuditEvent;
use frontdesk_core::chat::Chat;
use frontdesk_core::kb::KnowledgeBase;
use frontdesk_core::plans::Plan;
use frontdesk_core::roles::Role;
use frontdesk_core::{AuditEventId, OrgId, SiteId, ports::Clock, ports::Entropy};
use frontdesk_server::env::{OsEntropy, SystemClock};
use serde_json::json;
use settings::{LogFormat, Settings, StorageFlags};
use std::net::SocketAddr;
use std::sync::Arc;
use storage::Storage;

#[derive(Parser)]
#[command(
    name = "frontdesk",
    version,
    about = "Self-hosted customer-support chat: widget, AI answers from your knowledge base, human handoff."
)]
struct Cli {
    #[command(flatten)]
    storage: StorageFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Run a ready-to-try server with a demo organization, owner and site.
    Demo {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Agent accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Websites that embed the widget.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// The knowledge base the assistant answers from.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Write a consistent copy of the SQLite database while the server runs (PostgreSQL: use
    /// pg_dump, see docs/deploy.md).
    Backup {
        /// The file to write (must not exist).
        file: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup, after checking it. Stop the server first.
    Restore {
        /// A file written by `frontdesk backup`.
        file: std::path::PathBuf,
    },
    /// Encryption at rest: the key ring.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// GDPR: export or erase everything held about a visitor (see docs/privacy.md).
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
}

/// Whom a privacy command is about: one visitor id, or everyone with an email.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct VisitorArgs {
    /// A visitor id (as the dashboard's visitor panel shows it).
    #[arg(long)]
    visitor: Option<String>,
    /// Every visitor of the organization's sites with this email (case-insensitive).
    #[arg(long)]
    email: Option<String>,
}

impl VisitorArgs {
    fn lookup(&self) -> anyhow::Result<frontdesk_core::privacy::VisitorLookup> {
        Ok(frontdesk_core::privacy::VisitorLookup::parse(self.visitor.as_deref(), self.email.as_deref())?)
    }
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// Write everything the organization holds about the visitor as JSON
    /// (`frontdesk.visitor-export.v1`) to a file, or to standard output.
    Export {
        #[arg(long)]
        org: OrgId,
        #[command(flatten)]
        who: VisitorArgs,
        /// The file to write (created with owner-only permissions); standard output without it.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erase the visitor: messages, ratings, events, notes, unanswered questions, scenario runs
    /// and identity. Conversations stay, anonymous, for analytics. Cannot be undone.
    Erase {
        #[arg(long)]
        org: OrgId,
        #[command(flatten)]
        who: VisitorArgs,
        /// Confirms the erasure (required).
        #[arg(long)]
        yes: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random key entry (`<id>:<base64>`) to add to the key file.
    Generate {
        /// The key's id (letters, digits, - and _); defaults to a date-based one.
        #[arg(long)]
        id: Option<String>,
    },
    /// Seal every stored value with the primary (first) key of the configured key ring: values
    /// stored before encryption was turned on, and values sealed with older keys. Runs beside
    /// a serving node (each value is rewritten by compare-and-set).
    Rotate {
        /// Values per batch.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check an organization's audit log against its hash chain; exits non-zero if a link is broken.
    Verify {
        #[arg(long)]
        org: OrgId,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Import a folder of Markdown files (front matter: title, tags, locale, status, url).
    /// Importing the same folder again updates the articles instead of duplicating them.
    Import {
        #[arg(long)]
        site: SiteId,
        dir: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the database (the server also does this at start, and keeps
    /// it in step by itself while it runs).
    Reindex,
    /// Write a site's articles to a folder in the format `import` reads.
    Export {
        #[arg(long)]
        site: SiteId,
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// free or pro (what the plan allows: docs/api.md; `server.billing = "off"` lifts every limit).
        #[arg(long, default_value = "free", value_parser = parse_plan)]
        plan: Plan,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an agent account, optionally a member of an organization.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password; read from FRONTDESK_NEW_PASSWORD when not given, so it stays out of shell history.
        #[arg(long, env = "FRONTDESK_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        org: Option<OrgId>,
        /// owner, admin or member.
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Create a site and print its id, public key and secret.
    Create {
        #[arg(long)]
        org: OrgId,
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the widget (`https://shop.example.com` or `*.example.com`); repeatable.
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("`{text}` is not a role (owner, admin, member)"))
}

fn parse_plan(text: &str) -> Result<Plan, String> {
    Plan::parse(text).ok_or_else(|| format!("`{text}` is not a plan (free, pro)"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Read before the runtime starts: they say how many threads it has.
    let settings = match load_settings(&cli) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.async_threads(cores))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The settings for this command: file, environment and flags (`demo` has its own data directory).
fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let bind = match &cli.command {
        Command::Serve { bind } => *bind,
        Command::Demo { port } => Some(SocketAddr::from(([127, 0, 0, 1], *port))),
        _ => None,
    };
    let mut flags = cli.storage.clone();
    if let Command::Demo { .. } = cli.command {
        flags.data_dir.get_or_insert_with(|| "./frontdesk-demo".into());
    }
    Settings::load(&flags, bind)
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings);
    if let Command::Restore { file } = &cli.command {
        // Before opening the database: it is the file being replaced.
        return storage::restore_sqlite(&settings, file).await;
    }
    if let Command::Keys { command: KeysCommand::Generate { id } } = &cli.command {
        // Needs no database: a key is made before encryption is turned on.
        let id = id.clone().unwrap_or_else(|| format!("k{}", SystemClock.now().0 / 1000));
        println!("{}", frontdesk_crypto::KeyRing::generate_entry(&id)?);
        return Ok(());
    }

    let storage = Storage::open(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let entropy: Arc<dyn Entropy> = Arc::new(OsEntropy);
    let chat = Chat::new(storage.store(), clock.clone(), entropy.clone());
    let result = match cli.command {
        Command::Serve { .. } => serve(&settings, &storage, clock, entropy, None).await,
        Command::Demo { .. } => demo::run(&settings, &storage, &chat, clock, entropy).await,
        Command::Migrate => {
            println!("database is up to date ({})", storage.describe(&settings));
            Ok(())
        }
        Command::Org { command: OrgCommand::Create { name, plan, json } } => {
            let org = frontdesk_server::admin::create_org(&chat, &name, plan).await?;
            let details = json!({"name": org.name, "plan": org.plan});
            cli_audit(&chat, org.id, "org.create", ("organization", org.id.to_string()), details).await;
            print_result(
                json,
                &json!({"id": org.id, "name": org.name, "plan": org.plan}),
                &format!("organization {} created: {}", org.name, org.id),
            );
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, password, org, role, json } } => {
            let user =
                frontdesk_server::admin::create_user(&chat, &email, &name, &password, org.map(|o| (o, role))).await?;
            if let Some(org_id) = org {
                let details = json!({"email": user.email, "role": role});
                cli_audit(&chat, org_id, "team.join", ("user", user.id.to_string()), details).await;
            }
            print_result(
                json,
                &json!({"id": user.id, "email": user.email, "org_id": org, "role": org.map(|_| role)}),
                &format!("user {} created: {}", user.email, user.id),
            );
            Ok(())
        }
        Command::Site { command: SiteCommand::Create { org, name, allowed_origins, json } } => {
            let site = frontdesk_server::admin::create_site(&chat, org, &name, &allowed_origins).await?;
            let details = json!({"name": site.name, "allowed_origins": site.allowed_origins});
            cli_audit(&chat, site.org_id, "site.create", ("site", site.id.to_string()), details).await;
            print_result(
                json,
                &json!({"id": site.id, "org_id": site.org_id, "name": site.name, "public_key": site.public_key,
                        "secret": site.secret, "allowed_origins": site.allowed_origins}),
                &format!(
                    "site {} created: {}\n  public key: {}\n  secret:     {} (keep it on your server)",
                    site.name, site.id, site.public_key, site.secret
                ),
            );
            Ok(())
        }
        Command::Kb { command: KbCommand::Import { site, dir, json } } => {
            let site = kb::find_site(&*storage.store(), site).await?;
            let knowledge = KnowledgeBase::new(storage.store(), clock.clone(), entropy.clone());
            let report = kb::import_dir(&knowledge, &site, &dir).await?;
            let details = json!({"site_id": site.id, "created": report.created, "updated": report.updated});
            cli_audit(&chat, site.org_id, "article.import", ("site", site.id.to_string()), details).await;
            print_result(
                json,
                &json!({"created": report.created, "updated": report.updated}),
                &format!("imported into {}: {} created, {} updated", site.name, report.created, report.updated),
            );
            Ok(())
        }
        Command::Kb { command: KbCommand::Reindex } => {
            let knowledge = frontdesk_server::knowledge::Knowledge::open(&settings.server.knowledge, &*storage.store())
                .await
                .context("is a server using this data directory? It keeps its index up to date by itself")?;
            let index_dir = settings.server.knowledge.index_dir.as_deref().unwrap_or(std::path::Path::new("?"));
            println!("search index rebuilt in {}", index_dir.display());
            drop(knowledge);
            Ok(())
        }
        Command::Keys { command: KeysCommand::Generate { .. } } | Command::Restore { .. } => Ok(()),
        Command::Backup { file } => match &storage {
            Storage::Sqlite(store) => {
                store.backup_to(&file).await.with_context(|| format!("cannot write {}", file.display()))?;
                println!("backup written to {}", file.display());
                Ok(())
            }
            Storage::Postgres(_) => {
                anyhow::bail!("on PostgreSQL, back up with pg_dump (see docs/deploy.md)")
            }
        },
        Command::Keys { command: KeysCommand::Rotate { batch } } => {
            let ring = settings
                .key_ring()?
                .context("no key ring is configured: set encryption_keys_file or FRONTDESK_ENCRYPTION_KEYS")?;
            let mut total = 0u64;
            loop {
                let rewritten = storage.store().reseal(batch).await?;
                if rewritten == 0 {
                    break;
                }
                total += rewritten;
                eprintln!("re-sealed {total} values…");
            }
            println!("every stored value is sealed with key {} ({total} rewritten)", ring.primary_id());
            Ok(())
        }
        Command::Privacy { command: PrivacyCommand::Export { org, who, out } } => {
            let document = frontdesk_server::admin::privacy_export(&chat, org, &who.lookup()?).await?;
            let text = serde_json::to_string_pretty(&document)?;
            match out {
                Some(path) => {
                    write_private_file(&path, text.as_bytes())?;
                    eprintln!("exported {} visitor(s) to {}", document.visitors.len(), path.display());
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Privacy { command: PrivacyCommand::Erase { org, who, yes, json } } => {
            if !yes {
                anyhow::bail!("erasing cannot be undone: add --yes to confirm");
            }
            let (visitors, counts) = frontdesk_server::admin::privacy_erase(&chat, org, &who.lookup()?).await?;
            print_result(
                json,
                &json!({"visitors": visitors, "counts": counts}),
                &format!(
                    "erased {} visitor(s): {} messages, {} ratings, {} events, {} notes; {} conversations kept anonymous",
                    visitors.len(),
                    counts.messages,
                    counts.ratings,
                    counts.visitor_events,
                    counts.notes,
                    counts.conversations
                ),
            );
            Ok(())
        }
        Command::Kb { command: KbCommand::Export { site, dir } } => {
            let site = kb::find_site(&*storage.store(), site).await?;
            let written = kb::export_dir(&*storage.store(), &site, &dir).await?;
            println!("exported {written} articles of {} to {}", site.name, dir.display());
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { org, json } } => {
            let store = storage.store();
            store.get_org(org).await.with_context(|| format!("organization {org}"))?;
            let verdict = frontdesk_server::admin::verify_audit_chain(&*store, org).await?;
            let text = match &verdict.first_broken {
                None => format!("audit log of {org}: intact, {} events checked", verdict.checked),
                Some(b) => format!(
                    "audit log of {org}: BROKEN at event {} ({}){}, after {} intact events",
                    b.seq,
                    serde_json::to_value(b.reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    b.id.map(|id| format!(", id {id}")).unwrap_or_default(),
                    verdict.checked
                ),
            };
            print_result(json, &serde_json::to_value(&verdict)?, &text);
            if verdict.ok { Ok(()) } else { Err(anyhow::anyhow!("the audit chain of organization {org} is broken")) }
        }
    };
    storage.close().await;
    result
}

/// Personal data: readable by its owner only (on Unix).
fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// Records an administrative action taken on the command line: no user, no address; the user
/// agent says where it came from. A failure is reported, not fatal: the action is done.
async fn cli_audit(chat: &Chat, org_id: OrgId, action: &str, target: (&str, String), details: serde_json::Value) {
    let event = AuditEvent {
        id: AuditEventId::generate(&*chat.clock, &*chat.entropy),
        org_id,
        actor_id: None,
        action: action.to_owned(),
        target_kind: target.0.to_owned(),
        target_id: target.1,
        ip: None,
        user_agent: Some(concat!("frontdesk-cli/", env!("CARGO_PKG_VERSION")).to_owned()),
        details,
        created_at: chat.clock.now(),
    };
    if let Err(e) = chat.store.append_audit(&event).await {
        eprintln!("warning: could not write the audit event for {action}: {e}");
    }
}

fn print_result(json: bool, value: &serde_json::Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second initialization (never expected) is harmless: keep the first.
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))
}

/// Builds the router and serves until SIGINT or SIGTERM; in-flight requests finish first.
pub(crate) async fn serve(
    settings: &Settings,
    storage: &Storage,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<()> {
    let listener = match listener {
        Some(l) => l,
        None => bind(settings.bind).await?,
    };
    let addr = listener.local_addr()?;
    // Read the certificate before anything else starts, so a bad one stops us with a clear error.
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(frontdesk_server::tls::load_config(cert, key)?),
        _ => None,
    };
    let broker =
        frontdesk_server::frontdesk_realtime::connect_broker(&settings.broker, settings.database_url.as_deref())
            .await
            .with_context(|| {
                format!("cannot connect the realtime broker {}", settings::redact_broker(&settings.broker))
            })?;
    let realtime = frontdesk_server::Realtime { broker, config: settings.realtime.clone() };
    let router =
        frontdesk_server::build_with_realtime(storage.store(), settings.server.clone(), clock, entropy, realtime)
            .await?;
    tracing::info!(%addr, storage = %storage.describe(settings), broker = %settings::redact_broker(&settings.broker), "frontdesk listening");
    // Scripts and tests read this line to find the port.
    match tls {
        Some(tls) => {
            let redirect = match settings.tls_redirect_bind {
                Some(bind_to) => Some(spawn_https_redirect(settings, bind_to, addr.port()).await?),
                None => None,
            };
            println!("Frontdesk listening on https://{addr}");
            frontdesk_server::serve_tls(listener, tls, router, shutdown_signal()).await?;
            if let Some(redirect) = redirect {
                redirect.abort();
            }
        }
        None => {
            println!("Frontdesk listening on http://{addr}");
            frontdesk_server::serve(listener, router, shutdown_signal()).await?;
        }
    }
    tracing::info!("frontdesk stopped");
    Ok(())
}

/// The plain-HTTP listener beside the TLS one: redirects to HTTPS (to `public_url`'s origin when
/// it is an https URL, else the request's host on `https_port`) and answers ACME challenges.
async fn spawn_https_redirect(
    settings: &Settings,
    bind_to: SocketAddr,
    https_port: u16,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = bind(bind_to).await?;
    let redirect = frontdesk_server::tls::HttpRedirect {
        origin: frontdesk_server::tls::HttpRedirect::origin_of(settings.server.public_url.as_deref()),
        https_port,
        acme_webroot: settings.tls_acme_webroot.clone(),
    };
    println!("Frontdesk redirecting http://{} to https", listener.local_addr()?);
    Ok(tokio::spawn(async move {
        if let Err(e) = frontdesk_server::tls::serve_redirect(listener, redirect).await {
            tracing::error!(error = %e, "the plain-HTTP redirect listener stopped");
        }
    }))
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
