-- Page views and conversions the widget reports, per visitor: the dashboard's visitor insights.
CREATE TABLE visitor_events (
    id              TEXT PRIMARY KEY NOT NULL,
    site_id         TEXT NOT NULL,
    visitor_id      TEXT NOT NULL,
    conversation_id TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,
    url             TEXT,
    title           TEXT,
    referrer        TEXT,
    name            TEXT,
    props           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- The pair keeps an event on its visitor's site.
    FOREIGN KEY (visitor_id, site_id) REFERENCES visitors (id, site_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX visitor_events_visitor_created ON visitor_events (site_id, visitor_id, created_at DESC);
