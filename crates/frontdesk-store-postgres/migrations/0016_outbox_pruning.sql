-- The retention job now deletes old outbox events. A webhook delivery keeps the conversation of
-- its event, so erasing a visitor still finds the delivery once the event is gone.
ALTER TABLE webhook_deliveries ADD COLUMN conversation_id UUID;
UPDATE webhook_deliveries d SET conversation_id = o.conversation_id FROM outbox o WHERE o.id = d.event_id;

-- The highest outbox id deleted so far (one row, once anything was). Every id up to it was
-- settled when it was deleted, so `outbox_after` reads an id missing below it as pruned, never
-- as one a running transaction may still commit.
CREATE TABLE outbox_pruned (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    up_to     BIGINT NOT NULL
);
