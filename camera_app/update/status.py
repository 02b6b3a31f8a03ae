"""A read-only view of the update state for the owner API, MQTT and the public notice page.

:func:`load_update_status` needs only the data directory: no network, no lock, and it never
raises for a missing or broken ``state.json`` (``error`` says what is wrong instead), so a page
that shows it cannot be broken by it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from camera_app.update.errors import StateError
from camera_app.update.layout import SpoolPaths, UpdatePaths
from camera_app.update.release import Version, iso
from camera_app.update.state import (
    Announcements,
    Pending,
    UpdateState,
    load_announcements,
    load_state,
)
from privacy.models.registry import MANIFEST_PATH

log = logging.getLogger(__name__)

PACKAGE = "camera-app"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A model the release uses: its version string and the sha256 of its file."""

    version: str | None
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An announced release that changes behaviour and is not active yet."""

    version: str
    changes_behaviour: tuple[str, ...]
    published: datetime
    #: the earliest time it may be activated on this device
    not_before: datetime
    announced_at: datetime
    models: Mapping[str, str]  # name → sha256
    #: models whose file differs from the running release's
    models_changed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "changes_behaviour": list(self.changes_behaviour),
            "published": iso(self.published),
            "not_before": iso(self.not_before),
            "announced_at": iso(self.announced_at),
            "models": dict(self.models),
            "models_changed": list(self.models_changed),
        }


@dataclass(frozen=True, slots=True)
class LastUpdateResult:
    result: str  # healthy | rolled_back | refused | failed | up_to_date
    version: str | None
    reason: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result, "version": self.version, "reason": self.reason,
                "at": iso(self.at)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """What runs, what is announced, and how the last update went."""

    current_version: str
    #: "a" / "b", or None for the base install (before the first update)
    current_slot: str | None
    current_models: Mapping[str, ModelVersion]
    previous_version: str | None  # what a rollback would go back to
    phase: str  # idle | downloaded | installed | activating | healthy | rolled_back
    activating_version: str | None
    pending: PendingUpdate | None
    last_result: LastUpdateResult | None
    #: set when state.json cannot be read; the rest then describes the base install
    error: str | None = None
    bad_versions: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "current_version": self.current_version,
            "current_slot": self.current_slot,
            "current_models": {k: v.to_json() for k, v in self.current_models.items()},
            "previous_version": self.previous_version,
            "phase": self.phase,
            "activating_version": self.activating_version,
            "pending": self.pending.to_json() if self.pending else None,
            "last_result": self.last_result.to_json() if self.last_result else None,
            "bad_versions": list(self.bad_versions),
            "error": self.error,
        }


def base_version() -> str:
    """The version of the app this interpreter runs (the base install before any update)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def manifest_models(manifest: Path) -> dict[str, ModelVersion]:
    """Name → version and sha256 from a model manifest; empty when it cannot be read."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return {
            str(m["name"]): ModelVersion(m.get("version"), str(m["sha256"]).lower())
            for m in data["models"]
        }
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("cannot read the model manifest %s: %s", manifest, err)
        return {}


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _newer(version: str, than: str) -> bool:
    try:
        return Version.parse(version) > Version.parse(than)
    except ValueError:
        return True  # an unversioned base install: anything announced is newer


def _pending(
    state: UpdateState, announcements: Announcements | None, current: str
) -> Pending | None:
    """The newest pending release announced by the apply (``state``) or by ``update check``
    (``announcements``), if it is newer than what runs."""
    found = [p for p in (state.pending, announcements and announcements.pending) if p]
    found = [p for p in found if _newer(p.version, current)]
    return max(found, key=lambda p: Version.parse(p.version), default=None)


def status_from_state(
    paths: UpdatePaths, state: UpdateState, announcements: Announcements | None = None
) -> UpdateStatus:
    active = state.active
    record = state.slots.get(active) if active else None
    if active and record:
        version = record.version
        models = manifest_models(paths.slot(active) / "models" / "manifest.json")
    else:
        version = base_version()
        models = manifest_models(MANIFEST_PATH)
    previous = state.slots.get(state.previous) if state.previous else None
    pending = None
    p = _pending(state, announcements, version)
    if p is not None:
        current = {name: m.sha256 for name, m in models.items()}
        pending = PendingUpdate(
            version=p.version,
            changes_behaviour=tuple(p.changes_behaviour),
            published=_at(p.published),
            not_before=_at(p.not_before),
            announced_at=_at(p.announced_at),
            models=dict(p.models),
            models_changed=tuple(sorted(n for n, h in p.models.items() if current.get(n) != h)),
        )
    last = None
    if state.last_result is not None:
        r = state.last_result
        last = LastUpdateResult(r.result, r.version, r.reason, _at(r.at))
    return UpdateStatus(
        current_version=version,
        current_slot=active,
        current_models=models,
        previous_version=previous.version if previous else None,
        phase=state.phase.value,
        activating_version=state.activating.version if state.activating else None,
        pending=pending,
        last_result=last,
        bad_versions=tuple(state.bad_versions),
    )


def load_update_status(data_dir: Path) -> UpdateStatus:
    """The update status of the device whose data directory is ``data_dir``."""
    paths = UpdatePaths.of(data_dir)
    try:
        announcements: Announcements | None = load_announcements(
            SpoolPaths.of(data_dir).announcements
        )
    except StateError as err:
        log.warning("update check's announcements are not shown: %s", err)
        announcements = None
    try:
        state = load_state(paths.state)
    except StateError as err:
        status = status_from_state(paths, UpdateState(), announcements)
        return replace(status, error=str(err))
    return status_from_state(paths, state, announcements)
