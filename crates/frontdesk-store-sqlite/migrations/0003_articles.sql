-- Knowledge-base articles. The search index is built from these rows and can always be rebuilt.
CREATE TABLE articles (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL,
    site_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    locale       TEXT NOT NULL,
    tags         TEXT NOT NULL,
    status       TEXT NOT NULL,
    url          TEXT,
    -- A stable key from an import (the file's path): re-importing updates instead of duplicating.
    external_key TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX articles_org_updated ON articles (org_id, updated_at DESC);
CREATE INDEX articles_site ON articles (site_id);
CREATE UNIQUE INDEX articles_site_key ON articles (site_id, external_key) WHERE external_key IS NOT NULL;
