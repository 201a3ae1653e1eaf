//! Parsing with precise errors, and the checks a document must pass before it is published.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::{self, writable_var_problem};
use crate::schema::*;
use crate::{SCHEMA_VERSION, expr, pattern, template};

/// One problem, pointing at the node (`None`: document level) and the field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FlowIssue {
    pub node: Option<String>,
    pub field: String,
    pub message: String,
}

impl FlowIssue {
    fn new(node: Option<&str>, field: impl Into<String>, message: impl Into<String>) -> Self {
        FlowIssue { node: node.map(str::to_owned), field: field.into(), message: message.into() }
    }
}

/// Only parses: shape errors (wrong types, unknown node types) as issues, nothing else checked.
/// For a host that wants to store an unfinished draft and show `validate`'s issues beside it.
pub fn parse(json: &Value) -> Result<FlowDocument, Vec<FlowIssue>> {
    serde_path_to_error::deserialize::<_, FlowDocument>(json).map_err(|whole| {
        let mut issues = shape_issues(json);
        if issues.is_empty() {
            let field = whole.path().to_string();
            issues.push(FlowIssue::new(None, clean_path(&field), whole.inner().to_string()));
        }
        issues
    })
}

/// Parses and validates. Shape errors (a wrong type, an unknown node type) are reported per
/// node and field, as many as can be found at once.
pub fn check(json: &Value) -> Result<FlowDocument, Vec<FlowIssue>> {
    let doc = parse(json)?;
    let issues = validate(&doc);
    if issues.is_empty() { Ok(doc) } else { Err(issues) }
}

fn clean_path(path: &str) -> String {
    if path == "." { String::new() } else { path.to_owned() }
}

/// Deserializes one part; on failure the field path (`prefix` + serde's path, or the missing
/// field's name) and the message.
fn part<T: DeserializeOwned>(value: &Value, prefix: &str) -> Option<(String, String)> {
    let err = serde_path_to_error::deserialize::<_, T>(value).err()?;
    let message = err.inner().to_string();
    let mut field = clean_path(&err.path().to_string());
    // "missing field `prompt`" names the field only in its message.
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        field = if field.is_empty() { name.to_owned() } else { format!("{field}.{name}") };
    }
    let field = match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field,
        (false, true) => prefix.to_owned(),
        (false, false) if field.starts_with('[') => format!("{prefix}{field}"),
        (false, false) => format!("{prefix}.{field}"),
    };
    Some((field, message))
}

fn shape_issues(json: &Value) -> Vec<FlowIssue> {
    let mut issues = Vec::new();
    let Some(obj) = json.as_object() else {
        issues.push(FlowIssue::new(None, "", "a scenario is a JSON object"));
        return issues;
    };
    if let Some(v) = obj.get("schema") {
        if let Some((f, m)) = part::<u32>(v, "schema") {
            issues.push(FlowIssue::new(None, f, m));
        }
    } else {
        issues.push(FlowIssue::new(None, "schema", "missing field `schema`"));
    }
    if let Some((f, m)) = obj.get("start").and_then(|v| part::<String>(v, "start")) {
        issues.push(FlowIssue::new(None, f, m));
    }
    for (key, check_item) in [
        ("triggers", part::<Trigger> as fn(&Value, &str) -> Option<(String, String)>),
        ("variables", part::<VariableDecl>),
        ("edges", part::<Edge>),
    ] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some((f, m)) = check_item(item, &format!("{key}[{i}]")) {
                        issues.push(FlowIssue::new(None, f, m));
                    }
                }
            }
            Some(_) => issues.push(FlowIssue::new(None, key, "expected a list")),
        }
    }
    match obj.get("nodes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(nodes)) => {
            for (i, node) in nodes.iter().enumerate() {
                issues.extend(node_shape_issue(i, node));
            }
        }
        Some(_) => issues.push(FlowIssue::new(None, "nodes", "expected a list")),
    }
    issues
}

