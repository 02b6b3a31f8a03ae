-- The site's first-run setup code (site_app.setup): while it has no staff account, `camera-site
-- run` shows a one-time code on its console; whoever has it makes the first staff account on the
-- site's page. Only the code's SHA-256 is kept; a new code ends the ones before.
CREATE TABLE IF NOT EXISTS setup_codes (
    id         INTEGER PRIMARY KEY,
    code_hash  TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL
);
