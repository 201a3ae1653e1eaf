-- Bot scenarios (flows): the draft per scenario, its published versions (never changed), and each
-- conversation's run of one.
CREATE TABLE scenarios (
    id                   TEXT PRIMARY KEY NOT NULL,
    org_id               TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id              TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    draft                TEXT NOT NULL,
    published_version    INTEGER,
    published_at         INTEGER,
    starts_conversations INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX scenarios_site ON scenarios (site_id, name);

CREATE TABLE scenario_versions (
    scenario_id  TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    document     TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (scenario_id, version)
) STRICT;

CREATE TABLE conversation_flows (
    conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    scenario_id     TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    run             TEXT NOT NULL,
    due_at          INTEGER,
    revision        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
-- The timer job reads the due runs, earliest first.
CREATE INDEX conversation_flows_due ON conversation_flows (due_at) WHERE due_at IS NOT NULL;
