//! The interpreter: runs a scenario from a run's position for one external event.
//!
//! The engine holds no clock and no I/O: time comes in `Context::now`, effects go through the
//! [`FlowHost`] port, and everything it needs later is in the serializable [`FlowRun`], so a
//! restart (or another server) resumes a run exactly.

use async_trait::async_trait;
use frontdesk_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::{HttpCall, HttpOutcome};
use crate::input::{self, ChoiceOption};
use crate::path::{self, LAST_MESSAGE, Segment};
use crate::schema::*;
use crate::template::{self, Escape, Lookup};
use crate::{FlowError, MAX_STEPS, expr, pattern};

/// What the page and the visitor bring; `now` is the only source of time.
#[derive(Clone, Debug)]
pub struct Context {
    pub params: Value,
    pub visitor: VisitorVars,
    pub now: Timestamp,
}

#[derive(Default, Clone, Debug)]
pub struct VisitorVars {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Only visible to scenarios when `verified`.
    pub user_id: Option<String>,
    pub verified: bool,
}

impl VisitorVars {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(name) = &self.name {
            map.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(email) = &self.email {
            map.insert("email".into(), Value::String(email.clone()));
        }
        if let (Some(id), true) = (&self.user_id, self.verified) {
            map.insert("user_id".into(), Value::String(id.clone()));
        }
        map.insert("verified".into(), Value::Bool(self.verified));
        Value::Object(map)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The scenario was triggered (a new conversation, a matching page).
    Start,
    /// The visitor wrote.
    Message { text: String },
    /// The server's clock passed `run.due_at()`.
    Timer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Waiting { due_at: Option<Timestamp> },
    Finished,
    HandedOff,
    Failed { error: String },
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Not started yet.
    #[default]
    New,
    /// Between two waits; only seen if a host call failed part-way through an event.
    Running,
    /// An `ask` node waits for the visitor's answer (and maybe for its timeout).
    WaitingInput,
    /// A `wait` node sleeps until `due_at`.
    WaitingTimer,
    Finished,
    HandedOff,
    Failed,
}

/// One conversation's position in a scenario. Stored with the conversation between events.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FlowRun {
    #[serde(default)]
    status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(default)]
    vars: Map<String, Value>,
    /// Invalid answers to the current question so far.
    #[serde(default)]
    retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Steps over the run's whole life (the limit applies per event).
    #[serde(default)]
    steps: u64,
}

impl FlowRun {
    pub fn new() -> Self {
        Self::default()
    }
    /// When the server should deliver `Event::Timer` (a `wait`, or an `ask` with a timeout).
    pub fn due_at(&self) -> Option<Timestamp> {
        self.due_at
    }
    /// Finished, handed off or failed: further events change nothing.
    pub fn is_over(&self) -> bool {
        matches!(self.status, RunStatus::Finished | RunStatus::HandedOff | RunStatus::Failed)
    }
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }
    pub fn current_node(&self) -> Option<&str> {
        self.node.as_deref()
    }
    pub fn status(&self) -> RunStatus {
        self.status
    }
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    pub fn retries(&self) -> u32 {
        self.retries
    }
    pub fn total_steps(&self) -> u64 {
        self.steps
    }

    fn outcome_if_over(&self) -> Option<Outcome> {
        match self.status {
            RunStatus::Finished => Some(Outcome::Finished),
            RunStatus::HandedOff => Some(Outcome::HandedOff),
            RunStatus::Failed => Some(Outcome::Failed { error: self.error.clone().unwrap_or_default() }),
            _ => None,
        }
    }
}

/// The effects a scenario has, performed by the server (or the editor's simulator).
#[async_trait]
pub trait FlowHost: Send + Sync {
    /// Posts a bot message: Markdown already templated, inserted values escaped.
    async fn say(&self, markdown: String, quick_replies: Vec<String>) -> Result<(), FlowError>;
    /// `Some(text)` before a node with `thinking` works, `None` after.
    async fn thinking(&self, stage: Option<String>);
    async fn http(&self, call: HttpCall) -> HttpOutcome;
    /// The host posts the answer itself. `true`: answered, `false`: the assistant declined.
    async fn ai_answer(&self, question: &str) -> Result<bool, FlowError>;
    async fn agents_online(&self) -> bool;
    async fn handoff(&self, message: Option<String>) -> Result<(), FlowError>;
}

