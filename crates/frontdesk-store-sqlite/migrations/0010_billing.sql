-- Subscriptions reported by the payment provider's webhooks (Paddle Billing), and the events
-- already applied (webhooks are retried and may be replayed: each event changes things once).
ALTER TABLE organizations ADD COLUMN subscription_id TEXT;
ALTER TABLE organizations ADD COLUMN billing_customer_id TEXT;
ALTER TABLE organizations ADD COLUMN subscription_status TEXT;
-- When the provider says the last applied change happened (ms): older reports are stale.
ALTER TABLE organizations ADD COLUMN subscription_changed_at INTEGER;
CREATE UNIQUE INDEX organizations_subscription_id ON organizations (subscription_id) WHERE subscription_id IS NOT NULL;

CREATE TABLE billing_events (
    event_id    TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL
);
