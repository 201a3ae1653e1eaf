-- Password reset links: only the SHA-256 of the emailed token is kept; each is used once.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Two-factor login (TOTP, RFC 6238). `last_step` refuses a code's second use.
CREATE TABLE user_totp (
    user_id   UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret    TEXT NOT NULL,
    enabled   BOOLEAN NOT NULL,
    last_step BIGINT NOT NULL DEFAULT 0
);
