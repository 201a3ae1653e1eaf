//! Scenarios run node by node against a recording host, plus the HTTP executor against a real
//! local server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use frontdesk_core::time::Timestamp;
use frontdesk_flows::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// The recording host

#[derive(Clone, Debug, PartialEq)]
enum Call {
    Say(String, Vec<String>),
    Thinking(Option<String>),
    Http(HttpCall),
    Ai(String),
    Online,
    Handoff(Option<String>),
}

struct Host {
    calls: Mutex<Vec<Call>>,
    online: bool,
    ai_answers: bool,
    fail_say: bool,
    http: Option<HttpOutcome>,
    executor: Option<HttpExecutor>,
}

impl Host {
    fn new() -> Self {
        Host {
            calls: Mutex::new(Vec::new()),
            online: true,
            ai_answers: true,
            fail_say: false,
            http: None,
            executor: None,
        }
    }
    fn record(&self, call: Call) {
        self.calls.lock().expect("lock").push(call);
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }
    /// Only the messages, as text.
    fn said(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Say(text, _) => Some(text),
                _ => None,
            })
            .collect()
    }
}

#[async_trait]
impl FlowHost for Host {
    async fn say(&self, markdown: String, quick_replies: Vec<String>) -> Result<(), FlowError> {
        if self.fail_say {
            return Err(FlowError::Host("store down".into()));
        }
        self.record(Call::Say(markdown, quick_replies));
        Ok(())
    }
    async fn thinking(&self, stage: Option<String>) {
        self.record(Call::Thinking(stage));
    }
    async fn http(&self, call: HttpCall) -> HttpOutcome {
        self.record(Call::Http(call.clone()));
        match &self.executor {
            Some(executor) => executor.execute(call).await,
            None => self.http.clone().unwrap_or_default(),
        }
    }
    async fn ai_answer(&self, question: &str) -> Result<bool, FlowError> {
        self.record(Call::Ai(question.to_owned()));
        Ok(self.ai_answers)
    }
    async fn agents_online(&self) -> bool {
        self.record(Call::Online);
        self.online
    }
    async fn handoff(&self, message: Option<String>) -> Result<(), FlowError> {
        self.record(Call::Handoff(message));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const T0: i64 = 1_763_700_000_000;

fn ctx_at(ms: i64) -> Context {
    Context {
        params: json!({"plan": "pro", "order": "A 1/2"}),
        visitor: VisitorVars { name: Some("Ann".into()), email: None, user_id: Some("u-7".into()), verified: false },
        now: Timestamp::from_millis(ms),
    }
}

fn ctx() -> Context {
    ctx_at(T0)
}

fn msg(text: &str) -> Event {
    Event::Message { text: text.into() }
}

/// A document from nodes and `(from, port, to)` edges; starts at the first node.
fn flow(nodes: Value, edges: &[(&str, &str, &str)]) -> FlowDocument {
    let start = nodes[0]["id"].as_str().expect("first node id").to_owned();
    let edges: Vec<Value> = edges.iter().map(|(f, p, t)| json!({"from": f, "port": p, "to": t})).collect();
    let json = json!({"schema": 1, "start": start, "nodes": nodes, "edges": edges});
    match check(&json) {
        Ok(doc) => doc,
        Err(issues) => panic!("invalid test flow: {issues:#?}"),
    }
}

fn say(id: &str, text: &str) -> Value {
    json!({"id": id, "type": "message", "text": text})
}

async fn drive_all(doc: &FlowDocument, run: &mut FlowRun, host: &Host, events: Vec<(Event, i64)>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (event, at) in events {
        outcomes.push(drive(doc, run, &ctx_at(at), event, host).await.expect("drive"));
    }
    outcomes
}

fn example() -> Value {
    json!({
      "schema": 1,
      "start": "greet",
      "triggers": [
        { "type": "conversation_start" },
        { "type": "keyword", "keywords": ["order", "bestelling"] },
        { "type": "pattern", "pattern": "(?i)order\\s*#?\\d{4,}" },
        { "type": "page", "url": "*/pricing*" }
      ],
      "variables": [ { "name": "email", "default": "" } ],
      "nodes": [
        { "id": "greet", "type": "message", "position": { "x": 40, "y": 40 },
          "text": "Hi {{visitor.name | there}}! You are on the {{params.plan}} plan.",
          "quick_replies": [] },
        { "id": "ask_email", "type": "ask", "position": { "x": 40, "y": 160 },
          "input": "email", "prompt": "What is your email address?", "variable": "email",
          "retry_message": "That does not look like an email address.", "max_retries": 2,
          "timeout_secs": 600 },
        { "id": "topic", "type": "ask", "position": { "x": 40, "y": 280 },
          "input": "choice", "prompt": "What is it about?", "variable": "topic",
          "choices": [ { "id": "billing", "label": "Billing" }, { "id": "tech", "label": "Something technical" } ] },
        { "id": "human", "type": "handoff", "position": { "x": 40, "y": 400 },
          "message": "Connecting you with our team…", "only_when_online": false }
      ],
      "edges": [
        { "from": "greet", "port": "next", "to": "ask_email" },
        { "from": "ask_email", "port": "next", "to": "topic" },
        { "from": "topic", "port": "choice:billing", "to": "human" },
        { "from": "topic", "port": "choice:tech", "to": "human" }
      ]
    })
}

fn example_events() -> Vec<(Event, i64)> {
    vec![
        (Event::Start, T0),
        (msg("not an email"), T0 + 1_000),
        (msg("Ann@Example.COM"), T0 + 2_000),
        (msg("2"), T0 + 3_000),
    ]
}

// ---------------------------------------------------------------------------------------------
// The spec's example, end to end

#[tokio::test]
async fn the_spec_example_runs_end_to_end() {
    let doc = check(&example()).expect("the spec's example is valid");
    let host = Host::new();
    let mut run = FlowRun::new();

    let out = drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("start");
    assert_eq!(out, Outcome::Waiting { due_at: Some(Timestamp::from_millis(T0 + 600_000)) });
    assert_eq!(run.due_at(), Some(Timestamp::from_millis(T0 + 600_000)));
    assert_eq!(run.current_node(), Some("ask_email"));
    assert_eq!(
        host.take(),
        vec![
            Call::Say("Hi Ann! You are on the pro plan.".into(), vec![]),
            Call::Say("What is your email address?".into(), vec![]),
        ]
    );
    assert_eq!(run.vars().get("email"), Some(&json!("")), "declared default");

    // An invalid answer: retry message, prompt again, timeout restarted from now.
    let out = drive(&doc, &mut run, &ctx_at(T0 + 1_000), msg("not an email"), &host).await.expect("retry");
    assert_eq!(out, Outcome::Waiting { due_at: Some(Timestamp::from_millis(T0 + 601_000)) });
    assert_eq!(run.retries(), 1);
    assert_eq!(
        host.take(),
        vec![
            Call::Say("That does not look like an email address.".into(), vec![]),
            Call::Say("What is your email address?".into(), vec![]),
        ]
    );

    let out = drive(&doc, &mut run, &ctx_at(T0 + 2_000), msg(" Ann@Example.COM "), &host).await.expect("email");
    assert_eq!(out, Outcome::Waiting { due_at: None });
    assert_eq!(run.vars().get("email"), Some(&json!("ann@example.com")));
    assert_eq!(run.retries(), 0);
    assert_eq!(
        host.take(),
        vec![Call::Say("What is it about?".into(), vec!["Billing".into(), "Something technical".into()])]
    );

    let out = drive(&doc, &mut run, &ctx_at(T0 + 3_000), msg("2"), &host).await.expect("choice");
    assert_eq!(out, Outcome::HandedOff);
    assert!(run.is_over());
    assert_eq!(run.vars().get("topic"), Some(&json!("tech")));
    assert_eq!(run.vars().get("last_message"), Some(&json!("2")));
    assert_eq!(host.take(), vec![Call::Handoff(Some("Connecting you with our team…".into()))]);

    // An over run ignores further events.
    let out = drive(&doc, &mut run, &ctx_at(T0 + 4_000), msg("hello?"), &host).await.expect("after");
    assert_eq!(out, Outcome::HandedOff);
    assert!(host.take().is_empty());
}

#[tokio::test]
async fn a_run_survives_a_restart_between_every_event() {
    let doc = check(&example()).expect("valid");
    let straight_host = Host::new();
    let mut straight = FlowRun::new();
    let straight_outcomes = drive_all(&doc, &mut straight, &straight_host, example_events()).await;

    let host = Host::new();
    let mut stored = serde_json::to_string(&FlowRun::new()).expect("serialize");
    let mut outcomes = Vec::new();
    for (event, at) in example_events() {
        // A fresh process: the run exists only as its stored JSON.
        let mut run: FlowRun = serde_json::from_str(&stored).expect("deserialize");
        outcomes.push(drive(&doc, &mut run, &ctx_at(at), event, &host).await.expect("drive"));
        stored = serde_json::to_string(&run).expect("serialize");
    }
    let resumed: FlowRun = serde_json::from_str(&stored).expect("deserialize");
    assert_eq!(outcomes, straight_outcomes);
    assert_eq!(host.calls(), straight_host.calls());
    assert_eq!(resumed, straight);
}

#[tokio::test]
async fn a_run_waiting_mid_scenario_serializes_its_position() {
    let doc = check(&example()).expect("valid");
    let host = Host::new();
    let mut run = FlowRun::new();
    drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("start");
    let json = serde_json::to_value(&run).expect("serialize");
    assert_eq!(json["status"], "waiting_input");
    assert_eq!(json["node"], "ask_email");
    assert_eq!(json["due_at"], Timestamp::from_millis(T0 + 600_000).to_rfc3339());
    let back: FlowRun = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, run);
    // An empty object is a fresh run (forward-compatible defaults).
    let fresh: FlowRun = serde_json::from_value(json!({})).expect("empty");
    assert_eq!(fresh, FlowRun::new());
}

#[test]
fn documents_round_trip_through_json() {
    let doc = check(&example()).expect("valid");
    let text = serde_json::to_value(&doc).expect("serialize");
    let back = check(&text).expect("re-check");
    assert_eq!(back, doc);
    assert_eq!(text["nodes"][1]["type"], "ask");
    assert_eq!(text["nodes"][1]["timeout_secs"], 600);
    assert_eq!(text["nodes"][2]["choices"][1]["label"], "Something technical");
    assert_eq!(text["triggers"][0], json!({"type": "conversation_start"}));
}

// ---------------------------------------------------------------------------------------------
// Ask

fn ask_flow(extra: Value, edges: &[(&str, &str, &str)]) -> FlowDocument {
    let mut ask = json!({"id": "q", "type": "ask", "input": "number", "prompt": "How many?", "variable": "n",
                         "retry_message": "A number please."});
    for (k, v) in extra.as_object().expect("object") {
        ask[k] = v.clone();
    }
    flow(json!([ask, say("ok", "Got {{n}}"), say("bad", "Giving up"), say("late", "Too slow")]), edges)
}

#[tokio::test]
async fn ask_retries_then_takes_the_invalid_port() {
    let all_edges = [("q", "next", "ok"), ("q", "invalid", "bad"), ("q", "timeout", "late")];
    // (max_retries, answers, expected messages after the prompt, expected final outcome)
    let cases: Vec<(u32, Vec<&str>, Vec<&str>, Outcome)> = vec![
        (0, vec!["x"], vec!["Giving up"], Outcome::Finished),
        (1, vec!["x", "y"], vec!["A number please.", "How many?", "Giving up"], Outcome::Finished),
        (
            2,
            vec!["x", "y", "z"],
            vec!["A number please.", "How many?", "A number please.", "How many?", "Giving up"],
            Outcome::Finished,
        ),
        (2, vec!["x", "4,5"], vec!["A number please.", "How many?", "Got 4\\.5"], Outcome::Finished),
    ];
    for (max, answers, expected, last) in cases {
        let doc = ask_flow(json!({"max_retries": max}), &all_edges);
        let host = Host::new();
        let mut run = FlowRun::new();
        drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("start");
        host.take();
        let mut outcome = None;
        for a in answers {
            outcome = Some(drive(&doc, &mut run, &ctx(), msg(a), &host).await.expect("answer"));
        }
        assert_eq!(host.said(), expected, "max_retries {max}");
        assert_eq!(outcome, Some(last), "max_retries {max}");
    }
}

#[tokio::test]
async fn a_missing_invalid_edge_ends_the_scenario() {
    let doc = ask_flow(json!({"max_retries": 0}), &[("q", "next", "ok")]);
    let host = Host::new();
    let mut run = FlowRun::new();
    let outs = drive_all(&doc, &mut run, &host, vec![(Event::Start, T0), (msg("nope"), T0)]).await;
    assert_eq!(outs[1], Outcome::Finished);
    assert_eq!(host.said(), vec!["How many?"]);
    assert!(!run.vars().contains_key("n"));
}

#[tokio::test]
async fn ask_stores_numbers_as_json_numbers() {
    let doc = ask_flow(json!({}), &[("q", "next", "ok")]);
    let host = Host::new();
    let mut run = FlowRun::new();
    drive_all(&doc, &mut run, &host, vec![(Event::Start, T0), (msg("42"), T0)]).await;
    assert_eq!(run.vars().get("n"), Some(&json!(42)));
    assert_eq!(host.said(), vec!["How many?", "Got 42"]);
}

#[tokio::test]
async fn ask_timeout_fires_only_when_due() {
    let edges = [("q", "next", "ok"), ("q", "timeout", "late")];
    let doc = ask_flow(json!({"timeout_secs": 60}), &edges);
    let host = Host::new();
    let mut run = FlowRun::new();
    let due = Timestamp::from_millis(T0 + 60_000);
    let outs = drive_all(
        &doc,
        &mut run,
        &host,
        vec![(Event::Start, T0), (Event::Timer, T0 + 59_999), (Event::Start, T0 + 59_999), (Event::Timer, T0 + 60_000)],
    )
    .await;
    assert_eq!(
        outs,
        vec![
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Finished
        ]
    );
    assert_eq!(host.said(), vec!["How many?", "Too slow"]);
    assert_eq!(run.due_at(), None);

    // Without timeout_secs nothing is due: a timer changes nothing.
    let doc = ask_flow(json!({}), &edges);
    let host = Host::new();
    let mut run = FlowRun::new();
    let outs = drive_all(&doc, &mut run, &host, vec![(Event::Start, T0), (Event::Timer, T0 + 10_000_000)]).await;
    assert_eq!(outs[1], Outcome::Waiting { due_at: None });
    assert_eq!(run.current_node(), Some("q"));
}

#[tokio::test]
async fn choices_take_their_port_or_next() {
    let nodes = json!([
        {"id": "q", "type": "ask", "input": "choice", "prompt": "Pick", "variable": "pick",
         "choices": [{"id": "a", "label": "Alpha"}, {"id": "b", "label": "Beta"}, {"id": "c", "label": "{{params.plan}} plan"}]},
        say("on_a", "A!"), say("fallback", "Other: {{pick}}")
    ]);
    let doc = flow(nodes, &[("q", "choice:a", "on_a"), ("q", "next", "fallback")]);
    for (answer, expected) in
        [("alpha", "A!"), ("1", "A!"), ("A", "A!"), ("Beta", "Other: b"), ("2", "Other: b"), ("PRO PLAN", "Other: c")]
    {
        let host = Host::new();
        let mut run = FlowRun::new();
        drive_all(&doc, &mut run, &host, vec![(Event::Start, T0), (msg(answer), T0)]).await;
        let calls = host.calls();
        assert_eq!(calls[0], Call::Say("Pick".into(), vec!["Alpha".into(), "Beta".into(), "pro plan".into()]));
        assert_eq!(host.said().last().map(String::as_str), Some(expected), "{answer}");
    }
}

// ---------------------------------------------------------------------------------------------
// Wait, jump, end, the step limit

#[tokio::test]
async fn wait_sleeps_until_the_timer_and_ignores_messages() {
    let doc = flow(
        json!([say("a", "before"), {"id": "w", "type": "wait", "seconds": 30}, say("b", "after {{last_message}}")]),
        &[("a", "next", "w"), ("w", "next", "b")],
    );
    let host = Host::new();
    let mut run = FlowRun::new();
    let due = Timestamp::from_millis(T0 + 30_000);
    let outs = drive_all(
        &doc,
        &mut run,
        &host,
        vec![(Event::Start, T0), (msg("hello?"), T0 + 5_000), (Event::Timer, T0 + 29_000), (Event::Timer, T0 + 31_000)],
    )
    .await;
    assert_eq!(
        outs,
        vec![
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Waiting { due_at: Some(due) },
            Outcome::Finished
        ]
    );
    assert_eq!(host.said(), vec!["before", "after hello\\?"]);
}

#[tokio::test]
async fn jump_and_end() {
    let doc = flow(
        json!([
            say("a", "one"),
            {"id": "j", "type": "jump", "target": "c"},
            say("skipped", "never"),
            say("c", "three"),
            {"id": "stop", "type": "end"},
            say("after_end", "never either"),
        ]),
        &[("a", "next", "j"), ("c", "next", "stop"), ("skipped", "next", "c")],
    );
    let host = Host::new();
    let mut run = FlowRun::new();
    let out = drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("drive");
    assert_eq!(out, Outcome::Finished);
    assert_eq!(host.said(), vec!["one", "three"]);
    assert_eq!(run.current_node(), Some("stop"));
    assert_eq!(run.total_steps(), 4);
}

#[tokio::test]
async fn loops_hit_the_step_limit() {
    let doc = flow(
        json!([{"id": "inc", "type": "set", "variable": "i", "value": {"expr": "i + 1"}}, {"id": "again", "type": "jump", "target": "inc"}]),
        &[("inc", "next", "again")],
    );
    let host = Host::new();
    let mut run = FlowRun::new();
    let out = drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("drive");
    let Outcome::Failed { error } = out else { panic!("expected a failure, got {out:?}") };
    assert!(error.starts_with("step limit"), "{error}");
    assert!(run.is_over());
    assert_eq!(run.error(), Some(error.as_str()));
    assert_eq!(run.total_steps(), u64::from(MAX_STEPS));
    assert_eq!(run.vars().get("i"), Some(&json!(25)), "25 increments in 50 steps");
    let again = drive(&doc, &mut run, &ctx(), msg("hi"), &host).await.expect("again");
    assert_eq!(again, Outcome::Failed { error });
}

#[tokio::test]
async fn the_step_limit_is_exact_and_per_event() {
    // n set nodes then an end node: n + 1 steps.
    for (sets, expect_ok) in [(49, true), (50, false)] {
        let mut nodes: Vec<Value> = (0..sets)
            .map(|i| json!({"id": format!("s{i}"), "type": "set", "variable": "x", "value": {"literal": i}}))
            .collect();
        nodes.push(json!({"id": "end", "type": "end"}));
        let edges: Vec<(String, String)> = (0..sets)
            .map(|i| (format!("s{i}"), if i + 1 < sets { format!("s{}", i + 1) } else { "end".to_owned() }))
            .collect();
        let edges: Vec<(&str, &str, &str)> = edges.iter().map(|(f, t)| (f.as_str(), "next", t.as_str())).collect();
        let doc = flow(Value::Array(nodes), &edges);
        let out = drive(&doc, &mut FlowRun::new(), &ctx(), Event::Start, &Host::new()).await.expect("drive");
        assert_eq!(out == Outcome::Finished, expect_ok, "{sets} set nodes: {out:?}");
    }

    // The limit counts per event: 30 steps now and 30 after the answer is fine.
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for i in 0..30 {
        nodes.push(json!({"id": format!("a{i}"), "type": "set", "variable": "x", "value": {"literal": i}}));
        nodes.push(json!({"id": format!("b{i}"), "type": "set", "variable": "y", "value": {"literal": i}}));
    }
    nodes.insert(30, json!({"id": "q", "type": "ask", "input": "text", "prompt": "?", "variable": "t"}));
    let ids: Vec<String> = nodes.iter().map(|n| n["id"].as_str().expect("id").to_owned()).collect();
    for pair in ids.windows(2) {
        edges.push((pair[0].clone(), pair[1].clone()));
    }
    let edges: Vec<(&str, &str, &str)> = edges.iter().map(|(f, t)| (f.as_str(), "next", t.as_str())).collect();
    let doc = flow(Value::Array(nodes), &edges);
    let host = Host::new();
    let mut run = FlowRun::new();
    let outs = drive_all(&doc, &mut run, &host, vec![(Event::Start, T0), (msg("hi"), T0)]).await;
    assert_eq!(outs, vec![Outcome::Waiting { due_at: None }, Outcome::Finished]);
    // 30 sets + the ask, then the ask taking its answer + 30 sets.
    assert_eq!(run.total_steps(), 62);
}

// ---------------------------------------------------------------------------------------------
// Conditions

async fn condition_holds(value: Value, condition: Value) -> bool {
    let mut node = condition;
    node["id"] = json!("c");
    node["type"] = json!("condition");
    let mut vars = vec![];
    if !value.is_null() {
        vars.push(json!({"name": "v", "default": value}));
    }
    let json = json!({"schema": 1, "start": "c", "variables": vars,
        "nodes": [node, say("yes", "T"), say("no", "F")],
        "edges": [{"from": "c", "port": "true", "to": "yes"}, {"from": "c", "port": "false", "to": "no"}]});
    let doc = check(&json).unwrap_or_else(|e| panic!("{e:#?}"));
    let host = Host::new();
    drive(&doc, &mut FlowRun::new(), &ctx(), Event::Start, &host).await.expect("drive");
    match host.said().as_slice() {
        [t] if t == "T" => true,
        [f] if f == "F" => false,
        other => panic!("unexpected {other:?}"),
    }
}

fn rule(op: &str, right: Value) -> Value {
    json!({"groups": [{"rules": [{"left": "v", "op": op, "right": right}]}]})
}

#[tokio::test]
async fn every_condition_operator() {
    let cases: Vec<(Value, &str, Value, bool)> = vec![
        (json!("Yes"), "equals", json!("yes"), true),
        (json!("yes "), "equals", json!("yes"), true),
        (json!("no"), "equals", json!("yes"), false),
        (json!(3), "equals", json!("3.0"), true),
        (json!("pro"), "equals", json!("{{params.plan}}"), true),
        (json!("no"), "not_equals", json!("yes"), true),
        (json!("yes"), "not_equals", json!("YES"), false),
        (json!("Order 1234 please"), "contains", json!("order 12"), true),
        (json!("hello"), "contains", json!("bye"), false),
        (json!("Order #12345"), "matches", json!("(?i)order\\s*#?\\d{4,}"), true),
        (json!("Order #123"), "matches", json!("(?i)order\\s*#?\\d{4,}"), false),
        // A templated value in a regex matches literally.
        (json!("A 1/2"), "matches", json!("^{{params.order}}$"), true),
        (json!("A 1x2"), "matches", json!("^A 1.2$"), true),
        (json!("A 1x2"), "matches", json!("^{{params.order}}$"), false),
        (json!("10"), "greater_than", json!("9"), true),
        (json!(10), "greater_than", json!("10"), false),
        (json!("2,5"), "greater_than", json!(2), true),
        (json!("abc"), "greater_than", json!(1), false),
        (json!(9), "less_than", json!("10"), true),
        (json!("x"), "less_than", json!("10"), false),
        (json!("x"), "is_set", json!(null), true),
        (json!(""), "is_set", json!(null), false),
        (Value::Null, "is_set", json!(null), false),
        (json!(0), "is_set", json!(null), true),
        (Value::Null, "is_not_set", json!(null), true),
        (json!(""), "is_not_set", json!(null), true),
        (json!("x"), "is_not_set", json!(null), false),
    ];
    for (value, op, right, expected) in cases {
        let got = condition_holds(value.clone(), rule(op, right.clone())).await;
        assert_eq!(got, expected, "{value} {op} {right}");
    }
}

#[tokio::test]
async fn condition_groups_all_and_any() {
    let t = json!({"left": "v", "op": "is_set"});
    let f = json!({"left": "v", "op": "is_not_set"});
    let cases = [
        (
            json!({"match": "all", "groups": [{"match": "all", "rules": [t, t]}, {"match": "any", "rules": [f, t]}]}),
            true,
        ),
        (json!({"match": "all", "groups": [{"match": "all", "rules": [t, f]}, {"match": "any", "rules": [t]}]}), false),
        (
            json!({"match": "any", "groups": [{"match": "all", "rules": [t, f]}, {"match": "any", "rules": [f, t]}]}),
            true,
        ),
        (json!({"match": "any", "groups": [{"match": "any", "rules": [f, f]}, {"match": "all", "rules": [f]}]}), false),
        // `match` defaults to all.
        (json!({"groups": [{"rules": [t, f]}]}), false),
        (json!({"groups": [{"rules": [t, t]}]}), true),
    ];
    for (condition, expected) in cases {
        assert_eq!(condition_holds(json!("x"), condition.clone()).await, expected, "{condition}");
    }
}

// ---------------------------------------------------------------------------------------------
// Set

#[tokio::test]
async fn set_literal_copy_and_expr() {
    let doc = flow(
        json!([
            {"id": "a", "type": "set", "variable": "count", "value": {"literal": 4}},
            {"id": "b", "type": "set", "variable": "obj", "value": {"literal": {"items": [{"name": "Mug"}]}}},
            {"id": "c", "type": "set", "variable": "name", "value": {"copy": "obj.items[0].name"}},
            {"id": "d", "type": "set", "variable": "total", "value": {"expr": "count * 2 + 1"}},
            {"id": "e", "type": "set", "variable": "text_num", "value": {"literal": "2,5"}},
            {"id": "f", "type": "set", "variable": "mixed", "value": {"expr": "-(text_num + missing) * 2 + name"}},
            {"id": "g", "type": "set", "variable": "half", "value": {"expr": "7 / 2"}},
            {"id": "h", "type": "set", "variable": "name", "value": {"copy": "nothing.here"}},
            {"id": "i", "type": "set", "variable": "total", "value": {"expr": "count / (count - 4)"}},
            {"id": "j", "type": "set", "variable": "rest", "value": {"expr": "count % 0"}},
            {"id": "k", "type": "set", "variable": "plan", "value": {"copy": "params.plan"}},
            {"id": "l", "type": "set", "variable": "obj", "value": {"literal": null}},
            say("m", "{{plan}} {{half}} {{mixed}} [{{total}}]"),
        ]),
        &[
            ("a", "next", "b"),
            ("b", "next", "c"),
            ("c", "next", "d"),
            ("d", "next", "e"),
            ("e", "next", "f"),
            ("f", "next", "g"),
            ("g", "next", "h"),
            ("h", "next", "i"),
            ("i", "next", "j"),
            ("j", "next", "k"),
            ("k", "next", "l"),
            ("l", "next", "m"),
        ],
    );
    let host = Host::new();
    let mut run = FlowRun::new();
    drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("drive");
    let v = run.vars();
    assert_eq!(v.get("count"), Some(&json!(4)));
    assert_eq!(v.get("mixed"), Some(&json!(-5)), "non-numeric `name` and missing count as 0");
    assert_eq!(v.get("half"), Some(&json!(3.5)));
    assert_eq!(v.get("name"), None, "copy of a missing path unsets");
    assert_eq!(v.get("total"), None, "division by zero unsets");
    assert_eq!(v.get("rest"), None, "modulo by zero unsets");
    assert_eq!(v.get("plan"), Some(&json!("pro")));
    assert_eq!(v.get("obj"), None, "a null literal unsets");
    assert_eq!(host.said(), vec!["pro 3\\.5 \\-5 []"], "values escaped, the author's brackets kept");

    // The copy and the first expr before they were overwritten.
    let prefix = flow(
        json!([
            {"id": "b", "type": "set", "variable": "obj", "value": {"literal": {"items": [{"name": "Mug"}]}}},
            {"id": "c", "type": "set", "variable": "name", "value": {"copy": "obj.items[0].name"}},
            {"id": "a", "type": "set", "variable": "count", "value": {"literal": "4"}},
            {"id": "d", "type": "set", "variable": "total", "value": {"expr": "count * 2 + 1"}},
        ]),
        &[("b", "next", "c"), ("c", "next", "a"), ("a", "next", "d")],
    );
    let mut run = FlowRun::new();
    drive(&prefix, &mut run, &ctx(), Event::Start, &host).await.expect("drive");
    let v = run.vars();
    assert_eq!(v.get("name"), Some(&json!("Mug")));
    assert_eq!(v.get("total"), Some(&json!(9)), "a numeric string counts as its number");
}

// ---------------------------------------------------------------------------------------------
// Templates

#[tokio::test]
async fn templates_in_messages() {
    let verified = |v: bool| Context {
        visitor: VisitorVars { name: None, email: None, user_id: Some("u-7".into()), verified: v },
        ..ctx()
    };
    let cases = [
        ("Hi {{visitor.name | there}}!", false, "Hi there!"),
        ("Hi {{ visitor.name|there }}!", false, "Hi there!"),
        ("[{{unknown}}] [{{unknown.deep[3]}}]", false, "[] []"),
        ("id={{visitor.user_id | none}}", false, "id=none"),
        ("id={{visitor.user_id | none}}", true, "id=u\\-7"),
        ("{{visitor.verified}}", true, "true"),
        ("{{params.order}}", false, "A 1\\/2"),
        ("{{last_message}}", false, "\\*\\*hi\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\)"),
        (
            "{{last_message | fallback}} {{params.missing | *kept*}}",
            false,
            "\\*\\*hi\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\) *kept*",
        ),
    ];
    for (text, is_verified, expected) in cases {
        let doc = flow(json!([say("m", text)]), &[]);
        let host = Host::new();
        let mut run = FlowRun::new();
        // A keyword-started run sees the triggering message as last_message.
        drive(&doc, &mut run, &verified(is_verified), msg("**hi** [x](javascript:alert(1))"), &host)
            .await
            .expect("drive");
        assert_eq!(host.said(), vec![expected.to_owned()], "{text}");
    }

    // Quick replies are templated as plain text; empty ones are dropped.
    let doc = flow(
        json!([{"id": "m", "type": "message", "text": "Pick", "quick_replies": ["{{params.plan}} *plan*", "{{nothing}}"]}]),
        &[],
    );
    let host = Host::new();
    drive(&doc, &mut FlowRun::new(), &ctx(), Event::Start, &host).await.expect("drive");
    assert_eq!(host.calls(), vec![Call::Say("Pick".into(), vec!["pro *plan*".into()])]);
}

// ---------------------------------------------------------------------------------------------
// Handoff, AI answers, thinking, host errors

#[tokio::test]
async fn handoff_ports() {
    let doc = |only: bool| {
        flow(
            json!([{"id": "h", "type": "handoff", "message": "Hold on, {{visitor.name}}", "only_when_online": only}, say("off", "Nobody here")]),
            &[("h", "offline", "off")],
        )
    };
    // (only_when_online, agents online, outcome, calls)
    let cases = [
        (true, false, Outcome::Finished, vec![Call::Online, Call::Say("Nobody here".into(), vec![])]),
        (true, true, Outcome::HandedOff, vec![Call::Online, Call::Handoff(Some("Hold on, Ann".into()))]),
        (false, false, Outcome::HandedOff, vec![Call::Handoff(Some("Hold on, Ann".into()))]),
    ];
    for (only, online, outcome, calls) in cases {
        let host = Host { online, ..Host::new() };
        let mut run = FlowRun::new();
        let out = drive(&doc(only), &mut run, &ctx(), Event::Start, &host).await.expect("drive");
        assert_eq!(out, outcome, "only {only}, online {online}");
        assert_eq!(host.calls(), calls, "only {only}, online {online}");
        assert!(run.is_over());
    }
    // No message: None.
    let doc = flow(json!([{"id": "h", "type": "handoff"}]), &[]);
    let host = Host::new();
    drive(&doc, &mut FlowRun::new(), &ctx(), Event::Start, &host).await.expect("drive");
    assert_eq!(host.calls(), vec![Call::Handoff(None)]);
}

#[tokio::test]
async fn ai_answer_ports_questions_and_thinking() {
    let edges = [("ai", "answered", "yes"), ("ai", "unanswered", "no")];
    let nodes = |question: Value| {
        json!([{"id": "ai", "type": "ai_answer", "question": question, "thinking": "Searching for {{params.plan}}…"},
               say("yes", "answered"), say("no", "unanswered")])
    };
    // (question, event, assistant answers, asked, said)
    let cases = [
        (json!("Price of {{params.plan}}?"), Event::Start, true, Some("Price of pro?"), "answered"),
        (json!(null), msg("how much is it"), false, Some("how much is it"), "unanswered"),
        (json!(""), msg("refunds?"), true, Some("refunds?"), "answered"),
        (json!(null), Event::Start, true, None, "unanswered"),
    ];
    for (question, event, answers, asked, said) in cases {
        let doc = flow(nodes(question.clone()), &edges);
        let host = Host { ai_answers: answers, ..Host::new() };
        let out = drive(&doc, &mut FlowRun::new(), &ctx(), event, &host).await.expect("drive");
        assert_eq!(out, Outcome::Finished);
        let mut expected = vec![Call::Thinking(Some("Searching for pro…".into()))];
        if let Some(q) = asked {
            expected.push(Call::Ai(q.into()));
        }
        expected.push(Call::Thinking(None));
        expected.push(Call::Say(said.into(), vec![]));
        assert_eq!(host.calls(), expected, "{question}");
    }
}

#[tokio::test]
async fn host_errors_propagate_and_thinking_is_cleared() {
    let doc = flow(json!([{"id": "m", "type": "message", "text": "hi", "thinking": "typing"}]), &[]);
    let host = Host { fail_say: true, ..Host::new() };
    let mut run = FlowRun::new();
    let err = drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect_err("say fails");
    assert_eq!(err, FlowError::Host("store down".into()));
    assert_eq!(host.calls(), vec![Call::Thinking(Some("typing".into())), Call::Thinking(None)]);
}

#[tokio::test]
async fn a_fresh_run_ignores_a_timer_and_start_is_ignored_while_waiting() {
    let doc = check(&example()).expect("valid");
    let host = Host::new();
    let mut run = FlowRun::new();
    assert_eq!(
        drive(&doc, &mut run, &ctx(), Event::Timer, &host).await.expect("timer"),
        Outcome::Waiting { due_at: None }
    );
    assert_eq!(run, FlowRun::new());
    assert!(host.calls().is_empty());
    drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("start");
    host.take();
    let before = run.clone();
    let out = drive(&doc, &mut run, &ctx(), Event::Start, &host).await.expect("start again");
    assert_eq!(out, Outcome::Waiting { due_at: before.due_at() });
    assert_eq!(run, before);
    assert!(host.calls().is_empty());
}

#[test]
fn drive_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let doc = check(&example()).expect("valid");
    let mut run = FlowRun::new();
    let host = Host::new();
    let c = ctx();
    assert_send(drive(&doc, &mut run, &c, Event::Start, &host));
}

