"""``state.json``: which slot runs, what each slot holds, what is pending, how the last try went.

The state machine of one update is ``idle → downloaded → installed → activating → healthy`` or
``→ rolled_back``; a refusal or a failed install leaves the phase where it was and records the
reason in ``last_result``. The file is replaced atomically (write, fsync, rename), so a power cut
leaves either the old or the new state, never half of one.

``update check`` runs as the service user and cannot write ``state.json``: it keeps its first
sightings and the pending notice in :class:`Announcements` (``update-spool/announcements.json``),
which the privileged apply reads as a claim, never as a trusted fact (see
``camera_app.update.device``).
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camera_app.update.errors import StateError
from firmware.atomicfile import write_atomically

log = logging.getLogger(__name__)

SCHEMA = 1
MAX_STATE_BYTES = 1_000_000
SlotName = Literal["a", "b"]


class Phase(StrEnum):
    IDLE = "idle"
    DOWNLOADED = "downloaded"
    INSTALLED = "installed"
    ACTIVATING = "activating"
    HEALTHY = "healthy"
    ROLLED_BACK = "rolled_back"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotRecord(_Model):
    """A release installed in a slot."""

    version: str
    models: dict[str, str] = Field(default_factory=dict)  # name → sha256
    changes_behaviour: list[str] = Field(default_factory=list)
    installed_at: float


class Activation(_Model):
    """A switch to ``slot`` that has not yet passed its health check."""

    slot: SlotName
    version: str
    from_slot: SlotName | None  # None: the base install (no slot) ran before
    started_at: float
    deadline: float


class Pending(_Model):
    """The newest behaviour-changing release the device has announced but not activated."""

    version: str
    changes_behaviour: list[str]
    published: float
    not_before: float  # the effective earliest activation (camera_app.update.notice)
    announced_at: float
    models: dict[str, str] = Field(default_factory=dict)


ResultName = Literal["healthy", "rolled_back", "refused", "failed", "up_to_date"]


class LastResult(_Model):
    result: ResultName
    version: str | None = None
    reason: str | None = None
    at: float


class UpdateState(_Model):
    schema_: int = Field(default=SCHEMA, alias="schema")
    phase: Phase = Phase.IDLE
    #: the Python environment the slots are layered on (holds the app's dependencies)
    base_env: str | None = None
    slots: dict[SlotName, SlotRecord] = Field(default_factory=dict)
    active: SlotName | None = None
    previous: SlotName | None = None
    activating: Activation | None = None
    pending: Pending | None = None
    #: behaviour-changing versions → when this device first saw them (starts their notice)
    seen: dict[str, float] = Field(default_factory=dict)
    #: versions that were rolled back; ``apply`` skips them unless asked to retry
    bad_versions: list[str] = Field(default_factory=list)
    last_result: LastResult | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)


class Announcements(_Model):
    """What ``update check`` has announced: behaviour-changing versions → when it first saw
    them, and the newest such release still pending."""

    schema_: int = Field(default=SCHEMA, alias="schema")
    seen: dict[str, float] = Field(default_factory=dict)
    pending: Pending | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)


_Record = TypeVar("_Record", UpdateState, Announcements)


def load_state(path: Path) -> UpdateState:
    """The state in ``path``; a fresh state when the file does not exist.

    Raises :class:`StateError` (naming the bad key) when it exists but cannot be used: the
    caller must then change nothing, since a guess could switch to a broken slot.
    """
    return _load(path, UpdateState)


def load_announcements(path: Path) -> Announcements:
    """``update check``'s announcements; empty when the file does not exist. Raises
    :class:`StateError` like :func:`load_state`."""
    return _load(path, Announcements)


def _load(path: Path, model: type[_Record]) -> _Record:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return model()
    except OSError as err:
        raise StateError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) > MAX_STATE_BYTES:
        raise StateError(f"{path} is larger than {MAX_STATE_BYTES} bytes")
    hint = "fix or remove it (the running release is not affected)"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise StateError(f"{path} is not valid JSON ({err}); {hint}") from None
    if isinstance(data, dict) and data.get("schema") not in (None, SCHEMA):
        raise StateError(f"{path} has schema {data.get('schema')!r}, expected {SCHEMA}; {hint}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in err.errors(include_url=False)
        )
        raise StateError(f"{path} is not valid: {problems}; {hint}") from None


def save_state(path: Path, state: UpdateState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, state.to_json().encode("utf-8") + b"\n", mode=0o640)
    log.debug("update state: phase %s, active %s", state.phase, state.active)


def save_announcements(path: Path, announcements: Announcements) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, announcements.to_json().encode("utf-8") + b"\n", mode=0o640)
