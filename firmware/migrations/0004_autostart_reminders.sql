-- A merchant camera's stream that starts by itself inside the posted hours: the owner's opt-in
-- per camera (one row, updated in place; every change is in the audit log) and, after a manual
-- stop inside the hours, the time until which it does not start by itself again.
CREATE TABLE IF NOT EXISTS streaming_autostart (
    camera_id     TEXT PRIMARY KEY,
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    changed_at    REAL NOT NULL,
    changed_by    TEXT NOT NULL,
    paused_until  REAL
);

-- Reminders to re-attest a posted notice before its attestation lapses: one row per notice,
-- attestation and local day, so a reminder goes out once a day (also across restarts);
-- mqtt_sent_at is set once MQTT has taken it (into its outbox).
CREATE TABLE IF NOT EXISTS notice_reminders (
    notice_id     TEXT NOT NULL,
    attested_at   REAL NOT NULL,
    day           TEXT NOT NULL,
    camera_id     TEXT NOT NULL,
    lapses_at     REAL NOT NULL,
    created_at    REAL NOT NULL,
    mqtt_sent_at  REAL,
    PRIMARY KEY (notice_id, attested_at, day)
);
