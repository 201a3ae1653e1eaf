//! Bot scenarios end to end: the private API (drafts validated on save, publish, start scenario,
//! simulator) and scenarios running in real conversations over HTTP — greeting with the host
//! page's params, typed questions with retries, branching, an HTTP call to a real local server,
//! handoff to a person who sees what was collected, timers, version pinning, triggers and guards.

use crate::support::{Backend, MEMBER_EMAIL, OUTSIDER_EMAIL, OWNER_EMAIL, TestServer, assert_error, roomy_config};
use frontdesk_server::ServerConfig;
use frontdesk_testkit::chat_api::{ChatClient, Session};
use serde_json::{Value, json};
use std::time::Duration;

fn scenarios_path(server: &TestServer) -> String {
    format!("/api/app/orgs/{}/sites/{}/scenarios", server.org.id, server.site.id)
}

fn scenario_path(server: &TestServer, id: &str) -> String {
    format!("/api/app/orgs/{}/scenarios/{id}", server.org.id)
}

/// A local backend the scenarios call: `GET /orders/{id}` answers the order's status; order
/// 500 fails.
async fn order_backend() -> String {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    async fn order(Path(id): Path<String>) -> (StatusCode, axum::Json<Value>) {
        if id == "500" {
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "down"})));
        }
        (StatusCode::OK, axum::Json(json!({"order": {"id": id, "status": "shipped", "items": [{"name": "Lamp"}]}})))
    }
    let app = axum::Router::new().route("/orders/{id}", get(order));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// The scenario: greet with `{{params.plan}}`, collect an email (with validation), ask
/// a choice and branch, look the order up over HTTP on one branch, then hand off.
fn support_scenario(backend: &str) -> Value {
    json!({
        "schema": 1,
        "start": "greet",
        "triggers": [{"type": "conversation_start"}],
        "variables": [],
        "nodes": [
            {"id": "greet", "type": "message", "position": {"x": 0, "y": 0},
             "text": "Hi {{visitor.name | there}}! You are on the {{params.plan | free}} plan."},
            {"id": "ask_email", "type": "ask", "position": {"x": 0, "y": 100}, "input": "email",
             "prompt": "What is your email?", "variable": "email",
             "retry_message": "That is not an email address.", "max_retries": 2},
            {"id": "topic", "type": "ask", "position": {"x": 0, "y": 200}, "input": "choice",
             "prompt": "What is it about?", "variable": "topic",
             "choices": [{"id": "order", "label": "An order"}, {"id": "other", "label": "Something else"}]},
            {"id": "ask_order", "type": "ask", "position": {"x": 0, "y": 300}, "input": "number",
             "prompt": "Your order number?", "variable": "order_id"},
            {"id": "lookup", "type": "http", "position": {"x": 0, "y": 400}, "method": "GET",
             "url": format!("{backend}/orders/{{{{order_id}}}}"), "timeout_ms": 3000,
             "status_variable": "lookup_status", "save": [{"variable": "order_status", "path": "order.status"}],
             "thinking": "Looking up your order…"},
            {"id": "status", "type": "message", "position": {"x": 0, "y": 500},
             "text": "Order {{order_id}} is {{order_status}}."},
            {"id": "oops", "type": "message", "position": {"x": 200, "y": 500},
             "text": "I could not look that order up."},
            {"id": "human", "type": "handoff", "position": {"x": 0, "y": 600},
             "message": "Connecting you with our team…", "only_when_online": false}
        ],
        "edges": [
            {"from": "greet", "port": "next", "to": "ask_email"},
            {"from": "ask_email", "port": "next", "to": "topic"},
            {"from": "ask_email", "port": "invalid", "to": "human"},
            {"from": "topic", "port": "choice:order", "to": "ask_order"},
            {"from": "topic", "port": "choice:other", "to": "human"},
            {"from": "ask_order", "port": "next", "to": "lookup"},
            {"from": "lookup", "port": "success", "to": "status"},
            {"from": "lookup", "port": "failure", "to": "oops"},
            {"from": "status", "port": "next", "to": "human"},
            {"from": "oops", "port": "next", "to": "human"}
        ]
    })
}

fn allow_private() -> ServerConfig {
    let mut config = roomy_config();
    config.flows.allow_private_http = true;
    config
}

