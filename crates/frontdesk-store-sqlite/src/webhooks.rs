//! Outgoing webhooks: endpoints and their deliveries.

use super::*;
use frontdesk_core::webhooks::{DeliveryFilter, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEventType};
use frontdesk_crypto::fields::{self, Seal};

const ENDPOINT_COLS: &str = "id, org_id, url, description, event_types, secret, previous_secret, \
     previous_secret_expires_at, enabled, disabled_reason, created_at, updated_at";
const DELIVERY_COLS: &str = "id, org_id, endpoint_id, event_id, event_type, payload, status, attempts, \
     next_attempt_at, first_attempt_at, last_attempt_at, last_status_code, last_error, last_response, created_at, updated_at";

fn endpoint_from_row(seal: Seal<'_>, row: &SqliteRow) -> StoreResult<WebhookEndpoint> {
    let names: Vec<String> = json_at(row, "event_types")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        url: get(row, "url")?,
        description: get(row, "description")?,
        // A name this version does not know is skipped rather than failing the whole endpoint.
        event_types: names.iter().filter_map(|n| WebhookEventType::parse(n)).collect(),
        secret: seal.open(fields::WEBHOOK_SECRET, get(row, "secret")?).map_err(sealing)?,
        previous_secret: seal
            .open_opt(fields::WEBHOOK_PREVIOUS_SECRET, get(row, "previous_secret")?)
            .map_err(sealing)?,
        previous_secret_expires_at: opt_ts_at(row, "previous_secret_expires_at")?,
        enabled: get(row, "enabled")?,
        disabled_reason: get(row, "disabled_reason")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<WebhookDelivery> {
    let status: String = get(row, "status")?;
    Ok(WebhookDelivery {
        id: WebhookDeliveryId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        endpoint_id: WebhookEndpointId(uuid_at(row, "endpoint_id")?),
        event_id: get(row, "event_id")?,
        event_type: get(row, "event_type")?,
        payload: get(row, "payload")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        attempts: get(row, "attempts")?,
        next_attempt_at: opt_ts_at(row, "next_attempt_at")?,
        first_attempt_at: opt_ts_at(row, "first_attempt_at")?,
        last_attempt_at: opt_ts_at(row, "last_attempt_at")?,
        last_status_code: get(row, "last_status_code")?,
        last_error: get(row, "last_error")?,
        last_response: get(row, "last_response")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn event_type_names(endpoint: &WebhookEndpoint) -> StoreResult<String> {
    to_json(&endpoint.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
}

impl SqliteStore {
    pub(crate) async fn create_webhook_endpoint_row(&self, e: &WebhookEndpoint) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id(e.id.0))
        .bind(id(e.org_id.0))
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_type_names(e)?)
        .bind(self.seal().text(fields::WEBHOOK_SECRET, &e.secret).map_err(sealing)?)
        .bind(self.seal().opt(fields::WEBHOOK_PREVIOUS_SECRET, e.previous_secret.as_deref()).map_err(sealing)?)
        .bind(e.previous_secret_expires_at.map(|t| t.0))
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.created_at.0)
        .bind(e.updated_at.0)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_webhook_endpoint_row(
        &self,
        org_id: OrgId,
        endpoint: WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        let row = sqlx::query(&format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = ? AND org_id = ?"))
            .bind(id(endpoint.0))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        endpoint_from_row(self.seal(), &row)
    }

    pub(crate) async fn list_webhook_endpoint_rows(&self, org_id: OrgId) -> StoreResult<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE org_id = ? ORDER BY created_at, id"
        ))
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| endpoint_from_row(self.seal(), r)).collect()
    }

    pub(crate) async fn update_webhook_endpoint_row(&self, e: &WebhookEndpoint) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, secret = ?, \
             previous_secret = ?, previous_secret_expires_at = ?, enabled = ?, disabled_reason = ?, updated_at = ? \
             WHERE id = ? AND org_id = ?",
        )
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_type_names(e)?)
        .bind(self.seal().text(fields::WEBHOOK_SECRET, &e.secret).map_err(sealing)?)
        .bind(self.seal().opt(fields::WEBHOOK_PREVIOUS_SECRET, e.previous_secret.as_deref()).map_err(sealing)?)
        .bind(e.previous_secret_expires_at.map(|t| t.0))
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.updated_at.0)
        .bind(id(e.id.0))
        .bind(id(e.org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_webhook_endpoint_row(
        &self,
        org_id: OrgId,
        endpoint: WebhookEndpointId,
    ) -> StoreResult<()> {
        // Its deliveries go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = ? AND org_id = ?")
            .bind(id(endpoint.0))
            .bind(id(org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn create_webhook_delivery_rows(&self, deliveries: &[WebhookDelivery]) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let mut inserted = 0;
        for d in deliveries {
            // OR IGNORE: a second node's copy of the same (endpoint, event) is dropped by the
            // unique index; the endpoint must be the delivery's organization's. The event's
            // conversation is copied: erasure finds the delivery by it after the event is pruned.
            let done = sqlx::query(&format!(
                "INSERT OR IGNORE INTO webhook_deliveries ({DELIVERY_COLS}, conversation_id) \
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
                 (SELECT o.conversation_id FROM outbox o WHERE o.id = ?) \
                 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ? AND org_id = ?)"
            ))
            .bind(id(d.id.0))
            .bind(id(d.org_id.0))
            .bind(id(d.endpoint_id.0))
            .bind(d.event_id)
            .bind(&d.event_type)
            .bind(&d.payload)
            .bind(d.status.as_str())
            .bind(d.attempts)
            .bind(d.next_attempt_at.map(|t| t.0))
            .bind(d.first_attempt_at.map(|t| t.0))
            .bind(d.last_attempt_at.map(|t| t.0))
            .bind(d.last_status_code)
            .bind(&d.last_error)
            .bind(&d.last_response)
            .bind(d.created_at.0)
            .bind(d.updated_at.0)
            .bind(d.event_id)
            .bind(id(d.endpoint_id.0))
            .bind(id(d.org_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            inserted += done.rows_affected();
        }
        tx.commit().await.map_err(map_err)?;
        Ok(inserted)
    }

    pub(crate) async fn get_webhook_delivery_row(
        &self,
        org_id: OrgId,
        delivery: WebhookDeliveryId,
    ) -> StoreResult<WebhookDelivery> {
        let row = sqlx::query(&format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ? AND org_id = ?"))
            .bind(id(delivery.0))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        delivery_from_row(&row)
    }

    pub(crate) async fn list_webhook_delivery_rows(
        &self,
        org_id: OrgId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE org_id = ? \
             AND (? IS NULL OR endpoint_id = ?) AND (? IS NULL OR status = ?) AND (? IS NULL OR id < ?) \
             ORDER BY id DESC LIMIT ?"
        ))
        .bind(id(org_id.0))
        .bind(opt_id(filter.endpoint_id.map(|e| e.0)))
        .bind(opt_id(filter.endpoint_id.map(|e| e.0)))
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(opt_id(filter.before.map(|d| d.0)))
        .bind(opt_id(filter.before.map(|d| d.0)))
        .bind(effective_limit(filter.limit, 50, 200))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(delivery_from_row).collect()
    }

    pub(crate) async fn claim_webhook_delivery_rows(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // One statement on the one writer connection: two claims never overlap.
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease_until = ? WHERE id IN (\
                SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
                AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING {DELIVERY_COLS}"
        ))
        .bind(lease_until.0)
        .bind(now.0)
        .bind(now.0)
        .bind(i64::from(limit.min(500)))
        .fetch_all(&self.writer)
        .await
        .map_err(map_err)?;
        let mut claimed = rows.iter().map(delivery_from_row).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(claimed)
    }

    pub(crate) async fn update_webhook_delivery_row(&self, d: &WebhookDelivery) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = NULL, \
             first_attempt_at = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?, last_response = ?, updated_at = ? \
             WHERE id = ? AND org_id = ?",
        )
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(d.next_attempt_at.map(|t| t.0))
        .bind(d.first_attempt_at.map(|t| t.0))
        .bind(d.last_attempt_at.map(|t| t.0))
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(&d.last_response)
        .bind(d.updated_at.0)
        .bind(id(d.id.0))
        .bind(id(d.org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }
}
