-- Frontdesk schema for PostgreSQL. Times are Unix milliseconds (BIGINT), as in SQLite.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    -- Always stored lower-cased, so UNIQUE is case-insensitive in effect.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE login_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE sites (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    public_key      TEXT NOT NULL UNIQUE,
    secret          TEXT NOT NULL,
    allowed_origins JSONB NOT NULL,
    widget          JSONB NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- Target of the conversations' (site_id, org_id) foreign key.
    UNIQUE (id, org_id)
);
CREATE INDEX sites_org ON sites (org_id);

CREATE TABLE visitors (
    id           UUID PRIMARY KEY,
    site_id      UUID NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name         TEXT,
    email        TEXT,
    locale       TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    UNIQUE (id, site_id)
);
CREATE INDEX visitors_site ON visitors (site_id);

CREATE TABLE conversations (
    id               UUID PRIMARY KEY,
    org_id           UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id          UUID NOT NULL,
    visitor_id       UUID NOT NULL,
    status           TEXT NOT NULL,
    assignee_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    page_url         TEXT,
    locale           TEXT,
    params           JSONB NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    -- The database itself refuses a conversation whose site is another org's, or whose
    -- visitor is another site's.
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (visitor_id, site_id) REFERENCES visitors (id, site_id) ON DELETE CASCADE
);
CREATE INDEX conversations_org_updated ON conversations (org_id, updated_at DESC);
CREATE INDEX conversations_site ON conversations (site_id);
CREATE INDEX conversations_visitor ON conversations (visitor_id);

CREATE TABLE messages (
    id              UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    author_kind     TEXT NOT NULL,
    author_id       UUID,
    body            TEXT NOT NULL,
    html            TEXT NOT NULL,
    citations       JSONB NOT NULL,
    quick_replies   JSONB NOT NULL,
    reaction        TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);

CREATE TABLE ratings (
    conversation_id UUID PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    stars           SMALLINT NOT NULL,
    tags            JSONB NOT NULL,
    feedback        TEXT,
    created_at      BIGINT NOT NULL
);

-- No foreign keys: the audit log outlives what it talks about.
CREATE TABLE audit_events (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL,
    actor_id    UUID,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    details     JSONB NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_org_created ON audit_events (org_id, created_at);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          UUID NOT NULL,
    conversation_id UUID NOT NULL,
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL,
    created_at      BIGINT NOT NULL
);
