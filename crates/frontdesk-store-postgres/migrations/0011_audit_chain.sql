-- The audit log becomes a hash chain per organization (frontdesk_core::audit): each event gets
-- its number in the organization's chain and the hashes that link it to the previous one.
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;

-- Events written before the chain are numbered in the order they happened; their hashes are
-- computed in Rust when the store connects (the canonical form is defined there once), by the
-- only update the trigger below lets through.
UPDATE audit_events SET seq = numbered.n
FROM (
    SELECT id AS event_id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY created_at, id) AS n
    FROM audit_events
) AS numbered
WHERE audit_events.id = numbered.event_id;

ALTER TABLE audit_events ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX audit_events_org_seq ON audit_events (org_id, seq);
-- Finds, cheaply at every start, the events still waiting to be sealed (none once sealed).
CREATE INDEX audit_events_unsealed ON audit_events (org_id, seq) WHERE hash IS NULL;

-- The newest link of each organization's chain. Appends lock it (`SELECT … FOR UPDATE`) for
-- their transaction, so two appends to one organization cannot fork the chain; verification
-- notices events removed from the end.
CREATE TABLE audit_heads (
    org_id    UUID PRIMARY KEY,
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

-- Append-only. Organizations are never deleted, so no cascade needs a way through. The one
-- update allowed seals an event written before the chain: it sets the hashes of a row that has
-- none and changes nothing else.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested so that OLD is only read for a row update (it is not set for TRUNCATE).
    IF TG_OP = 'UPDATE' THEN
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
            AND (NEW.id, NEW.org_id, NEW.actor_id, NEW.action, NEW.target_kind, NEW.target_id, NEW.ip,
                 NEW.user_agent, NEW.details, NEW.created_at, NEW.seq)
            IS NOT DISTINCT FROM
                (OLD.id, OLD.org_id, OLD.actor_id, OLD.action, OLD.target_kind, OLD.target_id, OLD.ip,
                 OLD.user_agent, OLD.details, OLD.created_at, OLD.seq)
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
