//! Follows the outbox and emails members: escalations to those who want them, mentions to the
//! mentioned.
//!
//! Several nodes may run a notifier on one database. They share one cursor, the setting
//! [`CURSOR_KEY`]; a node claims a batch by moving the cursor past it with compare-and-set, and
//! only the node whose compare-and-set succeeded sends that batch's email. So each event is
//! emailed at most once; an email that still fails after the mailer's retries is logged and
//! dropped rather than holding up every later notification.

use crate::emails::{conversation_link, escalation_email, mention_email};
use crate::error::NotifyError;
use crate::mailer::Mailer;
use frontdesk_core::events::{DomainEvent, OutboxEvent};
use frontdesk_core::model::AuthorKind;
use frontdesk_core::ports::Clock;
use frontdesk_core::roles::Permission;
use frontdesk_core::status::ConversationStatus;
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::team::Member;
use frontdesk_core::{ConversationId, NoteId, OrgId, Timestamp, UserId};
use futures::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The setting that holds the id of the last outbox event any node has claimed.
pub const CURSOR_KEY: &str = "notifier.cursor";
/// Outbox events claimed at once.
pub const BATCH_SIZE: u32 = 100;
/// Events older than the notifier's start minus this are not emailed: a first start on a
/// database with history (cursor `0`), or a restart after a long stop, sends nothing stale.
pub const HISTORY_GRACE_SECS: i64 = 60;
/// How often [`Notifier::run`] looks for new events.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// Bounds one tick, so [`Notifier::run`] notices a shutdown even while catching up.
const MAX_BATCHES_PER_TICK: usize = 200;
/// Emails of one batch in flight at once.
const SEND_CONCURRENCY: usize = 4;
/// How many messages back an escalation email looks for the visitor's last one.
const LAST_MESSAGE_WINDOW: i64 = 20;
/// After the first failure in a row, only every this many failed ticks is logged again.
const LOG_EVERY_FAILURES: u32 = 60;

/// One email to send, with what the log may say about it (never its body).
struct Email {
    event_id: i64,
    kind: &'static str,
    user_id: UserId,
    to: String,
    subject: String,
    text: String,
}

/// The outbox follower that sends agents their email alerts.
pub struct Notifier {
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
    public_url: String,
    skip_before: Timestamp,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("mailer", &self.mailer)
            .field("public_url", &self.public_url)
            .field("skip_before", &self.skip_before)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// `public_url` is the dashboard's base URL (`https://desk.example.com`); links in the
    /// emails point below it. Events from before `clock`'s now minus [`HISTORY_GRACE_SECS`] are
    /// skipped.
    pub fn new(store: Arc<dyn Store>, mailer: Arc<Mailer>, public_url: &str, clock: Arc<dyn Clock>) -> Notifier {
        let skip_before = clock.now().plus_seconds(-HISTORY_GRACE_SECS);
        Notifier { store, mailer, public_url: public_url.trim().trim_end_matches('/').to_owned(), skip_before }
    }

    /// One pass: claims and handles batches until the outbox is read to its end; returns how
    /// many emails were sent.
    pub async fn tick(&self) -> Result<usize, NotifyError> {
        let mut sent = 0;
        for _ in 0..MAX_BATCHES_PER_TICK {
            let cursor_text = self.store.get_or_init_setting(CURSOR_KEY, "0").await?;
            let cursor: i64 = cursor_text.trim().parse().map_err(|_| NotifyError::Cursor(cursor_text.clone()))?;
            let events = self.store.outbox_after(cursor, BATCH_SIZE).await?;
            let Some(last) = events.last().map(|e| e.id) else { break };
            // Composed before the claim: when the database fails here, nothing is claimed and the
            // batch is tried again on the next tick instead of being lost.
            let emails = self.compose(&events).await?;
            if !self.store.compare_and_set_setting(CURSOR_KEY, &cursor_text, &last.to_string()).await? {
                // Another node claimed this batch and sends its email.
                continue;
            }
            sent += self.deliver(emails).await;
            if events.len() < BATCH_SIZE as usize {
                break;
            }
        }
        Ok(sent)
    }

