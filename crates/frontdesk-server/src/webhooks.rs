//! Outgoing webhooks: the dispatcher that turns outbox events into deliveries, and the sender
//! that signs and posts them (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`), retrying with backoff for three days.
//!
//! Every node runs both. The dispatcher shares one outbox cursor (the setting [`CURSOR_KEY`])
//! and inserts deliveries before moving the cursor by compare-and-set; the store keeps one
//! delivery per (endpoint, event), so a crash or a race between nodes never enqueues an event
//! twice for an endpoint, nor loses one. The sender claims due deliveries with a lease, so one
//! node sends each attempt. See `docs/webhooks.md`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontdesk_core::audit::AuditEvent;
use frontdesk_core::events::{DomainEvent, OutboxEvent};
use frontdesk_core::ports::{Clock, Entropy};
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::webhooks::{
    DeliveryStatus, RESPONSE_EXCERPT_BYTES, WebhookDelivery, WebhookEndpoint, WebhookEventType, next_retry,
    response_excerpt,
};
use frontdesk_core::{AuditEventId, OrgId, Timestamp, WebhookDeliveryId};
use futures::FutureExt as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The setting that holds the id of the last outbox event any node has dispatched.
pub const CURSOR_KEY: &str = "webhooks.cursor";
/// The prefix of every endpoint secret (the Standard Webhooks convention).
pub const SECRET_PREFIX: &str = "whsec_";
/// The event type of a test delivery sent from the dashboard.
pub const TEST_EVENT_TYPE: &str = "webhook.test";
/// One attempt gives up after this long.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the start of an answer's body may take once its status has arrived (it only feeds the
/// delivery log).
const EXCERPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a claimed delivery is the claiming node's (longer than any attempt).
const LEASE_SECS: i64 = 30;
/// How often each node looks for new events and due deliveries (a test event or a
/// redelivery wakes it at once).
const TICK: Duration = Duration::from_millis(500);
const OUTBOX_BATCH: u32 = 100;
const MAX_BATCHES_PER_TICK: usize = 50;
/// Deliveries claimed (and sent concurrently) at once.
const CLAIM_LIMIT: u32 = 16;
/// After the first failure in a row, only every this many failed ticks is logged again.
const LOG_EVERY_FAILURES: u32 = 120;

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret(entropy: &dyn Entropy) -> String {
    let mut key = [0u8; 32];
    entropy.fill(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-id` of a delivery: the same on every attempt, so receivers can drop duplicates.
pub fn message_id(id: WebhookDeliveryId) -> String {
    format!("msg_{}", id.0.simple())
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the key the secret encodes;
/// `None` for a secret that is not `whsec_` + base64.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret, separated by spaces.
fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> String {
    secrets.iter().filter_map(|s| sign(s, msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// The body every delivery carries.
pub fn envelope(event_type: &str, at: Timestamp, data: Value) -> String {
    json!({ "type": event_type, "timestamp": at, "data": data }).to_string()
}

/// How one attempt ended.
enum Attempt {
    /// A 2xx, with the start of the answer.
    Delivered(u16, Option<String>),
    /// 410: the receiver says the endpoint is gone for good.
    Gone(Option<String>),
    /// Worth retrying: another status (with the start of its answer), a timeout, a connection error.
    Failed { status: Option<u16>, error: String, response: Option<String> },
    /// Never worth retrying: the address is refused, the URL is unusable.
    Refused(String),
}

/// The dispatcher and the sender of one node.
pub struct Webhooks {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    allow_private: bool,
    wake: Notify,
}

impl Webhooks {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>, allow_private: bool) -> Self {
        Webhooks { store, clock, entropy, allow_private, wake: Notify::new() }
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Makes the loop look for due deliveries now (after a test event or a redelivery).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Ticks until `shutdown` turns true (or its sender is dropped). Errors are logged.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(TICK);
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
                    continue;
                }
                _ = interval.tick() => {}
                _ = self.wake.notified() => {}
            }
            // A panic in a dependency must not end webhooks for the process's life.
            let outcome = std::panic::AssertUnwindSafe(self.tick()).catch_unwind().await;
            let error = match outcome {
                Ok(Ok(())) => {
                    if failures > 0 {
                        tracing::info!(failed_ticks = failures, "webhooks recovered");
                    }
                    failures = 0;
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the tick panicked".to_owned(),
            };
            if failures.is_multiple_of(LOG_EVERY_FAILURES) {
                tracing::warn!(error = %error, failed_ticks = failures + 1, "webhooks tick failed; retrying");
            }
            failures = failures.saturating_add(1);
        }
    }

    /// One pass: enqueue what the outbox holds, then send what is due.
    pub async fn tick(&self) -> Result<(), StoreError> {
        self.dispatch().await?;
        self.send_due().await
    }

    /// Follows the outbox and enqueues a delivery per subscribed endpoint.
    async fn dispatch(&self) -> Result<(), StoreError> {
        for _ in 0..MAX_BATCHES_PER_TICK {
            let cursor_text = self.store.get_or_init_setting(CURSOR_KEY, "0").await?;
            let cursor: i64 = cursor_text
                .trim()
                .parse()
                .map_err(|_| StoreError::Backend(format!("the setting {CURSOR_KEY} is not a number: {cursor_text}")))?;
            let events = self.store.outbox_after(cursor, OUTBOX_BATCH).await?;
            let Some(last) = events.last().map(|e| e.id) else { break };
            let deliveries = self.deliveries_for(&events).await?;
            // Inserted before the claim: a crash in between costs a repeat, which the store
            // drops, instead of a lost event.
            if !deliveries.is_empty() {
                self.store.create_webhook_deliveries(&deliveries).await?;
            }
            if !self.store.compare_and_set_setting(CURSOR_KEY, &cursor_text, &last.to_string()).await? {
                // Another node moved the cursor meanwhile; its deliveries are the same ones.
                continue;
            }
            if events.len() < OUTBOX_BATCH as usize {
                break;
            }
        }
        Ok(())
    }

    async fn deliveries_for(&self, events: &[OutboxEvent]) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut endpoints: HashMap<OrgId, Vec<WebhookEndpoint>> = HashMap::new();
        let mut out = Vec::new();
        for e in events {
            let Some(event_type) = WebhookEventType::of(&e.event) else { continue };
            if let Entry::Vacant(slot) = endpoints.entry(e.org_id) {
                let mut list = self.store.list_webhook_endpoints(e.org_id).await?;
                list.retain(|ep| ep.enabled);
                slot.insert(list);
            }
            let subscribed: Vec<&WebhookEndpoint> = endpoints
                .get(&e.org_id)
                .map(|l| l.iter().filter(|ep| ep.subscribes_to(event_type)).collect())
                .unwrap_or_default();
            if subscribed.is_empty() {
                continue;
            }
            let data = match self.data(e).await {
                Ok(data) => data,
                // Its conversation, message or rating is gone: nothing to announce.
                Err(StoreError::NotFound) => continue,
                Err(err) => return Err(err),
            };
            let payload = envelope(event_type.as_str(), e.created_at, data);
            let now = self.clock.now();
            for endpoint in subscribed {
                out.push(pending_delivery(
                    WebhookDeliveryId::generate(&*self.clock, &*self.entropy),
                    endpoint,
                    Some(e.id),
                    event_type.as_str(),
                    payload.clone(),
                    now,
                ));
            }
        }
        Ok(out)
    }

    /// What a receiver needs about the event: the conversation, and the message, rating or
    /// visitor it is about.
    async fn data(&self, e: &OutboxEvent) -> Result<Value, StoreError> {
        let s = &*self.store;
        let conversation = s.get_conversation(e.org_id, e.event.conversation_id()).await?;
        let data = match &e.event {
            DomainEvent::MessageCreated { message_id, .. } => {
                let message = s.get_message(conversation.id, *message_id).await?;
                json!({ "conversation": conversation, "message": message })
            }
            DomainEvent::StatusChanged { from, .. } => {
                json!({ "conversation": conversation, "previous_status": from })
            }
            DomainEvent::RatingCreated { .. } => {
                let rating = s.get_rating(conversation.id).await?;
                json!({ "conversation": conversation, "rating": rating })
            }
            DomainEvent::VisitorIdentified { site_id, visitor_id, .. } => {
                let visitor = s.get_visitor(*site_id, *visitor_id).await?;
                json!({ "conversation": conversation, "visitor": visitor })
            }
            _ => json!({ "conversation": conversation }),
        };
        Ok(data)
    }

    /// Claims the due deliveries and sends them, concurrently.
    async fn send_due(&self) -> Result<(), StoreError> {
        loop {
            let now = self.clock.now();
            let claimed = self.store.claim_webhook_deliveries(now, now.plus_seconds(LEASE_SECS), CLAIM_LIMIT).await?;
            let full = claimed.len() == CLAIM_LIMIT as usize;
            let mut set = tokio::task::JoinSet::new();
            for delivery in claimed {
                let this = self.handle();
                set.spawn(async move { this.attempt(delivery).await });
            }
            let mut first_error = None;
            while let Some(joined) = set.join_next().await {
                if let Ok(Err(e)) = joined {
                    first_error.get_or_insert(e);
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn handle(&self) -> Sender {
        Sender {
            store: self.store.clone(),
            clock: self.clock.clone(),
            entropy: self.entropy.clone(),
            allow_private: self.allow_private,
        }
    }
}

/// What one attempt needs, owned so attempts run as their own tasks.
struct Sender {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    allow_private: bool,
}

/// The start of an answer's body ([`response_excerpt`]): reads at most a little more than the
/// excerpt keeps, however long the body, and for at most [`EXCERPT_TIMEOUT`]; a body that breaks
/// off or stalls keeps what arrived.
async fn read_excerpt(mut response: reqwest::Response) -> Option<String> {
    let deadline = tokio::time::Instant::now() + EXCERPT_TIMEOUT;
    let mut body = Vec::new();
    while body.len() <= RESPONSE_EXCERPT_BYTES {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None) | Err(_)) | Err(_) => break,
        }
    }
    response_excerpt(&body)
}

impl Sender {
    async fn attempt(&self, mut d: WebhookDelivery) -> Result<(), StoreError> {
        let endpoint = match self.store.get_webhook_endpoint(d.org_id, d.endpoint_id).await {
            Ok(e) => e,
            // Deleted meanwhile: its deliveries went with it.
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        let now = self.clock.now();
        let outcome = if endpoint.enabled {
            self.post(&endpoint, &d, now).await
        } else {
            Attempt::Refused("the endpoint is disabled".to_owned())
        };
        d.attempts += 1;
        d.last_attempt_at = Some(now);
        let first = *d.first_attempt_at.get_or_insert(now);
        d.updated_at = now;
        d.next_attempt_at = None;
        d.last_response = None;
        match outcome {
            Attempt::Delivered(status, response) => {
                d.status = DeliveryStatus::Succeeded;
                d.last_status_code = Some(i64::from(status));
                d.last_error = None;
                d.last_response = response;
            }
            Attempt::Gone(response) => {
                d.last_response = response;
                d.status = DeliveryStatus::Failed;
                d.last_status_code = Some(410);
                d.last_error = Some("the receiver answered 410 Gone: the endpoint is disabled".to_owned());
                self.disable(endpoint, now).await?;
            }
            Attempt::Refused(error) => {
                d.status = DeliveryStatus::Failed;
                d.last_status_code = None;
                d.last_error = Some(error);
            }
            Attempt::Failed { status, error, response } => {
                d.last_status_code = status.map(i64::from);
                d.last_response = response;
                match next_retry(d.attempts - 1, first, now, &*self.entropy) {
                    Some(at) => {
                        d.status = DeliveryStatus::Pending;
                        d.next_attempt_at = Some(at);
                        d.last_error = Some(error);
                    }
                    None => {
                        d.status = DeliveryStatus::Failed;
                        d.last_error = Some(format!("{error}; gave up after {} attempts over 3 days", d.attempts));
                    }
                }
            }
        }
        match self.store.update_webhook_delivery(&d).await {
            Err(StoreError::NotFound) => Ok(()),
            other => other,
        }
    }

    async fn post(&self, endpoint: &WebhookEndpoint, d: &WebhookDelivery, now: Timestamp) -> Attempt {
        let url = match reqwest::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(e) => return Attempt::Refused(format!("invalid URL: {e}")),
        };
        let client =
            match frontdesk_flows::guarded_client(&url, self.allow_private, SEND_TIMEOUT, "frontdesk-webhooks").await {
                Ok(c) => c,
                // A refused address stays refused; a name that does not resolve may later.
                Err(e) if e.starts_with("refused") || e.starts_with("only http") => return Attempt::Refused(e),
                Err(e) => return Attempt::Failed { status: None, error: e, response: None },
            };
        let msg_id = message_id(d.id);
        let timestamp = now.unix_seconds();
        let signature = signature_header(&endpoint.signing_secrets(now), &msg_id, timestamp, &d.payload);
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(d.payload.clone());
        let response = match tokio::time::timeout(SEND_TIMEOUT, request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return Attempt::Failed { status: None, error: frontdesk_flows::describe_error(&e), response: None };
            }
            Err(_) => {
                let error = format!("timed out after {} s", SEND_TIMEOUT.as_secs());
                return Attempt::Failed { status: None, error, response: None };
            }
        };
        // The status decides the outcome; the body is only for the log, so a receiver that answers
        // 2xx and then stalls is not retried (it has the event) — its excerpt is just left out.
        let status = response.status().as_u16();
        let said = read_excerpt(response).await;
        match status {
            200..=299 => Attempt::Delivered(status, said),
            410 => Attempt::Gone(said),
            _ => Attempt::Failed {
                status: Some(status),
                error: format!("the receiver answered {status}"),
                response: said,
            },
        }
    }

    /// A 410 turns the endpoint off, with the reason, in the audit log as the system's doing.
    async fn disable(&self, mut endpoint: WebhookEndpoint, now: Timestamp) -> Result<(), StoreError> {
        if !endpoint.enabled {
            return Ok(());
        }
        endpoint.enabled = false;
        endpoint.disabled_reason = Some("the receiver answered 410 Gone".to_owned());
        endpoint.updated_at = now;
        match self.store.update_webhook_endpoint(&endpoint).await {
            Err(StoreError::NotFound) => return Ok(()),
            other => other?,
        }
        tracing::info!(endpoint_id = %endpoint.id, "webhook endpoint disabled: the receiver answered 410");
        // Not `app_api::audit`: no request and no person caused this.
        let event = AuditEvent {
            id: AuditEventId::generate(&*self.clock, &*self.entropy),
            org_id: endpoint.org_id,
            actor_id: None,
            action: "webhook.disable".to_owned(),
            target_kind: "webhook".to_owned(),
            target_id: endpoint.id.to_string(),
            ip: None,
            user_agent: None,
            details: json!({ "url": endpoint.url, "reason": endpoint.disabled_reason }),
            created_at: now,
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(error = %e, "could not write the audit event of a disabled webhook endpoint");
        }
        Ok(())
    }
}

/// A delivery due now.
pub fn pending_delivery(
    id: WebhookDeliveryId,
    endpoint: &WebhookEndpoint,
    event_id: Option<i64>,
    event_type: &str,
    payload: String,
    now: Timestamp,
) -> WebhookDelivery {
    WebhookDelivery {
        id,
        org_id: endpoint.org_id,
        endpoint_id: endpoint.id,
        event_id,
        event_type: event_type.to_owned(),
        payload,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        first_attempt_at: None,
        last_attempt_at: None,
        last_status_code: None,
        last_error: None,
        last_response: None,
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_core::ports::SeededEntropy;

    #[test]
    fn secrets_are_whsec_base64_of_32_bytes_and_sign() {
        let entropy = SeededEntropy::new(11);
        let secret = new_secret(&entropy);
        let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or_default()).unwrap_or_default();
        assert_eq!(key.len(), 32);
        let a = sign(&secret, "msg_1", 1_700_000_000, "{}");
        assert!(a.as_deref().is_some_and(|s| s.starts_with("v1,")), "{a:?}");
        assert_ne!(a, sign(&secret, "msg_1", 1_700_000_001, "{}"), "the timestamp is signed");
        assert_ne!(a, sign(&secret, "msg_2", 1_700_000_000, "{}"), "the id is signed");
        assert_ne!(a, sign(&new_secret(&entropy), "msg_1", 1_700_000_000, "{}"));
        assert_eq!(sign("not-a-secret", "msg_1", 0, "{}"), None);
        assert_eq!(sign("whsec_***", "msg_1", 0, "{}"), None);
    }

    /// The example from the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_specifications_test_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let header = signature_header(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAA"], "m", 1, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }
}
