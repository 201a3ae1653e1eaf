//! The privacy part of the dashboard chapter: finding a visitor's data (by id or email, within
//! one organization), erasing it in one transaction while analytics keep their counts, and the
//! retention job's batched deletes. Another organization's ids behave as missing ones.

use super::dashboard::{Ctx, World, delivery_value, endpoint_value, inbox_ids};
use crate::{not_found, ok};
use frontdesk_core::events::OutboxEvent;
use frontdesk_core::ids::*;
use frontdesk_core::inbox::{InboxFilter, Note, UnansweredQuestion};
use frontdesk_core::model::*;
use frontdesk_core::plans::Plan;
use frontdesk_core::ports::FixedClock;
use frontdesk_core::privacy::{ErasureCounts, RetentionCounts, VisitorLookup};
use frontdesk_core::scenarios::{FlowState, Scenario};
use frontdesk_core::status::ConversationStatus::{Active, Escalated};
use frontdesk_core::store::{Store, StoreError};
use frontdesk_core::time::Timestamp;
use serde_json::json;

fn ids(visitors: &[Visitor]) -> Vec<VisitorId> {
    visitors.iter().map(|v| v.id).collect()
}

async fn search(c: &Ctx, w: &World, text: &str) -> Vec<ConversationId> {
    let filter = InboxFilter { text: Some(text.to_owned()), ..InboxFilter::default() };
    inbox_ids(&ok(c.s().inbox(w.org_a.id, w.alice.id, &filter).await, "search"))
}

/// A conversation with what a widget sends (page URL, params), created now.
async fn conversation_with_context(c: &Ctx, site: &Site, visitor: VisitorId) -> Conversation {
    let now = c.tick();
    let conversation = Conversation {
        id: ConversationId::generate(c.clk(), c.ent()),
        org_id: site.org_id,
        site_id: site.id,
        visitor_id: visitor,
        status: Active,
        assignee_id: None,
        page_url: Some("https://acme.example/account?user=ada".to_owned()),
        locale: Some("en".to_owned()),
        params: json!({"plan": "gold", "customer": "ada-42"}),
        last_seq: 0,
        token_generation: 0,
        created_at: now,
        updated_at: now,
        last_activity_at: now,
        status_changed_at: now,
        escalated_at: None,
        first_agent_reply_at: None,
    };
    ok(c.s().create_conversation(&conversation).await, "create conversation");
    conversation
}

