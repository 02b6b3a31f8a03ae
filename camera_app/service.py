"""``camera-app run``: per camera, capture → privacy masks → monitoring, until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from camera_app.accounts import SetupHint, ensure_setup_code
from camera_app.app import OwnerServices
from camera_app.cameraloop import CameraLoop, CameraProgress
from camera_app.config.app import AppConfig
from camera_app.config.changes import record_config_changes
from camera_app.config.loader import ConfigError
from camera_app.health import DeviceHealth
from camera_app.heartbeat import ServiceHeartbeat
from camera_app.live.subsystem import LiveSubsystem
from camera_app.masks import ConfigInForce, MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.store import EventStore
from camera_app.monitor.upkeep import recover_interrupted
from camera_app.mqtt.integration import MqttCamera, MqttIntegration, StreamControl
from camera_app.preview import LatestPicture
from firmware.clock import Clock
from firmware.db import open_database
from firmware.errors import ExitCode
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.build import SharedModels

log = logging.getLogger(__name__)

#: How often this thread looks at the capture loops, feeds systemd and runs MQTT.
WATCH_INTERVAL_S = 0.2


def run_service(
    config: AppConfig,
    *,
    source: str | None,
    duration: float | None,
    clock: Clock,
    stop: threading.Event | None = None,
    config_file: Path | None = None,
) -> int:
    """Run until ``stop`` is set, SIGTERM/SIGINT, ``duration`` seconds, or every camera's
    source ended or failed.

    One capture loop per camera of the config (:class:`~camera_app.cameraloop.CameraLoop`, each
    on its own thread); this thread watches them, feeds systemd and runs MQTT. A camera whose
    source cannot be opened or fails for good stops alone (the others go on); the service ends
    with exit 4 once no camera runs and one failed. ``source`` (``--source``) replaces the
    source of the only camera; with several it is refused (:class:`ConfigError`). An owner API
    that cannot listen raises :class:`~camera_app.app.ApiUnavailable` (exit 4). ``config`` is as
    :func:`camera_app.config.load_service_config` gives it (the owner app saves masks beside
    the data, over the config file's at the next start); ``config_file`` is the file it came
    from, named in the setup banner's command.
    """
    views = config.views()
    if source is not None and len(views) > 1:
        raise ConfigError(
            "the command line",
            [
                f"--source: only with one camera; this config lists {len(views)} (cameras:), "
                "set each camera's capture.source instead"
            ],
        )
    stop = stop or threading.Event()
    _install_signal_handlers(stop)
    paths = StoragePaths(config.storage.data_dir)
    paths.create()
    conn = open_database(paths.database)
    store = EventStore(conn)
    recover_interrupted(store, paths)
    record_config_changes(conn, config, clock)
    control = MonitoringControl(paths.database, clock)
    health = DeviceHealth(paths.root, config.storage.quota_mb, clock)
    pictures = {view.camera.id: LatestPicture() for view in views}
    indicator = StreamingIndicator(config.streaming.indicator_pin)
    in_force = ConfigInForce(config)
    masks = {
        view.camera.id: MaskSettings(
            config, paths.database, clock, camera_id=view.camera.id, in_force=in_force
        )
        for view in views
    }
    # Every stream gets a fresh stage (its own state) over models loaded once per process.
    models = SharedModels(config.privacy)
    owner: OwnerServices | None = None
    loops: list[CameraLoop] = []
    try:
        # The API first: when it cannot listen (a port another program holds), the service ends
        # here with the reason, instead of running on without it before a camera is opened.
        owner = _start_owner_services(config, clock, indicator, control, health, pictures, masks)
        listen_url = owner.url if owner is not None else None
        ensure_setup_code(conn, clock, hint=SetupHint.of_this_process(config_file, listen_url))
        live = owner.live if owner is not None else None
        for view in views:
            loops.append(
                CameraLoop(
                    view,
                    source=source,
                    store=store,
                    paths=paths,
                    clock=clock,
                    control=control,
                    masks=masks[view.camera.id],
                    health=health,
                    picture=pictures[view.camera.id],
                    open_privacy_feed=live.open_feed if live is not None else None,
                    build_stage=models.build_stage,
                )
            )
    except BaseException:
        for loop in loops:
            loop.close()
        if owner is not None:
            owner.stop()
        models.close()
        indicator.close()
        control.close()
        for settings in masks.values():
            settings.close()
        conn.close()
        raise
    log.info(
        "monitoring %s; data in %s; live streaming is off until the owner starts it",
        ", ".join(loop.camera_id for loop in loops),
        paths.root,
    )
    mqtt = _mqtt(config, clock, loops, control, paths, live)
    heartbeat = ServiceHeartbeat(
        paths.run_status,
        clock,
        camera=views[0].camera.id if len(views) == 1 else f"{len(views)} cameras",
        source=", ".join(loop.capture.name for loop in loops),
        api_url=owner.url if owner is not None else None,
    )
    started = clock.monotonic()
    exit_code = ExitCode.OK
    try:
        heartbeat.starting()
        for loop in loops:
            loop.start()
        while not stop.is_set():
            if duration is not None and clock.monotonic() - started >= duration:
                break
            progress = [loop.progress() for loop in loops]
            heartbeat.frames_seen(sum(p.frames for p in progress))
            heartbeat.tick(
                sum(p.events for p in progress), _detail(progress) if len(loops) > 1 else None
            )
            if mqtt is not None:
                mqtt.tick()
            if not any(p.running for p in progress):
                failed = [p for p in progress if p.error is not None]
                if failed:
                    exit_code = ExitCode.RUNTIME
                log.info("no camera runs any more (%d failed)", len(failed))
                break
            stop.wait(WATCH_INTERVAL_S)
    finally:
        heartbeat.stopping()
        for loop in loops:
            loop.stop()
        if owner is not None:
            owner.stop()  # ends every live stream first
        for loop in loops:
            loop.close()
        models.close()
        if mqtt is not None:
            mqtt.stop()
        indicator.close()
        control.close()
        for settings in masks.values():
            settings.close()
        conn.close()
        heartbeat.stopped()
        log.info("stopped")
    return exit_code


def _detail(progress: list[CameraProgress]) -> str:
    """Each camera in a few words, for the status line."""
    words = []
    for p in progress:
        if p.error is not None:
            words.append(f"{p.camera_id} failed")
        elif not p.running:
            words.append(f"{p.camera_id} ended")
        else:
            words.append(f"{p.camera_id} {p.frames} frames")
    return ", ".join(words)


def _start_owner_services(
    config: AppConfig,
    clock: Clock,
    indicator: StreamingIndicator,
    control: MonitoringControl,
    health: DeviceHealth,
    pictures: Mapping[str, LatestPicture],
    masks: Mapping[str, MaskSettings],
) -> OwnerServices | None:
    """The owner API and the live subsystem; None when the API is off.

    Raises :class:`~camera_app.app.ApiUnavailable` when it cannot start: a device whose owner
    cannot reach it (nor change its settings, nor see its recordings) must not look as if it
    ran, so ``camera-app run`` ends with the reason and systemd shows a failed unit.
    """
    if not config.api.enabled:
        log.info("owner API disabled (api.enabled: false); live streaming is unavailable")
        return None
    owner = OwnerServices(
        config,
        clock,
        indicator,
        monitoring=control,
        health=health,
        pictures=pictures,
        masks=masks,
    )
    owner.start()
    return owner


def _mqtt(
    config: AppConfig,
    clock: Clock,
    loops: list[CameraLoop],
    control: MonitoringControl,
    paths: StoragePaths,
    live: LiveSubsystem | None,
) -> MqttIntegration | None:
    if not config.mqtt.enabled:
        return None
    streams = (
        StreamControl(
            live.stream_states, live.controller.stop, live.reminders_to_send, live.reminder_sent
        )
        if live
        else None
    )
    cameras = {
        loop.camera_id: MqttCamera(loop.pipeline, loop.picture, loop.feed_stats) for loop in loops
    }
    integration = MqttIntegration(config, clock, cameras, control, paths, streams)
    integration.start()
    return integration


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the current clip", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