fn node_shape_issue(index: usize, node: &Value) -> Option<FlowIssue> {
    let at = format!("nodes[{index}]");
    let Some(obj) = node.as_object() else {
        return Some(FlowIssue::new(None, at, "a node is a JSON object"));
    };
    let id = match obj.get("id") {
        Some(Value::String(id)) => id.as_str(),
        _ => return Some(FlowIssue::new(None, format!("{at}.id"), "a node needs a string `id`")),
    };
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some(kind) => kind,
        None => return Some(FlowIssue::new(Some(id), "type", "a node needs a `type`")),
    };
    let problem = match kind {
        "message" => part::<MessageNode>(node, ""),
        "ask" => part::<AskNode>(node, ""),
        "condition" => part::<ConditionNode>(node, ""),
        "set" => part::<SetNode>(node, ""),
        "http" => part::<HttpNode>(node, ""),
        "ai_answer" => part::<AiAnswerNode>(node, ""),
        "handoff" => part::<HandoffNode>(node, ""),
        "wait" => part::<WaitNode>(node, ""),
        "jump" => part::<JumpNode>(node, ""),
        "end" => part::<EndNode>(node, ""),
        other => Some(("type".to_owned(), format!("unknown node type `{other}`"))),
    }
    .or_else(|| obj.get("position").and_then(|p| part::<Option<Position>>(p, "position")))
    .or_else(|| obj.get("thinking").and_then(|t| part::<Option<String>>(t, "thinking")))?;
    Some(FlowIssue::new(Some(id), problem.0, problem.1))
}

/// Everything that would make the scenario misbehave. Unreachable nodes are allowed (drafts
/// keep spare parts around).
pub fn validate(doc: &FlowDocument) -> Vec<FlowIssue> {
    let mut v = Validator { issues: Vec::new() };
    v.document(doc);
    v.issues
}

struct Validator {
    issues: Vec<FlowIssue>,
}

const MAX_ID_CHARS: usize = 64;

fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("an id is required".to_owned())
    } else if id.chars().count() > MAX_ID_CHARS {
        Some(format!("an id has at most {MAX_ID_CHARS} characters"))
    } else if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Some("an id may contain only letters, digits, `_` and `-`".to_owned())
    } else {
        None
    }
}

impl Validator {
    fn push(&mut self, node: Option<&str>, field: impl Into<String>, message: impl Into<String>) {
        self.issues.push(FlowIssue::new(node, field, message));
    }

    fn template(&mut self, node: Option<&str>, field: &str, text: &str) {
        if let Some(problem) = template::problem(text) {
            self.push(node, field, problem);
        }
    }

    fn writable(&mut self, node: Option<&str>, field: &str, name: &str) {
        if let Some(problem) = writable_var_problem(name) {
            self.push(node, field, problem);
        }
    }

    fn range(&mut self, node: &str, field: &str, value: u64, min: u64, max: u64) {
        if !(min..=max).contains(&value) {
            self.push(Some(node), field, format!("must be between {min} and {max}"));
        }
    }

    fn document(&mut self, doc: &FlowDocument) {
        if doc.schema != SCHEMA_VERSION {
            self.push(None, "schema", format!("unsupported schema {} (expected {SCHEMA_VERSION})", doc.schema));
        }
        let mut ids: HashMap<&str, &Node> = HashMap::new();
        for (i, node) in doc.nodes.iter().enumerate() {
            if let Some(problem) = id_problem(&node.id) {
                let at = (!node.id.is_empty()).then_some(node.id.as_str());
                let field = if at.is_some() { "id".to_owned() } else { format!("nodes[{i}].id") };
                self.push(at, field, problem);
            } else if ids.insert(&node.id, node).is_some() {
                self.push(Some(&node.id), "id", format!("the id `{}` is used by more than one node", node.id));
            }
        }
        if doc.start.is_empty() {
            self.push(None, "start", "the scenario has no start node");
        } else if !ids.contains_key(doc.start.as_str()) {
            self.push(None, "start", format!("the start node `{}` does not exist", doc.start));
        }
        self.triggers(&doc.triggers);
        let mut declared = HashSet::new();
        for (i, var) in doc.variables.iter().enumerate() {
            let field = format!("variables[{i}].name");
            self.writable(None, &field, &var.name);
            if !declared.insert(var.name.as_str()) {
                self.push(None, field, format!("`{}` is declared twice", var.name));
            }
        }
        for node in &doc.nodes {
            self.node(node, &ids);
        }
        self.edges(doc, &ids);
    }

