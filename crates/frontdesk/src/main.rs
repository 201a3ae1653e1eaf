//! The `frontdesk` command: `serve`, `demo`, `migrate` and the admin commands.

mod demo;
mod kb;
mod settings;
mod storage;

use anyhow::Context;
use clap::{Parser, Subcommand};
use frontdesk_core::chat::Chat;
use frontdesk_core::kb::KnowledgeBase;
use frontdesk_core::plans::Plan;
use frontdesk_core::roles::Role;
use frontdesk_core::{OrgId, SiteId, ports::Clock, ports::Entropy};
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Command::Serve { bind } => *bind,
        Command::Demo { port } => Some(SocketAddr::from(([127, 0, 0, 1], *port))),
        _ => None,
    };
    let mut flags = cli.storage.clone();
    if let Command::Demo { .. } = cli.command {
        flags.data_dir.get_or_insert_with(|| "./frontdesk-demo".into());
    }
    let settings = Settings::load(&flags, bind)?;
    init_logging(&settings);

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
            print_result(
                json,
                &json!({"id": user.id, "email": user.email, "org_id": org, "role": org.map(|_| role)}),
                &format!("user {} created: {}", user.email, user.id),
            );
            Ok(())
        }
        Command::Site { command: SiteCommand::Create { org, name, allowed_origins, json } } => {
            let site = frontdesk_server::admin::create_site(&chat, org, &name, &allowed_origins).await?;
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
        Command::Kb { command: KbCommand::Export { site, dir } } => {
            let site = kb::find_site(&*storage.store(), site).await?;
            let written = kb::export_dir(&*storage.store(), &site, &dir).await?;
            println!("exported {written} articles of {} to {}", site.name, dir.display());
            Ok(())
        }
    };
    storage.close().await;
    result
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
            println!("Frontdesk listening on https://{addr}");
            frontdesk_server::serve_tls(listener, tls, router, shutdown_signal()).await?;
        }
        None => {
            println!("Frontdesk listening on http://{addr}");
            frontdesk_server::serve(listener, router, shutdown_signal()).await?;
        }
    }
    tracing::info!("frontdesk stopped");
    Ok(())
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
