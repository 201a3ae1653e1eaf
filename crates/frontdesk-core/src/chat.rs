//! The chat use cases: what visitors and agents do to conversations. Each takes the site or
//! organization it acts for, so nothing reaches across tenants.

use crate::answer::{AnswerOutcome, Answerer};
use crate::error::CoreError;
use crate::ids::*;
use crate::markdown;
use crate::model::*;
use crate::ports::{Clock, Entropy};
use crate::status::{ConversationStatus, StatusEvent, next_status};
use crate::store::{StatusChange, Store, StoreError};
use crate::validate;
use std::sync::Arc;

/// How many earlier messages the answerer sees.
pub const ANSWER_HISTORY: i64 = 20;

/// A visitor's message and what followed from it.
#[derive(Debug, Clone)]
pub struct VisitorTurn {
    pub message: Message,
    /// The assistant's answer or decline, or the system message announcing a person; `None`
    /// when a person has the conversation (or the assistant is off).
    pub reply: Option<Message>,
    pub conversation: Conversation,
    /// Why a declined question could not be kept for the gap report (the turn itself succeeded;
    /// the caller logs it).
    pub unrecorded_question: Option<String>,
}

/// How many times a compare-and-set on the status is retried when another request moved it.
const STATUS_RETRIES: usize = 3;
/// At most this many messages in one history page.
pub const HISTORY_PAGE: u32 = 500;

#[derive(Debug, Clone, Default)]
pub struct StartSession {
    pub visitor_id: Option<VisitorId>,
    pub page_url: Option<String>,
    pub locale: Option<String>,
    pub params: Option<serde_json::Value>,
}

#[derive(Clone)]
pub struct Chat {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
}

