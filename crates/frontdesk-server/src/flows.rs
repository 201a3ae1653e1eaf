//! Bot scenarios at work in conversations: which scenario a conversation runs, the interpreter's
//! effects (bot messages, HTTP calls, AI answers, handoff), the timer job, and the simulator's host.
//!
//! The interpreter (`frontdesk-flows`) is deterministic and stateless; its run state lives in the
//! store with the conversation (`conversation_flows`), written by compare-and-set on a revision so
//! that two nodes never both advance one run.

use crate::answer::AiAnswerer;
use async_trait::async_trait;
use frontdesk_assistant::detect_escalation;
use frontdesk_core::answer::{AnswerOutcome, Answerer};
use frontdesk_core::chat::Chat;
use frontdesk_core::model::{AuthorKind, Citation, Conversation, Message, Site};
use frontdesk_core::scenarios::{FlowState, Scenario};
use frontdesk_core::status::{ConversationStatus, StatusEvent};
use frontdesk_core::store::StoreError;
use frontdesk_core::{ConversationId, CoreError, OrgId, ScenarioId, SiteId, Timestamp};
use frontdesk_flows::{
    Context, Event, FlowDocument, FlowError, FlowHost, FlowRun, HttpCall, HttpExecutor, HttpOutcome, Outcome,
    VisitorVars,
};
use frontdesk_realtime::{EphemeralEvent, Hub};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How long this node trusts its list of a site's published scenarios (another node's publish
/// shows up after at most this long; this node's at once).
const PUBLISHED_TTL_MS: i64 = 5_000;
/// How often the timer job looks for due runs (an unanswered question, a wait).
pub const TIMER_INTERVAL: Duration = Duration::from_secs(1);
/// Due runs handled per tick.
const TIMER_BATCH: u32 = 100;
/// Messages of history an AI-answer node gives the assistant.
const AI_HISTORY: i64 = 10;

/// How a conversation's run stands. Over runs are kept (without a timer) so that the person who
/// takes the conversation sees what the scenario collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for the visitor's answer or a timer.
    Waiting,
    Finished,
    HandedOff,
    /// Stopped on an error (a loop past the step limit, a store failure); the assistant took over.
    Failed,
    /// Ended from outside: the visitor asked for a person, or an agent replied.
    Ended,
}

/// What the store keeps as a run (`FlowState::run`): the interpreter's state in an envelope.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredRun {
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub run: FlowRun,
}

impl StoredRun {
    pub fn parse(value: &serde_json::Value) -> Option<StoredRun> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// A published scenario, its document parsed once.
pub struct Published {
    pub scenario: Scenario,
    pub version: i64,
    pub document: Arc<FlowDocument>,
}

/// A site's published scenarios and when they were read.
type CachedList = (Timestamp, Arc<Vec<Published>>);

pub struct Flows {
    chat: Chat,
    hub: Hub,
    ai: Arc<AiAnswerer>,
    http: HttpExecutor,
    published: Mutex<HashMap<SiteId, CachedList>>,
    /// Published versions never change, so their parsed documents are kept.
    versions: Mutex<HashMap<(ScenarioId, i64), Arc<FlowDocument>>>,
    /// One run step at a time per conversation on this node (other nodes: the revision check).
    running: Mutex<HashMap<ConversationId, Weak<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Flows {
    pub fn new(chat: Chat, hub: Hub, ai: Arc<AiAnswerer>, allow_private_http: bool) -> Self {
        Flows {
            chat,
            hub,
            ai,
            http: HttpExecutor::new(allow_private_http),
            published: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> Timestamp {
        self.chat.clock.now()
    }

    /// Forgets what this node knows of the site's published scenarios (after a publish, a
    /// delete or a change of start scenario here).
    pub fn invalidate(&self, site_id: SiteId) {
        lock(&self.published).remove(&site_id);
    }

    /// The site's published scenarios, from the cache when fresh.
    pub async fn published(&self, site: &Site) -> Result<Arc<Vec<Published>>, StoreError> {
        let now = self.now();
        if let Some((at, list)) = lock(&self.published).get(&site.id)
            && now.0 - at.0 < PUBLISHED_TTL_MS
        {
            return Ok(list.clone());
        }
        let rows = self.chat.store.published_scenarios(site.org_id, site.id).await?;
        let mut list = Vec::with_capacity(rows.len());
        for (scenario, version) in rows {
            match frontdesk_flows::check(&version.document) {
                Ok(document) => {
                    let document = Arc::new(document);
                    lock(&self.versions).insert((scenario.id, version.version), document.clone());
                    list.push(Published { scenario, version: version.version, document });
                }
                // Published documents were valid when published; one that no longer parses (a
                // schema change) is skipped rather than breaking every conversation of the site.
                Err(issues) => {
                    tracing::warn!(scenario_id = %scenario.id, ?issues, "a published scenario does not parse")
                }
            }
        }
        let list = Arc::new(list);
        lock(&self.published).insert(site.id, (now, list.clone()));
        Ok(list)
    }

    /// Whether a fresh cache entry says the site has no published scenario.
    fn surely_none(&self, site: &Site) -> bool {
        let now = self.now();
        lock(&self.published).get(&site.id).is_some_and(|(at, list)| now.0 - at.0 < PUBLISHED_TTL_MS && list.is_empty())
    }

    async fn document(&self, org_id: OrgId, scenario: ScenarioId, version: i64) -> Result<Arc<FlowDocument>, String> {
        if let Some(doc) = lock(&self.versions).get(&(scenario, version)) {
            return Ok(doc.clone());
        }
        let stored =
            self.chat.store.get_scenario_version(org_id, scenario, version).await.map_err(|e| e.to_string())?;
        let doc = Arc::new(frontdesk_flows::check(&stored.document).map_err(|issues| format!("{issues:?}"))?);
        lock(&self.versions).insert((scenario, version), doc.clone());
        Ok(doc)
    }

    async fn conversation_lock(&self, id: ConversationId) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut running = lock(&self.running);
            running.retain(|_, weak| weak.strong_count() > 0);
            match running.get(&id).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(tokio::sync::Mutex::new(()));
                    running.insert(id, Arc::downgrade(&m));
                    m
                }
            }
        };
        mutex.lock_owned().await
    }

