-- Recordings a family viewer may see, per camera (issue 13): none until the owner grants some
-- cameras of the viewer's invitation. Parents and public viewers never get one
-- (camera_app.monitor.grants refuses them). Viewers are never deleted (only revoked), so the
-- reference always holds.
CREATE TABLE IF NOT EXISTS recording_grants (
    viewer_id  TEXT NOT NULL REFERENCES viewers (id),
    camera_id  TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at REAL NOT NULL,
    PRIMARY KEY (viewer_id, camera_id)
);

-- A camera's event pages (camera_app.monitor.store.EventStore.page): newest first per camera,
-- the cursor a (started_at, id) row value, all answered from this index without a sort; with
-- only events_started, a camera with few events among many made SQLite walk the whole index.
CREATE INDEX IF NOT EXISTS events_camera_started ON events (camera_id, started_at, id);
