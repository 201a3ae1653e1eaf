//! Subscriptions from the payment provider's webhooks, applied once per event.

use super::*;
use frontdesk_core::billing::{Subscription, SubscriptionApplied, SubscriptionStatus};

impl PgStore {
    pub(crate) async fn apply_subscription_row(
        &self,
        org_id: OrgId,
        event_id: &str,
        sub: &Subscription,
        received_at: Timestamp,
    ) -> StoreResult<SubscriptionApplied> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(org_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let fresh = sqlx::query(
            "INSERT INTO billing_events (event_id, org_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(org_id.0)
        .bind(received_at.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if fresh.rows_affected() == 0 {
            return Ok(SubscriptionApplied::Duplicate);
        }
        // Only if no later change was applied: webhooks can arrive out of order.
        let done = sqlx::query(
            "UPDATE organizations SET plan = $1, extra_seats = $2, subscription_id = $3, billing_customer_id = $4, \
             subscription_status = $5, subscription_changed_at = $6 \
             WHERE id = $7 AND (subscription_changed_at IS NULL OR subscription_changed_at <= $6)",
        )
        .bind(sub.plan.as_str())
        .bind(i64::from(sub.extra_seats))
        .bind(&sub.subscription_id)
        .bind(&sub.customer_id)
        .bind(sub.status.as_str())
        .bind(sub.occurred_at.0)
        .bind(org_id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(if done.rows_affected() == 0 { SubscriptionApplied::Stale } else { SubscriptionApplied::Applied })
    }

    pub(crate) async fn get_subscription_row(&self, org_id: OrgId) -> StoreResult<Option<Subscription>> {
        let row = sqlx::query(
            "SELECT plan, extra_seats, subscription_id, billing_customer_id, subscription_status, \
             subscription_changed_at FROM organizations WHERE id = $1",
        )
        .bind(org_id.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(subscription_id) = get::<Option<String>>(&row, "subscription_id")? else {
            return Ok(None);
        };
        let status = get::<Option<String>>(&row, "subscription_status")?.unwrap_or_default();
        let plan: String = get(&row, "plan")?;
        Ok(Some(Subscription {
            subscription_id,
            customer_id: get(&row, "billing_customer_id")?,
            status: SubscriptionStatus::parse(&status).ok_or_else(|| corrupt("subscription_status", &status))?,
            plan: Plan::parse(&plan).ok_or_else(|| corrupt("plan", plan))?,
            extra_seats: u32::try_from(get::<i64>(&row, "extra_seats")?).map_err(|e| corrupt("extra_seats", e))?,
            occurred_at: opt_ts_at(&row, "subscription_changed_at")?.unwrap_or(Timestamp(0)),
        }))
    }

    pub(crate) async fn find_org_by_subscription_row(&self, subscription_id: &str) -> StoreResult<OrgId> {
        let row = sqlx::query("SELECT id FROM organizations WHERE subscription_id = $1")
            .bind(subscription_id)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(OrgId(get(&row, "id")?))
    }
}
