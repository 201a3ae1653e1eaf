//! Paddle Billing webhooks: `POST /api/billing/paddle` keeps an organization's plan in step with
//! its subscription. Public (Paddle calls it), authenticated by the `Paddle-Signature` header:
//! `ts=<unix seconds>;h1=<hex HMAC-SHA256 of "<ts>:<raw body>">`, with the destination's secret.
//! See docs/billing.md for what each event does.

use crate::app_api::audit;
use crate::config::{Billing, PaddleConfig};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::ClientMeta;
use crate::identity::hex_decode;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use frontdesk_core::billing::{Subscription, SubscriptionApplied, SubscriptionStatus};
use frontdesk_core::store::StoreError;
use frontdesk_core::{OrgId, Timestamp};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/billing/paddle", post(paddle_webhook))
}

/// The subscription events that change an organization's plan.
const SUBSCRIPTION_EVENTS: [&str; 5] = [
    "subscription.created",
    "subscription.updated",
    "subscription.activated",
    "subscription.canceled",
    "subscription.past_due",
];

/// Whether `header` signs `body` with `secret` at a time within `tolerance_secs` of `now_secs`.
/// Several `h1` values may be present while a secret is rotated; any one may match.
pub fn verify_paddle_signature(secret: &str, header: &str, body: &[u8], now_secs: i64, tolerance_secs: u64) -> bool {
    let mut ts: Option<&str> = None;
    let mut signatures = Vec::new();
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("ts", v)) => ts = Some(v),
            Some(("h1", v)) => signatures.extend(hex_decode(v)),
            _ => {}
        }
    }
    let Some(ts_text) = ts else { return false };
    let Ok(ts) = ts_text.parse::<i64>() else { return false };
    if now_secs.abs_diff(ts) > tolerance_secs {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(ts_text.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    signatures.iter().any(|tag| mac.clone().verify_slice(tag).is_ok())
}

#[derive(Deserialize)]
struct Notification {
    event_id: String,
    event_type: String,
    #[serde(default)]
    occurred_at: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct SubscriptionData {
    id: String,
    status: String,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    custom_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    quantity: u32,
    #[serde(default)]
    price: Option<Price>,
}

#[derive(Deserialize)]
struct Price {
    id: String,
}

/// What became of a webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookResult {
    /// `applied`; `duplicate` (this event was handled before); `stale` (a later change is applied
    /// already); `ignored` (not a subscription event, or no organization of ours).
    pub result: String,
}

fn result(text: &str) -> Json<WebhookResult> {
    Json(WebhookResult { result: text.to_owned() })
}

/// Paddle Billing's notifications. Answers 2xx for everything it will not act on (Paddle retries
/// anything else), 401 for a bad signature, 404 when Paddle is not configured or billing is off.
#[utoipa::path(post, path = "/api/billing/paddle", tag = "billing",
    params(("Paddle-Signature" = String, Header, description = "`ts=<unix seconds>;h1=<hex HMAC-SHA256 of \"<ts>:<body>\">`")),
    request_body(content = Object, description = "A Paddle Billing notification (`event_id`, `event_type`, `occurred_at`, `data`)"),
    responses(
        (status = 200, body = WebhookResult),
        (status = 401, description = "invalid_signature", body = ErrorBody),
        (status = 404, description = "not_found: Paddle is not configured, or billing is off", body = ErrorBody),
    ))]
