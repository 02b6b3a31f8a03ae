-- The devices' audit trails (site_app.audit): each device's records as it sent them, kept only
-- after the site checked that they continue the chain it holds (seq, prev_hash, the record's own
-- hash recomputed). A device whose chain does not continue is marked `broken` (with the reason)
-- and followed no further until staff look into it.
CREATE TABLE IF NOT EXISTS device_audit (
    device    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    at        REAL NOT NULL,
    actor     TEXT NOT NULL,
    event     TEXT NOT NULL,
    camera_id TEXT,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE TABLE IF NOT EXISTS device_audit_state (
    device    TEXT PRIMARY KEY,
    broken    TEXT,
    broken_at REAL
);
