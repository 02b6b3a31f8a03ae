-- Parent invites (site_app.invites): a single-use code, of which only the SHA-256 is kept, that
-- a parent exchanges for an account of their own and the grant the invite carries (rooms,
-- schedule, end date). Made one at a time by staff or many at once from a class list (`batch`).
CREATE TABLE IF NOT EXISTS invites (
    id               TEXT PRIMARY KEY,
    code_hash        TEXT NOT NULL UNIQUE,
    -- the username the class list gave the family; NULL: the parent picks one when joining
    username         TEXT,
    -- the class list's label for the family (e.g. 王小明家), so staff find a lost card's invite
    label            TEXT,
    lang             TEXT NOT NULL CHECK (lang IN ('en', 'zh')),
    rooms            TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    grant_expires_at REAL NOT NULL,
    created_at       REAL NOT NULL,
    created_by       TEXT NOT NULL,
    batch            TEXT,
    -- the code works until then
    expires_at       REAL NOT NULL,
    used_at          REAL,
    account_id       TEXT REFERENCES accounts (id),
    withdrawn_at     REAL,
    withdrawn_by     TEXT
);
CREATE INDEX IF NOT EXISTS invites_pending ON invites (expires_at) WHERE used_at IS NULL AND withdrawn_at IS NULL;
