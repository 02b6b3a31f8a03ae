"""The device side of an update: check, apply (install A/B, switch, health check), roll back.

Every step records itself in ``state.json`` before it acts, so an interruption leaves a state
that says what to finish (``resume``) or undo. Refusals — a failed signature, an older version,
a bad bundle, a notice period not over — change nothing but ``last_result``.

Two identities share the work (docs/updates.md, "Who writes what"). ``check`` runs as the
service user: it talks to the repository, announces, and stages the newest release in
``update-spool/``; it never writes ``update/``. ``apply``, ``rollback`` and ``resume`` are the
privileged side (root on a device): the only writers of ``update/``, whose slots hold the code
and models the service runs. With ``staged=True`` the apply reads nothing from the network: it
verifies the staged files from its own trusted metadata (:mod:`camera_app.update.stage`), and
takes the check's first sightings only as a claim that can shorten no notice below what the
release's signed ``not_before`` demands.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from tuf.ngclient.fetcher import FetcherInterface

from camera_app.config.update import UpdateConfig
from camera_app.update.bundle import RELEASE_FILE, check_release, unpack_bundle
from camera_app.update.errors import (
    BundleError,
    InstallError,
    NoticePeriodError,
    StateError,
    UpdateBusyError,
    UpdateError,
    UpdateRefused,
)
from camera_app.update.fetch import Release, ReleaseRepository
from camera_app.update.health import HealthCheck, HealthResult, HealthTarget
from camera_app.update.layout import SpoolPaths, UpdatePaths
from camera_app.update.notice import UpdateNotice, newly_seen, notice_for
from camera_app.update.release import NOTICE_PERIOD, ReleaseInfo, Version, is_version, iso
from camera_app.update.restart import restart_service
from camera_app.update.slots import (
    active_slot,
    build_slot,
    default_base_env,
    other_slot,
    switch_active,
)
from camera_app.update.stage import STAGED_METADATA, StagedFetcher, stage
from camera_app.update.state import (
    Activation,
    LastResult,
    Pending,
    Phase,
    ResultName,
    SlotRecord,
    UpdateState,
    load_announcements,
    load_state,
    save_announcements,
    save_state,
)
from camera_app.update.status import UpdateStatus, base_version, status_from_state
from firmware.atomicfile import write_atomically
from firmware.clock import Clock
from firmware.db import lower_schema_version, schema_version
from firmware.paths import StoragePaths
from privacy.audit import AuditEvent, AuditLog

log = logging.getLogger(__name__)

#: the actor of the update's audit records
ACTOR = "updater"
_NOTHING_STAGED = "nothing is staged: `camera-app update check` stages releases first"


class AuditSink(Protocol):
    """Where announcements and results go (``privacy.audit.AuditLog.append`` in the app)."""

    def __call__(self, event: AuditEvent, details: Mapping[str, Any]) -> None: ...


class _Sightings(Protocol):
    """First sightings and the pending notice: :class:`UpdateState` (the apply's) or
    :class:`Announcements` (the check's)."""

    seen: dict[str, float]
    pending: Pending | None


def audit_to(audit_log: AuditLog) -> AuditSink:
    """An :class:`AuditSink` writing to the device's audit log as the ``updater`` actor."""

    def sink(event: AuditEvent, details: Mapping[str, Any]) -> None:
        audit_log.append(event, actor=ACTOR, details=details)

    return sink


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``check`` found."""

    current_version: str
    newest_version: str | None
    update_available: bool
    notice: UpdateNotice | None
    announced: tuple[str, ...]  # versions announced by this check
    message: str


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """How ``apply``, ``rollback`` or ``resume`` ended."""

    result: str  # healthy | rolled_back | up_to_date | nothing_to_do
    version: str | None
    reason: str | None
    message: str
    health: HealthResult | None = None


def _parse(version: str) -> Version | None:
    try:
        return Version.parse(version)
    except ValueError:
        return None


class DeviceUpdater:
    """Updates one device, whose data directory is ``data_dir``.

    ``restart`` restarts the camera service (default: systemd, see
    :func:`camera_app.update.restart.restart_service`); ``audit`` receives the records of the
    audit log; ``health`` checks a new release; ``fetcher`` is passed to ``tuf.ngclient``.
    ``staged``: ``apply`` verifies what ``check`` staged instead of using the network.
    """

    def __init__(
        self,
        config: UpdateConfig,
        data_dir: Path,
        *,
        clock: Clock,
        restart: Callable[[], None] = restart_service,
        audit: AuditSink | None = None,
        health: HealthCheck | None = None,
        fetcher: FetcherInterface | None = None,
        base_env: Path | None = None,
        config_file: Path | None = None,
        staged: bool = False,
    ) -> None:
        self._config = config
        self._storage = StoragePaths(Path(data_dir))
        self.paths = UpdatePaths.of(Path(data_dir))
        self.spool = SpoolPaths.of(Path(data_dir))
        self._staged = staged
        self._clock = clock
        self._restart = restart
        self._audit = audit
        self._health = health or HealthCheck(clock)
        self._fetcher = fetcher
        self._base_env = base_env
        self._config_file = config_file

    # ---------------------------------------------------------------- reading

    def status(self) -> UpdateStatus:
        return status_from_state(
            self.paths, load_state(self.paths.state), load_announcements(self.spool.announcements)
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall(), UTC)

    def _repository(self, *, for_check: bool) -> ReleaseRepository:
        """The check's view (its own trust, the network) or the apply's (``update/metadata``;
        the staged files when ``staged``)."""
        cfg = self._config
        if cfg.repository_url is None or cfg.root_file is None:
            raise UpdateError("updates are off: set update.repository_url and update.root_file")
        fetcher = self._fetcher
        if for_check:
            metadata, downloads = self.spool.metadata, self.spool.staged
        else:
            metadata, downloads = self.paths.metadata, self.paths.downloads
            if self._staged:
                base = cfg.repository_url.rstrip("/")
                fetcher = StagedFetcher(self.spool.staged, f"{base}/metadata/", f"{base}/targets/")
        return ReleaseRepository(cfg.repository_url, metadata, cfg.root_file, downloads,
                                 fetcher=fetcher)  # fmt: skip

    @contextlib.contextmanager
    def _locked(self) -> Iterator[UpdateState]:
        """The update lock (one privileged update command at a time) and the checked state."""
        try:
            self.paths.create()
            lock = open(self.paths.lock, "a+b")  # noqa: SIM115 (closed below)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise UpdateError(
                f"{self.paths.root} is not writable by this user ({err.strerror}): apply, "
                "rollback and resume run as root (systemctl start camera-app-update-apply)"
            ) from None
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UpdateBusyError("another update command is running") from None
            state = load_state(self.paths.state)
            self._check_consistent(state)
            yield state

    @contextlib.contextmanager
    def _spool_locked(self, *, shared: bool) -> Iterator[None]:
        """The spool's lock: ``check`` holds it while it stages, the staged apply (shared)
        while it reads what was staged, so it never sees half of a new stage."""
        lock: IO[bytes]
        if shared:
            try:
                lock = open(self.spool.lock, "rb")  # noqa: SIM115 (closed below)
            except FileNotFoundError:
                raise UpdateError(_NOTHING_STAGED) from None
        else:
            self.spool.create()
            lock = open(self.spool.lock, "a+b")  # noqa: SIM115 (closed below)
        with lock:
            try:
                fcntl.flock(lock.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                            | fcntl.LOCK_NB)  # fmt: skip
            except BlockingIOError:
                raise UpdateBusyError("`camera-app update check` is running") from None
            if shared and not (self.spool.staged / STAGED_METADATA / "timestamp.json").is_file():
                raise UpdateError(_NOTHING_STAGED)
            yield

    def _check_consistent(self, state: UpdateState) -> None:
        linked = active_slot(self.paths)
        expected = state.activating.slot if state.activating else state.active
        if state.activating and linked == state.activating.from_slot:
            return  # interrupted between recording the activation and switching
        if linked != expected:
            raise StateError(
                f"{self.paths.active_link} points to {linked or 'nothing'} but state.json says "
                f"{expected or 'no slot'}; fix one of them (nothing was changed)"
            )
        for slot in filter(None, (state.active, state.previous)):
            if slot not in state.slots:
                raise StateError(f"state.json names slot {slot} but has no record of it")

    def _save(self, state: UpdateState) -> None:
        save_state(self.paths.state, state)

    def _record(self, event: AuditEvent, details: Mapping[str, Any]) -> None:
        if self._audit is None:
            return
        try:
            self._audit(event, details)
        except Exception:  # an audit failure must not strand an update half-way
            log.exception("could not write the audit record %s", event)

    def _current_version(self, state: UpdateState) -> str:
        if state.active is not None:
            return state.slots[state.active].version
        return base_version()

    # ---------------------------------------------------------------- check

    def check(self) -> CheckResult:
        """Refresh the metadata, announce behaviour-changing releases seen for the first time,
        say whether a newer release is available and when it may be activated, and stage the
        verified metadata (and that release) for the privileged apply.

        Runs as the service user: it reads ``update/`` (what is installed) and writes only
        ``update-spool/`` and the audit log.
        """
        with self._spool_locked(shared=False):
            installed = load_state(self.paths.state)
            self._check_consistent(installed)
            notes = load_announcements(self.spool.announcements)
            for version, at in installed.seen.items():  # announced by a networked apply
                notes.seen[version] = min(at, notes.seen.get(version, at))
            repo = self._repository(for_check=True)
            releases = repo.releases()
            found = self._survey(
                self._current_version(installed), notes, releases,
                lambda: save_announcements(self.spool.announcements, notes),
            )  # fmt: skip
            stage(repo, releases[-1] if found.update_available else None, self.spool.staged)
            return found

    def _survey(
        self, current: str, notes: _Sightings, releases: list[Release], save: Callable[[], None]
    ) -> CheckResult:
        current_v = _parse(current)
        infos = [r.info for r in releases]
        relevant = [i for i in infos if current_v is None or i.parsed_version > current_v]
        announced = self._announce(current, notes, relevant, save)
        newest = infos[-1] if infos else None
        if newest is None:
            return CheckResult(current, None, False, None, announced, "no release is published")
        available = current_v is None or newest.parsed_version > current_v
        notice = notice_for(newest, infos, current_v, notes.seen) if available else None
        if available:
            when = ""
            if notice is not None:
                when = (
                    f"; it changes {', '.join(notice.changes_behaviour)} and may be "
                    f"activated from {iso(notice.allowed_from)}"
                )
            message = f"release {newest.version} is available (running {current}){when}"
        elif newest.parsed_version == current_v:
            message = f"up to date ({current})"
        else:
            message = (
                f"the newest signed release {newest.version} is older than the running "
                f"{current}; it will not be installed"
            )
        return CheckResult(current, newest.version, available, notice, announced, message)

    def _announce(
        self,
        current: str,
        notes: _Sightings,
        relevant: list[ReleaseInfo],
        save: Callable[[], None],
    ) -> tuple[str, ...]:
        """Record first sightings of behaviour-changing releases, update ``pending``, and write
        one audit record per newly seen release."""
        now = self._clock.wall()
        fresh = newly_seen(relevant, notes.seen)
        for info in fresh:
            notes.seen[info.version] = now
        changing = [i for i in relevant if i.changes]
        pending = None
        if changing:
            newest = relevant[-1]
            current_v = _parse(current)
            notice = notice_for(newest, relevant, current_v, notes.seen)
            assert notice is not None
            pending = Pending(
                version=newest.version,
                changes_behaviour=list(notice.changes_behaviour),
                published=newest.published.timestamp(),
                not_before=notice.allowed_from.timestamp(),
                announced_at=notice.announced_at.timestamp(),
                models=dict(newest.models),
            )
        if fresh or pending != notes.pending:
            notes.pending = pending
            save()
        for info in fresh:
            assert info.not_before is not None
            log.warning(
                "release %s changes %s behaviour; announced now, it may be activated from %s",
                info.version,
                ", ".join(info.changes_behaviour),
                iso(max(info.not_before, datetime.fromtimestamp(now, UTC) + NOTICE_PERIOD)),
            )
            self._record(
                AuditEvent.UPDATE_ANNOUNCED,
                {
                    "version": info.version,
                    "changes_behaviour": list(info.changes_behaviour),
                    "published": iso(info.published),
                    "not_before": iso(info.not_before),
                    "models": dict(info.models),
                },
            )
        return tuple(i.version for i in fresh)

    # ---------------------------------------------------------------- apply

    def apply(self, *, retry: bool = False) -> UpdateResult:
        """Install the newest release into the inactive slot, switch to it, restart the
        service and keep it only if the health check passes (else switch back).

        Raises :class:`UpdateRefused` (nothing changed) or :class:`UpdateError`.
        """
        with self._locked() as state:
            if state.phase is Phase.ACTIVATING:
                raise UpdateError(
                    f"the switch to {state.activating.version if state.activating else '?'} "
                    "has not finished its health check; run `camera-app update resume`"
                )
            prior_phase = state.phase
            try:
                return self._apply(state, retry)
            except UpdateRefused as err:
                self._refused(state, prior_phase, err)
                raise
            except (InstallError, OSError) as err:  # OSError: e.g. the disk filled up
                state.phase = prior_phase
                self._finish_result(state, "failed", None, str(err))
                if isinstance(err, InstallError):
                    raise
                raise InstallError(f"installing the release failed: {err}") from err

    def _refused(self, state: UpdateState, prior_phase: Phase, err: UpdateRefused) -> None:
        version = getattr(err, "version", None)
        state.phase = prior_phase
        self._finish_result(state, "refused", version, str(err))
        self._record(AuditEvent.UPDATE_REFUSED, {"version": version, "reason": str(err)})
        log.error("update refused: %s", err)

    def _finish_result(
        self, state: UpdateState, result: ResultName, version: str | None, reason: str | None
    ) -> None:
        state.last_result = LastResult(
            result=result,
            version=version,
            reason=reason,
            at=self._clock.wall(),
        )
        self._save(state)

    def _apply(self, state: UpdateState, retry: bool) -> UpdateResult:
        repo = self._repository(for_check=False)
        reading = self._spool_locked(shared=True) if self._staged else contextlib.nullcontext()
        with reading:
            chosen = self._choose(state, repo, retry)
            if isinstance(chosen, UpdateResult):
                return chosen
            newest, version = chosen, chosen.info.version
            archive = repo.download(newest)
        state.phase = Phase.DOWNLOADED
        self._save(state)
        workdir = Path(tempfile.mkdtemp(prefix=f"unpacked-{version}-", dir=self.paths.downloads))
        try:
            try:
                unpacked = check_release(unpack_bundle(archive, workdir), newest.info)
            except UpdateRefused as err:
                raise _with_version(err, version) from None
            slot = other_slot(state.active)
            # The inactive slot is about to be overwritten: it stops being a rollback target.
            state.slots.pop(slot, None)
            if state.previous == slot:
                state.previous = None
            base_env = self._resolve_base_env(state)
            state.base_env = str(base_env)
            self._save(state)
            build_slot(self.paths, slot, unpacked, base_env)
        finally:
            repo.clear_downloads()
        state.slots[slot] = SlotRecord(
            version=version,
            models=dict(newest.info.models),
            changes_behaviour=list(newest.info.changes_behaviour),
            installed_at=self._clock.wall(),
        )
        state.phase = Phase.INSTALLED
        self._save(state)
        return self._activate(state, slot)

    def _choose(
        self, state: UpdateState, repo: ReleaseRepository, retry: bool
    ) -> Release | UpdateResult:
        """The release to install, or why there is none; raises :class:`UpdateRefused`."""
        releases = repo.releases()
        self._import_sightings(state)
        survey = self._survey(
            self._current_version(state), state, releases, lambda: self._save(state)
        )
        current = survey.current_version
        if not releases:
            return UpdateResult("up_to_date", current, None, "no release is published")
        newest = releases[-1]
        version = newest.info.version
        current_v = _parse(current)
        if current_v is not None and newest.version < current_v:
            raise _with_version(
                UpdateRefused(
                    f"the newest signed release {version} is older than the installed {current}: "
                    "refused (an older release is never installed; use `camera-app update "
                    "rollback` to go back to the previous one)"
                ),
                version,
            )
        if current_v is not None and newest.version == current_v:
            self._finish_result(state, "up_to_date", version, None)
            return UpdateResult("up_to_date", version, None, f"up to date ({version})")
        if version in state.bad_versions and not retry:
            raise _with_version(
                UpdateRefused(
                    f"release {version} was rolled back on this device; `camera-app update apply "
                    "--retry` installs it again"
                ),
                version,
            )
        now = self._now()
        if survey.notice is not None and not survey.notice.allows(now):
            raise _with_version(NoticePeriodError(survey.notice.refusal(now)), version)
        return newest

    def _import_sightings(self, state: UpdateState) -> None:
        """Take ``check``'s first sightings where they are earlier than the apply's own.

        They come from a file the service user writes, so they are a claim: an earlier one can
        only move a release's notice back to its signed ``not_before`` (which is at least 24 h
        after publication), and a later or missing one only delays the apply.
        """
        try:
            claimed = load_announcements(self.spool.announcements).seen
        except StateError as err:
            log.warning("ignoring update check's announcements: %s", err)
            return
        now = self._clock.wall()
        for version, at in claimed.items():
            if is_version(version) and math.isfinite(at) and 0 <= at <= now:
                state.seen[version] = min(at, state.seen.get(version, at))

    def _resolve_base_env(self, state: UpdateState) -> Path:
        if self._base_env is not None:
            return self._base_env
        if state.base_env:
            return Path(state.base_env)
        return default_base_env(self.paths)

    def _activate(self, state: UpdateState, slot: str) -> UpdateResult:
        record = state.slots[slot]  # type: ignore[index]
        switched_at = self._clock.wall()
        state.activating = Activation(
            slot=slot,  # type: ignore[arg-type]
            version=record.version,
            from_slot=state.active,
            started_at=switched_at,
            deadline=switched_at + self._config.health_deadline_s,
        )
        state.phase = Phase.ACTIVATING
        self._save(state)
        self._remember_db_version()
        try:
            switch_active(self.paths, slot)
        except OSError as err:
            state.activating = None
            state.phase = Phase.INSTALLED
            self._save(state)
            raise InstallError(f"switching to slot {slot} failed: {err}") from err
        log.info("switched to release %s in slot %s; restarting the service", record.version, slot)
        try:
            self._restart()
        except Exception as err:
            return self._roll_back(state, f"restarting the service failed: {err}", by_hand=False)
        return self._judge(state, self._config.health_deadline_s)

    def _judge(self, state: UpdateState, deadline_s: float) -> UpdateResult:
        activation = state.activating
        assert activation is not None
        target = HealthTarget(
            version=activation.version,
            slot_dir=self.paths.slot(activation.slot),
            status_file=self._storage.run_status,
            cert_file=self._storage.secrets / "device-cert.pem",
            switched_at=activation.started_at,
            config_file=self._config_file,
        )
        health = self._health.wait(target, deadline_s)
        if not health.ok:
            result = self._roll_back(state, health.reason or "health check failed", by_hand=False)
            return UpdateResult(result.result, result.version, result.reason, result.message,
                                health)  # fmt: skip
        previous = state.active
        state.previous = previous
        state.active = activation.slot
        state.activating = None
        state.phase = Phase.HEALTHY
        version = activation.version
        if version in state.bad_versions:
            state.bad_versions.remove(version)
        v = Version.parse(version)
        state.seen = {k: t for k, t in state.seen.items() if (kv := _parse(k)) is None or kv > v}
        if state.pending is not None and Version.parse(state.pending.version) <= v:
            state.pending = None
        self._finish_result(state, "healthy", version, None)
        record = state.slots[activation.slot]
        from_version = state.slots[previous].version if previous else base_version()
        self._record(
            AuditEvent.UPDATE_INSTALLED,
            {
                "version": version,
                "from_version": from_version,
                "slot": activation.slot,
                "changes_behaviour": list(record.changes_behaviour),
                "models": dict(record.models),
                "health": dict(health.checks),
            },
        )
        log.info("release %s is healthy and active (was %s)", version, from_version)
        return UpdateResult("healthy", version, None,
                            f"release {version} installed and healthy (was {from_version})",
                            health)  # fmt: skip

    # ---------------------------------------------------------------- rollback

    def rollback(self, reason: str = "rolled back by hand") -> UpdateResult:
        """Switch back to the previous release (or abort an unfinished activation)."""
        with self._locked() as state:
            if state.activating is None and state.previous is None:
                raise UpdateRefused("there is no previous release to roll back to")
            return self._roll_back(state, reason, by_hand=True)

    def _roll_back(self, state: UpdateState, reason: str, *, by_hand: bool) -> UpdateResult:
        if state.activating is not None:
            failed_version = state.activating.version
            target = state.activating.from_slot
        else:
            assert state.active is not None and state.previous is not None
            failed_version = state.slots[state.active].version
            target = state.previous
        switch_active(self.paths, target)
        self._restore_db_version()
        state.active = target
        state.previous = None  # the slot left behind is no rollback target
        state.activating = None
        state.phase = Phase.ROLLED_BACK
        if failed_version not in state.bad_versions:
            state.bad_versions.append(failed_version)
        to_version = state.slots[target].version if target else base_version()
        self._finish_result(state, "rolled_back", failed_version, reason)
        log.warning("rolled back from %s to %s: %s", failed_version, to_version, reason)
        try:
            self._restart()
        except Exception:  # the switch is recorded; the next start runs the old release
            log.exception("restarting the service after the rollback failed")
        self._record(
            AuditEvent.UPDATE_ROLLED_BACK,
            {"version": failed_version, "to_version": to_version, "reason": reason,
             "automatic": not by_hand},
        )  # fmt: skip
        return UpdateResult(
            "rolled_back", failed_version, reason,
            f"rolled back from {failed_version} to {to_version}: {reason}",
        )  # fmt: skip

    def _remember_db_version(self) -> None:
        """Before a switch: the schema version the running release uses (kept in its own file,
        which releases before this one ignore, so a rollback to them still reads state.json)."""
        version = schema_version(self._storage.database)
        if version is not None:
            write_atomically(self.paths.db_before_switch, json.dumps({"version": version}).encode())

    def _restore_db_version(self) -> None:
        """After switching back: let the older release open the database the newer one may
        have migrated (it refuses a newer ``user_version``)."""
        try:
            version = int(json.loads(self.paths.db_before_switch.read_text())["version"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.error("cannot read %s: %s", self.paths.db_before_switch, err)
            return
        lower_schema_version(self._storage.database, version)

    # ---------------------------------------------------------------- resume

    def resume(self) -> UpdateResult:
        """Finish a switch whose health check was interrupted (power cut, killed command).

        Past its deadline the switch is undone: the check must pass in time, and nobody
        watched it.
        """
        with self._locked() as state:
            activation = state.activating
            if state.phase is not Phase.ACTIVATING or activation is None:
                return UpdateResult("nothing_to_do", None, None, "no switch is waiting")
            if active_slot(self.paths) != activation.slot:
                return self._roll_back(state, "the switch was interrupted", by_hand=False)
            left = activation.deadline - self._clock.wall()
            if left <= 0:
                return self._roll_back(
                    state, "the health check was interrupted and its deadline has passed",
                    by_hand=False,
                )  # fmt: skip
            return self._judge(state, left)


def _with_version(err: UpdateRefused, version: str) -> UpdateRefused:
    err.version = version  # type: ignore[attr-defined]
    return err


def install_initial(
    data_dir: Path, bundle: Path, *, clock: Clock, base_env: Path | None = None
) -> str:
    """Install a local release bundle into slot a and make it active: the first install, done
    by the install script (which the operator trusts as much as the bundle). Refused when a slot
    is already active. Returns the version installed."""
    paths = UpdatePaths.of(Path(data_dir))
    paths.create()
    state = load_state(paths.state)
    if state.active is not None or active_slot(paths) is not None:
        raise UpdateRefused("a release is already installed; use `camera-app update apply`")
    workdir = Path(tempfile.mkdtemp(prefix="unpacked-initial-", dir=paths.downloads))
    try:
        unpack_bundle(bundle, workdir)
        info = _info_from_bundle(workdir, clock)
        unpacked = check_release(workdir, info)
        env = base_env or default_base_env(paths)
        slot = "a"
        build_slot(paths, slot, unpacked, env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    state.base_env = str(env)
    state.slots["a"] = SlotRecord(
        version=info.version, models=dict(info.models),
        changes_behaviour=list(info.changes_behaviour), installed_at=clock.wall(),
    )  # fmt: skip
    state.active = "a"
    state.phase = Phase.HEALTHY
    state.last_result = LastResult(result="healthy", version=info.version,
                                   reason="initial install", at=clock.wall())  # fmt: skip
    switch_active(paths, slot)
    save_state(paths.state, state)
    return info.version


def _info_from_bundle(root: Path, clock: Clock) -> ReleaseInfo:
    try:
        release = json.loads((root / RELEASE_FILE).read_text(encoding="utf-8"))
        return ReleaseInfo(
            version=str(Version.parse(release["version"])),
            published=datetime.fromtimestamp(clock.wall(), UTC),
            changes_behaviour=tuple(sorted(release.get("changes_behaviour") or [])),
            not_before=None,
            models=dict(release["models"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BundleError(f"bundle {RELEASE_FILE} is not usable: {err}") from None