// ---------------------------------------------------------------------------------------------
// Triggers

#[test]
fn triggers_match() {
    let doc = check(&example()).expect("valid");
    assert!(doc.starts_conversations());
    for (text, expected) in [
        ("Where is my ORDER?", true),
        ("mijn bestelling is kapot", true),
        ("I want to reorder", false),
        ("reorder12345", true),
        ("reorder 123", false),
        ("hello", false),
    ] {
        assert_eq!(doc.matches_message(text), expected, "{text}");
    }
    for (url, expected) in [
        ("https://shop.example/pricing", true),
        ("https://shop.example/pricing/pro?x=1", true),
        ("https://shop.example/", false),
    ] {
        assert_eq!(doc.matches_page(url), expected, "{url}");
    }
    let plain = flow(json!([say("m", "x")]), &[]);
    assert!(
        !plain.starts_conversations() && !plain.matches_message("order") && !plain.matches_page("https://a/pricing")
    );
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Applies `change` to the example and expects exactly one issue at `(node, field)`.
fn expect_issue(change: impl Fn(&mut Value), node: Option<&str>, field: &str) {
    let mut json = example();
    change(&mut json);
    let issues = check(&json).expect_err("should be invalid");
    assert!(
        issues.iter().any(|i| i.node.as_deref() == node && i.field == field),
        "expected an issue at {node:?}/{field}, got {issues:#?}"
    );
}

#[test]
fn validation_points_at_node_and_field() {
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, Option<&str>, &str)> = vec![
        (Box::new(|j| j["schema"] = json!(2)), None, "schema"),
        (Box::new(|j| j["start"] = json!("")), None, "start"),
        (
            Box::new(|j| {
                j.as_object_mut().expect("obj").remove("start");
            }),
            None,
            "start",
        ),
        (Box::new(|j| j["start"] = json!("nowhere")), None, "start"),
        (Box::new(|j| j["nodes"][1]["id"] = json!("greet")), Some("greet"), "id"),
        (Box::new(|j| j["nodes"][1]["id"] = json!("bad id!")), Some("bad id!"), "id"),
        (Box::new(|j| j["nodes"][1]["id"] = json!("x".repeat(65))), Some(&*"x".repeat(65).leak()), "id"),
        (Box::new(|j| j["nodes"][1]["id"] = json!("")), None, "nodes[1].id"),
        (Box::new(|j| j["edges"][0]["to"] = json!("ghost")), Some("greet"), "edges[0].to"),
        (Box::new(|j| j["edges"][0]["from"] = json!("ghost")), None, "edges[0].from"),
        (Box::new(|j| j["edges"][0]["port"] = json!("success")), Some("greet"), "edges[0].port"),
        (Box::new(|j| j["edges"][2]["port"] = json!("choice:other")), Some("topic"), "edges[2].port"),
        (Box::new(|j| j["edges"][3]["port"] = json!("choice:billing")), Some("topic"), "edges[3].port"),
        (Box::new(|j| j["nodes"][1]["variable"] = json!("params")), Some("ask_email"), "variable"),
        (Box::new(|j| j["nodes"][1]["variable"] = json!("visitor")), Some("ask_email"), "variable"),
        (Box::new(|j| j["nodes"][1]["variable"] = json!("2fast")), Some("ask_email"), "variable"),
        (Box::new(|j| j["nodes"][1]["variable"] = json!("")), Some("ask_email"), "variable"),
        (Box::new(|j| j["nodes"][1]["max_retries"] = json!(11)), Some("ask_email"), "max_retries"),
        (Box::new(|j| j["nodes"][1]["max_retries"] = json!("two")), Some("ask_email"), "max_retries"),
        (Box::new(|j| j["nodes"][1]["timeout_secs"] = json!(5)), Some("ask_email"), "timeout_secs"),
        (Box::new(|j| j["nodes"][1]["timeout_secs"] = json!(604_801)), Some("ask_email"), "timeout_secs"),
        (Box::new(|j| j["nodes"][1]["prompt"] = json!(" ")), Some("ask_email"), "prompt"),
        (Box::new(|j| j["nodes"][1]["input"] = json!("colour")), Some("ask_email"), "input"),
        (Box::new(|j| j["nodes"][2]["choices"] = json!([])), Some("topic"), "choices"),
        (Box::new(|j| j["nodes"][2]["choices"][1]["id"] = json!("billing")), Some("topic"), "choices[1].id"),
        (Box::new(|j| j["nodes"][2]["choices"][1]["label"] = json!("")), Some("topic"), "choices[1].label"),
        (Box::new(|j| j["nodes"][2]["choices"][0] = json!({"label": "x"})), Some("topic"), "choices[0].id"),
        (
            Box::new(|j| {
                j["nodes"][2]["choices"] =
                    json!((0..13).map(|i| json!({"id": format!("c{i}"), "label": "x"})).collect::<Vec<_>>())
            }),
            Some("topic"),
            "choices",
        ),
        (Box::new(|j| j["nodes"][0]["text"] = json!("Hi {{visitor.name")), Some("greet"), "text"),
        (Box::new(|j| j["nodes"][0]["text"] = json!("Hi {{visitor name}}")), Some("greet"), "text"),
        (Box::new(|j| j["nodes"][0]["text"] = json!("")), Some("greet"), "text"),
        (Box::new(|j| j["nodes"][0]["type"] = json!("teleport")), Some("greet"), "type"),
        (Box::new(|j| j["nodes"][0]["position"] = json!("left")), Some("greet"), "position"),
        (Box::new(|j| j["triggers"][2]["pattern"] = json!("(unclosed")), None, "triggers[2].pattern"),
        (Box::new(|j| j["triggers"][2]["pattern"] = json!("a".repeat(201))), None, "triggers[2].pattern"),
        (Box::new(|j| j["triggers"][1]["keywords"] = json!([])), None, "triggers[1].keywords"),
        (Box::new(|j| j["triggers"][3]["url"] = json!("")), None, "triggers[3].url"),
        (Box::new(|j| j["variables"][0]["name"] = json!("params")), None, "variables[0].name"),
        (Box::new(|j| j["variables"][0]["name"] = json!("a-b")), None, "variables[0].name"),
        (Box::new(|j| j["variables"] = json!([{"name": "x"}, {"name": "x"}])), None, "variables[1].name"),
    ];
    for (change, node, field) in cases {
        expect_issue(change, node, field);
    }
}

