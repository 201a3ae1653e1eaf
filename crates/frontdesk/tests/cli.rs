//! Black-box tests of the `frontdesk` binary: provisioning through the CLI, `serve` and `demo`
//! as real processes, the public chat API over HTTP, graceful stop and restart — on SQLite and
//! on PostgreSQL.

use frontdesk_testkit::chat_api::{self, ChatClient};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::process::Child;

#[path = "support/process.rs"]
mod process;

use process::{cli_json, frontdesk, spawn_listening, temp_dir};

const SHOP: &str = "https://shop.example.com";

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts `frontdesk <args>` and waits for its "listening" line.
    async fn start(storage: &[String], args: &[&str]) -> Server {
        let mut cmd = frontdesk(storage);
        cmd.args(args);
        let (child, base) = spawn_listening(cmd).await;
        Server { child, base }
    }

    /// SIGTERM, then the process must exit by itself, successfully.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("stops within 20 s")
            .expect("exit status");
        assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    }
}

struct Provisioned {
    site_key: String,
    other_site_key: String,
    org_id: String,
}

async fn provision(storage: &[String]) -> Provisioned {
    let out = frontdesk(storage).arg("migrate").output().await.expect("migrate");
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let org = cli_json(storage, &["org", "create", "--name", "Acme"]).await;
    let org_id = org["id"].as_str().expect("org id").to_owned();
    let user = cli_json(
        storage,
        &[
            "user",
            "create",
            "--email",
            "ann@acme.test",
            "--name",
            "Ann",
            "--password",
            "correct horse battery",
            "--org",
            &org_id,
            "--role",
            "owner",
        ],
    )
    .await;
    assert_eq!(user["role"], "owner");
    let site =
        cli_json(storage, &["site", "create", "--org", &org_id, "--name", "Shop", "--allowed-origin", SHOP]).await;
    let key = site["public_key"].as_str().expect("public key").to_owned();
    assert!(key.starts_with("pk_") && key.len() == 35, "{key}");
    assert!(site["secret"].as_str().is_some_and(|s| s.starts_with("sk_")));
    let other_org = cli_json(storage, &["org", "create", "--name", "Globex"]).await;
    let other = cli_json(
        storage,
        &[
            "site",
            "create",
            "--org",
            other_org["id"].as_str().expect("id"),
            "--name",
            "Globex",
            "--allowed-origin",
            "*.globex.test",
        ],
    )
    .await;
    Provisioned { site_key: key, other_site_key: other["public_key"].as_str().expect("key").to_owned(), org_id }
}

