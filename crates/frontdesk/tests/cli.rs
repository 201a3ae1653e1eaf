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

    // The demo's bot scenario: "where is my order?" starts it; it asks, validates, hands off.
    let s = client.start().await;
    assert_eq!(client.say(&s, "Hi, where is my order?").await.status, 200);
    let last = |h: Vec<Value>| h.last().map(|m| (m["author_kind"].clone(), m["body"].clone())).unwrap_or_default();
    assert_eq!(
        last(client.history(&s).await),
        (json!("bot"), json!("I can help with that. What is your order number?"))
    );
    client.say(&s, "10482").await;
    client.say(&s, "ada@example.com").await;
    let history = client.history(&s).await;
    assert_eq!(history.last().map(|m| m["quick_replies"].clone()), Some(json!(["Yes, please", "No, thanks"])));
    let r = client.say(&s, "Yes, please").await;
    assert_eq!(r.body["session_status"], "escalated", "{:?}", r.body);
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

    // From the environment, as a settings file would give it, with the plain-HTTP redirect.
    let redirect_port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        free.local_addr().expect("addr").port()
    };
    let mut cmd = frontdesk(&storage);
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("FRONTDESK_TLS_CERT", &cert)
        .env("FRONTDESK_TLS_KEY", &key)
        .env("FRONTDESK_TLS_REDIRECT_BIND", format!("127.0.0.1:{redirect_port}"));
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
    // Plain HTTP on the redirect port: 308 to the same path on the HTTPS port, which answers.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = plain.get(format!("http://127.0.0.1:{redirect_port}/api/chat/health?x=1")).send().await.expect("answer");
    assert_eq!(r.status(), 308);
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(location, format!("{}/api/chat/health?x=1", server.base));
    assert_eq!(http.get(&location).send().await.expect("followed").status(), 200);
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

/// The stored values of the sealed text columns, read from the file directly.
async fn raw_values(db: &Path) -> Vec<String> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    let mut raw = sqlx::SqliteConnection::connect_with(&options).await.expect("raw connection");
    let mut values = Vec::new();
    for (table, column) in [("messages", "body"), ("messages", "html"), ("sites", "secret")] {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT {column} FROM {table}")).fetch_all(&mut raw).await.expect("raw read");
        values.extend(rows.into_iter().map(|(v,)| v));
    }
    values
}

