//! Paddle Billing webhooks through the real router and real stores: notifications built here from
//! Paddle's documented shape and signed here (HMAC-SHA256 of "<ts>:<body>"), independently of the
//! server's verifier.

use crate::support::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::roles::Role;
use frontdesk_core::store::AuditFilter;
use frontdesk_server::config::{Billing, PaddleConfig};
use frontdesk_server::{ServerConfig, admin};
use frontdesk_testkit::chat_api::Reply;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "pdl_ntfset_01test_secret";
const PRO_PRICE: &str = "pri_01pro_seat";
/// The test server's clock, in Unix seconds.
const NOW_SECS: i64 = START_MS / 1000;
const FABRIKAM_OWNER: &str = "owner@fabrikam.test";

fn paddle_config() -> ServerConfig {
    let mut c = roomy_config();
    c.billing_paddle = Some(PaddleConfig {
        webhook_secret: SECRET.to_owned(),
        pro_price_ids: vec![PRO_PRICE.to_owned()],
        tolerance_secs: 300,
    });
    c
}

/// `ts=…;h1=…` for this body, signed with `secret` at `ts`.
fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{ts}:").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("ts={ts};h1={hex}")
}

/// A subscription notification as Paddle sends it. `minute` is when it occurred (minutes after
/// the server's clock), `org` goes into `custom_data` (as the checkout sets it) when given.
fn notification(event_id: &str, event_type: &str, minute: u32, status: &str, seats: u32, org: Option<&str>) -> Value {
    let mut data = json!({
        "id": "sub_01fabrikam",
        "status": status,
        "customer_id": "ctm_01fabrikam",
        "currency_code": "EUR",
        "items": [{"status": "active", "quantity": seats, "price": {"id": PRO_PRICE, "product_id": "pro_01"}}],
        "custom_data": null,
    });
    if let Some(org) = org {
        data["custom_data"] = json!({"org_id": org});
    }
    json!({
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": format!("2025-11-21T04:{:02}:00.123456Z", 40 + minute),
        "notification_id": format!("ntf_{event_id}"),
        "data": data,
    })
}

async fn deliver(server: &TestServer, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).expect("json");
    let sig = signature(SECRET, NOW_SECS, &bytes);
    post_signed(server, bytes, &sig).await
}

async fn post_signed(server: &TestServer, bytes: Vec<u8>, signature: &str) -> Reply {
    let url = format!("{}/api/billing/paddle", server.base);
    raw(
        reqwest::Method::POST,
        &url,
        &[("Paddle-Signature", signature), ("Content-Type", "application/json")],
        Some(bytes),
    )
    .await
}

struct Customer {
    org: frontdesk_core::model::Organization,
    owner: AgentClient,
}

/// A Free organization with its owner logged in.
async fn customer(server: &TestServer) -> Customer {
    let org = admin::create_org(&server.chat, "Fabrikam", Plan::Free).await.expect("org");
    admin::create_user(&server.chat, FABRIKAM_OWNER, "Fay Owner", PASSWORD, Some((org.id, Role::Owner)))
        .await
        .expect("owner");
    Customer { owner: server.login(FABRIKAM_OWNER).await, org }
}

