-- The agents' dashboard: plans, key rotation and widget drafts, the inbox (status times, read
-- markers, notes, canned responses, full-text search), the team (notification preferences,
-- invitations), the knowledge base's gap report and the indexes analytics read through.

-- What the organization pays for (frontdesk_core::plans::Plan as text).
ALTER TABLE organizations ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
ALTER TABLE organizations ADD COLUMN extra_seats INTEGER NOT NULL DEFAULT 0;

-- The widget configuration being edited (JSON, NULL when none), and the key before the last
-- rotation, still accepted until it expires (the caller checks the expiry).
ALTER TABLE sites ADD COLUMN widget_draft TEXT;
ALTER TABLE sites ADD COLUMN previous_public_key TEXT;
ALTER TABLE sites ADD COLUMN previous_key_expires_at INTEGER;
-- Widgets look sites up by either key; most sites have no previous key.
CREATE INDEX sites_previous_public_key ON sites (previous_public_key) WHERE previous_public_key IS NOT NULL;

-- SQLite cannot add a NOT NULL column without a default; the 0 never survives: existing rows are
-- backfilled below and the store writes the column on every insert.
ALTER TABLE conversations ADD COLUMN status_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN escalated_at INTEGER;
ALTER TABLE conversations ADD COLUMN first_agent_reply_at INTEGER;
-- The last update is the best guess of the last status change (and, for the conversations
-- escalated now, of their escalation).
UPDATE conversations
SET status_changed_at = updated_at,
    escalated_at = CASE WHEN status = 'escalated' THEN updated_at END;
-- The escalation queue: an organization's conversations of one status, longest waiting first.
CREATE INDEX conversations_queue ON conversations (org_id, status, status_changed_at);
-- Analytics read the conversations started in a range.
CREATE INDEX conversations_org_created ON conversations (org_id, created_at);

-- Which email alerts the member receives (frontdesk_core::team::NotificationPrefs as JSON).
ALTER TABLE memberships ADD COLUMN notify TEXT NOT NULL DEFAULT '{"email_escalations":true,"email_mentions":true}';

-- Each agent's read marker per conversation: the inbox's unread counts.
CREATE TABLE conversation_reads (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) STRICT;
-- For the cascade when a user is deleted.
CREATE INDEX conversation_reads_user ON conversation_reads (user_id);

-- Private notes. No foreign key on the author, like messages: a note outlives its author.
CREATE TABLE notes (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    html            TEXT NOT NULL,
    mentions        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_conversation_created ON notes (conversation_id, created_at);

CREATE TABLE canned_responses (
    id         TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (org_id, shortcut)
) STRICT;

CREATE TABLE invites (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Lower-cased by the caller.
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    invited_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER
) STRICT;
-- One pending invitation per address and organization; accepted ones stay as history. It also
-- serves the list of pending invitations.
CREATE UNIQUE INDEX invites_pending ON invites (org_id, email) WHERE accepted_at IS NULL;

-- Questions the assistant declined: the knowledge base's gap report.
CREATE TABLE unanswered_questions (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL,
    site_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    question        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- The pair keeps a question on its organization's site.
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX unanswered_questions_org_created ON unanswered_questions (org_id, created_at);

-- Analytics read the reactions in a range; few messages have one.
CREATE INDEX messages_reacted_created ON messages (created_at) WHERE reaction IS NOT NULL;
-- Analytics read a site's page views and conversions in a range.
CREATE INDEX visitor_events_site_kind_created ON visitor_events (site_id, kind, created_at);

-- Full-text search over message bodies: an FTS5 index whose text stays in `messages` (external
-- content), kept in step by the triggers below.
--
-- FTS5 identifies rows by an integer. `messages` has no INTEGER PRIMARY KEY, so its implicit rowid
-- is not stable: VACUUM may renumber it, which would silently point the index at the wrong
-- messages. `search_rowid` is an ordinary column, so it never changes once set.
ALTER TABLE messages ADD COLUMN search_rowid INTEGER;
UPDATE messages SET search_rowid = rowid;
CREATE UNIQUE INDEX messages_search_rowid ON messages (search_rowid);
-- unicode61 folds case; remove_diacritics 2 lets "cafe" find "café".
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'search_rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Index the messages written before this migration.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
-- A new message takes the next number (one writer at a time, so MAX + 1 cannot collide; the
-- unique index would refuse it if it did) and is indexed.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    UPDATE messages SET search_rowid = (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM messages)
    WHERE rowid = new.rowid;
    INSERT INTO messages_fts (rowid, body) SELECT search_rowid, body FROM messages WHERE rowid = new.rowid;
END;
-- External-content tables are told the old text to remove it from the index.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.search_rowid, old.body);
END;
-- Only a change of the text re-indexes (a reaction does not).
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.search_rowid, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.search_rowid, new.body);
END;
