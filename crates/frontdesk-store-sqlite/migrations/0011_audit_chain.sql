-- The audit log becomes a hash chain per organization (frontdesk_core::audit): each event gets
-- its number in the organization's chain and the hashes that link it to the previous one.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;

-- Events written before the chain are numbered in the order they happened; their hashes are
-- computed in Rust when the store opens (SQLite has no SHA-256), by the only update the
-- triggers below let through.
UPDATE audit_events SET seq = numbered.n
FROM (
    SELECT id AS event_id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY created_at, id) AS n
    FROM audit_events
) AS numbered
WHERE audit_events.id = numbered.event_id;

CREATE UNIQUE INDEX audit_events_org_seq ON audit_events (org_id, seq);
-- Finds, cheaply at every start, the events still waiting to be sealed (none once sealed).
CREATE INDEX audit_events_unsealed ON audit_events (org_id, seq) WHERE hash IS NULL;

-- The newest link of each organization's chain: appends read and move it in their transaction,
-- and verification notices events removed from the end.
CREATE TABLE audit_heads (
    org_id    TEXT PRIMARY KEY NOT NULL,
    last_seq  INTEGER NOT NULL,
    last_hash TEXT NOT NULL
) STRICT;

-- Append-only. Organizations are never deleted, so no cascade needs a way through.
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The one update allowed seals an event written before the chain: it sets the hashes of a row
-- that has none and changes nothing else.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (
    OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
    AND NEW.id IS OLD.id AND NEW.org_id IS OLD.org_id AND NEW.actor_id IS OLD.actor_id
    AND NEW.action IS OLD.action AND NEW.target_kind IS OLD.target_kind AND NEW.target_id IS OLD.target_id
    AND NEW.ip IS OLD.ip AND NEW.user_agent IS OLD.user_agent AND NEW.details IS OLD.details
    AND NEW.created_at IS OLD.created_at AND NEW.seq IS OLD.seq
)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
