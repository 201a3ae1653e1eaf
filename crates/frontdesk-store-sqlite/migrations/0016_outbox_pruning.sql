-- The retention job now deletes old outbox events. A webhook delivery keeps the conversation of
-- its event, so erasing a visitor still finds the delivery once the event is gone.
ALTER TABLE webhook_deliveries ADD COLUMN conversation_id TEXT;
UPDATE webhook_deliveries
SET conversation_id = (SELECT o.conversation_id FROM outbox o WHERE o.id = webhook_deliveries.event_id)
WHERE event_id IS NOT NULL;
