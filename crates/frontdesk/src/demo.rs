//! `frontdesk demo`: a ready-to-try server. The first run creates a demo organization, an owner
//! and a site; later runs reuse them (the owner's password is kept in `demo.json`).

use crate::settings::Settings;
use crate::storage::Storage;
use anyhow::Context;
use frontdesk_core::chat::Chat;
use frontdesk_core::keys::random_base62;
use frontdesk_core::model::Site;
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::{Clock, Entropy};
use frontdesk_core::roles::Role;
use frontdesk_core::{OrgId, SiteId};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub const DEMO_OWNER_EMAIL: &str = "owner@demo.frontdesk.test";
/// A second account with the `member` role: what an agent who is not an admin sees.
pub const DEMO_MEMBER_EMAIL: &str = "agent@demo.frontdesk.test";

/// What `demo.json` holds: enough for a script or a test to drive the demo.
#[derive(Debug, Serialize, Deserialize)]
pub struct DemoInfo {
    pub url: String,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub site_key: String,
    pub owner_email: String,
    pub owner_password: String,
    pub member_email: String,
    pub member_password: String,
}

pub async fn run(
    settings: &Settings,
    storage: &Storage,
    chat: &Chat,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    // Bind first: with `--port 0` the site's allowed origins need the real port.
    let listener = crate::bind(settings.bind).await?;
    let addr = listener.local_addr()?;
    let info_path = settings.data_dir.join("demo.json");
    let info = provision(chat, &info_path, addr).await?;
    let site = chat.store.get_site(info.org_id, info.site_id).await?;
    let kb = frontdesk_core::kb::KnowledgeBase::new(chat.store.clone(), clock.clone(), entropy.clone());
    let report = crate::kb::import_texts(&kb, &site, &demo_articles()).await?;
    tracing::info!(created = report.created, updated = report.updated, "demo knowledge base imported");
    let text = serde_json::to_string_pretty(&info)?;
    std::fs::write(&info_path, text).with_context(|| format!("cannot write {}", info_path.display()))?;

    println!();
    println!("  Frontdesk demo is running at {}", info.url);
    println!("  Dashboard:     {}/app/", info.url);
    println!("  Owner login:   {} / {}", info.owner_email, info.owner_password);
    println!("  Agent login:   {} / {}", info.member_email, info.member_password);
    println!("  Site key:      {}", info.site_key);
    println!("  Demo shop:     {}/demo?key={}", info.url, info.site_key);
    println!("  Details:       {}", info_path.display());
    println!("  Try the chat API:");
    println!(
        "    curl -s -X POST {}/api/chat/session -H 'X-API-Key: {}' -H 'Content-Type: application/json' -d '{{}}'",
        info.url, info.site_key
    );
    println!();
    crate::serve(settings, storage, clock, entropy, Some(listener)).await
}

/// The demo help center: a few articles about a fictional lamp shop, compiled into the binary.
fn demo_articles() -> Vec<(String, String)> {
    macro_rules! article {
        ($file:literal) => {
            (concat!("demo/", $file).to_owned(), include_str!(concat!("../demo/kb/", $file)).to_owned())
        };
    }
    vec![
        article!("shipping.md"),
        article!("returns.md"),
        article!("warranty.md"),
        article!("app-setup.md"),
        article!("bulbs.md"),
        article!("payment.md"),
        article!("wholesale-draft.md"),
    ]
}

fn demo_origins(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]
}

async fn provision(chat: &Chat, info_path: &Path, addr: SocketAddr) -> anyhow::Result<DemoInfo> {
    let url = format!("http://{addr}");
    if let Some(mut info) = existing(chat, info_path).await? {
        // Reused data: make sure the page on this run's port may talk to the site.
        let mut site = chat.store.get_site(info.org_id, info.site_id).await?;
        add_origins(&mut site, &demo_origins(addr));
        site.updated_at = chat.clock.now();
        chat.store.update_site(&site).await?;
        info.url = url;
        return Ok(info);
    }
    let org = frontdesk_server::admin::create_org(chat, "Northwind Lamps (demo)", Plan::Pro).await?;
    let password = random_base62(&*chat.entropy, 16);
    let owner = demo_account(chat, org.id, DEMO_OWNER_EMAIL, "Demo Owner", Role::Owner, &password).await?;
    let member_password = random_base62(&*chat.entropy, 16);
    let member = demo_account(chat, org.id, DEMO_MEMBER_EMAIL, "Demo Agent", Role::Member, &member_password).await?;
    let site = frontdesk_server::admin::create_site(chat, org.id, "Northwind Lamps shop", &demo_origins(addr)).await?;
    demo_scenario(chat, &site).await?;
    Ok(DemoInfo {
        url,
        org_id: org.id,
        site_id: site.id,
        site_key: site.public_key,
        owner_email: owner.email,
        owner_password: password,
        member_email: member.email,
        member_password,
    })
}

