-- The site's own audit log (privacy.audit.AuditLog, used as is): its accounts created and
-- disabled, grants put and withdrawn, viewing terms accepted, staff logins, the tickets asked of
-- the devices and their answers. The same tables and append-only triggers as the device's
-- (firmware/migrations/0002_store_tables.sql), so the device's hash chain, head and verify()
-- apply unchanged; `camera-site verify-audit` checks it.
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    at        REAL NOT NULL,            -- unix time
    actor     TEXT NOT NULL,            -- a site user name, or `console`
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
