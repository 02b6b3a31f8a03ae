-- Scoped API tokens the owner makes for an integration (e.g. Home Assistant reading events and
-- snapshots): only the token's SHA-256 is stored; scopes is a JSON list of scope names.
CREATE TABLE IF NOT EXISTS api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    REAL NOT NULL,
    last_used_at  REAL,
    revoked_at    REAL
);