impl Chat {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Chat { store, clock, entropy }
    }

    fn now(&self) -> crate::Timestamp {
        self.clock.now()
    }

    /// Starts a conversation, reusing the visitor when the id is known on this site
    /// (an id unknown here, even one of another site, gets a fresh visitor).
    pub async fn start_session(&self, site: &Site, req: StartSession) -> Result<(Conversation, Visitor), CoreError> {
        let now = self.now();
        let page_url = req.page_url.as_deref().map(validate::page_url).transpose()?;
        let locale = req.locale.as_deref().map(validate::locale).transpose()?;
        let params = validate::params(req.params.as_ref())?;

        let known = match req.visitor_id {
            Some(id) => match self.store.get_visitor(site.id, id).await {
                // An erased visitor's id starts over as a stranger: nothing links them again.
                Ok(v) if v.erased_at.is_some() => None,
                Ok(v) => Some(v),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let visitor = match known {
            Some(v) => {
                self.store.touch_visitor(site.id, v.id, now).await?;
                v
            }
            None => {
                let v = Visitor {
                    id: VisitorId::generate(&*self.clock, &*self.entropy),
                    site_id: site.id,
                    name: None,
                    email: None,
                    locale: locale.clone(),
                    user_id: None,
                    verified: false,
                    created_at: now,
                    last_seen_at: now,
                    erased_at: None,
                };
                self.store.create_visitor(&v).await?;
                v
            }
        };
        let conversation = Conversation {
            id: ConversationId::generate(&*self.clock, &*self.entropy),
            org_id: site.org_id,
            site_id: site.id,
            visitor_id: visitor.id,
            status: ConversationStatus::Active,
            assignee_id: None,
            page_url,
            locale,
            params,
            last_seq: 0,
            token_generation: 0,
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            status_changed_at: now,
            escalated_at: None,
            first_agent_reply_at: None,
        };
        self.store.create_conversation(&conversation).await?;
        // The site's welcome message opens the conversation, stored like any other message.
        let welcome = site.assistant.welcome_message.trim();
        if site.assistant.enabled && !welcome.is_empty() {
            let (_, opened) = self
                .automated_message(
                    site.org_id,
                    conversation.id,
                    AuthorKind::Assistant,
                    welcome.to_owned(),
                    Vec::new(),
                    Vec::new(),
                )
                .await?;
            return Ok((opened, visitor));
        }
        Ok((conversation, visitor))
    }

    pub async fn session(&self, site: &Site, id: ConversationId) -> Result<Conversation, CoreError> {
        self.store.get_conversation_for_site(site.id, id).await.map_err(|e| CoreError::from_store(e, "session"))
    }

    /// Stores a visitor's message and moves the status as the state machine says.
    pub async fn visitor_message(
        &self,
        site: &Site,
        id: ConversationId,
        content: &str,
        params: Option<&serde_json::Value>,
    ) -> Result<(Message, Conversation), CoreError> {
        let conversation = self.session(site, id).await?;
        self.visitor_message_on(site, conversation, content, params).await
    }

    /// As [`Chat::visitor_message`], on a conversation the caller has just read through `site`
    /// (the request's authorization did): no second read. A status that moved meanwhile is
    /// caught by the store's compare-and-set and re-read then.
    async fn visitor_message_on(
        &self,
        site: &Site,
        conversation: Conversation,
        content: &str,
        params: Option<&serde_json::Value>,
    ) -> Result<(Message, Conversation), CoreError> {
        let body = validate::message_content(content)?;
        validate::params(params)?;
        let message = self.new_message(conversation.id, AuthorKind::Visitor, None, body);
        self.append_with_event(site.org_id, conversation, &message, StatusEvent::VisitorMessage, true).await
    }

    /// Stores the visitor's message, then, while the AI has the conversation (`active`), lets the
    /// answerer reply: an answer, an honest decline, or a hand-over to a person. The reply is
    /// stored like any message, so a crash after it was acknowledged loses nothing.
    /// `conversation` is the session as the caller read it through `site`.
    pub async fn visitor_turn(
        &self,
        site: &Site,
        conversation: Conversation,
        content: &str,
        params: Option<&serde_json::Value>,
        answerer: &dyn Answerer,
    ) -> Result<VisitorTurn, CoreError> {
        let id = conversation.id;
        let (message, conversation) = self.visitor_message_on(site, conversation, content, params).await?;
        // A person has it, or nothing would answer.
        if conversation.status != ConversationStatus::Active || !answerer.may_answer(site) {
            return Ok(VisitorTurn { message, reply: None, conversation, unrecorded_question: None });
        }
        let history = self.store.list_messages(id, (message.seq - ANSWER_HISTORY).max(0), HISTORY_PAGE).await?;
        let outcome = answerer.answer(site, &conversation, &message.body, &history, params).await;
        let org = site.org_id;
        let mut unrecorded_question = None;
        let (reply, conversation) = match outcome {
            AnswerOutcome::Silent => (None, conversation),
            // Its messages are stored; the status it may have moved is read back for the response.
            AnswerOutcome::Handled => (None, self.conversation(org, id).await?),
            AnswerOutcome::Answer { body, citations, quick_replies } => {
                let (m, c) =
                    self.automated_message(org, id, AuthorKind::Assistant, body, citations, quick_replies).await?;
                (Some(m), c)
            }
            AnswerOutcome::Decline { body, quick_replies, escalate } => {
                unrecorded_question = self.record_unanswered(site, &message).await.err();
                let (m, c) =
                    self.automated_message(org, id, AuthorKind::Assistant, body, Vec::new(), quick_replies).await?;
                let c = if escalate { self.escalate_quietly(org, id).await?.unwrap_or(c) } else { c };
                (Some(m), c)
            }
            AnswerOutcome::Escalate { system_message } => {
                // Escalated first, so the announcement is the newest message of an escalated conversation.
                self.escalate_quietly(org, id).await?;
                let (m, c) =
                    self.automated_message(org, id, AuthorKind::System, system_message, Vec::new(), Vec::new()).await?;
                (Some(m), c)
            }
        };
        Ok(VisitorTurn { message, reply, conversation, unrecorded_question })
    }

    /// Keeps the declined question for the knowledge base's gap report. Losing one is better
    /// than failing the visitor's turn: the error goes back in [`VisitorTurn`] for the caller to log.
    async fn record_unanswered(&self, site: &Site, message: &Message) -> Result<(), String> {
        let question = crate::inbox::UnansweredQuestion {
            id: UnansweredId::generate(&*self.clock, &*self.entropy),
            org_id: site.org_id,
            site_id: site.id,
            conversation_id: message.conversation_id,
            message_id: message.id,
            question: message.body.clone(),
            created_at: self.now(),
        };
        self.store.record_unanswered(&question).await.map_err(|e| e.to_string())
    }

    /// Escalates unless someone already did (a person may have taken it meanwhile).
    async fn escalate_quietly(&self, org_id: OrgId, id: ConversationId) -> Result<Option<Conversation>, CoreError> {
        match self.change_status(org_id, id, StatusEvent::Escalate).await {
            Ok(c) => Ok(Some(c)),
            Err(CoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An agent's reply: a human now has the conversation.
    pub async fn agent_reply(
        &self,
        org_id: OrgId,
        agent: UserId,
        id: ConversationId,
        content: &str,
    ) -> Result<(Message, Conversation), CoreError> {
        let body = validate::message_content(content)?;
        let message = self.new_message(id, AuthorKind::Agent, Some(agent), body);
        let conversation = self.conversation(org_id, id).await?;
        self.append_with_event(org_id, conversation, &message, StatusEvent::AgentReply, false).await
    }

    /// A message written by the assistant, a bot or the system. It does not move the status.
    pub async fn automated_message(
        &self,
        org_id: OrgId,
        id: ConversationId,
        author: AuthorKind,
        body: String,
        citations: Vec<Citation>,
        quick_replies: Vec<String>,
    ) -> Result<(Message, Conversation), CoreError> {
        let mut message = self.new_message(id, author, None, body);
        message.citations = citations;
        message.quick_replies = quick_replies;
        let (m, c) = self.store.append_message(org_id, &message, None, false).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::ConversationClosed,
            other => CoreError::from_store(other, "conversation"),
        })?;
        Ok((m, c))
    }

    fn new_message(
        &self,
        conversation_id: ConversationId,
        author_kind: AuthorKind,
        author_id: Option<UserId>,
        body: String,
    ) -> NewMessage {
        NewMessage {
            id: MessageId::generate(&*self.clock, &*self.entropy),
            conversation_id,
            author_kind,
            author_id,
            html: markdown::render(&body),
            body,
            citations: Vec::new(),
            quick_replies: Vec::new(),
            created_at: self.now(),
        }
    }

    async fn append_with_event(
        &self,
        org_id: OrgId,
        mut conversation: Conversation,
        message: &NewMessage,
        event: StatusEvent,
        visitor_activity: bool,
    ) -> Result<(Message, Conversation), CoreError> {
        for _ in 0..STATUS_RETRIES {
            let to = next_status(conversation.status, event)?;
            let change = StatusChange { from: conversation.status, to };
            match self.store.append_message(org_id, message, Some(change), visitor_activity).await {
                Ok(done) => return Ok(done),
                // The status moved under us (an agent resolved it, the visitor closed it): re-read and decide again.
                Err(StoreError::Conflict(_)) => conversation = self.conversation(org_id, conversation.id).await?,
                Err(e) => return Err(CoreError::from_store(e, "conversation")),
            }
        }
        Err(CoreError::Conflict("the conversation changed too often; try again".to_owned()))
    }

    /// The private API's view of a conversation.
    pub async fn conversation(&self, org_id: OrgId, id: ConversationId) -> Result<Conversation, CoreError> {
        self.store.get_conversation(org_id, id).await.map_err(|e| CoreError::from_store(e, "conversation"))
    }

    /// Applies a status event from an agent or the visitor, with compare-and-set retries.
    pub async fn change_status(
        &self,
        org_id: OrgId,
        id: ConversationId,
        event: StatusEvent,
    ) -> Result<Conversation, CoreError> {
        let mut conversation = self.conversation(org_id, id).await?;
        for _ in 0..STATUS_RETRIES {
            let to = next_status(conversation.status, event)?;
            let change = StatusChange { from: conversation.status, to };
            match self.store.change_status(org_id, id, change, self.now()).await {
                Ok(c) => return Ok(c),
                Err(StoreError::Conflict(_)) => conversation = self.conversation(org_id, id).await?,
                Err(e) => return Err(CoreError::from_store(e, "conversation")),
            }
        }
        Err(CoreError::Conflict("the conversation changed too often; try again".to_owned()))
    }

    /// The visitor ends the conversation. Ending an ended one is not an error.
    pub async fn end_session(&self, site: &Site, id: ConversationId) -> Result<Conversation, CoreError> {
        let conversation = self.session(site, id).await?;
        if conversation.status == ConversationStatus::Closed {
            return Ok(conversation);
        }
        self.change_status(site.org_id, id, StatusEvent::Close).await
    }

    pub async fn history(&self, site: &Site, id: ConversationId, after_seq: i64) -> Result<Vec<Message>, CoreError> {
        self.session(site, id).await?;
        Ok(self.store.list_messages(id, after_seq.max(0), HISTORY_PAGE).await?)
    }

    /// One rating per conversation; a second is a conflict.
    pub async fn rate(
        &self,
        site: &Site,
        id: ConversationId,
        stars: i64,
        tags: &[String],
        feedback: Option<&str>,
    ) -> Result<Rating, CoreError> {
        let rating = Rating {
            conversation_id: id,
            stars: validate::stars(stars)?,
            tags: validate::rating_tags(tags)?,
            feedback: validate::feedback(feedback)?,
            created_at: self.now(),
        };
        self.session(site, id).await?;
        self.store.create_rating(site.org_id, &rating).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::Conflict("this session has been rated already".to_owned()),
            other => CoreError::from_store(other, "session"),
        })?;
        Ok(rating)
    }

    /// Thumbs up or down on an assistant or bot message of this conversation.
    pub async fn react(
        &self,
        site: &Site,
        conversation_id: ConversationId,
        message_id: MessageId,
        reaction: Option<Reaction>,
    ) -> Result<Message, CoreError> {
        self.session(site, conversation_id).await?;
        let message = self
            .store
            .get_message(conversation_id, message_id)
            .await
            .map_err(|e| CoreError::from_store(e, "message"))?;
        if !matches!(message.author_kind, AuthorKind::Assistant | AuthorKind::Bot) {
            return Err(CoreError::Invalid {
                field: "message_id".to_owned(),
                message: "only assistant and bot messages take reactions".to_owned(),
            });
        }
        self.store
            .set_reaction(site.org_id, conversation_id, message_id, reaction)
            .await
            .map_err(|e| CoreError::from_store(e, "message"))
    }
}