/// Logs in as the owner and lists the organization's conversations through the private API.
async fn agent_sees_conversations(base: &str, org_id: &str) -> usize {
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/app/login"))
        .header("Origin", base)
        .json(&json!({"email": "ann@acme.test", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let list: Value = http
        .get(format!("{base}/api/app/orgs/{org_id}/conversations"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    list["conversations"].as_array().map(Vec::len).unwrap_or_else(|| panic!("a conversation list: {list}"))
}

async fn black_box_story(storage: Vec<String>) {
    let p = provision(&storage).await;
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    let other = ChatClient::new(&server.base, &p.other_site_key).with_origin("https://www.globex.test");
    let ended = chat_api::session_lifecycle(&client).await;
    chat_api::access_rules(&client, &other).await;
    chat_api::message_rate_limit(&client).await;
    let before = client.history(&ended).await;
    assert!(agent_sees_conversations(&server.base, &p.org_id).await >= 4);
    server.stop().await;

    // Everything survives a restart, and the session token still verifies.
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    assert_eq!(client.history(&ended).await, before);
    let view = client.get(&format!("/api/chat/session/{}", ended.id), Some(&ended.token)).await;
    assert_eq!(view.body["status"], "closed");
    assert_eq!(view.body["rating"]["stars"], 5);
    server.stop().await;
}

#[tokio::test]
async fn serve_on_sqlite_passes_the_black_box_story() {
    let dir = temp_dir("sqlite");
    black_box_story(vec!["--data-dir".to_owned(), dir.display().to_string()]).await;
    assert!(dir.join("frontdesk.db").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_on_postgres_passes_the_black_box_story() {
    let Some(url) = frontdesk_testkit::pg::fresh_database_url("serve_on_postgres_passes_the_black_box_story").await
    else {
        return;
    };
    // The search index still lives in a data directory.
    let dir = temp_dir("pg");
    black_box_story(vec!["--database-url".to_owned(), url, "--data-dir".to_owned(), dir.display().to_string()]).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The demo's help center: a cited answer, the honest decline, and a hand-over on request.
async fn demo_help_center_answers(client: &ChatClient) {
    let s = client.start().await;
    let r = client.say(&s, "How long does delivery to Belgium take?").await;
    let reply = &r.body["reply"];
    assert_eq!(reply["author_kind"], "assistant", "{:?}", r.body);
    assert_eq!(reply["citations"][0]["title"], "Shipping and delivery times", "a cited answer: {reply}");
    assert!(reply["body"].as_str().is_some_and(|b| b.contains("1–2 working days")), "{reply}");

    let r = client.say(&s, "Who won the football World Cup in 1998?").await;
    assert_eq!(r.body["reply"]["quick_replies"], json!(["Talk to a person"]), "the honest decline: {:?}", r.body);
    assert!(r.body["reply"]["citations"].as_array().is_some_and(Vec::is_empty));

    let r = client.say(&s, "I want to talk to a human").await;
    assert_eq!(
        (r.body["session_status"].clone(), r.body["reply"]["author_kind"].clone()),
        (json!("escalated"), json!("system"))
    );
}

fn read_demo(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("demo.json")).expect("demo.json written");
    serde_json::from_str(&text).expect("demo.json is JSON")
}

#[tokio::test]
async fn demo_serves_a_ready_site_and_reuses_it() {
    let dir = temp_dir("demo");
    // With the model (as `scripts/test` provides it) the demo answers semantically, as `scripts/demo` does.
    if let Ok(model) = std::env::var("FRONTDESK_TEST_MODEL_DIR") {
        let target = dir.join("models");
        std::fs::create_dir_all(&target).expect("models dir");
        std::os::unix::fs::symlink(model, target.join("all-MiniLM-L6-v2")).expect("link the model");
    }
    let storage = vec!["--data-dir".to_owned(), dir.display().to_string()];
    let server = Server::start(&storage, &["demo", "--port", "0"]).await;
    let demo = read_demo(&dir);
    for key in ["url", "org_id", "site_id", "site_key", "owner_email", "owner_password"] {
        assert!(demo[key].is_string(), "demo.json has {key}: {demo}");
    }
    assert_eq!(demo["url"], server.base.as_str());
    // The demo page's own origin is allowed to use the site.
    let client = ChatClient::new(&server.base, demo["site_key"].as_str().expect("key")).with_origin(&server.base);
    chat_api::session_lifecycle(&client).await;
    demo_help_center_answers(&client).await;
    server.stop().await;

    let server = Server::start(&storage, &["demo", "--port", "0"]).await;
    let again = read_demo(&dir);
    assert_eq!(again["org_id"], demo["org_id"], "the second run reuses the demo organization");
    assert_eq!(again["owner_password"], demo["owner_password"]);
    let client = ChatClient::new(&server.base, again["site_key"].as_str().expect("key")).with_origin(&server.base);
    assert_eq!(client.start().await.id.len(), 36, "the new port's origin is allowed too");
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_settings_fail_with_a_clear_message() {
    let dir = temp_dir("bad");
    let out = frontdesk(&["--data-dir".to_owned(), dir.display().to_string()])
        .arg("migrate")
        .env("FRONTDESK_SERVER__SESION_TTL_SECS", "5")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sesion_ttl_secs"), "names the unknown key: {err}");
    let out = frontdesk(&["--database-url".to_owned(), "postgres://nobody:secret@127.0.0.1:1/none".to_owned()])
        .arg("migrate")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("secret"), "the password is not printed: {err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_with_tls_speaks_https_and_refuses_a_bad_key_clearly() {
    let dir = temp_dir("tls");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("another");
    let (cert, key, wrong_key) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("other-key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write");
    std::fs::write(&wrong_key, other.signing_key.serialize_pem()).expect("write");
    let storage = vec!["--data-dir".to_owned(), dir.join("data").display().to_string()];
    let path = |p: &Path| p.display().to_string();

    // Another certificate's key: a clear error before listening, no panic.
    let out = frontdesk(&storage)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert", &path(&cert), "--tls-key", &path(&wrong_key)])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not fit the certificate") && !err.contains("panicked"), "{err}");
    // A certificate without its key.
    let out = frontdesk(&storage).args(["serve", "--tls-cert", &path(&cert)]).output().await.expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_key"));

    // From the environment, as a settings file would give it.
    let mut cmd = frontdesk(&storage);
    cmd.args(["serve", "--bind", "127.0.0.1:0"]).env("FRONTDESK_TLS_CERT", &cert).env("FRONTDESK_TLS_KEY", &key);
    let (child, base) = process::spawn_listening(cmd).await;
    let server = Server { child, base };
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).expect("pem"))
        .build()
        .expect("client");
    let r = http.get(format!("{}/api/chat/health", server.base)).send().await.expect("an https answer");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("strict-transport-security").and_then(|v| v.to_str().ok()),
        Some("max-age=63072000; includeSubDomains")
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn kb_import_updates_instead_of_duplicating_and_export_round_trips() {
    let dir = temp_dir("kb");
    let storage = vec!["--data-dir".to_owned(), dir.join("data").display().to_string()];
    let org = cli_json(&storage, &["org", "create", "--name", "Acme"]).await;
    let site =
        cli_json(&storage, &["site", "create", "--org", org["id"].as_str().expect("id"), "--name", "Shop"]).await;
    let site_id = site["id"].as_str().expect("site id").to_owned();

    let kb = dir.join("kb");
    std::fs::create_dir_all(kb.join("orders")).expect("dirs");
    std::fs::write(kb.join("shipping.md"), "---\ntitle: Shipping\nstatus: published\n---\nWe ship in 2 days.\n")
        .expect("w");
    std::fs::write(kb.join("orders/returns.md"), "# Returns\n\n30 days, no questions asked.\n").expect("w");
    let first = cli_json(&storage, &["kb", "import", "--site", &site_id, &kb.display().to_string()]).await;
    assert_eq!(first, json!({"created": 2, "updated": 0}));

    std::fs::write(kb.join("shipping.md"), "---\ntitle: Shipping times\nstatus: published\n---\nWe ship in 1 day.\n")
        .expect("w");
    let again = cli_json(&storage, &["kb", "import", "--site", &site_id, &kb.display().to_string()]).await;
    assert_eq!(again, json!({"created": 0, "updated": 2}), "the same keys update the same articles");

    // A broken file stops the import before anything is written.
    std::fs::write(kb.join("broken.md"), "---\ntitle: Broken\nstatus: live\n---\nbody\n").expect("w");
    let out = frontdesk(&storage)
        .args(["kb", "import", "--site", &site_id, &kb.display().to_string()])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.md") && err.contains("live"), "names the file and the problem: {err}");
    std::fs::remove_file(kb.join("broken.md")).expect("rm");

    let exported = dir.join("exported");
    let out = frontdesk(&storage)
        .args(["kb", "export", "--site", &site_id, &exported.display().to_string()])
        .output()
        .await
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(exported.join("shipping.md")).expect("exported under its key");
    assert!(text.contains("title: \"Shipping times\"") && text.contains("We ship in 1 day."), "{text}");
    assert!(exported.join("orders/returns.md").exists());
    // Importing the export changes nothing but updates in place.
    let round = cli_json(&storage, &["kb", "import", "--site", &site_id, &exported.display().to_string()]).await;
    assert_eq!(round, json!({"created": 0, "updated": 2}));
    let _ = std::fs::remove_dir_all(dir);
}
