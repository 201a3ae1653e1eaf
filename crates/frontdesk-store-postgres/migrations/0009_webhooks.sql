-- Outgoing webhooks: each organization's endpoints, and one delivery per (endpoint, outbox
-- event) with its retries. The payload is the exact body that is signed and sent.
CREATE TABLE webhook_endpoints (
    id                         UUID PRIMARY KEY,
    org_id                     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    event_types                JSONB NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at BIGINT,
    enabled                    BOOLEAN NOT NULL,
    disabled_reason            TEXT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

CREATE TABLE webhook_deliveries (
    id                UUID PRIMARY KEY,
    org_id            UUID NOT NULL,
    endpoint_id       UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          BIGINT,
    event_type        TEXT NOT NULL,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    next_attempt_at   BIGINT,
    lease_until       BIGINT,
    first_attempt_at  BIGINT,
    last_attempt_at   BIGINT,
    last_status_code  BIGINT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
-- An outbox event is enqueued once per endpoint, however many nodes dispatch it.
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (endpoint_id, event_id) WHERE event_id IS NOT NULL;
-- The sender's claim: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The delivery log: newest first per organization.
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, id);