#[tokio::test]
async fn encryption_at_rest_is_turned_on_and_rotated_from_the_cli() {
    let dir = temp_dir("keys");
    let storage = vec!["--data-dir".to_owned(), dir.display().to_string()];
    let db = dir.join("frontdesk.db");
    // Data written before encryption is turned on.
    let p = provision(&storage).await;
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    let early = chat_api::session_lifecycle(&client).await;
    let early_history = client.history(&early).await;
    server.stop().await;
    assert!(raw_values(&db).await.iter().all(|v| !v.starts_with("fdenc:")));

    // A key file with one generated key; every command reads it from FRONTDESK_ENCRYPTION_KEYS_FILE.
    let out = frontdesk(&storage).args(["keys", "generate", "--id", "k1"]).output().await.expect("generate");
    assert!(out.status.success());
    let k1 = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(k1.starts_with("k1:") && k1.len() > 40, "{k1}");
    let key_file = dir.join("keys");
    std::fs::write(&key_file, format!("{k1}\n")).expect("key file");
    let keyed = |args: &[&str]| {
        let mut cmd = frontdesk(&storage);
        cmd.env("FRONTDESK_ENCRYPTION_KEYS_FILE", &key_file).args(args);
        cmd
    };
    let (child, base) = process::spawn_listening(keyed(&["serve", "--bind", "127.0.0.1:0"])).await;
    let server = Server { child, base };
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    let later = chat_api::session_lifecycle(&client).await;
    let later_history = client.history(&later).await;
    assert_eq!(client.history(&early).await, early_history, "older plain values still read");

    // Rotate beside the running node: everything ends sealed with k1, nothing changes for clients.
    let out = keyed(&["keys", "rotate", "--batch", "3"]).output().await.expect("rotate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sealed with key k1"));
    let values = raw_values(&db).await;
    assert!(!values.is_empty() && values.iter().all(|v| v.starts_with("fdenc:1:k1:")), "{values:?}");
    assert!(!values.iter().any(|v| v.contains("Where is my order") || v.contains("sk_")), "nothing in clear");
    assert_eq!(client.history(&early).await, early_history);
    assert_eq!(client.history(&later).await, later_history);
    server.stop().await;

    // A second key becomes primary; rotate again; the old one can then be dropped.
    let out = frontdesk(&storage).args(["keys", "generate", "--id", "k2"]).output().await.expect("generate");
    let k2 = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    std::fs::write(&key_file, format!("{k2}\n{k1}\n")).expect("key file");
    let out = keyed(&["keys", "rotate"]).output().await.expect("rotate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(raw_values(&db).await.iter().all(|v| v.starts_with("fdenc:1:k2:")));
    std::fs::write(&key_file, format!("{k2}\n")).expect("key file");
    let (child, base) = process::spawn_listening(keyed(&["serve", "--bind", "127.0.0.1:0"])).await;
    let server = Server { child, base };
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    assert_eq!(client.history(&early).await, early_history);
    assert_eq!(client.history(&later).await, later_history);
    server.stop().await;

    // Rotating without a key ring is a clear error.
    let out = frontdesk(&storage).args(["keys", "rotate"]).output().await.expect("rotate");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key ring"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn backup_while_serving_and_restore_after_losing_the_database() {
    let dir = temp_dir("backup");
    let storage = vec!["--data-dir".to_owned(), dir.display().to_string()];
    let p = provision(&storage).await;
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    let ended = chat_api::session_lifecycle(&client).await;
    let history = client.history(&ended).await;

    // Online: the server keeps serving while the copy is written.
    let backup = temp_dir("backup-file").join("frontdesk-backup.db");
    let out = frontdesk(&storage).arg("backup").arg(&backup).output().await.expect("backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = frontdesk(&storage).arg("backup").arg(&backup).output().await.expect("backup again");
    assert!(!out.status.success(), "an existing file is never overwritten");
    // Restoring under a running server is refused.
    let out = frontdesk(&storage).arg("restore").arg(&backup).output().await.expect("restore");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Stop it first"));
    server.stop().await;

    // The database is lost; the backup brings everything back.
    std::fs::remove_file(dir.join("frontdesk.db")).expect("lose the database");
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, b"not a database").expect("garbage");
    let out = frontdesk(&storage).arg("restore").arg(&garbage).output().await.expect("restore garbage");
    assert!(!out.status.success(), "a file that is not a backup is refused");
    let out = frontdesk(&storage).arg("restore").arg(&backup).output().await.expect("restore");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    assert_eq!(client.history(&ended).await, history);
    assert!(agent_sees_conversations(&server.base, &p.org_id).await >= 1);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(backup.parent().expect("dir"));
}

#[tokio::test]
async fn audit_verify_passes_an_intact_log_and_fails_on_an_edited_event() {
    let dir = temp_dir("audit");
    let data = dir.join("data");
    let storage = vec!["--data-dir".to_owned(), data.display().to_string()];
    let org = cli_json(&storage, &["org", "create", "--name", "Acme"]).await;
    let org_id = org["id"].as_str().expect("org id").to_owned();
    cli_json(&storage, &["site", "create", "--org", &org_id, "--name", "Shop"]).await;
    cli_json(&storage, &["site", "create", "--org", &org_id, "--name", "Blog"]).await;

    // The command line's own actions are on the record, and the chain holds.
    let verdict = cli_json(&storage, &["audit", "verify", "--org", &org_id]).await;
    assert_eq!(verdict, json!({"ok": true, "checked": 3, "first_broken": null}));

    // Someone with the database file edits the second event, getting past the trigger first.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data.join("frontdesk.db"));
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options).await.expect("open the file");
    let refused = sqlx::query("UPDATE audit_events SET action = 'site.delete' WHERE org_id = ? AND seq = 2")
        .bind(&org_id)
        .execute(&mut raw)
        .await;
    assert!(refused.is_err(), "the trigger refuses the edit");
    sqlx::query("DROP TRIGGER audit_events_no_update").execute(&mut raw).await.expect("drop the trigger");
    let edited = sqlx::query("UPDATE audit_events SET action = 'site.delete' WHERE org_id = ? AND seq = 2")
        .bind(&org_id)
        .execute(&mut raw)
        .await
        .expect("edit");
    assert_eq!(edited.rows_affected(), 1);
    sqlx::Connection::close(raw).await.expect("close");

    let out = frontdesk(&storage).args(["audit", "verify", "--org", &org_id, "--json"]).output().await.expect("run");
    assert!(!out.status.success(), "a broken chain exits non-zero");
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("JSON verdict");
    assert_eq!(verdict["ok"], false);
    assert_eq!(verdict["checked"], 1);
    assert_eq!(verdict["first_broken"]["seq"], 2);
    assert_eq!(verdict["first_broken"]["reason"], "hash_mismatch");
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken"), "{}", String::from_utf8_lossy(&out.stderr));

    // Without --json it says so in words.
    let out = frontdesk(&storage).args(["audit", "verify", "--org", &org_id]).output().await.expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("BROKEN at event 2 (hash_mismatch)"));

    // An unknown organization is an error, not an empty success.
    let nobody = "01890000-0000-7000-8000-000000000000";
    let out = frontdesk(&storage).args(["audit", "verify", "--org", nobody]).output().await.expect("run");
    assert!(!out.status.success(), "unknown organization");
    let _ = std::fs::remove_dir_all(dir);
}

