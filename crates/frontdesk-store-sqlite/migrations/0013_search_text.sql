-- Encryption at rest: a sealed message body cannot be indexed, so the full-text index reads a
-- separate column: the body itself, or (with encryption on) one keyed token per word of it.
ALTER TABLE messages ADD COLUMN search_text TEXT;
UPDATE messages SET search_text = body;

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
-- unicode61 folds case; remove_diacritics 2 lets "cafe" find "café" (tokens are plain letters).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    search_text,
    content = 'messages',
    content_rowid = 'search_rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
-- As before (0005): a new message takes the next search_rowid and is indexed.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    UPDATE messages SET search_rowid = (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM messages)
    WHERE rowid = new.rowid;
    INSERT INTO messages_fts (rowid, search_text)
    SELECT search_rowid, search_text FROM messages WHERE rowid = new.rowid;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, search_text) VALUES ('delete', old.search_rowid, old.search_text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, search_text) VALUES ('delete', old.search_rowid, old.search_text);
    INSERT INTO messages_fts (rowid, search_text) VALUES (new.search_rowid, new.search_text);
END;