    fn triggers(&mut self, triggers: &[Trigger]) {
        for (i, trigger) in triggers.iter().enumerate() {
            match trigger {
                Trigger::ConversationStart => {}
                Trigger::Keyword { keywords } => {
                    if keywords.iter().all(|k| k.trim().is_empty()) {
                        self.push(None, format!("triggers[{i}].keywords"), "add at least one keyword");
                    }
                }
                Trigger::Pattern { pattern: p } => {
                    let field = format!("triggers[{i}].pattern");
                    if p.is_empty() {
                        self.push(None, field, "a pattern is required");
                    } else if p.chars().count() > pattern::MAX_PATTERN_CHARS {
                        self.push(None, field, format!("at most {} characters", pattern::MAX_PATTERN_CHARS));
                    } else if let Err(e) = pattern::compile(p) {
                        self.push(None, field, format!("invalid regular expression: {e}"));
                    }
                }
                Trigger::Page { url } => {
                    if url.trim().is_empty() {
                        self.push(None, format!("triggers[{i}].url"), "a URL pattern is required");
                    }
                }
            }
        }
    }

    fn node(&mut self, node: &Node, ids: &HashMap<&str, &Node>) {
        let id = Some(node.id.as_str());
        if let Some(thinking) = &node.thinking {
            self.template(id, "thinking", thinking);
        }
        match &node.kind {
            NodeKind::Message(m) => {
                if m.text.trim().is_empty() {
                    self.push(id, "text", "the message is empty");
                }
                self.template(id, "text", &m.text);
                for (i, reply) in m.quick_replies.iter().enumerate() {
                    let field = format!("quick_replies[{i}]");
                    if reply.trim().is_empty() {
                        self.push(id, &field, "a quick reply is empty");
                    }
                    self.template(id, &field, reply);
                }
            }
            NodeKind::Ask(a) => self.ask(&node.id, a),
            NodeKind::Condition(c) => self.condition(&node.id, c),
            NodeKind::Set(s) => {
                self.writable(id, "variable", &s.variable);
                match &s.value {
                    SetValue::Literal(_) => {}
                    SetValue::Copy(p) => {
                        if path::parse_var_path(p).is_none() {
                            self.push(id, "value.copy", format!("`{p}` is not a variable path"));
                        }
                    }
                    SetValue::Expr(e) => {
                        if let Err(problem) = expr::parse(e) {
                            self.push(id, "value.expr", problem);
                        }
                    }
                }
            }
            NodeKind::Http(h) => self.http(&node.id, h),
            NodeKind::AiAnswer(a) => {
                if let Some(q) = &a.question {
                    self.template(id, "question", q);
                }
            }
            NodeKind::Handoff(h) => {
                if let Some(m) = &h.message {
                    self.template(id, "message", m);
                }
            }
            NodeKind::Wait(w) => self.range(&node.id, "seconds", w.seconds, 1, 86_400),
            NodeKind::Jump(j) => {
                if j.target.is_empty() {
                    self.push(id, "target", "a target node is required");
                } else if !ids.contains_key(j.target.as_str()) {
                    self.push(id, "target", format!("the node `{}` does not exist", j.target));
                }
            }
            NodeKind::End(_) => {}
        }
    }

    fn ask(&mut self, node: &str, a: &AskNode) {
        let id = Some(node);
        if a.prompt.trim().is_empty() {
            self.push(id, "prompt", "the question is empty");
        }
        self.template(id, "prompt", &a.prompt);
        if let Some(r) = &a.retry_message {
            self.template(id, "retry_message", r);
        }
        self.writable(id, "variable", &a.variable);
        self.range(node, "max_retries", u64::from(a.max_retries), 0, 10);
        if let Some(t) = a.timeout_secs {
            self.range(node, "timeout_secs", t, 10, 604_800);
        }
        if a.input == InputKind::Choice {
            if a.choices.is_empty() || a.choices.len() > 12 {
                self.push(id, "choices", "a choice question has 1 to 12 choices");
            }
            let mut seen = HashSet::new();
            for (i, c) in a.choices.iter().enumerate() {
                if let Some(problem) = id_problem(&c.id) {
                    self.push(id, format!("choices[{i}].id"), problem);
                } else if !seen.insert(c.id.as_str()) {
                    self.push(id, format!("choices[{i}].id"), format!("the choice id `{}` is used twice", c.id));
                }
                if c.label.trim().is_empty() {
                    self.push(id, format!("choices[{i}].label"), "a choice needs a label");
                }
                self.template(id, &format!("choices[{i}].label"), &c.label);
            }
        } else if !a.choices.is_empty() {
            self.push(id, "choices", "only a `choice` question has choices");
        }
    }