pub(crate) async fn lookup_and_erasure(c: &Ctx, w: &World) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let site = c.site(a, "Privacy").await;
    let email = format!("Ada.{}@Example.com", c.tag);
    let ada = c.visitor(site.id, Some("Ada"), Some(&email)).await;
    let ada_elsewhere = c.visitor(w.site_a2.id, None, Some(&email.to_uppercase())).await;
    let bea = c.visitor(site.id, Some("Bea"), Some(&format!("bea.{}@example.com", c.tag))).await;
    let ada_at_b = c.visitor(w.site_b.id, Some("Ada"), Some(&email)).await;
    // Ada's conversation: every kind of data erasure must remove (identified in it).
    let conv = conversation_with_context(c, &site, ada.id).await;
    let ada = ok(
        s.identify_visitor(
            site.id,
            ada.id,
            conv.id,
            &VisitorIdentity { user_id: Some("user-42".to_owned()), verified: true, ..Default::default() },
        )
        .await,
        "identify",
    );

    // Lookups stay in the organization; email is compared case-insensitively, oldest first.
    let by_email = |org: OrgId, e: &str| {
        let lookup = VisitorLookup::Email(e.to_owned());
        async move { ids(&ok(s.find_visitors(org, &lookup).await, "find by email")) }
    };
    assert_eq!(by_email(a, &email.to_lowercase()).await, [ada.id, ada_elsewhere.id], "every site of the organization");
    assert_eq!(by_email(a, &email).await, [ada.id, ada_elsewhere.id], "the given case does not matter");
    assert_eq!(by_email(b, &email).await, [ada_at_b.id], "the other organization finds only its own");
    assert!(by_email(a, "nobody@example.com").await.is_empty());
    // Case folding is Unicode's, not ASCII's, on every backend.
    let jurgen = c.visitor(site.id, None, Some(&format!("JÜRGEN.{}@Exämple.com", c.tag))).await;
    assert_eq!(by_email(a, &format!("jürgen.{}@exämple.com", c.tag)).await, [jurgen.id], "ü finds Ü");
    assert_eq!(by_email(a, &format!("Jürgen.{}@EXÄMPLE.COM", c.tag)).await, [jurgen.id], "Ä finds ä");
    assert!(by_email(a, &format!("jurgen.{}@example.com", c.tag)).await.is_empty(), "u is not ü");
    let by_id = |org: OrgId, id: VisitorId| async move {
        ids(&ok(s.find_visitors(org, &VisitorLookup::Id(id)).await, "find by id"))
    };
    assert_eq!(by_id(a, ada.id).await, [ada.id]);
    assert!(by_id(a, ada_at_b.id).await.is_empty(), "another organization's visitor is not found");
    assert!(by_id(b, ada.id).await.is_empty(), "nor is this one from there");

    // Everything else erasure must remove.
    let (question, _) = c.say(a, conv.id, AuthorKind::Visitor, None, "My passport is zx81quokka", None).await;
    let (answer, _) = c.say(a, conv.id, AuthorKind::Assistant, None, "Passports are checked at the desk", None).await;
    c.say(a, conv.id, AuthorKind::Agent, Some(w.alice.id), "Thanks, noted zx81quokka", Some((Active, Escalated))).await;
    ok(s.set_reaction(a, conv.id, answer.id, Some(Reaction::Up)).await, "react");
    let rating = Rating {
        conversation_id: conv.id,
        stars: 4,
        tags: vec!["fast".to_owned()],
        feedback: Some("Ada was happy".to_owned()),
        created_at: c.tick(),
    };
    ok(s.create_rating(a, &rating).await, "rate");
    let note = Note {
        id: NoteId::generate(c.clk(), c.ent()),
        org_id: a,
        conversation_id: conv.id,
        author_id: w.alice.id,
        body: "Ada is a gold customer".to_owned(),
        html: "<p>Ada is a gold customer</p>".to_owned(),
        mentions: vec![],
        created_at: c.tick(),
    };
    ok(s.create_note(&note).await, "note");
    let unanswered = UnansweredQuestion {
        id: UnansweredId::generate(c.clk(), c.ent()),
        org_id: a,
        site_id: site.id,
        conversation_id: conv.id,
        message_id: question.id,
        question: "My passport is zx81quokka".to_owned(),
        created_at: c.tick(),
    };
    ok(s.record_unanswered(&unanswered).await, "record unanswered");
    let scenario = Scenario {
        id: ScenarioId::generate(c.clk(), c.ent()),
        org_id: a,
        site_id: site.id,
        name: "Intake".to_owned(),
        draft: json!({"schema": 1}),
        published_version: None,
        published_at: None,
        starts_conversations: false,
        created_at: c.now(),
        updated_at: c.now(),
    };
    ok(s.create_scenario(&scenario).await, "scenario");
    let run = FlowState {
        conversation_id: conv.id,
        org_id: a,
        scenario_id: scenario.id,
        version: 1,
        run: json!({"status": "finished", "run": {"vars": {"name": "Ada", "order": "A-1"}}}),
        due_at: None,
        revision: 0,
        updated_at: c.now(),
    };
    assert!(ok(s.put_flow_state(a, conv.id, Some(&run), None).await, "run"));
    c.page_view(site.id, ada.id, Some("https://acme.example/account"), Some("Ada's account")).await;
    c.conversion(site.id, ada.id, Some("signup")).await;
    // Bea's data must survive Ada's erasure.
    let bea_conv = c.conversation(&site, bea.id).await;
    c.say(a, bea_conv.id, AuthorKind::Visitor, None, "Is quokka shipping free?", None).await;
    c.page_view(site.id, bea.id, Some("https://acme.example/"), None).await;

    // The reads the export is made of.
    let convs = ok(s.visitor_conversations(a, ada.id).await, "visitor conversations");
    assert_eq!(convs.iter().map(|c| c.id).collect::<Vec<_>>(), [conv.id]);
    assert!(ok(s.visitor_conversations(b, ada.id).await, "from B").is_empty(), "another organization sees none");
    let events = ok(s.visitor_event_history(site.id, ada.id).await, "event history");
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [VisitorEventKind::PageView, VisitorEventKind::Conversion],
        "oldest first"
    );
    assert!(ok(s.visitor_event_history(w.site_b.id, ada.id).await, "other site").is_empty());
    assert_eq!(ok(s.conversation_unanswered(a, conv.id).await, "unanswered"), vec![unanswered]);
    assert!(ok(s.conversation_unanswered(b, conv.id).await, "from B").is_empty());

    let day = Timestamp(conv.created_at.0 - 1000);
    let until = Timestamp(c.now().0 + 1000);
    let stat_of = |id: ConversationId| async move {
        ok(s.conversation_stats(a, Some(site.id), day, until).await, "stats").into_iter().find(|st| st.id == id)
    };
    let before = stat_of(conv.id).await.expect("the conversation is counted");
    assert_eq!((before.assistant_messages, before.agent_messages, before.rating), (1, 1, Some(4)));
    assert_eq!(search(c, w, "zx81quokka").await, [conv.id]);
    assert_eq!(search(c, w, "quokka").await.len(), 1, "the prefix-free word is only Bea's");

    // Webhook deliveries of Ada's events carry what she said: erasure takes them; Bea's and a test
    // event's stay.
    let endpoint = endpoint_value(c, a, "https://hooks.example.com/privacy");
    ok(s.create_webhook_endpoint(&endpoint).await, "an endpoint");
    let (mut ada_event, mut bea_event, mut after) = (None, None, 0);
    loop {
        let page = ok(s.outbox_after(after, 1000).await, "outbox");
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            let of = e.event.conversation_id();
            if of == conv.id {
                ada_event = Some(e.id);
            } else if of == bea_conv.id {
                bea_event = Some(e.id);
            }
        }
    }
    let due = c.tick();
    let ada_delivery = delivery_value(c, a, endpoint.id, Some(ada_event.expect("an event of Ada's")), due);
    let bea_delivery = delivery_value(c, a, endpoint.id, Some(bea_event.expect("an event of Bea's")), due);
    let test_delivery = delivery_value(c, a, endpoint.id, None, due);
    let three = [ada_delivery.clone(), bea_delivery.clone(), test_delivery.clone()];
    assert_eq!(ok(s.create_webhook_deliveries(&three).await, "deliveries"), 3);

    // Another organization cannot erase it: nothing changes.
    let at = c.tick();
    not_found(s.erase_visitor(b, ada.id, at).await, "erase from another organization");
    assert_eq!(ok(s.get_rating(conv.id).await, "rating kept"), rating);

    let counts = ok(s.erase_visitor(a, ada.id, at).await, "erase");
    let expected = ErasureCounts {
        conversations: 1,
        messages: 3,
        ratings: 1,
        visitor_events: 2,
        notes: 1,
        unanswered_questions: 1,
        scenario_runs: 1,
        webhook_deliveries: 1,
    };
    assert_eq!(counts, expected);
    not_found(s.get_webhook_delivery(a, ada_delivery.id).await, "the delivery of Ada's event is gone");
    assert_eq!(ok(s.get_webhook_delivery(a, bea_delivery.id).await, "Bea's delivery"), bea_delivery);
    assert_eq!(ok(s.get_webhook_delivery(a, test_delivery.id).await, "a test event's delivery"), test_delivery);

    let erased = ok(s.get_visitor(site.id, ada.id).await, "the erased visitor");
    assert_eq!(
        (erased.name, erased.email, erased.locale, erased.user_id, erased.verified, erased.erased_at),
        (None, None, None, None, false, Some(at)),
        "identity cleared, erasure recorded"
    );
    assert_eq!(by_email(a, &email).await, [ada_elsewhere.id], "the erased visitor has no email left");
    assert!(ok(s.verified_visitors(site.id, "user-42").await, "verified").is_empty(), "nor a user id");
    assert!(ok(s.list_messages(conv.id, 0, 100).await, "messages").is_empty());
    assert!(matches!(s.get_rating(conv.id).await, Err(StoreError::NotFound)), "the rating is gone");
    assert!(ok(s.list_notes(a, conv.id).await, "notes").is_empty());
    assert!(ok(s.conversation_unanswered(a, conv.id).await, "unanswered").is_empty());
    assert!(
        ok(s.list_unanswered(a, Some(site.id), Timestamp(0), 100).await, "gap report")
            .iter()
            .all(|q| q.conversation_id != conv.id),
        "the gap report forgets the question"
    );
    assert_eq!(ok(s.get_flow_state(a, conv.id).await, "run"), None);
    assert!(ok(s.visitor_event_history(site.id, ada.id).await, "events").is_empty());
    let kept = c.conversation_of(a, conv.id).await;
    assert_eq!((kept.page_url, kept.params.clone()), (None, json!({})), "what the widget sent is cleared");
    assert_eq!(kept.token_generation, conv.token_generation + 1, "its session tokens are revoked");
    assert_eq!((kept.status, kept.created_at, kept.site_id), (Escalated, conv.created_at, site.id), "the row stays");
    assert_eq!(stat_of(conv.id).await, Some(before.clone()), "analytics count it exactly as before");
    assert!(search(c, w, "zx81quokka").await.is_empty(), "full-text search no longer finds the erased words");
    assert_eq!(search(c, w, "quokka").await, [bea_conv.id], "Bea's words are still found");

    // Others are untouched.
    assert_eq!(ok(s.visitor_event_history(site.id, bea.id).await, "Bea's events").len(), 1);
    assert_eq!(ok(s.get_visitor(w.site_a2.id, ada_elsewhere.id).await, "Ada elsewhere").email, ada_elsewhere.email);
    assert_eq!(ok(s.get_visitor(w.site_b.id, ada_at_b.id).await, "Ada at B").name.as_deref(), Some("Ada"));

    // Erasing again finds nothing more, and keeps the counts it moved.
    let again = ok(s.erase_visitor(a, ada.id, c.tick()).await, "erase again");
    assert_eq!(again, ErasureCounts { conversations: 1, ..ErasureCounts::default() });
    assert_eq!(stat_of(conv.id).await, Some(before), "a second erasure does not count twice");
}