/// `privacy export` and `privacy erase` on a real data directory: the export holds the
/// visitor's conversation, the erasure empties it and needs `--yes`, both are audited.
#[tokio::test]
async fn privacy_export_and_erase_a_visitor() {
    let dir = temp_dir("privacy");
    let storage = vec!["--data-dir".to_owned(), dir.join("data").display().to_string()];
    let p = provision(&storage).await;
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let client = ChatClient::new(&server.base, &p.site_key).with_origin(SHOP);
    let session = client.start().await;
    let identify = client
        .post(
            "/api/chat/identify",
            Some(&session.token),
            &json!({"session_id": session.id, "name": "Grace", "email": "grace@hopper.test"}),
        )
        .await;
    assert_eq!(identify.status, 200, "{}", identify.body);
    assert_eq!(client.say(&session, "My badge number is 1906").await.status, 200);
    server.stop().await;

    let out = dir.join("grace.json");
    let export = frontdesk(&storage)
        .args(["privacy", "export", "--org", &p.org_id, "--email", "GRACE@hopper.test", "--out"])
        .arg(&out)
        .output()
        .await
        .expect("export");
    assert!(export.status.success(), "export: {}", String::from_utf8_lossy(&export.stderr));
    let document: Value = serde_json::from_slice(&std::fs::read(&out).expect("the file")).expect("JSON");
    assert_eq!(document["format"], "frontdesk.visitor-export.v1");
    assert_eq!(document["visitors"][0]["visitor"]["id"].as_str(), Some(session.visitor_id.as_str()));
    assert!(document.to_string().contains("My badge number is 1906"));

    let refused = frontdesk(&storage)
        .args(["privacy", "erase", "--org", &p.org_id, "--visitor", &session.visitor_id])
        .output()
        .await
        .expect("erase without --yes");
    assert!(!refused.status.success(), "erasing needs --yes");
    let erased =
        cli_json(&storage, &["privacy", "erase", "--org", &p.org_id, "--visitor", &session.visitor_id, "--yes"]).await;
    assert_eq!(erased["visitors"], json!([session.visitor_id]));
    assert!(erased["counts"]["messages"].as_u64().is_some_and(|n| n >= 1), "{erased}");

    let after = frontdesk(&storage)
        .args(["privacy", "export", "--org", &p.org_id, "--visitor", &session.visitor_id])
        .output()
        .await
        .expect("export again");
    assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
    let text = String::from_utf8_lossy(&after.stdout);
    assert!(!text.contains("1906") && !text.contains("hopper") && !text.contains("Grace"), "{text}");

    // Another organization's visitor: not found, an error exit.
    let unknown = frontdesk(&storage)
        .args(["privacy", "export", "--org", &p.org_id, "--visitor", "0190b8e0-0000-7000-8000-000000000000"])
        .output()
        .await
        .expect("unknown visitor");
    assert!(!unknown.status.success());

    // Audited (actor none, via the command line): the server's audit API shows it.
    let server = Server::start(&storage, &["serve", "--bind", "127.0.0.1:0"]).await;
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{}/api/app/login", server.base))
        .header("Origin", &server.base)
        .json(&json!({"email": "ann@acme.test", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_owned();
    let audit: Value = http
        .get(format!("{}/api/app/orgs/{}/audit?action=privacy.", server.base, p.org_id))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("JSON");
    let events = audit["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 3, "two exports and the erasure: {audit}");
    assert!(events.iter().all(|e| e["details"]["via"] == "cli" && e["actor_id"].is_null()), "{audit}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
