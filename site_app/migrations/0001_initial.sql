-- The site's database (site_app): its accounts, their logins, and what each parent may watch.
-- Opened by firmware.db.open_database with these migrations (PRAGMA user_version).

-- People with a site login: the school's staff (who manage accounts and grants) and parents.
-- `id` is what the devices see (opaque; never a name); passwords are argon2 hashes.
CREATE TABLE IF NOT EXISTS accounts (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('staff', 'parent')),
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   REAL,
    -- the version of the viewing terms (privacy.gates.viewers.TERMS_VERSION) a parent accepted
    -- on the site, and when; a parent's grant goes to the devices only once they accepted
    terms_version TEXT,
    terms_at      REAL
);

-- Login sessions: only the SHA-256 of the bearer token is kept.
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS logins_account ON logins (account_id);

-- A parent's grant: the rooms of their child, when they may watch (a privacy.gates.schedule
-- Schedule as JSON, in the devices' local time) and until when. One per account; the site pushes
-- it to every device that films one of the rooms, which stores it as a viewer of its own.
CREATE TABLE IF NOT EXISTS grants (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    rooms      TEXT NOT NULL,
    schedule   TEXT NOT NULL,
    expires_at REAL NOT NULL,
    granted_at REAL NOT NULL,
    granted_by TEXT NOT NULL
);
