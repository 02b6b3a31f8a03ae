-- The tables each store created itself (CREATE ... IF NOT EXISTS in its constructor) until the
-- schema moved into numbered migrations. Databases made before that are at user_version 1 and
-- already have these tables, hence IF NOT EXISTS; the DDL is copied verbatim from the stores so an
-- old database and a new one end up with the same schema. Released: never edit it.

-- camera_app.audit: the append-only audit log, its head and the triggers that refuse edits
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    at        REAL NOT NULL,            -- unix time
    actor     TEXT NOT NULL,
    event     TEXT NOT NULL,
    camera_id TEXT,
    details   TEXT NOT NULL,            -- canonical JSON object
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.seq <= OLD.seq
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- camera_app.api.auth: login sessions
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'family', 'parent', 'public')),
    subject_id  TEXT,                  -- viewer id (family/parent) or public link id
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (subject_id);

-- privacy.registration: real-name registrations
CREATE TABLE IF NOT EXISTS registrations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('owner', 'institution', 'business')),
    name            TEXT NOT NULL,
    resident_id_enc BLOB NOT NULL,          -- FieldCipher, aad = registrations/<id>/resident_id
    masked_id       TEXT NOT NULL,
    uscc            TEXT,                   -- public registry data, kept in clear
    created_at      REAL NOT NULL,
    revoked_at      REAL,
    revoke_reason   TEXT,
    CHECK ((kind = 'owner') = (uscc IS NULL))
);
CREATE INDEX IF NOT EXISTS registrations_kind ON registrations (kind, revoked_at);

-- privacy.gates.store: streaming opt-ins, posted notices, guardian consents
CREATE TABLE IF NOT EXISTS streaming_optins (
    id            TEXT PRIMARY KEY,
    camera_id     TEXT NOT NULL,
    profile       TEXT NOT NULL,
    opted_in_at   REAL NOT NULL,
    opted_in_by   TEXT NOT NULL,
    opted_out_at  REAL,
    opted_out_by  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS streaming_optins_current
    ON streaming_optins (camera_id) WHERE opted_out_at IS NULL;

CREATE TABLE IF NOT EXISTS notices (
    id            TEXT PRIMARY KEY,         -- the notice id printed on the sign
    camera_id     TEXT NOT NULL,
    operator      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    contact       TEXT NOT NULL,
    hours         TEXT NOT NULL,            -- Schedule JSON
    url           TEXT NOT NULL,
    pdf_path      TEXT NOT NULL,            -- relative to the data directory
    created_at    REAL NOT NULL,
    created_by    TEXT NOT NULL,
    attested_at   REAL,                     -- last "it is posted" confirmation
    attested_by   TEXT,
    expired_at    REAL,                     -- when the attestation lapsed (logged once)
    withdrawn_at  REAL
);
CREATE INDEX IF NOT EXISTS notices_camera ON notices (camera_id, created_at);

CREATE TABLE IF NOT EXISTS guardian_consents (
    id            TEXT PRIMARY KEY,
    camera_id     TEXT NOT NULL,
    reference     TEXT NOT NULL,            -- where the signed forms are kept
    guardians     INTEGER NOT NULL,         -- how many guardians consented
    recorded_at   REAL NOT NULL,
    recorded_by   TEXT NOT NULL,
    valid_until   REAL NOT NULL,
    revoked_at    REAL
);

-- privacy.gates.viewers: invited viewers and public links
CREATE TABLE IF NOT EXISTS viewers (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('family', 'parent')),
    cameras        TEXT NOT NULL,           -- JSON list of camera ids
    rooms          TEXT NOT NULL,           -- JSON list of room names
    schedule       TEXT,                    -- Schedule JSON; NULL = any time (family only)
    watermark      INTEGER NOT NULL,
    expires_at     REAL,                    -- access ends (parents: end of term)
    invited_by     TEXT NOT NULL,
    invited_at     REAL NOT NULL,
    invite_hash    TEXT,                    -- sha256 of the one-time invite code, until used
    invite_expires REAL,
    accepted_at    REAL,
    consent_at     REAL,                    -- viewer accepted the viewing terms
    consent_terms  TEXT,
    revoked_at     REAL,
    revoke_reason  TEXT,
    CHECK (role = 'family' OR (schedule IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS public_links (
    id          TEXT PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,       -- sha256 of the link token
    label       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
);

-- camera_app.mqtt.outbox: events waiting for the MQTT broker
CREATE TABLE IF NOT EXISTS mqtt_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at REAL NOT NULL
);
