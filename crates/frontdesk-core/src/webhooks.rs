//! Outgoing webhooks as the domain sees them: the event types an endpoint subscribes to, how a
//! domain event maps to them, endpoints and deliveries as the store keeps them, and the retry
//! schedule. Sending and signing are the server's (they need HTTP and HMAC).

use crate::events::DomainEvent;
use crate::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use crate::ports::Entropy;
use crate::status::ConversationStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum WebhookEventType {
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "conversation.escalated")]
    ConversationEscalated,
    #[serde(rename = "conversation.resolved")]
    ConversationResolved,
    #[serde(rename = "conversation.closed")]
    ConversationClosed,
    #[serde(rename = "conversation.reopened")]
    ConversationReopened,
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "rating.created")]
    RatingCreated,
    #[serde(rename = "visitor.identified")]
    VisitorIdentified,
}

impl WebhookEventType {
    pub const ALL: [WebhookEventType; 8] = [
        Self::ConversationCreated,
        Self::ConversationEscalated,
        Self::ConversationResolved,
        Self::ConversationClosed,
        Self::ConversationReopened,
        Self::MessageCreated,
        Self::RatingCreated,
        Self::VisitorIdentified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConversationCreated => "conversation.created",
            Self::ConversationEscalated => "conversation.escalated",
            Self::ConversationResolved => "conversation.resolved",
            Self::ConversationClosed => "conversation.closed",
            Self::ConversationReopened => "conversation.reopened",
            Self::MessageCreated => "message.created",
            Self::RatingCreated => "rating.created",
            Self::VisitorIdentified => "visitor.identified",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The webhook event a domain event is, if any. A status change is exactly one of them:
    /// leaving `resolved` or `closed` for `active` or `escalated` is a reopening (even when it
    /// lands in the human queue), otherwise the new status names it.
    pub fn of(event: &DomainEvent) -> Option<Self> {
        use ConversationStatus::*;
        match event {
            DomainEvent::ConversationCreated { .. } => Some(Self::ConversationCreated),
            DomainEvent::MessageCreated { .. } => Some(Self::MessageCreated),
            DomainEvent::RatingCreated { .. } => Some(Self::RatingCreated),
            DomainEvent::VisitorIdentified { .. } => Some(Self::VisitorIdentified),
            DomainEvent::StatusChanged { from, to, .. } => match (from, to) {
                (Resolved | Closed, Active | Escalated) => Some(Self::ConversationReopened),
                (_, Escalated) => Some(Self::ConversationEscalated),
                (_, Resolved) => Some(Self::ConversationResolved),
                (_, Closed) => Some(Self::ConversationClosed),
                (_, Active) => None,
            },
            DomainEvent::ReactionSet { .. } | DomainEvent::Assigned { .. } | DomainEvent::NoteCreated { .. } => None,
        }
    }
}

/// An organization's endpoint. `secret` signs every request; during a rotation the previous
/// secret signs too until `previous_secret_expires_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub org_id: OrgId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<WebhookEventType>,
    /// `whsec_` + base64 of the key bytes.
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<Timestamp>,
    pub enabled: bool,
    /// Why the server turned it off (a 410 from the receiver); `None` when a person did.
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    pub fn subscribes_to(&self, event_type: WebhookEventType) -> bool {
        self.event_types.contains(&event_type)
    }

    /// The secrets that sign a request sent at `now`: the current one, and the previous one
    /// while its grace period lasts.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Given up: retries ran out, the endpoint is gone (410) or disabled, or the address is refused.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One message for one endpoint. Its id is the `webhook-id` the receiver sees on every attempt,
/// so a receiver can drop duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub org_id: OrgId,
    pub endpoint_id: WebhookEndpointId,
    /// The outbox event it comes from (`None` for a test event): an event is enqueued once per
    /// endpoint, however many nodes see it.
    pub event_id: Option<i64>,
    pub event_type: String,
    /// The exact JSON body sent (and signed) on every attempt.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    /// The start of the retry window (three days); reset by a manual redelivery.
    pub first_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    /// The start of the receiver's last answer ([`response_excerpt`]), for whoever debugs the
    /// endpoint; `None` when it answered nothing or could not be reached.
    pub last_response: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How much of a receiver's answer a delivery keeps.
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;

/// The first [`RESPONSE_EXCERPT_BYTES`] of an answer's body as text (invalid UTF-8 replaced, cut on a
/// character boundary, `…` when cut); `None` for an empty or blank body.
pub fn response_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_EXCERPT_BYTES + 4)]);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.len() <= RESPONSE_EXCERPT_BYTES && body.len() <= RESPONSE_EXCERPT_BYTES {
        return Some(text.to_owned());
    }
    let mut end = RESPONSE_EXCERPT_BYTES.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}…", &text[..end]))
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<WebhookEndpointId>,
    pub status: Option<DeliveryStatus>,
    /// Only deliveries older than this one (ids sort by creation time): the next page.
    pub before: Option<WebhookDeliveryId>,
    /// Newest first; 0 means 50, capped at 200.
    pub limit: u32,
}

/// Endpoints per organization.
pub const MAX_ENDPOINTS_PER_ORG: usize = 20;
/// Retries stop this long after the first attempt.
pub const RETRY_WINDOW_SECS: i64 = 3 * 86_400;
/// The first retry waits up to this long; each later one up to twice the one before…
pub const FIRST_RETRY_CAP_SECS: i64 = 5;
/// …but never more than this.
pub const MAX_RETRY_CAP_SECS: i64 = 6 * 3600;

