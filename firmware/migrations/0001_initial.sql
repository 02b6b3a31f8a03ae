-- The schema open_database created at user_version 1: the event index, accounts, settings and
-- setup codes. Released: never edit it; add a new migration instead.

CREATE TABLE IF NOT EXISTS events (
    id              TEXT PRIMARY KEY,
    camera_id       TEXT NOT NULL,
    started_at      REAL NOT NULL,          -- unix time of the first motion frame
    ended_at        REAL,                   -- unix time of the last frame in the clip
    status          TEXT NOT NULL CHECK (status IN ('active', 'complete', 'interrupted')),
    end_reason      TEXT,
    peak_motion     REAL NOT NULL DEFAULT 0,
    clip_path       TEXT,                   -- relative to the data directory
    clip_frames     INTEGER,
    clip_duration_s REAL,
    clip_bytes      INTEGER NOT NULL DEFAULT 0,
    snapshot_path   TEXT,
    snapshot_bytes  INTEGER NOT NULL DEFAULT 0,
    note            TEXT
);
CREATE INDEX IF NOT EXISTS events_started ON events (started_at);

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'family', 'parent', 'public')),
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (   -- device state that must survive a restart
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS setup_codes (
    id         INTEGER PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL
);