pub(crate) async fn retention(c: &Ctx, w: &World) {
    let s = c.s();
    let (a, b) = (w.org_a.id, w.org_b.id);
    let site = c.site(a, "Retention").await;
    let other = c.site(a, "Kept forever").await;
    let old_visitor = c.visitor(site.id, Some("Old"), None).await;
    let old1 = c.conversation(&site, old_visitor.id).await;
    c.say(a, old1.id, AuthorKind::Visitor, None, "an ancient wombat question", None).await;
    c.rate(a, old1.id, 3).await;
    let old2 = c.conversation(&site, old_visitor.id).await;
    c.page_view(site.id, old_visitor.id, Some("https://acme.example/old"), None).await;
    let elsewhere_visitor = c.visitor(other.id, None, None).await;
    let elsewhere = c.conversation(&other, elsewhere_visitor.id).await;

    c.clock.advance_seconds(10 * 86_400);
    let cutoff = Timestamp(c.now().0 - 5 * 86_400_000);
    let new_visitor = c.visitor(site.id, None, None).await;
    let recent = c.conversation(&site, new_visitor.id).await;
    c.page_view(site.id, new_visitor.id, None, None).await;
    // An old conversation with recent activity stays.
    let (_, revived) = c.say(a, old2.id, AuthorKind::Agent, Some(w.alice.id), "Still there?", None).await;
    assert!(revived.updated_at > cutoff);

    assert_eq!(
        ok(s.purge_expired(b, site.id, cutoff, 100).await, "another organization's site"),
        RetentionCounts::default()
    );
    assert_eq!(c.conversation_of(a, old1.id).await.id, old1.id, "nothing was deleted");

    let first = ok(s.purge_expired(a, site.id, cutoff, 1).await, "first batch");
    assert_eq!(first, RetentionCounts { conversations: 1, visitor_events: 1, visitors: 0 });
    not_found(s.get_conversation(a, old1.id).await, "the expired conversation");
    assert!(ok(s.list_messages(old1.id, 0, 100).await, "its messages").is_empty());
    assert!(matches!(s.get_rating(old1.id).await, Err(StoreError::NotFound)), "its rating");
    assert!(search(c, w, "wombat").await.is_empty(), "its words are out of the search index");
    // The old visitor has a conversation left (revived): kept.
    assert_eq!(ok(s.purge_expired(a, site.id, cutoff, 1).await, "second batch"), RetentionCounts::default());
    for (conversation, what) in [(&old2, "revived"), (&recent, "recent"), (&elsewhere, "another site's")] {
        assert_eq!(c.conversation_of(a, conversation.id).await.id, conversation.id, "the {what} conversation stays");
    }
    assert_eq!(ok(s.visitor_event_history(site.id, new_visitor.id).await, "recent events").len(), 1);

    // Once its last conversation expires, so does the visitor.
    c.clock.advance_seconds(10 * 86_400);
    let cutoff = Timestamp(c.now().0 - 5 * 86_400_000);
    let mut total = RetentionCounts::default();
    loop {
        let batch = ok(s.purge_expired(a, site.id, cutoff, 1).await, "batch");
        if batch.is_empty() {
            break;
        }
        total.add(batch);
    }
    assert_eq!(total, RetentionCounts { conversations: 2, visitor_events: 1, visitors: 2 });
    assert!(matches!(s.get_visitor(site.id, old_visitor.id).await, Err(StoreError::NotFound)));
    assert_eq!(c.conversation_of(a, elsewhere.id).await.id, elsewhere.id, "another site's retention is its own");
}

