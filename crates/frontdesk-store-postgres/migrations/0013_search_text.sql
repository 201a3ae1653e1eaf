-- Encryption at rest: a sealed message body cannot be indexed, so full-text search reads a
-- separate column: the body itself, or (with encryption on) one keyed token per word of it.
ALTER TABLE messages ADD COLUMN search_text TEXT;
UPDATE messages SET search_text = body;
DROP INDEX messages_body_fts;
CREATE INDEX messages_search_fts ON messages USING GIN (to_tsvector('simple', search_text));