    /// Whether the site would greet a new conversation with a scenario (the widget then opens its
    /// session as soon as the visitor opens the panel).
    pub async fn greets(&self, site: &Site) -> bool {
        match self.published(site).await {
            Ok(list) => list.iter().any(|p| p.scenario.starts_conversations || p.document.starts_conversations()),
            Err(_) => false,
        }
    }

    /// A new conversation: a scenario whose page rule matches its page, else the site's start
    /// scenario, else one with a `conversation_start` trigger, runs from its start. Trouble is
    /// logged: the conversation exists either way and the assistant answers.
    /// Returns whether a scenario ran.
    pub async fn conversation_started(&self, site: &Site, conversation: &Conversation) -> bool {
        let list = match self.published(site).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the site's scenarios");
                return false;
            }
        };
        let page = conversation.page_url.as_deref();
        let chosen = list
            .iter()
            .find(|p| page.is_some_and(|url| p.document.matches_page(url)))
            .or_else(|| list.iter().find(|p| p.scenario.starts_conversations))
            .or_else(|| list.iter().find(|p| p.document.starts_conversations()));
        if let Some(p) = chosen {
            let _guard = self.conversation_lock(conversation.id).await;
            self.begin(site, conversation, p, None, Event::Start, None).await;
            return true;
        }
        false
    }

    /// Starts `p` on the conversation with `event`, replacing the over run of revision `expected` if any.
    async fn begin(
        &self,
        site: &Site,
        conversation: &Conversation,
        p: &Published,
        expected: Option<i64>,
        event: Event,
        params: Option<&serde_json::Value>,
    ) {
        let state = FlowState {
            conversation_id: conversation.id,
            org_id: site.org_id,
            scenario_id: p.scenario.id,
            version: p.version,
            run: serde_json::Value::Null,
            due_at: None,
            revision: 0,
            updated_at: self.now(),
        };
        self.step(site, conversation, state, expected, p.document.clone(), FlowRun::new(), event, params).await;
    }

    /// Feeds one event to a run and stores the result.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        site: &Site,
        conversation: &Conversation,
        mut state: FlowState,
        expected: Option<i64>,
        document: Arc<FlowDocument>,
        mut run: FlowRun,
        event: Event,
        params: Option<&serde_json::Value>,
    ) {
        let ctx = Context {
            params: merged_params(&conversation.params, params),
            visitor: self.visitor_vars(site, conversation).await,
            now: self.now(),
        };
        let host = ConversationHost { flows: self, site, conversation };
        let outcome = frontdesk_flows::drive(&document, &mut run, &ctx, event, &host).await;
        self.hub.wake();
        state.due_at = None;
        let (status, error) = match outcome {
            Ok(Outcome::Waiting { due_at }) => {
                state.due_at = due_at;
                (RunStatus::Waiting, None)
            }
            Ok(Outcome::Finished) => (RunStatus::Finished, None),
            Ok(Outcome::HandedOff) => (RunStatus::HandedOff, None),
            Ok(Outcome::Failed { error }) => {
                tracing::warn!(conversation_id = %conversation.id, scenario_id = %state.scenario_id, %error, "a scenario failed; the assistant takes over");
                (RunStatus::Failed, Some(error))
            }
            Err(e) => {
                tracing::warn!(conversation_id = %conversation.id, scenario_id = %state.scenario_id, error = %e, "a scenario stopped on an error; the assistant takes over");
                (RunStatus::Failed, Some(e.to_string()))
            }
        };
        let written = match serde_json::to_value(StoredRun { status, error, run }) {
            Ok(value) => {
                state.run = value;
                state.updated_at = self.now();
                self.chat.store.put_flow_state(site.org_id, conversation.id, Some(&state), expected).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialize a scenario run");
                self.chat.store.put_flow_state(site.org_id, conversation.id, None, expected).await
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(conversation_id = %conversation.id, "a scenario run changed meanwhile (another node?); this step's state was not kept")
            }
            Err(e) => tracing::warn!(conversation_id = %conversation.id, error = %e, "cannot store a scenario run"),
        }
    }

    async fn visitor_vars(&self, site: &Site, conversation: &Conversation) -> VisitorVars {
        match self.chat.store.get_visitor(site.id, conversation.visitor_id).await {
            Ok(v) => VisitorVars {
                name: v.name,
                email: v.email,
                user_id: v.user_id.filter(|_| v.verified),
                verified: v.verified,
            },
            Err(_) => VisitorVars::default(),
        }
    }

    /// Ends the conversation's waiting run, if any (the visitor asked for a person, or an agent
    /// replied); what it collected stays for the agents to see.
    pub async fn end(&self, org_id: OrgId, id: ConversationId) {
        let _guard = self.conversation_lock(id).await;
        let Ok(Some(mut state)) = self.chat.store.get_flow_state(org_id, id).await else { return };
        let Some(mut stored) = StoredRun::parse(&state.run) else { return };
        if stored.status != RunStatus::Waiting {
            return;
        }
        stored.status = RunStatus::Ended;
        let expected = Some(state.revision);
        state.due_at = None;
        state.updated_at = self.now();
        if let Ok(value) = serde_json::to_value(&stored) {
            state.run = value;
            if let Err(e) = self.chat.store.put_flow_state(org_id, id, Some(&state), expected).await {
                tracing::warn!(conversation_id = %id, error = %e, "cannot end a scenario run");
            }
        }
    }

    /// A visitor's message while the conversation is `active`: the running scenario gets it, or
    /// a scenario whose keyword or pattern matches starts. `None` when no scenario takes it.
    async fn visitor_message(
        &self,
        site: &Site,
        conversation: &Conversation,
        text: &str,
        params: Option<&serde_json::Value>,
    ) -> Result<Option<()>, StoreError> {
        if self.surely_none(site) {
            return Ok(None);
        }
        let list = self.published(site).await?;
        if list.is_empty() {
            // A run can outlive the cache entry only for the few seconds another node's
            // publish takes to show here; its scenario is then published and the next look finds it.
            return Ok(None);
        }
        let _guard = self.conversation_lock(conversation.id).await;
        let current = self.chat.store.get_flow_state(site.org_id, conversation.id).await?;
        let waiting = current.as_ref().and_then(|state| StoredRun::parse(&state.run).map(|r| (state, r)));
        if let Some((state, stored)) = waiting.filter(|(_, r)| r.status == RunStatus::Waiting) {
            let state = state.clone();
            let document = match self.document(site.org_id, state.scenario_id, state.version).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(conversation_id = %conversation.id, error = %e, "a running scenario's version is gone");
                    self.chat.store.put_flow_state(site.org_id, conversation.id, None, Some(state.revision)).await?;
                    return Ok(None);
                }
            };
            let expected = Some(state.revision);
            let event = Event::Message { text: text.to_owned() };
            self.step(site, conversation, state, expected, document, stored.run, event, params).await;
            return Ok(Some(()));
        }
        if let Some(p) = list.iter().find(|p| p.document.matches_message(text)) {
            let expected = current.as_ref().map(|s| s.revision);
            // The triggering message is the run's first event: it is the scenario's `last_message`.
            let event = Event::Message { text: text.to_owned() };
            self.begin(site, conversation, p, expected, event, params).await;
            return Ok(Some(()));
        }
        Ok(None)
    }

    /// Fires the runs whose timer is due. Each is claimed first (its due time cleared by
    /// compare-and-set), so with several nodes exactly one fires it.
    pub async fn fire_due(&self) -> Result<usize, StoreError> {
        let due = self.chat.store.due_flow_states(self.now(), TIMER_BATCH).await?;
        let mut fired = 0;
        for state in due {
            let _guard = self.conversation_lock(state.conversation_id).await;
            let claimed = FlowState { due_at: None, ..state.clone() };
            if !self
                .chat
                .store
                .put_flow_state(state.org_id, state.conversation_id, Some(&claimed), Some(state.revision))
                .await?
            {
                continue;
            }
            let expected = Some(state.revision + 1);
            let conversation = match self.chat.store.get_conversation(state.org_id, state.conversation_id).await {
                Ok(c) => c,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            let Some(stored) = StoredRun::parse(&state.run).filter(|r| r.status == RunStatus::Waiting) else {
                continue;
            };
            if conversation.status != ConversationStatus::Active {
                // A person has it: the run waits no more (the claim cleared its timer).
                continue;
            }
            let site = self.chat.store.get_site(state.org_id, conversation.site_id).await?;
            let document = match self.document(state.org_id, state.scenario_id, state.version).await {
                Ok(d) => d,
                Err(_) => {
                    self.chat.store.put_flow_state(state.org_id, state.conversation_id, None, expected).await?;
                    continue;
                }
            };
            self.step(&site, &conversation, claimed, expected, document, stored.run, Event::Timer, None).await;
            fired += 1;
        }
        Ok(fired)
    }

    /// The timer job: until `stop` turns true.
    pub async fn run_timers(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TIMER_INTERVAL) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.fire_due().await {
                tracing::warn!(error = %e, "the scenario timer job could not run");
            }
        }
    }
}