#[test]
fn node_fields_are_validated() {
    // (node, expected field on that node)
    let cases = [
        (json!({"id": "n", "type": "wait", "seconds": 0}), "seconds"),
        (json!({"id": "n", "type": "wait", "seconds": 86_401}), "seconds"),
        (json!({"id": "n", "type": "jump", "target": "ghost"}), "target"),
        (json!({"id": "n", "type": "jump"}), "target"),
        (json!({"id": "n", "type": "set", "variable": "x", "value": {"expr": "1 +"}}), "value.expr"),
        (json!({"id": "n", "type": "set", "variable": "x", "value": {"expr": "system('ls')"}}), "value.expr"),
        (json!({"id": "n", "type": "set", "variable": "x", "value": {"copy": "a..b"}}), "value.copy"),
        (json!({"id": "n", "type": "set", "variable": "visitor", "value": {"literal": 1}}), "variable"),
        (json!({"id": "n", "type": "set", "variable": "x"}), "value"),
        (json!({"id": "n", "type": "set", "variable": "x", "value": {"eval": "1"}}), "value"),
        (json!({"id": "n", "type": "condition", "groups": []}), "groups"),
        (json!({"id": "n", "type": "condition", "groups": [{"rules": []}]}), "groups[0].rules"),
        (
            json!({"id": "n", "type": "condition", "groups": [{"rules": [{"left": "1x", "op": "is_set"}]}]}),
            "groups[0].rules[0].left",
        ),
        (
            json!({"id": "n", "type": "condition", "groups": [{"rules": [{"left": "x", "op": "matches", "right": "(["}]}]}),
            "groups[0].rules[0].right",
        ),
        (
            json!({"id": "n", "type": "condition", "groups": [{"rules": [{"left": "x", "op": "matches", "right": "({{x}}"}]}]}),
            "groups[0].rules[0].right",
        ),
        (
            json!({"id": "n", "type": "condition", "groups": [{"rules": [{"left": "x", "op": "between"}]}]}),
            "groups[0].rules[0].op",
        ),
        (json!({"id": "n", "type": "condition", "groups": [{"rules": [{"left": "x"}]}]}), "groups[0].rules[0].op"),
        (json!({"id": "n", "type": "http", "url": "ftp://example.com/x"}), "url"),
        (json!({"id": "n", "type": "http", "url": "{{params.url}}"}), "url"),
        (json!({"id": "n", "type": "http", "url": "/relative"}), "url"),
        (json!({"id": "n", "type": "http", "url": ""}), "url"),
        (json!({"id": "n", "type": "http", "url": "https://x.example", "method": "TRACE"}), "method"),
        (json!({"id": "n", "type": "http", "url": "https://x.example", "timeout_ms": 50}), "timeout_ms"),
        (json!({"id": "n", "type": "http", "url": "https://x.example", "timeout_ms": 30_001}), "timeout_ms"),
        (
            json!({"id": "n", "type": "http", "url": "https://x.example", "status_variable": "last_message"}),
            "status_variable",
        ),
        (
            json!({"id": "n", "type": "http", "url": "https://x.example", "save": [{"variable": "x", "path": "a..b"}]}),
            "save[0].path",
        ),
        (
            json!({"id": "n", "type": "http", "url": "https://x.example", "save": [{"variable": "params", "path": "a"}]}),
            "save[0].variable",
        ),
        (
            json!({"id": "n", "type": "http", "url": "https://x.example", "headers": {"Bad Name": "x"}}),
            "headers.Bad Name",
        ),
        (json!({"id": "n", "type": "http", "url": "https://x.example", "headers": {"Host": "evil"}}), "headers.Host"),
        (
            json!({"id": "n", "type": "http", "url": "https://x.example", "method": "POST", "body": {"a": ["{{x"]}}),
            "body",
        ),
        (json!({"id": "n", "type": "http", "url": "https://x.example", "body": {"a": 1}}), "body"),
        (
            json!({"id": "n", "type": "ask", "input": "text", "prompt": "?", "variable": "x", "choices": [{"id": "a", "label": "A"}]}),
            "choices",
        ),
        (json!({"id": "n", "type": "ai_answer", "question": "{{oops"}), "question"),
        (json!({"id": "n", "type": "handoff", "message": "{{oops"}), "message"),
        (json!({"id": "n", "type": "message", "text": "hi", "thinking": "{{oops"}), "thinking"),
        (json!({"id": "n", "type": "message", "text": "hi", "quick_replies": [""]}), "quick_replies[0]"),
    ];
    for (node, field) in cases {
        let json = json!({"schema": 1, "start": "n", "nodes": [node]});
        let issues = check(&json).expect_err(&format!("{node} should be invalid"));
        assert!(
            issues.iter().any(|i| i.node.as_deref() == Some("n") && i.field == field),
            "{node}: expected n/{field}, got {issues:#?}"
        );
    }
}

