"""A camera's event pages from the SQLite index (real database on disk): newest first, ties on
the start time broken by id, every event once across the pages, and answered from the per-camera
index without a sort."""

from __future__ import annotations

from pathlib import Path

from camera_app.monitor.store import EventStore, page_query
from firmware.db import open_database


def test_pages_walk_every_event_of_the_camera_once_newest_first(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "camera.db")
    try:
        store = EventStore(conn)
        expected = []
        for i in range(30):
            started = 1000.0 + (i // 3) * 10  # three events share each start time
            store.open_event(f"a{i:02d}", "front", started, None)
            store.open_event(f"b{i:02d}", "back", started + 1, None)
            expected.append((started, f"a{i:02d}"))
        expected.sort(reverse=True)

        seen: list[tuple[float, str]] = []
        before = None
        while True:
            page = store.page("front", limit=4, before=before)
            seen += [(e.started_at, e.id) for e in page]
            if len(page) < 4:
                break
            before = seen[-1]
        assert seen == expected

        window = store.page("front", limit=50, since=1010.0, until=1030.0)
        assert [e.id for e in window] == ["a08", "a07", "a06", "a05", "a04", "a03"]

        # a deep page is sought to the cursor within the camera's events (not read from its
        # newest down to the cursor), in index order (no sort)
        sql, params = page_query("front", limit=4, before=(1050.0, "a15"))
        plan = " ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "events_camera_started (camera_id=? AND " in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()
