//! The retention job: on every node, each `retention_interval_secs`, deletes per site the
//! conversations (and visitor events, and visitors left with nothing) older than the site's
//! `retention_days`, then finished webhook deliveries older than 30 days and outbox events that
//! every reader is done with. One node of several does a given pass: it claims it by
//! compare-and-set of `retention.last_run` on the injected clock's time.

use frontdesk_core::chat::Chat;
use frontdesk_core::privacy::RetentionCounts;
use frontdesk_core::store::StoreError;
use frontdesk_core::{SiteId, Timestamp};
use std::time::Duration;

/// The settings key holding the time (ms) of the last claimed pass.
pub const LAST_RUN_SETTING: &str = "retention.last_run";
/// How long finished webhook deliveries stay in the delivery log.
const WEBHOOK_LOG_DAYS: i64 = 30;
/// Outbox events younger than this always stay. Readers (each node's hub, the webhook dispatcher,
/// the notifier) are normally seconds behind the head: one a week behind is broken anyway, and a
/// week is margin for a long outage.
const OUTBOX_KEEP_DAYS: i64 = 7;
/// Rows deleted per transaction: a large backlog never holds the database for long.
const BATCH: u32 = 500;
const DAY_MS: i64 = 86_400_000;

/// Runs the job until `stop` says so. `resume_window_events` is the realtime setting of the same
/// name: the outbox keeps that many ids below its head for agents' resumes.
pub async fn run(
    chat: Chat,
    interval_secs: u64,
    resume_window_events: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(interval_secs)) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = run_once(&chat, interval_secs, resume_window_events).await {
            tracing::warn!(error = %e, "the retention job could not run");
        }
    }
}

/// One pass, if this node claims it: `None` when the last pass is less than an interval ago
/// (this node's or another's). Returns what it deleted per site.
pub async fn run_once(
    chat: &Chat,
    interval_secs: u64,
    resume_window_events: i64,
) -> Result<Option<Vec<(SiteId, RetentionCounts)>>, StoreError> {
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
    let pruned = prune_outbox(chat, now, resume_window_events).await?;
    if pruned > 0 {
        // Housekeeping, not tenant data: logged, not audited.
        tracing::info!(events = pruned, "retention pruned the outbox");
    }
    Ok(Some(done))
}

/// Deletes the outbox events older than [`OUTBOX_KEEP_DAYS`] that the webhook dispatcher has
/// enqueued and that lie more than the resume window below the head; returns how many.
async fn prune_outbox(chat: &Chat, now: Timestamp, resume_window_events: i64) -> Result<u64, StoreError> {
    // Only what the dispatcher has enqueued: a node back after downtime still dispatches the rest.
    // (The notifier is not waited for: it skips events older than a minute anyway.)
    let cursor = chat.store.get_or_init_setting(crate::webhooks::CURSOR_KEY, "0").await?;
    let Ok(dispatched) = cursor.trim().parse::<i64>() else {
        tracing::warn!(cursor = %cursor, "the webhook cursor is not a number; the outbox is not pruned");
        return Ok(0);
    };
    // An agent resuming from an offset within the window replays from the outbox (`ws.rs`); an
    // older offset gets `reset` and reads nothing from it.
    let head = frontdesk_realtime::hub::outbox_head(&*chat.store).await?;
    let up_to = dispatched.min(head.saturating_sub(resume_window_events.max(0)));
    if up_to <= 0 {
        return Ok(0);
    }
    let before = Timestamp(now.millis().saturating_sub(OUTBOX_KEEP_DAYS * DAY_MS));
    let mut total = 0;
    loop {
        let deleted = chat.store.prune_outbox(up_to, before, BATCH).await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok(total);
        }
    }
}
