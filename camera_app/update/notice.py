"""The notice period for releases that change detection, redaction or streaming (pure logic).

Such a release carries ``not_before`` ≥ published + 24 h (checked when it is signed and again on
the device). Two refinements on the device make the notice real rather than nominal:

* The 24 h also count from when *this device* first saw the release (``seen``): a release
  published with a back-dated ``published`` time, or seen late because the device was offline,
  still gets its full notice on this device.
* Releases are cumulative: 1.3.0 contains what 1.2.0 changed. So the newest release inherits the
  changes and the earliest activation time of every behaviour-changing release between the one
  installed and it; skipping over an announced release does not skip its notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from camera_app.update.release import NOTICE_PERIOD, ReleaseInfo, Version, iso


@dataclass(frozen=True, slots=True)
class UpdateNotice:
    """What the newest release changes (including skipped ones) and when it may activate."""

    version: str
    changes_behaviour: tuple[str, ...]
    allowed_from: datetime
    announced_at: datetime

    def allows(self, now: datetime) -> bool:
        return now >= self.allowed_from

    def refusal(self, now: datetime) -> str:
        left = self.allowed_from - now
        hours = left.total_seconds() / 3600
        return (
            f"release {self.version} changes {', '.join(self.changes_behaviour)} behaviour; it "
            f"was announced at {iso(self.announced_at)} and may be activated from "
            f"{iso(self.allowed_from)} (in {hours:.1f} h), not before"
        )


def newly_seen(releases: Iterable[ReleaseInfo], seen: Mapping[str, float]) -> list[ReleaseInfo]:
    """Behaviour-changing releases not announced yet."""
    return [r for r in releases if r.changes and r.version not in seen]


def notice_for(
    newest: ReleaseInfo,
    releases: Iterable[ReleaseInfo],
    current: Version | None,
    seen: Mapping[str, float],
) -> UpdateNotice | None:
    """The notice ``newest`` is under, or None when nothing up to it changes behaviour.

    ``seen`` maps versions to the unix time this device first saw them; every release that
    changes behaviour must be in it (record sightings first).
    """
    top = newest.parsed_version
    span = [
        r for r in releases
        if r.changes and r.parsed_version <= top
        and (current is None or r.parsed_version > current)
    ]  # fmt: skip
    if newest.changes and newest not in span:
        span.append(newest)
    if not span:
        return None
    allowed: list[datetime] = []
    announced: list[datetime] = []
    changes: set[str] = set()
    for release in span:
        first_seen = datetime.fromtimestamp(seen[release.version], UTC)
        announced.append(first_seen)
        # check_notice() guarantees not_before for a behaviour-changing release
        assert release.not_before is not None
        allowed.append(max(release.not_before, first_seen + NOTICE_PERIOD))
        changes.update(release.changes_behaviour)
    return UpdateNotice(
        version=newest.version,
        changes_behaviour=tuple(sorted(changes)),
        allowed_from=max(allowed),
        announced_at=min(announced),
    )
