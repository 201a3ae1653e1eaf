-- Frontdesk schema for SQLite. Ids are hyphenated lower-case UUID text, times are Unix
-- milliseconds, JSON is text. STRICT tables make SQLite check the declared types.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    -- Always stored lower-cased, so UNIQUE is case-insensitive in effect.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE login_sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT
) STRICT;
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE sites (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    public_key      TEXT NOT NULL UNIQUE,
    secret          TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    widget          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- Target of the conversations' (site_id, org_id) foreign key.
    UNIQUE (id, org_id)
) STRICT;
CREATE INDEX sites_org ON sites (org_id);

CREATE TABLE visitors (
    id           TEXT PRIMARY KEY NOT NULL,
    site_id      TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name         TEXT,
    email        TEXT,
    locale       TEXT,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (id, site_id)
) STRICT;
CREATE INDEX visitors_site ON visitors (site_id);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id          TEXT NOT NULL,
    visitor_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    assignee_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
    page_url         TEXT,
    locale           TEXT,
    params           TEXT NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    token_generation INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    -- The database itself refuses a conversation whose site is another org's, or whose
    -- visitor is another site's.
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (visitor_id, site_id) REFERENCES visitors (id, site_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX conversations_org_updated ON conversations (org_id, updated_at DESC);
CREATE INDEX conversations_site ON conversations (site_id);
CREATE INDEX conversations_visitor ON conversations (visitor_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    author_kind     TEXT NOT NULL,
    author_id       TEXT,
    body            TEXT NOT NULL,
    html            TEXT NOT NULL,
    citations       TEXT NOT NULL,
    quick_replies   TEXT NOT NULL,
    reaction        TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
) STRICT;

CREATE TABLE ratings (
    conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    stars           INTEGER NOT NULL,
    tags            TEXT NOT NULL,
    feedback        TEXT,
    created_at      INTEGER NOT NULL
) STRICT;

-- No foreign keys: the audit log outlives what it talks about.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_events_org_created ON audit_events (org_id, created_at);

-- AUTOINCREMENT: ids are never reused, even after the newest rows are deleted, so a
-- reader's stream offset stays meaningful.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
