"""Which events to delete to respect the age limit and the disk quota (pure logic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An event's footprint on disk."""

    id: str
    started_at: float
    bytes: int
    active: bool


def choose_deletions(
    items: Iterable[StoredItem], *, now: float, max_age_s: float, quota_bytes: int
) -> list[str]:
    """Ids to delete, oldest first: everything past ``max_age_s``, then the oldest until the rest
    fits in ``quota_bytes``.

    An active event (its clip is being written) is never chosen, and the quota never takes the
    newest event: the latest evidence is not thrown away to make room for nothing (the recorder
    instead cuts clips short and skips recording while the quota is full).
    """
    ordered = sorted(items, key=lambda i: i.started_at)
    newest = ordered[-1].id if ordered else None
    chosen: list[str] = []
    total = sum(i.bytes for i in ordered)
    for item in ordered:
        if item.active:
            continue
        too_old = now - item.started_at > max_age_s
        if too_old or (total > quota_bytes and item.id != newest):
            chosen.append(item.id)
            total -= item.bytes
    return chosen