/// The conversation's params with this message's on top.
fn merged_params(conversation: &serde_json::Value, message: Option<&serde_json::Value>) -> serde_json::Value {
    let mut merged = match conversation {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(serde_json::Value::Object(map)) = message {
        for (k, v) in map {
            merged.insert(k.clone(), v.clone());
        }
    }
    serde_json::Value::Object(merged)
}

/// The answer port the chat use case calls: scenarios first, then the AI assistant.
#[async_trait]
impl Answerer for Flows {
    fn may_answer(&self, site: &Site) -> bool {
        site.assistant.enabled || !self.surely_none(site)
    }

    async fn answer(
        &self,
        site: &Site,
        conversation: &Conversation,
        question: &str,
        history: &[Message],
        params: Option<&serde_json::Value>,
    ) -> AnswerOutcome {
        // The visitor's message is committed: deliver it now, before the reply is worked out.
        self.hub.wake();
        // Asking for a person beats any scenario.
        if detect_escalation(question, &site.assistant.escalation_keywords).is_some() {
            self.end(site.org_id, conversation.id).await;
        } else {
            match self.visitor_message(site, conversation, question, params).await {
                Ok(Some(())) => return AnswerOutcome::Handled,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(conversation_id = %conversation.id, error = %e, "cannot run the site's scenarios")
                }
            }
        }
        if site.assistant.enabled {
            self.ai.respond(site, conversation, question, history).await
        } else {
            AnswerOutcome::Silent
        }
    }
}

