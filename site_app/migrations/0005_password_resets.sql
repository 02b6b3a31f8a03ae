-- Password reset links (site_app.resets): staff give a person who forgot their password a
-- single-use code (only its SHA-256 kept) with which they set a new one. A new link for an
-- account withdraws the one before.
CREATE TABLE IF NOT EXISTS password_resets (
    id           TEXT PRIMARY KEY,
    code_hash    TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    created_at   REAL NOT NULL,
    created_by   TEXT NOT NULL,
    -- the code works until then
    expires_at   REAL NOT NULL,
    used_at      REAL,
    withdrawn_at REAL
);
CREATE INDEX IF NOT EXISTS password_resets_account ON password_resets (account_id);
