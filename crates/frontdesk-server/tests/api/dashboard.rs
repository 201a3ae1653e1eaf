//! What the dashboard needs from the private API: the inbox's filters and unread counts,
//! assignment, private notes, the visitor panel, canned responses, the team with invitations and
//! seats, the widget's draft and publish, keys, reports, the gap report and the audit export —
//! with email through a real local SMTP server.

use crate::support::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::roles::Role;
use frontdesk_server::ServerConfig;
use frontdesk_testkit::chat_api::{ChatClient, Session};
use frontdesk_testkit::smtp::{ReceivedMail, SmtpSink};
use serde_json::{Value, json};
use std::time::Duration;

fn ids(list: &Value) -> Vec<String> {
    list.as_array().map(|l| l.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

async fn conversation(client: &ChatClient, first: &str) -> Session {
    let s = client.start().await;
    let r = client.say(&s, first).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    s
}

/// The inbox, assignment, notes, the visitor panel and canned responses.
async fn inbox_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let org = server.org.id;
    let list = format!("/api/app/orgs/{org}/conversations");
    let client = server.browser();

    let lamp = conversation(&client, "My halogen lamp flickers at night").await;
    server.clock.advance_seconds(60);
    let refund = conversation(&client, "How do refunds work for broken bulbs?").await;
    server.clock.advance_seconds(60);
    let human = conversation(&client, "I want to talk to a human").await;
    server.clock.advance_seconds(60);

    // Full-text search over messages: words in any order, a prefix, and hostile text.
    let found = |q: &'static str| {
        let path = format!("{list}?q={}", urlencode(q));
        let member = &member;
        async move {
            let r = member.get(&path).await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.body);
            ids(&r.body["conversations"])
        }
    };
    assert_eq!(found("flickers lamp").await, vec![lamp.id.clone()]);
    assert_eq!(found("refu").await, vec![refund.id.clone()], "the last word is a prefix");
    assert!(found("lamp refunds").await.is_empty(), "all words must match");
    for hostile in ["\"", "*", "NEAR(", "'; DROP TABLE messages; --", "%", "_", ":*", "!", "()"] {
        assert!(found(hostile).await.is_empty(), "{hostile} matches nothing and errs on nothing");
    }
    assert_eq!(member.get(&list).await.body["conversations"].as_array().map(Vec::len), Some(3));
    assert_error(&member.get(&format!("{list}?q={}", "x".repeat(201))).await, 422, "invalid_field");

    // Pages: a full page carries `next_cursor`, the cursor gives the rest, the last page none.
    let first = member.get(&format!("{list}?limit=2")).await;
    assert_eq!(ids(&first.body["conversations"]), vec![human.id.clone(), refund.id.clone()], "newest first");
    let cursor = first.body["next_cursor"].as_str().map(str::to_owned).unwrap_or_default();
    assert!(!cursor.is_empty(), "a full page says where the next one starts: {:?}", first.body);
    let second = member.get(&format!("{list}?limit=2&cursor={}", urlencode(&cursor))).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(ids(&second.body["conversations"]), vec![lamp.id.clone()]);
    assert!(second.body.get("next_cursor").is_none(), "the last page has no cursor: {:?}", second.body);
    let oldest = member.get(&format!("{list}?limit=1&sort=oldest")).await;
    let next = oldest.body["next_cursor"].as_str().map(str::to_owned).unwrap_or_default();
    let then = member.get(&format!("{list}?limit=1&sort=oldest&cursor={}", urlencode(&next))).await;
    assert_eq!(ids(&then.body["conversations"]).len(), 1, "{:?}", then.body);
    assert_ne!(ids(&then.body["conversations"]), ids(&oldest.body["conversations"]), "the next page, not the same");
    for bad in ["nonsense", "12.not-an-id", "x.y"] {
        assert_error(&member.get(&format!("{list}?cursor={bad}")).await, 422, "invalid_field");
    }

    // Items carry the visitor, the newest message and unread counts.
    let items = member.get(&list).await.body["conversations"].clone();
    let item = |id: &str| items.as_array().and_then(|a| a.iter().find(|i| i["id"] == id)).cloned().unwrap_or_default();
    let lamp_item = item(&lamp.id);
    assert!(lamp_item["last_message"]["body"].is_string(), "{lamp_item}");
    assert!(lamp_item["unread"].as_i64().is_some_and(|n| n >= 1), "{lamp_item}");
    assert_eq!(lamp_item["status"], "active");
    assert_eq!(item(&human.id)["status"], "escalated");
    assert!(item(&human.id)["escalated_at"].is_string());

    // The escalation queue, oldest first, and the badges.
    let queue = member.get(&format!("{list}?status=escalated&sort=oldest")).await;
    assert_eq!(ids(&queue.body["conversations"]), vec![human.id.clone()]);
    let summary = member.get(&format!("{list}/summary")).await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    assert_eq!(summary.body["escalated"], 1);
    assert_eq!(summary.body["unassigned"], 3);
    assert_eq!(summary.body["mine"], 0);
    assert_eq!(summary.body["unread_conversations"], 3);
    assert_error(&member.get(&format!("{list}?sort=sideways")).await, 422, "invalid_field");
    assert_error(&member.get(&format!("{list}?rating_max=9")).await, 422, "invalid_field");
    assert_error(&member.get(&format!("{list}?assignee=someone")).await, 422, "invalid_field");

    // Read marks move the unread count, never backwards.
    let one = format!("{list}/{}", lamp.id);
    let last_seq = member.get(&one).await.body["conversation"]["last_seq"].as_i64().unwrap_or(0);
    assert_eq!(member.post(&format!("{one}/read"), &json!({"seq": last_seq})).await.status, 204);
    assert_eq!(member.post(&format!("{one}/read"), &json!({"seq": 0})).await.status, 204);
    let after = member.get(&list).await.body["conversations"].clone();
    let unread =
        after.as_array().and_then(|a| a.iter().find(|i| i["id"] == lamp.id.as_str())).map(|i| i["unread"].clone());
    assert_eq!(unread, Some(json!(0)));
    let theirs = owner.get(&list).await.body["conversations"].clone();
    assert!(
        theirs.as_array().is_some_and(|a| a.iter().any(|i| i["id"] == lamp.id.as_str() && i["unread"] != 0)),
        "read marks are per agent"
    );
    assert_error(&member.post(&format!("{one}/read"), &json!({"seq": -1})).await, 422, "invalid_field");

    // Assignment: take over, filter by assignee, non-members and other tenants are not found.
    let take = member.post(&format!("{list}/{}/assign", human.id), &json!({"assignee_id": server.member.id})).await;
    assert_eq!((take.status, take.body["assignee_id"].clone()), (200, json!(server.member.id)), "{:?}", take.body);
    let mine = member.get(&format!("{list}?assignee=me")).await;
    assert_eq!(ids(&mine.body["conversations"]), vec![human.id.clone()]);
    let unassigned = member.get(&format!("{list}?assignee=unassigned")).await;
    assert_eq!(ids(&unassigned.body["conversations"]).len(), 2);
    let by_id = owner.get(&format!("{list}?assignee={}", server.member.id)).await;
    assert_eq!(ids(&by_id.body["conversations"]), vec![human.id.clone()]);
    let stranger = member.post(&format!("{one}/assign"), &json!({"assignee_id": server.outsider.id})).await;
    assert_error(&stranger, 404, "not_found");
    let other_org = server.other_org.id;
    let cross = outsider
        .post(&format!("/api/app/orgs/{other_org}/conversations/{}/assign", lamp.id), &json!({"assignee_id": null}))
        .await;
    assert_error(&cross, 404, "not_found");

    // Private notes: agents see them with mentions; the visitor never does.
    let note = member
        .post(
            &format!("{list}/{}/notes", human.id),
            &json!({"content": "VIP customer, @olive.owner? no: @OliveOwner please look"}),
        )
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
    assert_eq!(note.body["mentions"], json!([server.owner.id]));
    let detail = owner.get(&format!("{list}/{}", human.id)).await;
    assert_eq!(detail.body["notes"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail.body["notes"][0]["author_id"], json!(server.member.id));
    let visible = client.history(&human).await;
    assert!(!Value::Array(visible).to_string().contains("VIP customer"), "notes never reach the visitor");
    assert_error(
        &outsider
            .post(&format!("/api/app/orgs/{other_org}/conversations/{}/notes", human.id), &json!({"content": "x"}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &member.post(&format!("{list}/{}/notes", human.id), &json!({"content": " "})).await,
        422,
        "invalid_field",
    );

    // The visitor panel: pages, earlier conversations, params, conversions.
    let event = client
        .post("/api/chat/events", Some(&lamp.token), &json!({"session_id": lamp.id, "kind": "page_view", "url": "https://shop.example.com/lamps/halo", "title": "Halo lamp"}))
        .await;
    assert!(event.status < 300, "{:?}", event.body);
    let conversion = client
        .post(
            "/api/chat/events",
            Some(&lamp.token),
            &json!({"session_id": lamp.id, "kind": "conversion", "name": "purchase"}),
        )
        .await;
    assert!(conversion.status < 300, "{:?}", conversion.body);
    let panel = member.get(&format!("{one}/visitor")).await;
    assert_eq!(panel.status, 200, "{:?}", panel.body);
    assert_eq!(panel.body["visitor"]["id"], lamp.visitor_id.as_str());
    assert!(
        panel.body["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["url"] == "https://shop.example.com/lamps/halo"))
    );
    assert_eq!(panel.body["conversions"], 1);
    assert!(panel.body["session_count"].as_u64().is_some_and(|n| n >= 1));
    assert_error(
        &outsider.get(&format!("/api/app/orgs/{other_org}/conversations/{}/visitor", lamp.id)).await,
        404,
        "not_found",
    );

    // Canned responses: admins write, everyone reads, shortcuts are unique.
    let canned = format!("/api/app/orgs/{org}/canned-responses");
    let body = json!({"shortcut": "Refund", "title": "Refund policy", "body": "Refunds take **5 days**."});
    assert_error(&member.post(&canned, &body).await, 403, "forbidden");
    let created = owner.post(&canned, &body).await;
    assert_eq!((created.status, created.body["shortcut"].clone()), (201, json!("refund")), "{:?}", created.body);
    assert_error(&owner.post(&canned, &body).await, 422, "invalid_field");
    assert_error(
        &owner.post(&canned, &json!({"shortcut": "bad shortcut!", "title": "x", "body": "y"})).await,
        422,
        "invalid_field",
    );
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let updated = owner
        .send(
            reqwest::Method::PUT,
            &format!("{canned}/{id}"),
            Some(&json!({"shortcut": "refund", "title": "Refunds", "body": "Five days."})),
        )
        .await;
    assert_eq!((updated.status, updated.body["title"].clone()), (200, json!("Refunds")), "{:?}", updated.body);
    assert_eq!(member.get(&canned).await.body["canned_responses"][0]["body"], "Five days.");
    let theirs = outsider.get(&format!("/api/app/orgs/{other_org}/canned-responses")).await;
    assert_eq!((theirs.status, theirs.body["canned_responses"].clone()), (200, json!([])));
    let gone =
        outsider.send(reqwest::Method::DELETE, &format!("/api/app/orgs/{other_org}/canned-responses/{id}"), None).await;
    assert_error(&gone, 404, "not_found");
    assert_eq!(owner.send(reqwest::Method::DELETE, &format!("{canned}/{id}"), None).await.status, 204);
    assert_eq!(member.get(&canned).await.body["canned_responses"], json!([]));
}

/// Percent-encodes a query value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The team: seats, invitations by link (new and existing accounts), roles and removal.
async fn team_suite(server: &TestServer, smtp: &SmtpSink) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let org = server.org.id;
    let invites = format!("/api/app/orgs/{org}/invites");

    let team = member.get(&format!("/api/app/orgs/{org}/members")).await;
    assert_eq!(team.status, 200, "{:?}", team.body);
    assert_eq!(team.body["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(team.body["seats"], json!({"used": 2, "limit": 10}));
    let me = owner.get(&format!("/api/app/orgs/{org}")).await;
    assert_eq!(
        (me.body["org"]["plan"].clone(), me.body["role"].clone()),
        (json!("pro"), json!("owner")),
        "{:?}",
        me.body
    );

    // Members may not invite; an owner may, as member or admin but never as owner.
    assert_error(&member.post(&invites, &json!({"email": "new@northwind.test"})).await, 403, "forbidden");
    assert_error(
        &owner.post(&invites, &json!({"email": "x@northwind.test", "role": "owner"})).await,
        422,
        "invalid_field",
    );
    assert_error(&owner.post(&invites, &json!({"email": MEMBER_EMAIL})).await, 409, "conflict");
    let invited = owner.post(&invites, &json!({"email": "New.Agent@Northwind.test"})).await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    assert_eq!(invited.body["invite"]["email"], "new.agent@northwind.test");
    assert_eq!(invited.body["invite"]["role"], "member");
    assert_error(&owner.post(&invites, &json!({"email": "new.agent@northwind.test"})).await, 409, "conflict");
    let link = invited.body["link"].as_str().unwrap_or_default().to_owned();
    let token = link.rsplit('/').next().unwrap_or_default().to_owned();
    assert!(link.starts_with(&format!("{}/app/#/invite/inv1.", server.base)), "{link}");

    // The invitation is emailed with the link.
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t.contains("new.agent@northwind.test")))
        .expect("the invitation email");
    assert!(mail.body_text().contains(&token), "{}", mail.body_text());

    // A forged or altered link finds nothing; the real one shows the invitation.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let anonymous = AgentClient::new(&server.base);
    assert_error(&anonymous.get(&format!("/api/app/invites/{forged}")).await, 404, "not_found");
    let shown = anonymous.get(&format!("/api/app/invites/{token}")).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(
        (shown.body["org_name"].clone(), shown.body["existing_user"].clone()),
        (json!("Northwind"), json!(false))
    );

    // Accepting creates the account, logs it in, and the link is spent.
    let weak = anonymous
        .post(&format!("/api/app/invites/{token}/accept"), &json!({"name": "Nia New", "password": "short"}))
        .await;
    assert_error(&weak, 422, "invalid_field");
    let joined = anonymous
        .post(&format!("/api/app/invites/{token}/accept"), &json!({"name": "Nia New", "password": PASSWORD}))
        .await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);
    let cookie = joined
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .and_then(|kv| kv.strip_prefix("fd_session="))
        .map(str::to_owned);
    *anonymous.cookie.lock().expect("cookie") = cookie;
    let me = anonymous.get("/api/app/me").await;
    assert_eq!(me.body["memberships"][0]["role"], "member", "{:?}", me.body);
    assert_error(
        &AgentClient::new(&server.base)
            .post(&format!("/api/app/invites/{token}/accept"), &json!({"name": "Again", "password": PASSWORD}))
            .await,
        404,
        "not_found",
    );
    let new_id = me.body["user"]["id"].as_str().unwrap_or_default().to_owned();

    // An existing account joins by accepting while logged in as itself.
    let other_invite = owner.post(&invites, &json!({"email": OUTSIDER_EMAIL, "role": "admin"})).await;
    assert_eq!(other_invite.status, 201, "{:?}", other_invite.body);
    let other_token =
        other_invite.body["link"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
    assert_eq!(anonymous.get(&format!("/api/app/invites/{other_token}")).await.body["existing_user"], true);
    assert_error(
        &AgentClient::new(&server.base).post(&format!("/api/app/invites/{other_token}/accept"), &json!({})).await,
        401,
        "not_authenticated",
    );
    assert_error(&member.post(&format!("/api/app/invites/{other_token}/accept"), &json!({})).await, 403, "forbidden");
    let outsider = server.login(OUTSIDER_EMAIL).await;
    let accepted = outsider.post(&format!("/api/app/invites/{other_token}/accept"), &json!({})).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(outsider.get(&format!("/api/app/orgs/{org}/conversations")).await.status, 200, "now a member of both");

    // Roles: the permission table decides; the last owner stays.
    let members = format!("/api/app/orgs/{org}/members");
    assert_error(&member.patch(&format!("{members}/{new_id}"), &json!({"role": "admin"})).await, 403, "forbidden");
    let promoted = owner.patch(&format!("{members}/{new_id}"), &json!({"role": "admin"})).await;
    assert_eq!((promoted.status, promoted.body["role"].clone()), (200, json!("admin")), "{:?}", promoted.body);
    assert_error(
        &anonymous.patch(&format!("{members}/{}", server.owner.id), &json!({"role": "member"})).await,
        403,
        "forbidden",
    );
    assert_error(
        &owner.patch(&format!("{members}/{}", server.owner.id), &json!({"role": "member"})).await,
        409,
        "conflict",
    );
    assert_error(
        &owner.patch(&format!("{members}/{}", uuid::Uuid::now_v7()), &json!({"role": "member"})).await,
        404,
        "not_found",
    );
    let removed = anonymous.send(reqwest::Method::DELETE, &format!("{members}/{}", server.outsider.id), None).await;
    assert_eq!(removed.status, 204, "an admin removes a member: {:?}", removed.body);
    assert_error(&outsider.get(&format!("/api/app/orgs/{org}/conversations")).await, 404, "not_found");

    // Notification preferences are the caller's own.
    let prefs = member
        .send(
            reqwest::Method::PUT,
            &format!("/api/app/orgs/{org}/notifications"),
            Some(&json!({"email_escalations": false, "email_mentions": true})),
        )
        .await;
    assert_eq!(prefs.status, 200, "{:?}", prefs.body);
    let team = owner.get(&members).await;
    let mine = team.body["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["user_id"] == json!(server.member.id)))
        .cloned();
    assert_eq!(mine.map(|m| m["notify"].clone()), Some(json!({"email_escalations": false, "email_mentions": true})));

    // Revoking an invitation kills its link; seats are counted with pending invitations.
    let pending = owner.post(&invites, &json!({"email": "later@northwind.test"})).await;
    let pending_token =
        pending.body["link"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
    let seats = owner.get(&members).await.body["seats"].clone();
    assert_eq!(seats["used"], 4, "three members and one invitation: {seats}");
    let id = pending.body["invite"]["id"].as_str().unwrap_or_default();
    assert_eq!(owner.send(reqwest::Method::DELETE, &format!("{invites}/{id}"), None).await.status, 204);
    assert_error(&anonymous.get(&format!("/api/app/invites/{pending_token}")).await, 404, "not_found");
}

/// A Free organization has one seat and no branding removal or audit export.
async fn free_plan_suite(server: &TestServer) {
    let free = frontdesk_server::admin::create_org(&server.chat, "Tiny", Plan::Free).await.expect("org");
    frontdesk_server::admin::create_user(
        &server.chat,
        "solo@tiny.test",
        "Solo",
        PASSWORD,
        Some((free.id, Role::Owner)),
    )
    .await
    .expect("owner");
    let site = frontdesk_server::admin::create_site(&server.chat, free.id, "Tiny shop", &[]).await.expect("site");
    let solo = server.login("solo@tiny.test").await;
    let invite = solo.post(&format!("/api/app/orgs/{}/invites", free.id), &json!({"email": "two@tiny.test"})).await;
    assert_error(&invite, 402, "plan_limit");
    assert!(invite.body["error"]["message"].as_str().is_some_and(|m| m.contains("seat")), "{:?}", invite.body);
    let no_branding = solo
        .patch(&format!("/api/app/orgs/{}/sites/{}", free.id, site.id), &json!({"widget": {"show_branding": false}}))
        .await;
    assert_error(&no_branding, 402, "plan_limit");
    assert_error(&solo.get(&format!("/api/app/orgs/{}/audit?format=csv", free.id)).await, 402, "plan_limit");
    assert_eq!(solo.get(&format!("/api/app/orgs/{}/audit", free.id)).await.status, 200, "reading is not exporting");
}

/// The widget's draft and publish, the embed snippet, key rotation with a grace period, the
/// identity secret.
async fn site_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let org = server.org.id;
    let site = format!("/api/app/orgs/{org}/sites/{}", server.site.id);
    let widget = server.browser();
    let published = |c: &ChatClient| {
        let c = c.clone();
        async move { c.get("/api/chat/config", None).await.body["widget"]["primary_color"].clone() }
    };
    let before = published(&widget).await;

    let draft = owner.patch(&site, &json!({"widget": {"primary_color": "#FF5500", "title": "Help"}})).await;
    assert_eq!(draft.status, 200, "{:?}", draft.body);
    assert_eq!(draft.body["widget_draft"]["primary_color"], "#ff5500");
    assert_eq!(draft.body["widget"]["primary_color"], before, "the published one is untouched");
    assert_eq!(published(&widget).await, before, "widgets only ever read the published configuration");
    assert_error(&owner.patch(&site, &json!({"widget": {"primary_color": "orange"}})).await, 422, "invalid_field");
    assert_error(
        &owner
            .patch(&site, &json!({"widget": {"channels": [{"kind": "fax", "label": "Fax", "url": "https://x"}]}}))
            .await,
        422,
        "invalid_field",
    );
    assert_error(&member.post(&format!("{site}/widget/publish"), &json!({})).await, 403, "forbidden");
    let live = owner.post(&format!("{site}/widget/publish"), &json!({})).await;
    assert_eq!((live.status, live.body["widget"]["primary_color"].clone()), (200, json!("#ff5500")), "{:?}", live.body);
    assert_eq!(live.body["widget_draft"], Value::Null);
    assert_eq!(published(&widget).await, "#ff5500");
    assert_error(&owner.post(&format!("{site}/widget/publish"), &json!({})).await, 409, "conflict");
    owner.patch(&site, &json!({"widget": {"primary_color": "#000000"}})).await;
    let discarded = owner.post(&format!("{site}/widget/discard"), &json!({})).await;
    assert_eq!(discarded.body["widget_draft"], Value::Null);
    assert_eq!(published(&widget).await, "#ff5500");

    // The embed snippet names the key and the loader's integrity hash.
    let embed = member.get(&format!("{site}/embed")).await;
    assert_eq!(embed.status, 200, "{:?}", embed.body);
    let snippet = embed.body["snippet"].as_str().unwrap_or_default();
    assert!(snippet.contains(&server.site.public_key) && snippet.contains("integrity=\"sha384-"), "{snippet}");

    // Rotation: a new key at once, the old one for a day more.
    let rotated = owner.post(&format!("{site}/keys/rotate"), &json!({})).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new_key = rotated.body["public_key"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new_key, server.site.public_key);
    assert_eq!(rotated.body["previous_public_key"], server.site.public_key.as_str());
    let with_new = ChatClient::new(&server.base, &new_key).with_origin(SHOP);
    assert_eq!(with_new.get("/api/chat/config", None).await.status, 200);
    assert_eq!(widget.get("/api/chat/config", None).await.status, 200, "the old key still works");
    server.clock.advance_seconds(86_400 + 60);
    assert_error(&widget.get("/api/chat/config", None).await, 401, "invalid_api_key");
    assert_eq!(with_new.get("/api/chat/config", None).await.status, 200);

    // The identity secret: admins read (audited) and rotate; members never see it.
    assert_error(&member.get(&format!("{site}/secret")).await, 403, "forbidden");
    let secret = owner.get(&format!("{site}/secret")).await;
    assert_eq!(secret.body["secret"], server.site.secret.as_str());
    let fresh = owner.post(&format!("{site}/secret/rotate"), &json!({})).await;
    let fresh = fresh.body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(fresh.starts_with("sk_") && fresh != server.site.secret);
    assert_error(
        &server
            .login(OUTSIDER_EMAIL)
            .await
            .get(&format!("/api/app/orgs/{}/sites/{}/secret", server.other_org.id, server.site.id))
            .await,
        404,
        "not_found",
    );
}

/// Analytics, insights, the gap report and the audit log's filters and export.
async fn reports_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let org = server.org.id;
    let client = server.browser();
    // Two declined questions that ask the same, one escalation a person answers, one rated.
    let a = conversation(&client, "Do you ship to Norway?").await;
    let b = conversation(&client, "Can you ship my order to Norway").await;
    let human = conversation(&client, "I want to talk to a human").await;
    server.clock.advance_seconds(90);
    let reply = member
        .post(&format!("/api/app/orgs/{org}/conversations/{}/messages", human.id), &json!({"content": "Hi, I'm here."}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let rated =
        client.post(&format!("/api/chat/session/{}/rate", human.id), Some(&human.token), &json!({"stars": 2})).await;
    assert!(rated.status < 300, "{:?}", rated.body);
    client
        .post(
            "/api/chat/events",
            Some(&a.token),
            &json!({"session_id": a.id, "kind": "page_view", "url": "https://shop.example.com/shipping"}),
        )
        .await;
    client
        .post(
            "/api/chat/events",
            Some(&b.token),
            &json!({"session_id": b.id, "kind": "page_view", "url": "https://shop.example.com/shipping"}),
        )
        .await;

    let analytics = format!("/api/app/orgs/{org}/analytics");
    assert_error(&member.get(&analytics).await, 403, "forbidden");
    let report = owner.get(&format!("{analytics}?site_id={}", server.site.id)).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    assert_eq!(report.body["conversations"], 3);
    assert_eq!(report.body["escalated"], 1);
    assert_eq!(report.body["first_response_median_ms"], 90_000);
    assert_eq!(report.body["ratings"], 1);
    assert_eq!(report.body["rating_distribution"], json!([0, 1, 0, 0, 0]));
    // Thirty days back from 04:40 touch 31 calendar days: both ends are partial days.
    assert_eq!(report.body["days"].as_array().map(Vec::len), Some(31));
    assert_eq!(
        report.body["busiest_hours"].as_array().map(|h| h.iter().filter_map(Value::as_u64).sum::<u64>()),
        Some(3)
    );
    assert_error(&owner.get(&format!("{analytics}?from=yesterday")).await, 422, "invalid_field");
    let other = owner.get(&format!("{analytics}?site_id={}", server.other_site.id)).await;
    assert_eq!(other.body["conversations"], 0, "another tenant's site counts nothing here");

    let insights = owner.get(&format!("/api/app/orgs/{org}/insights")).await;
    assert_eq!(insights.status, 200, "{:?}", insights.body);
    assert_eq!(insights.body["top_pages"][0]["url"], "https://shop.example.com/shipping");
    assert_eq!(insights.body["top_pages"][0]["views"], 2);

    // The gap report groups the two shipping questions.
    let gaps = owner.get(&format!("/api/app/orgs/{org}/unanswered")).await;
    assert_eq!(gaps.status, 200, "{:?}", gaps.body);
    assert_eq!(gaps.body["groups"][0]["count"], 2, "{:?}", gaps.body);
    assert!(gaps.body["groups"][0]["question"].as_str().is_some_and(|q| q.contains("Norway")));
    assert_error(&member.get(&format!("/api/app/orgs/{org}/unanswered")).await, 403, "forbidden");
    let theirs =
        server.login(OUTSIDER_EMAIL).await.get(&format!("/api/app/orgs/{}/unanswered", server.other_org.id)).await;
    assert_eq!(theirs.body["groups"], json!([]));

    // The audit log: filters and exports.
    let audit = format!("/api/app/orgs/{org}/audit");
    let replies = owner.get(&format!("{audit}?action=conversation.reply&actor_id={}", server.member.id)).await;
    let events = replies.body["events"].as_array().cloned().unwrap_or_default();
    assert!(!events.is_empty() && events.iter().all(|e| e["action"] == "conversation.reply"), "{events:?}");
    let prefixed = owner.get(&format!("{audit}?action=user.")).await;
    let events = prefixed.body["events"].as_array().cloned().unwrap_or_default();
    assert!(!events.is_empty() && events.iter().all(|e| e["action"].as_str().is_some_and(|a| a.starts_with("user."))));
    let future = owner.get(&format!("{audit}?from=2100-01-01T00:00:00Z")).await;
    assert_eq!(future.body["events"], json!([]));
    let csv = raw(
        reqwest::Method::GET,
        &format!("{}{audit}?format=csv", server.base),
        &[("Cookie", &format!("fd_session={}", owner.cookie().unwrap_or_default()))],
        None,
    )
    .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").is_some_and(|c| c.starts_with("text/csv")));
    assert!(csv.header("content-disposition").is_some_and(|c| c.contains("attachment")));
    let json_file = owner.get(&format!("{audit}?download=1")).await;
    assert!(json_file.header("content-disposition").is_some_and(|c| c.contains("frontdesk-audit.json")));
    assert!(json_file.body["events"].as_array().is_some_and(|e| !e.is_empty()));
    assert_error(&owner.get(&format!("{audit}?format=xml")).await, 422, "invalid_field");
}

/// Escalation and mention alerts are emailed to the members who asked for them.
async fn email_alerts_suite(server: &TestServer, smtp: &SmtpSink) {
    let owner = server.login(OWNER_EMAIL).await;
    let member = server.login(MEMBER_EMAIL).await;
    let org = server.org.id;
    let opt_out = member
        .send(
            reqwest::Method::PUT,
            &format!("/api/app/orgs/{org}/notifications"),
            Some(&json!({"email_escalations": false, "email_mentions": true})),
        )
        .await;
    assert_eq!(opt_out.status, 200);
    let client = server.browser();
    let s = conversation(&client, "I want to talk to a human about my order 1234").await;
    let about_it = |m: &ReceivedMail| m.body_text().contains(&s.id);
    let to = |m: &ReceivedMail, email: &str| m.to.iter().any(|t| t.contains(email));
    let owner_told = wait_for_mail(smtp, |m| about_it(m) && to(m, OWNER_EMAIL)).await;
    assert!(owner_told.subject().to_lowercase().contains("escalated"), "{}", owner_told.subject());
    // The notifier works in order: once the owner's email is out, every email for this event is.
    let all = smtp.messages();
    assert!(!all.iter().any(|m| about_it(m) && to(m, MEMBER_EMAIL)), "the member opted out");
    assert!(!all.iter().any(|m| about_it(m) && to(m, OUTSIDER_EMAIL)), "other tenants never");

    let note = owner
        .post(
            &format!("/api/app/orgs/{org}/conversations/{}/notes", s.id),
            &json!({"content": "@member can you take this?"}),
        )
        .await;
    assert_eq!(note.body["mentions"], json!([server.member.id]), "{:?}", note.body);
    let mention = wait_for_mail(smtp, |m| to(m, MEMBER_EMAIL) && m.body_text().contains("can you take this")).await;
    assert!(mention.body_text().contains(&s.id), "the link names the conversation");
}

/// The first email matching `pred`, waiting up to 15 seconds for it.
async fn wait_for_mail(smtp: &SmtpSink, pred: impl Fn(&ReceivedMail) -> bool) -> ReceivedMail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(m) = smtp.messages().into_iter().find(|m| pred(m)) {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "no such email in {:#?}", smtp.messages());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn user_hash(secret: &str, user_id: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The widget's `identify`: the name reaches the inbox; a user id is verified only with the
/// site's own HMAC.
async fn identify_suite(server: &TestServer) {
    let member = server.login(MEMBER_EMAIL).await;
    let client = server.browser();
    let s = conversation(&client, "Hello there").await;
    let identify = |body: Value| {
        let client = client.clone();
        let token = s.token.clone();
        async move { client.post("/api/chat/identify", Some(&token), &body).await }
    };
    let named = identify(json!({"session_id": s.id, "name": "Ada Lovelace", "email": "Ada@Example.com"})).await;
    assert_eq!(named.status, 200, "{:?}", named.body);
    assert_eq!((named.body["email"].clone(), named.body["verified"].clone()), (json!("ada@example.com"), json!(false)));
    let inbox = member.get(&format!("/api/app/orgs/{}/conversations", server.org.id)).await;
    let row = inbox.body["conversations"].as_array().and_then(|c| c.iter().find(|c| c["id"] == s.id.as_str())).cloned();
    assert_eq!(row.map(|r| r["visitor_name"].clone()), Some(json!("Ada Lovelace")));

    let forged =
        identify(json!({"session_id": s.id, "user_id": "u-1", "user_hash": user_hash("sk_wrong", "u-1")})).await;
    assert_error(&forged, 403, "identity_invalid");
    let other_user =
        identify(json!({"session_id": s.id, "user_id": "u-2", "user_hash": user_hash(&server.site.secret, "u-1")}))
            .await;
    assert_error(&other_user, 403, "identity_invalid");
    let good =
        identify(json!({"session_id": s.id, "user_id": "u-1", "user_hash": user_hash(&server.site.secret, "u-1")}))
            .await;
    assert_eq!(
        (good.status, good.body["verified"].clone(), good.body["name"].clone()),
        (200, json!(true), json!("Ada Lovelace"))
    );
    let unsigned = identify(json!({"session_id": s.id, "user_id": "u-3"})).await;
    assert_eq!((unsigned.body["user_id"].clone(), unsigned.body["verified"].clone()), (json!("u-3"), json!(false)));
    assert_error(&identify(json!({"session_id": s.id, "user_hash": "00"})).await, 422, "invalid_field");
    assert_error(&identify(json!({"session_id": s.id, "email": "not an email"})).await, 422, "invalid_field");
    // Another session's token, or another site's key, never reaches this visitor.
    let other = client.start().await;
    let stolen =
        client.post("/api/chat/identify", Some(&other.token), &json!({"session_id": s.id, "name": "Mallory"})).await;
    assert_eq!(stolen.status, 401, "{:?}", stolen.body);
    let elsewhere = server
        .other_client()
        .post("/api/chat/identify", Some(&s.token), &json!({"session_id": s.id, "name": "Mallory"}))
        .await;
    assert!(matches!(elsewhere.status, 401 | 403 | 404), "{:?}", elsewhere.body);
    let detail = member.get(&format!("/api/app/orgs/{}/conversations/{}", server.org.id, s.id)).await;
    assert_eq!(detail.body["visitor"]["name"], "Ada Lovelace");

    // History across devices: only through a verified user id.
    let signed = json!({"user_id": "u-1", "user_hash": user_hash(&server.site.secret, "u-1")});
    // The first device claimed u-3 unsigned last; it proves u-1 again.
    let mut body = signed.clone();
    body["session_id"] = json!(s.id);
    assert_eq!(client.post("/api/chat/identify", Some(&s.token), &body).await.status, 200);
    let laptop = conversation(&client, "Second device here").await;
    let mut body = signed.clone();
    body["session_id"] = json!(laptop.id);
    assert_eq!(client.post("/api/chat/identify", Some(&laptop.token), &body).await.status, 200);
    let sessions = |t: String| {
        let client = client.clone();
        async move {
            let r = client.get("/api/chat/visitor/sessions", Some(&t)).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["sessions"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["session_id"].as_str().map(str::to_owned)).collect::<Vec<_>>())
                .unwrap_or_default()
        }
    };
    let seen = sessions(laptop.token.clone()).await;
    assert!(seen.contains(&s.id) && seen.contains(&laptop.id), "both devices' conversations: {seen:?}");
    let impostor = conversation(&client, "I am u-1, trust me").await;
    let claim = json!({"session_id": impostor.id, "user_id": "u-1", "email": "ada@example.com"});
    assert_eq!(client.post("/api/chat/identify", Some(&impostor.token), &claim).await.status, 200);
    assert_eq!(
        sessions(impostor.token.clone()).await,
        vec![impostor.id.clone()],
        "an unverified claim sees only its own"
    );

    // A site that requires verified identities refuses anything less.
    let owner = server.login(OWNER_EMAIL).await;
    let site = format!("/api/app/orgs/{}/sites/{}", server.org.id, server.site.id);
    let required = owner.patch(&site, &json!({"require_verified_identity": true})).await;
    assert_eq!(
        (required.status, required.body["require_verified_identity"].clone()),
        (200, json!(true)),
        "{:?}",
        required.body
    );
    let strict = conversation(&client, "Hi again").await;
    let plain =
        client.post("/api/chat/identify", Some(&strict.token), &json!({"session_id": strict.id, "name": "Eve"})).await;
    assert_error(&plain, 403, "identity_invalid");
    let mut body = signed;
    body["session_id"] = json!(strict.id);
    assert_eq!(client.post("/api/chat/identify", Some(&strict.token), &body).await.status, 200);
    assert_eq!(owner.patch(&site, &json!({"require_verified_identity": false})).await.status, 200);
}

/// An agent's sessions (list, revoke) and password reset by an emailed single-use link.
async fn account_suite(server: &TestServer, smtp: &SmtpSink) {
    let laptop = server.login(MEMBER_EMAIL).await;
    let phone = server.login(MEMBER_EMAIL).await;
    let list = laptop.get("/api/app/sessions").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let sessions = list.body["sessions"].as_array().cloned().unwrap_or_default();
    assert!(sessions.len() >= 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = frontdesk_core::keys::hash_token(&phone.cookie().unwrap_or_default());
    assert!(sessions.iter().any(|s| s["id"] == other.as_str() && s["current"] == false), "{sessions:?}");
    let owner = server.login(OWNER_EMAIL).await;
    assert_error(
        &owner.send(reqwest::Method::DELETE, &format!("/api/app/sessions/{other}"), None).await,
        404,
        "not_found",
    );
    assert_eq!(laptop.send(reqwest::Method::DELETE, &format!("/api/app/sessions/{other}"), None).await.status, 204);
    assert_eq!(laptop.get("/api/app/me").await.status, 200);
    assert_error(&phone.get("/api/app/me").await, 401, "not_authenticated");

    // Forgot: the same answer for unknown addresses, and no email for them.
    let anonymous = AgentClient::new(&server.base);
    let before = smtp.messages().len();
    assert_eq!(
        anonymous.post("/api/app/password/forgot", &json!({"email": "nobody@northwind.test"})).await.status,
        202
    );
    assert_eq!(
        anonymous.post("/api/app/password/forgot", &json!({"email": MEMBER_EMAIL.to_uppercase()})).await.status,
        202
    );
    let mail =
        wait_for_mail(smtp, |m| m.to.iter().any(|t| t.contains(MEMBER_EMAIL)) && m.subject().contains("Reset")).await;
    assert!(smtp.messages()[before..].iter().all(|m| !m.to.iter().any(|t| t.contains("nobody@"))));
    let text = mail.body_text();
    let token =
        text.split("/app/#/reset/").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or_default().to_owned();
    assert!(!token.is_empty(), "{text}");

    let weak = anonymous.post("/api/app/password/reset", &json!({"token": token, "password": "short"})).await;
    assert_error(&weak, 422, "invalid_field");
    let new_password = "a brand new passphrase 42";
    let done = anonymous.post("/api/app/password/reset", &json!({"token": token, "password": new_password})).await;
    assert_eq!(done.status, 204, "{:?}", done.body);
    assert_error(&laptop.get("/api/app/me").await, 401, "not_authenticated");
    let again = anonymous.post("/api/app/password/reset", &json!({"token": token, "password": new_password})).await;
    assert_error(&again, 404, "not_found");
    assert_eq!(AgentClient::new(&server.base).login(MEMBER_EMAIL, PASSWORD).await.status, 401);
    assert_eq!(AgentClient::new(&server.base).login(MEMBER_EMAIL, new_password).await.status, 200);
    let audit = owner.get(&format!("/api/app/orgs/{}/audit?action=user.", server.org.id)).await;
    let actions: Vec<String> = audit.body["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for expected in ["user.session_revoke", "user.password_reset_requested", "user.password_reset"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
    }
}

/// RFC 6238 (HMAC-SHA1, 30 s, six digits), written again here so the test does not trust the code
/// it checks.
fn totp_code(secret: &str, unix_seconds: i64) -> String {
    use hmac::Mac;
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).expect("base32");
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).expect("key");
    mac.update(&(unix_seconds / 30).to_be_bytes());
    let d = mac.finalize().into_bytes();
    let o = usize::from(d[19] & 0x0f);
    let v = u32::from_be_bytes([d[o] & 0x7f, d[o + 1], d[o + 2], d[o + 3]]);
    format!("{:06}", v % 1_000_000)
}

/// Two-factor login: set up, confirm, required at login, a code works once, disable.
async fn two_factor_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    assert_eq!(owner.get("/api/app/totp").await.body, json!({"enabled": false, "pending": false}));
    let setup = owner.post("/api/app/totp/setup", &json!({})).await;
    assert_eq!(setup.status, 200, "{:?}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(setup.body["otpauth_uri"].as_str().is_some_and(|u| u.contains(&secret)));
    let now = || frontdesk_core::ports::Clock::now(&*server.clock).unix_seconds();
    assert_error(&owner.post("/api/app/totp/enable", &json!({"code": "000000"})).await, 422, "invalid_field");
    let enabled = owner.post("/api/app/totp/enable", &json!({"code": totp_code(&secret, now())})).await;
    assert_eq!(enabled.status, 204, "{:?}", enabled.body);
    assert_error(&owner.post("/api/app/totp/setup", &json!({})).await, 409, "conflict");

    let fresh = AgentClient::new(&server.base);
    assert_error(&fresh.login(OWNER_EMAIL, PASSWORD).await, 401, "totp_required");
    let login = |code: String| {
        let fresh = AgentClient::new(&server.base);
        async move {
            let r =
                fresh.post("/api/app/login", &json!({"email": OWNER_EMAIL, "password": PASSWORD, "totp": code})).await;
            (r, fresh)
        }
    };
    // The code that enabled it is spent; the next step's code (within the drift window) works once.
    assert_error(&login(totp_code(&secret, now())).await.0, 401, "invalid_credentials");
    let next = totp_code(&secret, now() + 30);
    assert_eq!(login(next.clone()).await.0.status, 200);
    assert_error(&login(next).await.0, 401, "invalid_credentials");
    assert_error(&login(totp_code(&secret, now() + 90)).await.0, 401, "invalid_credentials");
    assert_error(
        &fresh
            .post("/api/app/login", &json!({"email": OWNER_EMAIL, "password": "wrong password!!", "totp": "123456"}))
            .await,
        401,
        "invalid_credentials",
    );

    assert_error(
        &owner.post("/api/app/totp/disable", &json!({"password": "not it at all"})).await,
        401,
        "invalid_credentials",
    );
    assert_eq!(owner.post("/api/app/totp/disable", &json!({"password": PASSWORD})).await.status, 204);
    assert_eq!(AgentClient::new(&server.base).login(OWNER_EMAIL, PASSWORD).await.status, 200);
}

fn smtp_config(smtp: &SmtpSink) -> ServerConfig {
    let mut config = roomy_config();
    config.smtp =
        Some(frontdesk_notify::SmtpSettings::plain("127.0.0.1", smtp.port(), "Frontdesk <alerts@frontdesk.test>"));
    config
}

async fn dashboard_suites(backend: Backend, name: &str) {
    let smtp = SmtpSink::start().await;
    let Some(server) = TestServer::start(backend, &format!("{name}_a"), smtp_config(&smtp)).await else {
        return;
    };
    inbox_suite(&server).await;
    identify_suite(&server).await;
    team_suite(&server, &smtp).await;
    free_plan_suite(&server).await;
    email_alerts_suite(&server, &smtp).await;
    two_factor_suite(&server).await;
    // Last on this server: it changes the member's password.
    account_suite(&server, &smtp).await;
    let Some(server) = TestServer::start(backend, &format!("{name}_b"), roomy_config()).await else {
        return;
    };
    // Reports first: the site suite rotates the key the browser client uses.
    reports_suite(&server).await;
    site_suite(&server).await;
}

#[tokio::test]
async fn sqlite_dashboard_api() {
    dashboard_suites(Backend::Sqlite, "sqlite_dashboard").await;
}

#[tokio::test]
async fn postgres_dashboard_api() {
    dashboard_suites(Backend::Postgres, "server_postgres_dashboard").await;
}