/// The interpreter's effects on a real conversation.
struct ConversationHost<'a> {
    flows: &'a Flows,
    site: &'a Site,
    conversation: &'a Conversation,
}

impl ConversationHost<'_> {
    async fn post(
        &self,
        author: AuthorKind,
        body: String,
        citations: Vec<Citation>,
        quick_replies: Vec<String>,
    ) -> Result<(), FlowError> {
        let (message, _) = self
            .flows
            .chat
            .automated_message(self.site.org_id, self.conversation.id, author, body, citations, quick_replies)
            .await
            .map_err(|e| FlowError::Host(e.to_string()))?;
        // Committed: this node's sockets get it without reading it back.
        self.flows.hub.handoff(&message);
        Ok(())
    }
}

#[async_trait]
impl FlowHost for ConversationHost<'_> {
    async fn say(&self, markdown: String, quick_replies: Vec<String>) -> Result<(), FlowError> {
        self.post(AuthorKind::Bot, markdown, Vec::new(), quick_replies).await
    }

    async fn thinking(&self, stage: Option<String>) {
        self.flows.hub.publish_ephemeral(self.site.org_id, self.conversation.id, EphemeralEvent::Thinking { stage });
    }

    async fn http(&self, call: HttpCall) -> HttpOutcome {
        self.flows.http.execute(call).await
    }

    async fn ai_answer(&self, question: &str) -> Result<bool, FlowError> {
        let from = (self.conversation.last_seq - AI_HISTORY).max(0);
        let history = self
            .flows
            .chat
            .store
            .list_messages(self.conversation.id, from, 50)
            .await
            .map_err(|e| FlowError::Host(e.to_string()))?;
        match self.flows.ai.respond(self.site, self.conversation, question, &history).await {
            AnswerOutcome::Answer { body, citations, quick_replies } => {
                self.post(AuthorKind::Assistant, body, citations, quick_replies).await?;
                Ok(true)
            }
            // The scenario decides what a decline leads to (its `unanswered` edge).
            AnswerOutcome::Decline { .. }
            | AnswerOutcome::Escalate { .. }
            | AnswerOutcome::Silent
            | AnswerOutcome::Handled => Ok(false),
        }
    }

    async fn agents_online(&self) -> bool {
        self.flows.hub.agents_online(self.site.org_id) > 0
    }

    async fn handoff(&self, message: Option<String>) -> Result<(), FlowError> {
        if let Some(text) = message.filter(|t| !t.trim().is_empty()) {
            self.post(AuthorKind::Bot, text, Vec::new(), Vec::new()).await?;
        }
        match self.flows.chat.change_status(self.site.org_id, self.conversation.id, StatusEvent::Escalate).await {
            Ok(_) | Err(CoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(FlowError::Host(e.to_string())),
        }
    }
}

