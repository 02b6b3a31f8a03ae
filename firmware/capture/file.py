"""``file:PATH`` — frames decoded from a video (or a still image) with PyAV."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import av
import av.error
import numpy as np

from firmware.capture.base import CaptureError, CaptureSource, EndOfStream
from firmware.frames import Frame

logger = logging.getLogger(__name__)

Pacing = Literal["realtime", "fast"]

_DEFAULT_FPS = 25.0
# Per pass, corrupt packets beyond this many are logged at DEBUG so a damaged file cannot flood
# the log every time it loops.
_MAX_WARNINGS_PER_PASS = 5
# Realtime playback that falls this far behind (slow decode, suspended process) restarts its
# schedule instead of bursting frames out to catch up.
_MAX_LATENESS = 1.0

_OPEN_ERRORS = (av.error.FFmpegError, OSError, ValueError)


class FileSource(CaptureSource):
    """Frames from a video file, or a still image repeated as a video.

    ``pacing="realtime"`` delivers frames at the file's own timing (its presentation timestamps)
    and stamps them with ``time.monotonic()`` on delivery, like a camera. ``pacing="fast"``
    delivers them as fast as they are asked for and stamps them with a virtual clock that starts
    at ``open()`` and advances by media time, so event timing does not depend on decode speed.

    With ``loop=True`` the file restarts at the end and the media clock keeps counting (each pass
    adds the duration of the previous ones); otherwise :class:`EndOfStream` is raised. A corrupt
    packet is logged, counted as dropped and skipped. ``fps_hint`` is the frame rate used where the
    file has none of its own (a still image, a stream without timing).
    """

    live = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        pacing: Pacing = "realtime",
        loop: bool = True,
        fps_hint: float | None = None,
    ) -> None:
        super().__init__()
        if pacing not in ("realtime", "fast"):
            raise ValueError(f"pacing must be 'realtime' or 'fast', got {pacing!r}")
        if fps_hint is not None and not fps_hint > 0:
            raise ValueError(f"fps_hint must be positive, got {fps_hint}")
        self.path = Path(path)
        self.pacing: Pacing = pacing
        self.realtime = pacing == "realtime"
        self.loop = loop
        self.fps_hint = fps_hint
        self.name = f"file:{self.path}"
        #: the stream's frame rate once open (or ``fps_hint`` / 25 when it has none)
        self.fps: float | None = None
        self._container: Any = None
        self._frames: Iterator[tuple[np.ndarray, float | None, float | None]] | None = None
        self._pending: tuple[np.ndarray, float | None, float | None] | None = None
        self._still: np.ndarray | None = None
        self._ended = False
        self._t0 = 0.0
        self._anchor: float | None = None
        self._pass_offset = 0.0
        self._pass_first: float | None = None
        self._pass_frames = 0
        self._pass_last_rel = 0.0
        self._pass_last_duration: float | None = None
        self._pass_warnings = 0
        self._last_media: float | None = None
        self._last_image: np.ndarray | None = None

    def open(self) -> None:
        self.close()
        self._ended = False
        self._pass_offset = 0.0
        self._last_media = None
        self._start_pass()
        self._open_container()
        # Decode the first frame now so a file that opens but cannot be decoded fails here.
        self._pending = self._next_decoded()
        if self._pending is None:
            self.close()
            raise CaptureError(f"{self.path}: no decodable video frames")
        self._t0 = time.monotonic()
        self._anchor = None
        logger.info(
            "opened %s (%.3g fps, %s pacing, %s)",
            self.path,
            self.fps,
            self.pacing,
            "looping" if self.loop else "once",
        )

    def read(self) -> Frame:
        if self._ended:
            raise EndOfStream(self.name)
        if self._frames is None and self._still is None:
            raise CaptureError(f"{self.name} is not open")
        image, rel_time, duration = self._next_frame()
        media = self._media_time(rel_time, duration)
        if self.realtime:
            now = time.monotonic()
            if self._anchor is None or now - (self._anchor + media) > _MAX_LATENESS:
                self._anchor = now - media
            delay = self._anchor + media - now
            if delay > 0:
                time.sleep(delay)
            timestamp = time.monotonic()
        else:
            timestamp = self._t0 + media
        return Frame(image=image, timestamp=timestamp, sequence=self._next_sequence())

    def close(self) -> None:
        self._frames = None
        self._pending = None
        self._still = None
        self._last_image = None
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except _OPEN_ERRORS as exc:
                logger.debug("closing %s: %s", self.path, exc)

    def _open_container(self) -> None:
        path = self.path
        if not path.exists():
            raise CaptureError(f"video file not found: {path}")
        if path.is_dir():
            raise CaptureError(f"video file is a directory: {path}")
        if not os.access(path, os.R_OK):
            raise CaptureError(f"video file is not readable (permission denied): {path}")
        try:
            container = av.open(str(path), mode="r")
        except _OPEN_ERRORS as exc:
            raise CaptureError(f"cannot open {path} as a video: {exc}") from exc
        if not container.streams.video:
            container.close()
            raise CaptureError(f"{path} has no video stream")
        stream = container.streams.video[0]
        # Frame threads decode several frames in parallel; the reader thread is the bottleneck.
        stream.thread_type = "AUTO"
        if self.fps is None:
            # Image demuxers report a nominal 25 fps that means nothing for a still picture.
            format_name = container.format.name or ""
            is_image = format_name == "image2" or format_name.endswith("_pipe")
            rate = stream.average_rate or stream.guessed_rate
            if rate and not (is_image and self.fps_hint):
                self.fps = float(rate)
            else:
                self.fps = self.fps_hint or _DEFAULT_FPS
        self._container = container
        self._frames = self._decode(container, stream)

    def _decode(
        self, container: Any, stream: Any
    ) -> Iterator[tuple[np.ndarray, float | None, float | None]]:
        """Yield ``(bgr image, time, duration)`` for each frame of one pass over the file."""
        demux = container.demux(stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except _OPEN_ERRORS as exc:
                # The demuxer cannot be trusted to find the next packet after this; end the pass.
                self._corrupt(f"read error, ending this pass: {exc}")
                return
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                self._corrupt(f"corrupt packet skipped: {exc}")
                continue
            for frame in decoded:
                time_base = frame.time_base
                duration = (
                    float(frame.duration * time_base) if frame.duration and time_base else None
                )
                yield frame.to_ndarray(format="bgr24"), frame.time, duration

    def _corrupt(self, message: str) -> None:
        # A lost frame uses up a sequence number, so consumers see the gap.
        self._next_sequence()
        self._count_dropped()
        self._pass_warnings += 1
        level = logging.WARNING if self._pass_warnings <= _MAX_WARNINGS_PER_PASS else logging.DEBUG
        logger.log(level, "%s: %s", self.path, message)

    def _next_decoded(self) -> tuple[np.ndarray, float | None, float | None] | None:
        if self._frames is None:
            return None
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except _OPEN_ERRORS as exc:
            self.close()
            raise CaptureError(f"{self.path}: decoding failed: {exc}") from exc

    def _start_pass(self) -> None:
        self._pass_first = None
        self._pass_frames = 0
        self._pass_last_rel = 0.0
        self._pass_last_duration = None
        self._pass_warnings = 0

    def _next_frame(self) -> tuple[np.ndarray, float | None, float | None]:
        """The next decoded frame, looping (or ending) at the end of the file."""
        while True:
            if self._still is not None:
                if self._pass_frames:
                    self._end_pass()
                return self._still.copy(), 0.0, self._period()
            item = self._pending if self._pending is not None else self._next_decoded()
            self._pending = None
            if item is not None:
                self._last_image = item[0]
                return item
            if self._pass_frames == 0:
                self.close()
                raise CaptureError(f"{self.path}: no decodable video frames in a whole pass")
            if not self.loop:
                self._ended = True
                self.close()
                raise EndOfStream(self.name)
            if self._pass_frames == 1 and self._last_image is not None:
                # A still image (or a one-frame clip): repeat it at fps_hint without decoding it
                # again.
                logger.debug("%s: one-frame file, repeating it", self.path)
                still = self._last_image
                self.close()
                self._still = still
                self._pass_last_duration = None
                self._end_pass()
                continue
            logger.debug("%s: end of file, looping", self.path)
            self._end_pass()
            self.close()
            self._open_container()

    def _end_pass(self) -> None:
        duration = self._pass_last_duration or self._period()
        self._pass_offset += self._pass_last_rel + duration
        self._start_pass()

    def _period(self) -> float:
        if self._still is not None and self.fps_hint:
            return 1.0 / self.fps_hint
        return 1.0 / (self.fps or self.fps_hint or _DEFAULT_FPS)

    def _media_time(self, rel_time: float | None, duration: float | None) -> float:
        """Seconds since the start of the first pass for a frame at ``rel_time`` in this pass."""
        period = self._period()
        if rel_time is None:
            rel = self._pass_last_rel + period if self._pass_frames else 0.0
        else:
            if self._pass_first is None:
                self._pass_first = rel_time
            rel = rel_time - self._pass_first
        media = self._pass_offset + rel
        if self._last_media is not None and media <= self._last_media:
            # Broken or repeated timestamps must not make the clock stand still or run backwards.
            media = self._last_media + period
            rel = media - self._pass_offset
        self._last_media = media
        self._pass_last_rel = rel
        self._pass_last_duration = duration
        self._pass_frames += 1
        return media