#[test]
fn parse_accepts_unfinished_drafts_that_check_rejects() {
    let json =
        json!({"schema": 1, "start": "", "nodes": [{"id": "m", "type": "message"}, {"id": "j", "type": "jump"}]});
    let doc = parse(&json).expect("well-formed");
    let issues = validate(&doc);
    let at: Vec<(Option<&str>, &str)> = issues.iter().map(|i| (i.node.as_deref(), i.field.as_str())).collect();
    assert_eq!(at, vec![(None, "start"), (Some("m"), "text"), (Some("j"), "target")]);
    assert_eq!(check(&json).expect_err("incomplete"), issues);
}

#[test]
fn valid_nodes_pass() {
    let json = json!({"schema": 1, "start": "h", "nodes": [
        {"id": "h", "type": "http", "method": "POST", "url": "https://{{params.tenant}}.example.com/orders/{{order}}?q={{q}}",
         "headers": {"Authorization": "Bearer {{params.token}}"}, "body": {"id": "{{order}}", "n": 1},
         "timeout_ms": 100, "status_variable": "code", "save": [{"variable": "st", "path": "$.status"}, {"variable": "all", "path": "$"}]},
        {"id": "c", "type": "condition", "match": "any", "groups": [{"match": "all", "rules": [
            {"left": "code", "op": "greater_than", "right": 199}, {"left": "st", "op": "matches", "right": "^{{expected}}$"}]}]},
        {"id": "s", "type": "set", "variable": "n", "value": {"expr": "(code % 100) * -2"}},
        {"id": "w", "type": "wait", "seconds": 86_400},
        {"id": "unreachable-1", "type": "end"}
    ], "edges": [
        {"from": "h", "port": "success", "to": "c"}, {"from": "h", "port": "failure", "to": "c"},
        {"from": "c", "port": "true", "to": "s"}, {"from": "s", "port": "next", "to": "w"}
    ]});
    let doc = check(&json).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(validate(&doc).is_empty());
}