/// What the simulator shows of one message.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SimulatedMessage {
    /// `bot`, `assistant` or `system`.
    pub author: String,
    /// Markdown.
    pub text: String,
    /// The sanitized HTML a widget would show.
    pub html: String,
    pub quick_replies: Vec<String>,
    pub citations: Vec<Citation>,
}

/// The interpreter's effects in the dashboard's simulator: messages are collected, HTTP calls
/// and AI answers are real, a handoff is only recorded.
pub struct SimulatorHost<'a> {
    pub flows: &'a Flows,
    pub site: &'a Site,
    /// A conversation that exists nowhere: the assistant needs one to answer.
    pub conversation: Conversation,
    pub messages: Mutex<Vec<SimulatedMessage>>,
    pub thinking: Mutex<Vec<String>>,
    pub handed_off: Mutex<bool>,
}

impl SimulatorHost<'_> {
    fn push(&self, author: &str, text: String, quick_replies: Vec<String>, citations: Vec<Citation>) {
        let html = frontdesk_core::markdown::render(&text);
        lock(&self.messages).push(SimulatedMessage { author: author.to_owned(), text, html, quick_replies, citations });
    }
}

#[async_trait]
impl FlowHost for SimulatorHost<'_> {
    async fn say(&self, markdown: String, quick_replies: Vec<String>) -> Result<(), FlowError> {
        self.push("bot", markdown, quick_replies, Vec::new());
        Ok(())
    }

    async fn thinking(&self, stage: Option<String>) {
        if let Some(stage) = stage {
            lock(&self.thinking).push(stage);
        }
    }

    async fn http(&self, call: HttpCall) -> HttpOutcome {
        self.flows.http.execute(call).await
    }

    async fn ai_answer(&self, question: &str) -> Result<bool, FlowError> {
        match self.flows.ai.respond(self.site, &self.conversation, question, &[]).await {
            AnswerOutcome::Answer { body, citations, quick_replies } => {
                self.push("assistant", body, quick_replies, citations);
                Ok(true)
            }
            AnswerOutcome::Decline { .. }
            | AnswerOutcome::Escalate { .. }
            | AnswerOutcome::Silent
            | AnswerOutcome::Handled => Ok(false),
        }
    }

    async fn agents_online(&self) -> bool {
        self.flows.hub.agents_online(self.site.org_id) > 0
    }

    async fn handoff(&self, message: Option<String>) -> Result<(), FlowError> {
        if let Some(text) = message.filter(|t| !t.trim().is_empty()) {
            self.push("bot", text, Vec::new(), Vec::new());
        }
        self.push("system", "The conversation would now go to a person.".to_owned(), Vec::new(), Vec::new());
        *lock(&self.handed_off) = true;
        Ok(())
    }
}
