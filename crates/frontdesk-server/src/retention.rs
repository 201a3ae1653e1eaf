//! The retention job: on every node, each `retention_interval_secs`, deletes per site the
//! conversations (and visitor events, and visitors left with nothing) older than the site's
//! `retention_days`. One node of several does a given pass: it claims it by compare-and-set of
//! `retention.last_run` on the injected clock's time.

use frontdesk_core::chat::Chat;
use frontdesk_core::privacy::RetentionCounts;
use frontdesk_core::store::StoreError;
use frontdesk_core::{SiteId, Timestamp};
use std::time::Duration;

/// The settings key holding the time (ms) of the last claimed pass.
pub const LAST_RUN_SETTING: &str = "retention.last_run";
/// How long finished webhook deliveries stay in the delivery log.
const WEBHOOK_LOG_DAYS: i64 = 30;
/// Rows deleted per transaction: a large backlog never holds the database for long.
const BATCH: u32 = 500;
const DAY_MS: i64 = 86_400_000;

/// Runs the job until `stop` says so.
pub async fn run(chat: Chat, interval_secs: u64, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(interval_secs)) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = run_once(&chat, interval_secs).await {
            tracing::warn!(error = %e, "the retention job could not run");
        }
    }
}

/// One pass, if this node claims it: `None` when the last pass is less than an interval ago
/// (this node's or another's). Returns what it deleted per site.
pub async fn run_once(chat: &Chat, interval_secs: u64) -> Result<Option<Vec<(SiteId, RetentionCounts)>>, StoreError> {
    let now = chat.clock.now();
    let last = chat.store.get_or_init_setting(LAST_RUN_SETTING, "0").await?;
    let last_ms: i64 = last.trim().parse().unwrap_or(0);
    let interval_ms = i64::try_from(interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if now.millis().saturating_sub(last_ms) < interval_ms {
        return Ok(None);
    }
    if !chat.store.compare_and_set_setting(LAST_RUN_SETTING, &last, &now.millis().to_string()).await? {
        return Ok(None);
    }
    let mut done = Vec::new();
    for site in chat.store.list_all_sites().await? {
        let Some(days) = site.retention_days else { continue };
        let before = Timestamp(now.millis().saturating_sub(i64::from(days) * DAY_MS));
        let mut total = RetentionCounts::default();
        loop {
            let batch = chat.store.purge_expired(site.org_id, site.id, before, BATCH).await?;
            total.add(batch);
            let full = u64::from(BATCH);
            if batch.conversations < full && batch.visitor_events < full && batch.visitors < full {
                break;
            }
        }
        if !total.is_empty() {
            let details = serde_json::json!({
                "via": "retention",
                "retention_days": days,
                "before": before,
                "counts": total,
            });
            crate::admin::audit_system(chat, site.org_id, "retention.purge", ("site", site.id.to_string()), details)
                .await;
            tracing::info!(site = %site.id, conversations = total.conversations, "retention deleted expired data");
        }
        done.push((site.id, total));
    }
    // Webhook deliveries that finished long ago: the log keeps 30 days.
    let before = Timestamp(now.millis().saturating_sub(WEBHOOK_LOG_DAYS * DAY_MS));
    while chat.store.prune_webhook_deliveries(before, BATCH).await? == u64::from(BATCH) {}
    Ok(Some(done))
}