#[test]
fn shape_errors_are_all_reported() {
    let json = json!({"schema": 1, "start": "a", "nodes": [
        {"id": "a", "type": "ask", "max_retries": -1},
        {"id": "b", "type": "wait", "seconds": "soon"},
        {"id": "c", "type": "message", "text": "fine"},
        {"type": "end"}
    ], "edges": [{"from": "a", "to": "b"}]});
    let issues = check(&json).expect_err("invalid");
    let at: Vec<(Option<&str>, &str)> = issues.iter().map(|i| (i.node.as_deref(), i.field.as_str())).collect();
    assert_eq!(
        at,
        vec![(None, "edges[0].port"), (Some("a"), "max_retries"), (Some("b"), "seconds"), (None, "nodes[3].id")],
        "{issues:#?}"
    );
    assert_eq!(parse(&json).expect_err("shape errors are parse errors"), issues);
    assert_eq!(check(&json!([])).expect_err("not an object")[0].field, "");
    assert_eq!(check(&json!({"start": "a"})).expect_err("no schema")[0].field, "schema");
    // Issues serialize as the API's {node, field, message}.
    let issue = serde_json::to_value(&issues[1]).expect("serialize");
    assert_eq!(issue["node"], "a");
    assert_eq!(issue["field"], "max_retries");
    assert!(issue["message"].as_str().is_some_and(|m| !m.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// HTTP: the node against a real local server

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, log.clone()));
            }
        });
        TestServer { addr, seen }
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn serve(mut stream: TcpStream, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let seen = Seen { method, target: target.clone(), headers, body: String::from_utf8_lossy(&body).into_owned() };
    log.lock().expect("lock").push(seen.clone());

    let path = target.split('?').next().unwrap_or_default();
    let (status, content_type, body, extra): (&str, &str, Vec<u8>, &str) = if path.starts_with("/orders/") {
        let json = json!({"status": "shipped", "data": {"items": [{"id": "A-1", "qty": 2}]},
                          "echo": {"method": seen.method, "target": seen.target, "body": seen.body,
                                   "auth": seen.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone())}});
        ("200 OK", "application/json", json.to_string().into_bytes(), "")
    } else if path == "/created" {
        ("201 Created", "application/json", b"{\"id\": 9}".to_vec(), "")
    } else if path == "/fail" {
        ("500 Internal Server Error", "application/json", b"{\"error\": \"boom\"}".to_vec(), "")
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
        ("200 OK", "application/json", b"{}".to_vec(), "")
    } else if path == "/text" {
        ("200 OK", "text/plain", b"hello there".to_vec(), "")
    } else if path == "/big" {
        ("200 OK", "application/json", vec![b' '; MAX_RESPONSE_BYTES + 10], "")
    } else if path == "/redirect" {
        ("302 Found", "text/plain", b"moved".to_vec(), "Location: /orders/1\r\n")
    } else {
        ("404 Not Found", "text/plain", b"no".to_vec(), "")
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

fn http_flow(url: &str, extra: Value) -> FlowDocument {
    let mut node = json!({"id": "h", "type": "http", "url": url, "status_variable": "code", "thinking": "Looking it up…",
        "save": [{"variable": "st", "path": "status"}, {"variable": "first", "path": "$.data.items[0].id"},
                 {"variable": "items", "path": "data.items"}, {"variable": "echo", "path": "$.echo"},
                 {"variable": "whole", "path": "$"}]});
    for (k, v) in extra.as_object().expect("object") {
        node[k] = v.clone();
    }
    flow(
        json!([node, say("ok", "ok {{code}}"), say("ko", "ko {{code | none}}")]),
        &[("h", "success", "ok"), ("h", "failure", "ko")],
    )
}

async fn run_http(doc: &FlowDocument, allow_private: bool) -> (Outcome, FlowRun, Host) {
    let host = Host { executor: Some(HttpExecutor::new(allow_private)), ..Host::new() };
    let mut run = FlowRun::new();
    let mut context = ctx();
    context.params = json!({"token": "s3cr3t", "order": "A 1/2?x=y", "name": "Zoë"});
    let out = drive(doc, &mut run, &context, Event::Start, &host).await.expect("drive");
    (out, run, host)
}

#[tokio::test]
async fn http_success_saves_paths_and_status() {
    let server = TestServer::start().await;
    let doc = http_flow(
        &server.url("/orders/{{params.order}}?q={{params.order}}&lit=a/b"),
        json!({"method": "POST", "headers": {"Authorization": "Bearer {{params.token}}", "X-Name": "{{params.name}}\r\nX-Evil: 1"},
               "body": {"order": "{{params.order}}", "n": 3, "nested": ["{{visitor.name}}"]}}),
    );
    let (out, run, host) = run_http(&doc, true).await;
    assert_eq!(out, Outcome::Finished);
    let v = run.vars();
    assert_eq!(v.get("code"), Some(&json!(200)));
    assert_eq!(v.get("st"), Some(&json!("shipped")));
    assert_eq!(v.get("first"), Some(&json!("A-1")));
    assert_eq!(v.get("items"), Some(&json!([{"id": "A-1", "qty": 2}])));
    assert_eq!(v.get("whole").and_then(|w| w.get("status")), Some(&json!("shipped")));
    // Inserted values are percent-encoded in the URL (no new segments or query), raw in headers and body.
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/orders/A%201%2F2%3Fx%3Dy?q=A%201%2F2%3Fx%3Dy&lit=a/b");
    assert!(seen[0].headers.contains(&("authorization".into(), "Bearer s3cr3t".into())), "{:?}", seen[0].headers);
    assert!(seen[0].headers.contains(&("content-type".into(), "application/json".into())));
    // A line break in a template cannot add a header; non-ASCII text is sent as UTF-8 bytes.
    assert!(!seen[0].headers.iter().any(|(k, _)| k == "x-evil"), "{:?}", seen[0].headers);
    let x_name = seen[0].headers.iter().find(|(k, _)| k == "x-name").map(|(_, v)| v.as_str());
    assert_eq!(x_name, Some("Zoë  X-Evil: 1"));
    let body: Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(body, json!({"order": "A 1/2?x=y", "n": 3, "nested": ["Ann"]}));
    let calls = host.calls();
    assert_eq!(calls.first(), Some(&Call::Thinking(Some("Looking it up…".into()))));
    assert_eq!(calls.get(2), Some(&Call::Thinking(None)));
    assert_eq!(host.said(), vec!["ok 200"]);
    let Some(Call::Http(call)) = calls.get(1) else { panic!("expected the http call: {calls:?}") };
    assert_eq!(call.timeout, Duration::from_millis(5000));
}

#[tokio::test]
async fn http_2xx_and_text_bodies() {
    let server = TestServer::start().await;
    let (out, run, _) = run_http(&http_flow(&server.url("/created"), json!({})), true).await;
    assert_eq!(out, Outcome::Finished);
    assert_eq!(run.vars().get("code"), Some(&json!(201)));
    assert_eq!(run.vars().get("whole"), Some(&json!({"id": 9})));
    assert_eq!(run.vars().get("st"), None, "a missing path is unset");

    let (_, run, host) = run_http(&http_flow(&server.url("/text"), json!({})), true).await;
    assert_eq!(run.vars().get("whole"), Some(&json!("hello there")), "non-JSON becomes a string");
    assert_eq!(host.said(), vec!["ok 200"]);
}

#[tokio::test]
async fn http_failures_take_the_failure_port() {
    let server = TestServer::start().await;
    let refused_port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    // (url, extra, status variable, said, error contains)
    let cases = [
        (server.url("/fail"), json!({}), Some(json!(500)), "ko 500", None),
        (server.url("/redirect"), json!({}), Some(json!(302)), "ko 302", None),
        (server.url("/missing"), json!({}), Some(json!(404)), "ko 404", None),
        (server.url("/slow"), json!({"timeout_ms": 300}), None, "ko none", Some("timed out")),
        (format!("http://127.0.0.1:{refused_port}/x"), json!({}), None, "ko none", Some("refused")),
        (server.url("/big"), json!({}), Some(json!(200)), "ko 200", Some("1 MiB")),
    ];
    for (url, extra, code, said, error) in cases {
        let started = std::time::Instant::now();
        let doc = http_flow(&url, extra);
        let (out, run, host) = run_http(&doc, true).await;
        assert_eq!(out, Outcome::Finished, "{url}");
        assert_eq!(run.vars().get("code"), code.as_ref(), "{url}");
        assert_eq!(run.vars().get("st"), None, "nothing saved on failure: {url}");
        assert_eq!(host.said(), vec![said.to_owned()], "{url}");
        assert!(started.elapsed() < Duration::from_secs(2), "{url} took {:?}", started.elapsed());
        if let Some(expected) = error {
            let outcome = HttpExecutor::new(true)
                .execute(HttpCall {
                    method: "GET".into(),
                    url: url.clone(),
                    headers: vec![],
                    body: None,
                    timeout: Duration::from_millis(300),
                })
                .await;
            let message = outcome.error.unwrap_or_default();
            assert!(message.to_lowercase().contains(&expected.to_lowercase()), "{url}: {message}");
        }
    }
    // The redirect was not followed.
    assert!(server.seen().iter().all(|s| s.target != "/orders/1"));
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let server = TestServer::start().await;
    let port = server.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/orders/1"),
        format!("http://localhost:{port}/orders/1"),
        format!("http://[::1]:{port}/orders/1"),
        format!("http://[::ffff:127.0.0.1]:{port}/orders/1"),
        format!("http://0x7f.1:{port}/orders/1"),
        "http://10.1.2.3/orders/1".to_owned(),
        "http://192.168.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let outcome = HttpExecutor::new(false)
            .execute(HttpCall {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![],
                body: None,
                timeout: Duration::from_secs(2),
            })
            .await;
        assert_eq!(outcome.status, None, "{url}");
        let error = outcome.error.unwrap_or_default();
        assert!(error.starts_with("refused"), "{url}: {error}");
    }
    assert!(server.seen().is_empty(), "nothing reached the server");

    // Through the node: the failure port, no status.
    let (out, run, host) = run_http(&http_flow(&server.url("/orders/1"), json!({})), false).await;
    assert_eq!(out, Outcome::Finished);
    assert_eq!(run.vars().get("code"), None);
    assert_eq!(host.said(), vec!["ko none"]);
    assert!(server.seen().is_empty());

    // The same server is reachable when the operator allows private addresses.
    let (_, run, _) = run_http(&http_flow(&server.url("/orders/1"), json!({})), true).await;
    assert_eq!(run.vars().get("code"), Some(&json!(200)));
}

#[tokio::test]
async fn non_http_urls_never_reach_the_host() {
    // The URL is only known after templating: a value cannot turn it into another scheme.
    let doc = http_flow("http://{{params.host}}/x", json!({}));
    let host = Host { http: Some(HttpOutcome { status: Some(200), body: None, error: None }), ..Host::new() };
    let mut run = FlowRun::new();
    let mut context = ctx();
    context.params = json!({"host": "a b"});
    drive(&doc, &mut run, &context, Event::Start, &host).await.expect("drive");
    assert!(!host.calls().iter().any(|c| matches!(c, Call::Http(_))), "{:?}", host.calls());
    assert_eq!(host.said(), vec!["ko none"]);

    let outcome = HttpExecutor::new(true)
        .execute(HttpCall {
            method: "GET".into(),
            url: "file:///etc/passwd".into(),
            headers: vec![],
            body: None,
            timeout: Duration::from_secs(1),
        })
        .await;
    assert!(outcome.error.is_some_and(|e| e.contains("http")));
}

#[path = "flows/sanitizer.rs"]
mod sanitizer;
