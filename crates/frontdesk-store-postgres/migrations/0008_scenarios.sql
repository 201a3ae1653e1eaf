-- Bot scenarios (flows): the draft per scenario, its published versions (never changed), and each
-- conversation's run of one.
CREATE TABLE scenarios (
    id                   UUID PRIMARY KEY,
    org_id               UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id              UUID NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    draft                JSONB NOT NULL,
    published_version    BIGINT,
    published_at         BIGINT,
    starts_conversations BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX scenarios_site ON scenarios (site_id, name);

CREATE TABLE scenario_versions (
    scenario_id  UUID NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    document     JSONB NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (scenario_id, version)
);

CREATE TABLE conversation_flows (
    conversation_id UUID PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    org_id          UUID NOT NULL,
    scenario_id     UUID NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    run             JSONB NOT NULL,
    due_at          BIGINT,
    revision        BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- The timer job reads the due runs, earliest first.
CREATE INDEX conversation_flows_due ON conversation_flows (due_at) WHERE due_at IS NOT NULL;
