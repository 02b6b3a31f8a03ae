-- When a paused room resumes by itself (site_app.pauses: "pause for 15 minutes"); a pause
-- without a row here lasts until staff resume it. A new table (not a column): migrations run twice.
CREATE TABLE IF NOT EXISTS room_pause_ends (
    room    TEXT PRIMARY KEY REFERENCES room_pauses (room) ON DELETE CASCADE,
    ends_at REAL NOT NULL
);
