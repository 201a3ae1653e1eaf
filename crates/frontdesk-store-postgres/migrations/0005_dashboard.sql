-- The agents' dashboard: plans, key rotation, the inbox (read markers, notes, canned responses),
-- the team (invitations, notification preferences), the knowledge base's gap report, analytics
-- and full-text search over messages.

-- What the organization pays for. BIGINT rather than INTEGER: the model's u32 always fits.
ALTER TABLE organizations
    ADD COLUMN plan        TEXT NOT NULL DEFAULT 'free',
    ADD COLUMN extra_seats BIGINT NOT NULL DEFAULT 0;

-- The widget configuration being edited (JSON, NULL when none), and the key before the last
-- rotation, still accepted until it expires (checked by the caller).
ALTER TABLE sites
    ADD COLUMN widget_draft            JSONB,
    ADD COLUMN previous_public_key     TEXT,
    ADD COLUMN previous_key_expires_at BIGINT;
-- Widgets look sites up by either key; most sites have no previous key.
CREATE INDEX sites_previous_public_key ON sites (previous_public_key) WHERE previous_public_key IS NOT NULL;

ALTER TABLE conversations
    ADD COLUMN status_changed_at    BIGINT,
    ADD COLUMN escalated_at         BIGINT,
    ADD COLUMN first_agent_reply_at BIGINT;
-- Existing rows: the last update is the best guess of the last status change (and, for the ones
-- escalated now, of their escalation).
UPDATE conversations
SET status_changed_at = updated_at,
    escalated_at = CASE WHEN status = 'escalated' THEN updated_at END;
ALTER TABLE conversations ALTER COLUMN status_changed_at SET NOT NULL;
-- The escalation queue: an organization's conversations of one status, longest waiting first.
CREATE INDEX conversations_queue ON conversations (org_id, status, status_changed_at);
-- Analytics read the conversations started in a range.
CREATE INDEX conversations_org_created ON conversations (org_id, created_at);

-- Which email alerts the member receives (frontdesk_core::team::NotificationPrefs as JSON).
ALTER TABLE memberships
    ADD COLUMN notify JSONB NOT NULL DEFAULT '{"email_escalations":true,"email_mentions":true}'::jsonb;

-- Each agent's read marker per conversation: the inbox's unread counts.
CREATE TABLE conversation_reads (
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_reads_user ON conversation_reads (user_id);

-- Private notes. No foreign key on the author, like messages: a note outlives its author.
CREATE TABLE notes (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id       UUID NOT NULL,
    body            TEXT NOT NULL,
    html            TEXT NOT NULL,
    mentions        JSONB NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX notes_conversation_created ON notes (conversation_id, created_at);

CREATE TABLE canned_responses (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, shortcut)
);

CREATE TABLE invites (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Lower-cased.
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    invited_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT
);
-- One pending invitation per address and organization; accepted ones stay as history.
CREATE UNIQUE INDEX invites_pending ON invites (org_id, email) WHERE accepted_at IS NULL;

-- Questions the assistant declined: the knowledge base's gap report.
CREATE TABLE unanswered_questions (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL,
    site_id         UUID NOT NULL,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      UUID NOT NULL,
    question        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- The pair keeps a question on its organization's site.
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE
);
CREATE INDEX unanswered_questions_org_created ON unanswered_questions (org_id, created_at);

-- Full-text search over message bodies. Queries must use the same expression (the 'simple'
-- configuration: no stemming and no stop words, so every language is searched alike).
CREATE INDEX messages_body_fts ON messages USING GIN (to_tsvector('simple', body));
-- Analytics read the reactions in a range; few messages have one.
CREATE INDEX messages_reacted_created ON messages (created_at) WHERE reaction IS NOT NULL;
-- Analytics read a site's page views and conversions in a range.
CREATE INDEX visitor_events_site_kind_created ON visitor_events (site_id, kind, created_at);