/// Runs the scenario from the run's current position for one external event until it waits,
/// ends, hands off or fails. `Err` only when the host fails; the run may then have advanced
/// part-way, so the caller should keep the copy it stored before the event.
pub async fn drive(
    doc: &FlowDocument,
    run: &mut FlowRun,
    ctx: &Context,
    event: Event,
    host: &dyn FlowHost,
) -> Result<Outcome, FlowError> {
    Engine { doc, run, ctx, host, steps: 0 }.drive(event).await
}

/// Where the engine goes next.
enum Next {
    /// Follow the current node's port (no edge: the scenario ends).
    Port(&'static str),
    /// A choice's port, or `next` when it has no edge.
    Choice(String),
    Goto(String),
    Wait(Option<Timestamp>),
    Finish,
    HandOff,
    Fail(String),
}

struct Engine<'a> {
    doc: &'a FlowDocument,
    run: &'a mut FlowRun,
    ctx: &'a Context,
    host: &'a dyn FlowHost,
    steps: u32,
}

struct Scope<'a> {
    ctx: &'a Context,
    vars: &'a Map<String, Value>,
}

impl Lookup for Scope<'_> {
    fn lookup(&self, path: &[Segment]) -> Option<Value> {
        let (Segment::Key(root), rest) = path.split_first()? else { return None };
        match root.as_str() {
            "params" => path::get(&self.ctx.params, rest).cloned(),
            "visitor" => path::get(&self.ctx.visitor.to_json(), rest).cloned(),
            name => path::get(self.vars.get(name)?, rest).cloned(),
        }
    }
}

