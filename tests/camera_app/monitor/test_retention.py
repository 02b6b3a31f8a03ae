"""Retention choice: by age, then by quota, oldest first, never the active event."""

from __future__ import annotations

from camera_app.monitor.retention import StoredItem, choose_deletions

DAY = 86400.0


def _item(i: int, age_days: float, size: int, active: bool = False) -> StoredItem:
    return StoredItem(id=f"e{i}", started_at=100 * DAY - age_days * DAY, bytes=size, active=active)


def test_deletes_what_is_too_old() -> None:
    items = [_item(1, 20, 10), _item(2, 15, 10), _item(3, 1, 10)]
    assert choose_deletions(items, now=100 * DAY, max_age_s=14 * DAY, quota_bytes=1000) == [
        "e1",
        "e2",
    ]


def test_quota_deletes_oldest_first_until_it_fits() -> None:
    items = [_item(3, 1, 40), _item(1, 3, 40), _item(2, 2, 40)]
    assert choose_deletions(items, now=100 * DAY, max_age_s=30 * DAY, quota_bytes=50) == [
        "e1",
        "e2",
    ]


def test_never_deletes_the_active_event() -> None:
    items = [_item(1, 40, 500, active=True), _item(2, 1, 10), _item(3, 0.5, 10)]
    assert choose_deletions(items, now=100 * DAY, max_age_s=14 * DAY, quota_bytes=100) == ["e2"]


def test_nothing_to_do() -> None:
    assert choose_deletions([], now=0, max_age_s=1, quota_bytes=1) == []
    items = [_item(1, 1, 10)]
    assert choose_deletions(items, now=100 * DAY, max_age_s=14 * DAY, quota_bytes=10) == []


def test_quota_keeps_the_newest_event_but_age_does_not() -> None:
    items = [_item(1, 3, 400), _item(2, 1, 400)]
    assert choose_deletions(items, now=100 * DAY, max_age_s=30 * DAY, quota_bytes=100) == ["e1"]
    assert choose_deletions(items, now=100 * DAY, max_age_s=0.5 * DAY, quota_bytes=100) == [
        "e1",
        "e2",
    ]
