-- Knowledge-base articles. The search index is built from these rows and can always be rebuilt.
CREATE TABLE articles (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL,
    site_id      UUID NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    locale       TEXT NOT NULL,
    tags         JSONB NOT NULL,
    status       TEXT NOT NULL,
    url          TEXT,
    -- A stable key from an import (the file's path): re-importing updates instead of duplicating.
    external_key TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE
);
CREATE INDEX articles_org_updated ON articles (org_id, updated_at DESC);
CREATE INDEX articles_site ON articles (site_id);
CREATE UNIQUE INDEX articles_site_key ON articles (site_id, external_key) WHERE external_key IS NOT NULL;