/// The demo account with this email, a member of `org_id` with `role` and this password.
async fn demo_account(
    chat: &Chat,
    org_id: OrgId,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<frontdesk_core::model::User> {
    match chat.store.get_user_by_email(email).await {
        Ok(user) => {
            // A previous demo left the account but not demo.json: give it a fresh password we know.
            let hash = frontdesk_server::admin::hash_password(chat, password)?;
            chat.store.set_password_hash(user.id, &hash).await?;
            let membership =
                frontdesk_core::model::Membership { org_id, user_id: user.id, role, created_at: chat.clock.now() };
            chat.store.put_membership(&membership).await?;
            Ok(user)
        }
        Err(_) => Ok(frontdesk_server::admin::create_user(chat, email, name, password, Some((org_id, role))).await?),
    }
}

/// The demo of an earlier run, if `demo.json` exists and its records are still in the database.
async fn existing(chat: &Chat, info_path: &Path) -> anyhow::Result<Option<DemoInfo>> {
    let Ok(text) = std::fs::read_to_string(info_path) else {
        return Ok(None);
    };
    let Ok(info) = serde_json::from_str::<DemoInfo>(&text) else {
        tracing::warn!(path = %info_path.display(), "demo.json is unreadable; creating a new demo");
        return Ok(None);
    };
    let present = chat.store.get_org(info.org_id).await.is_ok()
        && chat.store.get_site(info.org_id, info.site_id).await.is_ok()
        && chat.store.get_user_by_email(&info.owner_email).await.is_ok()
        && chat.store.get_user_by_email(&info.member_email).await.is_ok();
    Ok(present.then_some(info))
}

fn add_origins(site: &mut Site, origins: &[String]) {
    for origin in origins {
        if !site.allowed_origins.contains(origin) {
            site.allowed_origins.push(origin.clone());
        }
    }
}

/// A published bot scenario for the demo shop: "where is my order?" starts it (a pattern
/// trigger, so the help center still answers everything else); it asks for the order number,
/// branches on a choice and hands off to a person who sees what it collected.
async fn demo_scenario(chat: &Chat, site: &Site) -> anyhow::Result<()> {
    let document = serde_json::json!({
        "schema": 1,
        "start": "ask_order",
        "triggers": [{"type": "pattern", "pattern": "(?i)(where is my order|order status|track(ing)? (my )?order)"}],
        "variables": [],
        "nodes": [
            {"id": "ask_order", "type": "ask", "position": {"x": 40, "y": 40}, "input": "number",
             "prompt": "I can help with that. What is your order number?", "variable": "order_id",
             "retry_message": "An order number is digits only, like 10482.", "max_retries": 2},
            {"id": "ask_email", "type": "ask", "position": {"x": 40, "y": 180}, "input": "email",
             "prompt": "And the email address you ordered with?", "variable": "email",
             "retry_message": "That does not look like an email address.", "max_retries": 2},
            {"id": "choice", "type": "ask", "position": {"x": 40, "y": 320}, "input": "choice",
             "prompt": "Thanks! Order {{order_id}} ships within 2 working days of payment. Shall a colleague check it for you?",
             "variable": "check",
             "choices": [{"id": "yes", "label": "Yes, please"}, {"id": "no", "label": "No, thanks"}]},
            {"id": "human", "type": "handoff", "position": {"x": 40, "y": 460},
             "message": "Passing you to a colleague, with your order number. One moment…", "only_when_online": false},
            {"id": "bye", "type": "message", "position": {"x": 320, "y": 460},
             "text": "Happy to help. Ask me anything else about our lamps."}
        ],
        "edges": [
            {"from": "ask_order", "port": "next", "to": "ask_email"},
            {"from": "ask_order", "port": "invalid", "to": "human"},
            {"from": "ask_email", "port": "next", "to": "choice"},
            {"from": "ask_email", "port": "invalid", "to": "human"},
            {"from": "choice", "port": "choice:yes", "to": "human"},
            {"from": "choice", "port": "choice:no", "to": "bye"}
        ]
    });
    let now = chat.clock.now();
    let scenario = frontdesk_core::scenarios::Scenario {
        id: frontdesk_core::ScenarioId::generate(&*chat.clock, &*chat.entropy),
        org_id: site.org_id,
        site_id: site.id,
        name: "Order status".to_owned(),
        draft: document.clone(),
        published_version: None,
        published_at: None,
        starts_conversations: false,
        created_at: now,
        updated_at: now,
    };
    chat.store.create_scenario(&scenario).await?;
    chat.store.publish_scenario(site.org_id, scenario.id, &document, now).await?;
    Ok(())
}
