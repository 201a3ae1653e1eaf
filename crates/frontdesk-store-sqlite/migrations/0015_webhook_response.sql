-- The start of the receiver's last answer to a webhook delivery, shown in the delivery log.
ALTER TABLE webhook_deliveries ADD COLUMN last_response TEXT;