/// The retention job's outbox pruning: only events at or below the id bound and older than the
/// time cut go, smallest ids first, at most the limit; readers then see exactly the rest, ids are
/// never handed out again, and a delivery of a pruned event is still erased with its visitor.
///
/// Its events are stamped twenty years before anything else the chapters write (a database may
/// hold other data, and the chapter runs twice on one), and every cut is within that era, so
/// nothing else is ever old enough to go.
pub(crate) async fn outbox_pruning(c: &Ctx) {
    let era = crate::START_MS - 20 * 365 * 86_400_000;
    let old = Ctx {
        store: c.store.clone(),
        clock: std::sync::Arc::new(FixedClock::at(era)),
        entropy: c.entropy.clone(),
        tag: c.tag.clone(),
    };
    let end_of_era = Timestamp(era + 86_400_000);
    let s = old.s();
    let org = old.org("Pruned", Plan::Free, 0).await;
    let site = old.site(org.id, "Pruned").await;
    let visitor = old.visitor(site.id, None, None).await;
    let conv = old.conversation(&site, visitor.id).await;
    for i in 1..=6 {
        old.say(org.id, conv.id, AuthorKind::Visitor, None, &format!("pruned {i}"), None).await;
    }
    let events = outbox_of(s, org.id).await;
    assert_eq!(events.len(), 7, "conversation.created and six messages: {events:?}");
    let id = |i: usize| events[i].id;
    let at = |i: usize| events[i].created_at;
    assert!(events.windows(2).all(|w| w[0].id < w[1].id && w[0].created_at < w[1].created_at));
    let endpoint = endpoint_value(&old, org.id, "https://hooks.example.com/pruned");
    ok(s.create_webhook_endpoint(&endpoint).await, "an endpoint");
    let delivery = delivery_value(&old, org.id, endpoint.id, Some(id(0)), old.tick());
    assert_eq!(ok(s.create_webhook_deliveries(std::slice::from_ref(&delivery)).await, "a delivery"), 1);

    assert_eq!(ok(s.prune_outbox(id(6), at(0), 100).await, "nothing older than the cut"), 0);
    assert_eq!(ok(s.prune_outbox(id(1), end_of_era, 100).await, "up to the second id"), 2);
    assert_eq!(outbox_of(s, org.id).await, events[2..], "ids above the bound stay");
    assert_eq!(ok(s.prune_outbox(id(6), at(4), 1).await, "a batch of one"), 1);
    assert_eq!(outbox_of(s, org.id).await, events[3..], "the smallest id went first");
    assert_eq!(ok(s.prune_outbox(id(6), at(4), 100).await, "the rest before the cut"), 1);
    let survivors = outbox_of(s, org.id).await;
    assert_eq!(survivors, events[4..], "events from the cut on stay");
    // Read from below the pruned ids, as a reader far behind would: exactly the survivors.
    let page = ok(s.outbox_after(id(0) - 1, 1000).await, "outbox after pruning");
    let mine: Vec<_> = page.into_iter().filter(|e| e.org_id == org.id).collect();
    assert_eq!(mine, survivors);

    // Ids are never handed out again, not even once the newest events are gone too.
    old.say(org.id, conv.id, AuthorKind::Visitor, None, "after pruning", None).await;
    let newer = outbox_of(s, org.id).await.last().map_or(0, |e| e.id);
    assert!(newer > id(6), "a later event gets a larger id: {newer} after {}", id(6));
    assert_eq!(ok(s.prune_outbox(newer, end_of_era, 100).await, "every event of the era"), 4);
    assert!(outbox_of(s, org.id).await.is_empty());
    old.say(org.id, conv.id, AuthorKind::Visitor, None, "after pruning everything", None).await;
    let newest = outbox_of(s, org.id).await;
    assert!(newest.len() == 1 && newest[0].id > newer, "{newest:?} after {newer}");

    // The delivery of a pruned event still goes with its visitor.
    let counts = ok(s.erase_visitor(org.id, visitor.id, old.tick()).await, "erase");
    assert_eq!(counts.webhook_deliveries, 1, "{counts:?}");
    not_found(s.get_webhook_delivery(org.id, delivery.id).await, "the delivery of the pruned event");

    // Nothing of this run stays for the next one on the same database.
    ok(s.delete_webhook_endpoint(org.id, endpoint.id).await, "delete the endpoint");
    assert_eq!(ok(s.prune_outbox(newest[0].id, end_of_era, 100).await, "clean up"), 1);
}

/// Every outbox event of the organization, oldest first.
async fn outbox_of(s: &dyn Store, org: OrgId) -> Vec<OutboxEvent> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(s.outbox_after(after, 1000).await, "outbox");
        let Some(last) = page.last().map(|e| e.id) else { return out };
        after = last;
        out.extend(page.into_iter().filter(|e| e.org_id == org));
    }
}