    /// Ticks every [`TICK_INTERVAL`] until `shutdown` turns true (or its sender is dropped).
    /// Errors are logged; a claimed batch is finished before stopping.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(public_url = %self.public_url, mailer = ?self.mailer, "email notifications on");
        let mut interval = tokio::time::interval(TICK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                _ = interval.tick() => {
                    // A panic in a dependency must not end notifications for the process's life.
                    let outcome = AssertUnwindSafe(self.tick()).catch_unwind().await;
                    let error = match outcome {
                        Ok(Ok(sent)) => {
                            if failures > 0 {
                                tracing::info!(failed_ticks = failures, "notifier recovered");
                            }
                            failures = 0;
                            if sent > 0 {
                                tracing::debug!(sent, "notification emails sent");
                            }
                            continue;
                        }
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "the tick panicked".to_owned(),
                    };
                    if failures.is_multiple_of(LOG_EVERY_FAILURES) {
                        tracing::warn!(error = %error, failed_ticks = failures + 1, "notifier tick failed; retrying");
                    }
                    failures = failures.saturating_add(1);
                }
            }
        }
        tracing::info!("notifier stopped");
    }

    /// The emails a batch asks for. Only a database that cannot be reached fails the batch; an
    /// event whose conversation, site or note is gone is skipped, and so is one that cannot be
    /// read for another reason (logged), so one bad row never blocks the rest.
    async fn compose(&self, events: &[OutboxEvent]) -> Result<Vec<Email>, NotifyError> {
        let mut members: HashMap<OrgId, Vec<Member>> = HashMap::new();
        let mut emails = Vec::new();
        for e in events {
            if e.created_at < self.skip_before {
                continue;
            }
            let composed = match &e.event {
                DomainEvent::StatusChanged { conversation_id, to: ConversationStatus::Escalated, .. } => {
                    self.escalation(e, *conversation_id, &mut members).await
                }
                DomainEvent::NoteCreated { conversation_id, note_id, author_id, mentions } => {
                    self.mention(e, *conversation_id, *note_id, *author_id, mentions, &mut members).await
                }
                _ => continue,
            };
            match composed {
                Ok(more) => emails.extend(more),
                Err(NotifyError::Store(StoreError::NotFound)) => {
                    tracing::debug!(event_id = e.id, kind = e.event.kind(), "notification skipped: its data is gone");
                }
                Err(err @ NotifyError::Store(StoreError::Unavailable(_))) => return Err(err),
                Err(err) => {
                    tracing::warn!(event_id = e.id, kind = e.event.kind(), error = %err, "notification skipped");
                }
            }
        }
        Ok(emails)
    }

    async fn members<'a>(
        &self,
        org_id: OrgId,
        cache: &'a mut HashMap<OrgId, Vec<Member>>,
    ) -> Result<&'a [Member], NotifyError> {
        let members = match cache.entry(org_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.store.list_members(org_id).await?),
        };
        Ok(members.as_slice())
    }

    async fn escalation(
        &self,
        e: &OutboxEvent,
        conversation_id: ConversationId,
        cache: &mut HashMap<OrgId, Vec<Member>>,
    ) -> Result<Vec<Email>, NotifyError> {
        let recipients: Vec<(UserId, String)> = self
            .members(e.org_id, cache)
            .await?
            .iter()
            .filter(|m| m.role.allows(Permission::ReadConversations) && m.notify.email_escalations)
            .map(|m| (m.user_id, m.email.clone()))
            .collect();
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let conversation = self.store.get_conversation(e.org_id, conversation_id).await?;
        let site = self.store.get_site(e.org_id, conversation.site_id).await?;
        let visitor = match self.store.get_visitor(site.id, conversation.visitor_id).await {
            Ok(v) => v.name.filter(|n| !n.trim().is_empty()).or(v.email),
            Err(StoreError::Unavailable(m)) => return Err(StoreError::Unavailable(m).into()),
            // The visitor's name is a nicety; the email goes out without it.
            Err(_) => None,
        };
        let after = (conversation.last_seq - LAST_MESSAGE_WINDOW).max(0);
        let recent = self.store.list_messages(conversation.id, after, LAST_MESSAGE_WINDOW as u32).await?;
        let last_visitor_message = recent.iter().rev().find(|m| m.author_kind == AuthorKind::Visitor);
        let link = conversation_link(&self.public_url, conversation.id);
        let (subject, text) =
            escalation_email(&site.name, visitor.as_deref(), last_visitor_message.map(|m| m.body.as_str()), &link);
        Ok(recipients
            .into_iter()
            .map(|(user_id, to)| Email {
                event_id: e.id,
                kind: "escalation",
                user_id,
                to,
                subject: subject.clone(),
                text: text.clone(),
            })
            .collect())
    }

    async fn mention(
        &self,
        e: &OutboxEvent,
        conversation_id: ConversationId,
        note_id: NoteId,
        author_id: UserId,
        mentions: &[UserId],
        cache: &mut HashMap<OrgId, Vec<Member>>,
    ) -> Result<Vec<Email>, NotifyError> {
        let members = self.members(e.org_id, cache).await?;
        let mut recipients: Vec<(UserId, String)> = Vec::new();
        for id in mentions {
            // Only members of this organization: a mention never reaches outside it.
            let Some(m) = members.iter().find(|m| m.user_id == *id) else { continue };
            let wanted = m.notify.email_mentions && m.role.allows(Permission::ReadConversations);
            if *id != author_id && wanted && !recipients.iter().any(|(u, _)| u == id) {
                recipients.push((m.user_id, m.email.clone()));
            }
        }
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let author_name = match members.iter().find(|m| m.user_id == author_id) {
            Some(m) if !m.name.trim().is_empty() => m.name.trim().to_owned(),
            // The author may have left the team since; the note still names them.
            _ => match self.store.get_user(author_id).await {
                Ok(u) if !u.name.trim().is_empty() => u.name.trim().to_owned(),
                Err(StoreError::Unavailable(m)) => return Err(StoreError::Unavailable(m).into()),
                _ => "A teammate".to_owned(),
            },
        };
        let conversation = self.store.get_conversation(e.org_id, conversation_id).await?;
        let site = self.store.get_site(e.org_id, conversation.site_id).await?;
        let notes = self.store.list_notes(e.org_id, conversation.id).await?;
        let note = notes.iter().find(|n| n.id == note_id).ok_or(StoreError::NotFound)?;
        let link = conversation_link(&self.public_url, conversation.id);
        let (subject, text) = mention_email(&author_name, &site.name, &note.body, &link);
        Ok(recipients
            .into_iter()
            .map(|(user_id, to)| Email {
                event_id: e.id,
                kind: "mention",
                user_id,
                to,
                subject: subject.clone(),
                text: text.clone(),
            })
            .collect())
    }

    /// Sends the claimed batch's emails; returns how many went out.
    async fn deliver(&self, emails: Vec<Email>) -> usize {
        futures::stream::iter(emails)
            .map(|email| async move {
                let result = self.mailer.send(&email.to, &email.subject, &email.text).await;
                (email, result)
            })
            .buffer_unordered(SEND_CONCURRENCY)
            .fold(0, |sent, (email, result)| async move {
                match result {
                    Ok(()) => {
                        tracing::debug!(event_id = email.event_id, kind = email.kind, user_id = %email.user_id, "notification emailed");
                        sent + 1
                    }
                    Err(e) => {
                        tracing::warn!(event_id = email.event_id, kind = email.kind, user_id = %email.user_id, error = %e, "notification email not sent");
                        sent
                    }
                }
            })
            .await
    }
}
