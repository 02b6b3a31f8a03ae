"""``camera-app run``: capture → privacy masks → monitoring, until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from camera_app.accounts import SetupHint, ensure_setup_code
from camera_app.app import OwnerServices
from camera_app.config.app import AppConfig
from camera_app.config.changes import record_config_changes
from camera_app.health import DeviceHealth
from camera_app.heartbeat import ServiceHeartbeat
from camera_app.live.subsystem import LiveSubsystem
from camera_app.masks import MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.monitor.store import EventStore
from camera_app.monitor.upkeep import recover_interrupted
from camera_app.mqtt.integration import MqttIntegration, StreamControl
from camera_app.preview import LatestPicture
from firmware.capture import CaptureFeed, open_source
from firmware.clock import Clock
from firmware.db import open_database
from firmware.errors import ExitCode
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.build import SharedModels

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 60.0


def run_service(
    config: AppConfig,
    *,
    source: str | None,
    duration: float | None,
    clock: Clock,
    stop: threading.Event | None = None,
    config_file: Path | None = None,
) -> int:
    """Run until ``stop`` is set, SIGTERM/SIGINT, ``duration`` seconds, or a finite source ends.

    Returns a process exit code; a source that cannot be opened at all is a final error (exit 4)
    rather than a crash loop, while live cameras that fail later are reconnected by the feed.
    An owner API that cannot listen raises :class:`~camera_app.app.ApiUnavailable` (exit 4).
    ``config`` is as :func:`camera_app.config.load_service_config` gives it (the owner app saves
    masks beside the data, over the config file's at the next start); ``config_file`` is the
    file it came from, named in the setup banner's command.
    """
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
    preview = LatestPicture()
    indicator = StreamingIndicator(config.streaming.indicator_pin)
    masks = MaskSettings(config, paths.database, clock)
    owner: OwnerServices | None = None
    try:
        # The API first: when it cannot listen (a port another program holds), the service ends
        # here with the reason, instead of running on without it before the camera is opened.
        owner = _start_owner_services(config, clock, indicator, control, health, preview, masks)
        listen_url = owner.url if owner is not None else None
        ensure_setup_code(conn, clock, hint=SetupHint.of_this_process(config_file, listen_url))
        cap = config.capture
        spec = source or cap.source
        capture = open_source(
            spec, width=cap.width, height=cap.height, fps=cap.fps, pacing=cap.pacing, loop=cap.loop
        )
    except BaseException:
        if owner is not None:
            owner.stop()
        indicator.close()
        control.close()
        masks.close()
        conn.close()
        raise
    feed = CaptureFeed(capture, None)
    masks.attach_feed(feed)  # the masks in force, also one saved while the camera opened
    masker = masks.current.masker()
    if masker:
        log.info("burning %d static privacy mask(s) into every frame", len(masker))
    pipeline = MonitoringPipeline(config, store, paths, clock, blocking=not capture.realtime)
    control.apply(pipeline)  # armed or not as the owner left it, before the first frame
    log.info(
        "monitoring camera %s from %s; data in %s; live streaming is off until the owner starts it",
        config.camera.id,
        capture.name,
        paths.root,
    )
    live = owner.live if owner is not None else None
    # Every stream gets a fresh stage (its own state) over models loaded once per process.
    models = SharedModels(config.privacy)
    privacy_feed = (
        live.open_feed(config.camera.id, models.build_stage) if live is not None else None
    )
    mqtt = _mqtt(config, clock, pipeline, control, paths, live)
    heartbeat = ServiceHeartbeat(
        paths.run_status,
        clock,
        camera=config.camera.id,
        source=capture.name,
        api_url=owner.url if owner is not None else None,
    )
    started = clock.monotonic()
    next_stats = started + STATS_INTERVAL_S
    exit_code = ExitCode.OK
    try:
        heartbeat.starting()
        feed.start()
        while not stop.is_set():
            now = clock.monotonic()
            if duration is not None and now - started >= duration:
                break
            heartbeat.tick(pipeline.events_started)
            # before taking a frame: masks saved after this are in the frame the feed gives
            # (it masks queued frames again), and a frame taken before a save is in the
            # pre-roll by the time the next turn burns the new masks into it
            control.apply(pipeline)
            masks.apply(pipeline)
            frame = feed.get(timeout=0.5)
            health.record(feed.stats)
            if mqtt is not None:
                mqtt.tick(frame, feed.stats)
            if frame is None:
                if feed.error is not None:
                    log.error("capture failed: %s", feed.error)
                    exit_code = ExitCode.RUNTIME
                    break
                if feed.finished:
                    log.info("source ended")
                    break
                continue
            heartbeat.frame()
            preview.put(frame)
            if privacy_feed is not None:
                privacy_feed.offer(frame)
            pipeline.process(frame)
            if now >= next_stats:
                next_stats = now + STATS_INTERVAL_S
                stats = feed.stats
                log.info(
                    "capture: %d frames, %d lost at the source, %d dropped (slow consumer), "
                    "%d reconnects; events started: %d",
                    stats.published,
                    stats.source_dropped,
                    stats.consumer_dropped,
                    stats.reconnects,
                    pipeline.events_started,
                )
    finally:
        heartbeat.stopping()
        if owner is not None:
            owner.stop()  # ends every live stream first
        if privacy_feed is not None:
            privacy_feed.close()
        models.close()
        if mqtt is not None:
            mqtt.stop()
        indicator.close()
        feed.stop()
        pipeline.close()
        control.close()
        masks.close()
        conn.close()
        heartbeat.stopped()
        log.info("stopped")
    return exit_code


def _start_owner_services(
    config: AppConfig,
    clock: Clock,
    indicator: StreamingIndicator,
    control: MonitoringControl,
    health: DeviceHealth,
    preview: LatestPicture,
    masks: MaskSettings,
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
        preview=preview,
        masks=masks,
    )
    owner.start()
    return owner


def _mqtt(
    config: AppConfig,
    clock: Clock,
    pipeline: MonitoringPipeline,
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
    integration = MqttIntegration(config, clock, pipeline, control, paths, streams)
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