impl Customer {
    async fn view(&self) -> Value {
        let r = self.owner.get(&format!("/api/app/orgs/{}", self.org.id)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    async fn invite(&self, n: u32) -> Reply {
        self.owner
            .post(
                &format!("/api/app/orgs/{}/invites", self.org.id),
                &json!({"email": format!("agent{n}@fabrikam.test")}),
            )
            .await
    }
}

fn result(r: &Reply) -> &str {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["result"].as_str().unwrap_or("")
}

async fn subscription_lifecycle(backend: Backend) {
    let Some(server) = TestServer::start(backend, "paddle", paddle_config()).await else { return };
    let c = customer(&server).await;
    let org = c.org.id.to_string();
    assert_eq!(c.view().await["entitlements"]["seats"], 1);
    assert!(c.view().await["subscription"].is_null());

    // Created by the checkout (custom_data names the org): Pro with its ten seats.
    let created = notification("evt_01", "subscription.created", 0, "active", 10, Some(&org));
    assert_eq!(result(&deliver(&server, &created).await), "applied");
    let v = c.view().await;
    assert_eq!((v["org"]["plan"].as_str(), v["org"]["extra_seats"].as_u64()), (Some("pro"), Some(0)));
    assert_eq!(v["entitlements"]["seats"], 10);
    assert_eq!(
        (v["subscription"]["status"].as_str(), v["subscription"]["past_due"].as_bool()),
        (Some("active"), Some(false))
    );

    // Paddle retries and replays: the same event changes nothing, whatever it now says.
    assert_eq!(result(&deliver(&server, &created).await), "duplicate");
    let replayed = notification("evt_01", "subscription.canceled", 9, "canceled", 10, Some(&org));
    assert_eq!(result(&deliver(&server, &replayed).await), "duplicate");
    assert_eq!(c.view().await["org"]["plan"], "pro");

    // Updated (no custom_data: found by the stored subscription id): 13 seats, 3 of them extra.
    let updated = notification("evt_02", "subscription.updated", 2, "active", 13, None);
    assert_eq!(result(&deliver(&server, &updated).await), "applied");
    let v = c.view().await;
    assert_eq!((v["org"]["extra_seats"].as_u64(), v["entitlements"]["seats"].as_u64()), (Some(3), Some(13)));

    // An older report arriving late is stale.
    let late = notification("evt_00", "subscription.updated", 1, "active", 10, None);
    assert_eq!(result(&deliver(&server, &late).await), "stale");
    assert_eq!(c.view().await["entitlements"]["seats"], 13);

    // Past due: Pro is kept, flagged.
    let due = notification("evt_03", "subscription.past_due", 3, "past_due", 13, None);
    assert_eq!(result(&deliver(&server, &due).await), "applied");
    let v = c.view().await;
    assert_eq!((v["org"]["plan"].as_str(), v["subscription"]["past_due"].as_bool()), (Some("pro"), Some(true)));
    assert_eq!(v["entitlements"]["seats"], 13);
    assert_eq!(c.invite(1).await.status, 201, "Pro seats are still there while past due");

    // Canceled: Free again, and its one seat limits the team again.
    let canceled = notification("evt_04", "subscription.canceled", 4, "canceled", 13, None);
    assert_eq!(result(&deliver(&server, &canceled).await), "applied");
    let v = c.view().await;
    assert_eq!((v["org"]["plan"].as_str(), v["org"]["extra_seats"].as_u64()), (Some("free"), Some(0)));
    assert_eq!(v["entitlements"]["seats"], 1);
    assert_eq!(v["subscription"]["status"], "canceled");
    assert_error(&c.invite(2).await, 402, "plan_limit");

    // Each applied change is audited, by nobody, as billing.paddle.
    let filter = AuditFilter { action: Some("billing.paddle".to_owned()), ..Default::default() };
    let audit = server.chat.store.list_audit(c.org.id, &filter).await.expect("audit");
    assert_eq!(audit.len(), 4, "created, updated, past due, canceled: {audit:?}");
    assert!(audit.iter().all(|e| e.event.actor_id.is_none() && e.event.target_id == "sub_01fabrikam"));
    assert!(audit.iter().any(|e| e.event.details["event_id"] == "evt_04" && e.event.details["plan"] == "free"));

    // Nobody else changed.
    let other = server.chat.store.get_org(server.other_org.id).await.expect("other org");
    assert_eq!((other.plan, other.extra_seats), (Plan::Pro, 0));
}

#[tokio::test]
async fn a_subscription_s_life_sets_the_plan_on_sqlite() {
    subscription_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_subscription_s_life_sets_the_plan_on_postgres() {
    subscription_lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn only_correctly_signed_recent_notifications_are_accepted() {
    let server = TestServer::start(Backend::Sqlite, "paddle-signatures", paddle_config()).await.expect("sqlite");
    let c = customer(&server).await;
    let body = serde_json::to_vec(&notification(
        "evt_10",
        "subscription.created",
        0,
        "active",
        10,
        Some(&c.org.id.to_string()),
    ))
    .expect("json");

    for (what, sig) in [
        ("another secret", signature("pdl_ntfset_wrong", NOW_SECS, &body)),
        ("older than five minutes", signature(SECRET, NOW_SECS - 301, &body)),
        ("from the future", signature(SECRET, NOW_SECS + 301, &body)),
        ("no signature", String::new()),
        ("no ts", signature(SECRET, NOW_SECS, &body).split_once(';').map(|(_, h1)| h1.to_owned()).unwrap_or_default()),
    ] {
        let r = post_signed(&server, body.clone(), &sig).await;
        assert_eq!(r.status, 401, "{what}");
        assert_error(&r, 401, "invalid_signature");
    }
    // The signature covers the exact bytes: the same JSON re-spaced does not verify.
    let sig = signature(SECRET, NOW_SECS, &body);
    let mut respaced = body.clone();
    respaced.push(b' ');
    assert_error(&post_signed(&server, respaced, &sig).await, 401, "invalid_signature");
    assert_eq!(server.chat.store.get_org(c.org.id).await.expect("org").plan, Plan::Free, "nothing applied");

    // During a secret rotation Paddle sends two h1 values; one matching is enough.
    let rotated = format!("{};h1={}", sig, "ab".repeat(32));
    let swapped = format!("ts={NOW_SECS};h1={};{}", "cd".repeat(32), sig.split_once(';').map(|(_, h)| h).unwrap_or(""));
    assert_eq!(result(&post_signed(&server, body.clone(), &rotated).await), "applied");
    assert_eq!(result(&post_signed(&server, body, &swapped).await), "duplicate");
    assert_eq!(server.chat.store.get_org(c.org.id).await.expect("org").plan, Plan::Pro);
}

#[tokio::test]
async fn notifications_for_nobody_or_about_other_things_are_acknowledged_and_ignored() {
    let server = TestServer::start(Backend::Sqlite, "paddle-ignored", paddle_config()).await.expect("sqlite");
    let before = server.chat.store.list_orgs().await.expect("orgs");
    let unknown_org = "0190a000-0000-7000-8000-000000000000";
    let stray = notification("evt_20", "subscription.created", 0, "active", 10, Some(unknown_org));
    assert_eq!(result(&deliver(&server, &stray).await), "ignored");
    let no_org = notification("evt_21", "subscription.updated", 0, "active", 10, None);
    assert_eq!(result(&deliver(&server, &no_org).await), "ignored");
    let mut other = notification("evt_22", "transaction.completed", 0, "completed", 1, None);
    other["data"] = json!({"id": "txn_01", "status": "completed"});
    assert_eq!(result(&deliver(&server, &other).await), "ignored");
    assert_eq!(server.chat.store.list_orgs().await.expect("orgs"), before, "no plan changed");
    // A signed body that is not a notification is a client error (Paddle never sends one).
    let junk = b"not json".to_vec();
    assert_error(
        &post_signed(&server, junk.clone(), &signature(SECRET, NOW_SECS, &junk)).await,
        400,
        "malformed_request",
    );
}

#[tokio::test]
async fn without_paddle_settings_or_with_billing_off_there_is_no_endpoint() {
    let server = TestServer::start(Backend::Sqlite, "paddle-off", roomy_config()).await.expect("sqlite");
    let created = notification("evt_30", "subscription.created", 0, "active", 10, Some(&server.org.id.to_string()));
    assert_error(&deliver(&server, &created).await, 404, "not_found");

    let mut config = paddle_config();
    config.billing = Billing::Off;
    let off = TestServer::start(Backend::Sqlite, "paddle-billing-off", config).await.expect("sqlite");
    let c = customer(&off).await;
    let created = notification("evt_31", "subscription.created", 0, "active", 20, Some(&c.org.id.to_string()));
    assert_error(&deliver(&off, &created).await, 404, "not_found");
    let org = off.chat.store.get_org(c.org.id).await.expect("org");
    assert_eq!((org.plan, org.extra_seats), (Plan::Free, 0), "the plan is left alone");
    assert_eq!(c.view().await["entitlements"]["seats"], Value::Null, "billing off: unlimited anyway");
}
