-- Erasure deletes a visitor's webhook deliveries by the conversation each keeps (0016).
CREATE INDEX webhook_deliveries_conversation ON webhook_deliveries (conversation_id) WHERE conversation_id IS NOT NULL;
