-- Rooms whose viewing staff paused (site_app.pauses): no parent gets a ticket for them, and the
-- devices are sent the grants without them (their viewers cut off at the relay) until resumed.
CREATE TABLE IF NOT EXISTS room_pauses (
    room      TEXT PRIMARY KEY,
    paused_at REAL NOT NULL,
    paused_by TEXT NOT NULL
);