    fn condition(&mut self, node: &str, c: &ConditionNode) {
        let id = Some(node);
        if c.groups.is_empty() {
            self.push(id, "groups", "add at least one rule");
        }
        for (g, group) in c.groups.iter().enumerate() {
            if group.rules.is_empty() {
                self.push(id, format!("groups[{g}].rules"), "add at least one rule");
            }
            for (r, rule) in group.rules.iter().enumerate() {
                let at = format!("groups[{g}].rules[{r}]");
                if path::parse_var_path(&rule.left).is_none() {
                    self.push(id, format!("{at}.left"), format!("`{}` is not a variable path", rule.left));
                }
                self.template(id, &format!("{at}.right"), &rule.right);
                // Inserted values match literally (they are escaped), so a sample value shows
                // whether the author's part of the pattern compiles.
                if rule.op == Op::Matches {
                    let sample = template::render(&rule.right, template::Escape::Regex, &Placeholder);
                    if let Err(e) = pattern::compile(&sample) {
                        self.push(id, format!("{at}.right"), format!("invalid regular expression: {e}"));
                    }
                }
            }
        }
    }

    fn http(&mut self, node: &str, h: &HttpNode) {
        let id = Some(node);
        self.template(id, "url", &h.url);
        // Placeholders stand for values; the fixed text must already make an http(s) URL.
        let sample = template::render(&h.url, template::Escape::Url, &Placeholder);
        match reqwest::Url::parse(&sample) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
            Ok(_) => self.push(id, "url", "the URL must start with http:// or https://"),
            Err(_) if h.url.trim().is_empty() => self.push(id, "url", "a URL is required"),
            Err(e) => self.push(id, "url", format!("not a valid URL: {e}")),
        }
        for (name, value) in &h.headers {
            let field = format!("headers.{name}");
            let token =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                self.push(id, &field, "not a valid header name");
            } else if ["host", "content-length", "transfer-encoding", "connection"]
                .contains(&name.to_ascii_lowercase().as_str())
            {
                self.push(id, &field, "this header is set by the server");
            }
            self.template(id, &field, value);
        }
        if let Some(body) = &h.body {
            if matches!(h.method, HttpMethod::Get) {
                self.push(id, "body", "a GET request has no body");
            }
            let mut strings = Vec::new();
            collect_strings(body, &mut strings);
            for s in strings {
                self.template(id, "body", s);
            }
        }
        self.range(node, "timeout_ms", h.timeout_ms, 100, 30_000);
        if let Some(v) = &h.status_variable {
            self.writable(id, "status_variable", v);
        }
        for (i, save) in h.save.iter().enumerate() {
            self.writable(id, &format!("save[{i}].variable"), &save.variable);
            if path::parse_json_path(&save.path).is_none() {
                self.push(id, format!("save[{i}].path"), format!("`{}` is not a response path", save.path));
            }
        }
    }

    fn edges(&mut self, doc: &FlowDocument, ids: &HashMap<&str, &Node>) {
        let mut seen = HashSet::new();
        for (i, edge) in doc.edges.iter().enumerate() {
            let Some(from) = ids.get(edge.from.as_str()) else {
                self.push(None, format!("edges[{i}].from"), format!("the node `{}` does not exist", edge.from));
                continue;
            };
            let at = Some(edge.from.as_str());
            if !from.kind.has_port(&edge.port) {
                let message = format!("a `{}` node has no `{}` output", from.kind.type_name(), edge.port);
                self.push(at, format!("edges[{i}].port"), message);
            } else if !seen.insert((edge.from.as_str(), edge.port.as_str())) {
                self.push(at, format!("edges[{i}].port"), format!("the `{}` output is connected twice", edge.port));
            }
            if !ids.contains_key(edge.to.as_str()) {
                self.push(at, format!("edges[{i}].to"), format!("the node `{}` does not exist", edge.to));
            }
        }
    }
}

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Renders every placeholder as `x`, to check what the fixed parts of a URL make.
struct Placeholder;
impl template::Lookup for Placeholder {
    fn lookup(&self, _: &[path::Segment]) -> Option<Value> {
        Some(Value::String("x".to_owned()))
    }
}
