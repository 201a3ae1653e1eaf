//! The knowledge base through the private API: edits reach the search index at once, only
//! published articles are found, roles and tenants are respected, and edits committed outside
//! this node (another node, `frontdesk kb import`) are picked up by reconciliation.

use crate::support::{Backend, MEMBER_EMAIL, OUTSIDER_EMAIL, OWNER_EMAIL, TestServer, assert_error, roomy_config};
use frontdesk_core::kb::{ArticleDraft, KnowledgeBase};
use frontdesk_core::knowledge::ArticleStatus;
use serde_json::{Value, json};
use std::time::Duration;

fn titles(search: &Value) -> Vec<String> {
    let mut t: Vec<String> = search["passages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["article_title"].as_str())
        .map(str::to_owned)
        .collect();
    t.dedup();
    t
}

async fn knowledge_suite(server: &TestServer) {
    let owner = server.login(OWNER_EMAIL).await;
    let org = server.org.id;
    let site = server.site.id;
    let search = |q: &str| format!("/api/app/orgs/{org}/sites/{site}/search?q={}", q.replace(' ', "%20"));

    let created = owner
        .post(
            &format!("/api/app/orgs/{org}/articles"),
            &json!({"site_id": site, "title": "Returns and refunds", "status": "published",
                    "body": "## Returning a lamp\n\nYou can return any lamp within 30 days of delivery for a full refund.",
                    "tags": ["returns"], "url": "https://help.northwind.test/returns"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let returns_id = created.body["id"].as_str().expect("id").to_owned();
    let found = owner.get(&search("return a lamp refund")).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(titles(&found.body), ["Returns and refunds"], "found right after creation: {:?}", found.body);
    assert!(found.body["confidence"].as_f64().is_some_and(|c| c > 0.0));
    assert_eq!(found.body["passages"][0]["url"], "https://help.northwind.test/returns");

    let draft = owner
        .post(
            &format!("/api/app/orgs/{org}/articles"),
            &json!({"site_id": site, "title": "Wholesale program", "body": "Wholesale discount of 20% for 50 lamps."}),
        )
        .await;
    assert_eq!((draft.status, draft.body["status"].clone()), (201, json!("draft")), "articles start as drafts");
    let draft_id = draft.body["id"].as_str().expect("id").to_owned();
    assert!(titles(&owner.get(&search("wholesale discount")).await.body).is_empty(), "drafts are never searchable");
    let published = owner.post(&format!("/api/app/orgs/{org}/articles/{draft_id}/publish"), &json!({})).await;
    assert_eq!(published.body["status"], "published");
    assert_eq!(titles(&owner.get(&search("wholesale discount")).await.body), ["Wholesale program"]);
    let edited = owner
        .patch(&format!("/api/app/orgs/{org}/articles/{draft_id}"), &json!({"body": "Resellers get 25% off."}))
        .await;
    assert_eq!((edited.status, edited.body["title"].clone()), (200, json!("Wholesale program")), "{:?}", edited.body);
    let after_edit = owner.get(&search("resellers")).await;
    assert!(
        after_edit.body["passages"][0]["text"].as_str().is_some_and(|t| t.contains("25%")),
        "the index holds the edited text: {:?}",
        after_edit.body
    );
    owner.post(&format!("/api/app/orgs/{org}/articles/{draft_id}/unpublish"), &json!({})).await;
    assert!(titles(&owner.get(&search("resellers")).await.body).is_empty(), "unpublished at once");

    let deleted =
        owner.send(reqwest::Method::DELETE, &format!("/api/app/orgs/{org}/articles/{returns_id}"), None).await;
    assert_eq!(deleted.status, 204);
    assert!(titles(&owner.get(&search("return a lamp refund")).await.body).is_empty(), "deleted at once");
    assert_error(&owner.get(&format!("/api/app/orgs/{org}/articles/{returns_id}")).await, 404, "not_found");

    let invalid = owner
        .post(&format!("/api/app/orgs/{org}/articles"), &json!({"site_id": site, "title": " ", "body": "x"}))
        .await;
    assert_error(&invalid, 422, "invalid_field");
    assert_eq!(invalid.body["error"]["field"], "title");
    let foreign_site = owner
        .post(
            &format!("/api/app/orgs/{org}/articles"),
            &json!({"site_id": server.other_site.id, "title": "x", "body": "y"}),
        )
        .await;
    assert_error(&foreign_site, 404, "not_found");

    // Members read the knowledge base; they do not edit it.
    let member = server.login(MEMBER_EMAIL).await;
    assert_eq!(
        member.get(&format!("/api/app/orgs/{org}/articles")).await.body["articles"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(member.get(&search("resellers")).await.status, 200);
    assert_error(
        &member
            .post(&format!("/api/app/orgs/{org}/articles"), &json!({"site_id": site, "title": "t", "body": "b"}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &member.post(&format!("/api/app/orgs/{org}/articles/{draft_id}/publish"), &json!({})).await,
        403,
        "forbidden",
    );
    // Another organization sees nothing of it.
    let outsider = server.login(OUTSIDER_EMAIL).await;
    assert_error(&outsider.get(&format!("/api/app/orgs/{org}/articles/{draft_id}")).await, 404, "not_found");
    let other_org = server.other_org.id;
    assert_error(&outsider.get(&format!("/api/app/orgs/{other_org}/articles/{draft_id}")).await, 404, "not_found");
    assert_error(&outsider.get(&format!("/api/app/orgs/{other_org}/sites/{site}/search?q=x")).await, 404, "not_found");

    // Every change is in the audit log.
    let audit = owner.get(&format!("/api/app/orgs/{org}/audit?limit=50")).await;
    let actions: Vec<&str> =
        audit.body["events"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    for action in ["article.create", "article.publish", "article.update", "article.unpublish", "article.delete"] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }

    // An article written straight to the database (as `frontdesk kb import` or another node does)
    // reaches this node's index by reconciliation.
    let kb = KnowledgeBase::new(server.chat.store.clone(), server.chat.clock.clone(), server.chat.entropy.clone());
    let outside = ArticleDraft {
        title: "Warranty".to_owned(),
        body: "Every lamp has a five year warranty on the electronics.".to_owned(),
        status: Some(ArticleStatus::Published),
        ..ArticleDraft::default()
    };
    kb.create(org, site, &outside, Some("warranty.md".to_owned())).await.expect("direct write");
    let mut seen = false;
    for _ in 0..50 {
        if titles(&owner.get(&search("warranty electronics")).await.body) == ["Warranty"] {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen, "reconciliation indexed an article committed outside the API within 10 s");
}

#[tokio::test]
async fn sqlite_knowledge_base() {
    let server = TestServer::start(Backend::Sqlite, "sqlite_kb", roomy_config()).await.expect("sqlite");
    knowledge_suite(&server).await;
}

#[tokio::test]
async fn postgres_knowledge_base() {
    let Some(server) = TestServer::start(Backend::Postgres, "server_postgres_kb", roomy_config()).await else {
        return;
    };
    knowledge_suite(&server).await;
}
