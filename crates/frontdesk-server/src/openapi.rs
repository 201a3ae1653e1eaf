//! The OpenAPI 3.1 description of every endpoint, and the two operational endpoints.

use crate::state::AppState;
use crate::{
    account_api, app_api, billing_api, chat_api, inbox_api, kb_api, privacy_api, report_api, scenario_api, site_api,
    team_api, webhook_api,
};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdesk API",
        description = "The public chat API (`/api/chat`, used by the website widget) and the private app API \
                       (`/api/app`, used by the agents' dashboard). Every error response is \
                       `{\"error\": {\"code\", \"message\", \"field\"?}}` with a code from the documented table."
    ),
    paths(
        chat_api::health,
        chat_api::config,
        chat_api::start_session,
        chat_api::get_session,
        chat_api::end_session,
        chat_api::send_message,
        chat_api::history,
        chat_api::rate_session,
        chat_api::react,
        chat_api::visitor_sessions,
        chat_api::record_event,
        crate::identity::identify,
        app_api::login,
        app_api::logout,
        app_api::me,
        account_api::list_sessions,
        account_api::revoke_session,
        account_api::forgot_password,
        account_api::reset_password,
        account_api::totp_status,
        account_api::totp_setup,
        account_api::totp_enable,
        account_api::totp_disable,
        inbox_api::list_conversations,
        inbox_api::summary,
        inbox_api::get_conversation,
        app_api::reply,
        app_api::change_status,
        inbox_api::assign,
        inbox_api::mark_read,
        inbox_api::revoke_tokens,
        inbox_api::create_note,
        inbox_api::visitor_panel,
        inbox_api::list_canned,
        inbox_api::create_canned,
        inbox_api::update_canned,
        inbox_api::delete_canned,
        team_api::get_org,
        team_api::list_members,
        team_api::change_role,
        team_api::remove_member,
        team_api::create_invite,
        team_api::revoke_invite,
        team_api::set_notifications,
        team_api::show_invite,
        team_api::accept_invite,
        app_api::list_sites,
        app_api::create_site,
        app_api::get_site,
        app_api::update_site,
        site_api::publish_widget,
        site_api::discard_widget,
        site_api::embed,
        site_api::rotate_key,
        site_api::get_secret,
        site_api::rotate_secret,
        report_api::analytics_report,
        report_api::insights,
        report_api::unanswered,
        report_api::list_audit,
        privacy_api::export,
        privacy_api::erase,
        report_api::verify_audit,
        kb_api::list_articles,
        kb_api::create_article,
        kb_api::get_article,
        kb_api::update_article,
        kb_api::delete_article,
        kb_api::publish_article,
        kb_api::unpublish_article,
        kb_api::search,
        scenario_api::list_scenarios,
        scenario_api::create_scenario,
        scenario_api::get_scenario,
        scenario_api::update_scenario,
        scenario_api::delete_scenario,
        scenario_api::validate_scenario,
        scenario_api::publish_scenario,
        scenario_api::set_start,
        scenario_api::simulate,
        billing_api::paddle_webhook,
        webhook_api::list_endpoints,
        webhook_api::create_endpoint,
        webhook_api::update_endpoint,
        webhook_api::delete_endpoint,
        webhook_api::get_secret,
        webhook_api::rotate_secret,
        webhook_api::send_test,
        webhook_api::list_deliveries,
        webhook_api::redeliver,
        metrics,
        openapi_json,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemesAndCodes),
    tags(
        (name = "chat", description = "Public API for the website widget: X-API-Key plus a session token."),
        (name = "app", description = "Private API for agents: the fd_session cookie; state changes need this server's Origin."),
        (name = "reports", description = "Analytics and visitor insights for the dashboard (owners and admins)."),
        (name = "bots", description = "Bot scenarios: drafts, published versions, the start scenario and the simulator."),
        (name = "webhooks", description = "Outgoing webhooks (owners and admins): endpoints, signing secrets, test events, the delivery log."),
        (name = "knowledge", description = "The knowledge base: articles, search preview and the unanswered-questions report."),
        (name = "billing", description = "Webhooks from the payment provider (Paddle Billing), signed with its secret."),
        (name = "ops", description = "Metrics and this document."),
    )
)]
pub struct ApiDoc;

struct SecuritySchemesAndCodes;

impl Modify for SecuritySchemesAndCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "session_token",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("frontdesk-v1").build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("fd_session"))),
        );
        // The code table is generated from the one in the code, so the document cannot drift from it.
        let mut table = String::from("\n\n| code | HTTP | meaning |\n|---|---|---|\n");
        for (code, status, meaning) in crate::error::ERROR_CODES {
            table.push_str(&format!("| `{code}` | {status} | {meaning} |\n"));
        }
        let description = openapi.info.description.get_or_insert_with(String::new);
        description.push_str(&table);
    }
}

/// The document as JSON.
pub fn document() -> Result<String, serde_json::Error> {
    serde_json::to_string(&ApiDoc::openapi())
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics)).route("/api/openapi.json", get(openapi_json))
}

/// Prometheus metrics (text format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], st.metrics.render())
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json(State(st): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], st.openapi_json.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_the_error_schema() {
        let doc: serde_json::Value = document().ok().and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
        // Core types are documented, and secrets are not part of them.
        let site = &doc["components"]["schemas"]["Site"]["properties"];
        assert!(site["public_key"].is_object());
        assert!(site["secret"].is_null());
        assert!(doc["components"]["schemas"]["User"]["properties"]["password_hash"].is_null());
        let description = doc["info"]["description"].as_str().unwrap_or_default();
        for (code, status, _) in crate::error::ERROR_CODES {
            assert!(description.contains(&format!("| `{code}` | {status} |")), "{code}");
        }
    }
}