impl Engine<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope { ctx: self.ctx, vars: &self.run.vars }
    }

    fn render(&self, text: &str, escape: Escape) -> String {
        template::render(text, escape, &self.scope())
    }

    fn lookup(&self, text: &str) -> Option<Value> {
        path::parse_var_path(text).and_then(|p| self.scope().lookup(&p))
    }

    fn store(&mut self, name: &str, value: Option<Value>) {
        match value {
            Some(v) if !v.is_null() => {
                self.run.vars.insert(name.to_owned(), v);
            }
            _ => {
                self.run.vars.remove(name);
            }
        }
    }

    /// Counts one node execution; `false` when this event has used up its steps.
    fn step(&mut self) -> bool {
        if self.steps >= MAX_STEPS {
            return false;
        }
        self.steps += 1;
        self.run.steps += 1;
        true
    }

    /// A timer acts only once the server's clock has reached `due_at`.
    fn is_due(&self) -> bool {
        self.run.due_at.is_some_and(|due| due <= self.ctx.now)
    }

    fn waiting(&self) -> Outcome {
        Outcome::Waiting { due_at: self.run.due_at }
    }

    async fn drive(mut self, event: Event) -> Result<Outcome, FlowError> {
        let doc = self.doc;
        if let Some(outcome) = self.run.outcome_if_over() {
            return Ok(outcome);
        }
        let mut next = match self.run.status {
            RunStatus::New => {
                if event == Event::Timer {
                    return Ok(Outcome::Waiting { due_at: None });
                }
                for var in &doc.variables {
                    if let Some(default) = &var.default {
                        self.store(&var.name, Some(default.clone()));
                    }
                }
                // A scenario started by a keyword sees the message that triggered it.
                if let Event::Message { text } = &event {
                    self.run.vars.insert(LAST_MESSAGE.to_owned(), Value::String(text.clone()));
                }
                Next::Goto(doc.start.clone())
            }
            RunStatus::Running => Next::Fail("the run was interrupted part-way through a step".to_owned()),
            RunStatus::WaitingInput => match event {
                Event::Start => return Ok(self.waiting()),
                Event::Message { text } => {
                    self.run.vars.insert(LAST_MESSAGE.to_owned(), Value::String(text.clone()));
                    if !self.step() {
                        return Ok(self.fail(step_limit()));
                    }
                    self.answer(&text).await?
                }
                Event::Timer => {
                    if !self.is_due() {
                        return Ok(self.waiting());
                    }
                    if !self.step() {
                        return Ok(self.fail(step_limit()));
                    }
                    self.run.retries = 0;
                    Next::Port("timeout")
                }
            },
            RunStatus::WaitingTimer => match event {
                Event::Start => return Ok(self.waiting()),
                Event::Message { text } => {
                    // The run keeps sleeping; the message is still the latest one.
                    self.run.vars.insert(LAST_MESSAGE.to_owned(), Value::String(text));
                    return Ok(self.waiting());
                }
                Event::Timer => {
                    if !self.is_due() {
                        return Ok(self.waiting());
                    }
                    if !self.step() {
                        return Ok(self.fail(step_limit()));
                    }
                    Next::Port("next")
                }
            },
            RunStatus::Finished | RunStatus::HandedOff | RunStatus::Failed => unreachable_over(),
        };
        if !matches!(next, Next::Wait(_)) {
            self.run.status = RunStatus::Running;
            self.run.due_at = None;
        }
        loop {
            next = match next {
                Next::Port(port) => self.follow(port),
                Next::Choice(id) => {
                    let port = format!("choice:{id}");
                    match self.run.node.as_deref().and_then(|from| doc.edge_target(from, &port)) {
                        Some(to) => Next::Goto(to.to_owned()),
                        None => self.follow("next"),
                    }
                }
                Next::Goto(id) => {
                    if !self.step() {
                        return Ok(self.fail(step_limit()));
                    }
                    let Some(node) = doc.node(&id) else {
                        return Ok(self.fail(format!("the node `{id}` does not exist")));
                    };
                    self.run.node = Some(id);
                    self.enter(node).await?
                }
                Next::Wait(due_at) => return Ok(Outcome::Waiting { due_at }),
                Next::Finish => {
                    self.run.status = RunStatus::Finished;
                    return Ok(Outcome::Finished);
                }
                Next::HandOff => {
                    self.run.status = RunStatus::HandedOff;
                    return Ok(Outcome::HandedOff);
                }
                Next::Fail(error) => return Ok(self.fail(error)),
            };
        }
    }

    fn fail(&mut self, error: String) -> Outcome {
        self.run.status = RunStatus::Failed;
        self.run.due_at = None;
        self.run.error = Some(error.clone());
        Outcome::Failed { error }
    }

    fn follow(&self, port: &str) -> Next {
        match self.run.node.as_deref().and_then(|from| self.doc.edge_target(from, port)) {
            Some(to) => Next::Goto(to.to_owned()),
            None => Next::Finish,
        }
    }

    async fn enter(&mut self, node: &Node) -> Result<Next, FlowError> {
        if let Some(thinking) = &node.thinking {
            let stage = self.render(thinking, Escape::Raw);
            self.host.thinking(Some(stage)).await;
        }
        let result = self.work(node).await;
        // Cleared even when the node failed, so the widget does not keep "thinking".
        if node.thinking.is_some() {
            self.host.thinking(None).await;
        }
        result
    }

    async fn work(&mut self, node: &Node) -> Result<Next, FlowError> {
        Ok(match &node.kind {
            NodeKind::Message(m) => {
                let text = self.render(&m.text, Escape::Markdown);
                let replies: Vec<String> = m
                    .quick_replies
                    .iter()
                    .map(|r| self.render(r, Escape::Raw).trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect();
                if !text.trim().is_empty() {
                    self.host.say(text, replies).await?;
                }
                Next::Port("next")
            }
            NodeKind::Ask(a) => {
                self.run.retries = 0;
                self.prompt(a).await?
            }
            NodeKind::Condition(c) => {
                let rule_group = |g: &RuleGroup| combine(g.match_mode, g.rules.iter().map(|r| self.rule(r)));
                let holds = combine(c.match_mode, c.groups.iter().map(rule_group));
                Next::Port(if holds { "true" } else { "false" })
            }
            NodeKind::Set(s) => {
                let value = match &s.value {
                    SetValue::Literal(v) => Some(v.clone()),
                    SetValue::Copy(p) => self.lookup(p),
                    SetValue::Expr(e) => match expr::parse(e) {
                        Ok(parsed) => {
                            let scope = self.scope();
                            let var = |p: &[Segment]| scope.lookup(p).as_ref().and_then(as_number).unwrap_or(0.0);
                            expr::eval(&parsed, &var).and_then(input::number_value)
                        }
                        Err(problem) => return Ok(Next::Fail(format!("node `{}`: {problem}", node.id))),
                    },
                };
                self.store(&s.variable, value);
                Next::Port("next")
            }
            NodeKind::Http(h) => self.http(h).await,
            NodeKind::AiAnswer(a) => {
                let question = a
                    .question
                    .as_deref()
                    .map(|q| self.render(q, Escape::Raw))
                    .filter(|q| !q.trim().is_empty())
                    .or_else(|| self.lookup(LAST_MESSAGE).map(|v| template::text_of(&v)))
                    .filter(|q| !q.trim().is_empty());
                let answered = match question {
                    Some(q) => self.host.ai_answer(&q).await?,
                    None => false,
                };
                Next::Port(if answered { "answered" } else { "unanswered" })
            }
            NodeKind::Handoff(h) => {
                if h.only_when_online && !self.host.agents_online().await {
                    Next::Port("offline")
                } else {
                    let message =
                        h.message.as_deref().map(|m| self.render(m, Escape::Markdown)).filter(|m| !m.trim().is_empty());
                    self.host.handoff(message).await?;
                    Next::HandOff
                }
            }
            NodeKind::Wait(w) => {
                let seconds = i64::try_from(w.seconds.max(1)).unwrap_or(i64::MAX);
                let due = self.ctx.now.plus_seconds(seconds);
                self.run.status = RunStatus::WaitingTimer;
                self.run.due_at = Some(due);
                Next::Wait(Some(due))
            }
            NodeKind::Jump(j) => Next::Goto(j.target.clone()),
            NodeKind::End(_) => Next::Finish,
        })
    }

    fn choice_options<'n>(&self, a: &'n AskNode) -> Vec<ChoiceOption<'n>> {
        a.choices.iter().map(|c| ChoiceOption { id: &c.id, label: self.render(&c.label, Escape::Raw) }).collect()
    }

    /// Sends the question and waits for the answer (and for the timeout, if any).
    async fn prompt(&mut self, a: &AskNode) -> Result<Next, FlowError> {
        let text = self.render(&a.prompt, Escape::Markdown);
        let replies = if a.input == InputKind::Choice {
            self.choice_options(a).into_iter().map(|c| c.label).collect()
        } else {
            Vec::new()
        };
        self.host.say(text, replies).await?;
        let due = a.timeout_secs.map(|s| self.ctx.now.plus_seconds(i64::try_from(s).unwrap_or(i64::MAX)));
        self.run.status = RunStatus::WaitingInput;
        self.run.due_at = due;
        Ok(Next::Wait(due))
    }

    async fn answer(&mut self, text: &str) -> Result<Next, FlowError> {
        let doc = self.doc;
        let Some(node) = self.run.node.as_deref().and_then(|id| doc.node(id)) else {
            return Ok(Next::Fail("the run waits on a node that does not exist".to_owned()));
        };
        let NodeKind::Ask(a) = &node.kind else {
            return Ok(Next::Fail(format!("the run waits for an answer on `{}`, which is not a question", node.id)));
        };
        let accepted = input::accept(a.input, text, &self.choice_options(a));
        match accepted {
            Some(value) => {
                self.run.retries = 0;
                let choice = (a.input == InputKind::Choice).then(|| template::text_of(&value));
                self.store(&a.variable, Some(value));
                Ok(match choice {
                    Some(id) => Next::Choice(id),
                    None => Next::Port("next"),
                })
            }
            None => {
                self.run.retries += 1;
                if self.run.retries > a.max_retries {
                    self.run.retries = 0;
                    return Ok(Next::Port("invalid"));
                }
                if let Some(retry) = a.retry_message.as_deref().filter(|r| !r.trim().is_empty()) {
                    let retry = self.render(retry, Escape::Markdown);
                    self.host.say(retry, Vec::new()).await?;
                }
                let retries = self.run.retries;
                let next = self.prompt(a).await?;
                self.run.retries = retries;
                Ok(next)
            }
        }
    }

    fn rule(&self, rule: &Rule) -> bool {
        let left = self.lookup(&rule.left);
        let is_set = left.as_ref().is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        let left = left.as_ref().map(template::text_of).unwrap_or_default();
        let right = || self.render(&rule.right, Escape::Raw);
        match rule.op {
            Op::IsSet => is_set,
            Op::IsNotSet => !is_set,
            Op::Equals => loosely_equal(&left, &right()),
            Op::NotEquals => !loosely_equal(&left, &right()),
            Op::Contains => left.to_lowercase().contains(&right().to_lowercase()),
            // Values inserted into a regex match literally: a visitor cannot inject a pattern.
            Op::Matches => {
                pattern::regex(&self.render(&rule.right, Escape::Regex)).is_some_and(|re| re.is_match(&left))
            }
            Op::GreaterThan => compare(&left, &right()).is_some_and(|o| o.is_gt()),
            Op::LessThan => compare(&left, &right()).is_some_and(|o| o.is_lt()),
        }
    }

    async fn http(&mut self, h: &HttpNode) -> Next {
        let url = self.render(&h.url, Escape::Url);
        let headers = h
            .headers
            .iter()
            // A value with a line break could smuggle in another header.
            .map(|(k, v)| (k.clone(), self.render(v, Escape::Raw).replace(['\r', '\n'], " ")))
            .collect();
        let body = h.body.as_ref().map(|b| self.render_json(b));
        let outcome = match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let timeout = std::time::Duration::from_millis(h.timeout_ms.clamp(100, 30_000));
                let call = HttpCall { method: h.method.as_str().to_owned(), url, headers, body, timeout };
                self.host.http(call).await
            }
            _ => HttpOutcome { status: None, body: None, error: Some(format!("`{url}` is not an http(s) URL")) },
        };
        let success = outcome.error.is_none() && outcome.status.is_some_and(|s| (200..300).contains(&s));
        if let Some(var) = &h.status_variable {
            self.store(var, outcome.status.map(Value::from));
        }
        if success {
            for save in &h.save {
                let value = path::parse_json_path(&save.path)
                    .and_then(|p| outcome.body.as_ref().and_then(|b| path::get(b, &p)))
                    .cloned();
                self.store(&save.variable, value);
            }
        }
        Next::Port(if success { "success" } else { "failure" })
    }

    /// Templates every string in a JSON body (raw: it is data, not Markdown).
    fn render_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.render(s, Escape::Raw)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.render_json(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.render_json(v))).collect()),
            other => other.clone(),
        }
    }
}

fn step_limit() -> String {
    format!("step limit: more than {MAX_STEPS} steps for one event (a loop in the scenario?)")
}

fn unreachable_over() -> Next {
    // `outcome_if_over` returned early for these; kept total without panicking.
    Next::Finish
}

fn combine(mode: MatchMode, mut results: impl Iterator<Item = bool>) -> bool {
    match mode {
        MatchMode::All => results.all(|r| r),
        MatchMode::Any => results.any(|r| r),
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => input::parse_number(s),
        _ => None,
    }
}

/// Numbers compare as numbers ("1.0" equals "1"); other text ignoring case and outer spaces.
fn loosely_equal(left: &str, right: &str) -> bool {
    match (input::parse_number(left), input::parse_number(right)) {
        (Some(l), Some(r)) => l == r,
        _ => left.trim().to_lowercase() == right.trim().to_lowercase(),
    }
}

fn compare(left: &str, right: &str) -> Option<std::cmp::Ordering> {
    input::parse_number(left)?.partial_cmp(&input::parse_number(right)?)
}
