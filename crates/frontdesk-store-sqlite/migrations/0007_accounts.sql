-- Password reset links: only the SHA-256 of the emailed token is kept; each is used once.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Two-factor login (TOTP, RFC 6238). `last_step` refuses a code's second use.
CREATE TABLE user_totp (
    user_id   TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret    TEXT NOT NULL,
    enabled   INTEGER NOT NULL,
    last_step INTEGER NOT NULL DEFAULT 0
) STRICT;
