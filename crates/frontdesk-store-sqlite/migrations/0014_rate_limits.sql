-- Rate limits shared by every node that uses this database: one theoretical arrival time (GCRA)
-- per key, in Unix milliseconds.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY NOT NULL,
    tat INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_tat ON rate_limits (tat);