pub async fn paddle_webhook(
    State(st): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookResult>, ApiError> {
    let config: &PaddleConfig = match (&st.config.billing_paddle, st.config.billing) {
        (Some(config), Billing::On) => config,
        _ => return Err(ApiError::new(ErrorCode::NotFound, "Paddle billing is not set up on this server")),
    };
    let signature = headers.get("paddle-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let now = st.now();
    if !verify_paddle_signature(&config.webhook_secret, signature, &body, now.0.div_euclid(1000), config.tolerance_secs)
    {
        return Err(ApiError::new(ErrorCode::InvalidSignature, "the Paddle-Signature does not verify"));
    }
    let notification: Notification = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedRequest, format!("not a Paddle notification: {e}")))?;
    if !SUBSCRIPTION_EVENTS.contains(&notification.event_type.as_str()) {
        return Ok(result("ignored"));
    }
    let data: SubscriptionData = serde_json::from_value(notification.data)
        .map_err(|e| ApiError::new(ErrorCode::MalformedRequest, format!("not a subscription: {e}")))?;
    let Some(status) = SubscriptionStatus::parse(&data.status) else {
        tracing::warn!(status = %data.status, "a Paddle subscription in an unknown status was ignored");
        return Ok(result("ignored"));
    };
    let Some(org_id) = organization_of(&st, &data).await? else {
        // 2xx: Paddle would retry an error for days, and no retry can make the org appear.
        tracing::warn!(subscription = %data.id, event = %notification.event_id, "a Paddle subscription of no known organization was ignored");
        return Ok(result("ignored"));
    };
    let pro_items: Vec<&Item> = data
        .items
        .iter()
        .filter(|item| {
            config.pro_price_ids.is_empty() || item.price.as_ref().is_some_and(|p| config.pro_price_ids.contains(&p.id))
        })
        .collect();
    let pro_seats =
        (!pro_items.is_empty()).then(|| pro_items.iter().fold(0u32, |sum, item| sum.saturating_add(item.quantity)));
    let (plan, extra_seats) = Subscription::entitles(status, pro_seats);
    let occurred_at = notification.occurred_at.as_deref().and_then(Timestamp::parse_rfc3339).unwrap_or(now);
    let subscription = Subscription {
        subscription_id: data.id.clone(),
        customer_id: data.customer_id.clone(),
        status,
        plan,
        extra_seats,
        occurred_at,
    };
    let applied = match st.chat.store.apply_subscription(org_id, &notification.event_id, &subscription, now).await {
        Ok(applied) => applied,
        // Deleted between the lookup and now.
        Err(StoreError::NotFound) => return Ok(result("ignored")),
        Err(e) => return Err(e.into()),
    };
    Ok(match applied {
        SubscriptionApplied::Applied => {
            let details = serde_json::json!({
                "event_id": notification.event_id, "event_type": notification.event_type,
                "status": status.as_str(), "plan": plan.as_str(), "extra_seats": extra_seats,
            });
            audit(&st, org_id, None, "billing.paddle", ("subscription", data.id), &meta, details).await;
            result("applied")
        }
        SubscriptionApplied::Duplicate => result("duplicate"),
        SubscriptionApplied::Stale => result("stale"),
    })
}

/// The organization the checkout named (`custom_data.org_id`), else the one holding this
/// subscription id already.
async fn organization_of(st: &AppState, data: &SubscriptionData) -> Result<Option<OrgId>, ApiError> {
    let named = data
        .custom_data
        .as_ref()
        .and_then(|c| c.get("org_id"))
        .and_then(|v| v.as_str())
        .and_then(|text| text.parse::<OrgId>().ok());
    if let Some(org_id) = named {
        match st.chat.store.get_org(org_id).await {
            Ok(org) => return Ok(Some(org.id)),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match st.chat.store.find_org_by_subscription(&data.id).await {
        Ok(org_id) => Ok(Some(org_id)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| panic!("any key length"));
        mac.update(format!("{ts}:").as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn signatures_verify_only_with_the_secret_the_body_and_a_recent_time() {
        let body = br#"{"event_id":"evt_1"}"#;
        let good = sign("s3cret", 1_000, body);
        let header = format!("ts=1000;h1={good}");
        assert!(verify_paddle_signature("s3cret", &header, body, 1_000, 300));
        assert!(verify_paddle_signature("s3cret", &header, body, 1_300, 300), "at the edge of the window");
        assert!(!verify_paddle_signature("s3cret", &header, body, 1_301, 300), "too old");
        assert!(!verify_paddle_signature("s3cret", &header, body, 699, 300), "from the future");
        assert!(!verify_paddle_signature("other", &header, body, 1_000, 300));
        assert!(!verify_paddle_signature("s3cret", &header, br#"{"event_id":"evt_2"}"#, 1_000, 300));
        assert!(!verify_paddle_signature("s3cret", &format!("ts=1001;h1={good}"), body, 1_000, 300), "ts is signed");
        assert!(verify_paddle_signature("s3cret", &format!("ts=1000;h1=00ff;h1={good}"), body, 1_000, 300), "rotation");
        assert!(!verify_paddle_signature("s3cret", &format!("h1={good}"), body, 1_000, 300), "no ts");
        assert!(!verify_paddle_signature("s3cret", "ts=1000", body, 1_000, 300), "no h1");
        assert!(!verify_paddle_signature("s3cret", "", body, 1_000, 300));
        assert!(!verify_paddle_signature("s3cret", "ts=x;h1=zz", body, 1_000, 300));
    }
}