/// When attempt number `attempts + 1` is due after a failure at `now`: exponential backoff with
/// full jitter (uniform in `[1 s, cap]`, the cap doubling from 5 s up to 6 hours), or `None` once
/// the three-day window that began at `first_attempt_at` is over.
pub fn next_retry(
    attempts: i64,
    first_attempt_at: Timestamp,
    now: Timestamp,
    entropy: &dyn Entropy,
) -> Option<Timestamp> {
    let exponent = u32::try_from(attempts.clamp(0, 32)).unwrap_or(32);
    let cap_secs =
        FIRST_RETRY_CAP_SECS.saturating_mul(1_i64.checked_shl(exponent).unwrap_or(i64::MAX)).min(MAX_RETRY_CAP_SECS);
    let mut bytes = [0u8; 8];
    entropy.fill(&mut bytes);
    let cap_ms = cap_secs * 1000;
    let wait_ms = 1000 + (u64::from_le_bytes(bytes) % (cap_ms as u64 - 999)) as i64;
    let at = now.plus_millis(wait_ms);
    (at <= first_attempt_at.plus_seconds(RETRY_WINDOW_SECS)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_excerpts_are_short_text() {
        assert_eq!(response_excerpt(b""), None);
        assert_eq!(response_excerpt(b"  \n "), None);
        assert_eq!(response_excerpt(b" {\"ok\":false} \n").as_deref(), Some("{\"ok\":false}"));
        assert_eq!(response_excerpt(b"bad \xff byte").as_deref(), Some("bad \u{fffd} byte"));
        let long = "é".repeat(RESPONSE_EXCERPT_BYTES);
        let cut = response_excerpt(long.as_bytes()).expect("text");
        assert!(cut.ends_with('…') && cut.len() <= RESPONSE_EXCERPT_BYTES + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.trim_end_matches('…').chars().all(|c| c == 'é'), "cut on a character boundary");
        let exact = "x".repeat(RESPONSE_EXCERPT_BYTES);
        assert_eq!(response_excerpt(exact.as_bytes()), Some(exact.clone()), "exactly the limit is kept whole");
    }
    use crate::ids::{ConversationId, Uuid};
    use crate::ports::SeededEntropy;

    fn status(from: ConversationStatus, to: ConversationStatus) -> DomainEvent {
        DomainEvent::StatusChanged { conversation_id: ConversationId(Uuid::nil()), from, to }
    }

    #[test]
    fn status_changes_map_to_one_event_each() {
        use ConversationStatus::*;
        use WebhookEventType as W;
        for (from, to, expected) in [
            (Active, Escalated, Some(W::ConversationEscalated)),
            (Active, Resolved, Some(W::ConversationResolved)),
            (Escalated, Resolved, Some(W::ConversationResolved)),
            (Escalated, Closed, Some(W::ConversationClosed)),
            (Resolved, Closed, Some(W::ConversationClosed)),
            (Resolved, Escalated, Some(W::ConversationReopened)),
            (Closed, Active, Some(W::ConversationReopened)),
            (Escalated, Active, None),
        ] {
            assert_eq!(WebhookEventType::of(&status(from, to)), expected, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn event_type_names_round_trip_and_match_serde() {
        for t in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(serde_json::Value::String(t.as_str().to_owned())));
        }
        assert_eq!(WebhookEventType::parse("conversation.assigned"), None);
    }

    #[test]
    fn retries_back_off_with_jitter_and_stop_after_three_days() {
        let entropy = SeededEntropy::new(3);
        let start = Timestamp(1_000_000);
        let mut previous_cap = 0;
        for attempts in 0..20 {
            let at = next_retry(attempts, start, start, &entropy).expect("inside the window");
            let wait = at.0 - start.0;
            let cap = (FIRST_RETRY_CAP_SECS << attempts.min(20)).min(MAX_RETRY_CAP_SECS) * 1000;
            assert!((1000..=cap).contains(&wait), "attempt {attempts}: {wait} ms, cap {cap}");
            assert!(cap >= previous_cap);
            previous_cap = cap;
        }
        // Jitter: the same attempt does not always wait the same.
        let waits: std::collections::HashSet<i64> =
            (0..20).filter_map(|_| next_retry(6, start, start, &entropy)).map(|t| t.0).collect();
        assert!(waits.len() > 10, "{waits:?}");
        let late = start.plus_seconds(RETRY_WINDOW_SECS - 1);
        assert_eq!(next_retry(30, start, late.plus_seconds(2), &entropy), None);
    }

    #[test]
    fn the_previous_secret_signs_only_until_it_expires() {
        let mut e = WebhookEndpoint {
            id: WebhookEndpointId(Uuid::nil()),
            org_id: OrgId(Uuid::nil()),
            url: "https://example.com".into(),
            description: String::new(),
            event_types: vec![WebhookEventType::MessageCreated],
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_expires_at: Some(Timestamp(100)),
            enabled: true,
            disabled_reason: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        };
        assert_eq!(e.signing_secrets(Timestamp(99)), vec!["whsec_new", "whsec_old"]);
        assert_eq!(e.signing_secrets(Timestamp(100)), vec!["whsec_new"]);
        e.previous_secret = None;
        assert_eq!(e.signing_secrets(Timestamp(0)), vec!["whsec_new"]);
        assert!(e.subscribes_to(WebhookEventType::MessageCreated));
        assert!(!e.subscribes_to(WebhookEventType::RatingCreated));
    }
}
