-- Rate limits shared by every node: one theoretical arrival time (GCRA) per key, in Unix
-- milliseconds. UNLOGGED: limits are worth nothing after a crash, and skipping the WAL keeps
-- the per-request write cheap.
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