/// Creates, publishes and makes `document` the site's start scenario; returns its id.
async fn publish_start(server: &TestServer, owner: &crate::support::AgentClient, document: &Value) -> String {
    let r = owner.post(&scenarios_path(server), &json!({"name": "Support", "document": document})).await;
    assert_eq!(r.status, 201, "create: {}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = owner.post(&format!("{}/publish", scenario_path(server, &id)), &json!({})).await;
    assert_eq!(r.status, 200, "publish: {}", r.body);
    let r = owner.post(&format!("{}/start", scenario_path(server, &id)), &json!({"start": true})).await;
    assert_eq!((r.status, &r.body["starts_conversations"]), (200, &json!(true)), "start: {}", r.body);
    id
}

async fn start_with(client: &ChatClient, params: Value) -> Session {
    let r = client
        .post(
            "/api/chat/session",
            None,
            &json!({"page_url": "https://shop.example.com/account", "locale": "en", "params": params}),
        )
        .await;
    assert_eq!(r.status, 201, "session: {}", r.body);
    Session {
        id: r.body["session_id"].as_str().expect("id").to_owned(),
        token: r.body["session_token"].as_str().expect("token").to_owned(),
        visitor_id: r.body["visitor_id"].as_str().expect("visitor").to_owned(),
    }
}

/// The bodies of the bot's messages after sequence `after`.
async fn bot_lines(client: &ChatClient, session: &Session, after: usize) -> Vec<String> {
    client.history(session).await[after..]
        .iter()
        .filter(|m| m["author_kind"] != "visitor")
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn say(client: &ChatClient, session: &Session, text: &str) -> usize {
    let before = client.history(session).await.len();
    let r = client.say(session, text).await;
    assert_eq!(r.status, 200, "say {text}: {}", r.body);
    before + 1
}

async fn scenario_in_conversations(server: &TestServer) {
    let backend = order_backend().await;
    let owner = server.login(OWNER_EMAIL).await;
    let client = server.browser();

    // Not published yet: nothing greets.
    let r = client.get("/api/chat/config", None).await;
    assert_eq!(r.body["greets"], json!(false), "{}", r.body);
    publish_start(server, &owner, &support_scenario(&backend)).await;
    let r = client.get("/api/chat/config", None).await;
    assert_eq!(r.body["greets"], json!(true), "{}", r.body);

    // The greeting uses the host page's params; the first question follows.
    let session = start_with(&client, json!({"plan": "pro"})).await;
    assert_eq!(bot_lines(&client, &session, 0).await, ["Hi there! You are on the pro plan.", "What is your email?"]);
    // A wrong email gets the retry message and the question again; a right one moves on, and the
    // choice question offers its labels as quick replies.
    let at = say(&client, &session, "not an email").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["That is not an email address.", "What is your email?"]);
    let at = say(&client, &session, "Ada@Example.COM").await;
    let history = client.history(&session).await;
    assert_eq!(history.last().expect("a question")["body"], "What is it about?");
    assert_eq!(history.last().expect("a question")["quick_replies"], json!(["An order", "Something else"]));
    assert_eq!(history.last().expect("a question")["author_kind"], "bot");
    assert_eq!(bot_lines(&client, &session, at).await.len(), 1);
    // The branch, the HTTP lookup against the real local backend, then the handoff.
    say(&client, &session, "An order").await;
    let at = say(&client, &session, "1234").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["Order 1234 is shipped.", "Connecting you with our team…"]);
    let r = client.get(&format!("/api/chat/session/{}", session.id), Some(&session.token)).await;
    assert_eq!(r.body["status"], "escalated", "handed off: {}", r.body);

    // The person who takes over sees what the scenario collected.
    let r = owner.get(&format!("/api/app/orgs/{}/conversations/{}", server.org.id, session.id)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let flow = &r.body["flow"];
    assert_eq!(flow["scenario_name"], "Support");
    assert_eq!(flow["version"], 1);
    assert_eq!(flow["state"], "handed_off");
    assert_eq!(flow["variables"]["email"], "ada@example.com");
    assert_eq!(flow["variables"]["topic"], "order");
    assert_eq!(flow["variables"]["order_id"], json!(1234));
    assert_eq!(flow["variables"]["order_status"], "shipped");
    assert_eq!(flow["variables"]["lookup_status"], json!(200));

    // The failure edge: the backend answers 500.
    let session = start_with(&client, json!({})).await;
    assert_eq!(bot_lines(&client, &session, 0).await[0], "Hi there! You are on the free plan.");
    say(&client, &session, "ada@example.com").await;
    say(&client, &session, "1").await; // the first choice by its number
    let at = say(&client, &session, "500").await;
    assert_eq!(
        bot_lines(&client, &session, at).await,
        ["I could not look that order up.", "Connecting you with our team…"]
    );

    // Retries used up: the `invalid` edge.
    let session = start_with(&client, json!({})).await;
    say(&client, &session, "x").await;
    say(&client, &session, "y").await;
    let at = say(&client, &session, "z").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["Connecting you with our team…"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_scenarios_run_in_conversations() {
    let server = TestServer::start(Backend::Sqlite, "flows_run", allow_private()).await.expect("sqlite");
    scenario_in_conversations(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scenarios_run_in_conversations() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_flows", allow_private()).await else {
        return;
    };
    scenario_in_conversations(&server).await;
}

#[tokio::test]
async fn the_scenario_api_validates_publishes_and_guards() {
    let server = TestServer::start(Backend::Sqlite, "flows_api", roomy_config()).await.expect("sqlite");
    let owner = server.login(OWNER_EMAIL).await;

    // A new scenario starts from a useful, valid draft.
    let r = owner.post(&scenarios_path(&server), &json!({"name": "Welcome"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["published_version"], Value::Null);
    assert_eq!(r.body["draft_changed"], true);
    assert!(r.body["draft"]["nodes"].as_array().is_some_and(|n| n.len() >= 2), "{}", r.body);
    let draft = r.body["draft"].clone();

    // Saving a broken draft is refused with errors that point at the node and field.
    let mut broken = draft.clone();
    broken["nodes"][1]["variable"] = json!("params");
    broken["edges"].as_array_mut().expect("edges").push(json!({"from": "greet", "port": "next", "to": "nowhere"}));
    let r = owner.send(reqwest::Method::PUT, &scenario_path(&server, &id), Some(&json!({"document": broken}))).await;
    assert_error(&r, 422, "invalid_flow");
    let errors = r.body["error"]["details"]["errors"].as_array().expect("errors").clone();
    assert!(
        errors.iter().any(|e| e["node"] == "ask_email" && e["field"].as_str().is_some_and(|f| f.contains("variable"))),
        "{errors:?}"
    );
    assert!(errors.len() >= 2, "every error is listed: {errors:?}");
    // The validate endpoint says the same without saving.
    let r = owner.post(&format!("{}/validate", scenario_path(&server, &id)), &json!({"document": broken})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(errors.len()));
    let r = owner.post(&format!("{}/validate", scenario_path(&server, &id)), &json!({"document": draft})).await;
    assert_eq!(r.body["errors"], json!([]));
    let r = owner.get(&scenario_path(&server, &id)).await;
    assert_eq!(r.body["draft"], draft, "the refused draft was not saved");

    // Publish: version 1; an edit makes the draft differ; publishing again is version 2.
    let r = owner.post(&format!("{}/publish", scenario_path(&server, &id)), &json!({})).await;
    assert_eq!((r.status, &r.body["published_version"], &r.body["draft_changed"]), (200, &json!(1), &json!(false)));
    let mut edited = draft.clone();
    edited["nodes"][0]["text"] = json!("Hello!");
    let r = owner
        .send(reqwest::Method::PUT, &scenario_path(&server, &id), Some(&json!({"name": "Hello", "document": edited})))
        .await;
    assert_eq!((r.status, &r.body["name"], &r.body["draft_changed"]), (200, &json!("Hello"), &json!(true)));
    let r = owner.get(&scenarios_path(&server)).await;
    assert_eq!(r.body["scenarios"][0]["name"], "Hello");

    // A member may not edit bots; another organization finds nothing.
    let member = server.login(MEMBER_EMAIL).await;
    assert_error(&member.get(&scenarios_path(&server)).await, 403, "forbidden");
    assert_error(&member.post(&format!("{}/publish", scenario_path(&server, &id)), &json!({})).await, 403, "forbidden");
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let foreign = format!("/api/app/orgs/{}/scenarios/{id}", server.other_org.id);
    assert_error(&outsider.get(&foreign).await, 404, "not_found");
    assert_error(&outsider.get(&scenario_path(&server, &id)).await, 404, "not_found");

    // Names and unknown fields.
    let r = owner.post(&scenarios_path(&server), &json!({"name": "  "})).await;
    assert_error(&r, 422, "invalid_field");
    let r = owner.post(&scenarios_path(&server), &json!({"name": "x", "nodes": []})).await;
    assert_eq!(r.status, 422, "{}", r.body);

    // The simulator runs the draft without a conversation, step by step.
    let sim = format!("{}/simulate", scenario_path(&server, &id));
    let r = owner
        .post(&sim, &json!({"event": {"type": "start"}, "params": {"plan": "pro"}, "visitor": {"name": "Ada"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["messages"][0]["text"], "Hello!");
    assert_eq!(r.body["outcome"], "waiting");
    assert_eq!(r.body["current_node"], "ask_email");
    let run = r.body["run"].clone();
    let r = owner.post(&sim, &json!({"event": {"type": "message", "text": "ada@example.com"}, "run": run})).await;
    assert_eq!(r.body["variables"]["email"], "ada@example.com", "{}", r.body);
    assert_eq!(r.body["outcome"], "handed_off");
    let r = owner.post(&sim, &json!({"event": {"type": "message", "text": "x"}, "run": {"status": "flying"}})).await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Deleting it: gone for good.
    let r = owner.send(reqwest::Method::DELETE, &scenario_path(&server, &id), None).await;
    assert_eq!(r.status, 204);
    assert_error(&owner.get(&scenario_path(&server, &id)).await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_conversations_keep_their_version_and_timers_fire() {
    let server = TestServer::start(Backend::Sqlite, "flows_versions", roomy_config()).await.expect("sqlite");
    let owner = server.login(OWNER_EMAIL).await;
    let client = server.browser();
    let doc = |greeting: &str| {
        json!({
            "schema": 1, "start": "greet", "triggers": [], "variables": [],
            "nodes": [
                {"id": "greet", "type": "message", "position": {"x": 0, "y": 0}, "text": greeting},
                {"id": "ask", "type": "ask", "position": {"x": 0, "y": 100}, "input": "text", "prompt": "Name?",
                 "variable": "name", "timeout_secs": 60},
                {"id": "thanks", "type": "message", "position": {"x": 0, "y": 200}, "text": "Thanks {{name}} ({{params.plan}})"},
                {"id": "late", "type": "message", "position": {"x": 0, "y": 300}, "text": "Still there?"}
            ],
            "edges": [
                {"from": "greet", "port": "next", "to": "ask"},
                {"from": "ask", "port": "next", "to": "thanks"},
                {"from": "ask", "port": "timeout", "to": "late"}
            ]
        })
    };
    let id = publish_start(&server, &owner, &doc("Version one")).await;
    let old = start_with(&client, json!({"plan": "basic"})).await;
    assert_eq!(bot_lines(&client, &old, 0).await, ["Version one", "Name?"]);

    // Version 2 is published while the first conversation waits.
    let r = owner
        .send(reqwest::Method::PUT, &scenario_path(&server, &id), Some(&json!({"document": doc("Version two")})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v2 = doc("Version two");
    v2["nodes"][2]["text"] = json!("Merci {{name}}");
    let r = owner.send(reqwest::Method::PUT, &scenario_path(&server, &id), Some(&json!({"document": v2}))).await;
    assert_eq!(r.status, 200);
    let r = owner.post(&format!("{}/publish", scenario_path(&server, &id)), &json!({})).await;
    assert_eq!(r.body["published_version"], 2);
    let new = start_with(&client, json!({})).await;
    assert_eq!(bot_lines(&client, &new, 0).await, ["Version two", "Name?"]);
    // The old conversation finishes on version 1, with the message's own params on top.
    let before = client.history(&old).await.len();
    let r = client
        .post(
            "/api/chat/message",
            Some(&old.token),
            &json!({"session_id": old.id, "content": "Ada", "params": {"plan": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(bot_lines(&client, &old, before + 1).await, ["Thanks Ada (gold)"]);
    let at = say(&client, &new, "Bob").await;
    assert_eq!(bot_lines(&client, &new, at).await, ["Merci Bob"]);

    // A question nobody answers: its timeout edge fires once the clock passes it.
    let quiet = start_with(&client, json!({})).await;
    assert_eq!(client.history(&quiet).await.len(), 2);
    server.clock.advance_seconds(61);
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = bot_lines(&client, &quiet, 2).await;
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines, ["Still there?"], "the timer job fired the timeout edge");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bot_lines(&client, &quiet, 2).await.len(), 1, "and only once");
}

#[tokio::test]
async fn triggers_escalation_loops_and_private_addresses() {
    // The default configuration: scenarios may not call private addresses.
    let server = TestServer::start(Backend::Sqlite, "flows_guards", roomy_config()).await.expect("sqlite");
    let owner = server.login(OWNER_EMAIL).await;
    let client = server.browser();
    let backend = order_backend().await;
    let doc = json!({
        "schema": 1, "start": "ask", "variables": [],
        "triggers": [{"type": "keyword", "keywords": ["order"]}, {"type": "pattern", "pattern": "(?i)^loop$"}],
        "nodes": [
            {"id": "ask", "type": "ask", "position": {"x": 0, "y": 0}, "input": "text", "prompt": "Which one?",
             "variable": "which"},
            {"id": "branch", "type": "condition", "position": {"x": 0, "y": 100}, "match": "all",
             "groups": [{"match": "all", "rules": [{"left": "which", "op": "equals", "right": "loop"}]}]},
            {"id": "again", "type": "jump", "position": {"x": 0, "y": 200}, "target": "spin"},
            {"id": "spin", "type": "set", "position": {"x": 0, "y": 300}, "variable": "n", "value": {"expr": "n + 1"}},
            {"id": "call", "type": "http", "position": {"x": 200, "y": 100}, "method": "GET",
             "url": format!("{backend}/orders/1")},
            {"id": "ok", "type": "message", "position": {"x": 200, "y": 200}, "text": "reached"},
            {"id": "refused", "type": "message", "position": {"x": 200, "y": 300}, "text": "refused"}
        ],
        "edges": [
            {"from": "ask", "port": "next", "to": "branch"},
            {"from": "branch", "port": "true", "to": "again"},
            {"from": "branch", "port": "false", "to": "call"},
            {"from": "spin", "port": "next", "to": "again"},
            {"from": "call", "port": "success", "to": "ok"},
            {"from": "call", "port": "failure", "to": "refused"}
        ]
    });
    let r = owner.post(&scenarios_path(&server), &json!({"name": "Orders", "document": doc})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    owner.post(&format!("{}/publish", scenario_path(&server, &id)), &json!({})).await;

    // No start scenario: a new conversation is not greeted; a keyword starts the scenario.
    let session = start_with(&client, json!({})).await;
    assert!(client.history(&session).await.iter().all(|m| m["author_kind"] != "bot"));
    let at = say(&client, &session, "Where is my ORDER?").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["Which one?"]);
    // The HTTP node may not reach 127.0.0.1: its failure edge.
    let at = say(&client, &session, "the lamp").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["refused"]);

    // A loop ends at the step limit instead of hanging; the conversation goes on.
    let session = start_with(&client, json!({})).await;
    say(&client, &session, "order").await;
    say(&client, &session, "loop").await;
    let r = owner.get(&format!("/api/app/orgs/{}/conversations/{}", server.org.id, session.id)).await;
    assert_eq!(r.body["flow"]["state"], "failed", "{}", r.body["flow"]);
    assert!(r.body["flow"]["error"].as_str().is_some_and(|e| e.contains("step")), "{}", r.body["flow"]);
    let r = client.say(&session, "hello again").await;
    assert_eq!(r.status, 200);

    // Asking for a person ends a waiting scenario and escalates.
    let session = start_with(&client, json!({})).await;
    let at = say(&client, &session, "order").await;
    assert_eq!(bot_lines(&client, &session, at).await, ["Which one?"]);
    say(&client, &session, "I want to talk to a human").await;
    let r = client.get(&format!("/api/chat/session/{}", session.id), Some(&session.token)).await;
    assert_eq!(r.body["status"], "escalated", "{}", r.body);
    let r = owner.get(&format!("/api/app/orgs/{}/conversations/{}", server.org.id, session.id)).await;
    assert_eq!(r.body["flow"]["state"], "ended", "{}", r.body["flow"]);
}
